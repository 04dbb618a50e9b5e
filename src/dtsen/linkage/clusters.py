"""One person per cluster: records joined to the register by both stages, then residue-only people.

Links are anchored on the register, so clustering is mostly a lookup: a deterministic link puts a
record with its register row; a residue record takes its best register match at or above the
threshold. Residue pairs are then merged by a union-find that refuses to join two different register
rows (two Dukcapil persons are never merged by a chain of weaker links), strongest pair first. A pair
whose names and birth data both disagree (``ditolak``) is not linked by the model at any score. A
clerical decision overrides the model for its pair: ``cocok`` links, ``tidak_cocok`` never links.
"""

from __future__ import annotations

import polars as pl

from dtsen.tables import LinkMethod, ReviewDecision

ADMIN_ENTITIES = frozenset({"kepesertaan_bpjs", "pelanggan_pln", "kendaraan", "bidang_tanah"})


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
    records: pl.DataFrame,
    deterministic: pl.DataFrame,
    pairs: pl.DataFrame,
    match_threshold: float,
    model_label: str,
) -> pl.DataFrame:
    """One row per record: rid, cluster (a rid), metode, aturan, probabilitas.

    ``records``: rid, spine, entitas. ``deterministic``: rid, rid_spine, aturan. ``pairs``: rid_l, rid_r,
    probabilitas, ditolak, keputusan (null, 'cocok' or 'tidak_cocok'), jenis.
    """
    spine = set(records.filter(pl.col("spine"))["rid"].to_list())
    linked = pairs.filter(accepted(match_threshold)).with_columns(
        klerikal=(pl.col("keputusan") == ReviewDecision.COCOK).fill_null(False)
    )
    # residue x register: orient (residue, spine) and keep the best register row per residue record
    to_spine = (
        linked.filter(pl.col("jenis") == "spine")
        .with_columns(
            rid=pl.when(pl.col("rid_l").is_in(list(spine))).then("rid_r").otherwise("rid_l"),
            rid_spine=pl.when(pl.col("rid_l").is_in(list(spine))).then("rid_l").otherwise("rid_r"),
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
    within = linked.filter(pl.col("jenis") == "residu").sort(
        ["klerikal", "probabilitas"], descending=[True, True]
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
    # assemble
    det = deterministic.select("rid", "rid_spine", "aturan")
    prob = to_spine.select("rid", "rid_spine", "probabilitas", "klerikal")
    out = (
        records.select("rid", "spine", "entitas")
        .join(det, on="rid", how="left")
        .join(prob, on="rid", how="left", suffix="_p")
    )
    rc = pl.DataFrame(
        {"rid": list(residue_cluster), "rc": list(residue_cluster.values())},
        schema={"rid": pl.Int64, "rc": pl.Int64},
    )
    out = out.join(rc, on="rid", how="left").with_columns(
        cluster=pl.when(pl.col("spine"))
        .then(pl.col("rid"))
        .otherwise(pl.coalesce("rid_spine", "rid_spine_p", "rc", "rid"))
    )
    size = out.group_by("cluster").agg(n=pl.len())
    out = out.join(size, on="cluster")
    metode = (
        pl.when(pl.col("n") == 1)
        .then(pl.lit(LinkMethod.TUNGGAL))
        .when(pl.col("spine") | pl.col("rid_spine").is_not_null())
        .then(pl.lit(LinkMethod.DETERMINISTIK))
        .when(pl.col("klerikal").fill_null(False))
        .then(pl.lit(LinkMethod.KLERIKAL))
        .otherwise(pl.lit(LinkMethod.PROBABILISTIK))
    )
    aturan = (
        pl.when(pl.col("spine"))
        .then(pl.lit("register"))
        .when(pl.col("aturan").is_not_null())
        .then(pl.col("aturan"))
        .when(pl.col("klerikal").fill_null(False))
        .then(pl.lit("keputusan_klerikal"))
        .when(pl.col("n") > 1)
        .then(pl.lit(model_label))
        .otherwise(pl.lit("tanpa_pasangan"))
    )
    return out.select(
        "rid",
        pl.col("cluster").cast(pl.Int64),
        metode.alias("metode"),
        aturan.alias("aturan"),
        pl.col("probabilitas").cast(pl.Float64),
    )


def within_probability(pairs: pl.DataFrame, clusters: pl.DataFrame) -> pl.DataFrame:
    """Best accepted residue-pair probability per record clustered without a register row (for links)."""
    both = pl.concat(
        [pairs.select(rid="rid_l", p="probabilitas"), pairs.select(rid="rid_r", p="probabilitas")]
    )
    best = both.group_by("rid").agg(p=pl.col("p").max())
    return (
        clusters.join(best, on="rid", how="left")
        .with_columns(
            probabilitas=pl.coalesce(
                "probabilitas", pl.when(pl.col("metode") == LinkMethod.PROBABILISTIK).then("p")
            )
        )
        .drop("p")
    )
