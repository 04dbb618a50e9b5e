"""``dtsen synth``: the generated population and its source exports, checked against the truth it writes.

Every number here is measured on written files (sources/ against truth/), never on the generator's
intentions. The suite builds a handful of datasets once per module: a 40k-person kabupaten in CSV (most
row-level checks), a 150k-person national run in Parquet (calibration, identifiers at scale), tiny CSV,
Parquet and XLSX twins (formats) and small multi-chunk runs (determinism).
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import cache, cached_property
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from dtsen.reference import regions
from dtsen.reference.nik import check_kk, check_nik, clean_identifier
from dtsen.synth import generate as gen
from dtsen.synth.dirt import DateDirt, NikDirt
from dtsen.synth.generate import SynthError, SynthRequest, TableWriter, generate
from dtsen.synth.params import SynthParams
from dtsen.synth.report import calibration_report
from dtsen.synth.sources import RECORD_ID, SOURCES

PARAMS = SynthParams()
REGSOSEK_DATE = PARAMS.regsosek_date
REFERENCE_DATE = PARAMS.reference_date
KAB_PERSONS = 40_000
NAT_PERSONS = 150_000

# Family-level exports: their truth rows name a family, not a person.
FAMILY_LEVEL = {"regsosek_keluarga", "susenas_rumah_tangga"}
# What only the truth may know: no agency export may carry a column with one of these names.
TRUTH_ONLY = {
    "person_id",
    "family_id",
    "pc_consumption",
    "log_consumption",
    "true_pc_consumption",
    "desil",
    "poor",
    "culture",
    "regsosek_unit",
    "role",
    "alive",
    "in_regsosek",
    "born_since_regsosek",
    "moved",
    "move_reported",
    "split_since_regsosek",
    "parent_family_id",
    "nik_dirt",
    "kk_dirt",
    "name_dirt",
    "date_dirt",
    "duplicate",
    "death_recorded",
    "not_transferred",
    "holder_family_id",
    "user_family_id",
    "baris",
    "berkas",
    "no_kk_now",
    "no_kk_2022",
    "kode_desa_2022",
    "alamat_2022",
    "age_2022",
}
# ``baris`` is the line of the file as a reader counts it: the header is line 1 of a CSV or XLSX sheet,
# so data starts on line 2; a Parquet file has no header line, so its rows count from 1.
FIRST_LINE = {"csv": 2, "xlsx": 2, "parquet": 1}
ELECTRICAL = ("R502B", "R502C", "R502D", "R502F", "R502H")  # fridge, AC, water heater, flat TV, computer


# ---- datasets ---------------------------------------------------------------------------------------


class Dataset:
    """A generated directory with lazily loaded truth and source tables (sources as strings, "" = empty)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
        self.ext = self.manifest["format"]
        self._links: dict[str, pl.DataFrame] = {}
        self._sources: dict[str, pl.DataFrame] = {}

    @cached_property
    def persons(self) -> pl.DataFrame:
        return pl.read_parquet(self.path / "truth" / "persons.parquet")

    @cached_property
    def families(self) -> pl.DataFrame:
        return pl.read_parquet(self.path / "truth" / "families.parquet")

    def links(self, name: str) -> pl.DataFrame:
        if name not in self._links:
            self._links[name] = pl.read_parquet(self.path / "truth" / f"links_{name}.parquet")
        return self._links[name]

    def source(self, name: str) -> pl.DataFrame:
        if name not in self._sources:
            self._sources[name] = read_source(self.path / "sources" / f"{name}.{self.ext}")
        return self._sources[name]

    def joined(self, name: str) -> pl.DataFrame:
        """Source rows side by side with their truth links (aligned on ``baris``) and the true person."""
        links = self.links(name).sort("baris")
        rows = self.source(name)
        first = FIRST_LINE[self.ext]
        assert links["baris"].to_list() == list(range(first, first + rows.height))
        truth = self.persons.select(
            "person_id",
            pl.col("nik").alias("true_nik"),
            pl.col("nama").alias("true_nama"),
            pl.col("alive").alias("true_alive"),
        )
        return pl.concat([rows, links], how="horizontal").join(
            truth, on="person_id", how="left", maintain_order="left"
        )


def read_source(path: Path) -> pl.DataFrame:
    """Any export format as all-string columns, empty cells as ``""`` (how a loader first sees it)."""
    if path.suffix == ".csv":
        frame = pl.read_csv(path, infer_schema=False)
    elif path.suffix == ".parquet":
        frame = pl.read_parquet(path)
    else:
        from openpyxl import load_workbook

        book = load_workbook(path, read_only=True)
        try:
            sheet = book.worksheets[0]
            values = list(sheet.iter_rows(values_only=True))
        finally:
            book.close()
        header, body = list(values[0]), values[1:]
        frame = pl.DataFrame(
            {h: [_cell(r[i]) for r in body] for i, h in enumerate(header)},
            schema=dict.fromkeys(header, pl.Utf8),
        )
    return frame.with_columns(pl.all().cast(pl.Utf8).fill_null(""))


