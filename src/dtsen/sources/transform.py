"""Staged text table + mapping -> canonical rows with findings, as one Ibis expression.

The same expression runs on DuckDB and on Spark (the engine layer compiles it), so every rule is
written null-safely (``coalesce``) and with functions both engines share: regular expressions,
``try_cast``, substrings, ``isin`` against small reference tables, a left join against a larger one
(a field's :class:`~dtsen.sources.fields.Lookup`, e.g. the region-name gazetteer). Each finding is a
``severity|code|field`` string in ``_findings``; errors send a row to quarantine, warnings travel with
it in ``flags``. The NIK rules mirror :mod:`dtsen.reference.nik` exactly (a test checks both agree).

What a field contributes to each pass is its kind's business (:mod:`dtsen.sources.fields`, one class per
mapping ``type``); the checks across fields are data (``cross_checks.yaml``). This module runs the
passes: it aligns the kinds' steps into named steps of one query and builds the canonical row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import Any

import ibis
import ibis.expr.types as ir

from dtsen.canonical import ENTITIES, DType
from dtsen.sources.cross_checks import builtin_cross_checks
from dtsen.sources.fields import (
    NULL_STR,
    REGION_WIDTHS,
    BoolField,
    CodeField,
    Context,
    DateField,
    FieldKind,
    Finding,
    Lookup,
    NumberField,
    RegionField,
    Stage,
    TextField,
    parse_date,
    strip,
)
from dtsen.sources.gazetteer import RegionAddressField, RegionNameField
from dtsen.sources.identifiers import IdentifierField
from dtsen.sources.mapping import Mapping
from dtsen.sources.names import NameField

__all__ = ["KINDS", "Context", "FieldBuilder", "Finding", "conform", "derive", "flags_of", "prepare", "text"]

KEY_FIELDS = frozenset({"id_keluarga", "id_anggota"})
# The field kinds: mapping ``type`` -> the class that compiles it. A new kind is a class and an entry here.
KINDS: dict[str, type[FieldKind]] = {
    kind: cls
    for cls in (
        TextField,
        IdentifierField,
        NameField,
        DateField,
        RegionField,
        RegionNameField,
        RegionAddressField,
        CodeField,
        BoolField,
        NumberField,
    )
    for kind in cls.types
}


def _let(t: ir.Table, **columns: ir.Value) -> ir.Table:
    """``t`` with ``columns`` added as a named step of the query: later expressions read the column
    instead of repeating its computation (Ibis would otherwise inline it into every reference)."""
    return t.mutate(**columns).view()


def _run_steps(t: ir.Table, fields: list[list[Stage]], drop: set[str]) -> ir.Table:
    """One pass: the n-th-from-last steps of all fields as one named step (the last steps end
    together, in the pass's projection). The projection keeps ``t``'s columns but ``drop`` and adds
    what the last steps give; what earlier steps give is read by later steps only."""
    depth = max((len(steps) for steps in fields), default=0)
    s = t
    out: dict[str, ir.Value] = {}
    for i in range(depth):
        columns: dict[str, ir.Value] = {}
        for steps in fields:
            j = i - (depth - len(steps))
            if j >= 0:
                columns.update(steps[j](s))
        if i < depth - 1:
            s = _let(s, **columns) if columns else s
        else:
            out = columns
    return s.select(**{**{c: s[c] for c in t.columns if c not in drop}, **out})


def _joined(t: ir.Table, lookup: Lookup) -> ir.Table:
    """``t`` left-joined with a field's reference table on its key: ``t``'s rows, each once (the
    reference key is unique), with the reference's value columns."""
    ref = lookup.table
    key, *values = ref.columns
    joined = t.left_join(ref, t[lookup.key] == ref[key])
    return joined.select(*t.columns, *values).view()


class FieldBuilder:
    """The mapping compiled once: one :class:`~dtsen.sources.fields.FieldKind` per mapped field (in the
    mapping's order, which is the order of the findings), run pass by pass."""

    def __init__(self, mapping: Mapping, ctx: Context) -> None:
        self.m = mapping
        self.ctx = ctx
        entity = ENTITIES[mapping.entity]
        self.fields: list[FieldKind] = [
            KINDS[fm.type](name, fm, entity, ctx) for name, fm in mapping.fields.items()
        ]

    def text(self, t: ir.Table) -> dict[str, ir.Value]:
        """Pass 1: each mapped source value trimmed, with the usual spellings of 'nothing' as null."""
        out: dict[str, ir.Value] = {"_baris": t._baris}
        for f in self.fields:
            out.update(f.text(t))
        for i, col in enumerate(self.m.record_columns):
            out[f"_record_{i}"] = strip(t[col])
        if isinstance(self.m.observed, str):
            out["_observed"] = strip(t[self.m.observed])
        return out

    def prepare(self, t: ir.Table) -> ir.Table:
        """Pass 2: parse each value from the pass-1 text (plain column references, no re-expansion)."""
        drop = {c for f in self.fields for c in f.dropped()}
        return _run_steps(t, [f.prepare() for f in self.fields], drop)

    def derive(self, p: ir.Table) -> ir.Table:
        """Pass 3: the fields' reference tables joined (:class:`~dtsen.sources.fields.Lookup`), then
        per-field intermediate results (lookups, decoded dates, cleaned names) as columns."""
        for f in self.fields:
            for lookup in f.lookups():
                p = _joined(p, lookup)
        return _run_steps(p, [f.derive() for f in self.fields], set())

    def check(self, p: ir.Table) -> tuple[dict[str, ir.Value], list[Finding]]:
        """Pass 4: the canonical values and every finding (field by field, then across fields)."""
        values: dict[str, ir.Value] = {}
        for f in self.fields:
            f.findings.clear()
            values.update(f.check(p))
            f.read_findings(p)
        findings = [finding for f in self.fields for finding in f.findings]
        findings += [finding for f in self.fields for finding in f.cross_check(values)]
        for check in builtin_cross_checks():
            if check.applies(values):
                findings.append(Finding(check.condition(values), check.severity, check.code, check.field))
        return values, findings


def text(t: ir.Table, mapping: Mapping, ctx: Context) -> ir.Table:
    """Pass 1 (materialize before pass 2, or name it with ``.view()``)."""
    return t.select(**FieldBuilder(mapping, ctx).text(t))


def prepare(t: ir.Table, mapping: Mapping, ctx: Context) -> ir.Table:
    """Pass 2, on a :func:`text` table (materialize before pass 3)."""
    return FieldBuilder(mapping, ctx).prepare(t)


def derive(t: ir.Table, mapping: Mapping, ctx: Context) -> ir.Table:
    """Pass 3, on a materialized :func:`prepare` table (materialize before :func:`conform`)."""
    return FieldBuilder(mapping, ctx).derive(t)


def conform(t: ir.Table, mapping: Mapping, ctx: Context) -> ir.Table:
    """Pass 4, on a materialized :func:`derive` table: the canonical table (typed per the entity) with
    ``flags`` (the warning codes), ``_findings`` (``severity|code|field``), ``_error`` (some finding is
    an error: the row goes to quarantine) and ``_baris_sumber``; nothing is filtered out here."""
    # every finding's condition and every value is a named step (a column), computed once for the
    # arrays and the canonical columns below
    values, found = FieldBuilder(mapping, ctx).check(t)
    t = _let(
        t,
        **{f"_c{i}": f.when() for i, f in enumerate(found)},
        **{f"_v_{name}": value for name, value in values.items()},
    )
    values = {name: t[f"_v_{name}"] for name in values}
    found = [replace(f, cond=t[f"_c{i}"]) for i, f in enumerate(found)]
    entity = ENTITIES[mapping.entity]
    cols: dict[str, ir.Value] = {}
    record = None
    if mapping.record_columns:
        record = t["_record_0"]
        for i in range(1, len(mapping.record_columns)):
            record = record + "-" + t[f"_record_{i}"]
    # a level the mapping does not give: the prefix of the most specific code given below it (a
    # kecamatan's code gives its kabupaten and province)
    given = [name for name in REGION_WIDTHS if name in values]
    for f in entity.fields:
        if f.name in KEY_FIELDS and f.name in values:  # record keys are made unique across sources
            cols[f.name] = ibis.literal(f"{mapping.source}:") + values[f.name].cast("string")
        elif f.name in values:
            cols[f.name] = _typed(values[f.name], f.storage)
        elif f.name in REGION_WIDTHS and any(REGION_WIDTHS[g] > REGION_WIDTHS[f.name] for g in given):
            below = [values[g] for g in given if REGION_WIDTHS[g] > REGION_WIDTHS[f.name]]
            location = below[0] if len(below) == 1 else ibis.coalesce(*below)
            cols[f.name] = location.substr(0, REGION_WIDTHS[f.name])
        elif f.name in entity.key:
            suffix = (
                record
                if record is not None
                else (ibis.literal(f"{ctx.batch_id}:{ctx.berkas}:") + t._baris.cast("string"))
            )
            cols[f.name] = ibis.literal(f"{mapping.source}:") + suffix
        elif f.name == "sumber":
            cols[f.name] = ibis.literal(mapping.source)
        elif f.name == "batch_id":
            cols[f.name] = ibis.literal(ctx.batch_id)
        elif f.name == "berkas":
            cols[f.name] = ibis.literal(ctx.berkas)
        elif f.name == "baris":
            cols[f.name] = t._baris
        elif f.name == "tanggal_data":
            cols[f.name] = _observed(t, mapping, ctx)
        elif f.name == "flags":
            continue
        else:
            cols[f.name] = ibis.null(_ibis_type(f.storage))
    # typed in the SQL as well (a bare [] is a list of NULL type to DuckDB's own Parquet writer)
    empty = ibis.coalesce(ibis.null("array<string>"), ibis.literal([], type="array<string>"))

    def listed(found: list[Finding], item: Callable[[Finding], ir.StringValue]) -> tuple[Any, Any]:
        """(some finding holds, the array of ``item`` of those that hold). Most rows have none: for
        them the array is the empty literal, not fifty nulls built and filtered away."""
        if not found:
            return ibis.literal(False), empty
        some = found[0].when()
        for f in found[1:]:
            some = some | f.when()
        items = ibis.array([ibis.ifelse(f.when(), item(f), NULL_STR) for f in found])
        return some, ibis.ifelse(some, items.filter(lambda x: x.notnull()), empty)

    _, findings = listed(found, lambda f: ibis.literal(f"{f.severity}|{f.code}|{f.field}"))
    # flags straight from the conditions (no second pass over the findings strings), in findings order
    _, flags = listed([f for f in found if f.severity == "warning"], lambda f: ibis.literal(f.code))
    error, _ = listed([f for f in found if f.severity == "error"], lambda f: ibis.literal(f.code))
    return t.select(**cols, flags=flags, _findings=findings, _error=error, _baris_sumber=t._baris)


def flags_of(findings: ir.ArrayValue) -> ir.ArrayValue:
    """The warning codes of a findings array: the canonical ``flags`` column."""
    return findings.filter(lambda x: x.startswith("warning|")).map(lambda x: x.split("|")[1])


def _observed(t: ir.Table, mapping: Mapping, ctx: Context) -> ir.DateValue:
    if isinstance(mapping.observed, date):
        return ibis.literal(mapping.observed)
    if isinstance(mapping.observed, str):
        # an ISO date only (a plain cast reads 'infinity' on DuckDB, '2023' or '2023-06-30 junk' on Spark)
        return ibis.coalesce(parse_date(t["_observed"], "%Y-%m-%d"), ibis.literal(ctx.landed))
    return ibis.literal(ctx.landed)


_IBIS_TYPES = {
    DType.STRING: "string",
    DType.BOOL: "boolean",
    DType.INT8: "int8",
    DType.INT16: "int16",
    DType.INT32: "int32",
    DType.INT64: "int64",
    DType.FLOAT64: "float64",
    DType.MONEY: "int64",
    DType.DATE: "date",
    DType.STRING_LIST: "array<string>",
}


def _ibis_type(dtype: DType) -> str:
    return _IBIS_TYPES[dtype]


def _typed(value: ir.Value, dtype: DType) -> ir.Value:
    target = _ibis_type(dtype)
    if dtype in (DType.STRING_LIST,):
        return value
    return value.cast(target)
