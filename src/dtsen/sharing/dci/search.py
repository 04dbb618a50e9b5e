"""DCI Social Registry search over the served registry: ``idtype-value``, ``predicate`` and ``expression``.

One ``search_request`` item becomes one ``search_response`` item (``SearchResponse`` of
``social_api_v1.0.0.yaml``). The client sees only what its :class:`~dtsen.sharing.dci.grant.Grant`
allows (level, regions, fields, programs; :mod:`dtsen.sharing.dci.records` builds the records), reads
only the snapshot served now (resolved once per call), and every query goes through
:func:`dtsen.auth.scope.apply_scope` twice: with the client's principal and with the grant's regions, so
it sees their intersection. Every person returned is audited (one entry each, keyed by NIK, never with
the NIK in the detail); a NIK that exists only outside those regions is audited as ``read_denied`` and
answers like an unknown one.

Queries (``search_criteria``):

* ``idtype-value``: ``{"type": "NIK", "value": "<16 digits>"}`` or ``{"type": "KK", ...}``. ``NID`` (the
  identifier type the spec's sample responses use for a national id) is accepted as NIK. A NIK gives the
  person's family (``response_entity`` Group, the default) or the person (Member); a KK gives the family
  or all its members. An identifier may be searched only if the grant approved that field (``nik`` /
  ``no_kk``), so a client cannot test whom the registry holds by identifiers it may not receive;
  de-identified grants can never search by identifier.
* ``predicate``: the spec's list of ``{seq_num, expression1, condition, expression2}``; each element is
  ``expression1 <condition> expression2`` (``and``, ``or``; ``not`` means "and not"), later expressions
  (``expression3``..., as the spec's samples use) chain with the same condition, and the elements are
  combined with AND in ``seq_num`` order. Operators ``eq gt lt ge le in``. The spec's samples send such a
  list with ``query_type`` ``expression``; a list is read as a predicate whichever of the two it names.
* ``expression``: the spec's NoSql form ``{"type": "...NoSql", "value": {"expression": {"collection":
  "Group", "query": {...}}}}`` with ``$and``, ``$or``, ``$not``, ``$eq``, ``$lt``, ``$lte``, ``$gt``,
  ``$gte``, ``$in`` (a bare value means ``$eq``), compiled to SQLAlchemy expressions with bound values.

Searchable attributes (:data:`ATTRIBUTES`): ``desil_nasional`` (also ``desil`` and ``poverty_score``:
DTSEN publishes the national welfare rank, not the model's raw score, so the spec's ``poverty_score``
is the national desil, 1 = poorest tenth), ``desil_kabkota``, ``group_size`` (also ``household_size``,
``jumlah_anggota``: the family's members), the region codes ``kode_prov`` / ``kode_kab`` / ``kode_kec``
/ ``kode_desa``, and ``program`` (``eq``/``in`` a program code: families eligible for it). Each needs its
field in the grant (a region code needs its level or a finer one; a program must be a granted program);
anything else is ``rjct.filter.invalid`` naming the attribute. Sort takes the same attributes
(``rjct.sort.invalid`` otherwise), ties broken by the internal id so pages are stable.

Pagination: ``page_size`` 1..``dci_page_size_max`` (default 1000), ``page_number`` from 1; every answer
carries ``{page_size, page_number, total_count}``. Without a pagination object, a result larger than
:data:`DEFAULT_PAGE_SIZE` records is refused with ``rjct.search.too_many_records_found`` rather than
silently cut.

:func:`run_search_many` answers a whole batch with a fixed number of statements for its identifier items
(all NIKs in one ``= ANY(:niks)`` on PostgreSQL, chunks of ``IN`` on SQLite; then the families, members
and program decisions of every hit at once), one count and one page query per filter item, and one audit
append for the lot.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, any_, bindparam, exists, false, func, not_, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.types import String

from dtsen.auth.scope import Principal, Role, apply_scope
from dtsen.sharing.dci import records
from dtsen.sharing.dci.errors import DciError
from dtsen.sharing.dci.grant import Grant
from dtsen.store import audit
from dtsen.store.registry import ELIGIBILITY, FAMILY, PERSON, SNAPSHOT

DEFAULT_PAGE_SIZE = 100
MAX_CONDITIONS = 64  # attribute conditions in one query
MAX_DEPTH = 8  # nesting of $and/$or/$not
RECORD_BASE = "urn:dtsen"
PURPOSE = "dci_search"
NIK_TYPES = frozenset({"NIK", "NID"})
KK_TYPES = frozenset({"KK", "NO_KK"})
ENTITIES = {"group": "Group", "household": "Group", "member": "Member"}
_DIGITS16 = re.compile(r"^\d{16}$")
_LOCALE = re.compile(r"^[a-z]{3}$")
_PROGRAM = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_SQLITE_CHUNK = 500
_PG_CHUNK = 20_000
FAMILY_COLUMNS = ("id_keluarga_dtsen", "no_kk", "jumlah_anggota", "alamat", "perkotaan", "desil_nasional",
                  "desil_kabkota", "kode_prov", "kode_kab", "kode_kec", "kode_desa")  # fmt: skip
PERSON_COLUMNS = ("id_dtsen", "id_keluarga_dtsen", "nik", "no_kk", "nama", "tanggal_lahir", "jenis_kelamin",
                  "hubungan", "kode_prov", "kode_kab", "kode_kec", "kode_desa")  # fmt: skip


@dataclass(frozen=True)
class Attribute:
    """A searchable attribute: the family column, the grant fields that allow it (any one), its kind."""

    column: str | None
    needs: frozenset[str]
    kind: str  # number | region | program
    length: int = 0  # region code length


_DESIL = Attribute("desil_nasional", frozenset({"desil_nasional"}), "number")
_SIZE = Attribute("jumlah_anggota", frozenset({"jumlah_anggota"}), "number")
ATTRIBUTES: dict[str, Attribute] = {
    "desil_nasional": _DESIL,
    "desil": _DESIL,
    "poverty_score": _DESIL,
    "desil_kabkota": Attribute("desil_kabkota", frozenset({"desil_kabkota"}), "number"),
    "group_size": _SIZE,
    "household_size": _SIZE,
    "jumlah_anggota": _SIZE,
    "kode_prov": Attribute("kode_prov", frozenset({"kode_kab", "kode_kec", "kode_desa"}), "region", 2),
    "kode_kab": Attribute("kode_kab", frozenset({"kode_kab", "kode_kec", "kode_desa"}), "region", 4),
    "kode_kec": Attribute("kode_kec", frozenset({"kode_kec", "kode_desa"}), "region", 6),
    "kode_desa": Attribute("kode_desa", frozenset({"kode_desa"}), "region", 10),
    "program": Attribute(None, frozenset(), "program"),
}
PREDICATE_OPERATORS = {"eq": "eq", "gt": "gt", "lt": "lt", "ge": "ge", "le": "le", "in": "in"}
NOSQL_OPERATORS = {"$eq": "eq", "$gt": "gt", "$lt": "lt", "$gte": "ge", "$lte": "le", "$in": "in"}


def _criteria(message: str) -> DciError:
    return DciError("rjct.search_criteria.invalid", message)


def _filter(message: str) -> DciError:
    return DciError("rjct.filter.invalid", message)


# -- plans ---------------------------------------------------------------------------------------------------
@dataclass
class Plan:
    """One parsed search item: what to find (an identifier or a condition), which entity, which page."""

    index: int
    item: Mapping[str, Any]
    entity: str = "Group"
    id_kind: str | None = None  # "nik" | "kk" for idtype-value
    id_value: str | None = None
    condition: ColumnElement[bool] | None = None
    sort: list[tuple[str, bool]] = field(default_factory=list)  # (family column, descending)
    page_size: int = DEFAULT_PAGE_SIZE
    page_number: int = 1
    paginated: bool = False
    error: DciError | None = None
    # results: family ids (Group) or person ids (Member) of the page, and the total
    ids: list[str] = field(default_factory=list)
    families: list[str] = field(default_factory=list)  # the families of a Member page
    total: int = 0


def _entity(criteria: Mapping[str, Any], fallback: str | None = None) -> str:
    raw = criteria.get("response_entity") or fallback or "Group"
    entity = ENTITIES.get(str(raw).lower()) if isinstance(raw, str) else None
    if entity is None:
        raise _criteria(f"response_entity {str(raw)[:40]!r} is not supported: use Group or Member")
    return entity


def _allowed(grant: Grant, name: str) -> Attribute:
    attribute = ATTRIBUTES.get(name) if isinstance(name, str) else None
    if attribute is None:
        raise _filter(f"attribute {str(name)[:60]!r} is not searchable")
    if attribute.kind != "program" and not (attribute.needs & grant.fields):
        raise _filter(f"attribute {name!r} is not allowed by access request {grant.nomor}")
    return attribute


def _number(name: str, value: Any) -> int | float:
    if isinstance(value, bool):
        raise _filter(f"attribute {name!r}: a number is expected")
    if isinstance(value, int | float):
        return value
    try:
        number = float(str(value).strip())
    except ValueError:
        raise _filter(f"attribute {name!r}: a number is expected") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise _filter(f"attribute {name!r}: a number is expected")
    return int(number) if number.is_integer() else number


def _values(name: str, operator: str, value: Any) -> list[Any]:
    if operator == "in":
        if isinstance(value, str):  # the predicate schema's attribute_value is a scalar: "a,b,c"
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, list) or not value or len(value) > 1000:
            raise _filter(f"attribute {name!r}: 'in' takes a list of 1 to 1000 values")
        return list(value)
    if isinstance(value, list | dict):
        raise _filter(f"attribute {name!r}: one value is expected for {operator!r}")
    return [value]


def condition(grant: Grant, name: str, operator: str, value: Any) -> ColumnElement[bool]:
    """One attribute condition on the served family (``FAMILY``) with bound values."""
    attribute = _allowed(grant, name)
    values = _values(name, operator, value)
    if attribute.kind == "program":
        if operator not in ("eq", "in"):
            raise _filter("attribute 'program' takes only eq or in")
        codes = [str(code) for code in values]
        for code in codes:
            if not _PROGRAM.match(code) or code not in grant.programs:
                raise _filter(f"program {code[:40]!r} is not allowed by access request {grant.nomor}")
        return exists(
            select(ELIGIBILITY.c.program).where(
                ELIGIBILITY.c.snapshot_id == FAMILY.c.snapshot_id,
                ELIGIBILITY.c.id_keluarga_dtsen == FAMILY.c.id_keluarga_dtsen,
                ELIGIBILITY.c.program.in_(codes),
                ELIGIBILITY.c.layak.is_(True),
            )
        )
    assert attribute.column is not None
    column = FAMILY.c[attribute.column]
    if attribute.kind == "region":
        codes = [str(code) for code in values]
        for code in codes:
            if not (code.isdigit() and len(code) == attribute.length):
                raise _filter(f"attribute {name!r}: a {attribute.length}-digit region code is expected")
        if operator == "in":
            return column.in_(codes)
        if operator != "eq":
            raise _filter(f"attribute {name!r} takes only eq or in")
        return column == codes[0]
    numbers = [_number(name, item) for item in values]
    if operator == "in":
        return column.in_(numbers)
    compare = {"eq": column.__eq__, "gt": column.__gt__, "lt": column.__lt__, "ge": column.__ge__,
               "le": column.__le__}  # fmt: skip
    return compare[operator](numbers[0])


class _Budget:
    """Bounds the work one query may ask for (conditions and nesting)."""

    def __init__(self) -> None:
        self.left = MAX_CONDITIONS

    def spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise _criteria(f"at most {MAX_CONDITIONS} conditions in one query")


def _predicate_expression(grant: Grant, raw: Any, budget: _Budget) -> ColumnElement[bool]:
    if not isinstance(raw, Mapping):
        raise _criteria("a predicate expression is an object {attribute_name, operator, attribute_value}")
    operator = PREDICATE_OPERATORS.get(str(raw.get("operator", "")).lower())
    if operator is None:
        raise _filter(f"operator {str(raw.get('operator'))[:20]!r} is not one of eq gt lt ge le in")
    if "attribute_value" not in raw:
        raise _criteria("a predicate expression needs attribute_value")
    budget.spend()
    return condition(grant, raw.get("attribute_name"), operator, raw["attribute_value"])


def _seq(element: Mapping[str, Any], position: int) -> tuple[float, int]:
    try:
        return float(element.get("seq_num")), position
    except (TypeError, ValueError):
        return float("inf"), position


def compile_predicate(grant: Grant, query: Any) -> ColumnElement[bool]:
    """The spec's predicate list as one condition (see the module docstring)."""
    if not isinstance(query, list) or not query or not all(isinstance(e, Mapping) for e in query):
        raise _criteria("a predicate query is a non-empty list of {expression1, condition, expression2}")
    budget = _Budget()
    parts: list[ColumnElement[bool]] = []
    ordered = sorted(enumerate(query), key=lambda pair: _seq(pair[1], pair[0]))
    for _, element in ordered:
        if "expression1" not in element:
            raise _criteria("every predicate needs expression1")
        result = _predicate_expression(grant, element["expression1"], budget)
        joiner = str(element.get("condition") or "").lower()
        number = 2
        while f"expression{number}" in element:
            nxt = element[f"expression{number}"]
            number += 1
            if nxt in ("", None) and not joiner:
                continue
            if joiner not in ("and", "or", "not"):
                raise _criteria("condition must be and, or or not")
            other = _predicate_expression(grant, nxt, budget)
            result = (
                and_(result, other) if joiner == "and" else or_(result, other)
                if joiner == "or" else and_(result, not_(other))
            )  # fmt: skip
        parts.append(result)
    return and_(*parts)


