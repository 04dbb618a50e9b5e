"""The field kinds of the mapping compiler: one class per mapping ``type``.

A kind says what one mapped field contributes to each pass of :mod:`dtsen.sources.transform`:

1. :meth:`~FieldKind.text`: the source value cleaned (trimmed, spellings of 'nothing' as null);
2. :meth:`~FieldKind.prepare`: the value parsed;
3. :meth:`~FieldKind.derive`: intermediate results several findings share (lookups, decoded dates),
   after the reference tables of :meth:`~FieldKind.lookups` are joined (a gazetteer of region names);
4. :meth:`~FieldKind.check`: the findings and the canonical value, from plain column references.

Passes 2 and 3 are lists of steps (functions of the table so far); the compiler runs the n-th step of
every field as one named step of the query, so a costly expression is computed once and read by name.
A field's columns between passes are named by :meth:`~FieldKind.col` (``nama__up``) and nowhere else.
Every rule is written null-safely and with functions DuckDB and Spark share. Adding a kind is one class
here (or in a module of its own: :mod:`~dtsen.sources.identifiers`, :mod:`~dtsen.sources.names`) and
one entry in :data:`dtsen.sources.transform.KINDS`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import ClassVar

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from dtsen.canonical import DType
from dtsen.canonical.model import Entity, all_code_lists
from dtsen.reference.codes import CodeList
from dtsen.sources.mapping import FieldMap

NULL_STR = ibis.null("string")
INT_TEXT = r"^([+-]?[0-9]+)(?:\.0)?$"  # an integer, or one written by a float column (12.0)
DIGITS = r"^[0-9]+$"
INT_RE = r"^[+-]?[0-9]+$"
FLOAT_RE = r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
STORAGE_LIMITS = {DType.INT8: 2**7 - 1, DType.INT16: 2**15 - 1, DType.INT32: 2**31 - 1}
REGION_WIDTHS = {"kode_desa": 10, "kode_kec": 6, "kode_kab": 4, "kode_prov": 2}
# Dates where 1 January is often an unknown date entered as a default (warning <field>_default_0101).
DEFAULT_DATE_SUSPECT = frozenset({"tanggal_lahir"})

Stage = Callable[[ir.Table], dict[str, ir.Value]]


@dataclass
class Context:
    """What a transform needs besides the staged table: batch facts and reference tables."""

    batch_id: str
    berkas: str
    landed: date
    prefixes: ir.Table  # column kode: every valid 6-digit NIK/KK prefix and its 2- and 4-digit heads
    regions: ir.Table  # column kode: every region code (2, 4, 6, 10 digits)
    prefix_codes: frozenset[str] = frozenset()  # the 6-digit prefixes: their heads as IN lists (NIK/KK)
    today: date = field(default_factory=date.today)
    # a small Arrow table as a table of the batch's engine (a gazetteer to join); ibis.memtable for DuckDB
    memtable: Callable[[pa.Table], ir.Table] = field(default_factory=lambda: ibis.memtable)


@dataclass(frozen=True)
class Finding:
    cond: ir.BooleanValue
    severity: str
    code: str
    field: str

    def when(self) -> ir.BooleanValue:
        return self.cond.fill_null(False)


@dataclass(frozen=True)
class Lookup:
    """A reference table a field joins to the table before pass 3 (a left join, so every row stays):
    ``table``'s first column, unique, matches the column ``key``; its other columns (named by the
    field's :meth:`FieldKind.col`) are added to the row, null where nothing matches. A lookup over tens
    of thousands of entries (the village gazetteer) is a join the engine runs, not an expression."""

    key: str
    table: ir.Table


# -- expression helpers --------------------------------------------------------------------------------
def strip(v: ir.StringValue) -> ir.StringValue:
    """``v.strip()``, run only where an end of the value is whitespace (or another character <= U+0020):
    trimming every value costs several times more than looking at its two ends."""
    edge = (v.ascii_str() <= 32) | (v.right(1).ascii_str() <= 32)
    return ibis.ifelse(edge.fill_null(False), v.strip(), v)


def _int(v: ir.StringValue) -> ir.IntegerValue:
    """Plain decimal integer text (or the same with the ``.0`` a float column adds) as int64, else null:
    one regular expression instead of a replace, a match and a second replace."""
    return v.re_extract(INT_TEXT, 1).try_cast("int64")


def _digits(v: ir.StringValue, junk: str) -> ir.StringValue:
    """A code with ``.0`` and the ``junk`` characters removed; plain digits (nearly all) skip both."""
    slow = v.re_replace(r"\.0$", "").re_replace(junk, "")
    return ibis.ifelse(v.re_search(DIGITS).fill_null(False), v, slow)


def _number(v: ir.StringValue, target: str) -> ir.NumericValue:
    """``try_cast`` of plain decimal text only: the engines differ on the rest (DuckDB rounds '12.5' to
    13 and reads '1_000', '0x10' and 'inf'; Spark reads '12d' as a double and refuses '12.0' as an int)."""
    pattern = INT_RE if target.startswith("int") else FLOAT_RE
    return ibis.ifelse(v.re_search(pattern).fill_null(False), v, NULL_STR).try_cast(target)


def _label_lookup(code_list: type[CodeList]) -> dict[str, int]:
    out: dict[str, int] = {}
    for m in code_list:
        for key in (m.label, m.label_en, m.name, m.name.replace("_", " "), str(int(m))):
            out.setdefault(key.upper(), int(m))
    return out


def one_column(name: str, fm: FieldMap) -> None:
    """Refuse a 'from' list where one column is read (it would otherwise be cut to its first)."""
    if len(fm.columns) > 1:
        raise ValueError(
            f"field {name!r}: 'from' lists {len(fm.columns)} columns ({', '.join(fm.columns)}) but a "
            f"{fm.type} field reads one; name one column (several are read by a region with 'pad', "
            "a date with 'parts', a string with 'join' and a region_name)"
        )


# -- the kinds ----------------------------------------------------------------------------------------
class FieldKind:
    """One mapped field of one kind (the base of every kind). The defaults are those of plain text:
    the cleaned source value, and ``<field>_missing`` when a required field is empty."""

    types: ClassVar[tuple[str, ...]] = ()  # the mapping ``type`` values this kind compiles
    # whether a 'from' list is read whole (a region from padded parts, a date from parts); any other
    # kind reads one column, and a list is refused when the mapping is loaded, never cut to its first
    several_columns: ClassVar[bool] = False

    def __init__(self, name: str, fm: FieldMap, entity: Entity, ctx: Context) -> None:
        self.name, self.fm, self.entity, self.ctx = name, fm, entity, ctx
        self.findings: list[Finding] = []

    @classmethod
    def validate(cls, name: str, fm: FieldMap, entity: Entity) -> None:
        """Refuse a declaration this kind cannot compile (a ValueError naming the field)."""
        if not cls.several_columns:
            one_column(name, fm)
        if fm.pad is not None:
            raise ValueError(f"field {name!r}: pad is for region and string fields")

    def col(self, slot: str) -> str:
        """The column holding one intermediate result of this field between passes."""
        return f"{self.name}__{slot}"

    @property
    def severity(self) -> str:
        """A required field's problems quarantine the row; any other field's are warnings."""
        return "error" if self.fm.required else "warning"

    def flag(self, cond: ir.BooleanValue, code: str, severity: str | None = None) -> None:
        self.findings.append(Finding(cond, severity or self.severity, code, self.name))

    # -- pass 1: clean ---------------------------------------------------------------------------------
    def text(self, t: ir.Table) -> dict[str, ir.Value]:
        if self.fm.constant is not None:
            return {self.col("raw"): ibis.literal(str(self.fm.constant))}
        return {**self.source_text(t), **self.source_findings(t)}

    def source_text(self, t: ir.Table) -> dict[str, ir.Value]:
        return {self.col("raw"): self.clean(self.source(t, self.fm.columns[0]))}

    def source(self, t: ir.Table, column: str) -> ir.StringValue:
        """A source column as the kind reads it: the group of the mapping's ``extract`` where it has one
        (no match: empty, which :meth:`clean` makes null), else the column."""
        value = t[column]
        return value if self.fm.extract is None else value.re_extract(self.fm.extract, 1)

    def source_findings(self, t: ir.Table) -> dict[str, ir.Value]:
        """Pass-1 facts about reading the source that every kind shares: ``extract`` found nothing in
        a value that is not blank."""
        if self.fm.extract is None:
            return {}
        value = t[self.fm.columns[0]]
        blank = value.re_search(r"^\s*$").fill_null(True)
        return {self.col("nomatch"): ~blank & ~value.re_search(self.fm.extract).fill_null(False)}

    def clean(self, x: ir.StringValue) -> ir.StringValue:
        """Trimmed, ``remove`` characters deleted, the usual spellings of 'nothing' (and the mapping's
        ``null_values``) as null."""
        fm = self.fm
        nothing = ["", "NULL", "NAN", "NONE", *(v.strip().upper() for v in fm.null_values)]
        longest = max(len(v) for v in nothing)

        def nulled(v: ir.StringValue) -> ir.StringValue:
            if fm.remove:  # e.g. spaces inside a plate number; escape only what is special in [...]
                chars = "".join("\\" + c if c in "\\[]^-" else c for c in fm.remove)
                v = v.re_replace(f"[{chars}]", "")
            # upper() can only lengthen a text, so a longer one is no 'nothing' token
            return ibis.ifelse((v.length() <= longest) & v.upper().isin(nothing), NULL_STR, v)

        edge = ((x.ascii_str() <= 32) | (x.right(1).ascii_str() <= 32)).fill_null(False)
        return ibis.ifelse(edge, nulled(x.strip()), nulled(x))

    # -- passes 2 and 3: steps -------------------------------------------------------------------------
    def dropped(self) -> list[str]:
        """Pass-1 columns the prepare pass consumes and does not pass on."""
        return []

    def prepare(self) -> list[Stage]:
        return []

    def lookups(self) -> list[Lookup]:
        """Reference tables joined to the table after pass 2, before the derive steps read them."""
        return []

    def derive(self) -> list[Stage]:
        return []

    # -- pass 4: findings and values -------------------------------------------------------------------
    def check(self, p: ir.Table) -> dict[str, ir.Value]:
        """The canonical value(s) this field gives; findings go to :attr:`findings`."""
        v = p[self.col("raw")]
        if self.fm.required:
            self.flag(v.isnull(), f"{self.name}_missing", "error")
        return {self.name: v}

    def read_findings(self, p: ir.Table) -> None:
        """The findings of :meth:`source_findings`, after the kind's own (``<field>_no_match``: a
        warning, as the value is then null and a required field's ``_missing`` is the error)."""
        if self.fm.extract is not None and self.fm.constant is None:
            self.flag(p[self.col("nomatch")], f"{self.name}_no_match", "warning")

    def cross_check(self, values: dict[str, ir.Value]) -> list[Finding]:
        """Findings against other fields of the row (their values), once every field is checked."""
        return []


