"""Golden person: one row per id_dtsen with every canonical ``anggota`` attribute after survivorship.

Identity, demography, vital status and address come from the population register (for people not in
it: their most recent record); socio-economic facts (education, work, business, difficulty, health,
programs) from the most recent field observation (the sources of kind ``field`` in the linkage
settings: Regsosek, DTKS, P3KE by default; by tanggal_data, ties to the lower rank). Every chosen value
keeps where it came from (``_src_<attribute>``: the record's file and tanggal_data in one integer),
which becomes provenance.parquet without a join back to the records.

Two engine queries: every record's place in the order of preference (a narrow table), then one pass
taking, per attribute, the value (and source key) of the best-placed record where it is not null. That
pass runs per bucket of consecutive id_dtsen (:func:`bucket_cuts`, :func:`in_buckets`) when the
records outgrow the engine's memory: DuckDB's window operator does not spill as its sorts and joins do
(at 1 M persons, 2.7 M anggota records, the single pass runs out of an 800 MB memory_limit).
"""

from __future__ import annotations

import itertools

import ibis
import ibis.expr.types as ir

from dtsen.canonical.model import entity
from dtsen.linkage.inputs import ROW_SPACE

IDENTITY_GROUPS = ("Identity", "Presence and vital status", "Location")
FROM_REGISTER = ("pendidikan_siak", "pekerjaan_siak")  # SIAK's own coding of education and occupation
NOT_GOLDEN = frozenset(
    {"id_anggota", "id_anggota_sumber", "id_keluarga", "status_padan", "umur", "desil_kesejahteraan"}
    | {"sumber", "batch_id", "berkas", "baris", "tanggal_data", "flags"}
)
# Dukcapil SHDK (11 codes) -> Regsosek relationship (8 codes), when no field source gives it
SHDK_TO_HUBUNGAN = {1: 1, 2: 2, 3: 2, 4: 3, 5: 4, 6: 5, 7: 6, 8: 6, 9: 8, 10: 7, 11: 8}
SRC_PREFIX = "_src_"  # golden column: where the attribute's value came from (see source_key)
DAY_SPAN = 2**32  # source key = file index x DAY_SPAN + DAY_OFFSET + tanggal_data in days since 1970
DAY_OFFSET = 2**31


def attribute_sets() -> tuple[list[str], list[str]]:
    """(identity attributes, field attributes) of the canonical anggota entity."""
    identity, field = [], []
    for group, fields in entity("anggota").groups():
        for f in fields:
            if f.name in NOT_GOLDEN:
                continue
            (identity if group in IDENTITY_GROUPS or f.name in FROM_REGISTER else field).append(f.name)
    return identity, field


def record_order(anggota: ir.Table, field_sources: list[str], spine_source: str) -> ir.Table:
    """(rid, o_id, o_field): each record's place in the order of preference for identity attributes
    (register first, then recency) and for field attributes (``field_sources`` by recency, ties to the
    earlier in that list, i.e. the lower rank; null for other sources), 0 = best, ties to the lower rid,
    null when unranked (no tanggal_data). A global order over a narrow table, so the golden pass sorts
    each person's rows by one unique integer instead of comparing sources and dates."""
    order = {s: len(field_sources) - i for i, s in enumerate(field_sources)}
    priority = ibis.cases(*[(anggota.sumber == s, p) for s, p in order.items()], else_=0).cast("int64")
    days = anggota.tanggal_data.epoch_days().cast("int64")
    t = anggota.select(
        "rid",
        _rank_id=(anggota.sumber == spine_source).cast("int64") * 10**9 + days * 10,
        _rank_field=ibis.ifelse(priority > 0, days * 10 + priority, ibis.null("int64")),
        _days=days,
    )

    def position(rank: ir.IntegerValue) -> ir.IntegerValue:
        pos = ibis.row_number().over(order_by=[ibis.desc(rank), t.rid])
        return ibis.ifelse(rank.notnull(), pos, ibis.null("int64"))

    return t.select(
        "rid", o_id=position(t._rank_id), o_field=position(t._rank_field), _src=source_key(t.rid, t._days)
    )


