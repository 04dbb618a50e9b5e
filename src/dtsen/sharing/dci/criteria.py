"""DCI search criteria: one ``search_request`` item parsed and checked against the client's grant into a
:class:`Plan` (what to find, which entity, which page), or refused with the spec's ``rjct.*`` code.
:mod:`dtsen.sharing.dci.search` runs the plans.

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
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, not_, or_, select

from dtsen.sharing.dci.errors import DciError
from dtsen.sharing.dci.grant import Grant
from dtsen.store.registry import ELIGIBILITY, FAMILY

DEFAULT_PAGE_SIZE = 100
MAX_CONDITIONS = 64  # attribute conditions in one query
MAX_DEPTH = 8  # nesting of $and/$or/$not
NIK_TYPES = frozenset({"NIK", "NID"})
KK_TYPES = frozenset({"KK", "NO_KK"})
ENTITIES = {"group": "Group", "household": "Group", "member": "Member"}
_DIGITS16 = re.compile(r"^\d{16}$")
_PROGRAM = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


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
    compare = {
        "eq": column.__eq__,
        "gt": column.__gt__,
        "lt": column.__lt__,
        "ge": column.__ge__,
        "le": column.__le__,
    }
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
                and_(result, other)
                if joiner == "and"
                else or_(result, other)
                if joiner == "or"
                else and_(result, not_(other))
            )
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
