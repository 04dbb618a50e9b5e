"""Staged text table + mapping -> canonical rows with findings, as one Ibis expression.

The same expression runs on DuckDB and on Spark (the engine layer compiles it), so every rule here is
written null-safely (``coalesce``) and with functions both engines share: regular expressions,
``try_cast``, substrings, ``isin`` against small reference tables. Each finding is a
``severity|code|field`` string in ``_findings``; errors send a row to quarantine, warnings travel with
it in ``flags``. The NIK rules mirror :mod:`dtsen.reference.nik` exactly (a test checks both agree).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

import ibis
import ibis.expr.types as ir

from dtsen.canonical import ENTITIES, DType
from dtsen.canonical.model import all_code_lists
from dtsen.reference.codes import CodeList
from dtsen.sources.mapping import FieldMap, Mapping

NULL_STR = ibis.null("string")
KEY_FIELDS = frozenset({"id_keluarga", "id_anggota"})
MISSING_TOKENS = ["", "NULL", "NAN", "NONE", "-", "0", "N/A", "NA"]

TITLE_PREFIXES = [
    "H",
    "HJ",
    "HAJI",
    "HAJJAH",
    "DR",
    "DRS",
    "DRA",
    "IR",
    "PROF",
    "KH",
    "TGK",
    "USTADZ",
    "USTADZAH",
]
TITLE_SUFFIXES = [
    r"S\.?\s?PD\.?\s?I", r"S\.?\s?PD", r"S\.?\s?E", r"S\.?\s?KOM", r"S\.?\s?H", r"S\.?\s?T", r"S\.?\s?SOS",
    r"S\.?\s?AG", r"S\.?\s?IP", r"S\.?\s?KEP", r"S\.?\s?FARM", r"S\.?\s?KED", r"S\.?\s?SI", r"S\.?\s?HUT",
    r"S\.?\s?P", r"S\.?\s?PT", r"A\.?\s?MD(?:\.?\s?KEP)?", r"AMD", r"M\.?\s?M", r"M\.?\s?PD", r"M\.?\s?SI",
    r"M\.?\s?KES", r"M\.?\s?SC", r"M\.?\s?T", r"M\.?\s?H", r"M\.?\s?AG", r"SE", r"SH", r"ST",
]  # fmt: skip
_SUFFIX_ALT = "|".join(TITLE_SUFFIXES)
SUFFIX_RE = rf"(?:,\s*|\s+)((?:{_SUFFIX_ALT})\.?(?:[\s,]+(?:{_SUFFIX_ALT})\.?)*)\s*$"
PREFIX_RE = rf"^((?:(?:{'|'.join(TITLE_PREFIXES)})\.?\s+)+)"
# canonical spellings for matching (the original spelling stays in nama_asli)
NAME_CANON: list[tuple[str, str]] = [
    (r"\b(?:MUHAMAD|MOHAMAD|MOHAMMAD|MOHAMMED|MOCHAMAD|MOCHAMMAD|MUCHAMAD|MUCHAMMAD|MUHAMMED|MOHAMED|MOCH|MOH|MUH|MHD|MUHD|MOHD)\b", "MUHAMMAD"),
    (r"^M\s+", "MUHAMMAD "),
    (r"\bABD\b", "ABDUL"),
    (r"\bSTI\b", "SITI"),
]  # fmt: skip
NAME_OLD_SPELLING = [("OE", "U"), ("DJ", "J"), ("TJ", "C")]  # Van Ophuijsen spellings (SOEKARNO, DJOKO)
# cheap pre-tests so the long patterns run only on the few names they can change
HAS_SUFFIX_HINT = r"(?:,|\bS\.|\bS\s?[EHTP]\b|\bA\.?\s?MD|\bM\.\s?[A-Z])"
HAS_PREFIX_HINT = r"^(?:H|HJ|HAJI|HAJJAH|DR|DRS|DRA|IR|PROF|KH|TGK|USTADZ|USTADZAH)\b"
HAS_CANON_HINT = r"(?:MOH|MUH|MOC|MUC|MHD|ABD|STI|^M\s)"


# Whitespace that strip() removes on both engines; a value whose first and last characters are above
# U+0020 has none at its ends, so the (costly) strip runs only on the few values that need it.
NON_ASCII = r"[^\x00-\x7f]"
INT_TEXT = r"^([+-]?[0-9]+)(?:\.0)?$"  # an integer, or one written by a float column (12.0)
DIGITS = r"^[0-9]+$"


def _fold_table() -> tuple[str, str, dict[str, str]]:
    """Latin letters with accents or compatibility forms folded to ASCII as Unicode NFKD spells them
    (É -> E, ǰ -> j, Ａ -> A, ﬁ -> fi): one-letter folds for ``translate``, longer ones for ``replace``."""
    single_from, single_to, multi = [], [], {}
    for code in range(0x80, 0x10000):
        c = chr(code)
        if 0xD800 <= code <= 0xDFFF:
            continue
        base = "".join(x for x in unicodedata.normalize("NFKD", c) if not unicodedata.combining(x))
        if base == c or not unicodedata.category(c).startswith("L") or not re.fullmatch("[A-Za-z]+", base):
            continue  # letters only: symbols such as ™ or ㎏ are no part of a name
        if len(base) == 1:
            single_from.append(c)
            single_to.append(base)
        else:
            multi[c] = base
    return "".join(single_from), "".join(single_to), multi


FOLD_FROM, FOLD_TO, FOLD_MULTI = _fold_table()


@dataclass
class Context:
    """What a transform needs besides the staged table: batch facts and reference tables."""

    batch_id: str
    berkas: str
    landed: date
    prefixes: ir.Table  # column kode: every valid 6-digit NIK/KK prefix and its 2- and 4-digit heads
    regions: ir.Table  # column kode: every region code (2, 4, 6, 10 digits)
    prefix_codes: frozenset[str] = frozenset()
    today: date = field(default_factory=date.today)


@dataclass(frozen=True)
class Finding:
    cond: ir.BooleanValue
    severity: str
    code: str
    field: str

    def when(self) -> ir.BooleanValue:
        return self.cond.fill_null(False)


def _day_text(dd: ir.IntegerValue, kind: str) -> ir.StringValue:
    """The day of month of NIK/KK digits 7-8 as two digits (a woman's NIK adds 40 to the day)."""
    return (ibis.ifelse(dd > 40, dd - 40, dd) if kind == "nik" else dd).cast("string").lpad(2, "0")


def _strip(v: ir.StringValue) -> ir.StringValue:
    """``v.strip()``, run only where an end of the value is whitespace (or another character <= U+0020):
    trimming every value costs several times more than looking at its two ends."""
    edge = (v.ascii_str() <= 32) | (v.right(1).ascii_str() <= 32)
    return ibis.ifelse(edge.fill_null(False), v.strip(), v)


def _let(t: ir.Table, **columns: ir.Value) -> ir.Table:
    """``t`` with ``columns`` added as a named step of the query: later expressions read the column
    instead of repeating its computation (Ibis would otherwise inline it into every reference)."""
    return t.mutate(**columns).view()


def _int(v: ir.StringValue) -> ir.IntegerValue:
    """Plain decimal integer text (or the same with the ``.0`` a float column adds) as int64, else null:
    one regular expression instead of a replace, a match and a second replace."""
    return v.re_extract(INT_TEXT, 1).try_cast("int64")


def _digits(v: ir.StringValue, junk: str) -> ir.StringValue:
    """A code with ``.0`` and the ``junk`` characters removed; plain digits (nearly all) skip both."""
    slow = v.re_replace(r"\.0$", "").re_replace(junk, "")
    return ibis.ifelse(v.re_search(DIGITS).fill_null(False), v, slow)


class FieldBuilder:
    """Builds the value and the findings of every mapped field over materialized passes.

    :meth:`text` cleans each source value, :meth:`prepare` parses it, :meth:`derive` computes the
    intermediate results several findings share, and :meth:`check` derives findings from plain column
    references, so no regular expression runs twice on the same value. Inside a pass, :func:`_let`
    names a step whose result is read more than once.
    """

    def __init__(self, mapping: Mapping, ctx: Context) -> None:
        self.m = mapping
        self.ctx = ctx
        self.entity = ENTITIES[mapping.entity]
        self.values: dict[str, ir.Value] = {}
        self.findings: list[Finding] = []
        self._nik_parts: dict[str, tuple[Any, Any, Any]] = {}

    # -- pass 1: clean ------------------------------------------------------------------------------
    def text(self, t: ir.Table) -> dict[str, ir.Value]:
        """Pass 1: each mapped source value trimmed, with the usual spellings of 'nothing' as null."""
        out: dict[str, ir.Value] = {"_baris": t._baris}

        def clean(col: str, fm: FieldMap) -> ir.StringValue:
            x = t[col]
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

        for name, fm in self.m.fields.items():
            if fm.constant is not None:
                out[f"{name}__raw"] = ibis.literal(str(fm.constant))
            elif fm.type == "region" and fm.pad:
                for i, col in enumerate(fm.columns):
                    out[f"{name}__raw{i}"] = clean(col, fm)
            elif fm.type in ("nik", "kk"):
                out[f"{name}__raw"] = _strip(t[fm.columns[0]])
            elif fm.type == "string" and fm.pad:  # lpad alone would also cut longer values
                value, width = clean(fm.columns[0], fm), fm.pad[0]
                out[f"{name}__raw"] = ibis.ifelse(value.length() < width, value.lpad(width, "0"), value)
            else:
                out[f"{name}__raw"] = clean(fm.columns[0], fm)
        for i, col in enumerate(self.m.record_columns):
            out[f"_record_{i}"] = _strip(t[col])
        if isinstance(self.m.observed, str):
            out["_observed"] = _strip(t[self.m.observed])
        return out

    def prepare(self, t: ir.Table) -> ir.Table:
        """Pass 2: parse each value from the pass-1 text (plain column references, no re-expansion)."""
        padded_regions = tuple(f"{n}__raw" for n, f in self.m.fields.items() if f.pad and f.type == "region")
        first: dict[str, ir.Value] = {}
        for name, fm in self.m.fields.items():
            if fm.type in ("nik", "kk"):
                first[f"{name}__plain"] = t[f"{name}__raw"].re_search(DIGITS).fill_null(False)
            elif fm.type == "name":
                raw = t[f"{name}__raw"]
                first[f"{name}__up"] = ibis.ifelse(
                    raw.re_search(NON_ASCII).fill_null(False), _upper(_fold(raw)), raw.upper()
                )
            elif fm.type == "code" and fm.map is None and fm.labels is None:
                first[f"{name}__num"] = _int(t[f"{name}__raw"])
        s = _let(t, **first) if first else t
        out: dict[str, ir.Value] = {c: s[c] for c in t.columns if not c.startswith(padded_regions)}
        for name, fm in self.m.fields.items():
            if fm.type == "region" and fm.pad:
                parts = [_digits(s[f"{name}__raw{i}"], r"[^0-9]").lpad(w, "0") for i, w in enumerate(fm.pad)]
                code = parts[0]
                for part in parts[1:]:
                    code = code + part
                out[f"{name}__val"] = code
                continue
            raw = s[f"{name}__raw"]
            if fm.type in ("nik", "kk"):
                plain = s[f"{name}__plain"]
                out[f"{name}__plain"] = plain
                float_form = raw.re_search(r"^\d+\.0$")
                out[f"{name}__float"] = ibis.ifelse(plain, False, float_form).fill_null(False)
                out[f"{name}__sci"] = ibis.ifelse(
                    plain, False, raw.re_search(r"^[+]?\d(?:[.,]\d+)?[eE][+]?\d{1,2}$")
                ).fill_null(False)
                slow = ibis.ifelse(float_form.fill_null(False), raw.re_replace(r"\.0$", ""), raw)
                out[f"{name}__digits"] = ibis.ifelse(plain, raw, slow.re_replace(r"[\s.\-/_']", ""))
            elif fm.type == "name":
                up = s[f"{name}__up"]
                out[f"{name}__up"] = up
                out[f"{name}__sfx"] = up.re_search(HAS_SUFFIX_HINT).fill_null(False)
            elif fm.type == "date":
                candidates = [_parse_date(raw, f) for f in (fm.formats or ["%Y-%m-%d"])]
                if fm.excel_serial:
                    days = _int(raw)
                    serial = raw.re_search(r"^\d{4,5}(?:\.0)?$").fill_null(False) & (days > 59)
                    candidates.append(
                        ibis.ifelse(
                            serial, ibis.date(1899, 12, 30) + days.as_interval("D"), ibis.null("date")
                        )
                    )
                out[f"{name}__val"] = ibis.coalesce(*candidates)
            elif fm.type == "region":
                out[f"{name}__val"] = _digits(raw, r"[.\s\-]")
            elif fm.type == "code":
                out[f"{name}__val"] = self._code_value(name, fm, raw, s)
            elif fm.type == "bool":
                v = raw.upper()
                if fm.map is not None:
                    value = v.substitute(
                        {str(k).upper(): val for k, val in fm.map.items()}, else_=ibis.null("boolean")
                    )  # type: ignore[arg-type]
                else:
                    value = ibis.ifelse(
                        v.isin([x.upper() for x in fm.true]),
                        True,
                        ibis.ifelse(v.isin([x.upper() for x in fm.false]), False, ibis.null("boolean")),
                    )
                out[f"{name}__val"] = value
            elif fm.type in ("int", "money"):
                out[f"{name}__val"] = _int(raw)
            elif fm.type == "float":
                comma = ibis.ifelse(raw.contains(","), raw.replace(",", "."), raw)
                out[f"{name}__val"] = _number(comma, "float64")
        return s.select(**out)

    def _names(self, p: ir.Table) -> ir.Table:
        """Pass 3 for names, one named step each: split off trailing then leading titles, spaces,
        letters only, canonical spellings. Each costly regular expression runs only on the names a
        cheap test says it can change."""
        names = [n for n, f in self.m.fields.items() if f.type == "name"]
        if not names:
            return p

        def spaced(v: ir.StringValue) -> ir.StringValue:  # runs of whitespace -> one space, ends stripped
            # all that the replace or the strip (which also takes \v) can change
            odd = v.re_search(r"[\t\n\f\r]|\s\s|^[\s\x0b]|[\s\x0b]$").fill_null(False)
            return ibis.ifelse(odd, v.re_replace(r"\s+", " ").strip(), v)

        steps: list[dict[str, ir.Value]] = [{}, {}, {}, {}, {}]
        for n in names:
            up, hint = p[f"{n}__up"], p[f"{n}__sfx"]
            steps[0][f"{n}__suffix"] = ibis.ifelse(hint, up.re_extract(SUFFIX_RE, 1), NULL_STR)
            steps[0][f"{n}__ns"] = ibis.ifelse(hint, up.re_replace(SUFFIX_RE, ""), up)
        s = _let(p, **steps[0])
        for n in names:
            steps[1][f"{n}__nosuffix"] = spaced(s[f"{n}__ns"])
        s = _let(s, **steps[1])
        for n in names:
            base = s[f"{n}__nosuffix"]
            steps[2][f"{n}__ph"] = base.re_search(HAS_PREFIX_HINT).fill_null(False)
        s = _let(s, **steps[2])
        for n in names:
            base, hint = s[f"{n}__nosuffix"], s[f"{n}__ph"]
            steps[3][f"{n}__prefix"] = ibis.ifelse(hint, base.re_extract(PREFIX_RE, 1), NULL_STR)
            rest = ibis.ifelse(hint, base.re_replace(PREFIX_RE, ""), base)
            steps[3][f"{n}__rest"] = rest
        s = _let(s, **steps[3])
        for n in names:
            rest = s[f"{n}__rest"]
            odd = rest.re_search(r"[^A-Z' ]").fill_null(False)
            steps[4][f"{n}__letters"] = ibis.ifelse(odd, rest.re_replace(r"[^A-Z' ]", " "), rest)
        s = _let(s, **steps[4])
        final: dict[str, ir.Value] = {}
        for n in names:
            letters = s[f"{n}__letters"]
            canon = letters
            for pattern, repl in NAME_CANON:
                canon = canon.re_replace(pattern, repl)
            clean = ibis.ifelse(letters.re_search(HAS_CANON_HINT).fill_null(False), canon, letters)
            for old, new in NAME_OLD_SPELLING:
                clean = clean.replace(old, new)
            final[f"{n}__clean"] = clean
        s = _let(s, **final)
        out: dict[str, ir.Value] = {c: s[c] for c in p.columns}
        for n in names:
            clean, prefix, suffix = s[f"{n}__clean"], s[f"{n}__prefix"], s[f"{n}__suffix"]
            # only spaces are left between letters: collapse them where there is something to collapse
            odd = clean.contains("  ") | clean.startswith(" ") | clean.endswith(" ")
            clean = ibis.ifelse(odd.fill_null(False), clean.re_replace(r"\s+", " ").strip(), clean)
            titles = (prefix.fill_null("") + " " + suffix.fill_null("")).re_replace(r"[\s,]+", " ").strip()
            out[f"{n}__val"] = clean.nullif("")
            out[f"{n}__titles"] = ibis.ifelse(prefix.isnull() & suffix.isnull(), "", titles)
        return s.select(**out)

    def _code_value(self, name: str, fm: FieldMap, raw: ir.StringValue, s: ir.Table) -> ir.IntegerValue:
        if fm.map is not None:
            lookup = {str(k).upper(): val for k, val in fm.map.items()}
            return raw.upper().substitute(lookup, else_=ibis.null("int64"))  # type: ignore[arg-type]
        if fm.labels is not None:
            return raw.upper().substitute(
                _label_lookup(all_code_lists()[fm.labels]), else_=ibis.null("int64")
            )  # type: ignore[arg-type]
        code_list = self.entity.field(name).code_list
        numeric = s[f"{name}__num"]
        return ibis.ifelse(numeric.isin(code_list.codes() if code_list else []), numeric, ibis.null("int64"))

    # -- pass 2: check ------------------------------------------------------------------------------
    def severity(self, fm: FieldMap) -> str:
        return "error" if fm.required else "warning"

    def add(self, cond: ir.BooleanValue, severity: str, code: str, fld: str) -> None:
        self.findings.append(Finding(cond, severity, code, fld))

    def check(self, p: ir.Table) -> None:
        for name, fm in self.m.fields.items():
            kind = fm.type
            if kind in ("nik", "kk"):
                self.values[name] = self.identifier(p, name, fm, "nik" if kind == "nik" else "no_kk")
            elif kind == "name":
                self.name(p, name, fm)
            elif kind == "date":
                self.values[name] = self.date(p, name, fm)
            elif kind == "region":
                self.values[name] = self.region(p, name, fm)
            elif kind in ("code", "bool"):
                raw, value = p[f"{name}__raw"], p[f"{name}__val"]
                self.add(raw.notnull() & value.isnull(), self.severity(fm), f"{name}_code_unknown", name)
                if fm.required:
                    self.add(raw.isnull(), "error", f"{name}_missing", name)
                self.values[name] = value
            elif kind in ("int", "money", "float"):
                self.values[name] = self.number(p, name, fm)
            else:
                v = p[f"{name}__raw"]
                if fm.required:
                    self.add(v.isnull(), "error", f"{name}_missing", name)
                self.values[name] = v
        self.cross_checks()

    def derive(self, p: ir.Table) -> ir.Table:
        """Pass 3: per-field intermediate results (lookups, decoded dates, cleaned names) as columns."""
        today = self.ctx.today
        p = self._names(p)
        first: dict[str, ir.Value] = {}
        for name, fm in self.m.fields.items():
            if fm.type in ("nik", "kk"):
                digits = p[f"{name}__digits"]
                dd = digits.substr(6, 2).try_cast("int64")
                mm, yy = digits.substr(8, 2), digits.substr(10, 2)
                day = _day_text(dd, fm.type)
                century = ibis.ifelse(yy.try_cast("int64") <= today.year % 100, "20", "19")
                first[f"{name}__dd"] = dd
                first[f"{name}__recent"] = (century + yy + "-" + mm + "-" + day).try_cast("date")
        s = _let(p, **first) if first else p
        out: dict[str, ir.Value] = {c: s[c] for c in p.columns}
        for name, fm in self.m.fields.items():
            if fm.type in ("nik", "kk"):
                raw, digits, float_form = s[f"{name}__raw"], s[f"{name}__digits"], s[f"{name}__float"]
                dd, recent = s[f"{name}__dd"], s[f"{name}__recent"]
                # MISSING_TOKENS are at most 4 characters: a longer value is not one of them
                token = (raw.length() <= 4) & raw.upper().isin(MISSING_TOKENS)
                missing = (raw.isnull() | token).fill_null(True)
                numeric = (s[f"{name}__plain"] | digits.re_search(DIGITS)).fill_null(False)
                len16 = (digits.length() == 16).fill_null(False)
                imprecise = (float_form & len16 & (digits > "9007199254740992")).fill_null(False)
                prefix = digits.substr(0, 6)
                out[f"{name}__missing"] = missing
                out[f"{name}__numeric"] = numeric
                out[f"{name}__len16"] = len16
                out[f"{name}__imprecise"] = imprecise
                # one lookup table holds the 6-digit prefixes and their 2- and 4-digit heads
                out[f"{name}__prov"] = prefix.substr(0, 2).isin(self.ctx.prefixes.kode).fill_null(False)
                out[f"{name}__kab"] = prefix.substr(0, 4).isin(self.ctx.prefixes.kode).fill_null(False)
                out[f"{name}__kec"] = (
                    (prefix.length() == 6) & prefix.isin(self.ctx.prefixes.kode)
                ).fill_null(False)
                # the latest date with these digits that is not in the future (as check_nik decodes it)
                day = _day_text(dd, fm.type)
                older = ("19" + digits.substr(10, 2) + "-" + digits.substr(8, 2) + "-" + day).try_cast("date")
                out[f"{name}__decoded"] = ibis.ifelse(recent > ibis.literal(today), older, recent)
                out[f"{name}__serial0"] = (digits.substr(12, 4) == "0000").fill_null(False)
                out[f"{name}__reformatted"] = ((digits != raw) & ~float_form).fill_null(False)
                out[f"{name}__sex"] = ibis.ifelse(dd > 40, 2, 1)
            elif fm.type == "date":
                parsed = s[f"{name}__val"]
                out[f"{name}__future"] = (parsed > ibis.literal(today)).fill_null(False)
                out[f"{name}__tooold"] = (parsed < ibis.date(1900, 1, 1)).fill_null(False)
            elif fm.type == "region":
                code = s[f"{name}__val"]
                expected = {"kode_desa": 10, "kode_kec": 6, "kode_kab": 4, "kode_prov": 2}.get(name)
                length_ok = (code.length() == expected) if expected else code.length().isin([2, 4, 6, 10])
                out[f"{name}__shape"] = code.re_search(r"^\d+$").fill_null(False) & length_ok.fill_null(False)
                out[f"{name}__exists"] = code.isin(self.ctx.regions.kode).fill_null(False)
        return s.select(**out)

    def identifier(self, p: ir.Table, name: str, fm: FieldMap, kind: str) -> ir.StringValue:
        """NIK / No. KK: the same rules as dtsen.reference.nik (error or warning by ``required``)."""
        sev = self.severity(fm)
        c = {
            k: p[f"{name}__{k}"]
            for k in (
                "raw",
                "digits",
                "sci",
                "missing",
                "numeric",
                "len16",
                "imprecise",
                "prov",
                "kab",
                "kec",
                "decoded",
                "serial0",
                "reformatted",
                "sex",
            )
        }
        missing, sci, numeric, len16 = c["missing"], c["sci"], c["numeric"], c["len16"]
        shape_ok = ~missing & ~sci & numeric & len16 & ~c["imprecise"]
        self.add(missing, sev, f"{kind}_missing", name)
        self.add(~missing & sci, sev, f"{kind}_excel_scientific", name)
        self.add(~missing & ~sci & c["imprecise"], sev, f"{kind}_float_precision", name)
        self.add(~missing & ~sci & ~numeric, sev, f"{kind}_not_numeric", name)
        self.add(~missing & ~sci & numeric & ~len16, sev, f"{kind}_length", name)
        self.add(shape_ok & ~c["prov"], sev, f"{kind}_province_unknown", name)
        self.add(shape_ok & c["prov"] & ~c["kab"], sev, f"{kind}_kabupaten_unknown", name)
        self.add(shape_ok & c["prov"] & c["kab"] & ~c["kec"], "warning", f"{kind}_kecamatan_unknown", name)
        self.add(
            shape_ok & c["decoded"].isnull(),
            sev,
            f"{kind}_{'birth' if kind == 'nik' else 'issue'}_date_invalid",
            name,
        )
        self.add(shape_ok & c["serial0"], sev, f"{kind}_serial_zero", name)
        self.add(shape_ok & c["reformatted"], "warning", f"{kind}_reformatted", name)
        valid = shape_ok & c["prov"] & c["kab"] & c["decoded"].notnull() & ~c["serial0"]
        if kind == "nik":
            self._nik_parts[name] = (valid, c["decoded"], c["sex"])
        return ibis.ifelse(valid, c["digits"], NULL_STR)

    def name(self, p: ir.Table, name: str, fm: FieldMap) -> None:
        original, clean, titles = p[f"{name}__raw"], p[f"{name}__val"], p[f"{name}__titles"]
        self.values[name] = clean
        if "nama_asli" in self.entity and name == "nama":
            self.values["nama_asli"] = original
        if "gelar" in self.entity and name == "nama":
            self.values["gelar"] = ibis.ifelse(
                titles.fill_null("") == "", ibis.literal([], type="array<string>"), titles.split(" ")
            )
        if fm.required:
            self.add(original.isnull(), "error", f"{name}_missing", name)
        self.add(original.notnull() & clean.isnull(), self.severity(fm), f"{name}_no_letters", name)

    def date(self, p: ir.Table, name: str, fm: FieldMap) -> ir.DateValue:
        v, parsed = p[f"{name}__raw"], p[f"{name}__val"]
        sev = self.severity(fm)
        self.add(v.notnull() & parsed.isnull(), sev, f"{name}_invalid", name)
        if fm.required:
            self.add(v.isnull(), "error", f"{name}_missing", name)
        future, too_old = p[f"{name}__future"], p[f"{name}__tooold"]
        self.add(future, sev, f"{name}_future", name)
        self.add(too_old, sev, f"{name}_too_old", name)
        if name == "tanggal_lahir":
            self.add((parsed.day() == 1) & (parsed.month() == 1), "warning", f"{name}_default_0101", name)
        return ibis.ifelse(future | too_old, ibis.null("date"), parsed)

    def region(self, p: ir.Table, name: str, fm: FieldMap) -> ir.StringValue:
        code, shape, exists = p[f"{name}__val"], p[f"{name}__shape"], p[f"{name}__exists"]
        sev = self.severity(fm)
        self.add(code.notnull() & ~shape, sev, f"{name}_invalid", name)
        self.add(shape & ~exists, sev, f"{name}_unknown", name)
        if fm.required:
            self.add(code.isnull(), "error", f"{name}_missing", name)
        return ibis.ifelse(shape & exists, code, NULL_STR)

    def number(self, p: ir.Table, name: str, fm: FieldMap) -> ir.NumericValue:
        v, value = p[f"{name}__raw"], p[f"{name}__val"]
        sev = self.severity(fm)
        self.add(v.notnull() & value.isnull(), sev, f"{name}_not_number", name)
        if fm.required:
            self.add(v.isnull(), "error", f"{name}_missing", name)
        bad = ibis.literal(False)
        if fm.min is not None:
            bad = bad | (value < fm.min)
        if fm.max is not None:
            bad = bad | (value > fm.max)
        limit = STORAGE_LIMITS.get(self.entity.field(name).storage)
        if limit is not None:  # the canonical cast would fail (on every engine) past the column's width
            bad = bad | (value < -limit - 1) | (value > limit)
        bad = bad.fill_null(False)
        self.add(bad, "warning", f"{name}_out_of_range", name)
        return ibis.ifelse(bad, ibis.null("float64" if fm.type == "float" else "int64"), value)

    # -- rules across fields ----------------------------------------------------------------------
    def cross_checks(self) -> None:
        v = self.values
        for nik_field, (valid, decoded, sex) in self._nik_parts.items():
            if nik_field != "nik":
                continue
            if "tanggal_lahir" in v:
                born = v["tanggal_lahir"]
                differs = (
                    (decoded.day() != born.day())
                    | (decoded.month() != born.month())
                    | ((decoded.year() % 100) != (born.year() % 100))
                )
                self.add(valid & born.notnull() & differs, "warning", "nik_birth_date_mismatch", "nik")
            if "jenis_kelamin" in v:
                self.add(
                    valid & v["jenis_kelamin"].notnull() & (v["jenis_kelamin"] != sex),
                    "warning",
                    "nik_sex_mismatch",
                    "nik",
                )
        if "hamil" in v and "jenis_kelamin" in v:
            self.add(v["hamil"] & (v["jenis_kelamin"] == 1), "warning", "hamil_laki_laki", "hamil")
        if "hamil" in v and "umur" in v:
            self.add(v["hamil"] & ((v["umur"] < 10) | (v["umur"] > 55)), "warning", "hamil_umur", "hamil")
        if "jenjang_pendidikan" in v and "umur" in v:
            sd = v["jenjang_pendidikan"].isin([1, 2, 3, 4, 5])
            self.add(
                (v.get("partisipasi_sekolah", ibis.literal(1)) == 1) & sd & (v["umur"] > 25),
                "warning", "sekolah_umur_sd", "jenjang_pendidikan",
            )  # fmt: skip
        if "sumber_penerangan" in v:
            no_power = v["sumber_penerangan"] == 4
            for asset in (
                "aset_lemari_es",
                "aset_ac",
                "aset_pemanas_air",
                "aset_tv_layar_datar",
                "aset_komputer",
            ):
                if asset in v:
                    self.add(no_power & v[asset], "warning", "skip_alat_listrik_tanpa_listrik", asset)
            if "daya_listrik" in v:
                self.add(
                    (v["sumber_penerangan"] != 1) & v["daya_listrik"].notnull(),
                    "warning",
                    "skip_daya_tanpa_meteran",
                    "daya_listrik",
                )
        if "status_bangunan" in v and "bukti_kepemilikan" in v:
            self.add(
                (v["status_bangunan"] != 1) & v["bukti_kepemilikan"].notnull(),
                "warning",
                "skip_bukti_bukan_milik",
                "bukti_kepemilikan",
            )
        if "aset_tabung_gas" in v and "bahan_bakar_masak" in v:
            # not isin: ibis writes `a <> b IN (2, 3)` unparenthesized, which Spark reads as `(a <> b) IN ...`
            lpg = (v["bahan_bakar_masak"] == 2) | (v["bahan_bakar_masak"] == 3)
            self.add(v["aset_tabung_gas"] != lpg, "warning", "skip_tabung_gas_bahan_bakar", "aset_tabung_gas")


def _parse_date(v: ir.StringValue, fmt: str) -> ir.DateValue:
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


def _fold(v: ir.StringValue) -> ir.StringValue:
    """Accented and compatibility Latin letters folded to ASCII as NFKD spells them (JOSÉ -> JOSE)."""
    folded = v.translate(FOLD_FROM, FOLD_TO)
    for letter, ascii_form in FOLD_MULTI.items():
        folded = folded.replace(letter, ascii_form)
    return folded


# Letters whose capital is two or more characters (ß -> SS, ﬁ -> FI, ΐ -> Ϊ́): Spark (Java) upper-cases
# them so, DuckDB leaves them (or writes ẞ). For names, those with a Latin capital are spelled out before
# upper() and the others (Greek, Armenian: never part of a canonical name) become spaces, on every engine.
FULL_UPPER = {c: c.upper() for c in map(chr, range(0x10000)) if len(c.upper()) > 1}
FULL_UPPER_LATIN = {c: u for c, u in FULL_UPPER.items() if re.search("[A-Z]", u)}
FULL_UPPER_OTHER = f"[{''.join(c for c in FULL_UPPER if c not in FULL_UPPER_LATIN)}]"
FULL_UPPER_HINT = f"[{''.join(FULL_UPPER)}]"


def _upper(v: ir.StringValue) -> ir.StringValue:
    spelled = v.re_replace(FULL_UPPER_OTHER, " ")
    for letter, capital in FULL_UPPER_LATIN.items():
        spelled = spelled.replace(letter, capital)
    return ibis.ifelse(v.re_search(FULL_UPPER_HINT).fill_null(False), spelled, v).upper()


INT_RE = r"^[+-]?[0-9]+$"
FLOAT_RE = r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"


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
    # every finding's condition is a named step (a boolean column), computed once for the arrays below
    first = FieldBuilder(mapping, ctx)
    first.check(t)
    t = _let(t, **{f"_c{i}": f.when() for i, f in enumerate(first.findings)})
    fb = FieldBuilder(mapping, ctx)
    fb.check(t)
    fb.findings = [replace(f, cond=t[f"_c{i}"]) for i, f in enumerate(fb.findings)]
    entity = ENTITIES[mapping.entity]
    cols: dict[str, ir.Value] = {}
    record = None
    if mapping.record_columns:
        record = t["_record_0"]
        for i in range(1, len(mapping.record_columns)):
            record = record + "-" + t[f"_record_{i}"]
    location = fb.values.get("kode_desa")
    for f in entity.fields:
        if f.name in KEY_FIELDS and f.name in fb.values:  # record keys are made unique across sources
            cols[f.name] = ibis.literal(f"{mapping.source}:") + fb.values[f.name].cast("string")
        elif f.name in fb.values:
            cols[f.name] = _typed(fb.values[f.name], f.storage)
        elif f.name in ("kode_kec", "kode_kab", "kode_prov") and location is not None:
            width = {"kode_kec": 6, "kode_kab": 4, "kode_prov": 2}[f.name]
            cols[f.name] = location.substr(0, width)
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

    _, findings = listed(fb.findings, lambda f: ibis.literal(f"{f.severity}|{f.code}|{f.field}"))
    # flags straight from the conditions (no second pass over the findings strings), in findings order
    _, flags = listed([f for f in fb.findings if f.severity == "warning"], lambda f: ibis.literal(f.code))
    error, _ = listed([f for f in fb.findings if f.severity == "error"], lambda f: ibis.literal(f.code))
    return t.select(**cols, flags=flags, _findings=findings, _error=error, _baris_sumber=t._baris)


def flags_of(findings: ir.ArrayValue) -> ir.ArrayValue:
    """The warning codes of a findings array: the canonical ``flags`` column."""
    return findings.filter(lambda x: x.startswith("warning|")).map(lambda x: x.split("|")[1])


def _observed(t: ir.Table, mapping: Mapping, ctx: Context) -> ir.DateValue:
    if isinstance(mapping.observed, date):
        return ibis.literal(mapping.observed)
    if isinstance(mapping.observed, str):
        # an ISO date only (a plain cast reads 'infinity' on DuckDB, '2023' or '2023-06-30 junk' on Spark)
        return ibis.coalesce(_parse_date(t["_observed"], "%Y-%m-%d"), ibis.literal(ctx.landed))
    return ibis.literal(ctx.landed)


_IBIS_TYPES = {
    DType.STRING: "string", DType.BOOL: "boolean", DType.INT8: "int8", DType.INT16: "int16", DType.INT32: "int32",
    DType.INT64: "int64", DType.FLOAT64: "float64", DType.MONEY: "int64", DType.DATE: "date",
    DType.STRING_LIST: "array<string>",
}  # fmt: skip


STORAGE_LIMITS = {DType.INT8: 2**7 - 1, DType.INT16: 2**15 - 1, DType.INT32: 2**31 - 1}


def _ibis_type(dtype: DType) -> str:
    return _IBIS_TYPES[dtype]


def _typed(value: ir.Value, dtype: DType) -> ir.Value:
    target = _ibis_type(dtype)
    if dtype in (DType.STRING_LIST,):
        return value
    return value.cast(target)
