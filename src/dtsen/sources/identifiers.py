"""The ``nik`` and ``kk`` field kinds: the rules of :mod:`dtsen.reference.nik` as Ibis expressions.

A test checks that both agree on every trap (Excel-mangled numbers, women's days + 40, unknown
prefixes, serial 0000). The row's own NIK is also compared with its birth date and sex.
"""

from __future__ import annotations

from functools import cache
from typing import Any, ClassVar

import ibis
import ibis.expr.types as ir

from dtsen.canonical.model import Entity
from dtsen.sources.fields import DIGITS, NULL_STR, Context, FieldKind, Finding, Stage, strip
from dtsen.sources.mapping import FieldMap

MISSING_TOKENS = ["", "NULL", "NAN", "NONE", "-", "0", "N/A", "NA"]
# The NIK field that identifies the row's own person, compared with the row's birth date and sex.
PERSON_NIK = "nik"


@cache
def _heads(prefixes: frozenset[str]) -> tuple[list[str], list[str]]:
    """The 2- and 4-digit heads (province, kabupaten) of the known 6-digit NIK/KK prefixes."""
    return sorted({p[:2] for p in prefixes}), sorted({p[:4] for p in prefixes})


class IdentifierField(FieldKind):
    """NIK / No. KK: the same rules as :mod:`dtsen.reference.nik` (error or warning by ``required``)."""

    types = ("nik", "kk")
    code_prefix: ClassVar[dict[str, str]] = {"nik": "nik", "kk": "no_kk"}
    date_meaning: ClassVar[dict[str, str]] = {"nik": "birth", "kk": "issue"}
    checked: ClassVar[tuple[str, ...]] = (
        *("digits", "sci", "missing", "numeric", "len16", "imprecise", "prov", "kab", "kec", "decoded"),
        *("serial0", "reformatted", "sex"),
    )  # the derived facts pass 4 reads

    def __init__(self, name: str, fm: FieldMap, entity: Entity, ctx: Context) -> None:
        super().__init__(name, fm, entity, ctx)
        self.prefix = self.code_prefix[fm.type]
        self.person: tuple[Any, Any, Any] | None = None  # (valid, decoded date, sex) of the person NIK

    @classmethod
    def validate(cls, name: str, fm: FieldMap, entity: Entity) -> None:
        super().validate(name, fm, entity)
        if fm.null_values or fm.remove:
            raise ValueError(f"field {name!r}: NIK/KK have their own cleaning; drop null_values/remove")

    def source_text(self, t: ir.Table) -> dict[str, ir.Value]:
        return {self.col("raw"): strip(self.source(t, self.fm.columns[0]))}

    def _day(self, dd: ir.IntegerValue) -> ir.StringValue:
        """The day of month of digits 7-8 as two digits (a woman's NIK adds 40 to the day)."""
        return (
            (ibis.ifelse(dd > 40, dd - 40, dd) if self.fm.type == "nik" else dd).cast("string").lpad(2, "0")
        )

    def prepare(self) -> list[Stage]:
        def plain(s: ir.Table) -> dict[str, ir.Value]:
            return {self.col("plain"): s[self.col("raw")].re_search(DIGITS).fill_null(False)}

        def parse(s: ir.Table) -> dict[str, ir.Value]:
            raw, is_plain = s[self.col("raw")], s[self.col("plain")]
            float_form = raw.re_search(r"^\d+\.0$")
            sci = raw.re_search(r"^[+]?\d(?:[.,]\d+)?[eE][+]?\d{1,2}$")
            slow = ibis.ifelse(float_form.fill_null(False), raw.re_replace(r"\.0$", ""), raw)
            return {
                self.col("plain"): is_plain,
                self.col("float"): ibis.ifelse(is_plain, False, float_form).fill_null(False),
                self.col("sci"): ibis.ifelse(is_plain, False, sci).fill_null(False),
                self.col("digits"): ibis.ifelse(is_plain, raw, slow.re_replace(r"[\s.\-/_']", "")),
            }

        return [plain, parse]

    def _heads_known(self, prefix: ir.StringValue, kec: ir.BooleanValue) -> tuple[ir.Value, ir.Value]:
        """(province, kabupaten of ``prefix`` known), given ``kec`` (its kecamatan known, a column of an
        earlier step): a known kecamatan implies both, so the heads are compared (IN lists of constants,
        evaluated only where ``kec`` is false) on the few other rows instead of two more joins of all."""
        if not self.ctx.prefix_codes:  # no list of the prefixes given: each head joined as well
            kode = self.ctx.prefixes.kode
            prov, kab = prefix.substr(0, 2).isin(kode), prefix.substr(0, 4).isin(kode)
            return prov.fill_null(False), kab.fill_null(False)
        provinces, kabupaten = _heads(self.ctx.prefix_codes)
        prov = ibis.ifelse(kec, True, prefix.substr(0, 2).isin(provinces)).fill_null(False)
        kab = ibis.ifelse(kec, True, prefix.substr(0, 4).isin(kabupaten)).fill_null(False)
        return prov, kab

    def derive(self) -> list[Stage]:
        today = self.ctx.today

        def decode(p: ir.Table) -> dict[str, ir.Value]:
            digits = p[self.col("digits")]
            dd = digits.substr(6, 2).try_cast("int64")
            mm, yy = digits.substr(8, 2), digits.substr(10, 2)
            century = ibis.ifelse(yy.try_cast("int64") <= today.year % 100, "20", "19")
            recent = (century + yy + "-" + mm + "-" + self._day(dd)).try_cast("date")
            prefix = digits.substr(0, 6)
            kode = self.ctx.prefixes.kode  # the 6-digit prefixes and their 2- and 4-digit heads
            # the one join of the prefix (a named step: the heads below read its result)
            kec = ((prefix.length() == 6) & prefix.isin(kode)).fill_null(False)
            return {self.col("dd"): dd, self.col("recent"): recent, self.col("kec"): kec}

        def facts(s: ir.Table) -> dict[str, ir.Value]:
            raw, digits, float_form = s[self.col("raw")], s[self.col("digits")], s[self.col("float")]
            dd, recent = s[self.col("dd")], s[self.col("recent")]
            # MISSING_TOKENS are at most 4 characters: a longer value is not one of them
            token = (raw.length() <= 4) & raw.upper().isin(MISSING_TOKENS)
            len16 = (digits.length() == 16).fill_null(False)
            kec = s[self.col("kec")]
            prov, kab = self._heads_known(digits.substr(0, 6), kec)
            # the latest date with these digits that is not in the future (as check_nik decodes it)
            older = ("19" + digits.substr(10, 2) + "-" + digits.substr(8, 2) + "-" + self._day(dd)).try_cast(
                "date"
            )
            return {
                self.col("missing"): (raw.isnull() | token).fill_null(True),
                self.col("numeric"): (s[self.col("plain")] | digits.re_search(DIGITS)).fill_null(False),
                self.col("len16"): len16,
                self.col("imprecise"): (float_form & len16 & (digits > "9007199254740992")).fill_null(False),
                self.col("prov"): prov,
                self.col("kab"): kab,
                self.col("kec"): kec,
                self.col("decoded"): ibis.ifelse(recent > ibis.literal(today), older, recent),
                self.col("serial0"): (digits.substr(12, 4) == "0000").fill_null(False),
                self.col("reformatted"): ((digits != raw) & ~float_form).fill_null(False),
                self.col("sex"): ibis.ifelse(dd > 40, 2, 1),
            }

        return [decode, facts]

    def check(self, p: ir.Table) -> dict[str, ir.Value]:
        kind, c = self.prefix, {k: p[self.col(k)] for k in self.checked}
        missing, sci, numeric, len16 = c["missing"], c["sci"], c["numeric"], c["len16"]
        shape_ok = ~missing & ~sci & numeric & len16 & ~c["imprecise"]
        self.flag(missing, f"{kind}_missing")
        self.flag(~missing & sci, f"{kind}_excel_scientific")
        self.flag(~missing & ~sci & c["imprecise"], f"{kind}_float_precision")
        self.flag(~missing & ~sci & ~numeric, f"{kind}_not_numeric")
        self.flag(~missing & ~sci & numeric & ~len16, f"{kind}_length")
        self.flag(shape_ok & ~c["prov"], f"{kind}_province_unknown")
        self.flag(shape_ok & c["prov"] & ~c["kab"], f"{kind}_kabupaten_unknown")
        self.flag(shape_ok & c["prov"] & c["kab"] & ~c["kec"], f"{kind}_kecamatan_unknown", "warning")
        self.flag(shape_ok & c["decoded"].isnull(), f"{kind}_{self.date_meaning[self.fm.type]}_date_invalid")
        self.flag(shape_ok & c["serial0"], f"{kind}_serial_zero")
        self.flag(shape_ok & c["reformatted"], f"{kind}_reformatted", "warning")
        valid = shape_ok & c["prov"] & c["kab"] & c["decoded"].notnull() & ~c["serial0"]
        if self.fm.type == "nik":
            self.person = (valid, c["decoded"], c["sex"])
        return {self.name: ibis.ifelse(valid, c["digits"], NULL_STR)}

    def cross_check(self, values: dict[str, ir.Value]) -> list[Finding]:
        """The row's own NIK against its birth date and sex (a NIK is never reissued: warnings)."""
        if self.name != PERSON_NIK or self.person is None:
            return []
        valid, decoded, sex = self.person
        out = []
        if "tanggal_lahir" in values:
            born = values["tanggal_lahir"]
            differs = (
                (decoded.day() != born.day())
                | (decoded.month() != born.month())
                | ((decoded.year() % 100) != (born.year() % 100))
            )
            out.append(
                Finding(valid & born.notnull() & differs, "warning", "nik_birth_date_mismatch", self.name)
            )
        if "jenis_kelamin" in values:
            born_sex = values["jenis_kelamin"]
            mismatch = valid & born_sex.notnull() & (born_sex != sex)
            out.append(Finding(mismatch, "warning", "nik_sex_mismatch", self.name))
        return out
