"""DCI Social Registry search over the served registry: ``idtype-value``, ``predicate`` and ``expression``.

One ``search_request`` item becomes one ``search_response`` item (``SearchResponse`` of
``social_api_v1.0.0.yaml``). The client sees only what its :class:`~dtsen.sharing.dci.grant.Grant`
allows (level, regions, fields, programs; :mod:`dtsen.sharing.dci.records` builds the records), reads
only the snapshot served now (resolved once per call), and every query goes through
:func:`dtsen.auth.scope.apply_scope` twice: with the client's principal and with the grant's regions, so
it sees their intersection. Every person returned is audited (one entry each, keyed by NIK, never with
the NIK in the detail); a NIK that exists only outside those regions is audited as ``read_denied`` and
answers like an unknown one.

The criteria (query types, searchable attributes, pagination) are parsed into plans by
:mod:`dtsen.sharing.dci.criteria`; the scoped statements that read the rows are in
:mod:`dtsen.sharing.dci.search_queries`.

:func:`run_search_many` answers a whole batch with a fixed number of statements for its identifier items
(all NIKs in one ``= ANY(:niks)`` on PostgreSQL, chunks of ``IN`` on SQLite; then the families, members
and program decisions of every hit at once), one count and one page query per filter item, and one audit
append for the lot.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from dtsen.auth.scope import Principal
from dtsen.sharing.dci import records
from dtsen.sharing.dci.criteria import DEFAULT_PAGE_SIZE, Plan, plan
from dtsen.sharing.dci.errors import DciError
from dtsen.sharing.dci.grant import Grant
from dtsen.sharing.dci.search_queries import (
    chunks,
    grant_principal,
    load_rows,
    member_of,
    persons_by_nik,
    run_filter,
)
from dtsen.store import audit
from dtsen.store.registry import PERSON, SNAPSHOT

RECORD_BASE = "urn:dtsen"
PURPOSE = "dci_search"
_LOCALE = re.compile(r"^[a-z]{3}$")


class CurrentSnapshot(NamedTuple):
    """The snapshot a search reads: its id, its ref (audited) and when it was made (records' ``updated``)."""

    id: int
    ref: str
    created_at: datetime | None


# -- answers -----------------------------------------------------------------------------------------------
def _timestamp(now: datetime) -> str:
    return now.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _locale(item: Mapping[str, Any]) -> dict[str, str]:
    locale = item.get("locale") if isinstance(item, Mapping) else None
    return {"locale": locale} if isinstance(locale, str) and _LOCALE.match(locale) else {}


def _reference(item: Any) -> str:
    reference = item.get("reference_id") if isinstance(item, Mapping) else None
    return str(reference)[:99] if reference not in (None, "") else ""


def rejected(item: Any, error: DciError, *, now: datetime) -> dict[str, Any]:
    """The ``search_response`` item of a refused search item (status ``rjct`` with the reason)."""
    return {
        "reference_id": _reference(item),
        "timestamp": _timestamp(now),
        "status": "rjct",
        "status_reason_code": error.code,
        "status_reason_message": error.message,
        **_locale(item),
    }


def _answer(plan_: Plan, reg_records: list[dict[str, Any]], *, now: datetime) -> dict[str, Any]:
    return {
        "reference_id": _reference(plan_.item),
        "timestamp": _timestamp(now),
        "status": "succ",
        "data": {"version": "1.0.0", "reg_records": reg_records},
        "pagination": {
            "page_size": plan_.page_size,
            "page_number": plan_.page_number,
            "total_count": plan_.total,
        },
        **_locale(plan_.item),
    }


def _page_of(plan_: Plan, ids: list[str]) -> list[str]:
    plan_.total = len(ids)
    start = (plan_.page_number - 1) * plan_.page_size
    return ids[start : start + plan_.page_size]


def _max_page_size() -> int:
    """The deployment's largest page (``dci_page_size_max``) when the caller does not pass one."""
    from dtsen.config import get_settings

    return int(get_settings().dci_page_size_max)


def run_search_many(
    session: Session,
    principal: Principal,
    grant: Grant,
    items: list[dict[str, Any]],
    *,
    now: datetime,
    max_page_size: int | None = None,
    snapshot: CurrentSnapshot | None = None,
    audit_into: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Answer a batch of ``search_request`` items in order, batched (see the module docstring).

    An item with bad criteria gets its own ``rjct`` answer (the others are still answered); a grant that
    cannot search records (aggregate level) raises ``err.request.forbidden`` (403) for the whole call,
    and no served snapshot raises ``err.service.unavailable`` (503). Audit entries join the caller's
    transaction. ``snapshot``: the current snapshot's ``(id, ref, created_at)`` if the caller read it in
    this transaction already (the DCI route reads it with the client), else it is looked up here.
    ``audit_into``: a list the ``read`` entries are added to for the caller to append (it must, in the
    same transaction) together with its own; without it they are appended here.
    """
    if grant.level not in ("byname", "deidentified"):
        raise DciError(
            "err.request.forbidden", f"access request {grant.nomor} is aggregate: no record search", 403
        )
    if snapshot is None:
        snapshot = session.execute(
            select(SNAPSHOT.c.id, SNAPSHOT.c.ref, SNAPSHOT.c.created_at).where(SNAPSHOT.c.is_current)
        ).one_or_none()
    if snapshot is None:
        raise DciError("err.service.unavailable", "no registry snapshot is served yet", 503)
    limit = max_page_size or _max_page_size()
    scopes = (principal, grant_principal(principal, grant))
    plans: list[Plan] = []
    answers: list[dict[str, Any] | None] = [None] * len(items)
    for index, item in enumerate(items):
        try:
            plans.append(plan(grant, index, item, max_page_size=limit))
        except DciError as error:
            answers[index] = rejected(item, error, now=now)

    # Identifier items: every NIK and KK of the batch in the same family-and-members query.
    niks = sorted({p.id_value for p in plans if p.id_kind == "nik" and p.id_value})
    kks = sorted({p.id_value for p in plans if p.id_kind == "kk" and p.id_value})
    family_ids: set[str] = set()
    person_ids: set[str] = set()
    for p in plans:
        if p.id_kind is None:
            run_filter(session, p, snapshot.id, scopes)
            (family_ids if p.entity == "Group" else person_ids).update(p.ids)
            family_ids.update(p.families)
    rows = load_rows(
        session, grant, snapshot.id, scopes, family_ids=family_ids, person_ids=person_ids, niks=niks, kks=kks
    )
    by_nik: dict[str, list[str]] = {}  # nik -> person ids
    by_kk: dict[str, list[str]] = {}  # no_kk -> family ids
    wanted_niks, wanted_kks = set(niks), set(kks)
    for person_id, person in sorted(rows.persons.items()):
        if person.get("nik") in wanted_niks:
            by_nik.setdefault(person["nik"], []).append(person_id)
    for family_id, family in sorted(rows.families.items()):
        if family.get("no_kk") in wanted_kks:
            by_kk.setdefault(family["no_kk"], []).append(family_id)
    unfound = [nik for nik in niks if nik not in by_nik]
    if unfound:  # a person whose family is out of scope (or who has none) is still found as a Member
        for person_id, person in persons_by_nik(session, grant, snapshot.id, scopes, unfound).items():
            rows.persons.setdefault(person_id, person)
            by_nik.setdefault(person["nik"], []).append(person_id)

    updated = _timestamp(snapshot.created_at) if snapshot.created_at else None
    view = records.View.of(grant)
    read: dict[str, dict[str, Any]] = {}  # id_dtsen -> person (audited once per call)
    for p in plans:
        if answers[p.index] is not None:
            continue
        if p.id_kind == "nik":
            hits = [rows.persons[i] for i in by_nik.get(p.id_value or "", [])]
            ids = (
                [h["id_keluarga_dtsen"] for h in hits if h["id_keluarga_dtsen"] in rows.families]
                if p.entity == "Group"
                else [h["id_dtsen"] for h in hits]
            )
            ids = _page_of(p, list(dict.fromkeys(ids)))
        elif p.id_kind == "kk":
            families = [f for f in by_kk.get(p.id_value or "", []) if f in rows.families]
            ids = (
                families
                if p.entity == "Group"
                else [m["id_dtsen"] for f in families for m in rows.members.get(f, [])]
            )
            ids = _page_of(p, ids)
        else:
            ids = p.ids
        if not p.paginated and p.total > DEFAULT_PAGE_SIZE:
            answers[p.index] = rejected(
                p.item,
                DciError(
                    "rjct.search.too_many_records_found",
                    f"{p.total} records found: ask for them page by page "
                    f"(pagination.page_size up to {limit})",
                ),
                now=now,
            )
            continue
        found: list[dict[str, Any]] = []
        if p.entity == "Group":
            for family_id in ids:
                family = rows.families.get(family_id)
                if family is None:
                    continue
                members = rows.members.get(family_id, [])
                read.update((m["id_dtsen"], m) for m in members)
                found.append(
                    records.group(
                        view,
                        family,
                        members,
                        rows.eligible.get(family_id, {}),
                        base=RECORD_BASE,
                        updated=updated,
                    )
                )
        else:
            for person_id in ids:
                person = rows.persons.get(person_id)
                if person is None:
                    continue
                family = rows.families.get(person["id_keluarga_dtsen"] or "")
                read[person_id] = person
                found.append(
                    records.member_record(
                        view,
                        person,
                        family,
                        rows.eligible.get(person["id_keluarga_dtsen"] or "", {}),
                        base=RECORD_BASE,
                    )
                )
        answers[p.index] = _answer(p, found, now=now)

    _audit(session, principal, grant, snapshot.ref, read.values(), now=now, into=audit_into)
    missing = [nik for nik in niks if nik not in by_nik]
    if missing:
        _audit_denied(session, principal, grant, snapshot, missing, now=now)
    return [answer for answer in answers if answer is not None]


def run_search(
    session: Session,
    principal: Principal,
    grant: Grant,
    item: dict[str, Any],
    *,
    now: datetime,
    max_page_size: int | None = None,
) -> dict[str, Any]:
    """One ``search_request`` item -> one ``search_response`` item; raises DciError (``rjct.*``) when
    its criteria are refused (:func:`run_search_many` turns those into ``rjct`` items instead)."""
    plan(grant, 0, item, max_page_size=max_page_size or _max_page_size())  # raises on bad criteria
    answer = run_search_many(session, principal, grant, [item], now=now, max_page_size=max_page_size)[0]
    if answer["status"] == "rjct":
        raise DciError(answer["status_reason_code"], answer["status_reason_message"])
    return answer


# -- audit -------------------------------------------------------------------------------------------------
def _detail(grant: Grant, ref: str) -> dict[str, Any]:
    return {"client_id": grant.client_id, "nomor": grant.nomor, "level": grant.level, "snapshot": ref}


def _subject_key() -> str:
    """The audit's subject_ref key, resolved once per call rather than once per person (the default the
    audit module would resolve for each entry)."""
    from dtsen.config import get_settings

    return str(get_settings().resolved_secret_key())


def _audit(
    session: Session,
    principal: Principal,
    grant: Grant,
    ref: str,
    people: Iterable[Mapping[str, Any]],
    *,
    now: datetime,
    into: list[dict[str, Any]] | None = None,
) -> None:
    """One ``read`` entry per person returned (keyed by NIK; none when nobody was returned): appended to
    the chain here, or to ``into`` for the caller to append with its own entries in one round trip."""
    detail = _detail(grant, ref)
    actor = principal.audit_fields()
    key = _subject_key()
    entries = [
        audit.entry(
            **actor,
            action="read",
            resource="dci_search",
            nik=person.get("nik") or None,
            region_kode=person.get("kode_desa") or None,
            purpose=PURPOSE,
            detail=detail,
            occurred_at=now,
            key=key,
        )
        for person in people
    ]
    if into is not None:
        into.extend(entries)
    else:
        audit.record_entries(session, entries)


def _audit_denied(
    session: Session, principal: Principal, grant: Grant, snapshot: Any, niks: list[str], *, now: datetime
) -> None:
    """``read_denied`` for NIKs that exist in the snapshot but outside the client's or grant's regions."""
    hidden: list[tuple[str, str | None]] = []
    for chunk in chunks(session, niks):
        hidden += [
            (row.nik, row.kode_desa)
            for row in session.execute(
                select(PERSON.c.nik, PERSON.c.kode_desa).where(
                    PERSON.c.snapshot_id == snapshot.id, member_of(session, PERSON.c.nik, chunk)
                )
            )
        ]
    detail = _detail(grant, snapshot.ref)
    actor = principal.audit_fields()
    audit.record_many(
        session,
        [
            audit.entry(
                **actor,
                action="read_denied",
                resource="dci_search",
                nik=nik,
                region_kode=kode or None,
                purpose=PURPOSE,
                detail=detail,
                occurred_at=now,
            )
            for nik, kode in dict(hidden).items()
        ],
    )