def source_key(rid: ir.IntegerValue, days: ir.IntegerValue) -> ir.IntegerValue:
    """The record's file (hence source and batch) and tanggal_data as one integer: the golden aggregation
    carries one value per attribute, and provenance decodes it without joining the records again."""
    return (rid // ROW_SPACE) * DAY_SPAN + DAY_OFFSET + days


def golden_persons(anggota: ir.Table, spine_source: str) -> ir.Table:
    """Golden persons from ``anggota`` rows carrying rid, id_dtsen and their :func:`record_order`:
    id_dtsen, every attribute, di_dukcapil, then ``_src_<attribute>`` (:func:`source_key` of the record
    each value came from, null when none has it), sorted by id_dtsen. A person is golden when at least
    one record is ranked (has tanggal_data).

    Per attribute, the first non-null value in the person's order of preference: window functions over
    one sort per ordering (about twice as fast at 1 M persons as a grouped arg_min per attribute, whose
    hash table holds every attribute's state for every person at once)."""
    identity, field = attribute_sets()

    def best(t: ir.Table, attrs: list[str], key: ir.IntegerValue, **extra: ir.Value) -> ir.Table:
        order = ibis.asc(key, nulls_first=False)  # positions are unique: no ties
        whole = ibis.window(group_by=t.id_dtsen, order_by=order, preceding=None, following=None)
        ranked = key.notnull()
        values: dict[str, ir.Value] = {}
        sources: dict[str, ir.Value] = {}
        for a in attrs:
            value = ibis.ifelse(ranked, t[a], ibis.null(t[a].type()))
            values[a] = value.first(include_null=False).over(whole)
            src = ibis.ifelse(ranked & t[a].notnull(), t._src, ibis.null("int64"))
            sources[f"{SRC_PREFIX}{a}"] = src.first(include_null=False).over(whole)
        pos = ibis.row_number().over(group_by=t.id_dtsen, order_by=order)
        top = t.select("id_dtsen", _pos=pos, _ranked=ranked, **values, **extra, **sources)
        return top.filter(top._pos == 0).drop("_pos")

    t = anggota
    di_dukcapil = (t.sumber == spine_source).any().over(group_by=t.id_dtsen)
    ident = best(t, identity, t.o_id, di_dukcapil=di_dukcapil)
    ident = ident.filter(ident._ranked).drop("_ranked")  # the best record is unranked: nobody's golden
    f = anggota.filter(anggota.o_field.notnull())  # field facts only over field records (about half)
    facts = best(f, field, f.o_field).drop("_ranked")
    j = ident.left_join(facts, "id_dtsen")
    src = [f"{SRC_PREFIX}{a}" for a in identity + field]
    grouped = j.select("id_dtsen", *identity, *field, "di_dukcapil", *src)
    hub = grouped.hubungan_siak
    from_shdk = ibis.cases(*[(hub == k, v) for k, v in SHDK_TO_HUBUNGAN.items()], else_=ibis.null("int8"))
    hubungan = ibis.coalesce(grouped.hubungan, from_shdk.cast(grouped.hubungan.type()))
    return grouped.mutate(hubungan=hubungan).order_by("id_dtsen")


def bucket_cuts(ids: ir.Table, records_per_bucket: int) -> ir.Table:
    """The first id_dtsen of every bucket but the first, in order: buckets of consecutive persons (in
    id_dtsen order) of about ``records_per_bucket`` records each; a person's records stay in one bucket.
    ``ids``: one row per record (column id_dtsen). A cumulative count over one row per person (a narrow
    window, ordered as golden is)."""
    n = ids.group_by("id_dtsen").aggregate(n=ids.count())
    before = n.n.sum().over(ibis.window(order_by=n.id_dtsen, preceding=None, following=0)) - n.n
    b = n.select("id_dtsen", bucket=before // records_per_bucket)
    cuts = b.group_by("bucket").aggregate(lo=b.id_dtsen.min())
    return cuts.filter(cuts.bucket > 0).order_by("bucket").select("lo")


def in_buckets(t: ir.Table, cuts: list[str]) -> list[ir.Table]:
    """``t``'s rows per bucket of id_dtsen (``cuts``: :func:`bucket_cuts`), in id_dtsen order: a query
    per bucket, each sorting and holding in windows only its bucket's rows; written one after the other,
    parts sorted by id_dtsen are the whole table sorted."""
    parts = []
    for lo, hi in itertools.pairwise([None, *cuts, None]):
        part = t
        if lo is not None:
            part = part.filter(part.id_dtsen >= lo)
        if hi is not None:
            part = part.filter(part.id_dtsen < hi)
        parts.append(part)
    return parts


def person_provenance(golden: ir.Table, files: dict[int, tuple[str, str]]) -> ir.Table:
    """(entitas, id, atribut, sumber, batch_id, tanggal_data) for every golden attribute with a value, in
    golden's row order (one table unpivoted, no join: DuckDB keeps the order, so no sort is needed).
    ``files``: file index -> (sumber, batch_id)."""
    src_cols = [c for c in golden.columns if c.startswith(SRC_PREFIX)]
    long = golden.select("id_dtsen", *src_cols).pivot_longer(
        src_cols,
        names_to="atribut",
        values_to="src",
        names_transform=lambda name: ibis.literal(name).substr(len(SRC_PREFIX)),
    )
    long = long.filter(long.src.notnull())
    file = long.src // DAY_SPAN
    days = long.src % DAY_SPAN - DAY_OFFSET

    def lookup(i: int) -> ir.StringValue:
        return ibis.cases(*[(file == k, v[i]) for k, v in sorted(files.items())], else_=ibis.null("string"))

    return long.select(
        entitas=ibis.literal("person"),
        id=long.id_dtsen,
        atribut=long.atribut,
        sumber=lookup(0),
        batch_id=lookup(1),
        tanggal_data=(ibis.date("1970-01-01") + days.as_interval("D")).cast("date"),
    )