class TextField(FieldKind):
    """Text as written (``string``), optionally zero-padded to one width (RT 7 -> 007), or several
    columns joined with ``join`` (a key of building number and family number: ``12-3``)."""

    types = ("string",)

    @classmethod
    def validate(cls, name: str, fm: FieldMap, entity: Entity) -> None:
        if fm.join is not None:
            if len(fm.columns) < 2 or fm.pad is not None:
                raise ValueError(
                    f"field {name!r}: join joins a 'from' list of two or more columns (and pads none)"
                )
            return
        one_column(name, fm)
        if fm.pad is not None and (len(fm.pad) != 1 or len(fm.columns) != 1):
            raise ValueError(f"field {name!r}: a string pads one column to one width")

    def source_text(self, t: ir.Table) -> dict[str, ir.Value]:
        if self.fm.join is not None:  # every part or nothing: a key missing a part would collide
            parts = [self.clean(self.source(t, c)) for c in self.fm.columns]
            gap = parts[0].isnull()
            joined = parts[0]
            for part in parts[1:]:
                gap = gap | part.isnull()
                joined = joined + self.fm.join + part
            return {self.col("raw"): ibis.ifelse(gap, NULL_STR, joined), self.col("gap"): gap}
        value = self.clean(self.source(t, self.fm.columns[0]))
        if self.fm.pad:  # lpad alone would also cut longer values
            width = self.fm.pad[0]
            value = ibis.ifelse(value.length() < width, value.lpad(width, "0"), value)
        return {self.col("raw"): value}

    def check(self, p: ir.Table) -> dict[str, ir.Value]:
        if self.fm.join is None or self.fm.constant is not None:
            return super().check(p)
        self.flag(p[self.col("gap")], f"{self.name}_missing")
        return {self.name: p[self.col("raw")]}


