"""One person per cluster: records joined to the register by both stages, then residue-only people.

Links are anchored on the register, so clustering is mostly a lookup: a deterministic link puts a
record with its register row; a residue record takes its best register match at or above the
threshold. Residue pairs are then merged by a union-find that refuses to join two different register
rows (two Dukcapil persons are never merged by a chain of weaker links), strongest pair first. A pair
whose names and birth data both disagree (``ditolak``) is not linked by the model at any score. A
clerical decision overrides the model for its pair: ``cocok`` links, ``tidak_cocok`` never links.

Only the accepted pairs (a few per thousand records) are worked on in Python; what every record gets
(its cluster, size, metode, aturan, probabilitas) is one engine query over the record table, so the
national table never sits in driver memory.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import polars as pl

from dtsen.engine import Engine
from dtsen.tables import LinkMethod, ReviewDecision

ADMIN_ENTITIES = frozenset({"kepesertaan_bpjs", "pelanggan_pln", "kendaraan", "bidang_tanah"})

# the per-record facts the accepted pairs give (one row per record they name), as the engine reads them
_PAIR_FACTS = {
    "_rid": pl.Int64,
    "rid_spine_p": pl.Int64,
    "probabilitas": pl.Float64,
    "klerikal": pl.Boolean,
    "rc": pl.Int64,
    "p": pl.Float64,
}


def accepted(match_threshold: float) -> pl.Expr:
    """The pairs that link: a clerk said ``cocok``, or no clerk decided and the model scored the pair at
    or above the threshold without a conflict of names and birth data."""
    undecided = pl.col("keputusan").is_null()
    model = (pl.col("probabilitas") >= match_threshold) & ~pl.col("ditolak") & undecided
    return (pl.col("keputusan") == ReviewDecision.COCOK).fill_null(False) | model


def _find(parent: dict[int, int], x: int) -> int:
    root = x
    while parent.get(root, root) != root:
        root = parent[root]
    while parent.get(x, x) != root:  # path compression
        parent[x], x = root, parent[x]
    return root


def cluster(
    eng: Engine,
    records: ir.Table,
    deterministic: ir.Table,
    pairs: pl.DataFrame,
    sides: pl.DataFrame,
    match_threshold: float,
    model_label: str,
) -> ir.Table:
    """One row per record: rid, cluster (a rid), metode, aturan, probabilitas (an engine query).

    ``records``: the record table (rid, spine). ``deterministic``: rid, rid_spine, aturan. ``pairs``:
    rid_l, rid_r, probabilitas, ditolak, keputusan (null, 'cocok' or 'tidak_cocok'), jenis. ``sides``:
    rid, spine of the records the pairs name (which side of a pair is the register row).
    """
    linked = pairs.filter(accepted(match_threshold)).with_columns(
        klerikal=(pl.col("keputusan") == ReviewDecision.COCOK).fill_null(False)
    )
    # residue x register: orient (residue, spine) and keep the best register row per residue record
    left_spine = sides.select(rid_l="rid", _l_spine="spine")
    to_spine = (
        linked.filter(pl.col("jenis") == "spine")
        .join(left_spine, on="rid_l", how="left")
        .with_columns(_l_spine=pl.col("_l_spine").fill_null(False))
        .with_columns(
            rid=pl.when("_l_spine").then("rid_r").otherwise("rid_l"),
            rid_spine=pl.when("_l_spine").then("rid_l").otherwise("rid_r"),
        )
        .sort(["klerikal", "probabilitas", "rid_spine"], descending=[True, True, False])
        .unique("rid", keep="first", maintain_order=True)
    )
    anchor: dict[int, int] = dict(
        zip(to_spine["rid"].to_list(), to_spine["rid_spine"].to_list(), strict=True)
    )
    # union-find over residue pairs; a set's anchor is the register row it joined, if any
    parent: dict[int, int] = {}
    set_anchor: dict[int, int | None] = {}
    # ties in rid order: the pairs arrive in any order, and which of two equal pairs merges first decides
    # where a record goes when both would join a different register row
    within = linked.filter(pl.col("jenis") == "residu").sort(
        ["klerikal", "probabilitas", "rid_l", "rid_r"], descending=[True, True, False, False]
    )
    for a, b in zip(within["rid_l"].to_list(), within["rid_r"].to_list(), strict=True):
        ra, rb = _find(parent, a), _find(parent, b)
        if ra == rb:
            continue
        aa = set_anchor.get(ra, anchor.get(a))
        ab = set_anchor.get(rb, anchor.get(b))
        if aa is not None and ab is not None and aa != ab:
            continue
        parent[rb] = ra
        set_anchor[ra] = aa if aa is not None else ab
    residue_cluster = {}
    for rid in set(parent) | set(parent.values()):
        root = _find(parent, rid)
        residue_cluster[rid] = set_anchor.get(root, anchor.get(root)) or root
    rc = pl.DataFrame(
        {"rid": list(residue_cluster), "rc": list(residue_cluster.values())},
        schema={"rid": pl.Int64, "rc": pl.Int64},
    )
    facts = (
        to_spine.select("rid", "probabilitas", "klerikal", rid_spine_p="rid_spine")
        .join(rc, on="rid", how="full", coalesce=True)
        .join(within_probability(linked), on="rid", how="full", coalesce=True)
        .rename({"rid": "_rid"})
        .select(list(_PAIR_FACTS))
        .cast(_PAIR_FACTS)
    )
    return _assemble(eng, records, deterministic, facts, model_label)


def within_probability(pairs: pl.DataFrame) -> pl.DataFrame:
    """Best accepted pair probability per record (rid, p): the probabilitas links show for a record
    clustered by residue pairs without a register row of its own."""
    both = pl.concat(
        [pairs.select(rid="rid_l", p="probabilitas"), pairs.select(rid="rid_r", p="probabilitas")]
    )
    return both.group_by("rid").agg(p=pl.col("p").max())


def _assemble(
    eng: Engine, records: ir.Table, deterministic: ir.Table, facts: pl.DataFrame, model_label: str
) -> ir.Table:
    """Every record with its register row (deterministic, else its best accepted register pair), else its
    residue cluster, else itself; then how it was linked, which reads the cluster's size."""
    det = deterministic.select(_drid="rid", rid_spine="rid_spine", aturan="aturan")
    f = eng.memtable(facts.to_arrow())
    r = records.select("rid", "spine")
    out = r.left_join(det, r.rid == det._drid).drop("_drid")
    out = out.left_join(f, out.rid == f._rid).drop("_rid")
    out = out.mutate(
        cluster=ibis.ifelse(
            out.spine, out.rid, ibis.coalesce(out.rid_spine, out.rid_spine_p, out.rc, out.rid)
        )
    )
    size = out.group_by(_cluster=out.cluster).aggregate(n=out.count())
    out = out.join(size, out.cluster == size._cluster).drop("_cluster")
    klerikal = out.klerikal.fill_null(False)
    metode = ibis.cases(
        (out.n == 1, LinkMethod.TUNGGAL.value),
        (out.spine | out.rid_spine.notnull(), LinkMethod.DETERMINISTIK.value),
        (klerikal, LinkMethod.KLERIKAL.value),
        else_=LinkMethod.PROBABILISTIK.value,
    )
    aturan = ibis.cases(
        (out.spine, "register"),
        (out.aturan.notnull(), out.aturan),
        (klerikal, "keputusan_klerikal"),
        (out.n > 1, model_label),
        else_="tanpa_pasangan",
    )
    out = out.mutate(metode=metode, aturan=aturan)
    # a record clustered by residue pairs shows its best pair's probability
    within = ibis.ifelse(out.metode == LinkMethod.PROBABILISTIK.value, out.p, ibis.null("float64"))
    return out.select(
        "rid",
        cluster=out.cluster.cast("int64"),
        metode=out.metode,
        aturan=out.aturan,
        probabilitas=ibis.coalesce(out.probabilitas.cast("float64"), within),
    )
