"""Golden families as engine queries (issue 15): on seeded random frames with register and field
households, mothers, conflicts, registry facts and dead families, the engine rules give what the Polars
rules gave (family_rules_polars.py), on DuckDB and on Spark."""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import family_rules_polars as ref
from dtsen.canonical.model import polars_schema
from dtsen.engine import Engine, local_engine
from dtsen.linkage import families as fam
from dtsen.linkage.config import Survivorship
from dtsen.linkage.consolidate import FAMILY_INPUT
from dtsen.tables import LOCATION

SOURCES = ["dtks", "p3ke", "regsosek"]
NAMES = ["SITI AMINAH", "Siti  Aminah", "DEWI", "ANI", "BUDI", "SRI"]
DATES = [date(2023, 6, 30), date(2024, 12, 31), date(2025, 6, 30), None]


def _frames(seed: int, n: int = 400) -> dict[str, Any]:
    """Persons on a few dozen KKs (some outside the register, some without a card), field households
    mixing them, namesake mothers, keluarga rows and registry facts with ties."""
    rnd = random.Random(seed)
    kks = [f"34010101{i:08d}" for i in range(n // 6)]
    persons = []
    for i in range(n):
        kk = rnd.choice(kks) if rnd.random() < 0.85 else None
        umur = rnd.choice([None, *range(90)])
        lahir = date(2026 - umur, rnd.randint(1, 12), 1) if umur is not None and rnd.random() < 0.95 else None
        persons.append(
            {
                "id_dtsen": f"P{i:04d}",
                "no_kk": kk,
                "di_dukcapil": kk is not None and rnd.random() < 0.8,
                "umur": umur,
                "status_hidup": rnd.choice([True] * 8 + [False, None]),
                "tanggal_lahir": lahir,
                "kode_desa": rnd.choice(["3401012001", "3401012002", None]),
                "jenis_kelamin": rnd.choice([1, 2, None]),
                "nama": rnd.choice([*NAMES, None]),
                "nama_ibu_kandung": rnd.choice([*NAMES, "siti aminah!", None, None]),
                "hubungan_siak": rnd.choice([1, 1, 2, 3, 4, None]),
                "hubungan": rnd.choice([1, 2, 3, None]),
                **{c: rnd.choice([f"{c}-{rnd.randint(0, 3)}", None]) for c in LOCATION if c != "perkotaan"},
                "perkotaan": rnd.choice([True, False, None]),
            }
        )
    base = dict.fromkeys(persons[0]) | {
        "status_hidup": True,
        "kode_desa": "3401012001",
        "jenis_kelamin": 2,
    }
    for j in range(n // 20):  # mothers on register KKs, children outside the register seen by no field source
        name = "IBU " + chr(65 + j % 26) + chr(65 + j // 26)
        kk = rnd.choice(kks)
        persons.append(base | {"id_dtsen": f"M{j:03d}", "no_kk": kk, "di_dukcapil": True, "umur": 30})
        persons[-1] |= {"nama": name, "tanggal_lahir": date(1996, 5, 1), "hubungan_siak": 2}
        child = {"id_dtsen": f"C{j:03d}", "no_kk": None if j % 2 else f"3499{j:012d}", "di_dukcapil": False}
        child |= {"umur": 5, "tanggal_lahir": date(2021, 1, 1), "nama": f"ANAK {j}"}
        persons.append(base | child | {"nama_ibu_kandung": name.lower() if j % 3 else "NOBODY"})
    for j in range(3):  # a family whose members have all died
        dead = {"id_dtsen": f"D{j}", "no_kk": "3488000000000001", "di_dukcapil": True, "status_hidup": False}
        persons.append(base | dead | {"umur": 70, "hubungan_siak": 1 if j == 0 else 2})
    p = pl.DataFrame(persons, infer_schema_length=None).cast(
        {"umur": pl.Int16, "jenis_kelamin": pl.Int8, "hubungan_siak": pl.Int8, "hubungan": pl.Int8}
    )
    units = [f"{s}:K{j}" for s in SOURCES for j in range(n // 5)]
    field = [
        (f"P{i:04d}", u.split(":")[0], u, rnd.choice(DATES))
        for i in range(n)
        for u in rnd.sample(units, rnd.choice([0, 1, 1, 2]))
    ]
    field += [(f"P{i:04d}", "dtks", None, DATES[0]) for i in range(0, n, 37)]  # a record without a family
    fm = pl.DataFrame(
        field,
        schema={
            "id_dtsen": pl.String,
            "sumber": pl.String,
            "id_keluarga": pl.String,
            "tanggal_data": pl.Date,
        },
        orient="row",
    )
    latest = fm.sort("tanggal_data", "id_keluarga", descending=True, nulls_last=True).unique(
        "id_dtsen", keep="first", maintain_order=True
    )
    schema = polars_schema("keluarga")
    kel = pl.DataFrame(
        [
            {
                "id_keluarga": u,
                "sumber": u.split(":")[0],
                "batch_id": f"b{rnd.randint(1, 2)}",
                "tanggal_data": rnd.choice(DATES),
                "daya_listrik": rnd.choice([1, 2, 3, None]),
                "aset_mobil": rnd.choice([True, False, None]),
                "aset_sepeda_motor": rnd.choice([True, False, None]),
                "lahan_lain": rnd.choice([True, False, None]),
                "luas_lantai": rnd.randint(20, 90),
            }
            for u in units
            if rnd.random() < 0.8
        ]
    )
    kel = kel.select(
        [pl.col(c).cast(t) if c in kel.columns else pl.lit(None, t).alias(c) for c, t in schema.items()]
    )

    def admin(k: int, sumber: str, by: str | None = None, **cols: list[Any]) -> pl.DataFrame:
        """Registry rows; where two rows of a family tie on what the rules order by (``by``, else
        tanggal_data), their source columns are equal too: the Polars rules broke such ties by an
        order they did not keep stable."""
        rows = []
        for r in range(k):
            row = {"rid": r, "id_dtsen": f"P{rnd.randrange(n):04d}", "tanggal_data": rnd.choice(DATES)}
            row |= {c: rnd.choice(v) for c, v in cols.items()}
            tie = row[by or "tanggal_data"]
            if by:
                row["tanggal_data"] = DATES[len(str(tie)) % len(DATES)]
            rows.append(row | {"sumber": f"{sumber}{tie}", "batch_id": f"b-{tie}"})
        return pl.DataFrame(rows, infer_schema_length=None).with_columns(pl.col("tanggal_data").cast(pl.Date))

    adm = {
        "pelanggan_pln": admin(n // 3, "pln", "daya_va", daya_va=[450, 900, 1300, 2200, 3500, None]),
        "kendaraan": admin(n // 3, "samsat", jenis=[1, 2, 3, 4]),
        "bidang_tanah": admin(n // 4, "bpn", penggunaan=["PERUMAHAN", "SAWAH", None]),
    }
    return {
        "persons": p,
        "field": fm,
        "latest": latest.select("id_dtsen", "id_keluarga"),
        "keluarga": kel,
        "admin": adm,
    }


def _engine_rules(eng: Engine, f: dict[str, Any], s: Survivorship, work: Path) -> dict[str, pl.DataFrame]:
    work.mkdir(parents=True, exist_ok=True)

    def t(df: pl.DataFrame) -> Any:
        return eng.memtable(df.to_arrow())

    def got(expr: Any) -> pl.DataFrame:
        return pl.from_arrow(eng.to_pyarrow(expr))  # type: ignore[return-value]

    keys_cols = [c for c in ref_key_columns() if c in f["persons"].columns]
    keys = got(fam.family_keys(t(f["persons"].select(keys_cols)), t(f["latest"]), t(f["field"])))
    groups, person_group = fam.id_groups(t(keys))
    person_group = got(person_group)
    family_input = _family_input(f["persons"], keys, person_group)
    families, prov = fam.golden_families(
        eng,
        work,
        t(family_input),
        t(f["field"]),
        t(f["keluarga"]),
        {k: t(v) for k, v in f["admin"].items()},
        s,
        ["regsosek", "p3ke", "dtks"],
    )
    return {
        "keys": keys,
        "groups": got(groups),
        "person_group": person_group,
        "families": got(families),
        "compact": got(prov.compact),
    }


def _polars_rules(f: dict[str, Any], s: Survivorship) -> dict[str, pl.DataFrame]:
    keys_cols = [c for c in ref_key_columns() if c in f["persons"].columns]
    keys = ref.family_keys(f["persons"].select(keys_cols), f["latest"], f["field"])
    groups, person_group = ref.id_groups(keys)
    family_input = _family_input(f["persons"], keys, person_group)
    families, compact = ref.golden_families(
        family_input, f["field"], f["keluarga"], f["admin"], s, ["regsosek", "p3ke", "dtks"]
    )
    return {
        "keys": keys,
        "groups": groups,
        "person_group": person_group,
        "families": families,
        "compact": compact,
    }


def ref_key_columns() -> list[str]:
    return [
        "id_dtsen",
        "no_kk",
        "di_dukcapil",
        "status_hidup",
        "tanggal_lahir",
        "kode_desa",
        "umur",
        "nama",
        "nama_ibu_kandung",
        "jenis_kelamin",
    ]


def _family_input(persons: pl.DataFrame, keys: pl.DataFrame, person_group: pl.DataFrame) -> pl.DataFrame:
    """The golden-family rules' person input: family id F<group> (the ID registry's numbering aside)."""
    family_of = person_group.select("id_dtsen", id_keluarga_dtsen=pl.format("F{}", pl.col("group")))
    cols = [*FAMILY_INPUT, "umur"]  # what consolidate._families gives the rules
    return (
        persons.select(cols)
        .join(family_of, on="id_dtsen", how="left")
        .join(keys.select("id_dtsen", "dasar"), on="id_dtsen", how="left")
    )


def _same(a: pl.DataFrame, b: pl.DataFrame, key: list[str]) -> None:
    assert a.columns == b.columns
    assert_frame_equal(a.sort(key), b.sort(key), check_dtypes=False)


SURVIVORSHIP = [
    Survivorship(),
    Survivorship(admin_absence_is_false=False),
    Survivorship(admin_over_self_report=False),
]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_engine_family_rules_match_the_polars_rules(seed: int, tmp_path: Path) -> None:
    f = _frames(seed)
    s = SURVIVORSHIP[seed % len(SURVIVORSHIP)]
    want, got = _polars_rules(f, s), _engine_rules(local_engine(), f, s, tmp_path)
    _same(got["keys"], want["keys"], ["id_dtsen"])
    assert set(want["keys"]["dasar"]) >= {"kk", "rumah_tangga_sumber", "ibu", "kk_sumber", "sendiri"}
    _same(got["groups"], want["groups"], ["group", "kunci", "kuat"])
    _same(got["person_group"], want["person_group"], ["id_dtsen"])
    _same(got["families"], want["families"], ["id_keluarga_dtsen"])
    _same(got["compact"], want["compact"], ["id_keluarga_dtsen"])
    codes = set(want["families"]["konflik"].explode().drop_nulls())
    assert {"tanpa_kepala", "kepala_ganda", fam.FRAGMENT, fam.ATTACHED} <= codes
    assert any(c.startswith("unit_") for c in codes)
    assert any(c.startswith("banyak_unit_") for c in codes)
    assert (want["families"]["jumlah_anggota"] == 0).any()  # dead families
    if s.admin_over_self_report:
        assert want["compact"]["_daya_listrik_pakai"].any()
        assert want["compact"]["_aset_mobil_pakai"].any()
    # the published types
    schema = got["families"].schema
    assert schema["jumlah_anggota"] == pl.Int16
    assert schema["konflik"] == pl.List(pl.String)


def test_engine_family_rules_on_spark_match_duckdb(spark_engine: Engine, tmp_path: Path) -> None:
    f = _frames(4, 120)
    s = Survivorship()
    duck = _engine_rules(local_engine(), f, s, tmp_path / "duckdb")
    spark = _engine_rules(spark_engine, f, s, tmp_path / "spark")
    for name, key in (
        ("keys", ["id_dtsen"]),
        ("groups", ["group", "kunci", "kuat"]),
        ("families", ["id_keluarga_dtsen"]),
        ("compact", ["id_keluarga_dtsen"]),
    ):
        _same(spark[name], duck[name], key)