def _nosql(grant: Grant, node: Any, budget: _Budget, depth: int) -> ColumnElement[bool]:
    if depth > MAX_DEPTH:
        raise _criteria(f"expressions nest at most {MAX_DEPTH} deep")
    if not isinstance(node, Mapping) or not node:
        raise _criteria("an expression is a non-empty object")
    parts: list[ColumnElement[bool]] = []
    for key, value in node.items():
        if key in ("$and", "$or"):
            if not isinstance(value, list) or not value:
                raise _criteria(f"{key} takes a non-empty list")
            children = [_nosql(grant, child, budget, depth + 1) for child in value]
            parts.append(and_(*children) if key == "$and" else or_(*children))
        elif key == "$not":
            parts.append(not_(_nosql(grant, value, budget, depth + 1)))
        elif isinstance(key, str) and key.startswith("$"):
            raise _filter(f"operator {key[:20]!r} is not one of $and $or $not $eq $lt $lte $gt $gte $in")
        else:
            tests = value if isinstance(value, Mapping) else {"$eq": value}
            if not tests:
                raise _criteria(f"attribute {str(key)[:60]!r}: no condition given")
            for op, operand in tests.items():
                operator = NOSQL_OPERATORS.get(op)
                if operator is None:
                    raise _filter(f"operator {str(op)[:20]!r} is not one of $eq $lt $lte $gt $gte $in")
                budget.spend()
                parts.append(condition(grant, key, operator, operand))
    return and_(*parts)


