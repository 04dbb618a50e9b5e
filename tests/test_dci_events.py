"""Dukcapil's vital events over DCI notify and agencies' DCI subscriptions, on SQLite and PostgreSQL.

One served city (tests/served_city.py) per backend: Dukcapil pushes a death, a birth, a marriage and a
divorce, signed; the death shows in ``dtsen events deaths`` at once; repeats are acknowledged and stored
once; every bad message (unknown type, unknown NIK, bad signature, replay, a bad event among good ones)
is refused whole, audited, with the spec's codes. Received events are written at the freeze as one file
the feed reads back unchanged. An agency subscribes (its on-subscribe answer delivered through the outbox
with a MockTransport), and on SQLite one real cycle closes the loop: the pushed death takes the person
out of every program at the next publish, and the subscriber is pushed the change. Every request and
answer is validated against the spec's schemas.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from dtsen.cycle.events import apply_events, check_row, read_events, sequential_ids
from dtsen.sharing.dci import crvs, crvs_client, crvs_inbox, spec, subscription_push
from dtsen.sharing.dci.envelope import DciKey, canonical_json, envelope
from dtsen.sharing.dci.outbox import deliver_due
from dtsen.store.dci import DciCallback, DciClientKey, DciGrant
from dtsen.store.dci_events import DciEventInbox, DciSubscription
from dtsen.store.models import AuditLog
from dtsen.store.served import ServedEligibility, ServedFamily, ServedPerson, ServedSnapshot
from dtsen.store.sharing import AccessRequest
from golden_frames import FAMILY_SCHEMA, PERSON_SCHEMA, frame, sample

NOW = datetime(2026, 8, 10, 3, 0, tzinfo=UTC)
ACTOR = {"actor": "cli:test", "actor_role": "cli"}
CALLBACK = "https://bansos.example.go.id/dci/callback"
CORE = "registry_core"
DUKCAPIL_TOKEN = "token-dari-dukcapil"  # noqa: S105 - a fake registry's token
SECRET = "rahasia-uji"  # noqa: S105 - byname grants use no salt
PASSWORD = "Sandi-uji-2026!panjang"  # noqa: S105 - a throwaway account on a test database
HTTP_ERROR = "/components/responses/HttpErrorResponse/content/application~1json/schema"


@dataclass
class Caller:
    client_id: str
    key: DciKey
    token: str


@dataclass
class People:
    dead: tuple[str, str, str]  # (nik, id_dtsen, id_keluarga_dtsen) of the sole member of an eligible family
    mother: str  # nik of a woman heading or married into a family
    spouses: tuple[str, str]
    divorcing: tuple[str, str]
    kode_kec: str


def _people(engine: Engine) -> People:
    with Session(engine) as s:
        current = s.scalar(select(ServedSnapshot.id).where(ServedSnapshot.is_current))
        eligible = select(ServedEligibility.id_keluarga_dtsen).where(
            ServedEligibility.snapshot_id == current, ServedEligibility.layak.is_(True)
        )
        alone = s.execute(
            select(ServedPerson.nik, ServedPerson.id_dtsen, ServedPerson.id_keluarga_dtsen)
            .join(
                ServedFamily,
                (ServedFamily.snapshot_id == current)
                & (ServedFamily.id_keluarga_dtsen == ServedPerson.id_keluarga_dtsen),
            )
            .where(
                ServedPerson.snapshot_id == current,
                ServedFamily.jumlah_anggota == 1,
                ServedPerson.nik.is_not(None),
                ServedPerson.status_hidup.is_not(False),
                ServedPerson.id_keluarga_dtsen.in_(eligible),
            )
            .order_by(ServedPerson.id_dtsen)
            .limit(1)
        ).one()
        others = s.execute(
            select(ServedPerson.nik, ServedPerson.kode_kec)
            .where(
                ServedPerson.snapshot_id == current,
                ServedPerson.nik.is_not(None),
                ServedPerson.status_hidup.is_not(False),
                ServedPerson.umur.between(20, 45),
                ServedPerson.id_keluarga_dtsen != alone.id_keluarga_dtsen,
                ServedPerson.jenis_kelamin == 2,
                ServedPerson.hubungan.in_((1, 2)),
            )
            .order_by(ServedPerson.id_dtsen)
            .limit(5)
        ).all()
    assert len(others) == 5
    return People(
        tuple(alone),
        others[0].nik,
        (others[1].nik, others[2].nik),
        (others[3].nik, others[4].nik),
        others[0].kode_kec,
    )


def _token(client: TestClient, client_id: str, secret: str, scope: str) -> str:
    done = client.post(
        "/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secret,
            "scope": scope,
        },
    )
    assert done.status_code == 200, done.text
    return str(done.json()["access_token"])


def _register(session: Session, *, role: str, scope: str, regions: list[str]) -> tuple[Any, str, DciKey]:
    from dtsen.auth.clients import create_client

    new = create_client(
        session,
        name=f"{role} uji",
        organisation="uji",
        role=role,
        scopes=[scope],
        regions=regions,
        now=NOW,
        actor=ACTOR,
    )
    key = DciKey.generate()
    session.add(
        DciClientKey(
            client_pk=new.client.id,
            key_id=key.kid,
            public_jwk=key.public_jwk(),
            created_at=NOW,
            revoked_at=None,
        )
    )
    return new.client, new.secret, key


@pytest.fixture(scope="module")
def world(
    db_factory: Callable[[], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    from dtsen.api.app import create_app
    from dtsen.auth.accounts import create_user
    from dtsen.auth.policy import DEFAULT_POLICY, SESSION_COOKIE
    from dtsen.auth.sessions import create_session
    from dtsen.store.db import make_engine
    from served_city import city_data_dir, served_database

    city = city_data_dir(tmp_path_factory.getbasetemp())
    url = db_factory()
    served_database(url, city)
    engine = make_engine(url)
    app = create_app(url)
    app.state.clock = lambda: NOW
    app.state.dci_key = DciKey.generate()
    with Session(engine) as s:
        dukcapil, dukcapil_secret, dukcapil_key = _register(
            s, role="dukcapil", scope="events.submit", regions=[]
        )
        agency, agency_secret, agency_key = _register(
            s, role="klien_instansi", scope="dci.subscribe", regions=["3471"]
        )
        programs = sorted(set(s.scalars(select(ServedEligibility.program))))
        request = AccessRequest(
            nomor="AKSES-2026-000901",
            instansi="Dinas Sosial DIY",
            pemohon=agency.client_id,
            tujuan="Pemantauan",
            dasar_hukum="Permen PPN 7/2025",
            level="byname",
            regions=["3471"],
            fields=["no_kk", "desil_nasional", "jumlah_anggota"],
            programs=programs,
            periode="2026Q2",
            k_min=10,
            tautan=None,
            valid_from=date(2026, 7, 1),
            valid_until=date(2030, 12, 31),
            state="disetujui",
            version=3,
            pernyataan_sha256="0" * 64,
            pernyataan_mime="application/pdf",
            reviews=[],
            alasan=None,
            bast_sha256=None,
            created_at=NOW,
            updated_at=NOW,
        )
        s.add(request)
        s.flush()
        s.add(DciGrant(client_pk=agency.id, request_id=request.id, created_at=NOW, created_by="cli:test"))
        s.add(DciCallback(client_pk=agency.id, uri=CALLBACK, created_at=NOW))
        analyst = create_user(
            s,
            username="staf.analis",
            full_name="Analis",
            role="analis_bps",
            regions=(),
            password=PASSWORD,
            now=NOW,
            actor=ACTOR,
        )
        staff_cookie = {SESSION_COOKIE: create_session(s, analyst, now=NOW, policy=DEFAULT_POLICY).token}
        s.commit()
        dukcapil_id, agency_id = dukcapil.client_id, agency.client_id
    with TestClient(app) as client:
        yield {
            "city": city,
            "url": url,
            "engine": engine,
            "app": app,
            "client": client,
            "programs": programs,
            "staff_cookie": staff_cookie,
            "people": _people(engine),
            "dukcapil": Caller(
                dukcapil_id, dukcapil_key, _token(client, dukcapil_id, dukcapil_secret, "events.submit")
            ),
            "agency": Caller(
                agency_id, agency_key, _token(client, agency_id, agency_secret, "dci.subscribe")
            ),
        }
    engine.dispose()


# -- building messages -----------------------------------------------------------------------------------
def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _person(nik: str, **extra: Any) -> dict[str, Any]:
    return {"identifier_type": "UIN", "identifier": nik, **extra}


def death(reference: str, nik: str, died: str = "2026-08-02") -> dict[str, Any]:
    return {
        "reference_id": reference,
        "timestamp": "2026-08-05T09:30:00+07:00",
        "data": {
            "version": "1.0.0",
            "reg_type": "ns:org:RegistryType:Civil",
            "reg_event_type": "death",
            "reg_record_type": "spdci-extensions-dci:Person",
            "reg_records": _person(nik, deathdate=died),
        },
    }


def _event(reference: str, kind: str, record: dict[str, Any]) -> dict[str, Any]:
    return {
        "reference_id": reference,
        "timestamp": "2026-08-06T10:00:00+07:00",
        "data": {
            "reg_event_type": kind,
            "reg_record_type": "spdci-extensions-dci:Person",
            "reg_records": record,
        },
    }


def signed(
    caller: Caller,
    action: str,
    message: dict[str, Any],
    *,
    message_id: str | None = None,
    callback: bool = True,
    **header: Any,
) -> dict[str, Any]:
    head: dict[str, Any] = {
        "version": "1.0.0",
        "message_id": message_id or uuid.uuid4().hex,
        "message_ts": _stamp(NOW),
        "action": action,
        "sender_id": caller.client_id,
        "receiver_id": "dtsen",
        "total_count": 1,
        **header,
    }
    if callback:  # notify's header is a MsgCallbackHeader: it has a status
        head.setdefault("status", "succ")
    return envelope(head, message, caller.key, now=NOW)


def notify(world: dict[str, Any], events: list[dict[str, Any]], **kwargs: Any) -> httpx.Response:
    caller = world["dukcapil"]
    body = signed(caller, "notify", {"transaction_id": uuid.uuid4().hex, "notify_event": events}, **kwargs)
    spec.validate_request(CORE, "/registry/notify", body)  # what we send is a notify of the spec
    return post(world, "/dci/registry/notify", body, caller)


def post(world: dict[str, Any], path: str, body: dict[str, Any], caller: Caller) -> httpx.Response:
    response: httpx.Response = world["client"].post(
        path, json=body, headers={"Authorization": f"Bearer {caller.token}"}
    )
    if response.status_code < 400:
        spec.validate_response(CORE, path.removeprefix("/dci"), response.json(), status=response.status_code)
    else:  # a refusal: the spec's HTTP error body (its HttpErrorResponse covers any 4xx)
        assert not spec.errors_at(CORE, HTTP_ERROR, response.json()), response.text
    return response


def _inbox(engine: Engine) -> list[DciEventInbox]:
    with Session(engine) as s:
        return list(s.scalars(select(DciEventInbox).order_by(DciEventInbox.id_peristiwa)))


def _last_audit(engine: Engine, action: str) -> AuditLog:
    with Session(engine) as s:
        row = s.scalar(
            select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id.desc()).limit(1)
        )
    assert row is not None, f"no audit entry {action}"
    return row


def _born_nik(kode_kec: str) -> str:
    nik = f"{kode_kec}450826" + "9001"  # a girl born 5 August 2026 (day + 40)
    from dtsen.reference.nik import check_nik

    assert check_nik(nik).valid
    return nik


# -- the tests -------------------------------------------------------------------------------------------
def test_a_pushed_death_is_reported_at_once_and_stored_once(world: dict[str, Any]) -> None:
    from dtsen.cli.main import app as cli

    nik, person_id, family = world["people"].dead
    done = notify(world, [death("AKTA-MATI-0001", nik)], message_id="m-death-1")
    assert done.status_code == 200, done.text
    assert done.json()["message"]["ack_status"] == "ACK"
    rows = _inbox(world["engine"])
    assert [(r.id_peristiwa, r.jenis, r.tanggal_peristiwa, r.tanggal_lapor, r.nik) for r in rows] == [
        ("AKTA-MATI-0001", "MATI", date(2026, 8, 2), date(2026, 8, 5), nik)
    ]
    assert rows[0].kode_desa is not None
    assert rows[0].periode_ekspor is None
    entry = _last_audit(world["engine"], "notify")
    assert entry.actor == f"client:{world['dukcapil'].client_id}"
    assert nik not in json.dumps(entry.detail)

    # the same event again in a new message: acknowledged, not stored twice; the same message: a replay
    assert notify(world, [death("AKTA-MATI-0001", nik)]).status_code == 200
    assert len(_inbox(world["engine"])) == 1
    replay = notify(world, [death("AKTA-MATI-0001", nik)], message_id="m-death-1")
    assert (replay.status_code, replay.json()["errors"][0]["code"]) == (409, "rjct.message_id.duplicate")

    page = world["client"].get(f"/staf/keluarga/{family}", cookies=world["staff_cookie"])
    assert page.status_code == 200, page.text[:300]
    assert "Dilaporkan meninggal oleh Dukcapil, tanggal 2 Agustus 2026" in page.text
    english = world["client"].get(f"/staf/keluarga/{family}?lang=en", cookies=world["staff_cookie"])
    assert "Reported dead by Dukcapil on 2 August 2026" in english.text

    result = CliRunner().invoke(
        cli, ["events", "deaths", "--url", world["url"], "--data-dir", str(world["city"])]
    )
    assert result.exit_code == 0, result.output
    assert "1 deaths pushed by Dukcapil over DCI notify" in result.output
    assert "1 deceased persons in program lists" in result.output
    assert nik not in result.output
    assert person_id not in result.output


def test_births_marriages_and_divorces_become_feed_rows_the_cycle_reads_back(
    world: dict[str, Any], tmp_path: Path
) -> None:
    people = world["people"]
    born = _born_nik(people.kode_kec)
    events = [
        _event(
            "AKTA-LAHIR-0001",
            "event:live_birth",
            _person(
                born,
                name={"given_name": "Putri", "sur_name": "Ayu"},
                sex="female",
                birthdate="2026-08-05",
                parent1_identifier=_person(people.mother),
            ),
        ),
        _event(
            "AKTA-KAWIN-0001",
            "spdci-crvs:VitalEventType:Marriage",
            _person(
                people.spouses[0],
                marriagedate="2026-08-01T10:00:00+07:00",
                spouse_identifier=_person(people.spouses[1]),
            ),
        ),
        _event(
            "AKTA-CERAI-0001",
            "divorce",
            _person(
                people.divorcing[0], divorcedate="2026-07-30", spouse_identifier=_person(people.divorcing[1])
            ),
        ),
    ]
    done = notify(world, events)
    assert done.status_code == 200, done.text
    stored = {r.id_peristiwa: r for r in _inbox(world["engine"])}
    assert {k: stored[k].jenis for k in ("AKTA-LAHIR-0001", "AKTA-KAWIN-0001", "AKTA-CERAI-0001")} == {
        "AKTA-LAHIR-0001": "LAHIR",
        "AKTA-KAWIN-0001": "KAWIN",
        "AKTA-CERAI-0001": "CERAI",
    }
    assert stored["AKTA-LAHIR-0001"].baris["nama"] == "Putri Ayu"
    assert stored["AKTA-LAHIR-0001"].baris["jenis_kelamin"] == "2"

    with Session(world["engine"]) as s:
        first = crvs_inbox.export_received(s, "2026Q3", tmp_path, cutoff=NOW + timedelta(days=1), now=NOW)
    assert first.path is not None
    assert first.path.name == "dukcapil-dci-2026Q3.parquet"
    feed = read_events(first.path)  # the very reader a cycle uses
    assert feed.quarantine.height == 0
    assert set(feed.events["id_peristiwa"]) >= {"AKTA-LAHIR-0001", "AKTA-KAWIN-0001", "AKTA-CERAI-0001"}
    lahir = feed.events.filter(pl.col("id_peristiwa") == "AKTA-LAHIR-0001").to_dicts()[0]
    assert (lahir["nik"], lahir["nik_ibu"], lahir["tanggal_peristiwa"]) == (
        born,
        people.mother,
        date(2026, 8, 5),
    )
    kawin = feed.events.filter(pl.col("id_peristiwa") == "AKTA-KAWIN-0001").to_dicts()[0]
    assert (kawin["nik_pasangan"], kawin["tanggal_peristiwa"]) == (people.spouses[1], date(2026, 8, 1))
    content = first.path.read_bytes()
    with Session(world["engine"]) as s:  # again: the same file, nothing stamped anew; a later period: none
        again = crvs_inbox.export_received(s, "2026Q3", tmp_path, cutoff=NOW + timedelta(days=1), now=NOW)
        later = crvs_inbox.export_received(s, "2026Q4", tmp_path, cutoff=NOW + timedelta(days=90), now=NOW)
    assert (again.rows, again.new, again.path) == (first.rows, 0, first.path)
    assert first.path.read_bytes() == content
    assert (later.rows, later.path) == (0, None)
    assert {r.periode_ekspor for r in _inbox(world["engine"])} == {"2026Q3"}
    with Session(world["engine"]) as s:  # the cycle's own export reads what this one stamped, unchanged
        s.execute(DciEventInbox.__table__.update().values(periode_ekspor=None, exported_at=None))
        s.commit()


@pytest.mark.parametrize(
    ("case", "code", "status"),
    [
        ("adoption", "rjct.notify_types.invalid", 400),
        ("fetal", "rjct.notify_types.invalid", 400),
        ("unknown_nik", "rjct.person_id.invalid", 400),
        ("unknown_mother", "rjct.person_id.invalid", 400),
        ("no_date", "rjct.notify_details.invalid", 400),
        ("bad_nik", "rjct.notify_details.invalid", 400),
        ("conflict", "rjct.reference_id.duplicate", 409),
        ("twice", "rjct.reference_id.duplicate", 400),
    ],
)
def test_a_bad_event_refuses_the_whole_message(
    world: dict[str, Any], case: str, code: str, status: int
) -> None:
    people = world["people"]
    good = death(f"AKTA-MATI-OK-{case}", people.spouses[0])
    bad = {
        "adoption": _event(f"X-{case}", "adoption", _person(people.mother)),
        "fetal": _event(f"X-{case}", "fetal_death", _person(people.mother)),
        "unknown_nik": death(f"X-{case}", "3471010101900999"),
        "unknown_mother": _event(
            f"X-{case}",
            "live_birth",
            _person(
                _born_nik(people.kode_kec),
                name="Bayi",
                sex="male",
                birthdate="2026-08-05",
                parent1_identifier=_person("3471014101900998"),
            ),
        ),
        "no_date": _event(f"X-{case}", "death", _person(people.mother)),
        "bad_nik": death(f"X-{case}", "12345"),
        "conflict": death("AKTA-MATI-0001", people.dead[0], died="2026-08-01"),
        "twice": good,
    }[case]
    if case == "conflict":  # the event as first received
        assert notify(world, [death("AKTA-MATI-0001", people.dead[0])]).status_code == 200
    before = len(_inbox(world["engine"]))
    done = notify(world, [good, bad])
    assert done.status_code == status, done.text
    assert code in {e["code"] for e in done.json()["errors"]}
    assert len(_inbox(world["engine"])) == before  # the good event was not kept either
    entry = _last_audit(world["engine"], "notify_refused")
    assert entry.detail is not None
    assert entry.detail["code"] in {code, done.json()["errors"][0]["code"]}
    assert people.mother not in done.text


def test_transport_refusals(world: dict[str, Any]) -> None:
    people, caller = world["people"], world["dukcapil"]
    body = signed(
        caller, "notify", {"transaction_id": "t1", "notify_event": [death("AKTA-X-1", people.mother)]}
    )
    body["message"]["notify_event"][0]["reference_id"] = "AKTA-X-2"  # changed after signing
    done = post(world, "/dci/registry/notify", body, caller)
    assert (done.status_code, done.json()["errors"][0]["code"]) == (401, "err.signature.invalid")
    del body["signature"]
    done = post(world, "/dci/registry/notify", body, caller)
    assert (done.status_code, done.json()["errors"][0]["code"]) == (401, "err.signature.missing")
    other = signed(world["agency"], "notify", {"transaction_id": "t1", "notify_event": []})
    assert (
        post(world, "/dci/registry/notify", other, world["agency"]).status_code == 403
    )  # not Dukcapil's role
    raw = world["client"].post(
        "/dci/registry/notify", content=b"{not json", headers={"Authorization": f"Bearer {caller.token}"}
    )
    assert (raw.status_code, raw.json()["errors"][0]["code"]) == (400, "err.request.bad")
    assert not any(r.id_peristiwa.startswith("AKTA-X") for r in _inbox(world["engine"]))


def test_check_row_is_the_file_check_and_divorce_applies() -> None:
    values, problems = check_row(
        {
            "id_peristiwa": "E1",
            "jenis": "cerai",
            "tanggal_peristiwa": "2026-04-02",
            "tanggal_lapor": "2026-04-05",
            "nik": "3302010101800001",
            "nik_pasangan": "3302010101800001",
        }
    )
    assert values["jenis"] == "CERAI"
    assert [(p.column, p.code) for p in problems] == [("nik_pasangan", "pasangan_sama")]
    p, f, _ = sample()
    persons, families = frame(p, PERSON_SCHEMA), frame(f, FAMILY_SCHEMA)
    row = {
        "id_peristiwa": "E2",
        "jenis": "CERAI",
        "tanggal_peristiwa": date(2026, 4, 2),
        "tanggal_lapor": date(2026, 4, 5),
        "nik": "3302010101800001",
        "nik_pasangan": "3302014101850001",
    }
    values, problems = check_row(row)
    assert problems == []
    events = pl.DataFrame([values]).select(
        "id_peristiwa", "jenis", "tanggal_peristiwa", "tanggal_lapor", "nik", "nik_pasangan"
    )
    out, _, report = apply_events(persons, families, events, date(2026, 6, 30), new_id=sequential_ids("T"))
    assert out.filter(pl.col("id_dtsen").is_in(["p11", "p12"]))["status_kawin"].to_list() == [3, 3]
    assert report.outcomes["status"].to_list() == ["diterapkan"]
    again = apply_events(out, families, events, date(2026, 6, 30), new_id=sequential_ids("T"))[2]
    assert again.outcomes["alasan"].to_list() == ["sudah_cerai"]


def _subscribe_body(world: dict[str, Any], criteria: list[dict[str, Any]], **header: Any) -> dict[str, Any]:
    message = {
        "transaction_id": uuid.uuid4().hex,
        "subscribe_request": [
            {"reference_id": f"r{i}", "timestamp": _stamp(NOW), "subscribe_criteria": c}
            for i, c in enumerate(criteria)
        ],
    }
    body = signed(
        world["agency"],
        "subscribe",
        message,
        callback=False,
        sender_uri=CALLBACK,
        total_count=len(criteria),
        **header,
    )
    spec.validate_request(CORE, "/registry/subscribe", body)
    return body


def _criteria(event: str, regions: list[str] | None = None) -> dict[str, Any]:
    predicates = [
        {"seq_num": 1, "expression1": {"attribute_name": "region", "operator": "eq", "attribute_value": code}}
        for code in regions or []
    ]
    return {
        "reg_event_type": event,
        "filter_type": "predicate",
        "filter": predicates,
        "notify_record_type": "spdci:Group",
    }


class Receiver:
    """A fake agency endpoint: records every push, checks it against the spec."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        path = {
            "on-subscribe": "/registry/on-subscribe",
            "on-unsubscribe": "/registry/on-unsubscribe",
            "notify": "/registry/notify",
        }[body["header"]["action"]]
        spec.validate_request(CORE, path, body)
        self.bodies.append(body)
        return httpx.Response(200, json=crvs.ack("x", NOW))


