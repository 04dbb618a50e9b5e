"""Linkage on exports the model was not tuned to (issue 14): a person missing from the register who
carries a household member's NIK is not merged into that member, an age stands in for a missing birth
date, thresholds come from the model or a clerical sample, and the run reports its review queue."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import ibis
import polars as pl
import pytest
from typer.testing import CliRunner

from dtsen.engine import get_engine
from dtsen.linkage import thresholds as th
from dtsen.linkage.config import Deterministic, LinkConfig, Probabilistic
from dtsen.linkage.deterministic import conflicting
from dtsen.linkage.run import LinkResult, link

PERSONS = 1500
MAPPINGS = ("siak_penduduk", "dtks")
OTHER_NAMES = ("ZULKIFLI RAMADHAN", "WAHYU HIDAYAT")  # clearly not the register person's name


# --- the conflict rule on hand-made pairs --------------------------------------------------------


def _pair(l_nama: str, r_nama: str, l_lahir: date | None, r_lahir: date | None, r_tahun: int | None) -> Any:
    def side(prefix: str, nama: str, lahir: date | None, tahun: int | None) -> dict[str, Any]:
        return {
            f"{prefix}nama": nama,
            f"{prefix}nama_depan": nama.split(" ")[0],
            f"{prefix}nama_urut": " ".join(sorted(nama.split(" "))),
            f"{prefix}tanggal_lahir": lahir,
            f"{prefix}tahun_lahir": tahun if tahun is not None else (lahir.year if lahir else None),
        }

    row = {
        "rid_l": 1,
        "rid_r": 2,
        **side("l_", l_nama, l_lahir, None),
        **side("r_", r_nama, r_lahir, r_tahun),
    }
    frame = pl.DataFrame([row]).with_columns(
        pl.col("l_tanggal_lahir", "r_tanggal_lahir").cast(pl.Date),
        pl.col("l_tahun_lahir", "r_tahun_lahir").cast(pl.Int32),
    )
    return ibis.memtable(frame.to_arrow())


@pytest.mark.parametrize(
    ("r_nama", "r_lahir", "r_tahun", "refused"),
    [
        ("BUDI SANTOSO", date(2002, 5, 1), None, True),  # a household member with A's NIK
        ("BUDI SANTOSO", None, 1960, True),  # no birth date, an age 30 years off
        ("BUDI SANTOSO", None, 1990, False),  # the age agrees: names alone do not refuse
        ("BUDI SANTOSO", None, None, False),  # nothing known about birth: not a disagreement
        ("SITI AMINAH", date(2002, 5, 1), None, False),  # same name, other date: the model decides
        ("SUTI AMINAH", date(1990, 3, 14), None, False),  # typo, same date
        ("BUDI SANTOSO", date(1990, 3, 14), None, False),  # other name, same date
        ("BUDI SANTOSO", date(1980, 3, 14), None, False),  # one year digit mistyped: a slip, not a conflict
    ],
)
def test_conflict_needs_names_and_birth_to_disagree(
    r_nama: str, r_lahir: date | None, r_tahun: int | None, refused: bool
) -> None:
    eng = get_engine("duckdb")
    t = _pair("SITI AMINAH", r_nama, date(1990, 3, 14), r_lahir, r_tahun)
    out = eng.execute(t.select(x=conflicting(eng, t, Deterministic())))
    assert bool(out["x"][0]) is refused


# --- thresholds -------------------------------------------------------------------------------------


def test_expected_precision_and_auto_thresholds() -> None:
    scores = pl.Series([1.0] * 900 + [0.97] * 50 + [0.6] * 20 + [0.3] * 30 + [0.1] * 40)
    hist = th.histogram(scores)
    assert th.expected_precision(hist, 0.6) == pytest.approx((900 + 0.97 * 50 + 0.6 * 20) / 970)
    assert th.expected_precision(hist, 0.3, 0.6) == pytest.approx(0.3)
    used = th.resolve(Probabilistic(match_threshold="auto", review_threshold="auto"), hist)
    # at 0.61 the expected precision is 948.5 / 950 = 0.9984 (>= 0.995); with the 0.6 pairs 0.9902
    assert used.match == 0.61
    assert used.match_from == "model"
    # the band [0.31, 0.61) holds the 0.6 pairs (mean 0.6 >= 0.5); with the 0.3 ones its mean is 0.42
    assert used.review == 0.31
    assert used.expected_precision_review == pytest.approx(0.6)
    strict = th.resolve(Probabilistic(match_threshold="auto", target_precision=0.999), hist)
    assert strict.match == 0.98  # only the 1.0 pairs: the 0.97 ones bring it to 0.9984
    assert strict.review == 0.7  # the configured review threshold
    low = th.resolve(Probabilistic(match_threshold=0.5, review_threshold="auto"), hist)
    assert low.review == 0.31  # the band [0.31, 0.5) holds nothing; below it only the 0.3 and 0.1 pairs
    # a fixed review threshold above the model's match (0.61) gives way to the model's band, not nothing
    above = th.resolve(Probabilistic(match_threshold="auto", review_threshold=0.7), hist)
    assert (above.match, above.review, above.review_from) == (0.61, 0.31, "model")
    fixed = th.resolve(Probabilistic(match_threshold=0.95), hist)
    assert (fixed.match, fixed.review, fixed.match_from) == (0.95, 0.7, "config")
    assert th.resolve(Probabilistic(match_threshold="auto"), th.histogram(pl.Series([0.2]))).match_from == (
        "default"
    )


def test_wilson_interval() -> None:
    low, high = th.wilson(10, 10)
    assert low == pytest.approx(0.7225, abs=1e-4)
    assert high == pytest.approx(1.0)
    low, high = th.wilson(0, 10)
    assert low == 0.0
    assert high == pytest.approx(0.2775, abs=1e-4)


def test_sample_advice() -> None:
    labels = pl.DataFrame(
        {
            "probabilitas": [0.99, 0.98, 0.97, 0.9, 0.8, 0.75, 0.72],
            "cocok": [True, True, True, True, False, True, False],
        }
    )
    advice = th.from_sample(labels, 0.995)
    assert (advice.n, advice.matches) == (7, 5)
    assert advice.target_threshold == 0.9
    assert advice.target_n == 4
    assert advice.target_precision == 1.0
    assert advice.target_interval is not None
    assert advice.target_interval[0] < 0.995
    assert "does not establish" in advice.statement
    assert advice.best_f1_threshold == 0.75  # 5 of 6 above are matches, recall 1: F1 0.909
    assert advice.best_f1 == pytest.approx(2 * (5 / 6) / (5 / 6 + 1), abs=1e-6)
    assert th.from_sample(labels.head(0), 0.995).statement.startswith("no labelled pairs")


def test_labels_csv_errors_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_text("probabilitas,keputusan\n0.9,cocok\n0.8,mungkin\n", encoding="utf-8")
    with pytest.raises(th.ThresholdError, match=r"labels.csv: line 3: keputusan 'mungkin'"):
        th.labels_from_csv(path, None)
    path.write_text("probabilitas,keputusan\n1.5,cocok\n", encoding="utf-8")
    with pytest.raises(th.ThresholdError, match=r"line 2: probabilitas '1.5'"):
        th.labels_from_csv(path, None)
    path.write_text("nilai,keputusan\n0.9,cocok\n", encoding="utf-8")
    with pytest.raises(th.ThresholdError, match="line 1: need a keputusan column"):
        th.labels_from_csv(path, None)
    path.write_text("probabilitas,keputusan\n0.9,cocok\n0.4,tidak_cocok\n", encoding="utf-8")
    assert th.labels_from_csv(path, None)["cocok"].to_list() == [True, False]


def test_config_accepts_auto_and_checks_bands() -> None:
    assert (Probabilistic().match_threshold, Probabilistic().review_threshold) == ("auto", 0.7)
    with pytest.raises(ValueError, match="review_threshold"):
        Probabilistic(match_threshold=0.6, review_threshold=0.8)
    with pytest.raises(ValueError, match="auto"):
        Probabilistic(match_threshold="sometimes")  # type: ignore[arg-type]


# --- end to end: the household member with A's NIK ---------------------------------------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A small province; a DTKS batch with four added rows about one register person A: B (A's NIK, KK
    and address, another name, born 12 years later), C (the same with no birth date but an age 30 years
    off), A's own record without NIK and with a typo in the first name (D), and with a typo and A's NIK
    (E). Linked once with the default configuration and once with the conflict rule off."""
    from dtsen.sources.ingest import ingest
    from dtsen.synth.generate import SynthRequest, generate

    root = tmp_path_factory.mktemp("generalise")
    synth = root / "synth"
    generate(SynthRequest(persons=PERSONS, out=synth, seed=5, provinces=["34"], force=True, workers=1))
    manifest = json.loads((synth / "manifest.json").read_text(encoding="utf-8"))
    for f in manifest["files"]:
        if f["kind"] == "source" and f["table"] in MAPPINGS:
            ingest(f["table"], [synth / f["path"]], data_dir=root / "data")
    batches = {}
    for d in (root / "data" / "batches").iterdir():
        batches[json.loads((d / "manifest.json").read_text(encoding="utf-8"))["mapping"]] = d
    siak = pl.read_parquet(next((batches["siak_penduduk"] / "canonical").glob("*.parquet")))
    a = _register_person(siak)
    dtks = root / "dtks"
    shutil.copytree(batches["dtks"], dtks)
    table = next((dtks / "canonical").glob("*.parquet"))
    frame = pl.read_parquet(table)
    table.chmod(0o644)
    added = _added_rows(frame, a)
    pl.concat([frame, added], how="diagonal_relaxed").write_parquet(table)
    runs: dict[str, LinkResult] = {}
    state = root / "state"
    dirs = [batches["siak_penduduk"], dtks]
    for name, refuse in (("default", True), ("model_alone", False)):
        cfg = LinkConfig(
            probabilistic=Probabilistic(training_sample=40_000, u_max_pairs=3e5, refuse_conflicts=refuse)
        )
        runs[name] = link(dirs, root / name / "link", state, config=cfg, run=name)
    return {"a": a, "runs": runs, "state": state, "batches": dirs}


