"""Addresses as link evidence (sources/addresses.py): one export's free text and the register's street and
RT/RW columns must give the same link fields; the dtsen_alamat comparison weighs RT/RW by level."""

from __future__ import annotations

import os
import shutil

import polars as pl
import pyarrow as pa
import pytest

from dtsen.engine import get_engine
from dtsen.linkage.config import ComparisonSpec, SplinkSpec
from dtsen.linkage.splink_model import comparisons
from dtsen.sources.addresses import rt_rw, street


def _link_fields(
    rows: list[tuple[str | None, str | None, str | None]], engine: str = "duckdb"
) -> list[tuple[str | None, ...]]:
    """street and rt_rw of (address, rt, rw) rows, computed by ``engine``."""
    eng = get_engine(engine)
    t = eng.memtable(
        pa.table(
            {"a": [r[0] for r in rows], "rt": [r[1] for r in rows], "rw": [r[2] for r in rows]},
            schema=pa.schema([("a", pa.string()), ("rt", pa.string()), ("rw", pa.string())]),
        )
    )
    out = pl.from_arrow(eng.to_pyarrow(t.select(s=street(t.a), r=rt_rw(t.a, t.rt, t.rw))))
    assert isinstance(out, pl.DataFrame)
    return list(out.iter_rows())


ADDRESSES: list[tuple[str | None, tuple[str | None, str | None]]] = [
    # a utility's one text: street, RT/RW, desa, kecamatan and kabupaten with markers
    ("KP. SAMPALAN RT 005/005 DS. CIGARONGGONG KECAMATAN CIBALONG KAB. GARUT", ("KP SAMPALAN", "5/5")),
    # trailing comma-separated region names without markers
    ("KP. CIJAMBU RT 012/006, PANGGALIH, CISEWU, GARUT", ("KP CIJAMBU", "12/6")),
    ("Kampung Cijambu RT.02 RW.03", ("KP CIJAMBU", "2/3")),
    ("KP. X RT/RW 002/003", ("KP X", "2/3")),
    ("KP X RT002 RW003", ("KP X", "2/3")),
    ("JALAN KI HAJAR DEWANTARA NOMOR 12 KEL. BINJAI", ("JL KI HAJAR DEWANTARA NO 12", None)),
    ("JL. MERDEKA NO. 5", ("JL MERDEKA NO 5", None)),  # the synthetic exports' form: unchanged
    ("DUSUN 3", ("DUSUN 3", None)),
    ("DESA SUKAMAJU", (None, None)),  # only a region: no street evidence
    (None, (None, None)),
]


@pytest.mark.parametrize(("address", "expected"), ADDRESSES)
def test_free_text_address(address: str | None, expected: tuple[str | None, str | None]) -> None:
    assert _link_fields([(address, None, None)]) == [expected]


@pytest.mark.spark
def test_spark_reads_addresses_alike() -> None:
    """The patterns are written for both engines (RE2 and Java): Spark gives what DuckDB gives."""
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("no Java for Spark")
    pytest.importorskip("pyspark")
    rows = [(a, None, None) for a, _ in ADDRESSES] + [("KP. CIBODAS", "001", "007"), ("KP X", "1", "-")]
    assert _link_fields(rows, "spark") == _link_fields(rows, "duckdb")


def test_register_columns_and_free_text_agree() -> None:
    """The register's street and padded RT/RW columns give what the utility's one text gives; its columns
    win over any RT the text holds, and a column that is not a number is no RT/RW."""
    register, utility, both, junk = _link_fields(
        [
            ("KP. CIBODAS", "001", "007"),
            ("KP. CIBODAS RT 001/007 DS. SUKAMAJU KEC. KERSAMANAH KAB. GARUT", None, None),
            ("KP. CIBODAS RT 009/009", "1", "7"),
            ("KP. CIBODAS", "1", "-"),
        ]
    )
    assert register == utility == both == ("KP CIBODAS", "1/7")
    assert junk == ("KP CIBODAS", None)


def test_address_preset_compares_street_then_rt_rw() -> None:
    """dtsen_alamat: same street and RT/RW, one side without RT/RW, another RT/RW, else as separate levels,
    so a neighbour of the same kampung (other RT) is not weighed as the same address. The default model
    compares the street part exactly."""
    spec = SplinkSpec(comparisons=[ComparisonSpec(kind="dtsen_alamat")])
    assert spec.comparisons[0].reads == ("alamat", "rt_rw")
    assert "rt_rw" in spec.columns
    (built,) = comparisons(spec)
    levels = built.get_comparison("duckdb").comparison_levels
    labels = [lv.label_for_charts for lv in levels]
    assert labels[1:4] == ["same street, RT and RW", "same street, no RT/RW", "same street, other RT/RW"]
    assert levels[0].is_null_level
    assert len(levels) == 5
    default = [c for c in SplinkSpec().comparisons if "alamat" in c.reads]
    assert [(c.kind, c.columns) for c in default] == [("ExactMatch", ["alamat"])]