def _deliver(world: dict[str, Any]) -> Receiver:
    from dtsen.store.db import session_factory

    receiver = Receiver()
    due = max(NOW, datetime.now(UTC)) + timedelta(hours=1)  # pushes the cycle queued carry the real time
    deliver_due(
        session_factory(world["engine"]),
        now=due,
        transport=httpx.MockTransport(receiver),
        key=world["app"].state.dci_key,
    )
    return receiver


def test_agencies_subscribe_and_unsubscribe(world: dict[str, Any]) -> None:
    agency = world["agency"]
    done = post(
        world,
        "/dci/registry/subscribe",
        _subscribe_body(
            world, [_criteria("dtsen:program_change"), _criteria("dtsen:desil_change", ["3471"])]
        ),
        agency,
    )
    assert done.status_code == 200, done.text
    pushed = _deliver(world).bodies
    assert [b["header"]["action"] for b in pushed] == ["on-subscribe"]
    codes = [s["code"] for item in pushed[0]["message"]["subscribe_response"] for s in item["subscriptions"]]
    assert len(codes) == 2
    assert all(c.startswith("lgn-") for c in codes)
    with Session(world["engine"]) as s:
        subs = {sub.kode: sub for sub in s.scalars(select(DciSubscription))}
    assert {subs[c].perubahan for c in codes} == {"program", "desil"}
    assert {tuple(subs[c].wilayah) for c in codes} == {(), ("3471",)}

    again = post(
        world, "/dci/registry/subscribe", _subscribe_body(world, [_criteria("dtsen:program_change")]), agency
    )
    assert (again.status_code, again.json()["errors"][0]["code"]) == (400, "rjct.event.already_subscribed")
    outside = _subscribe_body(world, [_criteria("dtsen:desil_change", ["3404"])])
    refused = post(world, "/dci/registry/subscribe", outside, agency)
    assert (refused.status_code, refused.json()["errors"][0]["code"]) == (400, "rjct.notify_details.invalid")
    unknown = post(world, "/dci/registry/subscribe", _subscribe_body(world, [_criteria("death")]), agency)
    assert unknown.json()["errors"][0]["code"] == "rjct.notify_types.invalid"
    stray = _subscribe_body(world, [_criteria("dtsen:desil_change", ["3471010"])])
    assert post(world, "/dci/registry/subscribe", stray, agency).status_code == 400
    elsewhere = signed(
        agency,
        "subscribe",
        {"transaction_id": "t", "subscribe_request": []},
        callback=False,
        sender_uri="https://evil.example.com/cb",
    )
    assert post(world, "/dci/registry/subscribe", elsewhere, agency).json()["errors"][0]["code"] in {
        "err.sender_uri.invalid",
        "err.request.bad",
    }
    with Session(world["engine"]) as s:
        assert s.scalar(select(func.count()).select_from(DciSubscription)) == 2
    assert _last_audit(world["engine"], "subscribe_refused").actor == f"client:{agency.client_id}"

    from dtsen.cli.main import app as cli

    listed = CliRunner().invoke(cli, ["dci", "subscriptions", "list", "--url", world["url"]])
    assert listed.exit_code == 0, listed.output
    assert all(code in listed.output for code in codes)

    desil = next(c for c in codes if subs[c].perubahan == "desil")
    message = crvs_client.unsubscribe_message([desil], now=NOW)
    body = signed(agency, "unsubscribe", message, callback=False, sender_uri=CALLBACK)
    spec.validate_request(CORE, "/registry/unsubscribe", body)
    assert post(world, "/dci/registry/unsubscribe", body, agency).status_code == 200
    pushed = _deliver(world).bodies
    assert [b["header"]["action"] for b in pushed] == ["on-unsubscribe"]
    assert pushed[0]["message"]["subscription_status"] == [{"code": desil, "status": "unsubscribe"}]
    twice = signed(
        agency,
        "unsubscribe",
        crvs_client.unsubscribe_message([desil, "lgn-nothing"], now=NOW),
        callback=False,
    )
    refused = post(world, "/dci/registry/unsubscribe", twice, agency)
    assert {e["code"] for e in refused.json()["errors"]} == {
        "rjct.event.already_unsubscribed",
        "rjct.subscription_code.invalid",
    }