def _register_person(siak: pl.DataFrame) -> dict[str, Any]:
    """A living register person with a unique NIK, an address, a KK shared with others, born 1960-1990
    on a day that exists in every year, whose first name starts with neither Z nor W."""
    kk = siak.group_by("no_kk").len().filter(pl.col("len") >= 3)["no_kk"]
    unique_nik = siak.group_by("nik").len().filter(pl.col("len") == 1)["nik"]
    found = siak.filter(
        pl.col("no_kk").is_in(kk.implode())
        & pl.col("nik").is_in(unique_nik.implode())
        & pl.col("status_hidup").fill_null(False)
        & pl.col("alamat").is_not_null()
        & pl.col("tanggal_lahir").dt.year().is_between(1960, 1990)
        & (pl.col("tanggal_lahir").dt.day() <= 28)
        & ~pl.col("nama").str.slice(0, 1).is_in(["Z", "W"])
        & (pl.col("nama").str.split(" ").list.first().str.len_chars() >= 4)
    ).sort("id_anggota")
    assert found.height > 0
    return found.row(0, named=True)


def _typo(nama: str) -> str:
    first, *rest = nama.split(" ")
    swapped = first[0] + ("U" if first[1] != "U" else "I") + first[2:]
    return " ".join([swapped, *rest])


