"""Linkage with partial inputs (issue 14): no family batch, a source without region codes, no birth dates
anywhere, a dataset's own ``extra_columns`` through ingest -> link. Each ran into a crash before
(ColumnNotFoundError in golden_families or training_sample, EMTrainingException in Splink training);
now the run completes, links the records it can, and says what was missing."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest

from dtsen.linkage.config import ComparisonSpec, LinkConfig, Probabilistic, SplinkSpec
from dtsen.linkage.run import LinkResult, link
from dtsen.linkage.splink_model import usable_rules

PERSONS = 1200
MAPPINGS = ("siak_penduduk", "dtks", "bpjs_peserta", "pln_pelanggan")


def _config(spec: SplinkSpec | None = None) -> LinkConfig:
    p = Probabilistic(training_sample=40_000, u_max_pairs=3e5, splink=spec or SplinkSpec())
    return LinkConfig(probabilistic=p)


@pytest.fixture(scope="module")
def batches(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The newest batch of a few mappings of a small synthetic province (no keluarga batch among them)."""
    from dtsen.sources.ingest import ingest
    from dtsen.synth.generate import SynthRequest, generate

    root = tmp_path_factory.mktemp("partial")
    synth = root / "synth"
    generate(SynthRequest(persons=PERSONS, out=synth, seed=5, provinces=["34"], force=True, workers=1))
    manifest = json.loads((synth / "manifest.json").read_text(encoding="utf-8"))
    for f in manifest["files"]:
        if f["kind"] == "source" and f["table"] in MAPPINGS:
            ingest(f["table"], [synth / f["path"]], data_dir=root / "data")
    out = {"synth": synth}
    for d in (root / "data" / "batches").iterdir():
        m = json.loads((d / "manifest.json").read_text(encoding="utf-8"))
        out[m["mapping"]] = d
    assert set(out) == {"synth", *MAPPINGS}
    return out


def _without(batch: Path, target: Path, columns: list[str]) -> Path:
    """A copy of ``batch`` whose canonical table has ``columns`` null in every row (a source lacking them)."""
    shutil.copytree(batch, target)
    table = next((target / "canonical").glob("*.parquet"))
    frame = pl.read_parquet(table)
    table.chmod(0o644)
    frame.with_columns(pl.lit(None, frame.schema[c]).alias(c) for c in columns).write_parquet(table)
    return target


def _run(tmp: Path, dirs: list[Path], cfg: LinkConfig | None = None) -> LinkResult:
    return link(dirs, tmp / "link", tmp / "state", config=cfg or _config(), run="r1")


def _linked_share(result: LinkResult, source: str) -> float:
    links = pl.read_parquet(result.out_dir / "links.parquet").filter(pl.col("sumber") == source)
    assert links.height > 0
    return links.filter(pl.col("metode") != "tunggal").height / links.height


def test_no_family_batch(batches: dict[str, Path], tmp_path: Path) -> None:
    result = _run(tmp_path, [batches["siak_penduduk"], batches["dtks"], batches["bpjs_peserta"]])
    assert any(n.startswith("no keluarga batch") for n in result.notes), result.notes
    families = pl.read_parquet(result.out_dir / "families.parquet")
    assert families.height > 0
    assert families["status_bangunan"].is_null().all()  # no family row saw the house: null, not guessed
    assert _linked_share(result, "dtks") > 0.9


def test_source_without_region_codes(batches: dict[str, Path], tmp_path: Path) -> None:
    region = ["kode_desa", "kode_kec", "kode_kab", "kode_prov"]
    dtks = _without(batches["dtks"], tmp_path / "dtks", region)
    result = _run(tmp_path, [batches["siak_penduduk"], dtks])
    assert any(n.startswith("dtks: no kode_desa, kode_kec") for n in result.notes), result.notes
    assert _linked_share(result, "dtks") > 0.9


def test_no_birth_dates_anywhere(batches: dict[str, Path], tmp_path: Path) -> None:
    siak = _without(batches["siak_penduduk"], tmp_path / "siak", ["tanggal_lahir"])
    dtks = _without(batches["dtks"], tmp_path / "dtks", ["tanggal_lahir"])
    result = _run(tmp_path, [siak, dtks])
    assert "EM rule kode_kec+tgl_lahir skipped: tgl_lahir null in every record" in result.notes
    for rule in ("nama_depan+tgl_lahir+kode_kab", "nama+tgl_lahir"):
        assert f"blocking rule {rule} skipped: tgl_lahir null in every record" in result.notes
    assert _linked_share(result, "dtks") > 0.9
    persons = pl.read_parquet(result.out_dir / "persons.parquet")
    assert persons["tanggal_lahir"].is_null().all()


