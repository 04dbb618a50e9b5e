"""The processing trail of personal data (UU 27/2022 PDP): append, verify, and find one person's entries.

* **No NIK is stored.** ``subject_ref`` is HMAC-SHA256 of the NIK keyed with the deployment secret, so
  a person's trail can be handed over within 3x24 hours without the log holding identities; a plain hash
  would not do, since the ~10^10 plausible NIKs are quickly enumerated. Every text field is also refused
  if it carries a NIK-shaped number.
* **Tamper evidence.** ``row_hash = SHA-256(prev_hash, canonical content)``: editing a row breaks its own
  hash; deleting or inserting one breaks the next row's ``prev_hash``; deleting the newest rows no longer
  matches ``audit_chain_head``. The chain is unkeyed so an auditor can check an export without the
  secret; someone with full write access could rebuild it, so publish :func:`chain_head` outside the
  database (snapshot manifests, signed reports) to pin it. The migration also installs triggers that
  refuse UPDATE/DELETE on ``audit_log``.
* **Concurrency.** Each append first UPDATEs the single ``audit_chain_head`` row. On PostgreSQL that row
  lock is held to commit, so concurrent appends queue instead of both reading the same last hash and
  forking the chain (under READ COMMITTED the waiter then sees the committed head; under REPEATABLE
  READ or SERIALIZABLE it gets a serialization error to retry). On SQLite the UPDATE takes the database
  write lock before the head is read. Readers are never blocked. A head row works on both backends,
  exists before the first append (unlike a "last row" to ``SELECT ... FOR UPDATE``) and is what reveals
  a truncated tail. Since the lock lasts until commit, record late in a unit of work and commit promptly.
  On PostgreSQL the whole append is one call of the ``audit_append`` function (migration 0005), so the
  lock is taken one round trip before the caller's commit rather than three.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import Table, func, insert, select, text, update
from sqlalchemy.orm import Session

from dtsen.config import get_settings
from dtsen.logs import get_logger
from dtsen.reference.nik import clean_identifier
from dtsen.store.models import AUDIT_GENESIS_HASH, AuditChainHead, AuditLog

log = get_logger(__name__)

_LOG = cast(Table, AuditLog.__table__)
_HEAD = cast(Table, AuditChainHead.__table__)

SUBJECT_CONTEXT = b"dtsen/audit/subject/v1\x00"
CHAIN_CONTEXT = "dtsen/audit/chain/v1"
CONTENT_FIELDS = (
    "occurred_at",
    "actor",
    "actor_role",
    "action",
    "resource",
    "subject_ref",
    "region_kode",
    "purpose",
    "detail",
)

_NAME_RE = re.compile(r"^[a-z][a-z0-9_.:-]*$")
_REF_RE = re.compile(r"^[0-9a-f]{64}$")
_REGION_RE = re.compile(r"^\d{2}(?:\d{2}(?:\d{2}(?:\d{4})?)?)?$")
_SEPARATORS_RE = re.compile(r"[\s.\-/_']")
# 16 digits, optionally separated, standing alone: a NIK or KK number. Not the digits of a float
# (0.7777777777777778) or of a longer token such as a hex digest.
_NIK_LIKE_RE = re.compile(r"(?<!\w)(?<!\d\.)(?:\d[ .\-]?){15}\d(?!\w)(?!\.\d)")


@dataclass(frozen=True)
class ChainProblem:
    """One finding of :func:`verify_chain`; ``row_id`` is ``None`` for problems of the chain as a whole."""

    row_id: int | None
    kind: str  # modified | broken_link | head_mismatch | count_mismatch | unchained | head_missing
    message: str

    def __str__(self) -> str:
        return self.message if self.row_id is None else f"row {self.row_id}: {self.message}"


@dataclass(frozen=True)
class ChainHead:
    """The newest entry of the chain: publish ``last_hash`` elsewhere to pin the whole history."""

    row_count: int
    last_id: int | None
    last_hash: str


def _key_bytes(key: str | bytes | None) -> bytes:
    value = get_settings().resolved_secret_key() if key is None else key
    raw = value.encode("utf-8") if isinstance(value, str) else value
    if not raw:
        raise ValueError("the subject_ref key is empty")
    return raw


def subject_ref(nik: str | int, *, key: str | bytes | None = None) -> str:
    """The keyed, irreversible reference of a NIK (hex HMAC-SHA256); stable while the key is unchanged.

    Spellings of one NIK (spaces, dots, a float column's ``.0``) give one reference. A malformed NIK
    still gets one, because records with invalid NIKs are processed, and so audited, too.
    """
    if isinstance(nik, bool) or not isinstance(nik, str | int):
        raise TypeError("nik must be a string or an integer")
    digits, _ = clean_identifier(nik)
    canonical = digits or _SEPARATORS_RE.sub("", str(nik).strip())
    if not canonical:
        raise ValueError("cannot reference an empty NIK")
    message = SUBJECT_CONTEXT + canonical.encode("utf-8")
    return hmac.new(_key_bytes(key), message, hashlib.sha256).hexdigest()


def _canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _timestamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _content_json(fields: Mapping[str, Any]) -> str:
    content = {name: fields[name] for name in CONTENT_FIELDS}
    content["occurred_at"] = _timestamp(content["occurred_at"])
    return _canonical_json(content)


def row_hash(prev_hash: str, fields: Mapping[str, Any]) -> str:
    """SHA-256 over the previous hash and this row's content in a canonical, backend-neutral form (the
    PostgreSQL append function of migration 0005 computes the same from the same two strings)."""
    payload = f"{CHAIN_CONTEXT}\n{prev_hash}\n{_content_json(fields)}"
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _normalise_detail(detail: Mapping[str, Any] | None) -> dict[str, Any] | None:
    # Hash exactly what the database will give back: JSON-round-tripped, dates and such as strings.
    if detail is None:
        return None
    if not isinstance(detail, Mapping):
        raise TypeError("detail must be a mapping")
    text = json.dumps(dict(detail), default=str, ensure_ascii=False, allow_nan=False)
    return cast(dict[str, Any], json.loads(text))


def _check_name(field: str, value: str | None, max_length: int, *, required: bool) -> None:
    if value is None:
        if required:
            raise ValueError(f"audit {field} is required")
        return
    if not _NAME_RE.match(value) or len(value) > max_length:
        raise ValueError(f"audit {field} {value!r}: lowercase identifier of at most {max_length} characters")


def entry(
    *,
    actor: str,
    action: str,
    resource: str | None = None,
    nik: str | int | None = None,
    subject: str | None = None,
    actor_role: str | None = None,
    region_kode: str | None = None,
    purpose: str | None = None,
    detail: Mapping[str, Any] | None = None,
    occurred_at: datetime | None = None,
    key: str | bytes | None = None,
) -> dict[str, Any]:
    """One entry's checked fields, as :func:`record` and :func:`record_many` append them.

    Pass the person as ``nik`` (turned into :func:`subject_ref` here) or an already computed reference
    as ``subject``.
    """
    if nik is not None and subject is not None:
        raise ValueError("pass nik or subject, not both")
    ref = subject_ref(nik, key=key) if nik is not None else subject
    if ref is not None and not _REF_RE.match(ref):
        raise ValueError("subject must be a subject_ref(): 64 lowercase hex digits")
    if not actor or len(actor) > 128:
        raise ValueError("audit actor is required (at most 128 characters)")
    _check_name("action", action, 32, required=True)
    _check_name("resource", resource, 64, required=False)
    if actor_role is not None and (not actor_role or len(actor_role) > 64):
        raise ValueError("audit actor_role: at most 64 characters")
    if region_kode is not None and not _REGION_RE.match(region_kode):
        raise ValueError(f"audit region_kode {region_kode!r}: a region code without dots")
    if occurred_at is not None and occurred_at.utcoffset() is None:
        raise ValueError("occurred_at must be timezone-aware")
    clean_detail = _normalise_detail(detail)
    texts = {
        "actor": actor,
        "actor_role": actor_role,
        "purpose": purpose,
        "detail": None if clean_detail is None else _canonical_json(clean_detail),
    }
    for field, value in texts.items():
        if value and _NIK_LIKE_RE.search(value):
            raise ValueError(
                f"audit {field} holds a NIK-shaped number; pass the person as nik= so that only "
                "its keyed reference is stored"
            )
    return {
        "occurred_at": (occurred_at or datetime.now(UTC)).astimezone(UTC),
        "actor": actor,
        "actor_role": actor_role,
        "action": action,
        "resource": resource,
        "subject_ref": ref,
        "region_kode": region_kode,
        "purpose": purpose,
        "detail": clean_detail,
    }


def record(session: Session, **kwargs: Any) -> AuditLog:
    """Append one entry (the keyword arguments of :func:`entry`) to the chain inside the caller's
    transaction and return it (flushed, with id). The entry commits or rolls back with the caller's work.
    """
    fields = entry(**kwargs)
    action, resource = fields["action"], fields["resource"]
    if session.get_bind().dialect.name == "postgresql":
        detail_json = None if fields["detail"] is None else _canonical_json(fields["detail"])
        appended = _append_postgresql(session, fields, detail_json)
    else:
        appended = _append(session, fields)
    log.debug("audit entry appended", audit_id=appended.id, action=action, resource=resource)
    return appended


def record_many(session: Session, entries: list[dict[str, Any]]) -> int:
    """Append many entries (each from :func:`entry`) in order, in three statements whatever their number:
    take the chain lock while reserving their count, insert them hashed one on the other, move the head.

    For work done on many people at once (a batch of cases approved by one officer): one entry per
    person as always, without a round trip each. Returns how many were appended.
    """
    if not entries:
        return 0
    head = session.execute(
        update(_HEAD)
        .where(_HEAD.c.id == 1)
        .values(row_count=_HEAD.c.row_count + len(entries))
        .returning(_HEAD.c.last_hash)
    ).one_or_none()
    if head is None:
        raise RuntimeError("audit_chain_head is missing: create the database with `dtsen db upgrade`")
    rows: list[dict[str, Any]] = []
    previous = head.last_hash
    for fields in entries:
        current = row_hash(previous, fields)
        rows.append({**fields, "prev_hash": previous, "row_hash": current})
        previous = current
    inserted = session.execute(insert(_LOG).returning(_LOG.c.id, sort_by_parameter_order=True), rows).all()
    session.execute(update(_HEAD).where(_HEAD.c.id == 1).values(last_id=inserted[-1].id, last_hash=previous))
    log.debug("audit entries appended", count=len(rows), last_id=inserted[-1].id)
    return len(rows)


CHAINED_MAX = 8  # entries appended by one statement of chained audit_append calls (record_entries)


def record_entries(session: Session, entries: list[dict[str, Any]]) -> int:
    """Append entries (each from :func:`entry`) in order in the fewest round trips: on PostgreSQL up to
    :data:`CHAINED_MAX` of them in one statement (the ``audit_append`` calls chained, each on the one
    before), more through :func:`record_many`'s three statements; elsewhere through :func:`record_many`.
    For a request that audits a person read and the request itself: one round trip instead of two."""
    if not entries:
        return 0
    if session.get_bind().dialect.name != "postgresql" or len(entries) > CHAINED_MAX:
        return record_many(session, entries)
    params: dict[str, Any] = {"prefix": f"{CHAIN_CONTEXT}\n"}
    for number, fields in enumerate(entries):
        detail = None if fields["detail"] is None else _canonical_json(fields["detail"])
        params.update({f"{name}_{number}": value for name, value in fields.items() if name != "detail"})
        params.update({f"detail_{number}": detail, f"content_{number}": _content_json(fields)})
    row = session.execute(_chained_call(len(entries)), params).one()
    log.debug("audit entries appended", count=len(entries), last_id=row[-1])
    return len(entries)


@cache
def _chained_call(count: int) -> Any:
    """``count`` calls of ``audit_append`` in one statement, in order: each call after the first is a
    LATERAL function whose prefix argument reads the previous call's hash (``left(hash, 0)``, the empty
    string), so it can only run once the previous entry is appended."""
    names = [name for name in CONTENT_FIELDS if name != "detail"]  # audit_append's order, detail last
    calls = []
    for number in range(count):
        prefix = "CAST(:prefix AS text)" + (f" || left(e{number - 1}.entry_hash, 0)" if number else "")
        arguments = ", ".join(f":{name}_{number}" for name in names)
        call = (
            f"audit_append({prefix}, :content_{number}, {arguments}, CAST(:detail_{number} AS json)) "
            f"AS e{number}"
        )
        calls.append(call if number == 0 else "CROSS JOIN LATERAL " + call)
    ids = ", ".join(f"e{number}.entry_id" for number in range(count))
    # Only numbers and the fixed parameter names above go into the text; every value is a bound parameter.
    return text(f"SELECT {ids} FROM " + " ".join(calls))  # noqa: S608


_APPEND_CALL = text(
    "SELECT entry_id, entry_hash, previous FROM audit_append(:prefix, :content, :occurred_at, :actor, "
    ":actor_role, :action, :resource, :subject_ref, :region_kode, :purpose, CAST(:detail AS json))"
)


def _append_postgresql(session: Session, fields: dict[str, Any], detail_json: str | None) -> AuditLog:
    """One call of the ``audit_append`` function (migration 0005): lock, hash, insert, move the head.

    The function hashes ``prefix || previous hash || "\\n" || content`` with the same prefix and content
    :func:`row_hash` uses, so the chain verifies in Python.
    """
    content = _content_json(fields)
    params = {**fields, "detail": detail_json, "prefix": f"{CHAIN_CONTEXT}\n", "content": content}
    row = session.execute(_APPEND_CALL, params).one()
    return AuditLog(**fields, id=row.entry_id, prev_hash=row.previous, row_hash=row.entry_hash)


def _append(session: Session, fields: dict[str, Any]) -> AuditLog:
    # Take the chain lock first (see the module docstring), then read the head under it.
    head = session.execute(
        update(_HEAD)
        .where(_HEAD.c.id == 1)
        .values(row_count=_HEAD.c.row_count + 1)
        .returning(_HEAD.c.last_hash)
    ).one_or_none()
    if head is None:
        raise RuntimeError("audit_chain_head is missing: create the database with `dtsen db upgrade`")
    prev_hash = head.last_hash
    entry = AuditLog(**fields, prev_hash=prev_hash, row_hash=row_hash(prev_hash, fields))
    session.add(entry)
    session.flush()
    session.execute(update(_HEAD).where(_HEAD.c.id == 1).values(last_id=entry.id, last_hash=entry.row_hash))
    return entry


def chain_head(session: Session) -> ChainHead | None:
    """The current head, or ``None`` if the head row is gone (itself a sign of tampering)."""
    row = session.execute(select(_HEAD.c.row_count, _HEAD.c.last_id, _HEAD.c.last_hash)).one_or_none()
    return None if row is None else ChainHead(row.row_count, row.last_id, row.last_hash)


def verify_chain(session: Session, *, batch_size: int = 10_000) -> list[ChainProblem]:
    """Every inconsistency of the chain, oldest first; an empty list means the log is intact.

    Checks the rows up to the head read at the start, so appends committed meanwhile are left for the
    next run rather than reported as problems.
    """
    head = chain_head(session)
    if head is None:
        return [ChainProblem(None, "head_missing", "audit_chain_head row is missing")]
    problems: list[ChainProblem] = []
    expected_prev, prev_id, count = AUDIT_GENESIS_HASH, None, 0
    if head.last_id is not None:
        rows = session.execute(
            select(_LOG).where(_LOG.c.id <= head.last_id).order_by(_LOG.c.id),
            execution_options={"yield_per": batch_size},
        )
        for row in rows:
            entry = row._mapping
            if row_hash(entry["prev_hash"], entry) != entry["row_hash"]:
                problems.append(
                    ChainProblem(entry["id"], "modified", "content does not match its hash (row altered)")
                )
            if entry["prev_hash"] != expected_prev:
                after = "the start of the chain" if prev_id is None else f"row {prev_id}"
                problems.append(
                    ChainProblem(
                        entry["id"],
                        "broken_link",
                        f"previous hash does not match {after} (a row before it was deleted, "
                        "inserted or altered)",
                    )
                )
            expected_prev, prev_id, count = entry["row_hash"], entry["id"], count + 1
    if prev_id != head.last_id or expected_prev != head.last_hash:
        problems.append(
            ChainProblem(
                None,
                "head_mismatch",
                f"chain ends at row {prev_id} but the head names row {head.last_id}: "
                "newest rows deleted or the head altered",
            )
        )
    if count != head.row_count:
        problems.append(
            ChainProblem(
                None,
                "count_mismatch",
                f"{count} rows in the chain but {head.row_count} were appended: rows deleted or added",
            )
        )
    beyond = _LOG.c.id > head.last_id if head.last_id is not None else _LOG.c.id.is_not(None)
    extra = session.execute(select(func.count()).select_from(_LOG).where(beyond)).scalar_one()
    if extra and chain_head(session) == head:  # a moved head means these are concurrent appends
        problems.append(
            ChainProblem(None, "unchained", f"{extra} rows after the head were not appended by record()")
        )
    return problems


def trail_for(session: Session, nik: str | int, *, key: str | bytes | None = None) -> list[AuditLog]:
    """Every recorded processing of one person, oldest first (the PDP data subject's trail)."""
    ref = subject_ref(nik, key=key)
    statement = (
        select(AuditLog).where(AuditLog.subject_ref == ref).order_by(AuditLog.occurred_at, AuditLog.id)
    )
    return list(session.scalars(statement))


def tail(session: Session, limit: int = 20) -> list[AuditLog]:
    """The newest ``limit`` entries, oldest first."""
    newest = list(session.scalars(select(AuditLog).order_by(AuditLog.id.desc()).limit(limit)))
    return newest[::-1]