def _added_rows(frame: pl.DataFrame, a: dict[str, Any]) -> pl.DataFrame:
    template = frame.row(0, named=True)
    lahir: date = a["tanggal_lahir"]
    seen = template["tanggal_data"]
    same = {
        c: a[c]
        for c in ("no_kk", "alamat", "kode_desa", "kode_kec", "kode_kab", "kode_prov")
        if c in frame.columns
    }
    rows = {
        "B": {"nik": a["nik"], "nama": OTHER_NAMES[0], "tanggal_lahir": lahir.replace(year=lahir.year + 12)},
        "C": {
            "nik": a["nik"],
            "nama": OTHER_NAMES[1],
            "tanggal_lahir": None,
            "umur": seen.year - lahir.year - 30,
        },
        "D": {"nik": None, "nama": _typo(a["nama"]), "tanggal_lahir": lahir},
        "E": {"nik": a["nik"], "nama": _typo(a["nama"]), "tanggal_lahir": lahir},
    }
    last = int(frame["baris"].max())  # type: ignore[arg-type]
    out = []
    for i, (key, fields) in enumerate(rows.items(), start=1):
        out.append(
            {
                **template,
                **same,
                "jenis_kelamin": a["jenis_kelamin"],
                "id_anggota": f"dtks:UJI-{key}",
                "id_anggota_sumber": f"UJI-{key}",
                "baris": last + i,
                "umur": None,
                **fields,
            }
        )
    schema = {**frame.schema, "umur": pl.Int16}
    return pl.DataFrame(out, schema={c: schema[c] for c in out[0]})


