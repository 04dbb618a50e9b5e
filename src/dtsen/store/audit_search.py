"""The auditor's view of the processing trail: search it, export it, and leave a trace of doing so.

* **Filters** are checked here, once, for the page, the CSV export and the JSON API alike; a refusal is a
  :class:`FilterError` naming the field and a reason code, never an exception from deeper down.
* **A person is found by NIK without keeping the NIK.** The NIK is turned into its
  :func:`dtsen.store.audit.subject_ref` at once; the filter, the links of the next page and the audit entry
  of the search carry only that reference.
* **Newest first, keyset pages.** Entries come in order of time (then id), and ``before_id`` continues
  below the time and id of the last entry shown, so a page costs the same deep in a log of millions as
  at its top, and rows appended meanwhile do not shift the pages. Ordering by time lets the indexes
  serve it (actor + time, time; subject and region select few rows or are matched as a digit range,
  which a btree serves in any collation; see migration 0001).
* **Watching the watcher.** Every search and export is itself an entry (``read`` / ``export`` of
  ``audit_log``) naming the filters but never a NIK; a subject search names the person by reference.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Connection, Table, and_, false, or_, select
from sqlalchemy.orm import Session

from dtsen.auth.scope import Principal, Role
from dtsen.store import audit
from dtsen.store.models import AuditLog

_LOG = cast(Table, AuditLog.__table__)

MAX_LIMIT = 200
DEFAULT_LIMIT = 50
RESOURCE = "audit_log"
EXPORT_BATCH = 5_000
# The CSV export's columns: the hashed content of each row (:data:`dtsen.store.audit.CONTENT_FIELDS`)
# in the form the hash is computed from, with the row's two hashes, so a segment verifies outside.
EXPORT_COLUMNS = ("id", *audit.CONTENT_FIELDS, "prev_hash", "row_hash")

_NAME_RE = re.compile(r"^[a-z][a-z0-9_.:-]*$")
_REF_RE = re.compile(r"^[0-9a-f]{64}$")
_REGION_RE = re.compile(r"^\d{2}(?:\d{2}(?:\d{2}(?:\d{4})?)?)?$")
_NIK_SEPARATORS_RE = re.compile(r"[\s.\-]")


class FilterError(ValueError):
    """A filter the trail cannot be searched by: ``field`` (the form's name) and a ``code`` the pages put
    in words (:data:`dtsen.api.audit.FILTER_MESSAGES`)."""

    def __init__(self, field: str, code: str) -> None:
        super().__init__(f"{field}: {code}")
        self.field = field
        self.code = code


@dataclass(frozen=True)
class TrailFilter:
    """Checked filters (see :func:`make_filter`); ``None`` means "any". ``until`` is exclusive."""

    actor: str | None = None
    actor_role: str | None = None
    action: str | None = None
    resource: str | None = None
    subject_ref: str | None = None
    region: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def described(self) -> dict[str, Any]:
        """The filters as the audit entry of a search records them (the subject is the entry's own
        ``subject_ref``, so only its presence is named here)."""
        shown: dict[str, Any] = {}
        for name, value in asdict(self).items():
            if value is None:
                continue
            if name == "subject_ref":
                shown["subjek"] = True
            elif isinstance(value, datetime):
                shown[name] = value.isoformat()
            else:
                shown[name] = value
        return shown


def _name(field: str, value: str | None, max_length: int, code: str) -> str | None:
    value = (value or "").strip()
    if not value:
        return None
    if len(value) > max_length or not _NAME_RE.match(value):
        raise FilterError(field, code)
    return value


def make_filter(
    principal: Principal,
    *,
    actor: str | None = None,
    actor_role: str | None = None,
    action: str | None = None,
    resource: str | None = None,
    nik: str | None = None,
    subject: str | None = None,
    region: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> TrailFilter:
    """Checked filters, or :class:`FilterError`. The NIK (``nik``) or its reference (``subject``) names a
    person; a region must lie inside the principal's regions. No value is echoed in a message."""
    actor = (actor or "").strip() or None
    if actor is not None:
        if len(actor) > 128 or any(ord(char) < 32 for char in actor):
            raise FilterError("aktor", "actor_invalid")
        if audit._NIK_LIKE_RE.search(actor):
            raise FilterError("aktor", "actor_nik")
    role = (actor_role or "").strip() or None
    if role is not None and role not in {member.value for member in Role}:
        raise FilterError("peran", "role_unknown")
    checked_action = _name("aksi", action, 32, "action_invalid")
    checked_resource = _name("sumber", resource, 64, "resource_invalid")
    if nik and subject:
        raise FilterError("nik", "nik_and_subject")
    ref = None
    if nik:
        digits = _NIK_SEPARATORS_RE.sub("", nik)
        if not digits.isdigit() or not 8 <= len(digits) <= 20:
            raise FilterError("nik", "nik_invalid")
        ref = audit.subject_ref(digits)
    elif subject:
        if not _REF_RE.match(subject):
            raise FilterError("subjek", "subject_invalid")
        ref = subject
    checked_region = (region or "").replace(".", "").strip() or None
    if checked_region is not None:
        if not _REGION_RE.match(checked_region):
            raise FilterError("wilayah", "region_invalid")
        if not principal.may_see_region(checked_region):
            raise FilterError("wilayah", "region_outside")
    for field, moment in (("dari", since), ("sampai", until)):
        if moment is not None and moment.utcoffset() is None:
            raise ValueError(f"{field} must be timezone-aware")
    if since is not None and until is not None and since >= until:
        raise FilterError("sampai", "range_reversed")
    return TrailFilter(
        actor=actor,
        actor_role=role,
        action=checked_action,
        resource=checked_resource,
        subject_ref=ref,
        region=checked_region,
        since=since,
        until=until,
    )


def _region_condition(prefix: str) -> ColumnElement[bool]:
    # A digit range (index-friendly in any collation) narrowed to the exact prefix.
    column = _LOG.c.region_kode
    return and_(column >= prefix, column <= prefix.ljust(10, "9"), column.like(f"{prefix}%"))


def conditions(principal: Principal, filters: TrailFilter) -> list[ColumnElement[bool]]:
    """The WHERE conditions of a filter, limited to the principal's regions unless it is national."""
    where: list[ColumnElement[bool]] = []
    if not principal.national:  # entries without a region are not anyone's region
        regional = [_region_condition(region) for region in principal.regions if _REGION_RE.match(region)]
        where.append(or_(*regional) if regional else false())
    if filters.actor is not None:
        if ":" in filters.actor:
            where.append(_LOG.c.actor == filters.actor)
        else:  # a bare name: the user or the client of that name
            names = (filters.actor, f"user:{filters.actor}", f"client:{filters.actor}")
            where.append(_LOG.c.actor.in_(names))
    if filters.actor_role is not None:
        where.append(_LOG.c.actor_role == filters.actor_role)
    if filters.action is not None:
        where.append(_LOG.c.action == filters.action)
    if filters.resource is not None:
        where.append(_LOG.c.resource == filters.resource)
    if filters.subject_ref is not None:
        where.append(_LOG.c.subject_ref == filters.subject_ref)
    if filters.region is not None:
        where.append(_region_condition(filters.region))
    if filters.since is not None:
        where.append(_LOG.c.occurred_at >= filters.since)
    if filters.until is not None:
        where.append(_LOG.c.occurred_at < filters.until)
    return where


@dataclass(frozen=True)
class TrailPage:
    """One page of a search, newest first; ``next_before`` continues it (``None``: nothing older)."""

    entries: list[AuditLog]
    next_before: int | None


def search(
    session: Session,
    principal: Principal,
    filters: TrailFilter,
    *,
    limit: int = DEFAULT_LIMIT,
    before_id: int | None = None,
    purpose: str | None = None,
) -> TrailPage:
    """Up to ``limit`` entries matching ``filters``, newest first, below ``before_id`` if given; the
    search is recorded in the caller's unit of work (commit promptly: it holds the chain lock)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be 1..{MAX_LIMIT}")
    statement = select(AuditLog).where(*conditions(principal, filters))
    if before_id is not None:  # below the (time, id) of that entry; an unknown id gives an empty page
        anchor = select(_LOG.c.occurred_at).where(_LOG.c.id == before_id).scalar_subquery()
        statement = statement.where(
            or_(AuditLog.occurred_at < anchor, and_(AuditLog.occurred_at == anchor, AuditLog.id < before_id))
        )
    newest_first = (AuditLog.occurred_at.desc(), AuditLog.id.desc())
    found = list(session.scalars(statement.order_by(*newest_first).limit(limit + 1)))
    entries = found[:limit]
    detail: dict[str, Any] = {"saringan": filters.described(), "hasil": len(entries)}
    if before_id is not None:
        detail["sebelum"] = before_id
    audit.record(
        session,
        **principal.audit_fields(),
        action="read",
        resource=RESOURCE,
        subject=filters.subject_ref,
        purpose=purpose,
        detail=detail,
    )
    return TrailPage(entries, entries[-1].id if len(found) > limit else None)


def record_export(
    session: Session,
    principal: Principal,
    filters: TrailFilter,
    *,
    fmt: str = "csv",
    purpose: str | None = None,
) -> int:
    """Record an export of the filtered trail and return the id of that entry: the export covers the rows
    before it (:func:`export_rows` with ``below_id``), so what was exported is exactly what was logged."""
    entry = audit.record(
        session,
        **principal.audit_fields(),
        action="export",
        resource=RESOURCE,
        subject=filters.subject_ref,
        purpose=purpose,
        detail={"saringan": filters.described(), "format": fmt},
    )
    return entry.id


def export_rows(
    connection: Connection, principal: Principal, filters: TrailFilter, *, below_id: int
) -> Iterator[dict[str, str]]:
    """The filtered entries below ``below_id``, oldest first (chain order), as CSV cells: the content in
    the form :func:`dtsen.store.audit.row_hash` hashes it (UTC timestamp with microseconds, ``detail``
    as canonical JSON; an empty cell is null), streamed in batches."""
    statement = select(_LOG).where(*conditions(principal, filters), _LOG.c.id < below_id).order_by(_LOG.c.id)
    for row in connection.execute(statement, execution_options={"yield_per": EXPORT_BATCH}):
        yield export_cells(row._mapping)


def export_cells(entry: Any) -> dict[str, str]:
    """One entry as the export's cells (``entry``: a row mapping or an :class:`AuditLog`)."""

    def value(name: str) -> Any:
        return entry[name] if hasattr(entry, "__getitem__") else getattr(entry, name)

    cells: dict[str, str] = {}
    for name in EXPORT_COLUMNS:
        raw = value(name)
        if raw is None:
            cells[name] = ""
        elif name == "occurred_at":
            cells[name] = audit._timestamp(raw)
        elif name == "detail":
            cells[name] = audit._canonical_json(raw)
        else:
            cells[name] = str(raw)
    return cells


def cells_to_fields(cells: dict[str, str]) -> dict[str, Any]:
    """The hashed content back from export cells, as an outside verifier would read a row: check it with
    ``dtsen.store.audit.row_hash(cells["prev_hash"], cells_to_fields(cells)) == cells["row_hash"]``."""
    from datetime import UTC

    fields: dict[str, Any] = {name: (cells[name] or None) for name in audit.CONTENT_FIELDS}
    fields["occurred_at"] = datetime.strptime(cells["occurred_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=UTC
    )
    fields["detail"] = json.loads(cells["detail"]) if cells["detail"] else None
    return fields