def test_our_subscription_to_dukcapil_is_a_signed_spec_request(world: dict[str, Any]) -> None:
    seen: list[httpx.Request] = []

    def registry(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = json.loads(request.content)
        path = request.url.path.removeprefix("/dci")
        spec.validate_request(CORE, path, body)
        answer = crvs.ack("k-1", NOW)
        spec.validate_response(CORE, path, answer)
        return httpx.Response(200, json=answer)

    message = crvs_client.subscribe_message(events=["death", "live_birth"], regions=["3471"], now=NOW)
    header = crvs_client.request_header(
        "subscribe",
        receiver_id="dukcapil",
        sender_uri="https://dtsen.example/dci/registry/notify",
        total=2,
        now=NOW,
    )
    answer = crvs_client.call_registry(
        "https://dukcapil.example/dci",
        crvs_client.SUBSCRIBE_PATH,
        header,
        message,
        token=DUKCAPIL_TOKEN,
        now=NOW,
        transport=httpx.MockTransport(registry),
    )
    assert answer.status_code == 200
    assert answer.body["message"]["ack_status"] == "ACK"
    sent = json.loads(seen[0].content)
    assert seen[0].headers["authorization"] == f"Bearer {DUKCAPIL_TOKEN}"
    assert [i["subscribe_criteria"]["reg_event_type"] for i in sent["message"]["subscribe_request"]] == [
        "death",
        "live_birth",
    ]
    assert 'kidId="dtsen|' in sent["signature"]
    header = crvs_client.request_header(
        "unsubscribe", receiver_id="dukcapil", sender_uri=None, total=1, now=NOW
    )
    crvs_client.call_registry(
        "https://dukcapil.example/dci",
        crvs_client.UNSUBSCRIBE_PATH,
        header,
        crvs_client.unsubscribe_message(["SUB-1"], now=NOW),
        token=DUKCAPIL_TOKEN,
        now=NOW,
        transport=httpx.MockTransport(registry),
    )
    assert json.loads(seen[1].content)["message"]["subscription_codes"] == ["SUB-1"]
    with pytest.raises(ValueError, match="unknown vital event"):
        crvs_client.subscribe_message(events=["adoption"], regions=[], now=NOW)
    assert canonical_json(sent["message"])  # the signed content is the canonical JSON of what was sent


def test_a_publish_pushes_each_subscriber_its_changes(world: dict[str, Any]) -> None:
    """Change detection between the two served snapshots (set-based SQL, both backends) and the pushes."""
    from dtsen.store.identity import ApiClient

    dead_family = world["people"].dead[2]
    with Session(world["engine"]) as s:
        ids = dict(s.execute(select(ServedSnapshot.ref, ServedSnapshot.id)).all())
        q1, q2 = ids["2026Q1/v1"], ids["2026Q2/v1"]
        both = (
            select(ServedEligibility.id_keluarga_dtsen, ServedEligibility.program)
            .where(
                ServedEligibility.snapshot_id.in_((q1, q2)),
                ServedEligibility.layak.is_(True),
                ServedEligibility.id_keluarga_dtsen != dead_family,
            )
            .group_by(ServedEligibility.id_keluarga_dtsen, ServedEligibility.program)
            .having(func.count() == 2)
            .order_by(ServedEligibility.id_keluarga_dtsen, ServedEligibility.program)
            .limit(1)
        )
        family, program = s.execute(both).one()
        s.execute(
            ServedEligibility.__table__.update()
            .where(
                ServedEligibility.snapshot_id == q2,
                ServedEligibility.id_keluarga_dtsen == family,
                ServedEligibility.program == program,
            )
            .values(layak=False)
        )
        old = s.scalar(
            select(ServedFamily.desil_nasional).where(
                ServedFamily.snapshot_id == q1, ServedFamily.id_keluarga_dtsen == family
            )
        )
        s.execute(
            ServedFamily.__table__.update()
            .where(ServedFamily.snapshot_id == q2, ServedFamily.id_keluarga_dtsen == family)
            .values(desil_nasional=(old or 0) % 10 + 1)
        )
        s.commit()
        agency = s.scalar(select(ApiClient).where(ApiClient.client_id == world["agency"].client_id))
        assert agency is not None
        scopes = subscription_push._scopes(agency, ("3471",), [])
        desil = {
            r.id_keluarga_dtsen: (r.sekarang, r.sebelumnya)
            for r in subscription_push.desil_changes(s, q2, q1, scopes)
        }
        assert desil[family] == ((old or 0) % 10 + 1, old)
        elsewhere = subscription_push._scopes(agency, ("3404",), [])  # a grant elsewhere sees none of it
        assert subscription_push.desil_changes(s, q2, q1, elsewhere) == []
        done = subscription_push.push_changes(s, "2026Q2/v1", secret=SECRET, now=NOW)
    assert (done.subscriptions, done.ended) == (1, [])
    assert done.families >= 1
    assert done.messages >= 1
    pushes = [b for b in _deliver(world).bodies if b["header"]["action"] == "notify"]
    assert len(pushes) == done.messages
    records = [e["data"]["reg_records"] for b in pushes for e in b["message"]["notify_event"]]
    mine = [r for r in records if r["@id"] == f"urn:dtsen/group/{family}"]
    assert len(mine) == 1
    flags = {k: v for item in mine[0]["additional_attributes"] for k, v in item.items()}
    assert (flags[f"layak_{program}"], flags[f"layak_{program}_before"]) == (False, True)
    assert [i["identifier_type"] for i in mine[0]["group_identifier"]] == ["KK"]  # approved: no_kk
    assert _last_audit(world["engine"], "notify_push").detail["keluarga"] == done.families  # type: ignore[index]
    with Session(world["engine"]) as s:  # a de-identified grant is pushed tokens, never the KK or the id
        from dataclasses import replace

        from dtsen.sharing.dci.grant import grant_for
        from dtsen.sharing.dci.records import token

        sub = s.scalars(select(DciSubscription).where(DciSubscription.status == "aktif")).one()
        agency = s.scalar(select(ApiClient).where(ApiClient.client_id == world["agency"].client_id))
        assert agency is not None
        scopes = subscription_push._scopes(agency, ("3471",), [])
        grant = replace(
            grant_for(s, agency, secret=SECRET, now=NOW), level="deidentified", token_salt="ab" * 32
        )
        hidden = subscription_push._records(s, sub, grant, q2, q1, scopes)
    assert f"urn:dtsen/group/{token('ab' * 32, family)}" in {r["@id"] for r in hidden}
    assert family not in json.dumps(hidden)
    assert {i["identifier_type"] for r in hidden for i in r["group_identifier"]} == {
        "TOKEN_KK",
        "TOKEN_KELUARGA",
    }
    with Session(world["engine"]) as s:  # again (a retried publish): nothing is pushed twice
        again = subscription_push.push_changes(s, "2026Q2/v1", secret=SECRET, now=NOW)
    assert (again.subscriptions, again.messages) == (0, 0)


def test_the_next_publish_takes_the_dead_out_and_tells_the_subscriber(
    world: dict[str, Any], db_backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One real cycle (SQLite only, about 20 s: the one expensive test here): the freeze exports the pushed
    events as the period's file, consolidate applies them, publish loads the snapshot into the serving
    database and pushes the subscribers their changes."""
    if db_backend != "sqlite":
        pytest.skip("one cycle run is enough; the hooks' SQL runs on both backends above")
    from dtsen.cli.main import app as cli
    from dtsen.config import reset_settings
    from dtsen.cycle import snapshot

    _nik, person_id, family_id = world["people"].dead
    data = tmp_path / "data"
    shutil.copytree(world["city"], data, ignore=shutil.ignore_patterns("cycles"))
    monkeypatch.setenv("DTSEN_DATA_DIR", str(data))
    monkeypatch.setenv("DTSEN_DATABASE_URL", world["url"])
    monkeypatch.setenv("DTSEN_SECRET_KEY", "kunci-uji-" + "x" * 40)
    reset_settings()
    run = CliRunner().invoke(cli, ["cycle", "run", "--period", "2026Q3"])
    assert run.exit_code == 0, run.output
    events_file = data / "events" / "dukcapil-dci-2026Q3.parquet"
    assert "AKTA-MATI-0001" in read_events(events_file).events["id_peristiwa"].to_list()

    snap = snapshot.current(data)
    assert snap is not None
    assert snap.ref.startswith("2026Q3")
    dead = pl.read_parquet(snap.file("persons.parquet")).filter(pl.col("id_dtsen") == person_id)
    assert dead["status_hidup"].to_list() == [False]
    eligible = pl.read_parquet(snap.file("eligibility.parquet")).filter(pl.col("layak"))
    assert family_id not in eligible["id_keluarga_dtsen"].to_list()  # the family of one is gone
    for listed in (pl.read_parquet(f) for f in sorted((snap.path / "beneficiaries").glob("*.parquet"))):
        if "id_dtsen" in listed.columns:
            assert person_id not in listed["id_dtsen"].to_list()
    result = CliRunner().invoke(cli, ["events", "deaths", "--url", world["url"], "--data-dir", str(data)])
    assert "0 deceased persons in program lists" in result.output

    with Session(world["engine"]) as s:
        subs = list(s.scalars(select(DciSubscription).where(DciSubscription.status == "aktif")))
        assert {sub.last_snapshot for sub in subs} == {snap.ref}
    pushes = [b for b in _deliver(world).bodies if b["header"]["action"] == "notify"]
    assert pushes, "the subscriber was pushed the changes"
    records = [e["data"]["reg_records"] for b in pushes for e in b["message"]["notify_event"]]
    mine = [r for r in records if r["@id"].endswith(f"/group/{family_id}")]
    assert len(mine) == 1
    flags = {k: v for item in mine[0]["additional_attributes"] for k, v in item.items()}
    assert any(k.endswith("_before") and v is True for k, v in flags.items())
    assert not any(not k.endswith("_before") and v is True for k, v in flags.items())
    with Session(world["engine"]) as s:  # a retried publish pushes nothing twice
        again = subscription_push.push_changes(s, snap.ref, secret=SECRET, now=NOW)
    assert (again.subscriptions, again.messages) == (0, 0)