def _person(result: LinkResult, sumber: str, id_rekaman: str) -> str | None:
    links = pl.read_parquet(result.out_dir / "links.parquet")
    row = links.filter((pl.col("sumber") == sumber) & (pl.col("id_rekaman") == id_rekaman))
    assert row.height == 1, (sumber, id_rekaman)
    return row["id_dtsen"][0]


def test_household_member_with_the_nik_is_not_merged(world: dict[str, Any]) -> None:
    result = world["runs"]["default"]
    holder = _person(result, "siak", world["a"]["id_anggota"])
    assert holder is not None
    assert _person(result, "dtks", "dtks:UJI-B") != holder  # other name, born 12 years later
    assert _person(result, "dtks", "dtks:UJI-C") != holder  # other name, age 30 years off
    assert _person(result, "dtks", "dtks:UJI-D") == holder  # A's own record: typo, no NIK (Splink)
    assert _person(result, "dtks", "dtks:UJI-E") == holder  # typo, A's NIK


def test_refused_pairs_go_to_review(world: dict[str, Any]) -> None:
    """A pair the model scores at or above the match threshold but refused is waiting for a clerk, its
    evidence saying why; with the rule off the same pair would link (what the rule prevents)."""
    result, alone = world["runs"]["default"], world["runs"]["model_alone"]
    review = pl.read_parquet(result.out_dir / "review.parquet")
    refused = review.filter(pl.col("bukti").str.contains("tolak=nama+lahir", literal=True))
    holder = world["a"]["id_anggota"]
    for key in ("dtks:UJI-B", "dtks:UJI-C"):
        linked_alone = _person(alone, "dtks", key) == _person(alone, "siak", holder)
        mine = refused.filter(
            ((pl.col("kiri_id_rekaman") == key) & (pl.col("kanan_id_rekaman") == holder))
            | ((pl.col("kanan_id_rekaman") == key) & (pl.col("kiri_id_rekaman") == holder))
        )
        if linked_alone:  # the model alone merged it: the rule must have refused it, into the queue
            assert mine.height == 1
            assert mine["status"][0] == "menunggu"
    assert refused["status"].eq("menunggu").all()


