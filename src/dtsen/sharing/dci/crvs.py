"""Dukcapil's vital events over the DCI CRVS API (``registry_core_api_v1.0.0.yaml``).

**Receiving** (``/dci/registry/notify``): Dukcapil (a client of role ``dukcapil``) pushes births, deaths,
marriages and divorces. Each ``notify_event`` item becomes one row of the event feed
(:data:`dtsen.tables.EVENT_FILE`) and is checked by :func:`dtsen.cycle.events.check_row`, the check a
file row gets, so a pushed event and a file event are valid or invalid alike. Our profile of an item:

* ``reference_id`` is the event's id (``id_peristiwa``): a repeat is acknowledged and not stored again;
  the same id with other content is refused (``rjct.reference_id.duplicate``).
* ``timestamp`` is the registration moment; its date (as written, local) is ``tanggal_lapor``.
* ``data.reg_event_type`` is a vital event of ``VitalEventTypeEnum`` (``live_birth``, ``death``,
  ``marriage``, ``divorce``; also written ``event:death`` or ``...:LiveBirth``). ``fetal_death`` and
  ``adoption`` change nobody's record here and are refused like unknown types
  (``rjct.notify_types.invalid``).
* ``data.reg_records`` is the person as ``dci_PersonRecord``: ``identifier_type`` ``UIN`` (or ``NIK``)
  and ``identifier`` the subject's NIK (the newborn, the deceased, the first spouse); ``name``
  (``dci_Name`` or text) and ``sex`` for a birth; the event's date in ``birthdate`` / ``deathdate`` /
  ``marriagedate`` / ``divorcedate``; ``parent1_identifier`` the mother (as on the birth certificate);
  Indonesian extensions ``spouse_identifier`` (the second spouse) and ``family_identifier`` (the KK: the
  newborn's card, or a couple's new card).

A subject unknown to the served snapshot (a death, marriage or divorce of a NIK it does not hold, a birth
whose mother or card it does not hold) is refused (``rjct.person_id.invalid``). A message is taken whole
or not at all; a refusal is answered 4xx with the spec's ``HttpErrorResponse`` body, audited, and leaves
nothing behind (not even the message id).

What was received goes into the cycle, and deaths are reported at once, through
:mod:`dtsen.sharing.dci.crvs_inbox`; our own subscription to Dukcapil's registry is
:mod:`dtsen.sharing.dci.crvs_client`.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dtsen.cycle.events import check_row
from dtsen.logs import get_logger
from dtsen.sharing.dci.errors import DciError
from dtsen.store import audit
from dtsen.store.dci_events import DciEventInbox
from dtsen.store.identity import ApiClient
from dtsen.store.registry import FAMILY, PERSON, current_snapshot
from dtsen.tables import EVENT_FILE

log = get_logger(__name__)

SPEC = "registry_core"
NOTIFY_PATH = "/registry/notify"
#: VitalEventTypeEnum -> the event feed's ``jenis``; the enum's other members change no record here.
VITAL_EVENTS = {"live_birth": "LAHIR", "death": "MATI", "marriage": "KAWIN", "divorce": "CERAI"}
UNSUPPORTED_EVENTS = frozenset({"fetal_death", "adoption"})
DATE_FIELD = {"LAHIR": "birthdate", "MATI": "deathdate", "KAWIN": "marriagedate", "CERAI": "divorcedate"}
SEX = {"male": "1", "female": "2", "other": "3", "unknown": "4"}  # 3 and 4 fail the feed's 1/2 check
NIK_TYPES = frozenset({"UIN", "NIK"})
MAX_EVENTS = 1000  # notify_event items in one message
_CAMEL_RE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


class MessageRefusedError(DciError):
    """A message refused as a whole (notify, subscribe, unsubscribe), with every problem found."""

    def __init__(self, errors: list[dict[str, str]], http_status: int = 400) -> None:
        first = errors[0]
        super().__init__(first["code"], first["message"], http_status)
        self.errors = errors[:100]

    def http_body(self) -> dict[str, Any]:
        return {"errors": self.errors}


# -- mapping ----------------------------------------------------------------------------------------------
def vital_event(value: Any) -> str | None:
    """The ``VitalEventTypeEnum`` member a ``reg_event_type`` names (``death``, ``event:death``,
    ``spdci-crvs:VitalEventType:LiveBirth``), lower snake case; None if it is not text."""
    if not isinstance(value, str) or not value.strip():
        return None
    last = value.strip().rsplit(":", 1)[-1]
    return _CAMEL_RE.sub("_", last).lower()


def _nik_of(identifier: Any) -> str | None:
    """The NIK of ``{identifier_type, identifier}`` (any type but UIN/NIK is not a NIK: None)."""
    if not isinstance(identifier, Mapping):
        return None
    kind = str(identifier.get("identifier_type") or "UIN").upper()
    value = identifier.get("identifier", identifier.get("identifier_value"))
    return str(value) if kind in NIK_TYPES and value is not None else None


def _kk_of(identifier: Any) -> str | None:
    if not isinstance(identifier, Mapping):
        return None
    value = identifier.get("identifier", identifier.get("identifier_value"))
    return None if value is None else str(value)


def _name(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        parts = [value.get(k) for k in ("prefix", "given_name", "second_name", "sur_name", "suffix")]
        text = " ".join(str(p).strip() for p in parts if p and str(p).strip())
        return text or None
    return None


def _day(value: Any) -> str | None:
    """A DCI date or date-time as ``YYYY-MM-DD`` (the date as written, in its own offset); anything else
    is passed on as text for the feed's check to report."""
    if value is None:
        return None
    text = str(value).strip()
    if "T" in text:
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00")).date().isoformat()
        except ValueError:
            return text
    return text