def parse_date(v: ir.StringValue, fmt: str) -> ir.DateValue:
    """A strftime format of %d %m %Y (or %y) joined by one separator: one regular expression checks the
    shape (digits only: date casts differ, '2020-02-1T' and '+2020-01-01' are dates on Spark) and
    rewrites it as ISO year-month-day for ``try_cast``, which both engines read with 1- or 2-digit
    months and days. Engine-neutral, and cheaper than splitting the text into parts."""
    directives = re.findall(r"%([dmYy])", fmt)
    seps = set(re.sub(r"%[dmYy]", "\x00", fmt).replace("\x00", ""))
    if sorted(directives) not in (["Y", "d", "m"], ["d", "m", "y"]) or len(seps) != 1:
        raise ValueError(f"unsupported date format {fmt!r}: use %d, %m and %Y (or %y) with one separator")
    sep = re.escape(seps.pop())
    groups = {"d": "([0-9]{1,2})", "m": "([0-9]{1,2})", "Y": "([0-9]{4})", "y": "([0-9]{2})"}
    pattern = "^" + sep.join(groups[d] for d in directives) + "$"
    pos = {d: i + 1 for i, d in enumerate(directives)}
    year = pos.get("Y", pos.get("y"))
    iso = v.re_replace(pattern, f"\\{year}-\\{pos['m']}-\\{pos['d']}")
    if "y" in pos:
        yy = v.re_extract(pattern, pos["y"])
        iso = ibis.ifelse(yy.try_cast("int64") > date.today().year % 100, "19", "20") + iso
    return ibis.ifelse(v.re_search(pattern).fill_null(False), iso, NULL_STR).try_cast("date")