def test_extra_columns_from_ingested_batches(batches: dict[str, Path], tmp_path: Path) -> None:
    """``nama_asli`` (the name as the source wrote it) compared and blocked on; PLN rows lack it."""
    base = SplinkSpec()
    spec = SplinkSpec(
        extra_columns=["nama_asli"],
        comparisons=[*base.comparisons, ComparisonSpec(kind="ExactMatch", columns=["nama_asli"])],
        blocking_rules=[*base.blocking_rules, ["nama_asli"]],
    )
    dirs = [batches["siak_penduduk"], batches["dtks"], batches["pln_pelanggan"]]
    result = _run(tmp_path, dirs, _config(spec))
    records = json.loads((tmp_path / "state" / "model" / "current.json").read_text(encoding="utf-8"))
    assert records["splink"]["extra_columns"] == ["nama_asli"]
    assert _linked_share(result, "dtks") > 0.9


def test_duplicate_rows_are_linked_to_the_same_person(batches: dict[str, Path], tmp_path: Path) -> None:
    """Several identical forms per person: each duplicate stays flagged in quarantine and its record is
    linked to the person of the row it repeats, with a valid NIK (deterministic) and without (Splink)."""
    from dtsen.sources.ingest import ingest

    with (batches["synth"] / "sources" / "dtks.csv").open(encoding="utf-8", newline="") as f:
        header, *rows = list(csv.reader(f))
    nik = header.index("NIK")
    blanked = [[*r[:nik], "", *r[nik + 1 :]] for r in rows[40:60]]  # no NIK: only Splink can link them
    out = tmp_path / "dtks.csv"
    with out.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(
            [header, *rows[:40], *rows[:20], *blanked, *blanked, *rows[60:]]
        )
    result = ingest("dtks", [out], data_dir=tmp_path / "data")
    assert result.directory is not None
    quarantine = pl.read_parquet(result.directory / "quarantine.parquet")
    assert quarantine.filter(pl.col("kode") == "duplicate_row").height == 40
    linked = _run(tmp_path, [batches["siak_penduduk"], result.directory])
    links = pl.read_parquet(linked.out_dir / "links.parquet").filter(pl.col("sumber") == "dtks")
    assert links.height == len(rows) + 40  # every row is a record
    dupes = links.filter(pl.col("id_rekaman").str.contains("#")).with_columns(
        asli=pl.col("id_rekaman").str.replace(r"#\d+$", "")
    )
    assert dupes.height == 40
    pairs = dupes.join(links.select(asli="id_rekaman", id_asli="id_dtsen"), on="asli")
    assert pairs.height == 40
    assert pairs["id_dtsen"].is_not_null().all()
    assert (pairs["id_dtsen"] == pairs["id_asli"]).all()


def test_rules_on_empty_fields_are_named() -> None:
    table = pa.table({"nik": ["1", None], "tgl_lahir": pa.array([None, None], pa.string())})
    notes: list[str] = []
    kept = usable_rules(table, [["nik"], ["substr(tgl_lahir, 1, 4)", "nik"]], "EM rule", notes)
    assert kept == [["nik"]]
    assert notes == ["EM rule substr(tgl_lahir, 1, 4)+nik skipped: tgl_lahir null in every record"]


def test_unobserved_level_is_pinned_not_left_to_splink_default() -> None:
    """A level EM never observed keeps EM's own near-zero m in the saved model, not Splink's default."""
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator
    from splink.internals.constants import LEVEL_NOT_OBSERVED_TEXT

    from dtsen.linkage.splink_model import UNOBSERVED, pin_unobserved_levels

    frame = pa.table({"unique_id": [1, 2], "nik": ["3403045607220001", "3403045408220001"]})
    settings = SettingsCreator(
        link_type="dedupe_only", comparisons=[cl.LevenshteinAtThresholds("nik", [1, 2])]
    )
    linker = Linker(DuckDBAPI().register(frame), settings)
    exact, one, two, _ = linker._settings_obj.comparisons[0]._comparison_levels_excluding_null
    exact._add_trained_m_probability(0.9, "em")
    two._add_trained_m_probability(LEVEL_NOT_OBSERVED_TEXT, "em")
    pin_unobserved_levels(linker)
    assert two.m_probability == UNOBSERVED
    assert one.m_probability != UNOBSERVED  # never trained at all: left to the caller
    saved = linker._settings_obj.comparisons[0].as_dict()["comparison_levels"]
    assert [lv.get("m_probability") for lv in saved if lv["sql_condition"].count("<= 2")] == [UNOBSERVED]
