"""The statements of a DCI search over the served snapshot, each scoped to what the client may see.

Every statement goes through :func:`dtsen.auth.scope.apply_scope` twice: with the client's principal and
with its grant's regions (:func:`grant_principal`), so it reads their intersection. The identifier items
of a batch are read together (:func:`load_rows`: all NIKs in one ``= ANY(:niks)`` on PostgreSQL, chunks
of ``IN`` on SQLite; then the families, members and program decisions of every hit at once); a filter
item is one count and one page query (:func:`run_filter`). :mod:`dtsen.sharing.dci.search` turns the rows
into answers.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, any_, bindparam, false, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.types import String

from dtsen.auth.scope import Principal, Role, apply_scope
from dtsen.sharing.dci import records
from dtsen.sharing.dci.criteria import Plan
from dtsen.sharing.dci.grant import Grant
from dtsen.store.registry import ELIGIBILITY, FAMILY, PERSON

_SQLITE_CHUNK = 500
_PG_CHUNK = 20_000
FAMILY_COLUMNS = (
    "id_keluarga_dtsen",
    "no_kk",
    "jumlah_anggota",
    "alamat",
    "perkotaan",
    "desil_nasional",
    "desil_kabkota",
    "kode_prov",
    "kode_kab",
    "kode_kec",
    "kode_desa",
)
PERSON_COLUMNS = (
    "id_dtsen",
    "id_keluarga_dtsen",
    "nik",
    "no_kk",
    "nama",
    "tanggal_lahir",
    "jenis_kelamin",
    "hubungan",
    "kode_prov",
    "kode_kab",
    "kode_kec",
    "kode_desa",
)


def grant_principal(principal: Principal, grant: Grant) -> Principal:
    """The grant's regions as a principal, so :func:`apply_scope` applies them like the client's own."""
    return Principal(
        kind=principal.kind, name=principal.name, role=Role.KLIEN_INSTANSI, regions=grant.regions
    )


def _scoped(statement: Select[Any], scopes: Sequence[Principal], table: Any) -> Select[Any]:
    for scope in scopes:
        statement = apply_scope(statement, scope, table)
    return statement


def chunks(session: Session, values: Sequence[str]) -> Iterator[Sequence[str]]:
    size = _PG_CHUNK if _postgresql(session) else _SQLITE_CHUNK
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def member_of(session: Session, column: Any, values: Sequence[str]) -> ColumnElement[bool]:
    """``column`` is one of ``values``: one array parameter on PostgreSQL, an IN list elsewhere."""
    if not values:
        return false()
    if _postgresql(session):
        return column == any_(bindparam(None, list(values), type_=ARRAY(String)))
    return column.in_(list(values))


def _order(plan_: Plan, *tail: Any) -> list[Any]:
    out: list[Any] = []
    for name, descending in plan_.sort:
        column = FAMILY.c[name]
        out.append(column.desc().nulls_last() if descending else column.asc().nulls_last())
    return out + list(tail)


def run_filter(session: Session, plan_: Plan, snapshot_id: int, scopes: Sequence[Principal]) -> None:
    """Count and page one condition query (family ids for Group, person ids for Member)."""
    assert plan_.condition is not None
    offset = (plan_.page_number - 1) * plan_.page_size
    if plan_.entity == "Group":
        base = select(FAMILY.c.id_keluarga_dtsen).where(FAMILY.c.snapshot_id == snapshot_id, plan_.condition)
        base = _scoped(base, scopes, FAMILY)
        plan_.total = int(session.scalar(select(func.count()).select_from(base.subquery())) or 0)
        if plan_.total > offset:
            page = base.order_by(*_order(plan_, FAMILY.c.id_keluarga_dtsen))
            plan_.ids = list(session.scalars(page.limit(plan_.page_size).offset(offset)))
        return
    joined = PERSON.join(
        FAMILY,
        and_(
            FAMILY.c.snapshot_id == PERSON.c.snapshot_id,
            FAMILY.c.id_keluarga_dtsen == PERSON.c.id_keluarga_dtsen,
        ),
    )
    base = (
        select(PERSON.c.id_dtsen, PERSON.c.id_keluarga_dtsen)
        .select_from(joined)
        .where(PERSON.c.snapshot_id == snapshot_id, plan_.condition)
    )
    base = _scoped(base, scopes, FAMILY)
    plan_.total = int(session.scalar(select(func.count()).select_from(base.subquery())) or 0)
    if plan_.total > offset:
        page = base.order_by(*_order(plan_, FAMILY.c.id_keluarga_dtsen, PERSON.c.id_dtsen))
        found = session.execute(page.limit(plan_.page_size).offset(offset)).all()
        plan_.ids = [row.id_dtsen for row in found]
        plan_.families = sorted({row.id_keluarga_dtsen for row in found})


@dataclass
class Rows:
    families: dict[str, dict[str, Any]] = field(default_factory=dict)
    members: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # family id -> persons
    persons: dict[str, dict[str, Any]] = field(default_factory=dict)  # id_dtsen -> person
    eligible: dict[str, dict[str, bool]] = field(default_factory=dict)


def _needs_atribut(grant: Grant) -> bool:
    return bool(grant.fields & {*records.PERSON_ATTRIBUTES, "alamat"})


def _person_columns(atribut: bool) -> list[Any]:
    return [PERSON.c[c] for c in PERSON_COLUMNS] + ([PERSON.c.atribut] if atribut else [])


def _one_of(dialect: str, column: Any) -> ColumnElement[bool]:
    """``column`` is one of the bound ``:values``: one array parameter on PostgreSQL, an IN list elsewhere."""
    if dialect == "postgresql":
        return column == any_(bindparam("values", type_=ARRAY(String)))
    return column.in_(bindparam("values", expanding=True))


@lru_cache(maxsize=256)
def _family_query(
    dialect: str, by: str, programs: tuple[str, ...], atribut: bool, scopes: tuple[Principal, ...]
) -> Select[Any]:
    """Families (scoped) with their members and program decisions, by family id, by a member's NIK (the
    person scoped on their own region) or by KK, with ``:snapshot_id`` and ``:values`` bound. Built once
    per shape: a search by NIK is the busiest call, and building and keying this statement each time cost
    more than running it."""
    snapshot_id = bindparam("snapshot_id")
    decisions = [
        select(ELIGIBILITY.c.layak)
        .where(
            ELIGIBILITY.c.snapshot_id == FAMILY.c.snapshot_id,
            ELIGIBILITY.c.id_keluarga_dtsen == FAMILY.c.id_keluarga_dtsen,
            ELIGIBILITY.c.program == code,
        )
        .scalar_subquery()
        .label(f"e_{number}")
        for number, code in enumerate(programs)
    ]
    joined = FAMILY.outerjoin(
        PERSON,
        and_(
            PERSON.c.snapshot_id == FAMILY.c.snapshot_id,
            PERSON.c.id_keluarga_dtsen == FAMILY.c.id_keluarga_dtsen,
        ),
    )
    if by == "nik":
        hit = PERSON.alias("hit")
        hits = select(hit.c.id_keluarga_dtsen).where(
            hit.c.snapshot_id == snapshot_id, _one_of(dialect, hit.c.nik)
        )
        where = FAMILY.c.id_keluarga_dtsen.in_(_scoped(hits, scopes, hit))
    else:
        where = _one_of(dialect, FAMILY.c.id_keluarga_dtsen if by == "family" else FAMILY.c.no_kk)
    statement = (
        select(*(FAMILY.c[c].label("f_" + c) for c in FAMILY_COLUMNS), *decisions, *_person_columns(atribut))
        .select_from(joined)
        .where(FAMILY.c.snapshot_id == snapshot_id, where)
        .order_by(FAMILY.c.id_keluarga_dtsen, PERSON.c.hubungan, PERSON.c.id_dtsen)
    )
    return _scoped(statement, scopes, FAMILY)


def load_rows(
    session: Session,
    grant: Grant,
    snapshot_id: int,
    scopes: tuple[Principal, ...],
    *,
    family_ids: Iterable[str] = (),
    person_ids: Iterable[str] = (),
    niks: Sequence[str] = (),
    kks: Sequence[str] = (),
) -> Rows:
    """Families (scoped) with their members and approved program decisions in one query a kind (family
    columns repeated on each member row), then any person asked for by id whose family is out of scope."""
    rows = Rows()
    atribut = _needs_atribut(grant)
    person_columns = _person_columns(atribut)
    programs = tuple(grant.programs)
    dialect = session.get_bind().dialect.name
    for by, values in (("family", family_ids), ("nik", niks), ("kk", kks)):
        statement = None
        for chunk in chunks(session, sorted(set(values))):
            statement = (
                statement if statement is not None else _family_query(dialect, by, programs, atribut, scopes)
            )
            for row in session.execute(statement, {"snapshot_id": snapshot_id, "values": list(chunk)}):
                _take(rows, row._mapping, person_columns, programs)
    missing = sorted(set(person_ids) - set(rows.persons))
    for chunk in chunks(session, missing):  # persons without a family in scope are not served as members
        statement = select(*person_columns).where(
            PERSON.c.snapshot_id == snapshot_id, member_of(session, PERSON.c.id_dtsen, chunk)
        )
        for found in session.execute(_scoped(statement, scopes, PERSON)):
            rows.persons[found.id_dtsen] = _person(dict(found._mapping), None)
    return rows


def persons_by_nik(
    session: Session, grant: Grant, snapshot_id: int, scopes: Sequence[Principal], niks: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Persons by NIK scoped on their own region (for those no family in scope brought along)."""
    columns = [PERSON.c[c] for c in PERSON_COLUMNS]
    if _needs_atribut(grant):
        columns.append(PERSON.c.atribut)
    found: dict[str, dict[str, Any]] = {}
    for chunk in chunks(session, list(niks)):
        statement = select(*columns).where(
            PERSON.c.snapshot_id == snapshot_id, member_of(session, PERSON.c.nik, chunk)
        )
        for row in session.execute(_scoped(statement, scopes, PERSON)):
            found[row.id_dtsen] = _person(dict(row._mapping), None)
    return found


def _take(
    rows: Rows, values: Mapping[str, Any], person_columns: Sequence[Any], programs: Sequence[str]
) -> None:
    """One row of the family-and-members query into ``rows`` (a family's columns come once per member)."""
    family_id = values["f_id_keluarga_dtsen"]
    family = rows.families.get(family_id)
    if family is None:
        family = rows.families[family_id] = {c: values["f_" + c] for c in FAMILY_COLUMNS}
        rows.members[family_id] = []
        rows.eligible[family_id] = {code: bool(values[f"e_{number}"]) for number, code in enumerate(programs)}
    if values["id_dtsen"] is None or values["id_dtsen"] in rows.persons:  # no persons; or already read
        return
    person = _person({c.name: values[c.name] for c in person_columns}, family)
    rows.members[family_id].append(person)
    rows.persons[person["id_dtsen"]] = person


def _person(person: dict[str, Any], family: Mapping[str, Any] | None) -> dict[str, Any]:
    extra = person.get("atribut")
    if isinstance(extra, str):  # JsonText arrives parsed; tolerate raw text
        extra = json.loads(extra)
    person["atribut"] = extra or {}
    person["alamat"] = person["atribut"].get("alamat") or (family or {}).get("alamat")
    return person
