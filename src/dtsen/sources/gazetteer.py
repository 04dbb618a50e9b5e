"""Region codes from region NAMES: the gazetteer kinds ``region_name`` and ``region_address``.

Agency lists often name the village and kecamatan instead of coding them (a bansos list), or give only a
free-text address (an electricity customer list). Both sides of the lookup, the official names of
:func:`dtsen.reference.regions.regions` and the names in the file, go through one Ibis expression,
:func:`name_key`, so that spelling variants meet on one key:

1. accents and look-alike letters folded to ASCII and upper case (:func:`dtsen.sources.names.fold`);
2. every run of characters other than A-Z and 0-9 becomes one space (``SALA'AS`` -> ``SALA AS``);
3. the leading words that say what kind of region it is are dropped: desa ``DS DESA KEL KELURAHAN
   NAGARI GAMPONG KAMPUNG KAMPONG``; kecamatan ``KEC KECAMATAN DISTRIK``; province ``PROV PROVINSI DKI
   DI DAERAH KHUSUS IBUKOTA DAERAH KHUSUS DAERAH ISTIMEWA``. A kabupaten/kota keeps its kind as a marker
   (``KAB. BANDUNG`` -> ``KAB:BANDUNG``, ``KOTA ADM. JAKARTA PUSAT`` -> ``KOTA:JAKARTAPUSAT``) and a name
   written without one gets the bare key (``BANDUNG``), which the official list gives both Bandungs;
4. spaces removed (``SUKA MAJU`` = ``SUKAMAJU``);
5. the pre-1972 spellings folded to the current ones: ``OE``->``U``, ``DJ``->``J``, ``TJ``->``C``,
   ``NJ``->``NY``, ``SJ``->``SY``, ``CH``->``KH``. A plain old ``J`` for today's ``Y`` is not folded: it
   cannot be told from today's ``J``.

The gazetteer of a field is one reference table, ``gkey -> (kode, n)``: the key of the name at the
field's level joined by ``|`` with the keys of its parents' names, every parent also as ``*`` (for a row
that leaves that parent empty), limited to the ``within`` prefix. ``n`` counts the regions a key names:
more than one is ambiguous (no code). The table is joined to the file by the engine (one left join per
field, :class:`~dtsen.sources.fields.Lookup`), never looked up row by row in Python.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from functools import cache

import ibis
import ibis.expr.types as ir
import polars as pl
import pyarrow as pa

from dtsen.canonical.model import Entity
from dtsen.reference import regions
from dtsen.sources.fields import (
    NULL_STR,
    REGION_WIDTHS,
    FieldKind,
    Lookup,
    Stage,
)
from dtsen.sources.mapping import FieldMap
from dtsen.sources.names import NON_ASCII, fold, full_upper

# the levels from the most specific up, as the region fields name them, and the code width of each
LEVELS = ("kode_desa", "kode_kec", "kode_kab", "kode_prov")
LEVEL_OF_REGIONS = {
    "kode_desa": "desa",
    "kode_kec": "kecamatan",
    "kode_kab": "kabupaten",
    "kode_prov": "provinsi",
}
KIND_WORDS = {
    "kode_desa": "DS|DESA|KEL|KELURAHAN|NAGARI|GAMPONG|KAMPUNG|KAMPONG",
    "kode_kec": "KEC|KECAMATAN|DISTRIK",
    "kode_prov": "PROV|PROVINSI|DKI|DI|DAERAH KHUSUS IBUKOTA|DAERAH KHUSUS|DAERAH ISTIMEWA",
}
OLD_SPELLINGS = (("OE", "U"), ("DJ", "J"), ("TJ", "C"), ("NJ", "NY"), ("SJ", "SY"), ("CH", "KH"))
ANY = "*"  # a parent the row leaves empty

# Markers of a free-text address (the name follows the marker). KAMPUNG/KP. is no desa marker there: in
# Java it names a hamlet below the desa (KP. CIBODAS RT 01 DS. SUKAMAJU).
ADDRESS_MARKERS = {
    "kode_desa": "DS|DESA|KEL|KELURAHAN|NAGARI|GAMPONG",
    "kode_kec": "KEC|KECAMATAN|DISTRIK",
    "kode_kab": "KAB|KABUPATEN",
}
ALL_MARKERS = "|".join(ADDRESS_MARKERS.values())
_AFTER = r"(?:[.:]\s*|\s+)"  # between a marker and its name: DS. SUKAMAJU, DS.SUKAMAJU, DESA: SUKAMAJU
# where the last name of an address ends: a comma, RT/RW, the province, a postal code, or the end
_END = r"(?:\s*,|\s+(?:PROV|PROVINSI|RT|RW|KODE POS|KODEPOS)(?:[^A-Z]|$)|\s+[0-9]{5}(?:[^0-9]|$)|\s*$)"


def _stop(level: str) -> str:
    """Where a name of ``level`` ends: also at the marker of a higher level, as addresses go from desa
    up (not its own or a lower one: GAMPONG is a marker and part of Aceh names, ULEE GAMPONG, KEC. SANGA
    DESA; not KOTA: BUNTOK KOTA, KEC. GARUT KOTA, see KOTA_SPLIT)."""
    levels = list(ADDRESS_MARKERS)
    higher = [ADDRESS_MARKERS[lvl] for lvl in levels[levels.index(level) + 1 :]]
    stops = rf"\s+(?:{'|'.join(higher)})(?:[^A-Z]|$)|" if higher else ""
    return rf"(?:{stops}{_END})"


def address_pattern(level: str) -> str:
    """The regular expression whose group 1 is the name after the first marker of ``level``."""
    return rf"(?:^|[^A-Z])(?:{ADDRESS_MARKERS[level]}){_AFTER}([^,]+?){_stop(level)}"


KAB_PATTERN = rf"(?:^|[^A-Z])((?:KAB|KABUPATEN){_AFTER}[^,]+?){_stop('kode_kab')}"
# KOTA ends many names (BUNTOK KOTA, KEC. MEDAN KOTA, KAB. LIMA PULUH KOTA) and begins others (DS. KOTA
# BARU): the kota is the last KOTA <name> running to the end (or a comma, postal code, RT, province)
# with no marker in it and no desa or kecamatan marker just before it; group 1 is the text before it
KOTA_SPLIT = rf"^(.*[^A-Z])?(KOTA{_AFTER}[^,]+?){_END}"
MARKER_INSIDE = rf"[^A-Z](?:{ALL_MARKERS}){_AFTER}"
LOWER_MARKER_LAST = rf"(?:^|[^A-Z])(?:{ADDRESS_MARKERS['kode_desa']}|{ADDRESS_MARKERS['kode_kec']})[.:]?\s*$"
# an address with none of these is read from its last comma-separated parts
LOWER_MARKER = rf"(?:^|[^A-Z])(?:{ADDRESS_MARKERS['kode_desa']}|{ADDRESS_MARKERS['kode_kec']}){_AFTER}"


def trailing_part(k: int) -> str:
    """The ``k``-th comma-separated part from the end (1 = the last) as group 1."""
    return r"(?:^|,)\s*([^,]*?)\s*" + ",[^,]*" * (k - 1) + "$"


def upper_ascii(v: ir.StringValue) -> ir.StringValue:
    """Upper case, accents and look-alike letters folded to ASCII (only where a letter is not ASCII)."""
    foreign = v.re_search(NON_ASCII).fill_null(False)
    return ibis.ifelse(foreign, full_upper(fold(v)), v.upper())


def name_key(v: ir.StringValue, level: str) -> ir.StringValue:
    """The comparison key of a region name at ``level`` (a region field name); see the module text."""
    s = upper_ascii(v).re_replace(r"[^A-Z0-9]+", " ").strip()
    marker: ir.StringValue = ibis.literal("")
    if level == "kode_kab":
        s = s.re_replace(r"^KABUPATEN\s", "KAB ")
        s = s.re_replace(r"^KAB\s(?:ADM|ADMINISTRASI)\s", "KAB ").re_replace(
            r"^KOTA\s(?:ADM|ADMINISTRASI)\s", "KOTA "
        )
        marker = ibis.ifelse(s.startswith("KAB "), "KAB:", ibis.ifelse(s.startswith("KOTA "), "KOTA:", ""))
        s = ibis.ifelse(marker != "", s.re_replace(r"^\S+\s", ""), s)
    else:
        s = s.re_replace(rf"^(?:(?:{KIND_WORDS[level]})\s)+", "")
    s = s.replace(" ", "")
    for old, new in OLD_SPELLINGS:
        s = s.replace(old, new)
    return ibis.ifelse(s.fill_null("") == "", NULL_STR, marker + s)  # a null name: null, never "KAB:"


def key_of(keys: list[ir.StringValue]) -> ir.StringValue:
    """The lookup key of a row: the first name's key (null: no lookup), then each parent's or ``*``."""
    out = keys[0]
    for k in keys[1:]:
        out = out + "|" + k.fill_null(ANY)
    return ibis.ifelse(keys[0].isnull(), NULL_STR, out)


@cache
def level_keys(level: str) -> pl.DataFrame:
    """``kode, key`` of every region of ``level``, keyed by :func:`name_key` run by DuckDB (the same
    expression the file's names go through); a kabupaten/kota has its marked key and its bare one."""
    names = regions.regions().filter(pl.col("level") == LEVEL_OF_REGIONS[level]).select("kode", "nama")
    table = ibis.memtable(names.to_arrow())
    exprs = [table.select("kode", key=name_key(table.nama, level))]
    if level == "kode_kab":
        bare = table.nama.re_replace(r"^(?:Kabupaten|Kota)\s+(?:Administrasi\s+)?", "")
        exprs.append(table.select("kode", key=name_key(bare, level)))
    con = ibis.duckdb.connect()
    try:
        frames = [pl.from_arrow(con.to_pyarrow(e)) for e in exprs]
    finally:
        con.disconnect()
    return pl.concat(frames).filter(pl.col("key").is_not_null()).unique().sort("kode", "key")  # type: ignore[arg-type]


@cache
def gazetteer(level: str, depth: int, within: str | None) -> pa.Table:
    """The reference table of a field at ``level`` looked up with ``depth`` names (its own and its
    parents'): ``gkey`` (unique), ``kode`` (null when ambiguous) and ``n`` (regions with that key)."""
    first = LEVELS.index(level)
    paths = level_keys(level).rename({"key": "k0"})
    for j in range(1, depth):
        parent = LEVELS[first + j]
        width = REGION_WIDTHS[parent]
        parents = level_keys(parent).rename({"kode": f"p{j}", "key": f"k{j}"})
        named = paths.with_columns(pl.col("kode").str.slice(0, width).alias(f"p{j}"))
        named = named.join(parents, on=f"p{j}").drop(f"p{j}")
        paths = pl.concat([named, paths.with_columns(pl.lit(ANY).alias(f"k{j}"))]).unique()
    if within:
        paths = paths.filter(pl.col("kode").str.starts_with(within))
    keyed = paths.select("kode", gkey=pl.concat_str([f"k{j}" for j in range(depth)], separator="|"))
    out = (
        keyed.unique()
        .group_by("gkey")
        .agg(pl.col("kode").first(), pl.col("kode").n_unique().cast(pl.Int64).alias("n"))
        .with_columns(pl.when(pl.col("n") == 1).then(pl.col("kode")).alias("kode"))
        .sort("gkey")
    )
    schema = pa.schema([("gkey", pa.string()), ("kode", pa.string()), ("n", pa.int64())])
    return out.select("gkey", "kode", "n").to_arrow().cast(schema)  # plain types every engine reads


def within_prefix(name: str, fm: FieldMap) -> str | None:
    """``within`` as digits (``32.04`` -> ``3204``); a ValueError unless it is an existing province or
    kabupaten above the field's level."""
    if fm.within is None:
        return None
    code = fm.within.replace(".", "").strip()
    width = REGION_WIDTHS[name]
    if len(code) not in (2, 4) or not code.isdigit() or len(code) >= width or regions.lookup(code) is None:
        raise ValueError(
            f"field {name!r}: within {fm.within!r} is no province (2 digits) or kabupaten (4 digits) code "
            f"above {name} in the region list"
        )
    return code


class GazetteerField(FieldKind, ABC):
    """What both gazetteer kinds share: the lookup of the names' key, its findings and its value."""

    @abstractmethod
    def levels(self) -> int:
        """How many names (the field's level and its parents) the key joins."""

    @classmethod
    def level_check(cls, name: str, fm: FieldMap) -> None:
        if name not in REGION_WIDTHS:
            raise ValueError(f"field {name!r}: type {fm.type} gives a region code ({', '.join(LEVELS)})")
        if fm.constant is not None:
            raise ValueError(f"field {name!r}: type {fm.type} reads names from 'from', not a constant")
        if fm.pad is not None:
            raise ValueError(f"field {name!r}: pad is for region and string fields")
        within_prefix(name, fm)

    def lookups(self) -> list[Lookup]:
        table = gazetteer(self.name, self.levels(), within_prefix(self.name, self.fm))
        ref = self.ctx.memtable(table)
        return [
            Lookup(
                self.col("key"),
                ref.select(**{self.col("gkey"): ref.gkey, self.col("code"): ref.kode, self.col("n"): ref.n}),
            )
        ]

    def check(self, p: ir.Table) -> dict[str, ir.Value]:
        given, code, n = p[self.col("raw")], p[self.col("code")], p[self.col("n")]
        self.flag((n > 1).fill_null(False), f"{self.name}_ambiguous")
        self.flag(given.notnull() & n.isnull(), f"{self.name}_unknown")
        if self.fm.required:
            self.flag(given.isnull(), f"{self.name}_missing", "error")
        return {self.name: code}


class RegionNameField(GazetteerField):
    """A region code from the names of the region and its parents (``from``, most specific first)."""

    types = ("region_name",)
    several_columns = True

    @classmethod
    def validate(cls, name: str, fm: FieldMap, entity: Entity) -> None:
        cls.level_check(name, fm)
        above = len(LEVELS) - LEVELS.index(name) if name in LEVELS else 0
        if not 1 <= len(fm.columns) <= above:
            raise ValueError(
                f"field {name!r}: 'from' lists the names of {name}'s region and its parents, most specific "
                f"first: 1 to {above} columns (got {len(fm.columns)})"
            )

    def levels(self) -> int:
        return len(self.fm.columns)

    def source_text(self, t: ir.Table) -> dict[str, ir.Value]:
        return {
            self.col("raw") if i == 0 else self.col(f"raw{i}"): self.clean(self.source(t, c))
            for i, c in enumerate(self.fm.columns)
        }

    def dropped(self) -> list[str]:
        return [self.col(f"raw{i}") for i in range(1, len(self.fm.columns))]

    def prepare(self) -> list[Stage]:
        first = LEVELS.index(self.name)

        def keys(s: ir.Table) -> dict[str, ir.Value]:
            names = [s[self.col("raw")], *(s[self.col(f"raw{i}")] for i in range(1, self.levels()))]
            return {self.col("key"): key_of([name_key(v, LEVELS[first + i]) for i, v in enumerate(names)])}

        return [keys]


class RegionAddressField(GazetteerField):
    """A region code from a free-text address: the desa, kecamatan and kabupaten/kota names after their
    markers (``DS. SUKAMAJU KEC. CIBEUNYING KAB. BANDUNG``), or, in an address with no desa or kecamatan
    marker, its last comma-separated parts (``..., SUKAMAJU, CIBEUNYING, BANDUNG``); then the lookup."""

    types = ("region_address",)

    @classmethod
    def validate(cls, name: str, fm: FieldMap, entity: Entity) -> None:
        super().validate(name, fm, entity)
        cls.level_check(name, fm)
        if name == "kode_prov":
            raise ValueError(f"field {name!r}: region_address reads desa, kecamatan and kabupaten names")

    def levels(self) -> int:
        return LEVELS.index("kode_kab") - LEVELS.index(self.name) + 1

    def prepare(self) -> list[Stage]:
        first = LEVELS.index(self.name)
        wanted = LEVELS[first : first + self.levels()]

        def names(s: ir.Table) -> dict[str, ir.Value]:
            up = upper_ascii(s[self.col("raw")])
            # the split (a costly pattern) only where KOTA is written at all
            some = up.contains("KOTA").fill_null(False)
            before = ibis.ifelse(some, up.re_extract(KOTA_SPLIT, 1), NULL_STR)
            kota = ibis.ifelse(some, up.re_extract(KOTA_SPLIT, 2), NULL_STR).strip().nullif("")
            is_kota = (
                kota.notnull()
                & ~kota.re_search(MARKER_INSIDE).fill_null(False)
                & ~before.fill_null("").re_search(LOWER_MARKER_LAST).fill_null(False)
            ).fill_null(False)
            rest = ibis.ifelse(is_kota, before.fill_null(""), up)  # the desa and kecamatan come before it
            found: dict[str, ir.StringValue] = {}
            for level in wanted:
                if level == "kode_kab":
                    kab = rest.re_extract(KAB_PATTERN, 1).strip().nullif("")
                    found[level] = ibis.coalesce(kab, ibis.ifelse(is_kota, kota, NULL_STR))
                else:
                    found[level] = rest.re_extract(address_pattern(level), 1).strip().nullif("")
            unmarked = ~up.re_search(LOWER_MARKER).fill_null(True)
            out: dict[str, ir.Value] = {}
            for i, level in enumerate(wanted):
                part = up.re_extract(trailing_part(len(wanted) - i), 1).strip().nullif("")
                positional = ibis.coalesce(found[level], part)  # ..., CIBEUNYING, KOTA BANDUNG
                out[self.col(f"n{i}")] = ibis.ifelse(unmarked, positional, found[level])
            return out

        def keys(s: ir.Table) -> dict[str, ir.Value]:
            return {
                self.col("key"): key_of(
                    [name_key(s[self.col(f"n{i}")], level) for i, level in enumerate(wanted)]
                )
            }

        return [names, keys]