def _cell(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def make(tmp_path_factory: pytest.TempPathFactory, name: str, **kwargs: object) -> Path:
    out = tmp_path_factory.mktemp(name) / "synth"
    generate(SynthRequest(out=out, **{"workers": 1, **kwargs}))  # type: ignore[arg-type]
    return out


@pytest.fixture(scope="module")
def kab(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    """Kabupaten Banyumas, 40k living persons, CSV: the row-level checks run here."""
    return Dataset(make(tmp_path_factory, "kab", persons=KAB_PERSONS, kabupaten=["3302"], seed=5, fmt="csv"))


@pytest.fixture(scope="module")
def nat(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    """All of Indonesia, 150k living persons, Parquet: calibration and identifiers across provinces."""
    return Dataset(make(tmp_path_factory, "nat", persons=NAT_PERSONS, seed=11, fmt="parquet"))


@pytest.fixture(scope="module", params=["kab", "nat"])
def any_dataset(request: pytest.FixtureRequest) -> Dataset:
    return request.getfixturevalue(request.param)


def sample(frame: pl.DataFrame, n: int = 25_000) -> pl.DataFrame:
    """A fixed random subset (row-by-row Python checks would dominate the suite's time on 150k rows)."""
    return frame if frame.height <= n else frame.sample(n=n, seed=0)


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# ---- 1. determinism -----------------------------------------------------------------------------------


def test_same_seed_gives_byte_identical_output_and_another_seed_does_not(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    params = SynthParams(chunk_persons=2_500)  # several chunks, so per-chunk seeding is exercised too
    args = {"persons": 8_000, "provinces": ["34"], "params": params}
    assert len(gen.plan(8_000, ["34"], None, params.chunk_persons)) >= 3
    first = tree_digest(make(tmp_path_factory, "det_a", seed=3, **args))
    # the rerun uses worker processes: parallel chunks must not change a byte either
    second = tree_digest(make(tmp_path_factory, "det_b", seed=3, workers=2, **args))
    other = tree_digest(make(tmp_path_factory, "det_c", seed=4, **args))
    assert len(first) == 1 + len(SOURCES) + len(SOURCES) + 2  # manifest, sources, links, persons, families
    assert "manifest.json" in first
    assert first == second
    assert first.keys() == other.keys()
    differing = {k for k in first if first[k] != other[k]}
    expected = {"manifest.json", "truth/persons.parquet", "truth/families.parquet"} | {
        f"sources/{name}.csv" for name in SOURCES
    }
    assert expected <= differing


# ---- 2. truth completeness -----------------------------------------------------------------------------


def test_living_persons_match_the_request(kab: Dataset) -> None:
    assert int(kab.persons["alive"].sum()) == KAB_PERSONS
    assert kab.persons["person_id"].is_unique().all()
    assert kab.families["family_id"].is_unique().all()
    assert set(kab.persons["family_id"].unique().to_list()) == set(kab.families["family_id"].to_list())


@pytest.mark.parametrize("name", list(SOURCES))
def test_every_source_row_has_exactly_one_truth_link(kab: Dataset, name: str) -> None:
    rows, links = kab.source(name), kab.links(name)
    assert rows.height > 0, name
    assert links.height == rows.height
    assert links["baris"].to_list() == list(range(2, rows.height + 2))  # CSV: the header is line 1
    assert links["berkas"].unique().to_list() == [f"{name}.csv"]
    assert links["source"].unique().to_list() == [SOURCES[name]]
    # the record id in the truth is the one written on that line of the file
    id_cols = RECORD_ID[name]
    written = rows.select(pl.concat_str([pl.col(c) for c in id_cols], separator="-")).to_series()
    assert written.to_list() == links.sort("baris")["record_id"].to_list()
    assert written.is_unique().all()  # SIAK's key is the NIK, which two rows never share either


@pytest.mark.parametrize("name", list(SOURCES))
def test_truth_links_name_existing_persons_and_families(kab: Dataset, name: str) -> None:
    links = kab.links(name)
    persons = set(kab.persons["person_id"].to_list())
    families = set(kab.families["family_id"].to_list())
    person_ids = set(links["person_id"].to_list())
    if name in FAMILY_LEVEL:
        assert person_ids == {-1}
    else:
        assert -1 not in person_ids
        assert person_ids <= persons
        # the person's own family; PLN names the metered family and the holder's family apart
        own_col = "holder_family_id" if "holder_family_id" in links.columns else "family_id"
        check = links.join(
            kab.persons.select("person_id", pl.col("family_id").alias("own")), on="person_id", how="left"
        )
        assert (check[own_col] == check["own"]).all()
    for col in ("family_id", "holder_family_id", "user_family_id"):
        if col in links.columns:
            assert set(links[col].to_list()) <= families, col


def test_manifest_counts_and_hashes_match_the_files(kab: Dataset) -> None:
    m = kab.manifest
    assert m["seed"] == 5
    assert m["persons"] == KAB_PERSONS
    assert m["kabupaten"] == ["3302"]
    assert m["provinces"] is None
    assert SynthParams.model_validate(m["params"]) == PARAMS
    listed = {f["path"] for f in m["files"]}
    on_disk = {str(p.relative_to(kab.path)) for p in kab.path.rglob("*") if p.is_file()}
    assert on_disk - listed == {"manifest.json"}
    for f in m["files"]:
        path = kab.path / f["path"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == f["sha256"], f["path"]
        if path.suffix == ".csv":
            rows = pl.read_csv(path, infer_schema=False).height
        else:
            rows = pl.read_parquet(path).height
        assert rows == f["rows"], f["path"]


# ---- 3. no leakage ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(SOURCES))
def test_sources_carry_no_truth_only_columns(kab: Dataset, name: str) -> None:
    columns = {c.lower() for c in kab.source(name).columns}
    assert not columns & TRUTH_ONLY


def test_p3ke_desil_is_an_old_estimate_not_the_true_desil(kab: Dataset) -> None:
    j = kab.joined("p3ke").join(
        kab.families.select("family_id", "desil"), on="family_id", maintain_order="left"
    )
    old = j["DESIL_KESEJAHTERAAN"].cast(pl.Int64)
    assert old.is_between(1, 4).all()  # P3KE keeps desil 1-4 only
    assert (old == j["desil"]).mean() < 0.6
    assert float(np.corrcoef(old.to_numpy(), j["desil"].to_numpy())[0, 1]) > 0.2


def test_susenas_consumption_is_measured_with_error(nat: Dataset) -> None:
    j = (
        nat.joined("susenas_rumah_tangga")
        .join(nat.families.select("family_id", "pc_consumption"), on="family_id", maintain_order="left")
        .select(pl.col("KAPITA").cast(pl.Float64), pl.col("pc_consumption").cast(pl.Float64))
    )
    assert j.height > 300
    measured, true = np.log(j["KAPITA"].to_numpy()), np.log(j["pc_consumption"].to_numpy())
    assert np.mean(np.abs(measured - true) < 1e-6) < 0.01  # the truth is never copied
    assert np.corrcoef(measured, true)[0, 1] > 0.9  # ... but measured well
    assert 0.1 < np.std(measured - true) < 0.3  # consumption_measurement_sd = 0.18


# ---- 4. identifiers ---------------------------------------------------------------------------------------


def test_true_niks_are_unique_and_valid(any_dataset: Dataset) -> None:
    per = any_dataset.persons
    assert per["nik"].is_unique().all()
    assert per["nik"].str.contains(r"^\d{16}$").all()
    problems: dict[str, int] = {}
    for nik, born, sex in sample(per.select("nik", "tanggal_lahir", "jenis_kelamin")).iter_rows():
        result = check_nik(nik, birth_date=born, sex=sex, today=REFERENCE_DATE)
        for code in result.codes:
            if code == "nik_kecamatan_unknown" and nik[:6] in _village_only_kecamatan():
                continue  # reference data gap: villages of a kecamatan missing from the kecamatan list
            problems[code] = problems.get(code, 0) + 1
    assert problems == {}


def test_true_kk_numbers_are_valid_and_never_shared_by_two_families(any_dataset: Dataset) -> None:
    fam = any_dataset.families
    for col in ("no_kk", "no_kk_now", "no_kk_2022"):
        problems = [
            (kk, result.codes)
            for kk in sample(fam)[col].to_list()
            if (result := check_kk(kk, today=REFERENCE_DATE)).codes
            and not (result.codes == ("no_kk_kecamatan_unknown",) and kk[:6] in _village_only_kecamatan())
        ]
        assert problems == [], col
    assert fam["no_kk"].is_unique().all()  # SIAK: one card, one family
    assert fam["no_kk_now"].is_unique().all()
    # a number is shared only by a family split off since 2022 and the parent whose card it was on
    cards = pl.concat(
        [
            fam.select(pl.col("no_kk").alias("kk"), "family_id"),
            fam.select(pl.col("no_kk_now").alias("kk"), "family_id"),
            fam.select(
                pl.col("no_kk_2022").alias("kk"),
                pl.when(pl.col("split_since_regsosek"))
                .then(pl.col("parent_family_id"))
                .otherwise(pl.col("family_id"))
                .alias("family_id"),
            ),
        ]
    ).unique()
    shared = cards.group_by("kk").agg(pl.col("family_id").n_unique().alias("n")).filter(pl.col("n") > 1)
    assert shared.height == 0, shared.head()


def test_kk_numbers_in_2022_were_issued_by_2022(any_dataset: Dataset) -> None:
    """Regsosek 2022 and P3KE show the card of 2022: its issue date (digits 7-12) cannot be later."""
    issued = [check_kk(kk, today=REFERENCE_DATE).born_or_issued for kk in any_dataset.families["no_kk_2022"]]
    late = sum(1 for d in issued if d is None or d > REGSOSEK_DATE)
    assert late == 0


@cache
def _village_only_kecamatan() -> set[str]:
    known = set(regions.nik_prefixes())
    return {k for k in regions.villages()["kode_kec"].unique().to_list() if k not in known}


def test_siak_rows_without_dirt_carry_the_true_nik(kab: Dataset) -> None:
    j = kab.joined("siak_penduduk")
    clean = j.filter(pl.col("nik_dirt") == NikDirt.CLEAN)
    assert clean.height == j.height  # SIAK is Dukcapil's own register: no NIK dirt at all
    assert (clean["NIK"] == clean["true_nik"]).all()
    assert (
        j["NO_KK"]
        == j.join(kab.families.select("family_id", "no_kk"), on="family_id", maintain_order="left")["no_kk"]
    ).all()


def _one_digit_changed(value: str, true: str) -> bool:
    diff = [i for i in range(16) if value[i] != true[i]]
    return len(value) == 16 and len(diff) == 1 and diff[0] >= 6


def _adjacent_swap(value: str, true: str) -> bool:
    diff = [i for i in range(16) if value[i] != true[i]]
    return (
        len(value) == 16
        and len(diff) == 2
        and diff[1] == diff[0] + 1
        and value[diff[0]] == true[diff[1]]
        and value[diff[1]] == true[diff[0]]
    )


def _digit_dropped(value: str, true: str) -> bool:
    return len(value) == 15 and any(true[:i] + true[i + 1 :] == value for i in range(6, 16))


def test_dtks_nik_dirt_is_what_the_file_shows(kab: Dataset) -> None:
    j = kab.joined("dtks")
    by_kind = {k: j.filter(pl.col("nik_dirt") == k) for k in NikDirt}
    for kind, rows in by_kind.items():
        assert rows.height > 0 if kind is not NikDirt.GANDA else rows.height >= 3, kind
    pairs = {
        k: list(zip(v["NIK"].to_list(), v["true_nik"].to_list(), strict=True)) for k, v in by_kind.items()
    }
    assert all(v == t for v, t in pairs[NikDirt.CLEAN])
    assert all(v == "" for v, _ in pairs[NikDirt.MISSING])
    assert all(re.fullmatch(r"\d\.\d{5}E\+15", v) and v == f"{int(t):.5E}" for v, t in pairs[NikDirt.EXCEL])
    assert all(_digit_dropped(v, t) for v, t in pairs[NikDirt.TRUNCATED])
    assert all(_one_digit_changed(v, t) for v, t in pairs[NikDirt.TYPO])
    swapped = [_adjacent_swap(v, t) for v, t in pairs[NikDirt.TRANSPOSED]]
    # a NIK whose neighbouring digits are all alike cannot be transposed; the generator mistypes it instead
    assert all(
        s or _one_digit_changed(v, t) for s, (v, t) in zip(swapped, pairs[NikDirt.TRANSPOSED], strict=True)
    )
    assert np.mean(swapped) > 0.95
    everyone = set(kab.persons["nik"].to_list())
    assert all(v in everyone and v != t for v, t in pairs[NikDirt.GANDA])
    # what a loader sees: only clean and ganda rows parse as a valid NIK equal to a real one
    for kind in (NikDirt.MISSING, NikDirt.EXCEL, NikDirt.TRUNCATED):
        assert all(clean_identifier(v)[0] is None for v, _ in pairs[kind]), kind


def test_dtks_kk_dirt_is_what_the_file_shows(kab: Dataset) -> None:
    j = kab.joined("dtks").join(
        kab.families.select("family_id", "no_kk_now", "no_kk_2022"),
        on="family_id",
        how="left",
        maintain_order="left",
    )
    clean = j.filter(pl.col("kk_dirt") == 0)
    assert ((clean["NOKK"] == clean["no_kk_now"]) | (clean["NOKK"] == clean["no_kk_2022"])).all()
    dirty = j.filter(pl.col("kk_dirt") > 0)
    assert not ((dirty["NOKK"] == dirty["no_kk_now"]) | (dirty["NOKK"] == dirty["no_kk_2022"])).any()
    assert (j.filter(pl.col("kk_dirt") == NikDirt.MISSING)["NOKK"] == "").all()
    assert j.filter(pl.col("kk_dirt") == NikDirt.EXCEL)["NOKK"].str.contains(r"^\d\.\d{5}E\+15$").all()
    assert (j.filter(pl.col("kk_dirt") == NikDirt.TRUNCATED)["NOKK"].str.len_chars() == 15).all()


def test_regsosek_kk_numbers_are_the_2022_cards_unless_flagged(kab: Dataset) -> None:
    j = kab.joined("regsosek_keluarga").join(
        kab.families.select("family_id", "no_kk_2022"), on="family_id", how="left", maintain_order="left"
    )
    assert "kk_dirt" in j.columns, "the truth must say which Regsosek KK numbers were corrupted"
    clean = j.filter(pl.col("kk_dirt") == 0)
    assert (clean["NO_KK"] == clean["no_kk_2022"]).all()
    dirty = j.filter(pl.col("kk_dirt") > 0)
    assert dirty.height > 0
    assert (dirty["NO_KK"] != dirty["no_kk_2022"]).all()


def test_name_and_date_dirt_flags_match_the_file(kab: Dataset) -> None:
    j = kab.joined("regsosek_anggota").join(
        kab.persons.select("person_id", "tanggal_lahir"), on="person_id", how="left", maintain_order="left"
    )
    same_name = j["NAMA"] == j["true_nama"]
    assert same_name.filter(j["name_dirt"] == 0).all()
    assert not same_name.filter(j["name_dirt"] > 0).any()
    written = j["R404_TGL_LAHIR"].str.to_date("%Y-%m-%d")
    same_date = written == j["tanggal_lahir"]
    assert same_date.filter(j["date_dirt"] == DateDirt.CLEAN).all()
    assert not same_date.filter(j["date_dirt"] > 0).any()
    default = j.filter(pl.col("date_dirt") == DateDirt.DEFAULT)["R404_TGL_LAHIR"]
    assert default.str.ends_with("-01-01").all()


# ---- 5. dirt rates, measured on the files ----------------------------------------------------------------


def _not_dukcapils(values: pl.Series, true: pl.Series) -> float:
    """Share of rows whose NIK, as a loader would clean it, is not the person's Dukcapil NIK."""
    cleaned = [clean_identifier(v)[0] if v else None for v in values.to_list()]
    return float(np.mean([c is None or c != t for c, t in zip(cleaned, true.to_list(), strict=True)]))


def test_dtks_dirt_rates_match_the_audit(kab: Dataset) -> None:
    p = PARAMS.dtks
    j = kab.joined("dtks").join(
        kab.families.select("family_id", "no_kk_now", "no_kk_2022"), on="family_id", maintain_order="left"
    )
    n = j.height
    assert n > 10_000
    everyone = set(kab.persons["nik"].to_list())
    # invalid NIK: not the person's own NIK and not somebody else's either (ganda is counted apart)
    invalid = [v == "" or v not in everyone for v in j["NIK"].to_list()]
    expected = p.nik_missing + p.nik_transposed + p.nik_typo + p.nik_excel + p.nik_truncated
    assert abs(np.mean(invalid) - expected) < 0.012
    assert abs(_not_dukcapils(j["NIK"], j["true_nik"]) - (expected + p.nik_ganda)) < 0.012
    ganda = [
        v in everyone and v != t for v, t in zip(j["NIK"].to_list(), j["true_nik"].to_list(), strict=True)
    ]
    assert abs(np.mean(ganda) - p.nik_ganda) < 0.0008
    bad_kk = ~((j["NOKK"] == j["no_kk_now"]) | (j["NOKK"] == j["no_kk_2022"]))
    assert abs(bad_kk.mean() - p.kk_invalid) < 0.015
    # duplicates: the same true person on two lines, the second right after the first
    repeats = n - j["person_id"].n_unique()
    assert abs(repeats / n - p.duplicate_row / (1 + p.duplicate_row)) < 0.005
    assert repeats == int(j["duplicate"].sum())
    dup_lines = j.with_row_index("i").filter(pl.col("duplicate"))["i"].to_numpy()
    ids = j["person_id"].to_numpy()
    assert (ids[dup_lines - 1] == ids[dup_lines]).all()
    # the dead still active: rows of people dead in the truth that the file lists as AKTIF
    dead_active = ((j["STATUS_DTKS"] == "AKTIF") & ~j["true_alive"]).mean()
    assert abs(dead_active - PARAMS.dtks_dead_active) < 0.004


def test_regsosek_nik_missing_rate(kab: Dataset) -> None:
    rows = kab.source("regsosek_anggota")
    assert rows.height > 30_000
    missing = (rows["NIK"] == "").mean()
    assert abs(missing - PARAMS.regsosek.nik_missing) < 0.005
    assert abs((kab.links("regsosek_anggota")["nik_dirt"] == NikDirt.MISSING).mean() - missing) < 1e-12


# ---- 6. Regsosek skip rules ----------------------------------------------------------------------------


def _skip_rule_violations(frame: pl.DataFrame) -> dict[str, int]:
    c = {
        k: pl.col(k).cast(pl.Int64)
        for k in ("R301A", "R301B", "R307A", "R307B", "R308", "R502A", *ELECTRICAL)
    }
    rules = {
        "R301B without ownership": (c["R301A"] != 1) & (c["R301B"] != 0),
        "owner without R301B": (c["R301A"] == 1) & ~c["R301B"].is_between(1, 4),
        "R307B without a PLN meter": (c["R307A"] != 1) & (c["R307B"] != 0),
        "PLN meter without R307B": (c["R307A"] == 1) & ~c["R307B"].is_between(1, 5),
        **{
            f"{item} without electricity": (c[item] == 1) & ~c["R307A"].is_in([1, 2, 3])
            for item in ELECTRICAL
        },
        "gas tank iff LPG 5.5/12 kg": (c["R502A"] == 1) != c["R308"].is_in([2, 3]),
    }
    counts = frame.select(**{k: v.sum() for k, v in rules.items()}).row(0, named=True)
    return {k: v for k, v in counts.items() if v}


def _regsosek_items(fam: pl.DataFrame) -> pl.DataFrame:
    """The truth's family columns under their Regsosek item names."""
    yes = {"R502A": "aset_tabung_gas", "R502B": "aset_lemari_es", "R502C": "aset_ac"}
    yes |= {"R502D": "aset_pemanas_air", "R502F": "aset_tv_layar_datar", "R502H": "aset_komputer"}
    return fam.select(
        pl.col("status_bangunan").alias("R301A"),
        pl.col("bukti_kepemilikan").alias("R301B"),
        pl.col("sumber_penerangan").alias("R307A"),
        pl.col("daya_listrik").alias("R307B"),
        pl.col("bahan_bakar_masak").alias("R308"),
        *[pl.when(pl.col(f)).then(1).otherwise(2).alias(item) for item, f in yes.items()],
    )


def test_skip_rules_hold_in_the_truth(any_dataset: Dataset) -> None:
    items = _regsosek_items(any_dataset.families)
    assert _skip_rule_violations(items) == {}
    # not vacuous: every branch of every rule occurs
    for branch in (
        items["R301A"] != 1,
        items["R307A"] == 4,
        items["R307A"] == 1,
        items["R502A"] == 1,
        items["R502B"] == 1,
    ):
        assert branch.any()


def test_skip_rules_hold_in_the_regsosek_export(kab: Dataset) -> None:
    rows = kab.source("regsosek_keluarga")
    assert _skip_rule_violations(rows) == {}
    assert (rows["R301A"] != "1").sum() > 100
    assert (rows["R307A"] != "1").sum() > 100
    assert (rows["R502A"] == "1").sum() > 10


def test_skip_rules_hold_in_the_susenas_export(nat: Dataset) -> None:
    assert _skip_rule_violations(nat.source("susenas_rumah_tangga")) == {}


# ---- 7. dynamics since Regsosek 2022 --------------------------------------------------------------------


def test_recent_deaths_and_siak_reporting(kab: Dataset) -> None:
    per = kab.persons
    dead = per.filter(~pl.col("alive"))
    assert dead.height > 0.01 * per.height
    assert (dead["tanggal_meninggal"] > REGSOSEK_DATE).all()
    assert (dead["tanggal_meninggal"] <= REFERENCE_DATE).all()
    assert (dead["tanggal_meninggal"] > dead["tanggal_lahir"]).all()
    j = kab.joined("siak_penduduk").join(
        per.select("person_id", "tanggal_meninggal"), on="person_id", maintain_order="left"
    )
    mati = j["STAT_HIDUP"] == "MATI"
    assert not mati.filter(j["true_alive"]).any()
    share = mati.filter(~j["true_alive"]).mean()
    assert abs(share - PARAMS.siak_death_reported) < 0.05
    recorded = j.filter(mati)
    assert (recorded["TGL_MATI"] == recorded["tanggal_meninggal"].dt.strftime("%d-%m-%Y")).all()
    assert (j.filter(~mati)["TGL_MATI"] == "").all()


def test_babies_born_after_regsosek_are_not_in_it(kab: Dataset) -> None:
    per = kab.persons
    babies = per.filter(pl.col("tanggal_lahir") > REGSOSEK_DATE)["person_id"]
    assert babies.len() > 100
    listed = kab.links("regsosek_anggota")["person_id"]
    assert not listed.is_in(babies.implode()).any()
    # ... but SIAK has them
    assert babies.is_in(kab.links("siak_penduduk")["person_id"].implode()).all()


def _regsosek_place(kab: Dataset) -> pl.DataFrame:
    return kab.joined("regsosek_keluarga").with_columns(
        pl.concat_str("KODE_PROV", "KODE_KAB", "KODE_KEC", "KODE_DESA").alias("desa_in_file")
    )


def test_moved_families_appear_at_their_old_address_in_regsosek(kab: Dataset) -> None:
    fam = kab.families
    moved = fam.filter(pl.col("moved"))
    assert moved.height > 100
    assert (moved["move_date"] > REGSOSEK_DATE).all()
    assert (moved["kode_desa_2022"] != moved["kode_desa"]).mean() > 0.95
    j = _regsosek_place(kab).join(fam, on="family_id", maintain_order="left")
    assert (j["desa_in_file"] == j["kode_desa_2022"]).all()
    assert (j["ALAMAT"] == j["alamat_2022"]).all()
    in_moved = j.filter(pl.col("moved"))
    assert in_moved.height > 50
    assert (in_moved["desa_in_file"] != in_moved["kode_desa"]).mean() > 0.95


def test_siak_knows_the_reported_moves_only(kab: Dataset) -> None:
    j = (
        kab.joined("siak_penduduk")
        .join(kab.families, on="family_id", maintain_order="left")
        .filter(pl.col("moved"))
        .with_columns(
            pl.format(
                "{}{}{}{}",
                pl.col("NO_PROP").str.zfill(2),
                pl.col("NO_KAB").str.zfill(2),
                pl.col("NO_KEC").str.zfill(2),
                pl.col("NO_KEL").str.zfill(4),
            ).alias("desa_in_file")
        )
    )
    reported = j.filter(pl.col("move_reported"))
    unreported = j.filter(~pl.col("move_reported"))
    assert reported.height > 0
    assert unreported.height > 0
    assert (reported["desa_in_file"] == reported["kode_desa"]).all()
    assert (unreported["desa_in_file"] == unreported["kode_desa_2022"]).all()


def test_split_families_were_in_their_parents_regsosek_unit(kab: Dataset) -> None:
    fam = kab.families
    split = fam.filter(pl.col("split_since_regsosek"))
    assert split.height > 20
    assert (split["parent_family_id"] >= 0).all()
    unit_family = kab.joined("regsosek_keluarga").select("ID_KELUARGA", pl.col("family_id").alias("unit_of"))
    members = (
        kab.joined("regsosek_anggota")
        .join(unit_family, on="ID_KELUARGA", maintain_order="left")
        .join(kab.persons.select("person_id", "role"), on="person_id", maintain_order="left")
        .join(split.select("family_id", "parent_family_id"), on="family_id", maintain_order="left")
    )
    assert members.height > 20
    assert (members["unit_of"] == members["parent_family_id"]).all()
    heads = members.filter(pl.col("role") == 0)
    assert (heads["R403_HUBUNGAN"] == "3").all()  # the new head was a child of the parent's head in 2022
    # their card today is new; in 2022 they were on the parent's card
    cards = split.join(
        fam.select(pl.col("family_id").alias("parent_family_id"), "no_kk_2022"), on="parent_family_id"
    )
    assert (cards["no_kk_2022"] == cards["no_kk_2022_right"]).all()
    assert (cards["no_kk_now"] != cards["no_kk_2022"]).all()


def test_some_regsosek_units_are_split_units(kab: Dataset) -> None:
    j = kab.joined("regsosek_keluarga")
    assert (j["KODE_KK"].cast(pl.Int64) == j["kode_kk"]).all()
    split_units = j.filter(pl.col("KODE_KK") == "2")
    assert split_units.height > 20
    # a split unit (kode KK 2) shares the card of its family, which is listed as the parent unit (kode KK 1)
    parents = j.filter(pl.col("KODE_KK") == "1").select("family_id", pl.col("NO_KK").alias("parent_kk"))
    paired = split_units.join(parents, on="family_id", how="left", maintain_order="left")
    assert paired["parent_kk"].null_count() == 0
    assert set(j["KODE_KK"].unique().to_list()) == {"0", "1", "2"}
    # JML_ART counts the members listed under the unit
    counts = kab.source("regsosek_anggota").group_by("ID_KELUARGA").len()
    per_unit = j.select("ID_KELUARGA", "JML_ART").join(
        counts, on="ID_KELUARGA", how="left", maintain_order="left"
    )
    assert (per_unit["JML_ART"].cast(pl.Int64) == per_unit["len"]).all()


# ---- 8. calibration ----------------------------------------------------------------------------------------


NATIONAL_ONLY = {
    "urban poverty rate (%)",
    "rural poverty rate (%)",
    "share of the poor living on Java (%)",
    "urban share of persons (%)",
    "provincial ordering (Spearman vs BPS)",
}
MEANINGFUL_AT_150K = {
    "poverty rate (% persons)",
    "gini (per-capita consumption)",
    "persons per KK",
    "persons per poor KK",
    "DTKS rows with a NIK not Dukcapil's (%)",
    "DTKS rows with an invalid KK (%)",
    "DTKS duplicate rows (%)",
    "DTKS dead but active (%)",
    "DTKS NIK ganda (%)",
    "DTKS coverage of true desil 1-4 families (%)",
    "Regsosek NIK missing (%)",
    "Regsosek name spelling variants (%)",
    "Susenas households sampled (%)",
    *NATIONAL_ONLY,
}


def test_national_run_meets_its_calibration_targets(nat: Dataset) -> None:
    checks = {c.metric: c for c in calibration_report(nat.path)}
    assert set(checks) == MEANINGFUL_AT_150K
    failed = {m: (c.target, c.generated, c.tolerance) for m, c in checks.items() if not c.ok}
    assert failed == {}
    assert checks["gini (per-capita consumption)"].tolerance == 0.03  # the national tolerance


def test_regional_run_has_no_national_only_checks(kab: Dataset) -> None:
    checks = {c.metric: c for c in calibration_report(kab.path)}
    assert not set(checks) & NATIONAL_ONLY
    assert checks["gini (per-capita consumption)"].tolerance > 0.03
    # Banyumas' target is Central Java's rate; the kabupaten effect is allowed to move it a little
    assert checks["poverty rate (% persons)"].target == pytest.approx(9.5)
    for metric in (
        "persons per KK",
        "persons per poor KK",
        "DTKS duplicate rows (%)",
        "Regsosek NIK missing (%)",
    ):
        assert checks[metric].ok, checks[metric]


def test_true_welfare_is_consistent(any_dataset: Dataset) -> None:
    fam = any_dataset.families
    assert (fam["poor"] == (fam["pc_consumption"] < 609_160)).all()
    assert fam["desil"].is_between(1, 10).all()
    by_desil = fam.group_by("desil").agg(pl.col("pc_consumption").median()).sort("desil")
    assert by_desil["pc_consumption"].is_sorted()


# ---- 9. formats --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def twins(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Dataset]:
    """The same small run (Kota Yogyakarta, seed 9) in every format."""
    return {
        fmt: Dataset(make(tmp_path_factory, f"fmt_{fmt}", persons=1_200, kabupaten=["3471"], seed=9, fmt=fmt))
        for fmt in ("csv", "parquet", "xlsx")
    }


@pytest.mark.parametrize("fmt", ["parquet", "xlsx"])
def test_every_format_holds_the_same_rows(twins: dict[str, Dataset], fmt: str) -> None:
    csv, other = twins["csv"], twins[fmt]
    for name in SOURCES:
        a, b = csv.source(name), other.source(name)
        assert b.columns == a.columns, name
        assert b.height == a.height, name
        assert b.equals(a), name
    assert other.path.joinpath("sources", f"dtks.{fmt}").exists()
    # the truth does not depend on the format (apart from the file name each link points into)
    for table in ("persons", "families"):
        assert (
            other.path.joinpath("truth", f"{table}.parquet").read_bytes()
            == csv.path.joinpath("truth", f"{table}.parquet").read_bytes()
        )
    shift = FIRST_LINE[fmt] - FIRST_LINE["csv"]
    for name in SOURCES:
        links = other.links(name)
        assert links.drop("berkas", "baris").equals(csv.links(name).drop("berkas", "baris"))
        assert (links["baris"] - shift).equals(csv.links(name)["baris"])
        assert links["berkas"].unique().to_list() == [f"{name}.{fmt}"]


def test_native_readers_load_parquet_and_xlsx(twins: dict[str, Dataset]) -> None:
    from openpyxl import load_workbook

    manifest_rows = {f["path"]: f["rows"] for f in twins["xlsx"].manifest["files"]}
    book = load_workbook(twins["xlsx"].path / "sources" / "siak_penduduk.xlsx", read_only=True)
    try:
        sheet = book.worksheets[0]
        header = next(sheet.iter_rows(max_row=1, values_only=True))
        assert sheet.title == "siak_penduduk"
        assert list(header) == twins["csv"].source("siak_penduduk").columns
        assert sum(1 for _ in sheet.iter_rows(min_row=2)) == manifest_rows["sources/siak_penduduk.xlsx"]
    finally:
        book.close()
    frame = pl.read_parquet(twins["parquet"].path / "sources" / "siak_penduduk.parquet")
    assert frame.schema["NIK"] == pl.Utf8  # identifiers stay text: no float, no lost leading digits
    assert frame.height == manifest_rows["sources/siak_penduduk.xlsx"]


def test_xlsx_refuses_more_rows_than_a_sheet_holds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gen, "XLSX_MAX_ROWS", 500)
    writer = TableWriter(tmp_path / "t.xlsx", "xlsx")
    writer.write(pl.DataFrame({"a": list(range(300))}))
    with pytest.raises(SynthError, match=r"t\.xlsx: more than 500 rows .*Excel.*--format csv or parquet"):
        writer.write(pl.DataFrame({"a": list(range(300))}))
    writer.close()

    out = tmp_path / "run" / "synth"
    with pytest.raises(SynthError, match="Excel sheet"):
        generate(SynthRequest(persons=2_000, out=out, kabupaten=["3471"], fmt="xlsx", workers=1))
    assert not out.exists()
    assert list(out.parent.iterdir()) == []  # no staging directory left behind


def test_table_writer_keeps_the_first_chunks_schema(tmp_path: Path) -> None:
    writer = TableWriter(tmp_path / "t.parquet", "parquet")
    writer.write(pl.DataFrame({"a": [1, 2]}, schema={"a": pl.Int16}))
    writer.write(pl.DataFrame({"a": [3]}, schema={"a": pl.Int64}))
    writer.close()
    frame = pl.read_parquet(tmp_path / "t.parquet")
    assert frame.schema["a"] == pl.Int16
    assert frame["a"].to_list() == [1, 2, 3]
    assert writer.rows == 3


# ---- scale -------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_one_million_persons(tmp_path: Path) -> None:
    out = tmp_path / "synth"
    manifest = generate(SynthRequest(persons=1_000_000, out=out, seed=1, fmt="parquet", workers=2))
    ds = Dataset(out)
    assert int(ds.persons["alive"].sum()) == 1_000_000
    assert ds.persons["nik"].is_unique().all()
    assert ds.families["no_kk"].is_unique().all()
    for f in manifest["files"]:
        if f["path"].startswith("sources/"):
            assert pl.scan_parquet(out / f["path"]).select(pl.len()).collect().item() == f["rows"]
    failed = [c for c in calibration_report(out) if not c.ok]
    assert failed == []


# ---- unregistered families -------------------------------------------------------------------------------

REGISTERS = ("dtks", "p3ke", "pln_pelanggan", "kendaraan", "bidang_tanah")


def test_unregistered_families_are_in_no_register_and_leave_the_rest_alone(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """``unregistered_share`` gives a small city families only SIAK knows (the unranked path needs one),
    chosen among those Regsosek missed, without moving a row of anyone else."""
    request = {"persons": 3000, "kabupaten": ["3471"], "seed": 11, "fmt": "parquet"}
    plain = Dataset(make(tmp_path_factory, "plain", **request))
    some = Dataset(make(tmp_path_factory, "some", params=SynthParams(unregistered_share=0.05), **request))
    person_family = some.persons.select("person_id", pl.col("family_id").alias("person_family"))
    in_regsosek = set(some.persons.filter(pl.col("in_regsosek"))["family_id"].to_list())
    dropped: set[int] = set()
    for name in REGISTERS:
        kept, full = some.links(name), plain.links(name)
        assert kept["record_id"].is_in(full["record_id"].implode()).all(), name  # nothing added
        gone = full.filter(~pl.col("record_id").is_in(kept["record_id"].implode()))
        dropped |= _families_named(gone, person_family)
    named = {family for name in REGISTERS for family in _families_named(some.links(name), person_family)}
    unregistered = dropped - named
    assert unregistered, "no family lost all its register records"
    assert not unregistered & in_regsosek
    for name in ("siak_penduduk", "regsosek_anggota", "bpjs_peserta", "susenas_rumah_tangga"):
        assert (some.path / "sources" / f"{name}.parquet").read_bytes() == (
            plain.path / "sources" / f"{name}.parquet"
        ).read_bytes(), name


def _families_named(links: pl.DataFrame, person_family: pl.DataFrame) -> set[int]:
    """Every family a register's rows are about or held by."""
    joined = links.join(person_family, on="person_id", how="left")
    columns = [c for c in ("family_id", "holder_family_id", "user_family_id", "person_family") if c in joined]
    return {v for c in columns for v in joined[c].drop_nulls().to_list()}