def test_review_queue_size_reported(world: dict[str, Any]) -> None:
    result = world["runs"]["default"]
    review = pl.read_parquet(result.out_dir / "review.parquet").filter(pl.col("status") == "menunggu")
    assert result.counts["review"] == review.height
    keys = pl.concat([review["kiri_id_rekaman"], review["kanan_id_rekaman"]]).n_unique()
    assert result.counts["review_records"] == keys


def test_run_records_its_thresholds(world: dict[str, Any]) -> None:
    result = world["runs"]["default"]
    t = result.thresholds
    assert t["match_from"] == "model"  # the default
    if t["match"] > 0.7:
        assert (t["review"], t["review_from"]) == (0.7, "config")
    else:  # the model's match threshold at or below the fixed 0.7: the model's review band instead
        assert t["review_from"] == "model"
        assert t["review"] < t["match"]
    assert t["expected_precision_match"] >= 0.995
    used, hist = th.read_record(result.out_dir)
    assert used == t
    assert int(hist["n"].sum()) == t["pairs_scored"] > 0
    # scored below the review band too; the default run's histogram leaves refused pairs out (household
    # members sharing SITI/MUHAMMAD/I/NI), so the run without the refusal shows them
    _, alone = th.read_record(world["runs"]["model_alone"].out_dir)
    assert float(alone.filter(pl.col("bin") < 700)["n"].sum()) > 0


def test_auto_thresholds_run(world: dict[str, Any], tmp_path: Path) -> None:
    default = world["runs"]["default"]
    cfg = LinkConfig(
        probabilistic=Probabilistic(
            training_sample=40_000, u_max_pairs=3e5, match_threshold="auto", review_threshold="auto"
        )
    )
    state = tmp_path / "state"
    shutil.copytree(world["state"], state)  # the same model: only the thresholds differ
    result = link(world["batches"], tmp_path / "auto", state, config=cfg, run="auto")
    assert result.model == default.model
    t = result.thresholds
    assert t["match_from"] == "model"
    assert t["review_from"] == "model"
    assert 0 < t["review"] <= t["match"] < 1
    assert t["match"] >= th.MATCH_MIN
    assert t["expected_precision_match"] >= 0.995
    holder = _person(result, "siak", world["a"]["id_anggota"])
    assert _person(result, "dtks", "dtks:UJI-B") != holder


def test_thresholds_command_recommends_without_changing(world: dict[str, Any], tmp_path: Path) -> None:
    from dtsen.cli.link import app
    from dtsen.linkage.review import decide, decisions_path

    result, state = world["runs"]["default"], world["state"]
    review = pl.read_parquet(result.out_dir / "review.parquet")
    assert review.height >= 2
    state_copy = tmp_path / "state"
    shutil.copytree(state, state_copy)
    for i, pair in enumerate(review["id_pasangan"].head(2).to_list()):
        decide(state_copy, pair, "cocok" if i == 0 else "tidak_cocok", "uji")
    labels = tmp_path / "labels.csv"
    labels.write_text("probabilitas,keputusan\n0.99,cocok\n0.98,cocok\n0.5,tidak_cocok\n", encoding="utf-8")
    before = {p: p.stat().st_mtime_ns for p in [*state_copy.rglob("*"), *result.out_dir.rglob("*")]}
    args = ["thresholds", "--run", str(result.out_dir), "--state", str(state_copy), "--labels", str(labels)]
    out = CliRunner().invoke(app, args)
    assert out.exit_code == 0, out.output
    data = json.loads(out.output.strip().splitlines()[-1])
    assert data["sample"]["n"] == 5
    assert data["sample"]["matches"] == 3
    assert data["used"]["match_from"] == "model"
    assert data["model"]["match"] is not None
    assert data["model"]["pairs_scored"] > 0
    assert "clerical sample (n=5" in out.output
    assert before == {p: p.stat().st_mtime_ns for p in [*state_copy.rglob("*"), *result.out_dir.rglob("*")]}
    assert decisions_path(state_copy).exists()
