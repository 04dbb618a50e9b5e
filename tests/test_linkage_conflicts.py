"""The conflict refusal on names that share a marga, a boru, I/NI or a first word (issue 14, kota set:
children missing from the register merged into a household member through KK, address and marga), and
stage 1 refusing a NIK whose holder's birth year is far from the form's age."""

from __future__ import annotations

import os
import shutil
from datetime import date
from typing import Any

import ibis
import polars as pl
import pytest

from dtsen.engine import get_engine
from dtsen.linkage.config import Deterministic
from dtsen.linkage.deterministic import conflicting, deterministic_links

SEEN = 2026  # the year of tanggal_data: an age gives SEEN - umur


def _side(prefix: str, nama: str | None, lahir: date | None, tahun: int | None) -> dict[str, Any]:
    words = nama.split(" ") if nama else None
    return {
        f"{prefix}nama": nama,
        f"{prefix}nama_depan": words[0] if words else None,
        f"{prefix}nama_urut": " ".join(sorted(words)) if words else None,
        f"{prefix}tanggal_lahir": lahir,
        f"{prefix}tahun_lahir": tahun if tahun is not None else (lahir.year if lahir else None),
    }


def _pairs(cases: list[tuple[Any, ...]]) -> Any:
    rows = [
        {"i": i, **_side("l_", a, la, None), **_side("r_", b, lb, tb)}
        for i, (a, la, b, lb, tb, _) in enumerate(cases)
    ]
    frame = pl.DataFrame(rows).with_columns(
        pl.col("l_tanggal_lahir", "r_tanggal_lahir").cast(pl.Date),
        pl.col("l_tahun_lahir", "r_tahun_lahir").cast(pl.Int32),
    )
    return ibis.memtable(frame.to_arrow())


FATHER = ("HOTMAN GINTING", date(1998, 10, 23))
CASES = [
    # (left name, left date, right name, right date, right birth year from an age, refused)
    (*FATHER, "YOHANA GINTING", date(2026, 3, 16), None, True),  # a shared marga is not a shared name
    (*FATHER, "YOHANA BR GINTING", None, 2026, True),  # the same with boru, age only
    (*FATHER, "GINTING", date(2026, 3, 16), None, True),  # a marga alone never agrees
    ("I WAYAN SUPARTA", date(1962, 12, 27), "I WAYAN ARSANA", None, 1994, True),  # I + birth order shared
    ("MUHAMMAD SYAHPUTRA", date(1955, 8, 17), "RAHMAD SAPUTRA", None, 1993, True),  # 0.86 < first_name_jw
    ("SITI RAHMAWATI LESTARI", date(1965, 6, 17), "SITI NURHASANAH PRATAMA", date(2004, 7, 1), None, True),
    ("FIKRI HASIBUAN", date(1997, 1, 18), "RIDHO", date(1996, 1, 7), None, True),  # dates 377 days apart
    # not refused: the names agree once particles, dropped words and spacing are allowed for
    ("YOHANA BR GINTING", date(2001, 3, 16), "YOHANA GINTING", date(1960, 1, 5), None, False),
    ("NI MADE WAHYUNI", date(2024, 10, 1), "MADE WAHYUNI", None, 1990, False),
    ("MUHAMMAD RIZKI PRATAMA", date(1990, 1, 2), "RIZKI PRATAMA", date(1960, 5, 6), None, False),
    ("DEWI SARTINI", date(1990, 1, 2), "DEWISARTINI", date(1960, 5, 6), None, False),
    ("DEWI SARTINI", date(1990, 1, 2), "SARTINI DEWI", date(1960, 5, 6), None, False),
    ("DEWI SARTINI", date(1990, 1, 2), "DEWI SARTIMI", date(1960, 5, 6), None, False),  # a typo
    # not refused: the birth data agree, are a slip, or are unknown
    (*FATHER, "YOHANA GINTING", date(1999, 6, 1), None, False),  # 221 days: one person's dates may
    (*FATHER, "YOHANA GINTING", date(1988, 10, 23), None, False),  # one year digit mistyped
    (*FATHER, "YOHANA GINTING", None, 1997, False),  # the age is a year off around the birthday
    ("HOTMAN GINTING", date(2000, 3, 1), "YOHANA GINTING", date(1999, 3, 1), None, False),  # 2000 for 1999
    (*FATHER, "YOHANA GINTING", None, None, False),
    (*FATHER, None, date(2026, 3, 16), None, False),  # no name: not a disagreement
]


def _refused(engine: str) -> list[bool]:
    eng = get_engine(engine)
    t = _pairs(CASES)
    out = eng.to_pyarrow(t.select("i", x=conflicting(eng, t, Deterministic())).order_by("i"))
    return [bool(x) for x in out["x"].to_pylist()]


def test_names_disagree_on_the_words_that_differ() -> None:
    expected = [case[-1] for case in CASES]
    got = _refused("duckdb")
    wrong = [(c[0], c[2], c[-1]) for c, g, e in zip(CASES, got, expected, strict=True) if g != e]
    assert not wrong, wrong


@pytest.mark.spark
def test_conflict_rule_alike_on_spark() -> None:
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("no Java for Spark")
    pytest.importorskip("pyspark")
    assert _refused("spark") == _refused("duckdb")


def _records(rows: list[dict[str, Any]]) -> Any:
    frame = pl.DataFrame(rows).with_columns(
        pl.col("nama_depan").fill_null(pl.col("nama").str.split(" ").list.first()),
        nama_urut=pl.col("nama").str.split(" ").list.sort().list.join(" "),
        tanggal_lahir=pl.col("tanggal_lahir").cast(pl.Date),
        tahun_lahir=pl.col("tahun_lahir").cast(pl.Int32),
    )
    return ibis.memtable(frame.to_arrow())


def test_stage_one_refuses_an_age_far_from_the_nik_holder() -> None:
    """A son named after his father, carrying the father's NIK on a form with an age and no birth date,
    is not linked to the father; the father's own forms (age within a year, no age, a dated one with a
    year digit mistyped) are."""
    nik = "1275022712620001"
    base = {"nik": nik, "nama": "I WAYAN SUPARTA", "nama_depan": None}
    records = _records(
        [
            {**base, "rid": 1, "spine": True, "tanggal_lahir": date(1962, 12, 27), "tahun_lahir": 1962},
            {**base, "rid": 2, "spine": False, "tanggal_lahir": None, "tahun_lahir": SEEN - 32},  # the son
            {**base, "rid": 3, "spine": False, "tanggal_lahir": None, "tahun_lahir": SEEN - 63},  # the father
            {**base, "rid": 4, "spine": False, "tanggal_lahir": None, "tahun_lahir": None},  # no age: name
            # two dates, one year digit mistyped: the dates decide (a slip), not the years
            {**base, "rid": 5, "spine": False, "tanggal_lahir": date(1952, 12, 27), "tahun_lahir": 1952},
        ]
    )
    eng = get_engine("duckdb")
    out = eng.to_pyarrow(deterministic_links(eng, records, Deterministic()))
    links = sorted(zip(out["rid"].to_pylist(), out["rid_spine"].to_pylist(), strict=True))
    assert links == [(3, 1), (4, 1), (5, 1)]
