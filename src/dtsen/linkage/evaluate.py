"""Accuracy against the synthetic truth: pairwise and cluster metrics, dead detection, NIK-ganda
resolution, family reconciliation. The truth (``truth/links_<table>.parquet``) gives the true person of
every source row, joined on berkas + baris."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from dtsen.linkage.config import LinkConfig
from dtsen.synth.dirt import NikDirt


def _pairs(n: pl.Expr) -> pl.Expr:
    return (n * (n - 1) / 2).sum()


def pairwise(assigned: pl.DataFrame) -> dict[str, float]:
    """Precision/recall/F1 over record pairs put in one cluster; ``assigned``: cluster, person."""
    a = assigned.with_columns(
        cluster=pl.coalesce(pl.col("cluster").cast(pl.String), pl.format("_{}", pl.int_range(pl.len())))
    )
    tp = a.group_by("cluster", "person").len().select(_pairs(pl.col("len"))).item()
    pred = a.group_by("cluster").len().select(_pairs(pl.col("len"))).item()
    true = a.group_by("person").len().select(_pairs(pl.col("len"))).item()
    precision = tp / pred if pred else 1.0
    recall = tp / true if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    clusters = a.group_by("cluster").agg(pure=pl.col("person").n_unique() == 1)
    people = a.group_by("person").agg(whole=pl.col("cluster").n_unique() == 1)
    exact = (
        a.group_by("person")
        .agg(pl.col("cluster").first(), whole=pl.col("cluster").n_unique() == 1, n=pl.len())
        .join(a.group_by("cluster").agg(m=pl.len(), pure=pl.col("person").n_unique() == 1), on="cluster")
        .select((pl.col("whole") & pl.col("pure") & (pl.col("n") == pl.col("m"))).mean())
        .item()
    )
    return {
        "precision": round(precision, 6),
        "recall": round(recall, 6),
        "f1": round(f1, 6),
        "true_pairs": int(true),
        "predicted_pairs": int(pred),
        "cluster_purity": round(float(clusters["pure"].mean()), 6),  # type: ignore[arg-type]
        "cluster_completeness": round(float(people["whole"].mean()), 6),  # type: ignore[arg-type]
        "cluster_exact": round(float(exact), 6),
    }


def truth_links(synth_dir: Path) -> pl.DataFrame:
    files = sorted((synth_dir / "truth").glob("links_*.parquet"))
    cols = ["berkas", "baris", "person_id", "nik_dirt"]
    frames = []
    for f in files:
        t = pl.read_parquet(f)
        frames.append(
            t.select([pl.col(c) if c in t.columns else pl.lit(None, pl.Int8).alias(c) for c in cols])
        )
    return pl.concat(frames, how="vertical_relaxed")


def evaluate_run(link_dir: Path, synth_dir: Path, cfg: LinkConfig | None = None) -> dict[str, Any]:
    """Every accuracy figure of one linkage run against the synth truth; ``cfg``: the settings the run
    linked with (default: the default ones, whose register is the synthetic data's)."""
    spine = (cfg or LinkConfig()).spine_source
    links = pl.read_parquet(link_dir / "links.parquet")
    truth = truth_links(synth_dir)
    j = links.join(truth, on=["berkas", "baris"], how="inner")
    out: dict[str, Any] = pairwise(j.select(cluster="id_dtsen", person="person_id"))
    non_spine = links.filter(pl.col("sumber") != spine)
    share = non_spine["metode"].value_counts(normalize=True)
    out["share"] = {m: round(float(s), 4) for m, s in share.iter_rows()}
    # the true person behind each id_dtsen: the person of its register row (else its records' majority)
    owner = (
        j.filter(pl.col("id_dtsen").is_not_null())
        .with_columns(spine=pl.col("sumber") == spine)
        .group_by("id_dtsen", "person_id")
        .agg(spine=pl.col("spine").any(), n=pl.len())
        .sort(["id_dtsen", "spine", "n"], descending=[False, True, True])
        .unique("id_dtsen", keep="first", maintain_order=True)
        .select("id_dtsen", owner="person_id")
    )
    ganda = j.filter(pl.col("nik_dirt") == int(NikDirt.GANDA)).join(owner, on="id_dtsen", how="left")
    out["nik_ganda_records"] = ganda.height
    out["nik_ganda_resolved"] = (
        round(float((ganda["owner"] == ganda["person_id"]).fill_null(False).mean()), 4)
        if ganda.height
        else None
    )  # type: ignore[arg-type]
    persons = pl.read_parquet(link_dir / "persons.parquet").join(owner, on="id_dtsen", how="inner")
    tp = pl.read_parquet(synth_dir / "truth" / "persons.parquet").select("person_id", "alive", "family_id")
    pj = persons.join(tp, left_on="owner", right_on="person_id")
    dead = pj.filter(~pl.col("alive"))
    flagged = pj["status_padan"] == 5
    out["dead_true"] = dead.height
    detected = float((dead["status_padan"] == 5).mean()) if dead.height else None  # type: ignore[arg-type]
    out["dead_detected"] = round(detected, 4) if detected is not None else None
    out["dead_false_alarm"] = round(float((flagged & pj["alive"]).sum() / max(int(flagged.sum()), 1)), 4)
    living = pj.filter(pl.col("alive"))
    fam = living.group_by("family_id").agg(
        k=pl.col("id_keluarga_dtsen").n_unique(), f=pl.col("id_keluarga_dtsen").first()
    )
    shared = living.group_by("id_keluarga_dtsen").agg(t=pl.col("family_id").n_unique())
    rec = fam.join(shared, left_on="f", right_on="id_keluarga_dtsen").select(
        ((pl.col("k") == 1) & (pl.col("t") == 1)).mean()
    )
    out["family_reconciled"] = round(float(rec.item()), 4)
    out["status_counts"] = {
        int(k): int(v)
        for k, v in pl.read_parquet(link_dir / "persons.parquet")["status_padan"].value_counts().iter_rows()
    }
    return out