def compile_expression(grant: Grant, query: Any) -> tuple[ColumnElement[bool], str | None]:
    """The spec's NoSql expression as one condition, and the collection it names (if any)."""
    value = query.get("value") if isinstance(query, Mapping) else None
    expression = value.get("expression") if isinstance(value, Mapping) else None
    if not isinstance(expression, Mapping) or "query" not in expression:
        raise _criteria("an expression query is {type, value: {expression: {collection, query}}}")
    collection = expression.get("collection")
    if collection is not None and str(collection).lower() not in ENTITIES:
        raise _criteria(f"collection {str(collection)[:40]!r} is not supported: use Group or Member")
    return _nosql(grant, expression["query"], _Budget(), 1), collection


def _sort(grant: Grant, raw: Any) -> list[tuple[str, bool]]:
    if raw in (None, "", []):
        return []
    if not isinstance(raw, list) or len(raw) > 5:
        raise DciError("rjct.sort.invalid", "sort is a list of at most 5 {attribute_name, sort_order}")
    out: list[tuple[str, bool]] = []
    for entry in raw:
        name = entry.get("attribute_name") if isinstance(entry, Mapping) else None
        attribute = ATTRIBUTES.get(name) if isinstance(name, str) else None
        order = str(entry.get("sort_order") or "asc").lower() if isinstance(entry, Mapping) else ""
        if attribute is None or attribute.column is None or not (attribute.needs & grant.fields):
            raise DciError("rjct.sort.invalid", f"cannot sort by {str(name)[:60]!r}")
        if order not in ("asc", "desc"):
            raise DciError("rjct.sort.invalid", "sort_order is asc or desc")
        out.append((attribute.column, order == "desc"))
    return out