def event_row(kind: str, item: Mapping[str, Any]) -> dict[str, str | None]:
    """One ``notify_event`` item of feed kind ``kind`` as an event-feed row (text, as a file holds it)."""
    data = item.get("data") if isinstance(item.get("data"), Mapping) else {}
    record = data.get("reg_records") if isinstance(data.get("reg_records"), Mapping) else {}
    row: dict[str, str | None] = dict.fromkeys(EVENT_FILE.columns)
    row["id_peristiwa"] = None if item.get("reference_id") is None else str(item["reference_id"])
    row["jenis"] = kind
    row["tanggal_peristiwa"] = _day(record.get(DATE_FIELD[kind]))
    row["tanggal_lapor"] = _day(item.get("timestamp"))
    row["nik"] = _nik_of(record)
    if kind == "LAHIR":
        row["nama"] = _name(record.get("name"))
        sex = record.get("sex")
        row["jenis_kelamin"] = SEX.get(str(sex), str(sex)) if sex is not None else None
        row["nik_ibu"] = _nik_of(record.get("parent1_identifier"))
        row["no_kk"] = _kk_of(record.get("family_identifier"))
    elif kind in ("KAWIN", "CERAI"):
        row["nik_pasangan"] = _nik_of(record.get("spouse_identifier"))
        if kind == "KAWIN":
            row["no_kk_baru"] = _kk_of(record.get("family_identifier"))
    return row


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    return str(value)


def _canonical_row(values: Mapping[str, Any]) -> dict[str, str | None]:
    """The checked values as the file will hold them (digits, ISO dates): re-checking gives the same."""
    return {column: _text(values.get(column)) for column in EVENT_FILE.columns}


def _row_digest(row: Mapping[str, str | None]) -> str:
    from dtsen.sharing.dci.envelope import canonical_json

    return hashlib.sha256(canonical_json(dict(row))).hexdigest()


# -- receiving --------------------------------------------------------------------------------------------
@dataclass
class _Checked:
    reference_id: str
    kind: str
    row: dict[str, str | None]
    digest: str
    values: dict[str, Any]


@dataclass
class NotifyResult:
    """What a notify message did: events stored, events already held (repeats), by kind."""

    correlation_id: str
    stored: int = 0
    repeated: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)


def _problem(reference: str, code: str, message: str) -> dict[str, str]:
    return {"code": code, "message": f"notify_event {reference}: {message}"[:999]}


def _check_items(items: Sequence[Any]) -> tuple[list[_Checked], list[dict[str, str]]]:
    checked: list[_Checked] = []
    errors: list[dict[str, str]] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            errors.append(_problem(f"#{index + 1}", "rjct.notify_details.invalid", "not an object"))
            continue
        reference = str(item.get("reference_id") or "").strip()
        label = reference[:64] or f"#{index + 1}"
        if not reference or len(reference) > 64:
            errors.append(_problem(label, "rjct.reference_id.invalid", "reference_id: 1 to 64 characters"))
            continue
        if reference in seen:
            errors.append(_problem(label, "rjct.reference_id.duplicate", "repeated in this message"))
            continue
        seen.add(reference)
        data = item.get("data") if isinstance(item.get("data"), Mapping) else {}
        event = vital_event(data.get("reg_event_type"))
        kind = VITAL_EVENTS.get(event or "")
        if kind is None:
            what = "not supported" if event in UNSUPPORTED_EVENTS else "unknown"
            errors.append(_problem(label, "rjct.notify_types.invalid", f"event type {what}"))
            continue
        values, problems = check_row(event_row(kind, item))
        if problems:
            detail = "; ".join(f"{p.column} {p.code}" for p in problems)
            errors.append(_problem(label, "rjct.notify_details.invalid", detail))
            continue
        row = _canonical_row(values)
        checked.append(_Checked(reference, kind, row, _row_digest(row), values))
    return checked, errors


