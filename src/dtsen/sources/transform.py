"""Staged text table + mapping -> canonical rows with findings, as one Ibis expression.

The same expression runs on DuckDB and on Spark (the engine layer compiles it), so every rule here is
written null-safely (``coalesce``) and with functions both engines share: regular expressions,
``try_cast``, substrings, ``isin`` against small reference tables. Each finding is a
``severity|code|field`` string in ``_findings``; errors send a row to quarantine, warnings travel with
it in ``flags``. The NIK rules mirror :mod:`dtsen.reference.nik` exactly (a test checks both agree).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
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


@dataclass
class Context:
    """What a transform needs besides the staged table: batch facts and reference tables."""

    batch_id: str
    berkas: str
    landed: date
    prefixes: ir.Table  # column kode: every valid 6-digit NIK/KK prefix
    regions: ir.Table  # column kode: every region code (2, 4, 6, 10 digits)
    prefix_codes: frozenset[str] = frozenset()
    today: date = field(default_factory=date.today)


def _finding(cond: ir.BooleanValue, severity: str, code: str, fld: str) -> ir.StringValue:
    return ibis.ifelse(cond.fill_null(False), ibis.literal(f"{severity}|{code}|{fld}"), NULL_STR)


class FieldBuilder:
    """Builds the value and the findings of every mapped field, in two passes.

    Pass 1 (:meth:`prepare`) computes each field's cleaned primitives from the raw text (regular
    expressions run once per value); the caller materializes that table, so pass 2 (:meth:`check`)
    derives findings from plain column references instead of re-expanding every expression.
    """

    def __init__(self, mapping: Mapping, ctx: Context) -> None:
        self.m = mapping
        self.ctx = ctx
        self.entity = ENTITIES[mapping.entity]
        self.values: dict[str, ir.Value] = {}
        self.findings: list[ir.StringValue] = []
        self._nik_parts: dict[str, tuple[Any, Any, Any]] = {}

    # -- pass 1: clean ------------------------------------------------------------------------------
    def text(self, t: ir.Table) -> dict[str, ir.Value]:
        """Pass 1: each mapped source value trimmed, with the usual spellings of 'nothing' as null."""
        out: dict[str, ir.Value] = {"_baris": t._baris}

        def clean(col: str, fm: FieldMap) -> ir.StringValue:
            stripped = t[col].strip()
            if fm.remove:  # e.g. spaces inside a plate number; escape only what is special in [...]
                chars = "".join("\\" + c if c in "\\[]^-" else c for c in fm.remove)
                stripped = stripped.re_replace(f"[{chars}]", "")
            nothing = ["", "NULL", "NAN", "NONE", *(v.strip().upper() for v in fm.null_values)]
            return ibis.ifelse(stripped.upper().isin(nothing), NULL_STR, stripped)

        for name, fm in self.m.fields.items():
            if fm.constant is not None:
                out[f"{name}__raw"] = ibis.literal(str(fm.constant))
            elif fm.type == "region" and fm.pad:
                for i, col in enumerate(fm.columns):
                    out[f"{name}__raw{i}"] = clean(col, fm)
            elif fm.type in ("nik", "kk"):
                out[f"{name}__raw"] = t[fm.columns[0]].strip()
            elif fm.type == "string" and fm.pad:  # lpad alone would also cut longer values
                value, width = clean(fm.columns[0], fm), fm.pad[0]
                out[f"{name}__raw"] = ibis.ifelse(value.length() < width, value.lpad(width, "0"), value)
            else:
                out[f"{name}__raw"] = clean(fm.columns[0], fm)
        for i, col in enumerate(self.m.record_columns):
            out[f"_record_{i}"] = t[col].strip()
        if isinstance(self.m.observed, str):
            out["_observed"] = t[self.m.observed].strip()
        return out

    def prepare(self, t: ir.Table) -> dict[str, ir.Value]:
        """Pass 2: parse each value from the pass-1 text (plain column references, no re-expansion)."""
        out: dict[str, ir.Value] = {
            c: t[c]
            for c in t.columns
            if not c.startswith(
                tuple(f"{n}__raw" for n, f in self.m.fields.items() if f.pad and f.type == "region")
            )
        }
        for name, fm in self.m.fields.items():
            if fm.type == "region" and fm.pad:
                parts = [
                    t[f"{name}__raw{i}"].re_replace(r"\.0$", "").re_replace(r"[^0-9]", "").lpad(w, "0")
                    for i, w in enumerate(fm.pad)
                ]
                code = parts[0]
                for part in parts[1:]:
                    code = code + part
                out[f"{name}__raw"] = code
                out[f"{name}__val"] = code
                continue
            raw = t[f"{name}__raw"]
            if fm.type in ("nik", "kk"):
                float_form = raw.re_search(r"^\d+\.0$").fill_null(False)
                out[f"{name}__float"] = float_form
                out[f"{name}__sci"] = raw.re_search(r"^[+]?\d(?:[.,]\d+)?[eE][+]?\d{1,2}$").fill_null(False)
                out[f"{name}__digits"] = ibis.ifelse(float_form, raw.re_replace(r"\.0$", ""), raw).re_replace(
                    r"[\s.\-/_']", ""
                )
            elif fm.type == "name":
                upper = _upper(raw)
                hint = upper.re_search(HAS_SUFFIX_HINT).fill_null(False)
                out[f"{name}__suffix"] = ibis.ifelse(hint, upper.re_extract(SUFFIX_RE, 1), NULL_STR)
                out[f"{name}__nosuffix"] = (
                    ibis.ifelse(hint, upper.re_replace(SUFFIX_RE, ""), upper).re_replace(r"\s+", " ").strip()
                )
            elif fm.type == "date":
                candidates = [_parse_date(raw, f) for f in (fm.formats or ["%Y-%m-%d"])]
                if fm.excel_serial:
                    days = raw.re_replace(r"\.0$", "").try_cast("int64")
                    serial = raw.re_search(r"^\d{4,5}(?:\.0)?$").fill_null(False) & (days > 59)
                    candidates.append(
                        ibis.ifelse(
                            serial, ibis.date(1899, 12, 30) + days.as_interval("D"), ibis.null("date")
                        )
                    )
                out[f"{name}__val"] = ibis.coalesce(*candidates)
            elif fm.type == "region":
                out[f"{name}__val"] = raw.re_replace(r"\.0$", "").re_replace(r"[.\s\-]", "")
            elif fm.type == "code":
                out[f"{name}__val"] = self._code_value(name, fm, raw)
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
            elif fm.type in ("int", "money", "float"):
                target = "float64" if fm.type == "float" else "int64"
                cleaned = raw.re_replace(r"\.0$", "") if target == "int64" else raw.re_replace(",", ".")
                out[f"{name}__val"] = _number(cleaned, target)
        return out

    def _names(self, p: ir.Table, name: str) -> dict[str, ir.Value]:
        """Pass 3 for a name: split off leading titles, drop punctuation, canonical spellings."""
        base = p[f"{name}__nosuffix"]
        hint = base.re_search(HAS_PREFIX_HINT).fill_null(False)
        prefix = ibis.ifelse(hint, base.re_extract(PREFIX_RE, 1), NULL_STR)
        letters = ibis.ifelse(hint, base.re_replace(PREFIX_RE, ""), base).re_replace(r"[^A-Z' ]", " ")
        canon = letters
        for pattern, repl in NAME_CANON:
            canon = canon.re_replace(pattern, repl)
        clean = ibis.ifelse(letters.re_search(HAS_CANON_HINT).fill_null(False), canon, letters)
        for old, new in NAME_OLD_SPELLING:
            clean = clean.replace(old, new)
        clean = clean.re_replace(r"\s+", " ").strip()
        titles = (
            (prefix.fill_null("") + " " + p[f"{name}__suffix"].fill_null(""))
            .re_replace(r"[\s,]+", " ")
            .strip()
        )
        return {f"{name}__val": clean.nullif(""), f"{name}__titles": titles}

    def _code_value(self, name: str, fm: FieldMap, raw: ir.StringValue) -> ir.IntegerValue:
        if fm.map is not None:
            lookup = {str(k).upper(): val for k, val in fm.map.items()}
            return raw.upper().substitute(lookup, else_=ibis.null("int64"))  # type: ignore[arg-type]
        if fm.labels is not None:
            return raw.upper().substitute(
                _label_lookup(all_code_lists()[fm.labels]), else_=ibis.null("int64")
            )  # type: ignore[arg-type]
        code_list = self.entity.field(name).code_list
        numeric = _number(raw.re_replace(r"\.0$", ""), "int64")
        return ibis.ifelse(numeric.isin(code_list.codes() if code_list else []), numeric, ibis.null("int64"))

    # -- pass 2: check ------------------------------------------------------------------------------
    def severity(self, fm: FieldMap) -> str:
        return "error" if fm.required else "warning"

    def add(self, cond: ir.BooleanValue, severity: str, code: str, fld: str) -> None:
        self.findings.append(_finding(cond, severity, code, fld))

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

    def derive(self, p: ir.Table) -> dict[str, ir.Value]:
        """Pass 2: per-field intermediate results (lookups, decoded dates) computed once as columns."""
        out: dict[str, ir.Value] = {c: p[c] for c in p.columns}
        today = self.ctx.today
        for name, fm in self.m.fields.items():
            if fm.type in ("nik", "kk"):
                kind = "nik" if fm.type == "nik" else "no_kk"
                raw, digits, float_form = p[f"{name}__raw"], p[f"{name}__digits"], p[f"{name}__float"]
                missing = (raw.isnull() | raw.upper().isin(MISSING_TOKENS)).fill_null(True)
                numeric = digits.re_search(r"^\d+$").fill_null(False)
                len16 = (digits.length() == 16).fill_null(False)
                imprecise = (float_form & len16 & (digits > "9007199254740992")).fill_null(False)
                prefix = digits.substr(0, 6)
                dd = digits.substr(6, 2).try_cast("int64")
                mm, yy = digits.substr(8, 2), digits.substr(10, 2)
                day = (ibis.ifelse(dd > 40, dd - 40, dd) if kind == "nik" else dd).cast("string").lpad(2, "0")
                century = ibis.ifelse(yy.try_cast("int64") <= today.year % 100, "20", "19")
                recent = (century + yy + "-" + mm + "-" + day).try_cast("date")
                older = ("19" + yy + "-" + mm + "-" + day).try_cast("date")
                out[f"{name}__missing"] = missing
                out[f"{name}__numeric"] = numeric
                out[f"{name}__len16"] = len16
                out[f"{name}__imprecise"] = imprecise
                out[f"{name}__prov"] = (
                    prefix.substr(0, 2).isin(sorted({k[:2] for k in self.ctx.prefix_codes})).fill_null(False)
                )
                out[f"{name}__kab"] = (
                    prefix.substr(0, 4).isin(sorted({k[:4] for k in self.ctx.prefix_codes})).fill_null(False)
                )
                out[f"{name}__kec"] = prefix.isin(self.ctx.prefixes.kode).fill_null(False)
                # the latest date with these digits that is not in the future (as check_nik decodes it)
                out[f"{name}__decoded"] = ibis.ifelse(recent > ibis.literal(today), older, recent)
                out[f"{name}__serial0"] = (digits.substr(12, 4) == "0000").fill_null(False)
                out[f"{name}__reformatted"] = ((digits != raw) & ~float_form).fill_null(False)
                out[f"{name}__sex"] = ibis.ifelse(dd > 40, 2, 1)
            elif fm.type == "name":
                out.update(self._names(p, name))
            elif fm.type == "date":
                parsed = p[f"{name}__val"]
                out[f"{name}__future"] = (parsed > ibis.literal(today)).fill_null(False)
                out[f"{name}__tooold"] = (parsed < ibis.date(1900, 1, 1)).fill_null(False)
            elif fm.type == "region":
                code = p[f"{name}__val"]
                expected = {"kode_desa": 10, "kode_kec": 6, "kode_kab": 4, "kode_prov": 2}.get(name)
                length_ok = (code.length() == expected) if expected else code.length().isin([2, 4, 6, 10])
                out[f"{name}__shape"] = code.re_search(r"^\d+$").fill_null(False) & length_ok.fill_null(False)
                out[f"{name}__exists"] = code.isin(self.ctx.regions.kode).fill_null(False)
        return out

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
    """A strftime format of %d %m %Y (or %y) joined by one separator, parsed by splitting and ISO
    assembly plus ``try_cast``: engine-neutral and far cheaper than regular expressions."""
    directives = re.findall(r"%([dmYy])", fmt)
    seps = set(re.sub(r"%[dmYy]", "\x00", fmt).replace("\x00", ""))
    if sorted(directives) not in (["Y", "d", "m"], ["d", "m", "y"]) or len(seps) != 1:
        raise ValueError(f"unsupported date format {fmt!r}: use %d, %m and %Y (or %y) with one separator")
    sep = seps.pop()
    parts = v.split(sep)
    # only digits and the separator: date casts differ ('2020-02-1T' and '+2020-01-01' are dates on Spark)
    in_class = "\\" + sep if sep in "\\[]^-" else sep
    digits_only = v.re_search(f"^[0-9{in_class}]+$")
    pos = {d: i for i, d in enumerate(directives)}
    year = parts[pos["Y"]] if "Y" in pos else None
    if year is None:
        yy = parts[pos["y"]]
        year = ibis.ifelse(yy.try_cast("int64") > date.today().year % 100, "19", "20") + yy
        year_ok = yy.length() == 2
    else:
        year_ok = year.length() == 4
    month, day = parts[pos["m"]], parts[pos["d"]]
    ok = digits_only & (parts.length() == 3) & year_ok
    ok = ok & month.length().between(1, 2) & day.length().between(1, 2)
    iso = year + "-" + month.lpad(2, "0") + "-" + day.lpad(2, "0")
    return ibis.ifelse(ok.fill_null(False), iso, NULL_STR).try_cast("date")


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
    """Pass 1 (materialize before pass 2)."""
    return t.select(**FieldBuilder(mapping, ctx).text(t))


def prepare(t: ir.Table, mapping: Mapping, ctx: Context) -> ir.Table:
    """Pass 2, on a materialized :func:`text` table (materialize before pass 3)."""
    return t.select(**FieldBuilder(mapping, ctx).prepare(t))


def derive(t: ir.Table, mapping: Mapping, ctx: Context) -> ir.Table:
    """Pass 3, on a materialized :func:`prepare` table (materialize before :func:`conform`)."""
    return t.select(**FieldBuilder(mapping, ctx).derive(t))


def conform(t: ir.Table, mapping: Mapping, ctx: Context) -> ir.Table:
    """Pass 4, on a materialized :func:`derive` table: the canonical table (typed per the entity)
    with ``_findings`` and ``_baris_sumber``; nothing is filtered out here."""
    fb = FieldBuilder(mapping, ctx)
    fb.check(t)
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
    findings = ibis.array(fb.findings) if fb.findings else ibis.literal([], type="array<string>")
    findings = findings.filter(lambda x: x.notnull())
    # ``flags`` is derived from the materialized ``_findings`` (flags_of) so the array is built once
    return t.select(**cols, _findings=findings, _baris_sumber=t._baris)


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