class DateField(FieldKind):
    """A date in the mapping's ``formats`` (else ISO), or an Excel serial day number, or from ``parts``
    in several columns (year, month, day; ``unknown`` codes such as 98); null in the future or before
    1900."""

    types = ("date",)
    several_columns = True

    @classmethod
    def validate(cls, name: str, fm: FieldMap, entity: Entity) -> None:
        if fm.pad is not None:
            raise ValueError(f"field {name!r}: pad is for region and string fields")
        if entity.field(name).dtype is not DType.DATE:
            raise ValueError(f"field {name!r} is not a date in {entity.name}")
        if fm.parts is None:
            one_column(name, fm)
            if fm.unknown or fm.impute_day is not None:
                raise ValueError(f"field {name!r}: unknown and impute_day are for a date from 'parts'")
            return
        if sorted(fm.parts) != ["day", "month", "year"] or len(fm.columns) != 3:
            raise ValueError(
                f"field {name!r}: parts names year, month and day once each, one per 'from' column "
                f"(from: {fm.columns or fm.constant!r}, parts: {fm.parts})"
            )
        if fm.formats:
            raise ValueError(f"field {name!r}: a date from parts has no formats")

    def source_text(self, t: ir.Table) -> dict[str, ir.Value]:
        if self.fm.parts is None:
            return super().source_text(t)
        return {
            self.col(part): self.clean(self.source(t, c))
            for part, c in zip(self.fm.parts, self.fm.columns, strict=True)
        }

    def dropped(self) -> list[str]:
        return [self.col(part) for part in self.fm.parts] if self.fm.parts else []

    def _from_parts(self, s: ir.Table) -> dict[str, ir.Value]:
        """year-month-day text from the parts for ``try_cast`` (both engines read 1- or 2-digit months
        and days); a part in ``unknown`` (or out of its range) is null. ``raw`` is what was written."""
        fm = self.fm
        written = {part: s[self.col(part)] for part in ("year", "month", "day")}
        numbers = {part: _int(text) for part, text in written.items()}
        unknown = {
            part: (numbers[part].isin(fm.unknown) if fm.unknown else ibis.literal(False)).fill_null(False)
            for part in numbers
        }
        ranges = {"year": (1000, 9999), "month": (1, 12), "day": (1, 31)}
        known = {
            part: ibis.ifelse(~unknown[part] & numbers[part].between(*ranges[part]), numbers[part], None)
            for part in numbers
        }
        day = known["day"]
        imputed = ibis.literal(False)
        if fm.impute_day is not None:  # only the day unknown: the configured day, flagged
            imputed = unknown["day"] & known["month"].notnull() & known["year"].notnull()
            day = ibis.ifelse(imputed, fm.impute_day, day)
        iso = known["year"].cast("string") + "-" + known["month"].cast("string") + "-" + day.cast("string")
        return {
            self.col("raw"): ibis.coalesce(written["year"], written["month"], written["day"]),
            self.col("val"): iso.try_cast("date"),
            self.col("partial"): (unknown["year"] | unknown["month"] | unknown["day"]) & ~imputed,
            self.col("imputed"): imputed,
        }

    def prepare(self) -> list[Stage]:
        if self.fm.parts is not None:
            return [self._from_parts]

        def parse(s: ir.Table) -> dict[str, ir.Value]:
            raw = s[self.col("raw")]
            candidates = [parse_date(raw, f) for f in (self.fm.formats or ["%Y-%m-%d"])]
            if self.fm.excel_serial:
                days = _int(raw)
                serial = raw.re_search(r"^\d{4,5}(?:\.0)?$").fill_null(False) & (days > 59)
                candidates.append(
                    ibis.ifelse(serial, ibis.date(1899, 12, 30) + days.as_interval("D"), ibis.null("date"))
                )
            return {self.col("val"): ibis.coalesce(*candidates)}

        return [parse]

    def derive(self) -> list[Stage]:
        def bounds(s: ir.Table) -> dict[str, ir.Value]:
            parsed = s[self.col("val")]
            return {
                self.col("future"): (parsed > ibis.literal(self.ctx.today)).fill_null(False),
                self.col("tooold"): (parsed < ibis.date(1900, 1, 1)).fill_null(False),
            }

        return [bounds]

    def check(self, p: ir.Table) -> dict[str, ir.Value]:
        v, parsed = p[self.col("raw")], p[self.col("val")]
        if self.fm.parts is not None:
            partial = p[self.col("partial")]
            self.flag(partial, f"{self.name}_partial", "warning")
            self.flag(p[self.col("imputed")] & parsed.notnull(), f"{self.name}_day_imputed", "warning")
            self.flag(v.notnull() & parsed.isnull() & ~partial, f"{self.name}_invalid")
        else:
            self.flag(v.notnull() & parsed.isnull(), f"{self.name}_invalid")
        if self.fm.required:
            self.flag(v.isnull(), f"{self.name}_missing", "error")
        future, too_old = p[self.col("future")], p[self.col("tooold")]
        self.flag(future, f"{self.name}_future")
        self.flag(too_old, f"{self.name}_too_old")
        if self.name in DEFAULT_DATE_SUSPECT:
            self.flag((parsed.day() == 1) & (parsed.month() == 1), f"{self.name}_default_0101", "warning")
        return {self.name: ibis.ifelse(future | too_old, ibis.null("date"), parsed)}


