"""``dtsen bench link``: time the whole linkage of an ingested synthetic population, score it against the
truth, and run "Splink alone" on a region sample in the same process as the baseline."""

from __future__ import annotations

import resource
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl

from dtsen.engine import get_engine
from dtsen.linkage.baseline import splink_alone
from dtsen.linkage.config import LinkConfig, SplinkSpec
from dtsen.linkage.evaluate import evaluate_run, pairwise, truth_links
from dtsen.linkage.inputs import latest_batches, stack
from dtsen.linkage.run import link, model_for

COMMON_FIRST_NAMES = ("MUHAMMAD", "SITI", "NUR")
# the stages that do what Splink alone does (records -> clusters); stacking builds the input both read
MATCHING_STAGES = ("deterministic", "training", "probabilistic", "clusters")


def block_sizes(records: Path, spec: SplinkSpec) -> dict[str, Any]:
    """Largest register-side block per blocking rule of ``spec`` (rules over plain fields), and the
    first-name+birth-date blocks of the most common first names (each residue record meets at most that
    many register rows under the rule)."""
    spine = pl.scan_parquet(records).filter(pl.col("spine"))
    out: dict[str, Any] = {}
    names = set(spec.columns)
    for keys in (rule for rule in spec.blocking_rules if set(rule) <= names):
        rule = "+".join(keys)
        sizes = spine.drop_nulls(keys).group_by(keys).agg(n=pl.len())
        out[rule] = int(sizes.select(pl.col("n").max()).collect().item() or 0)
    by_name = (
        spine.filter(pl.col("nama_depan").is_in(COMMON_FIRST_NAMES))
        .group_by("nama_depan", "tgl_lahir")
        .agg(n=pl.len())
        .group_by("nama_depan")
        .agg(max=pl.col("n").max(), mean=pl.col("n").mean().round(2), persons=pl.col("n").sum())
        .collect()
    )
    out["common_first_names"] = {
        r["nama_depan"]: {k: r[k] for k in ("persons", "max", "mean")} for r in by_name.iter_rows(named=True)
    }
    return out


def bench_link(
    synth_dir: Path, data_dir: Path, engine: str, baseline_share: float, seed: int
) -> dict[str, Any]:
    cfg = LinkConfig()
    root = Path(tempfile.mkdtemp(prefix="dtsen-bench-link-"))
    try:
        state = root / "state"
        eng = get_engine(engine)
        # the model is trained once and reused by every run: trained here, outside the timed run
        records = root / "records.parquet"
        eng.write_parquet(stack(eng, latest_batches(data_dir), cfg), records)
        t0 = time.perf_counter()
        model = model_for(records, cfg, state, retrain=True)
        training_seconds = time.perf_counter() - t0
        result = link(None, root / "run" / "link", state, engine=engine, config=cfg, data_dir=data_dir)
        peak_link = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before the baseline runs
        metrics = evaluate_run(result.out_dir, synth_dir)
        blocks = block_sizes(records, cfg.probabilistic.splink)
        # baseline on whole kabupaten drawn at random (all their records), ours scored on the same records
        kab = pl.scan_parquet(records).filter(pl.col("spine")).select("kode_kab").unique().collect()
        kab = (
            kab.sample(fraction=baseline_share, seed=seed)["kode_kab"].to_list()
            if baseline_share < 1
            else None
        )
        base_clusters, base_seconds = splink_alone(records, model, result.thresholds["match"], kab)
        rec = pl.read_parquet(records, columns=["rid", "berkas", "baris"])
        truth = truth_links(synth_dir)
        sample = rec.join(base_clusters, on="rid").join(truth, on=["berkas", "baris"])
        base = pairwise(sample.select("cluster", person="person_id"))
        ours_links = pl.read_parquet(
            result.out_dir / "links.parquet", columns=["berkas", "baris", "id_dtsen"]
        )
        ours = pairwise(
            sample.select("berkas", "baris", "person_id")
            .join(ours_links, on=["berkas", "baris"])
            .select(cluster="id_dtsen", person="person_id")
        )
        share_rows = sample.height / rec.height
        base_total = base_seconds / share_rows if share_rows else None  # measured when not sampled
        # like for like: Splink alone turns the stacked records into clusters; so do these stages
        matching = sum(result.seconds[k] for k in MATCHING_STAGES)
        return {
            "seconds": result.seconds["total"],
            "stage_seconds": result.seconds,
            "training_seconds": round(training_seconds, 2),
            "model": result.model,
            "source_rows": result.counts["records"],
            "counts": result.counts,
            "thresholds": result.thresholds,
            **{k: metrics[k] for k in ("precision", "recall", "f1")},
            "cluster_metrics": {
                k: metrics[k] for k in ("cluster_purity", "cluster_completeness", "cluster_exact")
            },
            "share": metrics["share"],
            "dead_detected": metrics["dead_detected"],
            "dead_false_alarm": metrics["dead_false_alarm"],
            "nik_ganda_resolved": metrics["nik_ganda_resolved"],
            "nik_ganda_records": metrics["nik_ganda_records"],
            "family_reconciled": metrics["family_reconciled"],
            "largest_blocks": blocks,
            "baseline": (
                "splink alone (dedupe_only on every stacked record, same model and rules + exact NIK)"
            ),
            "baseline_sampled": kab is not None,
            "baseline_rows": sample.height,
            "baseline_row_share": round(share_rows, 4),
            "baseline_seconds": round(base_seconds, 2),
            "baseline_seconds_extrapolated": round(base_total, 1) if base_total and kab else None,
            "baseline_f1": base["f1"],
            "baseline_precision": base["precision"],
            "baseline_recall": base["recall"],
            "ours_f1_on_baseline_sample": ours["f1"],
            "matching_seconds": round(matching, 2),
            "speedup_vs_baseline": {
                "matching": round(base_total / matching, 2) if base_total and matching else None,
                "end_to_end": round(base_total / result.seconds["total"], 2) if base_total else None,
            },
            "peak_rss_link_mb": round(peak_link, 1),
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)