def _page(raw: Any, max_page_size: int) -> tuple[int, int, bool]:
    if raw in (None, ""):
        return DEFAULT_PAGE_SIZE, 1, False
    if not isinstance(raw, Mapping):
        raise DciError("rjct.pagination.invalid", "pagination is {page_size, page_number}")

    def whole(value: Any, default: int | None) -> int:
        if value in (None, "") and default is not None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise DciError("rjct.pagination.invalid", "page_size and page_number are whole numbers")
        try:
            number = float(value)
        except ValueError:
            raise DciError("rjct.pagination.invalid", "page_size and page_number are whole numbers") from None
        if not number.is_integer():
            raise DciError("rjct.pagination.invalid", "page_size and page_number are whole numbers")
        return int(number)

    size, number = whole(raw.get("page_size"), None), whole(raw.get("page_number"), 1)
    if not 1 <= size <= max_page_size:
        raise DciError("rjct.pagination.invalid", f"page_size must be 1 to {max_page_size}")
    if not 1 <= number <= 1_000_000:
        raise DciError("rjct.pagination.invalid", "page_number starts at 1")
    return size, number, True


def plan(grant: Grant, index: int, item: Mapping[str, Any], *, max_page_size: int) -> Plan:
    """Parse one ``search_request`` item (raises DciError with a ``rjct.*`` search code)."""
    result = Plan(index, item)
    criteria = item.get("search_criteria") if isinstance(item, Mapping) else None
    if not isinstance(criteria, Mapping):
        raise _criteria("search_criteria is required")
    query_type, query = criteria.get("query_type"), criteria.get("query")
    collection: str | None = None
    if query_type == "idtype-value":
        if not isinstance(query, Mapping):
            raise _criteria("an idtype-value query is {type, value}")
        kind = str(query.get("type") or "").upper()
        value = query.get("value")
        value = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
        if kind in NIK_TYPES:
            result.id_kind, needed = "nik", "nik"
        elif kind in KK_TYPES:
            result.id_kind, needed = "kk", "no_kk"
        else:
            raise _criteria(f"identifier type {kind[:20]!r} is not supported: use NIK or KK")
        if grant.level != "byname" or needed not in grant.fields:
            raise _filter(f"searching by {kind} is not allowed by access request {grant.nomor}")
        if not isinstance(value, str) or not _DIGITS16.match(value):
            raise _criteria(f"{kind}: 16 digits")
        result.id_value = value
    elif query_type in ("predicate", "expression") and isinstance(query, list):
        result.condition = compile_predicate(grant, query)
    elif query_type == "expression":
        result.condition, collection = compile_expression(grant, query)
    elif query_type == "predicate":
        raise _criteria("a predicate query is a list of {expression1, condition, expression2}")
    else:
        raise _criteria(
            f"query_type {str(query_type)[:40]!r} is not one of idtype-value, expression, predicate"
        )
    result.entity = _entity(criteria, collection)
    result.sort = _sort(grant, criteria.get("sort"))
    result.page_size, result.page_number, result.paginated = _page(criteria.get("pagination"), max_page_size)
    return result