class RegionField(FieldKind):
    """A Kepmendagri region code: separators removed (or ``pad`` and join several columns); it must
    have the shape of its level and exist."""

    types = ("region",)
    several_columns = True

    @classmethod
    def validate(cls, name: str, fm: FieldMap, entity: Entity) -> None:
        if fm.pad is None and len(fm.columns) > 1:
            raise ValueError(
                f"field {name!r}: a region from several 'from' columns needs 'pad' (one width each)"
            )
        if fm.pad is not None and len(fm.pad) != len(fm.columns):
            raise ValueError(f"field {name!r}: pad needs one width per 'from' column")

    def source_text(self, t: ir.Table) -> dict[str, ir.Value]:
        if not self.fm.pad:
            return {self.col("raw"): self.clean(self.source(t, self.fm.columns[0]))}
        return {self.col(f"raw{i}"): self.clean(self.source(t, c)) for i, c in enumerate(self.fm.columns)}

    def dropped(self) -> list[str]:
        return [self.col(f"raw{i}") for i in range(len(self.fm.columns))] if self.fm.pad else []

    def prepare(self) -> list[Stage]:
        def parse(s: ir.Table) -> dict[str, ir.Value]:
            if not self.fm.pad:
                return {self.col("val"): _digits(s[self.col("raw")], r"[.\s\-]")}
            parts = [
                _digits(s[self.col(f"raw{i}")], r"[^0-9]").lpad(w, "0") for i, w in enumerate(self.fm.pad)
            ]
            code = parts[0]
            for part in parts[1:]:
                code = code + part
            return {self.col("val"): code}

        return [parse]

    def derive(self) -> list[Stage]:
        def shape(s: ir.Table) -> dict[str, ir.Value]:
            code = s[self.col("val")]
            expected = REGION_WIDTHS.get(self.name)
            length_ok = (code.length() == expected) if expected else code.length().isin([2, 4, 6, 10])
            return {
                self.col("shape"): code.re_search(r"^\d+$").fill_null(False) & length_ok.fill_null(False),
                self.col("exists"): code.isin(self.ctx.regions.kode).fill_null(False),
            }

        return [shape]

    def check(self, p: ir.Table) -> dict[str, ir.Value]:
        code, shape, exists = p[self.col("val")], p[self.col("shape")], p[self.col("exists")]
        self.flag(code.notnull() & ~shape, f"{self.name}_invalid")
        self.flag(shape & ~exists, f"{self.name}_unknown")
        if self.fm.required:
            self.flag(code.isnull(), f"{self.name}_missing", "error")
        return {self.name: ibis.ifelse(shape & exists, code, NULL_STR)}


