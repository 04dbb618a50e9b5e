"""Unit tests of the linkage rules: NIK corroboration, stable-ID assignment, review decisions, config."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import ibis
import polars as pl
import pytest

from dtsen.engine import get_engine
from dtsen.linkage.config import Deterministic, LinkConfig
from dtsen.linkage.deterministic import deterministic_links
from dtsen.linkage.ids import LAST_KEY, assign, registry_table, save_registry, write_pending
from dtsen.linkage.review import ReviewError, decide, load_decisions


def _records(rows: list[dict]) -> ibis.Table:
    base = {"spine": False, "tanggal_lahir": None}
    frame = pl.DataFrame([{**base, **r} for r in rows]).with_columns(
        nama_depan=pl.col("nama").str.split(" ").list.first(),
        nama_urut=pl.col("nama").str.split(" ").list.sort().list.join(" "),
        tanggal_lahir=pl.col("tanggal_lahir").cast(pl.Date),
    )
    return ibis.memtable(frame.to_arrow())


NIK = "3471014101900001"


@pytest.mark.parametrize(
    ("nama", "lahir", "linked"),
    [
        ("SITI AMINAH", date(1990, 1, 1), True),  # same person
        ("AMINAH SITI", date(1990, 1, 1), True),  # word order swapped
        ("SITI AMINA", date(1990, 1, 1), True),  # typo in the last name
        ("SITI AMINAH", date(1990, 1, 1).replace(month=1, day=1), True),
        ("SITI AMINAH", date(1991, 1, 1), True),  # one digit of the year mistyped
        ("BUDI AMINAH", date(1990, 1, 1), False),  # a relative borrowing the NIK: surname alone never links
        ("SITI AMINAH", date(1985, 6, 12), False),  # same name, another birth date
        ("SITI AMINAH", None, True),  # no birth date: strong full name
        ("SITI", None, True),  # first name only, contained: the first word agrees
        ("AMINAH", None, False),  # the surname alone, no birth date
    ],
)
def test_nik_needs_corroboration(nama: str, lahir: date | None, linked: bool) -> None:
    eng = get_engine("duckdb")
    t = _records(
        [
            {"rid": 1, "spine": True, "nik": NIK, "nama": "SITI AMINAH", "tanggal_lahir": date(1990, 1, 1)},
            {"rid": 2, "nik": NIK, "nama": nama, "tanggal_lahir": lahir},
        ]
    )
    out = eng.execute(deterministic_links(eng, t, Deterministic()))
    assert (len(out) == 1) is linked


def test_swapped_day_and_month_link() -> None:
    eng = get_engine("duckdb")
    t = _records(
        [
            {"rid": 1, "spine": True, "nik": NIK, "nama": "EKO", "tanggal_lahir": date(1990, 3, 7)},
            {"rid": 2, "nik": NIK, "nama": "EKO", "tanggal_lahir": date(1990, 7, 3)},
        ]
    )
    assert len(eng.execute(deterministic_links(eng, t, Deterministic()))) == 1


def test_register_nik_ganda_never_links_deterministically() -> None:
    eng = get_engine("duckdb")
    t = _records(
        [
            {"rid": 1, "spine": True, "nik": NIK, "nama": "EKO", "tanggal_lahir": date(1990, 3, 7)},
            {"rid": 3, "spine": True, "nik": NIK, "nama": "EKO", "tanggal_lahir": date(1990, 3, 7)},
            {"rid": 2, "nik": NIK, "nama": "EKO", "tanggal_lahir": date(1990, 3, 7)},
        ]
    )
    assert len(eng.execute(deterministic_links(eng, t, Deterministic()))) == 0


def _assign(
    tmp: Path, rows: list[tuple[int, str, bool]], state: Path, kind: str, run: str
) -> tuple[dict[int, str], pl.DataFrame]:
    """One run of :func:`assign` on DuckDB with the registry in ``state``, saved as a linkage run does."""
    eng = get_engine("duckdb")
    work = tmp / run
    work.mkdir()
    groups = pl.DataFrame(
        rows, schema={"group": pl.Int64, "kunci": pl.String, "kuat": pl.Boolean}, orient="row"
    )
    groups.write_parquet(work / "groups.parquet")
    registry = registry_table(eng, state, work)
    got = assign(eng, eng.read_parquet(work / "groups.parquet"), registry, kind, run, work)
    save_registry(state, write_pending(eng, got.registry, state))
    return dict(pl.read_parquet(got.ids).iter_rows()), got.lineage


def test_ids_stable_merge_split_retire_and_never_reused(tmp_path: Path) -> None:
    state = tmp_path / "state"
    ids1, _ = _assign(
        tmp_path,
        [(1, "a", True), (1, "a2", False), (2, "b", True), (3, "c", True), (4, "d", True)],
        state,
        "person",
        "r1",
    )
    assert len(set(ids1.values())) == 4
    # run 2: a and b merge (one group), c splits into c and c2 (c2 takes c's weak key), d disappears
    ids2, lineage2 = _assign(
        tmp_path,
        [(10, "a", True), (10, "b", True), (11, "c", True), (12, "c2", True), (12, "a2", False)],
        state,
        "person",
        "r2",
    )
    assert ids2[10] in (ids1[1], ids1[2])
    assert ids2[11] == ids1[3]
    lineage = {(r["jenis"], r["id_lama"]) for r in lineage2.iter_rows(named=True)}
    loser = ids1[2] if ids2[10] == ids1[1] else ids1[1]
    assert ("gabung", loser) in lineage
    assert ("pensiun", ids1[4]) in lineage
    assert ids2[12] not in ids1.values()  # new ID, never a reused one
    # run 3: the merged-away and retired IDs are never issued again even though nothing claims them
    ids3, _ = _assign(tmp_path, [(20, "z", True), (21, "y", True)], state, "person", "r3")
    issued = set(ids1.values()) | set(ids2.values())
    assert not set(ids3.values()) & issued
    assert LAST_KEY in set(pl.read_parquet(state / "ids.parquet")["kunci"])
    assert not (state / ".ids.pending.parquet").exists()  # saved: the pending file became the registry


def test_split_writes_lineage(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first, _ = _assign(
        tmp_path, [(1, "kk:1", True), (1, "p:a", False), (1, "p:b", False)], state, "family", "r1"
    )
    old = first[1]
    ids, lineage = _assign(
        tmp_path,
        [(1, "kk:1", True), (1, "p:a", False), (2, "kk:2", True), (2, "p:b", False)],
        state,
        "family",
        "r2",
    )
    assert ids[1] == old
    split = lineage.filter(pl.col("jenis") == "pisah")
    assert split.rows() == [(old, ids[2], "pisah", "family", "r2")]


def test_decisions_are_validated_and_latest_wins(tmp_path: Path) -> None:
    with pytest.raises(ReviewError):
        decide(tmp_path, "a|b", "maybe")
    with pytest.raises(ReviewError):
        decide(tmp_path, "no-pair", "cocok")
    decide(tmp_path, "a|b", "cocok", "x")
    decide(tmp_path, "a|b", "tidak_cocok", "y")
    assert load_decisions(tmp_path).select("keputusan", "oleh").rows() == [("tidak_cocok", "y")]


def test_config_yaml_and_bands(tmp_path: Path) -> None:
    path = tmp_path / "link.yaml"
    path.write_text("probabilistic:\n  match_threshold: 0.9\n  review_threshold: 0.5\n", encoding="utf-8")
    cfg = LinkConfig.from_yaml(path)
    assert cfg.probabilistic.match_threshold == 0.9
    path.write_text("probabilistic:\n  match_threshold: 0.5\n  review_threshold: 0.9\n", encoding="utf-8")
    with pytest.raises(ValueError, match="review_threshold"):
        LinkConfig.from_yaml(path)
    path.write_text("unknown_knob: 1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unknown_knob"):
        LinkConfig.from_yaml(path)
