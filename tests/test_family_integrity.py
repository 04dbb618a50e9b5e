"""Family integrity (issue 18): a person the register does not know joins the household a field source
saw them in (or their mother's family) instead of becoming a one-child "family"; a family with no adult
is flagged; a NIK the register gives to somebody else is never published as this person's; a family
that events emptied, or whose members all died, is retired with lineage instead of being ranked."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from dtsen.canonical.model import polars_schema
from dtsen.cycle.events import apply_events, read_events, sequential_ids
from dtsen.engine import Engine, get_engine, local_engine
from dtsen.linkage.config import LinkConfig, Survivorship
from dtsen.linkage.families import ATTACHED, FRAGMENT, family_keys, golden_families
from dtsen.linkage.status import NIK_DIKLAIM_GANDA, NIK_MILIK_ORANG_LAIN, person_status
from golden_frames import FAMILY_SCHEMA, PERSON_SCHEMA, family, frame, person

DESA = "3401012001"
KK_A, KK_B = "3401010101200001", "3401010101200002"


def _person(pid: str, kk: str | None, dukcapil: bool, umur: int, **kw: Any) -> dict[str, Any]:
    return {
        "id_dtsen": pid,
        "no_kk": kk,
        "di_dukcapil": dukcapil,
        "umur": umur,
        "status_hidup": True,
        "tanggal_lahir": date(2026 - umur, 1, 15),
        "kode_desa": DESA,
        "jenis_kelamin": 1,
        "nama": f"ORANG {pid}",
        "nama_ibu_kandung": None,
        **kw,
    }


KEY_SCHEMA = {
    "id_dtsen": pl.String,
    "no_kk": pl.String,
    "di_dukcapil": pl.Boolean,
    "umur": pl.Int16,
    "status_hidup": pl.Boolean,
    "tanggal_lahir": pl.Date,
    "kode_desa": pl.String,
    "jenis_kelamin": pl.Int8,
    "nama": pl.String,
    "nama_ibu_kandung": pl.String,
}
FIELD_SCHEMA = {"id_dtsen": pl.String, "sumber": pl.String, "id_keluarga": pl.String, "tanggal_data": pl.Date}


def _keys(rows: list[dict[str, Any]], field: list[tuple[str, str, str]]) -> dict[str, tuple[str, str]]:
    persons = pl.DataFrame(rows, schema=KEY_SCHEMA, orient="row")
    fm = pl.DataFrame([(p, s, f, date(2023, 12, 31)) for p, s, f in field], schema=FIELD_SCHEMA, orient="row")
    latest = fm.unique("id_dtsen", keep="first", maintain_order=True).select("id_dtsen", "id_keluarga")
    eng = local_engine()
    out = family_keys(*(eng.memtable(f.to_arrow()) for f in (persons, latest, fm)))
    return {r["id_dtsen"]: (r["kunci_keluarga"], r["dasar"]) for r in eng.to_pyarrow(out).to_pylist()}


def test_a_dtks_only_child_joins_the_register_family_of_her_dtks_household() -> None:
    """The demo's fragments: a DTKS-only child (no SIAK record) whose DTKS card number is stale or
    mistyped keyed by that card alone, a one-child family beside her parents. Her DTKS household lists
    her parents, who are on KK_A in the register: she joins KK_A."""
    keys = _keys(
        [
            _person("P1", KK_A, True, 40),
            _person("P2", KK_A, True, 38),
            _person("P3", "3401019999990001", False, 6),  # DTKS-only, card the register does not hold
            _person("P4", None, False, 9),  # Regsosek-only, no card
            _person("P5", KK_B, True, 50),
            _person("P6", KK_B, False, 12),  # outside the register but on a register card: that card
        ],
        [
            ("P1", "dtks", "dtks:K1"),
            ("P2", "dtks", "dtks:K1"),
            ("P3", "dtks", "dtks:K1"),
            ("P1", "regsosek", "regsosek:R1"),
            ("P4", "regsosek", "regsosek:R1"),
            ("P6", "dtks", "dtks:K1"),
        ],
    )
    assert keys["P3"] == (f"kk:{KK_A}", "rumah_tangga_sumber")
    assert keys["P4"] == (f"kk:{KK_A}", "rumah_tangga_sumber")
    assert keys["P1"] == (f"kk:{KK_A}", "kk")
    assert keys["P6"] == (f"kk:{KK_B}", "kk")


def test_the_mother_rule_needs_one_plausible_woman_in_the_desa() -> None:
    mother = {"jenis_kelamin": 2, "nama": "SITI AMINAH"}
    keys = _keys(
        [
            _person("P1", KK_A, True, 34, **mother),
            _person("P2", None, False, 5, nama_ibu_kandung="Siti  Aminah"),  # her child, seen nowhere else
            _person(
                "P3", None, False, 4, nama_ibu_kandung="SITI AMINAH", kode_desa="3401012002"
            ),  # other desa
            _person("P4", KK_B, True, 70, **mother),  # same name, too old to be P5's mother
            _person("P5", None, False, 3, nama_ibu_kandung="SITI AMINAH"),
        ],
        [("P2", "p3ke", "p3ke:X2"), ("P5", "p3ke", "p3ke:X5")],
    )
    assert keys["P2"] == (f"kk:{KK_A}", "ibu")
    assert keys["P3"] == ("p:P3", "sendiri")  # a namesake in another desa is not her mother
    assert keys["P5"] == (f"kk:{KK_A}", "ibu")  # the 70-year-old is no mother of a 3-year-old
    # two plausible mothers in two families: ambiguous, the child keeps her own key (clerical review)
    keys = _keys(
        [
            _person("P1", KK_A, True, 34, **mother),
            _person("P4", KK_B, True, 30, **mother),
            _person("P5", None, False, 3, nama_ibu_kandung="SITI AMINAH"),
        ],
        [("P5", "p3ke", "p3ke:X5")],
    )
    assert keys["P5"] == ("fam:p3ke:X5", "keluarga_sumber")


def test_a_family_without_an_adult_is_flagged_for_review(tmp_path: Path) -> None:
    persons = pl.DataFrame(
        {
            "id_dtsen": ["P1", "P2", "P3", "P4"],
            "id_keluarga_dtsen": ["K1", "K1", "K2", "K3"],
            "status_hidup": [True] * 4,
            "hubungan_siak": [1, 4, None, None],
            "hubungan": [1, 3, 3, 1],
            "no_kk": [KK_A, KK_A, None, None],
            "tanggal_lahir": [date(1980, 1, 1), date(2015, 1, 1), date(2020, 1, 1), None],
            "umur": [46, 11, 6, None],
            "kode_desa": [DESA] * 4,
            "dasar": ["kk", "rumah_tangga_sumber", "sendiri", "sendiri"],
        },
        schema_overrides={"umur": pl.Int16, "hubungan_siak": pl.Int8},
    )
    for c in ("kode_kec", "kode_kab", "kode_prov", "perkotaan", "alamat", "rt", "rw"):
        persons = persons.with_columns(pl.lit(None, pl.String).alias(c))
    eng = local_engine()
    empty = eng.memtable(pl.DataFrame(schema=FIELD_SCHEMA).to_arrow())
    keluarga = eng.memtable(pl.DataFrame(schema=polars_schema("keluarga")).to_arrow())
    families, _ = golden_families(
        eng,
        tmp_path,
        eng.memtable(persons.to_arrow()),
        empty,
        keluarga,
        {},
        Survivorship(),
        LinkConfig().field_sources,
    )
    rows = eng.to_pyarrow(families).to_pylist()
    konflik = {r["id_keluarga_dtsen"]: r["konflik"] for r in rows}
    assert FRAGMENT in konflik["K2"]
    assert FRAGMENT not in konflik["K1"]
    assert ATTACHED in konflik["K1"]  # P2 is not on the KK: attached by the field household, checked
    assert ATTACHED not in konflik["K2"]
    assert FRAGMENT not in konflik["K3"]  # an unknown age is not taken for a child


def test_a_nik_the_register_gives_to_another_person_is_not_published() -> None:
    """The DTKS-only girl carrying her brother's NIK: linkage kept them apart, and now her published
    nik is null, the reported value kept as evidence; two outside persons claiming one NIK both lose it."""
    brother, shared = "3401010101150001", "3401015001180009"
    persons = pl.DataFrame(
        {
            "id_dtsen": ["P1", "P2", "P3", "P4", "P5", "P6"],
            "nik": [brother, brother, shared, shared, "3401010101900003", "3401010101900003"],
            "no_kk": [KK_A, "3401019999990001", None, None, KK_B, KK_B],
            "status_hidup": [True] * 6,
            "tanggal_meninggal": [None] * 6,
            "di_dukcapil": [True, False, False, False, True, True],
            "kode_kec": ["340101"] * 6,
        },
        schema_overrides={"tanggal_meninggal": pl.Date},
    )
    evidence = pl.DataFrame(
        {
            "id_dtsen": ["P2", "P3", "P4"],
            "sumber_nik": ["dtks", "p3ke", "dtks"],
            "nik_ada": [True] * 3,
            "nik_tidak_valid": [False] * 3,
            "ada_lapangan": [True] * 3,
            "sumber_lapangan": ["dtks", "p3ke", "dtks"],
            "keberadaan_lapangan": [None] * 3,
            "kec_lapangan": ["340101"] * 3,
        },
        schema_overrides={"keberadaan_lapangan": pl.Int8},
    )
    out = _status(local_engine(), persons, evidence, ["3401010101900003"])
    rows = {r["id_dtsen"]: r for r in out.iter_rows(named=True)}
    assert rows["P1"]["nik"] == brother
    assert rows["P1"]["nik_dilaporkan"] is None
    assert rows["P2"]["nik"] is None
    assert rows["P2"]["nik_dilaporkan"] == brother
    assert rows["P2"]["bukti_status"].endswith(NIK_MILIK_ORANG_LAIN)
    assert rows["P2"]["status_padan"] == 2  # still tidak padan: the status does not change
    for pid in ("P3", "P4"):
        assert rows[pid]["nik"] is None
        assert rows[pid]["nik_dilaporkan"] == shared
        assert rows[pid]["bukti_status"].endswith(NIK_DIKLAIM_GANDA)
    # the register's own NIK ganda is the register's finding (status NIK ganda): both keep it
    assert rows["P5"]["nik"] == rows["P6"]["nik"] == "3401010101900003"
    assert rows["P5"]["status_padan"] == 4
    published = out["nik"].drop_nulls()
    outside = out.filter(~pl.col("di_dukcapil"))["nik"].drop_nulls()
    register = published.filter(out.filter(pl.col("nik").is_not_null())["di_dukcapil"])
    assert not outside.is_in(register.implode()).any()


STATUS_SCHEMA = {
    "id_dtsen": pl.String,
    "nik": pl.String,
    "no_kk": pl.String,
    "status_hidup": pl.Boolean,
    "tanggal_meninggal": pl.Date,
    "di_dukcapil": pl.Boolean,
    "kode_kec": pl.String,
}
EVIDENCE_SCHEMA = {
    "id_dtsen": pl.String,
    "ada_lapangan": pl.Boolean,
    "sumber_lapangan": pl.String,
    "keberadaan_lapangan": pl.Int8,
    "kec_lapangan": pl.String,
    "nik_ada": pl.Boolean,
    "nik_tidak_valid": pl.Boolean,
    "sumber_nik": pl.String,
}


def _status(eng: Engine, persons: pl.DataFrame, evidence: pl.DataFrame, ganda: list[str]) -> pl.DataFrame:
    """person_status on ``eng`` over these frames, collected in id order."""
    frames = (
        persons.cast(STATUS_SCHEMA),  # type: ignore[arg-type]
        evidence.cast(EVIDENCE_SCHEMA),  # type: ignore[arg-type]
        pl.DataFrame({"nik": ganda}, schema={"nik": pl.String}),
    )
    tables = [eng.memtable(f.to_arrow(compat_level=pl.CompatLevel.oldest())) for f in frames]
    out = person_status(*tables, "siak")
    return pl.from_arrow(eng.to_pyarrow(out)).sort("id_dtsen")  # type: ignore[union-attr]


def _polars_status(
    persons: pl.DataFrame, evidence: pl.DataFrame, ganda_niks: pl.Series, spine_source: str
) -> pl.DataFrame:
    """The status rules as they were in Polars (the reference the engine query must reproduce)."""
    p = persons.join(evidence, on="id_dtsen", how="left").with_columns(
        pl.col("ada_lapangan").fill_null(False)
    )
    family_seen = (
        p.filter(pl.col("no_kk").is_not_null())
        .group_by("no_kk")
        .agg(keluarga_terlihat=pl.col("ada_lapangan").any())
    )
    p = p.join(family_seen, on="no_kk", how="left")
    dead = (pl.col("status_hidup") == False) | pl.col("tanggal_meninggal").is_not_null()  # noqa: E712
    field_dead = pl.col("keberadaan_lapangan") == 2
    moved_code = pl.col("keberadaan_lapangan").is_in([3, 4])
    moved_kec = (
        pl.col("di_dukcapil")
        & pl.col("kec_lapangan").is_not_null()
        & (pl.col("kec_lapangan") != pl.col("kode_kec"))
    )
    src = pl.col("sumber_lapangan").fill_null("")
    rules: list[tuple[pl.Expr, int, pl.Expr]] = [
        (pl.col("di_dukcapil") & dead, 5, pl.lit(f"{spine_source}:status_hidup")),
        (field_dead, 5, pl.format("{}:keberadaan=meninggal", src)),
        (
            pl.col("nik").is_in(ganda_niks.implode()) & pl.col("di_dukcapil"),
            4,
            pl.lit(f"{spine_source}:nik_ganda"),
        ),
        (
            ~pl.col("di_dukcapil")
            & ~pl.col("nik_ada").fill_null(False)
            & pl.col("nik_tidak_valid").fill_null(False),
            3,
            pl.format("{}:nik_tidak_valid", pl.col("sumber_nik").fill_null("")),
        ),
        (
            ~pl.col("di_dukcapil"),
            2,
            pl.format("{}:tidak_ada_di_{}", pl.col("sumber_nik").fill_null(src), pl.lit(spine_source)),
        ),
        (pl.col("keberadaan_lapangan") == 6, 7, pl.format("{}:keberadaan=tidak_ditemukan", src)),
        (moved_code, 6, pl.format("{}:keberadaan=pindah", src)),
        (moved_kec, 6, pl.format("{}:kode_kec_beda_{}", src, pl.lit(spine_source))),
        (pl.col("keberadaan_lapangan") == 5, 8, pl.format("{}:keberadaan=anggota_baru", src)),
        (
            ~pl.col("ada_lapangan") & pl.col("keluarga_terlihat").fill_null(False),
            8,
            pl.lit(f"{spine_source}:anggota_baru_di_kk"),
        ),
    ]
    status = pl.lit(1, pl.Int8)
    bukti = pl.lit(f"{spine_source}:nik+nama+tanggal_lahir")
    for cond, code, why in reversed(rules):
        status = pl.when(cond.fill_null(False)).then(pl.lit(code, pl.Int8)).otherwise(status)
        bukti = pl.when(cond.fill_null(False)).then(why).otherwise(bukti)
    p = p.with_columns(status_padan=status, bukti_status=bukti)
    outside = ~pl.col("di_dukcapil").fill_null(False)
    register = p.filter(~outside & pl.col("nik").is_not_null()).select("nik").unique()
    claims = p.filter(outside & pl.col("nik").is_not_null()).group_by("nik").agg(_n=pl.len())
    p = p.join(claims, on="nik", how="left")
    reason = (
        pl.when(outside & pl.col("nik").is_in(register["nik"].implode()))
        .then(pl.lit(NIK_MILIK_ORANG_LAIN))
        .when(outside & (pl.col("_n") > 1))
        .then(pl.lit(NIK_DIKLAIM_GANDA))
    )
    p = p.with_columns(_alasan=reason)
    held = pl.col("_alasan").is_not_null()
    p = p.with_columns(
        nik=pl.when(held).then(None).otherwise(pl.col("nik")),
        nik_dilaporkan=pl.when(held).then(pl.col("nik")).otherwise(None).cast(pl.String),
        bukti_status=pl.when(held)
        .then(pl.format("{};{}", "bukti_status", "_alasan"))
        .otherwise("bukti_status"),
    )
    return p.select(*persons.columns, "status_padan", "bukti_status", "nik_dilaporkan")


def _random_status_input(seed: int, n: int = 400) -> tuple[pl.DataFrame, pl.DataFrame, list[str]]:
    """Persons and evidence drawn from small pools (so NIKs and KKs collide), with nulls everywhere a
    rule reads: deaths in the register and in the field, moves, not found, anggota baru, NIK ganda,
    borrowed and doubly claimed NIKs, invalid NIKs."""
    import random

    rng = random.Random(seed)

    def pick(values: list[Any], null: float = 0.15) -> Any:
        return None if rng.random() < null else rng.choice(values)

    niks = [f"34010101019{i:05d}" for i in range(80)]  # the register's from the first half
    kks = [f"34010101012{i:05d}" for i in range(60)]
    kecs = ["340101", "340102", "340103"]
    sources = ["dtks", "p3ke", "regsosek"]
    ids = [f"P{i:04d}" for i in range(n)]
    dukcapil = [pick([True, True, False], 0.05) for _ in ids]
    persons = pl.DataFrame(
        {
            "id_dtsen": ids,
            "nik": [pick(niks[:40] if d else niks) for d in dukcapil],
            "no_kk": [pick(kks, 0.2) for _ in ids],
            "status_hidup": [pick([True, True, True, False], 0.1) for _ in ids],
            "tanggal_meninggal": [pick([date(2024, 5, 1), date(2025, 12, 31)], 0.9) for _ in ids],
            "di_dukcapil": dukcapil,
            "kode_kec": [pick(kecs, 0.05) for _ in ids],
        },
        schema=STATUS_SCHEMA,
    )
    seen = [i for i in ids if rng.random() < 0.6] + ["P9999"]  # evidence of nobody in persons is ignored
    evidence = pl.DataFrame(
        {
            "id_dtsen": seen,
            "ada_lapangan": [pick([True], 0.4) for _ in seen],
            "sumber_lapangan": [pick(sources, 0.3) for _ in seen],
            "keberadaan_lapangan": [pick([1, 1, 2, 3, 4, 5, 6], 0.3) for _ in seen],
            "kec_lapangan": [pick(kecs, 0.3) for _ in seen],
            "nik_ada": [pick([True, False]) for _ in seen],
            "nik_tidak_valid": [pick([True, False]) for _ in seen],
            "sumber_nik": [pick(["dtks", "dtks+p3ke", "p3ke+regsosek"], 0.3) for _ in seen],
        },
        schema=EVIDENCE_SCHEMA,
    )
    return persons, evidence, rng.sample(niks[:40], 6)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_engine_status_rules_match_the_polars_rules(seed: int) -> None:
    persons, evidence, ganda = _random_status_input(seed)
    expected = _polars_status(persons, evidence, pl.Series("nik", ganda), "siak").sort("id_dtsen")
    got = _status(local_engine(), persons, evidence, ganda)
    assert_frame_equal(got.select(expected.columns), expected)
    statuses = set(expected["status_padan"])
    assert statuses == set(range(1, 9))  # every rule decided somebody
    bukti = "".join(expected["bukti_status"])
    assert NIK_MILIK_ORANG_LAIN in bukti
    assert NIK_DIKLAIM_GANDA in bukti


@pytest.mark.spark
def test_spark_decides_status_as_duckdb(spark_engine: Engine) -> None:
    persons, evidence, ganda = _random_status_input(4, n=120)
    duck = _status(get_engine("duckdb"), persons, evidence, ganda)
    assert_frame_equal(_status(spark_engine, persons, evidence, ganda), duck)


def test_age_is_whole_years_at_death_or_at_the_reference_date() -> None:
    """Birthdays late in the year included (month x 100 + day needs more than 8 bits)."""
    from dtsen.linkage.consolidate import _age

    lahir = [
        date(2000, 12, 31),
        date(2000, 3, 31),
        date(2000, 4, 1),
        date(1990, 12, 5),
        None,
        date(2010, 6, 30),
    ]
    mati = [None, None, None, date(2020, 12, 4), None, date(2020, 12, 31)]
    t = pl.DataFrame(
        {"tanggal_lahir": lahir, "tanggal_meninggal": mati},
        schema={"tanggal_lahir": pl.Date, "tanggal_meninggal": pl.Date},
    )
    eng = local_engine()
    m = eng.memtable(t.to_arrow(compat_level=pl.CompatLevel.oldest()))
    got = pl.from_arrow(eng.to_pyarrow(m.select(umur=_age(m, date(2026, 3, 31)))))["umur"].to_list()  # type: ignore[index]
    assert got == [25, 26, 25, 29, None, 10]


HEADER = (
    "id_peristiwa,jenis,tanggal_peristiwa,tanggal_lapor,nik,no_kk,nama,jenis_kelamin,nik_ibu,nik_pasangan,"
    "no_kk_baru,nik_anggota,kode_desa_tujuan,alamat_tujuan,rt_tujuan,rw_tujuan\n"
)


def test_events_retire_emptied_and_dead_families_and_children_follow(tmp_path: Path) -> None:
    """f1: a single mother (30) and her child (4); she moves to her partner's card f2: the child goes
    with her and f1, now empty, is retired. f3: a widower of 80 dies alone: retired. f4: both parents
    die, two children remain: kept, flagged for review. Nobody is left in a retired family but the dead."""
    persons = frame(
        [
            person("p11", "f1", "3401014101960001", 30, jenis_kelamin=2),
            person("p12", "f1", "3401010101220001", 4, hubungan=3),
            person("p21", "f2", "3401010101940002", 32),
            person("p31", "f3", "3401010101460003", 80),
            person("p41", "f4", "3401010101800004", 46),
            person("p42", "f4", "3401014101820004", 44, jenis_kelamin=2, hubungan=2),
            person("p43", "f4", "3401010101140004", 12),
            person("p44", "f4", "3401010101180004", 8),
        ],
        PERSON_SCHEMA,
    )
    families = frame(
        [
            family("f1", "3401010101200001", "p11"),
            family("f2", "3401010101200002", "p21"),
            family("f3", "3401010101200003", "p31"),
            family("f4", "3401010101200004", "p41"),
        ],
        FAMILY_SCHEMA,
    )
    path = tmp_path / "peristiwa.csv"
    path.write_text(
        HEADER
        + "E1,PINDAH,2026-04-01,2026-04-03,3401014101960001,,,,,,3401010101200002,,3302012001,,,\n"
        + "E2,MATI,2026-04-05,2026-04-06,3401010101460003,,,,,,,,,,,\n"
        + "E3,MATI,2026-04-07,2026-04-08,3401010101800004,,,,,,,,,,,\n"
        + "E4,MATI,2026-04-09,2026-04-10,3401014101820004,,,,,,,,,,,\n",
        encoding="utf-8",
    )
    p, f, report = apply_events(
        persons, families, read_events(path), date(2026, 6, 30), new_id=sequential_ids("T")
    )
    assert report.outcomes["status"].to_list() == ["diterapkan"] * 4
    family_of = dict(zip(p["id_dtsen"], p["id_keluarga_dtsen"], strict=True))
    assert family_of["p12"] == "f2"  # the child followed her mother
    assert sorted(f["id_keluarga_dtsen"]) == ["f2", "f4"]
    retired = report.lineage.filter(pl.col("jenis") == "pensiun")
    assert sorted(retired["id_lama"]) == ["f1", "f3"]
    assert retired["id_baru"].is_null().all()
    assert set(retired["jenis_id"]) == {"family"}
    assert report.summary()["retired_families"] == 2
    f2 = f.filter(pl.col("id_keluarga_dtsen") == "f2").row(0, named=True)
    assert f2["jumlah_anggota"] == 3
    f4 = f.filter(pl.col("id_keluarga_dtsen") == "f4").row(0, named=True)
    assert f4["jumlah_anggota"] == 2
    assert FRAGMENT in f4["konflik"]
    # every published family has a living member; the dead keep their last family id
    living = p.filter(pl.col("status_hidup") & pl.col("tanggal_meninggal").is_null())
    assert set(f["id_keluarga_dtsen"]) == set(living["id_keluarga_dtsen"])
    assert family_of["p31"] == "f3"


def test_a_field_record_joins_the_register_person_its_household_names(tmp_path: Path) -> None:
    """The cause of the demo's fragments: a DTKS record without NIK that linkage left outside the
    register although its household's other members are on KK_A, which lists the same girl. The
    household corroborates like a NIK does: she joins her register row; a record matching twins, one
    matching nobody, and one whose household has no register member are left alone."""
    from dtsen.linkage.consolidate import RULE_HOUSEHOLD, _household_links

    def r(rid: int, sumber: str, nama: str, lahir: date, jk: int, kk: str | None, fam: str | None):
        return {
            "rid": rid,
            "sumber": sumber,
            "spine": sumber == "siak",
            "no_kk": kk,
            "id_keluarga": fam,
            "nama": nama,
            "nama_depan": nama.split(" ")[0],
            "nama_urut": " ".join(sorted(nama.split(" "))),
            "tanggal_lahir": lahir,
            "jenis_kelamin": jk,
        }

    rows = [
        r(1, "siak", "BUDI SANTOSO", date(1985, 3, 1), 1, KK_A, None),
        r(2, "siak", "SITI AMINAH", date(1988, 7, 9), 2, KK_A, None),
        r(3, "siak", "AYU LESTARI", date(2020, 1, 1), 2, KK_A, None),
        r(5, "siak", "AHMAD RIZKI", date(2019, 5, 5), 1, KK_A, None),
        r(6, "siak", "AHMAD RIZKY", date(2019, 5, 5), 1, KK_A, None),  # his twin
        r(11, "dtks", "BUDI SANTOSO", date(1985, 3, 1), 1, "3401019999990001", "dtks:K1"),
        r(12, "dtks", "SITI AMINAH", date(1988, 7, 9), 2, "3401019999990001", "dtks:K1"),
        r(13, "dtks", "AYU LESTARI", date(2020, 1, 1), 2, "3401019999990001", "dtks:K1"),
        r(14, "dtks", "AHMAD RIZKI", date(2019, 5, 5), 1, "3401019999990001", "dtks:K1"),
        r(15, "dtks", "JOKO", date(2017, 2, 2), 1, "3401019999990001", "dtks:K1"),
        r(16, "dtks", "AYU LESTARI", date(2020, 1, 1), 2, None, "dtks:K2"),
    ]
    rec = pl.DataFrame(rows)
    cluster = {1: 1, 2: 2, 3: 3, 5: 5, 6: 6, 11: 1, 12: 2, 13: 13, 14: 14, 15: 15, 16: 16}
    clusters = pl.DataFrame(
        {
            "rid": list(cluster),
            "cluster": list(cluster.values()),
            "metode": [
                "deterministik",
                "deterministik",
                "tunggal",
                "tunggal",
                "tunggal",
                "deterministik",
                "deterministik",
                "tunggal",
                "tunggal",
                "tunggal",
                "tunggal",
            ],
            "aturan": ["register"] * 5 + ["nik+nama_depan+tanggal_lahir"] * 2 + ["tanpa_pasangan"] * 4,
            "probabilitas": [None] * 11,
        },
        schema_overrides={"probabilitas": pl.Float64},
    )
    rec.write_parquet(tmp_path / "records.parquet")
    clusters.write_parquet(tmp_path / "clusters.parquet")
    path, moved = _household_links(
        local_engine(),
        tmp_path / "records.parquet",
        tmp_path / "clusters.parquet",
        tmp_path / "out.parquet",
        LinkConfig(),
    )
    out = pl.read_parquet(path)
    got = {row["rid"]: row for row in out.iter_rows(named=True)}
    assert moved == 1
    assert got[13]["cluster"] == 3
    assert (got[13]["metode"], got[13]["aturan"]) == ("deterministik", RULE_HOUSEHOLD)
    assert got[3]["metode"] == "deterministik"  # the register row is no longer alone
    assert got[14]["cluster"] == 14  # twins: ambiguous, left for review
    assert got[15]["cluster"] == 15
    assert got[16]["cluster"] == 16  # no register member in her household
    assert out.height == clusters.height