@dataclass(frozen=True)
class _Subject:
    kode_prov: str | None
    kode_kab: str | None
    kode_kec: str | None
    kode_desa: str | None


def _known(
    session: Session, snapshot_id: int, niks: set[str], kks: set[str]
) -> tuple[dict[str, _Subject], dict[str, _Subject]]:
    """The NIKs and KK numbers among ``niks``/``kks`` the served snapshot holds, with their region."""
    people: dict[str, _Subject] = {}
    cards: dict[str, _Subject] = {}
    columns = ("kode_prov", "kode_kab", "kode_kec", "kode_desa")
    ordered = sorted(niks)
    for start in range(0, len(ordered), 1000):
        for row in session.execute(
            select(PERSON.c.nik, *(PERSON.c[c] for c in columns)).where(
                PERSON.c.snapshot_id == snapshot_id, PERSON.c.nik.in_(ordered[start : start + 1000])
            )
        ):
            people[row.nik] = _Subject(row.kode_prov, row.kode_kab, row.kode_kec, row.kode_desa)
    ordered = sorted(kks)
    for start in range(0, len(ordered), 1000):
        for row in session.execute(
            select(FAMILY.c.no_kk, *(FAMILY.c[c] for c in columns)).where(
                FAMILY.c.snapshot_id == snapshot_id, FAMILY.c.no_kk.in_(ordered[start : start + 1000])
            )
        ):
            cards[row.no_kk] = _Subject(row.kode_prov, row.kode_kab, row.kode_kec, row.kode_desa)
    return people, cards


def _subjects(session: Session, checked: list[_Checked]) -> tuple[dict[str, _Subject], list[dict[str, str]]]:
    """Each event's subject region (keyed by reference_id) or a refusal: every person it concerns must
    be in the served snapshot (a newborn's mother, or card, instead of the newborn)."""
    snapshot = current_snapshot(session)
    if snapshot is None:
        raise DciError.transport("err.service.unavailable", "no snapshot is served yet")
    niks: set[str] = set()
    kks: set[str] = set()
    for event in checked:
        v = event.values
        if event.kind == "LAHIR":
            niks.update(n for n in (v["nik_ibu"],) if n)
            kks.update(k for k in (v["no_kk"],) if k)
        else:
            niks.update(n for n in (v["nik"], v["nik_pasangan"]) if n)
    people, cards = _known(session, snapshot.id, niks, kks)
    found: dict[str, _Subject] = {}
    errors: list[dict[str, str]] = []
    for event in checked:
        v = event.values
        if event.kind == "LAHIR":
            mother = people.get(v["nik_ibu"]) if v["nik_ibu"] else None
            card = cards.get(v["no_kk"]) if v["no_kk"] else None
            if (v["nik_ibu"] and mother is None) or (mother is None and card is None):
                errors.append(
                    _problem(
                        event.reference_id,
                        "rjct.person_id.invalid",
                        "the mother (or card) is not in the registry",
                    )
                )
                continue
            found[event.reference_id] = mother or card  # type: ignore[assignment]
            continue
        missing = [c for c in ("nik", "nik_pasangan") if v[c] and v[c] not in people]
        if missing:
            errors.append(
                _problem(
                    event.reference_id, "rjct.person_id.invalid", f"{', '.join(missing)} not in the registry"
                )
            )
            continue
        found[event.reference_id] = people[v["nik"]]
    return found, errors


def _repeats(session: Session, checked: list[_Checked]) -> tuple[set[str], list[dict[str, str]]]:
    """Events already held: identical ones are repeats (acknowledged), different ones are refused."""
    digests = {e.reference_id: e.digest for e in checked}
    held: set[str] = set()
    errors: list[dict[str, str]] = []
    ordered = sorted(digests)
    for start in range(0, len(ordered), 1000):
        for row in session.execute(
            select(DciEventInbox.id_peristiwa, DciEventInbox.sha256).where(
                DciEventInbox.id_peristiwa.in_(ordered[start : start + 1000])
            )
        ):
            if row.sha256 == digests[row.id_peristiwa]:
                held.add(row.id_peristiwa)
            else:
                errors.append(
                    _problem(
                        row.id_peristiwa,
                        "rjct.reference_id.duplicate",
                        "this event id was received before with other content",
                    )
                )
    return held, errors