# -- the queries -------------------------------------------------------------------------------------------
def _grant_principal(principal: Principal, grant: Grant) -> Principal:
    """The grant's regions as a principal, so :func:`apply_scope` applies them like the client's own."""
    return Principal(
        kind=principal.kind, name=principal.name, role=Role.KLIEN_INSTANSI, regions=grant.regions
    )


def _scoped(statement: Select[Any], scopes: Sequence[Principal], table: Any) -> Select[Any]:
    for scope in scopes:
        statement = apply_scope(statement, scope, table)
    return statement


def _chunks(session: Session, values: Sequence[str]) -> Iterator[Sequence[str]]:
    size = _PG_CHUNK if _postgresql(session) else _SQLITE_CHUNK
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _member_of(session: Session, column: Any, values: Sequence[str]) -> ColumnElement[bool]:
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


def _run_filter(session: Session, plan_: Plan, snapshot_id: int, scopes: Sequence[Principal]) -> None:
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
    joined = PERSON.join(FAMILY, and_(FAMILY.c.snapshot_id == PERSON.c.snapshot_id,
                                      FAMILY.c.id_keluarga_dtsen == PERSON.c.id_keluarga_dtsen))  # fmt: skip
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
class _Rows:
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
def _family_query(dialect: str, by: str, programs: tuple[str, ...], atribut: bool,
                  scopes: tuple[Principal, ...]) -> Select[Any]:  # fmt: skip
    """Families (scoped) with their members and program decisions, by family id, by a member's NIK (the
    person scoped on their own region) or by KK, with ``:snapshot_id`` and ``:values`` bound. Built once
    per shape: a search by NIK is the busiest call, and building and keying this statement each time cost
    more than running it."""
    snapshot_id = bindparam("snapshot_id")
    decisions = [
        select(ELIGIBILITY.c.layak)
        .where(ELIGIBILITY.c.snapshot_id == FAMILY.c.snapshot_id,
               ELIGIBILITY.c.id_keluarga_dtsen == FAMILY.c.id_keluarga_dtsen, ELIGIBILITY.c.program == code)
        .scalar_subquery().label(f"e_{number}")
        for number, code in enumerate(programs)
    ]  # fmt: skip
    joined = FAMILY.outerjoin(PERSON, and_(PERSON.c.snapshot_id == FAMILY.c.snapshot_id,
                                           PERSON.c.id_keluarga_dtsen == FAMILY.c.id_keluarga_dtsen))  # fmt: skip
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


