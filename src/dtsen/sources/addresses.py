"""Addresses as link evidence: the street part of a free-text address, in one canonical spelling.

Agencies write the same address differently. The population register keeps the street or kampung in
``ALAMAT`` and RT, RW and the region in their own columns; a utility or a bansos list puts everything in
one text (``KP. CIBODAS RT 002/003 DS. SUKAMAJU KEC. X KAB. GARUT``). Compared as written, the two never
agree, so an exact address match was rarer among true matches than among random pairs and the model
learnt it as evidence *against* a match. The region is compared on its own (``kode_desa``, which the
gazetteer resolves from those same names), so only the street part is kept, in one spelling, and RT/RW
apart (``rt_rw``: from the register's own columns, else read from the text), since two neighbours of one
kampung with the same name (common with one-word Sundanese names) differ only there.

Written as ibis expressions with patterns DuckDB (RE2) and Spark (Java) read alike: no look-arounds, no
back references, word edges as spaces (the text is padded) rather than ``\\b``.
"""

from __future__ import annotations

import ibis.expr.types as ir

# everything from RT/RW onwards: "RT 002/003", "RT.2 RW.3", "RT/RW 002/003", "RT002" (region follows)
_RT_RW = r" (?:RT|RW)(?: |[0-9]).*$"
# everything from a region marker onwards: the desa, kecamatan, kabupaten and province names
_REGION = r" (?:DS|DESA|KEL|KELURAHAN|KEC|KECAMATAN|KAB|KABUPATEN|PROV|PROVINSI) .*$"
# spelling variants of the words an Indonesian street address starts with, one spelling each
VARIANTS = (
    (r" (?:KAMPUNG|KAMP|KMP|KPG) ", " KP "),
    (r" (?:JALAN|JLN) ", " JL "),
    (r" GANG ", " GG "),
    (r" (?:DSN|DUS) ", " DUSUN "),
    (r" (?:NOMOR|NOMER|NMR) ", " NO "),
    (r" (?:PERUMAHAN|PERUM) ", " PERUM "),
)


def street(value: ir.StringValue) -> ir.StringValue:
    """The canonical street part of an address (null when nothing is left): upper case, letters and
    digits only, RT/RW and the region names that follow cut off, KAMPUNG/KP./JALAN/JL. variants spelt
    one way. An address that is only a region (``DESA X``) gives null: no evidence rather than a false
    agreement of two records of one desa."""
    s = " " + value.upper().re_replace(r"[^A-Z0-9]+", " ") + " "
    s = s.re_replace(_RT_RW, " ").re_replace(_REGION, " ")
    for pattern, canonical in VARIANTS:
        s = s.re_replace(pattern, canonical)
    return s.re_replace(r" +", " ").strip().nullif("")


# RT and RW numbers in a padded, letters-and-digits-only text: "RT 002 003", "RT 02 RW 03", "RT RW 2 3"
_RT = r" RT ?(?:RW ?)?0*([0-9]+) "
_RW = r" RT ?(?:RW ?)?[0-9]+ ?(?:RW ?)?0*([0-9]+) "


def _number(value: ir.StringValue) -> ir.StringValue:
    """A number without leading zeros ("005" -> "5"); anything else null."""
    return value.strip().re_extract(r"^0*([0-9]+)$", 1).nullif("")


def rt_rw(address: ir.StringValue, rt: ir.StringValue, rw: ir.StringValue) -> ir.StringValue:
    """RT and RW as ``"<rt>/<rw>"`` without leading zeros: from the ``rt`` and ``rw`` columns when both
    hold a number, else read from the free-text ``address`` (``RT 002/003``, ``RT.2 RW.3``,
    ``RT/RW 002/003``); null when neither gives both."""
    columns = _number(rt) + "/" + _number(rw)
    s = " " + address.upper().re_replace(r"[^A-Z0-9]+", " ") + " "
    found = s.re_extract(_RT, 1).nullif("") + "/" + s.re_extract(_RW, 1).nullif("")
    return columns.coalesce(found)
