"""The linkage step: canonical batches in, ``<run>/link/`` tables out (docs/batch-plane.md), state kept.

Stages: stack person-naming records -> deterministic NIK links (engine query) -> Splink on the residue
(register as spine) -> clusters (clerical decisions applied) -> stable IDs -> status -> golden persons
and families with provenance. Output is written under a staging directory and renamed into place; the
state (ID registry) is replaced only after the output is in place, so a failed run changes nothing.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq

from dtsen.config import get_settings
from dtsen.engine import get_engine
from dtsen.linkage import clusters as clustering
from dtsen.linkage import families as fam
from dtsen.linkage import ids as idreg
from dtsen.linkage import review as rv
from dtsen.linkage.config import LinkConfig
from dtsen.linkage.deterministic import deterministic_links, spine_nik_ganda
from dtsen.linkage.golden import golden_persons
from dtsen.linkage.inputs import Batch, file_index, latest_batches, read_batch, scan_with_rid, stack
from dtsen.linkage.probabilistic import score_residue
from dtsen.linkage.splink_model import SPLINK_COLUMNS, Model, current_model, train
from dtsen.linkage.status import person_status
from dtsen.logs import get_logger

log = get_logger(__name__)

LINK_COLUMNS = (
    "sumber",
    "entitas",
    "id_rekaman",
    "batch_id",
    "berkas",
    "baris",
    "id_dtsen",
    "metode",
    "aturan",
    "probabilitas",
)


@dataclass
class LinkResult:
    run: str
    out_dir: Path
    model: str
    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class Linked:
    """What the shared core (also used for FEBRL4) returns."""

    records: pl.DataFrame
    clusters: pl.DataFrame
    pairs: pl.DataFrame
    model: Model
    seconds: dict[str, float]


def default_state_dir() -> Path:
    return get_settings().data_dir / "linkage"


def training_sample(records: Path, cfg: LinkConfig) -> Any:
    """Whole kecamatan drawn at random until about ``training_sample`` records (all sources)."""
    p = cfg.probabilistic
    scan = pl.scan_parquet(records)
    # rows without a kecamatan (vehicle owners) never join the sample; sorted first so the draw is seeded
    sizes = scan.group_by("kode_kec").agg(n=pl.len()).drop_nulls("kode_kec").collect().sort("kode_kec")
    sizes = sizes.sample(fraction=1.0, shuffle=True, seed=p.seed)
    keep = sizes.filter(pl.col("n").cum_sum() <= max(p.training_sample, int(sizes["n"].max() or 0)))
    link_fields = (*SPLINK_COLUMNS, *p.splink.extra_columns)  # a dataset's own fields too (FEBRL4)
    cols = [pl.col("rid").alias("unique_id") if c == "unique_id" else pl.col(c) for c in link_fields]
    frame = scan.join(keep.lazy().select("kode_kec"), on="kode_kec", how="semi").select(cols).collect()
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
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    if eng.name == "spark":
        from dtsen.linkage.similarity import prepare_spark

        prepare_spark(eng.con._session)  # jaro_winkler for the deterministic query
    rec = eng.read_parquet(records_path)
    eng.write_parquet(deterministic_links(eng, rec, cfg.deterministic), work / "deterministic.parquet")
    det = eng.read_parquet(work / "deterministic.parquet")
    eng.write_parquet(rec.filter(~rec.spine).anti_join(det, "rid").select("rid"), work / "residue.parquet")
    seconds["deterministic"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    model = model_for(records_path, cfg, state_dir, retrain)
    seconds["training"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    p = cfg.probabilistic
    scored = pl.from_arrow(
        score_residue(eng, records_path, work / "residue.parquet", model, p.review_threshold)
    )
    seconds["probabilistic"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    records = pl.read_parquet(records_path)
    pairs = rv.pair_ids(scored, records)  # type: ignore[arg-type]
    decisions = rv.load_decisions(state_dir).select("id_pasangan", "keputusan")
    pairs = pairs.join(decisions, on="id_pasangan", how="left")
    deterministic = pl.read_parquet(work / "deterministic.parquet")
    clusters = clustering.cluster(records, deterministic, pairs, p.match_threshold, model.label)
    clusters = clustering.within_probability(
        pairs.filter(pl.col("probabilitas") >= p.match_threshold), clusters
    )
    seconds["clusters"] = time.perf_counter() - t0
    return Linked(records, clusters, pairs, model, seconds)


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
    staging = out_dir.with_name(f".{out_dir.name}.staging-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    work = staging / "work"
    work.mkdir(parents=True)
    started = time.perf_counter()
    try:
        eng = get_engine(engine)
        t0 = time.perf_counter()
        records_path = work / "records.parquet"
        eng.write_parquet(stack(eng, batches, cfg.spine_source), records_path)
        ganda = pl.from_arrow(eng.to_pyarrow(spine_nik_ganda(eng.read_parquet(records_path))))["nik"]  # type: ignore[index]
        stack_seconds = time.perf_counter() - t0
        linked = link_records(eng, records_path, work, state_dir, cfg, retrain)
        t0 = time.perf_counter()
        registry, counts = _consolidate(linked, batches, ganda, cfg, state_dir, staging, run)
        consolidate_seconds = time.perf_counter() - t0
        shutil.rmtree(work, ignore_errors=True)
        if out_dir.exists():
            old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
            out_dir.rename(old)
            staging.rename(out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            out_dir.parent.mkdir(parents=True, exist_ok=True)
            staging.rename(out_dir)
        idreg.save_registry(state_dir, registry)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    seconds = {"stack": stack_seconds, **linked.seconds, "consolidate": consolidate_seconds}
    seconds = {k: round(v, 2) for k, v in seconds.items()} | {
        "total": round(time.perf_counter() - started, 2)
    }
    log.info("linkage run published", run=run, out=str(out_dir), **counts)
    return LinkResult(run, out_dir, linked.model.label, counts, seconds)


def _consolidate(
    linked: Linked,
    batches: list[Batch],
    ganda: pl.Series,
    cfg: LinkConfig,
    state_dir: Path,
    out: Path,
    run: str,
) -> tuple[list[pl.DataFrame], dict[str, int]]:
    records, clusters, spine = linked.records, linked.clusters, cfg.spine_source
    registry = idreg.load_registry(state_dir)
    # persons: clusters with a register row or a family-survey record; admin-only clusters link to nobody
    kinds = clustering.person_clusters(clusters, records)
    keyed = clusters.join(
        records.select("rid", "spine", key=pl.format("{}:{}", "sumber", "id_rekaman")), on="rid"
    )
    person_keys = keyed.join(kinds.filter(pl.col("orang")).select("cluster"), on="cluster").select(
        group="cluster", kunci="key", kuat="spine"
    )
    persons_ids = idreg.assign(person_keys, registry, "person", run)
    member = clusters.join(
        persons_ids.ids.rename({"group": "cluster", "id": "id_dtsen"}), on="cluster", how="left"
    )
    links = records.join(
        member.select("rid", "id_dtsen", "metode", "aturan", "probabilitas"), on="rid"
    ).select(LINK_COLUMNS)
    links.write_parquet(out / "links.parquet")
    members = member.select("rid", "id_dtsen").filter(pl.col("id_dtsen").is_not_null())

    index = file_index(batches)
    anggota = pl.concat(
        [scan_with_rid(b, index) for b in batches if b.entity == "anggota" and b.source != "susenas"],
        how="vertical_relaxed",
    ).join(members.lazy(), on="rid")
    persons, provenance = golden_persons(anggota, cfg.survivorship, spine)
    persons = persons.collect()
    # evidence for the status: latest field record, NIK quality over every record
    field = records.filter(pl.col("sumber").is_in(cfg.survivorship.field_sources)).join(members, on="rid")
    keberadaan = anggota.select("rid", "keberadaan").collect()
    latest = (
        field.join(keberadaan, on="rid", how="left")
        .sort("tanggal_data", descending=True)
        .unique("id_dtsen", keep="first", maintain_order=True)
        .select("id_dtsen", sumber_lapangan="sumber", keberadaan_lapangan="keberadaan", kec_lapangan="kode_kec", id_keluarga="id_keluarga")
    )  # fmt: skip
    nik = (
        records.filter(~pl.col("spine"))
        .join(members, on="rid")
        .group_by("id_dtsen")
        .agg(
            nik_ada=pl.col("nik").is_not_null().any(),
            nik_tidak_valid=pl.col("nik_tidak_valid").any(),
            sumber_nik=pl.col("sumber").unique().sort().str.join("+"),
        )
    )
    evidence = (
        latest.drop("id_keluarga")
        .with_columns(ada_lapangan=pl.lit(True))
        .join(nik, on="id_dtsen", how="full", coalesce=True)
    )
    persons = person_status(persons, evidence, ganda, spine)
    sources = (
        records.join(members, on="rid").group_by("id_dtsen").agg(sumber_data=pl.col("sumber").unique().sort())
    )
    bpjs = (
        scan_with_rid_all(batches, index, "kepesertaan_bpjs").join(members.lazy(), on="rid")
        .sort(["status_aktif", "tanggal_data"], descending=True, nulls_last=True)
        .unique("id_dtsen", keep="first", maintain_order=True).select("id_dtsen", segmen_bpjs="segmen").collect()
    )  # fmt: skip
    ref = cfg.reference_date or records.filter(pl.col("spine"))["tanggal_data"].max()
    persons = persons.join(sources, on="id_dtsen", how="left").join(bpjs, on="id_dtsen", how="left")
    until = pl.coalesce(pl.col("tanggal_meninggal"), pl.lit(ref))
    umur = (until.dt.year() - pl.col("tanggal_lahir").dt.year()) - (
        (until.dt.month() * 100 + until.dt.day())
        < (pl.col("tanggal_lahir").dt.month() * 100 + pl.col("tanggal_lahir").dt.day())
    ).cast(pl.Int32)
    persons = persons.with_columns(umur=umur.cast(pl.Int16))
    # families
    keys = fam.family_keys(persons, latest.select("id_dtsen", "id_keluarga"))
    fam_groups, person_group = fam.id_groups(keys)
    fam_ids = idreg.assign(fam_groups, registry, "family", run)
    person_family = person_group.join(fam_ids.ids, on="group").select("id_dtsen", id_keluarga_dtsen="id")
    persons = persons.join(person_family, on="id_dtsen", how="left")
    field_members = (
        anggota.filter(pl.col("sumber").is_in(cfg.survivorship.field_sources))
        .select("id_dtsen", "sumber", "id_keluarga", "tanggal_data")
        .collect()
    )
    keluarga = pl.concat(
        [pl.read_parquet(b.canonical) for b in batches if b.entity == "keluarga"], how="vertical_relaxed"
    ) if any(b.entity == "keluarga" for b in batches) else pl.DataFrame(schema={"id_keluarga": pl.String, "sumber": pl.String, "batch_id": pl.String, "tanggal_data": pl.Date})  # fmt: skip
    admin = {
        name: scan_with_rid_all(batches, index, ent).join(members.lazy(), on="rid").collect()
        for name, ent in (("pln", "pelanggan_pln"), ("kendaraan", "kendaraan"), ("tanah", "bidang_tanah"))
    }
    families, fam_prov = fam.golden_families(persons, field_members, keluarga, admin, cfg.survivorship)
    order = ["id_dtsen", "id_keluarga_dtsen"]
    persons = persons.select(order + [c for c in persons.columns if c not in order]).sort("id_dtsen")
    persons.write_parquet(out / "persons.parquet")
    families = families.sort("id_keluarga_dtsen")
    families.write_parquet(out / "families.parquet")
    person_prov = provenance.collect().join(
        records.lazy().select("rid", "sumber", "batch_id", "tanggal_data").collect(), on="rid"
    )
    pl.concat(
        [
            person_prov.select(entitas=pl.lit("person"), id="id_dtsen", atribut="atribut", sumber="sumber", batch_id="batch_id", tanggal_data="tanggal_data"),
            fam_prov,
        ],
        how="vertical_relaxed",
    ).write_parquet(out / "provenance.parquet")  # fmt: skip
    pl.concat([persons_ids.lineage, fam_ids.lineage]).write_parquet(out / "lineage.parquet")
    p = cfg.probabilistic
    rv.queue(linked.pairs, records, p.review_threshold, p.match_threshold).write_parquet(
        out / "review.parquet"
    )
    method = links["metode"].value_counts()
    counts = {
        "records": records.height,
        "persons": persons.height,
        "families": families.height,
        "unlinked": int(links["id_dtsen"].null_count()),
        **{f"metode_{m}": int(n) for m, n in method.iter_rows()},
        "review": int(
            ((linked.pairs["probabilitas"] < p.match_threshold) & linked.pairs["keputusan"].is_null()).sum()
        ),
    }
    return [
        persons_ids.registry,
        fam_ids.registry,
        registry.filter(~pl.col("jenis_id").is_in(["person", "family"])),
    ], counts


def scan_with_rid_all(
    batches: list[Batch], index: dict[tuple[str, str | None], int], entity: str
) -> pl.LazyFrame:
    frames = [scan_with_rid(b, index) for b in batches if b.entity == entity]
    if not frames:
        return pl.LazyFrame(
            schema={"rid": pl.Int64, "sumber": pl.String, "batch_id": pl.String, "tanggal_data": pl.Date}
        )
    return pl.concat(frames, how="vertical_relaxed")


__all__ = ["LinkResult", "link", "link_records", "pq"]