def _load(session: Session, grant: Grant, snapshot_id: int, scopes: tuple[Principal, ...], *,
          family_ids: Iterable[str] = (), person_ids: Iterable[str] = (), niks: Sequence[str] = (),
          kks: Sequence[str] = ()) -> _Rows:  # fmt: skip
    """Families (scoped) with their members and approved program decisions in one query a kind (family
    columns repeated on each member row), then any person asked for by id whose family is out of scope."""
    rows = _Rows()
    atribut = _needs_atribut(grant)
    person_columns = _person_columns(atribut)
    programs = tuple(grant.programs)
    dialect = session.get_bind().dialect.name
    for by, values in (("family", family_ids), ("nik", niks), ("kk", kks)):
        statement = None
        for chunk in _chunks(session, sorted(set(values))):
            statement = (
                statement if statement is not None else _family_query(dialect, by, programs, atribut, scopes)
            )
            for row in session.execute(statement, {"snapshot_id": snapshot_id, "values": list(chunk)}):
                _take(rows, row._mapping, person_columns, programs)
    missing = sorted(set(person_ids) - set(rows.persons))
    for chunk in _chunks(session, missing):  # persons without a family in scope are not served as members
        statement = select(*person_columns).where(
            PERSON.c.snapshot_id == snapshot_id, _member_of(session, PERSON.c.id_dtsen, chunk)
        )
        for found in session.execute(_scoped(statement, scopes, PERSON)):
            rows.persons[found.id_dtsen] = _person(dict(found._mapping), None)
    return rows


def _persons_by_nik(session: Session, grant: Grant, snapshot_id: int, scopes: Sequence[Principal],
                    niks: Sequence[str]) -> dict[str, dict[str, Any]]:  # fmt: skip
    """Persons by NIK scoped on their own region (for those no family in scope brought along)."""
    columns = [PERSON.c[c] for c in PERSON_COLUMNS]
    if _needs_atribut(grant):
        columns.append(PERSON.c.atribut)
    found: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(session, list(niks)):
        statement = select(*columns).where(
            PERSON.c.snapshot_id == snapshot_id, _member_of(session, PERSON.c.nik, chunk)
        )
        for row in session.execute(_scoped(statement, scopes, PERSON)):
            found[row.id_dtsen] = _person(dict(row._mapping), None)
    return found


