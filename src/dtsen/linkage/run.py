"""The linkage step: canonical batches in, ``<run>/link/`` tables out (docs/batch-plane.md), state kept.

Stages: stack person-naming records -> deterministic NIK links (engine query) -> Splink on the residue
(register as spine) -> clusters (clerical decisions applied) -> stable IDs -> status -> golden persons
and families with provenance. Output is written under a staging directory and renamed into place; the
state (ID registry) is replaced only after the output is in place, so a failed run changes nothing.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from dtsen.atomic import atomic_dir
from dtsen.config import get_settings
from dtsen.engine import get_engine
from dtsen.linkage import clusters as clustering
from dtsen.linkage import ids as idreg
from dtsen.linkage import review as rv
from dtsen.linkage import thresholds as th
from dtsen.linkage.config import LinkConfig
from dtsen.linkage.consolidate import ConsolidationContext, consolidate
from dtsen.linkage.deterministic import deterministic_links
from dtsen.linkage.inputs import Batch, latest_batches, missing_inputs, read_batch, stack
from dtsen.linkage.laps import Laps
from dtsen.linkage.probabilistic import CONFLICT_EVIDENCE, PAIR_SCHEMA, flag_conflicts, score_residue
from dtsen.linkage.splink_model import Model, current_model, train, usable_blocking
from dtsen.logs import get_logger

log = get_logger(__name__)


@dataclass
class LinkResult:
    run: str
    out_dir: Path
    model: str
    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what the inputs lack and which rules were left out
    thresholds: dict[str, Any] = field(default_factory=dict)  # used, where from, why (thresholds.Thresholds)


@dataclass
class Linked:
    """What the shared core (also used for FEBRL4) returns."""

    clusters: Path  # rid -> cluster, metode, aturan, probabilitas (clusters.cluster), under ``work``
    pairs: pl.DataFrame
    model: Model
    seconds: dict[str, float]
    notes: list[str]
    thresholds: th.Thresholds  # what was linked and queued with, and why
    histogram: pl.DataFrame  # the scored pairs' distribution the thresholds came from
    config: LinkConfig  # the run's configuration with those thresholds as numbers


def default_state_dir() -> Path:
    return get_settings().data_dir / "linkage"


def training_sample(records: Path, cfg: LinkConfig) -> Any:
    """Whole kecamatan drawn at random until about ``training_sample`` records (all sources). A record
    without a kecamatan (a source with no region codes) is placed by its NIK's kecamatan digits, so such a
    source still reaches training; one with neither never does."""
    p = cfg.probabilistic
    scan = pl.scan_parquet(records)
    have = set(scan.collect_schema().names())
    unit = pl.coalesce("kode_kec", "nik_wilayah") if "nik_wilayah" in have else pl.col("kode_kec")
    scan = scan.with_columns(_unit=unit)
    # sorted first so the draw is seeded
    sizes = scan.group_by("_unit").agg(n=pl.len()).drop_nulls("_unit").collect().sort("_unit")
    sizes = sizes.sample(fraction=1.0, shuffle=True, seed=p.seed)
    keep = sizes.filter(pl.col("n").cum_sum() <= max(p.training_sample, int(sizes["n"].max() or 0)))
    # the spec's link fields: a dataset's own fields too (FEBRL4); one the records lack is null
    cols = [
        pl.col("rid").alias("unique_id")
        if c == "unique_id"
        else (pl.col(c) if c in have else pl.lit(None, pl.String).alias(c))
        for c in p.splink.columns
    ]
    frame = scan.join(keep.lazy().select("_unit"), on="_unit", how="semi").select(cols).collect()
    return frame.to_arrow()


def model_for(records: Path, cfg: LinkConfig, state_dir: Path, retrain: bool) -> Model:
    model = current_model(state_dir)
    if model is None or retrain or model.key != cfg.model_key():
        model = train(training_sample(records, cfg), cfg, state_dir)
    return model


def link_records(
    eng: Any, records_path: Path, work: Path, state_dir: Path, cfg: LinkConfig, retrain: bool = False
) -> Linked:
    """Deterministic stage, Splink on the residue, clusters: the path every dataset (also FEBRL4) takes."""
    laps = Laps("link")
    rec = eng.read_parquet(records_path)
    eng.write_parquet(deterministic_links(eng, rec, cfg.deterministic), work / "deterministic.parquet")
    det = eng.read_parquet(work / "deterministic.parquet")
    eng.write_parquet(rec.filter(~rec.spine).anti_join(det, "rid").select("rid"), work / "residue.parquet")
    laps.lap("deterministic")
    model = model_for(records_path, cfg, state_dir, retrain)
    laps.lap("training")
    p = cfg.probabilistic
    notes = list(model.notes)
    model = usable_blocking(records_path, model, notes)
    if model.spec.blocking_rules:
        # scored down to a low floor: the distribution below the review band is what auto thresholds
        # and `dtsen link thresholds` read
        scored = pl.from_arrow(
            score_residue(eng, records_path, work / "residue.parquet", model, th.scoring_floor(p))
        )
    else:  # no rule can form a pair: Splink would compare every record with every other
        scored = pl.from_arrow(PAIR_SCHEMA.empty_table())
    scored = _refuse_conflicts(eng, records_path, scored, work, cfg)  # type: ignore[arg-type]
    # the model's expected precision counts the pairs it could link (a refused pair never links)
    hist = th.histogram(scored.filter(~pl.col("ditolak"))["probabilitas"])
    used = th.resolve(p, hist)
    cfg = cfg.model_copy(
        update={
            "probabilistic": p.model_copy(
                update={"match_threshold": used.match, "review_threshold": used.review}
            )
        }
    )
    scored = scored.filter(pl.col("probabilitas") >= used.review)
    laps.lap("probabilistic")
    # only the scored pairs' records reach the driver (pair naming, which side is the register row);
    # every record's cluster is an engine query: the record table stays on disk
    sides = _pair_records(eng, rec, scored)
    pairs = rv.pair_ids(scored, sides)
    decisions = rv.load_decisions(state_dir).select("id_pasangan", "keputusan")
    pairs = pairs.join(decisions, on="id_pasangan", how="left")
    clusters = work / "clusters.parquet"
    eng.write_parquet(clustering.cluster(eng, rec, det, pairs, sides, used.match, model.label), clusters)
    laps.lap("clusters")
    return Linked(clusters, pairs, model, laps.seconds, notes, used, hist, cfg)


def _pair_records(eng: Any, rec: Any, scored: pl.DataFrame) -> pl.DataFrame:
    """rid, spine, sumber, id_rekaman of the records ``scored`` names (a semi-join on their rids)."""
    rids = pl.concat([scored["rid_l"], scored["rid_r"]]).unique().cast(pl.Int64).to_frame("rid")
    wanted = eng.memtable(rids.to_arrow())
    keys = rec.select("rid", "spine", "sumber", "id_rekaman").semi_join(wanted, "rid")
    return pl.from_arrow(eng.to_pyarrow(keys))  # type: ignore[return-value]


def _refuse_conflicts(
    eng: Any, records: Path, scored: pl.DataFrame, work: Path, cfg: LinkConfig
) -> pl.DataFrame:
    """``scored`` with ``ditolak``: the pair's names and birth data both disagree (never linked by the
    model, queued for a clerk, ``bukti`` saying so); all false when ``refuse_conflicts`` is off."""
    if not cfg.probabilistic.refuse_conflicts or scored.is_empty():
        return scored.with_columns(ditolak=pl.lit(False))
    scored.select("rid_l", "rid_r").write_parquet(work / "scored_pairs.parquet")
    flag_conflicts(eng, records, work / "scored_pairs.parquet", work / "conflicts.parquet", cfg.deterministic)
    flags = pl.read_parquet(work / "conflicts.parquet").unique(["rid_l", "rid_r"])
    out = scored.join(flags, on=["rid_l", "rid_r"], how="left").with_columns(
        ditolak=pl.col("ditolak").fill_null(False)
    )
    return out.with_columns(
        bukti=pl.when("ditolak")
        .then(pl.format("{},{}", "bukti", pl.lit(CONFLICT_EVIDENCE)))
        .otherwise("bukti")
    )


def _select_batches(batch_dirs: list[Path] | None, data_dir: Path | None) -> list[Batch]:
    return [read_batch(Path(d)) for d in batch_dirs] if batch_dirs else latest_batches(data_dir)


def link(
    batch_dirs: list[Path] | None,
    out_dir: Path,
    state_dir: Path | None = None,
    *,
    engine: str | None = None,
    config: LinkConfig | None = None,
    retrain: bool = False,
    run: str | None = None,
    data_dir: Path | None = None,
) -> LinkResult:
    """Link ``batch_dirs`` (default: the newest batch of every mapping) into ``out_dir``."""
    cfg = config or LinkConfig()
    state_dir = state_dir or default_state_dir()
    run = run or datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    batches = _select_batches(batch_dirs, data_dir)
    out_dir = Path(out_dir)
    started = time.perf_counter()
    with atomic_dir(out_dir) as staging:
        work = staging / "work"
        work.mkdir()
        eng = get_engine(engine)
        t0 = time.perf_counter()
        records_path = work / "records.parquet"
        eng.write_parquet(stack(eng, batches, cfg), records_path)
        stack_seconds = time.perf_counter() - t0
        notes = missing_inputs(batches, records_path)
        linked = link_records(eng, records_path, work, state_dir, cfg, retrain)
        notes += linked.notes
        t0 = time.perf_counter()
        # stable IDs, links, golden persons and families, provenance, lineage, review (consolidate.py)
        result = consolidate(
            ConsolidationContext(
                eng,
                records_path,
                linked.clusters,
                linked.pairs,
                batches,
                linked.config,  # the thresholds as numbers (auto resolved)
                state_dir,
                staging,
                work,
                run,
            )
        )
        th.write_record(staging / th.THRESHOLDS_FILE, linked.thresholds, linked.histogram)
        consolidate_seconds = time.perf_counter() - t0
        shutil.rmtree(work, ignore_errors=True)
    idreg.save_registry(state_dir, result.registry)
    seconds = {"stack": stack_seconds, **linked.seconds, "consolidate": consolidate_seconds}
    seconds = {k: round(v, 2) for k, v in seconds.items()} | {
        "total": round(time.perf_counter() - started, 2)
    }
    for note in notes:
        log.warning("linkage input", note=note)
    used = linked.thresholds.as_dict()
    log.info("linkage run published", run=run, out=str(out_dir), **result.counts, thresholds=used)
    return LinkResult(run, out_dir, linked.model.label, result.counts, seconds, notes, used)


__all__ = ["LinkResult", "link", "link_records"]