class CodeField(FieldKind):
    """A code of the field's code list: through ``map``, a code list's ``labels``, or the numbers."""

    types = ("code",)

    @classmethod
    def validate(cls, name: str, fm: FieldMap, entity: Entity) -> None:
        super().validate(name, fm, entity)
        if fm.map is None and fm.labels is None and entity.field(name).code_list is None:
            raise ValueError(f"field {name!r}: type code needs 'map' or 'labels'")

    def prepare(self) -> list[Stage]:
        fm = self.fm

        def numbers(s: ir.Table) -> dict[str, ir.Value]:
            return {self.col("num"): _int(s[self.col("raw")])}

        def parse(s: ir.Table) -> dict[str, ir.Value]:
            raw = s[self.col("raw")]
            if fm.map is not None:
                lookup = {str(k).upper(): val for k, val in fm.map.items()}
                value = raw.upper().substitute(lookup, else_=ibis.null("int64"))  # type: ignore[arg-type]
                return {self.col("val"): value}
            if fm.labels is not None:
                labels = _label_lookup(all_code_lists()[fm.labels])
                value = raw.upper().substitute(labels, else_=ibis.null("int64"))  # type: ignore[arg-type]
                return {self.col("val"): value}
            code_list = self.entity.field(self.name).code_list
            numeric = s[self.col("num")]
            known = numeric.isin(code_list.codes() if code_list else [])
            return {self.col("val"): ibis.ifelse(known, numeric, ibis.null("int64"))}

        return [parse] if fm.map is not None or fm.labels is not None else [numbers, parse]

    def check(self, p: ir.Table) -> dict[str, ir.Value]:
        raw, value = p[self.col("raw")], p[self.col("val")]
        self.flag(raw.notnull() & value.isnull(), f"{self.name}_code_unknown")
        if self.fm.required:
            self.flag(raw.isnull(), f"{self.name}_missing", "error")
        return {self.name: value}


