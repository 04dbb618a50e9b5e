"""The agency ``dtsen bench dci`` reads as: onboarded the way an administrator would, and its signed
search messages.

:func:`onboard` files an approved by-name access request for the most populous province, a
``klien_instansi`` client bound to that province with its Ed25519 envelope key, the loopback callback
address, and the link between them. The envelopes (:func:`signed_message`, :func:`presign`) each carry
their own ``message_id`` (replays are refused), so they can be signed before the timing starts.
"""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from dtsen.sharing.dci.envelope import DciKey, envelope

ACTOR = {"actor": "bench:dci", "actor_role": None}
FIELDS = [
    "nik",
    "no_kk",
    "nama",
    "jenis_kelamin",
    "hubungan",
    "tanggal_lahir",
    "status_kawin",
    "desil_nasional",
    "jumlah_anggota",
    "kode_kab",
    "kode_kec",
    "kode_desa",
]


@dataclass(frozen=True)
class Agency:
    """The onboarded bench client and what it may read."""

    client_id: str
    secret: str
    key: DciKey
    request_id: int
    nomor: str
    province: str
    persons: int  # persons of the province (the extract's rows)
    niks: list[str]  # a spread of NIKs of the province


def onboard(url: str, callback: str, *, sample: int) -> Agency:
    """Approved request + client + key + callback + grant, as an administrator would set them up."""
    from sqlalchemy import func, select

    from dtsen.auth.clients import create_client
    from dtsen.sharing import requests as service
    from dtsen.sharing.dci import onboarding
    from dtsen.store.db import make_engine, session_scope
    from dtsen.store.served import ServedPerson, ServedSnapshot
    from dtsen.store.sharing import AccessRequest

    now = datetime.now(UTC)
    engine = make_engine(url)
    try:
        with session_scope(engine=engine) as session:
            snapshot = session.execute(select(ServedSnapshot).where(ServedSnapshot.is_current)).scalar_one()
            province, persons = session.execute(
                select(ServedPerson.kode_prov, func.count())
                .where(ServedPerson.snapshot_id == snapshot.id, ServedPerson.kode_prov.is_not(None))
                .group_by(ServedPerson.kode_prov)
                .order_by(func.count().desc())
                .limit(1)
            ).one()
            programs = sorted(snapshot.programs or {})[:2]
            today = service.today(now)
            nomor = f"AKSES-BENCH-{secrets.token_hex(4).upper()}"
            request = AccessRequest(
                nomor=nomor,
                instansi="Bench DCI",
                pemohon="client:bench",
                tujuan="bench",
                dasar_hukum="bench",
                level="byname",
                regions=[province],
                fields=FIELDS,
                programs=programs,
                periode=snapshot.periode,
                k_min=10,
                tautan=None,
                valid_from=today - timedelta(days=1),
                valid_until=today + timedelta(days=30),
                state="disetujui",
                version=1,
                pernyataan_sha256="0" * 64,
                pernyataan_mime="application/pdf",
                reviews=[],
                created_at=now,
                updated_at=now,
            )
            session.add(request)
            session.flush()
            made = create_client(
                session,
                name="Bench DCI",
                organisation="Bench",
                role="klien_instansi",
                scopes=["dci.search"],
                regions=[province],
                now=now,
                actor=ACTOR,
            )
            key = DciKey.generate()
            onboarding.add_key(
                session, made.client, json.dumps(key.public_jwk()), key_id=None, now=now, actor=ACTOR
            )
            onboarding.add_callback(session, made.client, callback, now=now, actor=ACTOR)
            onboarding.grant(session, made.client, nomor, now=now, actor=ACTOR)
            niks = list(
                session.scalars(
                    select(ServedPerson.nik)
                    .where(
                        ServedPerson.snapshot_id == snapshot.id,
                        ServedPerson.kode_prov == province,
                        ServedPerson.nik.is_not(None),
                    )
                    .order_by(ServedPerson.id_dtsen)
                )
            )
            step = max(1, len(niks) // sample)
            agency = Agency(
                made.client.client_id,
                made.secret,
                key,
                request.id,
                nomor,
                str(province),
                int(persons),
                sorted(set(niks[::step]))[:sample],
            )
    finally:
        engine.dispose()
    return agency


def _timestamp(now: datetime) -> str:
    return now.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def search_item(nik: str, reference: str, now: datetime, entity: str = "Member") -> dict[str, Any]:
    return {
        "reference_id": reference,
        "timestamp": _timestamp(now),
        "search_criteria": {
            "version": "1.0.0",
            "query_type": "idtype-value",
            "response_entity": entity,
            "query": {"type": "NIK", "value": nik},
        },
    }


def signed_message(
    agency: Agency, action: str, items: list[dict[str, Any]], *, now: datetime, sender_uri: str | None = None
) -> bytes:
    """One signed envelope (its own message_id) as the bytes sent."""
    header: dict[str, Any] = {
        "version": "1.0.0",
        "message_id": str(uuid.uuid4()),
        "message_ts": _timestamp(now),
        "action": action,
        "sender_id": agency.client_id,
        "receiver_id": "dtsen",
        "total_count": len(items),
        "is_msg_encrypted": False,
    }
    if sender_uri:
        header["sender_uri"] = sender_uri
    message = {"transaction_id": "bench-" + uuid.uuid4().hex[:12], "search_request": items}
    return json.dumps(envelope(header, message, agency.key, now=now), ensure_ascii=False).encode()


def presign(agency: Agency, count: int, *, now: datetime, entity: str) -> list[tuple[str, bytes]]:
    """``count`` sync search envelopes (NIK, body), each for one NIK of the spread in turn."""
    return [
        (nik, signed_message(agency, "search", [search_item(nik, f"s{i}", now, entity)], now=now))
        for i, nik in ((i, agency.niks[i % len(agency.niks)]) for i in range(count))
    ]


def token_for(base: str, agency: Agency) -> str:
    import httpx

    answer = httpx.post(
        base + "/auth/token",
        timeout=30,
        data={
            "grant_type": "client_credentials",
            "client_id": agency.client_id,
            "client_secret": agency.secret,
        },
    )
    if answer.status_code != 200:
        raise RuntimeError(f"no token: HTTP {answer.status_code} {answer.text[:200]}")
    return str(answer.json()["access_token"])
