"""Stage 1: a valid NIK equal to one Dukcapil NIK links directly when the person's name and birth date agree.

The NIK alone is never enough: relatives' NIKs are borrowed and typed into each other's rows, so the
first name (or, when the word order differs, the whole sorted name) must agree too, and the birth date
(allowing the usual slips: day and month swapped, an unknown date entered as 1 January, one wrong digit
of the year). Registry rows without a birth date (PLN, vehicles, land) need a strong full-name match
instead (close, reordered or contained). A surname alone never corroborates: family members rarely share
one, and when they do (Batak marga) that is exactly the borrowed-NIK case. Everything runs as one engine
query (DuckDB or Spark). The same name test, turned around, says when a Splink pair contradicts itself
(:func:`conflicting`).
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


def _names(eng: Engine, r: ir.Table, cfg: Deterministic, a: str, b: str) -> tuple[ir.BooleanValue, ...]:
    """(names agree, full name close or contained) between the columns prefixed ``a`` and ``b``."""
    nama_a, nama_b = r[f"{a}nama"], r[f"{b}nama"]
    depan_a, depan_b = r[f"{a}nama_depan"], r[f"{b}nama_depan"]
    first = eng.jaro_winkler(depan_a, depan_b) >= cfg.first_name_jw
    ordered = eng.jaro_winkler(r[f"{a}nama_urut"], r[f"{b}nama_urut"]) >= cfg.sorted_name_jw
    joined = eng.jaro_winkler(nama_a.replace(" ", ""), nama_b.replace(" ", "")) >= cfg.sorted_name_jw
    words_a, words_b = nama_a.split(" "), nama_b.split(" ")
    shared = words_a.intersect(words_b).length()
    shorter = ibis.least(words_a.unique().length(), words_b.unique().length())
    contained = (shared == shorter) & ((shared >= 2) | (depan_a == depan_b))
    name_ok = (first | ordered | joined | contained).fill_null(False)
    full = ((eng.jaro_winkler(nama_a, nama_b) >= cfg.strong_name_jw) | contained | ordered).fill_null(False)
    return name_ok, full


def corroborated(eng: Engine, r: ir.Table, cfg: Deterministic) -> ir.BooleanValue:
    """The rule on a joined row with record fields and spine fields prefixed ``s_``.

    Names agree when the first tokens are similar, or the sorted tokens are (word order swapped), or the
    names written without spaces are (DEWISARTINI / DEWI SARTINI), or the shorter name's words are all in
    the longer one and include its first word or at least two words (a dropped middle or last name;
    never a shared surname alone). Without two birth dates, the full name must also be close or contained.
    """
    name_ok, full = _names(eng, r, cfg, "", "s_")
    both_dates = r.tanggal_lahir.notnull() & r.s_tanggal_lahir.notnull()
    return name_ok & ibis.ifelse(both_dates, date_agrees(r.tanggal_lahir, r.s_tanggal_lahir), full)


CONFLICT_NAME_JW = 0.80  # the weakest name level of the Splink model (splink_model, dtsen_nama)


def conflicting(eng: Engine, r: ir.Table, cfg: Deterministic) -> ir.BooleanValue:
    """A scored pair (fields prefixed ``l_`` and ``r_``) whose names and birth data both disagree.

    The Splink model can still rate such a pair a match when NIK, KK and address agree: a person missing
    from the register whose form carries a household member's NIK (issue 14: 543 false merges on one
    export). Names disagree when stage 1's name test fails and the full names are below the model's
    weakest name level; birth data disagree when the birth years (of the date, else from the age) are
    more than a year apart and the dates are not the usual slips (:func:`date_agrees`). Unknown is not
    a disagreement."""
    name_ok, _ = _names(eng, r, cfg, "l_", "r_")
    close = (eng.jaro_winkler(r.l_nama, r.r_nama) >= CONFLICT_NAME_JW).fill_null(False)
    names_differ = (~(name_ok | close) & r.l_nama.notnull() & r.r_nama.notnull()).fill_null(False)
    years_apart = ((r.l_tahun_lahir - r.r_tahun_lahir).abs() > 1).fill_null(False)
    birth_differs = years_apart & ~date_agrees(r.l_tanggal_lahir, r.r_tanggal_lahir)
    return names_differ & birth_differs


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