class BoolField(CodeField):
    """Yes or no: through ``map``, or the ``true`` / ``false`` spellings."""

    types = ("bool",)

    @classmethod
    def validate(cls, name: str, fm: FieldMap, entity: Entity) -> None:
        FieldKind.validate(name, fm, entity)

    def prepare(self) -> list[Stage]:
        fm = self.fm

        def parse(s: ir.Table) -> dict[str, ir.Value]:
            v = s[self.col("raw")].upper()
            if fm.map is not None:
                lookup = {str(k).upper(): val for k, val in fm.map.items()}
                value = v.substitute(lookup, else_=ibis.null("boolean"))  # type: ignore[arg-type]
                return {self.col("val"): value}
            no = ibis.ifelse(v.isin([x.upper() for x in fm.false]), False, ibis.null("boolean"))
            return {self.col("val"): ibis.ifelse(v.isin([x.upper() for x in fm.true]), True, no)}

        return [parse]


class NumberField(FieldKind):
    """``int`` and ``money`` (whole rupiah) from plain integer text, ``float`` also with a decimal
    comma; outside ``min``/``max`` or the storage type's range: a warning, and null."""

    types = ("int", "money", "float")

    def prepare(self) -> list[Stage]:
        def parse(s: ir.Table) -> dict[str, ir.Value]:
            raw = s[self.col("raw")]
            if self.fm.type != "float":
                return {self.col("val"): _int(raw)}
            comma = ibis.ifelse(raw.contains(","), raw.replace(",", "."), raw)
            return {self.col("val"): _number(comma, "float64")}

        return [parse]

    def check(self, p: ir.Table) -> dict[str, ir.Value]:
        fm, v, value = self.fm, p[self.col("raw")], p[self.col("val")]
        self.flag(v.notnull() & value.isnull(), f"{self.name}_not_number")
        if fm.required:
            self.flag(v.isnull(), f"{self.name}_missing", "error")
        bad = ibis.literal(False)
        if fm.min is not None:
            bad = bad | (value < fm.min)
        if fm.max is not None:
            bad = bad | (value > fm.max)
        limit = STORAGE_LIMITS.get(self.entity.field(self.name).storage)
        if limit is not None:  # the canonical cast would fail (on every engine) past the column's width
            bad = bad | (value < -limit - 1) | (value > limit)
        bad = bad.fill_null(False)
        self.flag(bad, f"{self.name}_out_of_range", "warning")
        return {self.name: ibis.ifelse(bad, ibis.null("float64" if fm.type == "float" else "int64"), value)}