def _refuse_audit(
    session: Session, client: ApiClient, exc: DciError, now: datetime, detail: dict[str, Any]
) -> None:
    """The refusal's audit entry, committed on its own: the refused message left nothing else."""
    session.rollback()
    audit.record(
        session,
        actor=f"client:{client.client_id}",
        actor_role=client.role,
        action="notify_refused",
        resource="dci_event",
        purpose="peristiwa_dukcapil",
        detail={"code": exc.code, "errors": len(getattr(exc, "errors", [1])), **detail},
        occurred_at=now,
    )
    session.commit()


def receive_notify(session: Session, body: Any, *, client: ApiClient, now: datetime) -> NotifyResult:
    """Check and store one notify message from Dukcapil's ``client`` (whose bearer token was checked);
    commits. Raises :class:`DciError` (a :class:`MessageRefusedError` with every problem for the events) after
    auditing the refusal; nothing of a refused message is kept."""
    from dtsen.sharing.dci import envelope, spec

    detail: dict[str, Any] = {}
    try:
        envelope.verify(session, body, client=client, now=now)
        header, message = body["header"], body["message"]
        detail["transaction"] = str(message.get("transaction_id", ""))[:99]
        if header.get("action") != "notify":
            raise DciError.transport("err.request.bad", "header.action must be notify")
        try:
            spec.validate_request(SPEC, NOTIFY_PATH, body)
        except ValueError as exc:
            raise DciError.transport("err.request.bad", f"not a notify request of the spec: {exc}") from exc
        items = message.get("notify_event") or []
        if len(items) > MAX_EVENTS:
            raise DciError("rjct.total_count.limit_exceeded", f"at most {MAX_EVENTS} events a message", 413)
        checked, errors = _check_items(items)
        if errors:
            raise MessageRefusedError(errors)
        held, errors = _repeats(session, checked)
        if errors:
            raise MessageRefusedError(errors, 409)
        fresh = [e for e in checked if e.reference_id not in held]
        found, errors = _subjects(session, fresh)
        if errors:
            raise MessageRefusedError(errors)
        envelope.remember_message(
            session, sender_id=header["sender_id"], message_id=header["message_id"], action="notify", now=now
        )
        result = NotifyResult(correlation_id=str(uuid.uuid4()), repeated=len(held))
        rows = []
        for event in fresh:
            where = found[event.reference_id]
            v = event.values
            rows.append(
                DciEventInbox(
                    id_peristiwa=event.reference_id,
                    jenis=event.kind,
                    tanggal_peristiwa=v["tanggal_peristiwa"],
                    tanggal_lapor=v["tanggal_lapor"],
                    nik=v["nik"],
                    baris=event.row,
                    sha256=event.digest,
                    client_pk=client.id,
                    message_id=header["message_id"],
                    transaction_id=detail["transaction"],
                    received_at=now,
                    kode_prov=where.kode_prov,
                    kode_kab=where.kode_kab,
                    kode_kec=where.kode_kec,
                    kode_desa=where.kode_desa,
                )
            )
            result.by_kind[event.kind] = result.by_kind.get(event.kind, 0) + 1
        session.add_all(rows)
        session.flush()
        actor = {"actor": f"client:{client.client_id}", "actor_role": client.role}
        audit.record_many(
            session,
            [
                audit.entry(
                    **actor,
                    action="notify",
                    resource="dci_event",
                    nik=row.nik,
                    region_kode=row.kode_desa,
                    purpose="peristiwa_dukcapil",
                    detail={"jenis": row.jenis, "inbox": row.id, "correlation_id": result.correlation_id},
                    occurred_at=now,
                )
                for row in rows
            ],
        )
        audit.record(
            session,
            **actor,
            action="notify",
            resource="dci_message",
            purpose="peristiwa_dukcapil",
            detail={
                "stored": len(rows),
                "repeated": len(held),
                "by_kind": result.by_kind,
                "correlation_id": result.correlation_id,
            },
            occurred_at=now,
        )
        session.commit()
        result.stored = len(rows)
    except DciError as exc:
        _refuse_audit(session, client, exc, now, detail)
        raise
    log.info("dukcapil events received", stored=result.stored, repeated=result.repeated, **result.by_kind)
    return result


def ack(correlation_id: str, now: datetime) -> dict[str, Any]:
    """The spec's acknowledgement (``components/responses/Response``) of an accepted message."""
    return {
        "message": {
            "ack_status": "ACK",
            "timestamp": now.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "correlation_id": correlation_id,
        }
    }