def _take(
    rows: _Rows, values: Mapping[str, Any], person_columns: Sequence[Any], programs: Sequence[str]
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
) -> list[dict[str, Any]]:
    """Answer a batch of ``search_request`` items in order, batched (see the module docstring).

    An item with bad criteria gets its own ``rjct`` answer (the others are still answered); a grant that
    cannot search records (aggregate level) raises ``err.request.forbidden`` (403) for the whole call,
    and no served snapshot raises ``err.service.unavailable`` (503). Audit entries join the caller's
    transaction.
    """
    if grant.level not in ("byname", "deidentified"):
        raise DciError(
            "err.request.forbidden", f"access request {grant.nomor} is aggregate: no record search", 403
        )
    snapshot = session.execute(select(SNAPSHOT.c.id, SNAPSHOT.c.ref, SNAPSHOT.c.created_at)
                               .where(SNAPSHOT.c.is_current)).one_or_none()  # fmt: skip
    if snapshot is None:
        raise DciError("err.service.unavailable", "no registry snapshot is served yet", 503)
    limit = max_page_size or _max_page_size()
    scopes = (principal, _grant_principal(principal, grant))
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
            _run_filter(session, p, snapshot.id, scopes)
            (family_ids if p.entity == "Group" else person_ids).update(p.ids)
            family_ids.update(p.families)
    rows = _load(session, grant, snapshot.id, scopes, family_ids=family_ids, person_ids=person_ids, niks=niks,
                 kks=kks)  # fmt: skip
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
        for person_id, person in _persons_by_nik(session, grant, snapshot.id, scopes, unfound).items():
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
            ids = ([h["id_keluarga_dtsen"] for h in hits if h["id_keluarga_dtsen"] in rows.families]
                   if p.entity == "Group" else [h["id_dtsen"] for h in hits])  # fmt: skip
            ids = _page_of(p, list(dict.fromkeys(ids)))
        elif p.id_kind == "kk":
            families = [f for f in by_kk.get(p.id_value or "", []) if f in rows.families]
            ids = (families if p.entity == "Group"
                   else [m["id_dtsen"] for f in families for m in rows.members.get(f, [])])  # fmt: skip
            ids = _page_of(p, ids)
        else:
            ids = p.ids
        if not p.paginated and p.total > DEFAULT_PAGE_SIZE:
            answers[p.index] = rejected(p.item, DciError(
                "rjct.search.too_many_records_found",
                f"{p.total} records found: ask for them page by page (pagination.page_size up to {limit})",
            ), now=now)  # fmt: skip
            continue
        found: list[dict[str, Any]] = []
        if p.entity == "Group":
            for family_id in ids:
                family = rows.families.get(family_id)
                if family is None:
                    continue
                members = rows.members.get(family_id, [])
                read.update((m["id_dtsen"], m) for m in members)
                found.append(records.group(view, family, members, rows.eligible.get(family_id, {}),
                                           base=RECORD_BASE, updated=updated))  # fmt: skip
        else:
            for person_id in ids:
                person = rows.persons.get(person_id)
                if person is None:
                    continue
                family = rows.families.get(person["id_keluarga_dtsen"] or "")
                read[person_id] = person
                found.append(records.member_record(
                    view, person, family, rows.eligible.get(person["id_keluarga_dtsen"] or "", {}),
                    base=RECORD_BASE,
                ))  # fmt: skip
        answers[p.index] = _answer(p, found, now=now)

    _audit(session, principal, grant, snapshot.ref, read.values(), now=now)
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


def _audit(session: Session, principal: Principal, grant: Grant, ref: str,
           people: Iterable[Mapping[str, Any]], *, now: datetime) -> None:  # fmt: skip
    """One ``read`` entry per person returned (keyed by NIK; none when nobody was returned)."""
    detail = _detail(grant, ref)
    actor = principal.audit_fields()
    key = _subject_key()
    fields = [
        dict(
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
    if len(fields) <= 2:  # one round trip each (PostgreSQL's audit_append) beats the three of a batch
        for one in fields:
            audit.record(session, **one)
        return
    audit.record_many(session, [audit.entry(**one) for one in fields])


def _audit_denied(session: Session, principal: Principal, grant: Grant, snapshot: Any, niks: list[str],
                  *, now: datetime) -> None:  # fmt: skip
    """``read_denied`` for NIKs that exist in the snapshot but outside the client's or grant's regions."""
    hidden: list[tuple[str, str | None]] = []
    for chunk in _chunks(session, niks):
        hidden += [
            (row.nik, row.kode_desa)
            for row in session.execute(
                select(PERSON.c.nik, PERSON.c.kode_desa).where(
                    PERSON.c.snapshot_id == snapshot.id, _member_of(session, PERSON.c.nik, chunk)
                )
            )
        ]
    detail = _detail(grant, snapshot.ref)
    actor = principal.audit_fields()
    audit.record_many(session, [
        audit.entry(**actor, action="read_denied", resource="dci_search", nik=nik, region_kode=kode or None,
                    purpose=PURPOSE, detail=detail, occurred_at=now)
        for nik, kode in dict(hidden).items()
    ])  # fmt: skip
