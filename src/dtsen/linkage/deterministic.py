"""Stage 1: a valid NIK equal to one Dukcapil NIK links directly when the person's name and birth date agree.

The NIK alone is never enough: relatives' NIKs are borrowed and typed into each other's rows, so the
first name (or, when the word order differs, the whole sorted name) must agree too, and the birth date
(allowing the usual slips: day and month swapped, an unknown date entered as 1 January, one wrong digit
of the year). Registry rows without a birth date (PLN, vehicles, land) need a strong full-name match
instead (close, reordered or contained). A surname alone never corroborates: family members rarely share one, and when they do (Batak
marga) that is exactly the borrowed-NIK case. Everything runs as one engine query (DuckDB or Spark).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from dtsen.engine import Engine
from dtsen.linkage.config import Deterministic

RULE_DATE = "nik+nama_depan+tanggal_lahir"
RULE_NAME = "nik+nama_lengkap"


def spine_nik_ganda(records: ir.Table) -> ir.Table:
    """Dukcapil NIKs held by more than one register row (column ``nik``)."""
    spine = records.filter(records.spine & records.nik.notnull())
    counts = spine.group_by("nik").agg(n=spine.count())
    return counts.filter(counts.n > 1).select("nik")


def date_agrees(a: ir.DateValue, b: ir.DateValue) -> ir.BooleanValue:
    """Same birth date up to a swapped day/month, a 1 January placeholder, or one mistyped year digit."""
    same_day = (a.month() == b.month()) & (a.day() == b.day())
    swapped = (a.year() == b.year()) & (a.month() == b.day()) & (a.day() == b.month())
    placeholder = (a.year() == b.year()) & (
        ((a.month() == 1) & (a.day() == 1)) | ((b.month() == 1) & (b.day() == 1))
    )
    year_typo = same_day & (a.year().cast("string").levenshtein(b.year().cast("string")) == 1)
    return ((a == b) | swapped | placeholder | year_typo).fill_null(False)


def corroborated(eng: Engine, r: ir.Table, cfg: Deterministic) -> ir.BooleanValue:
    """The rule on a joined row with record fields and spine fields prefixed ``s_``.

    Names agree when the first tokens are similar, or the sorted tokens are (word order swapped), or the
    names written without spaces are (DEWISARTINI / DEWI SARTINI), or the shorter name's words are all in
    the longer one and include its first word or at least two words (a dropped middle or last name;
    never a shared surname alone). Without two birth dates, the full name must also be close or contained.
    """
    first = eng.jaro_winkler(r.nama_depan, r.s_nama_depan) >= cfg.first_name_jw
    ordered = eng.jaro_winkler(r.nama_urut, r.s_nama_urut) >= cfg.sorted_name_jw
    joined = eng.jaro_winkler(r.nama.replace(" ", ""), r.s_nama.replace(" ", "")) >= cfg.sorted_name_jw
    a, b = r.nama.split(" "), r.s_nama.split(" ")
    shared = a.intersect(b).length()
    shorter = ibis.least(a.unique().length(), b.unique().length())
    contained = (shared == shorter) & ((shared >= 2) | (r.nama_depan == r.s_nama_depan))
    name_ok = (first | ordered | joined | contained).fill_null(False)
    full = ((eng.jaro_winkler(r.nama, r.s_nama) >= cfg.strong_name_jw) | contained | ordered).fill_null(False)
    both_dates = r.tanggal_lahir.notnull() & r.s_tanggal_lahir.notnull()
    return name_ok & ibis.ifelse(both_dates, date_agrees(r.tanggal_lahir, r.s_tanggal_lahir), full)


def deterministic_links(eng: Engine, records: ir.Table, cfg: Deterministic) -> ir.Table:
    """(rid, rid_spine, aturan) for every non-spine record the rule links to the register."""
    ganda = spine_nik_ganda(records)
    spine = records.filter(records.spine & records.nik.notnull()).anti_join(ganda, "nik")
    s = spine.select(
        s_nik=spine.nik,
        rid_spine=spine.rid,
        s_nama=spine.nama,
        s_nama_depan=spine.nama_depan,
        s_nama_urut=spine.nama_urut,
        s_tanggal_lahir=spine.tanggal_lahir,
    )
    src = records.filter(~records.spine & records.nik.notnull())
    j = src.join(s, src.nik == s.s_nik)
    j = j.filter(corroborated(eng, j, cfg))
    rule = ibis.ifelse(j.tanggal_lahir.notnull() & j.s_tanggal_lahir.notnull(), RULE_DATE, RULE_NAME)
    return j.select("rid", "rid_spine", aturan=rule)
