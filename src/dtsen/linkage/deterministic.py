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
TAHUN = "tahun_lahir"  # birth year, of the date or from an age; a record table built by hand may lack it


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


def years_apart(
    lahir_a: ir.DateValue, lahir_b: ir.DateValue, tahun_a: ir.IntegerValue, tahun_b: ir.IntegerValue
) -> ir.BooleanValue:
    """Birth data that cannot be one person's: two dates more than a year (366 days) apart, else birth
    years (one from an age, a year off around the birthday) more than one apart; never the usual slips
    of :func:`date_agrees`, never when unknown. With two dates the days count: siblings born 13 months
    apart differ by one in the year, and a year mistyped by one (1999 for 2000) stays within 366 days."""
    both = lahir_a.notnull() & lahir_b.notnull()
    days = lahir_a.delta(lahir_b, unit="day").abs() > 366
    years = (tahun_a - tahun_b).abs() > 1
    return (ibis.ifelse(both, days, years) & ~date_agrees(lahir_a, lahir_b)).fill_null(False)


def _names(eng: Engine, r: ir.Table, cfg: Deterministic, a: str, b: str) -> tuple[ir.BooleanValue, ...]:
    """(names agree, full name close or contained) between the columns prefixed ``a`` and ``b``."""
    nama_a, nama_b = r[f"{a}nama"], r[f"{b}nama"]
    depan_a, depan_b = r[f"{a}nama_depan"], r[f"{b}nama_depan"]
    first = eng.jaro_winkler_at_least(depan_a, depan_b, cfg.first_name_jw)
    ordered = eng.jaro_winkler_at_least(r[f"{a}nama_urut"], r[f"{b}nama_urut"], cfg.sorted_name_jw)
    joined = eng.jaro_winkler_at_least(nama_a.replace(" ", ""), nama_b.replace(" ", ""), cfg.sorted_name_jw)
    words_a, words_b = nama_a.split(" "), nama_b.split(" ")
    shared = words_a.intersect(words_b).length()
    shorter = ibis.least(words_a.unique().length(), words_b.unique().length())
    contained = (shared == shorter) & ((shared >= 2) | (depan_a == depan_b))
    name_ok = (first | ordered | joined | contained).fill_null(False)
    full = (eng.jaro_winkler_at_least(nama_a, nama_b, cfg.strong_name_jw) | contained | ordered).fill_null(
        False
    )
    # the same name and first name pass both tests (Jaro-Winkler 1): most pairs of the NIK join are so,
    # and a CASE spares them the similarity and word-list work (a fifth of the linkage's CPU at 1 M)
    same = ((nama_a == nama_b) & (depan_a == depan_b)).fill_null(False)
    return ibis.ifelse(same, True, name_ok), ibis.ifelse(same, True, full)


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


# words that say whose daughter (Batak boru) or which sex (Balinese I/NI), not who: the same person is
# written with and without them, and two persons share them
NAME_PARTICLES = ("BR", "BORU", "I", "NI")


def _own_words(
    eng: Engine, r: ir.Table, cfg: Deterministic, a: str, b: str
) -> tuple[ir.BooleanValue, ir.BooleanValue]:
    """(the names agree, the names are both known) between the columns prefixed ``a`` and ``b``, judged on
    what tells two persons apart: the words one name has and the other lacks, boru and I/NI left out.

    A shared marga (``YOHANA BR GINTING`` / ``HOTMAN GINTING``), ``SITI``/``MUHAMMAD`` or a Balinese
    birth-order name keeps two different persons' full names above the model's weakest name level
    (Jaro-Winkler 0.80); their own words (``YOHANA`` / ``HOTMAN``) are not. The names agree when those
    words are as close as stage 1 wants first names (``first_name_jw``; ``RAHMAD SAPUTRA`` / ``MUHAMMAD
    SYAHPUTRA`` are 0.86), or are the same words in another order, or one name's words are all in the
    other (a dropped name: at least two shared words or the same first word, never a marga alone).
    ``DEWISARTINI`` stays close to ``DEWI SARTINI``."""
    particles = ibis.literal(list(NAME_PARTICLES), type="array<string>")
    words_a = r[f"{a}nama"].split(" ").filter(lambda w: ~particles.contains(w) & (w != ""))
    words_b = r[f"{b}nama"].split(" ").filter(lambda w: ~particles.contains(w) & (w != ""))
    only_a = words_a.filter(lambda w: ~words_b.contains(w))
    only_b = words_b.filter(lambda w: ~words_a.contains(w))
    shared = words_a.unique().length() - only_a.unique().length()
    shorter = ibis.least(words_a.unique().length(), words_b.unique().length())
    contained = (shared == shorter) & ((shared >= 2) | (words_a[0] == words_b[0]))
    close = eng.jaro_winkler_at_least(only_a.join(" "), only_b.join(" "), cfg.first_name_jw)
    reordered = (only_a.length() == 0) & (only_b.length() == 0)
    known = (words_a.length() > 0) & (words_b.length() > 0)
    return (contained | close | reordered).fill_null(False), known.fill_null(False)


def conflicting(eng: Engine, r: ir.Table, cfg: Deterministic) -> ir.BooleanValue:
    """A scored pair (fields prefixed ``l_`` and ``r_``) whose names and birth data both disagree.

    The Splink model can still rate such a pair a match when NIK, KK and address agree: a person missing
    from the register whose form carries a household member's NIK, or a child not yet on the family card
    who shares the household's KK, address and marga (issue 14: 543 false merges on one export). Names
    disagree when the words that differ between the names are not close (:func:`_own_words`; stage 1's
    tests on whole names let the shared marga through: sorted, ``GINTING HOTMAN`` is close to ``GINTING
    YOHANA``); birth data disagree when the two birth dates are more than a year apart (else the birth
    years, of the date or from the age, more than one year apart) and the dates are not the usual slips
    (:func:`date_agrees`). Unknown is not a disagreement."""
    agree, known = _own_words(eng, r, cfg, "l_", "r_")
    names_differ = (~agree & known).fill_null(False)
    birth_differs = years_apart(r.l_tanggal_lahir, r.r_tanggal_lahir, r.l_tahun_lahir, r.r_tahun_lahir)
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
        s_tahun_lahir=spine[TAHUN] if TAHUN in records.columns else ibis.null("int32"),
    )
    src = records.filter(~records.spine & records.nik.notnull())
    j = src.join(s, src.nik == s.s_nik)
    # without two birth dates, an age more than a year off the register's birth year never links: a son
    # named after his father and carrying his NIK on a form with an age (issue 14, kota set)
    tahun = j[TAHUN] if TAHUN in records.columns else ibis.null("int32")
    one_date = j.tanggal_lahir.isnull() | j.s_tanggal_lahir.isnull()
    age_off = (one_date & ((tahun - j.s_tahun_lahir).abs() > 1)).fill_null(False)
    j = j.filter(corroborated(eng, j, cfg) & ~age_off)
    rule = ibis.ifelse(j.tanggal_lahir.notnull() & j.s_tanggal_lahir.notnull(), RULE_DATE, RULE_NAME)
    return j.select("rid", "rid_spine", aturan=rule)
