"""Golden-person survivorship as engine queries (golden.py): per attribute the best record that has a
value, register first for identity, the most recent field record for facts, ties to the lower rid, and
provenance decoded from the source key."""

from __future__ import annotations

import bisect
import random
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import ibis
import polars as pl

from dtsen.canonical.model import polars_schema
from dtsen.engine import get_engine
from dtsen.linkage.golden import bucket_cuts, golden_persons, in_buckets, person_provenance, record_order
from dtsen.linkage.inputs import ROW_SPACE

FIELD_SOURCES = ["regsosek", "dtks", "p3ke"]
FILES = {1: ("siak", "b-siak"), 2: ("regsosek", "b-reg"), 3: ("dtks", "b-dtks")}
OLD, NEW = date(2025, 3, 1), date(2025, 9, 1)


def _anggota(rows: list[dict]) -> pl.DataFrame:
    """Canonical anggota rows (every column, nulls where not given) with rid and id_dtsen."""
    schema = polars_schema("anggota")
    file = {v[0]: k for k, v in FILES.items()}
    out = []
    for r in rows:
        rid = file[r["sumber"]] * ROW_SPACE + r.pop("baris")
        out.append({"rid": rid, "batch_id": FILES[file[r["sumber"]]][1], **r})
    frame = pl.DataFrame(out, infer_schema_length=None)
    return frame.select(
        "rid",
        "id_dtsen",
        *[
            pl.col(c).cast(t) if c in frame.columns else pl.lit(None, t).alias(c)
            for c, t in schema.items()
            if c != "id_dtsen"
        ],
    )


def _golden(rows: list[dict]) -> tuple[pl.DataFrame, pl.DataFrame]:
    eng = get_engine("duckdb")
    a = ibis.memtable(_anggota(rows).to_arrow())
    order = eng.to_pyarrow(record_order(a.select("rid", "sumber", "tanggal_data"), FIELD_SOURCES, "siak"))
    g = golden_persons(a.join(ibis.memtable(order), "rid"), "siak")
    golden = pl.from_arrow(eng.to_pyarrow(g))
    prov = pl.from_arrow(eng.to_pyarrow(person_provenance(ibis.memtable(golden.to_arrow()), FILES)))
    return golden, prov  # type: ignore[return-value]


def test_identity_from_register_facts_from_latest_field_record() -> None:
    golden, prov = _golden(
        [
            # P1: register row (no education), an old Regsosek and a newer DTKS visit
            {
                "id_dtsen": "P1",
                "sumber": "siak",
                "baris": 2,
                "tanggal_data": OLD,
                "nama": "SITI AMINAH",
                "tanggal_lahir": date(1990, 1, 1),
                "hubungan_siak": 4,
                "jenjang_pendidikan": None,
            },
            {
                "id_dtsen": "P1",
                "sumber": "regsosek",
                "baris": 5,
                "tanggal_data": OLD,
                "nama": "SITI AMINA",
                "jenjang_pendidikan": 3,
                "bekerja": True,
                "hubungan": 3,
                "nama_ibu_kandung": "RUKMINI",
            },
            {
                "id_dtsen": "P1",
                "sumber": "dtks",
                "baris": 9,
                "tanggal_data": NEW,
                "nama": "SITI A",
                "jenjang_pendidikan": 4,
                "bekerja": None,
            },
            # P2: not in the register, two field records of the same date: the lower rid wins ties of
            # identity, Regsosek (configured first) wins ties of facts
            {
                "id_dtsen": "P2",
                "sumber": "dtks",
                "baris": 3,
                "tanggal_data": NEW,
                "nama": "BUDI",
                "jenjang_pendidikan": 2,
            },
            {
                "id_dtsen": "P2",
                "sumber": "regsosek",
                "baris": 7,
                "tanggal_data": NEW,
                "nama": "BUDIMAN",
                "jenjang_pendidikan": 5,
                "hubungan_siak": 1,
            },
            # P3: no record has a tanggal_data: never golden
            {"id_dtsen": "P3", "sumber": "dtks", "baris": 4, "tanggal_data": None, "nama": "X"},
        ]
    )
    assert golden["id_dtsen"].to_list() == ["P1", "P2"]
    p1, p2 = golden.row(0, named=True), golden.row(1, named=True)
    assert p1["nama"] == "SITI AMINAH"
    assert p1["di_dukcapil"]
    assert p1["nama_ibu_kandung"] == "RUKMINI"  # the register has none: the next record that has it
    assert p1["jenjang_pendidikan"] == 4  # the newest field visit wins facts, not the register's null
    assert p1["bekerja"] is True  # DTKS left it empty: the older Regsosek value stands
    assert p1["hubungan"] == 3  # the field's relationship, not SIAK's SHDK mapped
    assert p2["nama"] == "BUDIMAN"
    assert not p2["di_dukcapil"]
    assert p2["jenjang_pendidikan"] == 5  # same date: regsosek before dtks
    assert p2["hubungan"] == 1  # no field relationship: SHDK 1 (kepala) mapped
    src = {
        (r["id"], r["atribut"]): (r["sumber"], r["batch_id"], r["tanggal_data"])
        for r in prov.iter_rows(named=True)
    }
    assert src[("P1", "nama")] == ("siak", "b-siak", OLD)
    assert src[("P1", "nama_ibu_kandung")] == ("regsosek", "b-reg", OLD)
    assert src[("P1", "jenjang_pendidikan")] == ("dtks", "b-dtks", NEW)
    assert src[("P1", "bekerja")] == ("regsosek", "b-reg", OLD)
    assert ("P1", "hamil") not in src  # no record has it: no provenance row
    assert set(prov["entitas"]) == {"person"}


def test_golden_in_buckets_is_golden_in_one_pass(tmp_path: Path) -> None:
    """Golden persons per bucket of consecutive ids, written one after the other, are the single pass's
    rows in the same order; buckets hold about the records asked for, and a person stays in one."""
    rng = random.Random(7)
    rows = []
    for p in range(120):
        for _ in range(rng.randint(1, 6)):
            sumber = rng.choice(["siak", "regsosek", "dtks"])
            rows.append(
                {
                    "id_dtsen": f"P{p:05d}",
                    "sumber": sumber,
                    "baris": len(rows),
                    "tanggal_data": rng.choice([None, OLD, NEW, NEW + timedelta(days=rng.randint(1, 9))]),
                    "nama": rng.choice([None, "SITI", "BUDI", "AMINAH"]),
                    "jenjang_pendidikan": rng.choice([None, 1, 2, 3]),
                    "bekerja": rng.choice([None, True, False]),
                    "hubungan": rng.choice([None, 1, 3]),
                    "hubungan_siak": rng.choice([None, 1, 4, 9]),
                }
            )
    eng = get_engine("duckdb")
    a = ibis.memtable(_anggota(rows).to_arrow())
    order = ibis.memtable(
        eng.to_pyarrow(record_order(a.select("rid", "sumber", "tanggal_data"), FIELD_SOURCES, "siak"))
    )
    anggota = a.join(order, "rid")
    cuts = eng.to_pyarrow(bucket_cuts(a.select("id_dtsen"), 150))["lo"].to_pylist()
    assert 1 < len(cuts) < 5
    sizes = Counter(bisect.bisect_right(cuts, r["id_dtsen"]) for r in rows)
    assert len(sizes) == len(cuts) + 1
    assert max(sizes.values()) < 150 + 6  # a bucket ends with the person who reaches the size
    one = pl.from_arrow(eng.to_pyarrow(golden_persons(anggota, "siak")))
    parts = [golden_persons(b, "siak") for b in in_buckets(anggota, cuts)]
    eng.write_parquet_parts(parts, tmp_path / "golden.parquet")
    assert one.height > 100
    assert pl.read_parquet(tmp_path / "golden.parquet").equals(one)


def test_family_provenance_prefers_the_more_recent_source() -> None:
    """Registry facts (PLN power, vehicles, land) against the chosen field family row: the more recent
    wins, the field row on a tie, an undated one last; a family known only to a registry gets only that
    attribute; rows come out in (id, atribut) order."""
    from dtsen.linkage.families import _compact_provenance, family_provenance
    from dtsen.tables import FAMILY_PROVENANCE

    base = pl.DataFrame(
        {
            "id_keluarga_dtsen": ["K3", "K1", "K4"],
            "sumber": ["dtks", "regsosek", "regsosek"],
            "batch_id": ["b-dtks", "b-reg", "b-reg"],
            "tanggal_data": [OLD, OLD, None],
        }
    )
    admin = pl.DataFrame(
        [
            ("K1", "daya_listrik", "pln", "b-pln", NEW),  # newer than the field row: wins
            ("K1", "aset_mobil", "ranmor", "b-veh", date(2024, 1, 1)),  # older: the field row stays
            ("K2", "lahan_lain", "atr_bpn", "b-bpn", NEW),  # no field row at all
            ("K3", "daya_listrik", "pln", "b-pln", OLD),  # same date: the field row stays
            ("K4", "aset_sepeda_motor", "ranmor", "b-veh", OLD),  # the field row is undated
        ],
        schema=FAMILY_PROVENANCE.polars,
        orient="row",
    )
    eng = get_engine("duckdb")
    compact = _compact_provenance(eng.memtable(base.to_arrow()), eng.memtable(admin.to_arrow()))
    compact = eng.memtable(eng.to_pyarrow(compact.order_by("id_keluarga_dtsen")))  # as consolidate writes it
    attrs = ["lantai", "daya_listrik", "aset_mobil", "aset_sepeda_motor", "lahan_lain"]
    rows = pl.from_arrow(eng.to_pyarrow(family_provenance(compact, attrs)))
    got = {(r["id"], r["atribut"]): r["sumber"] for r in rows.iter_rows(named=True)}
    assert got[("K1", "daya_listrik")] == "pln"
    assert got[("K1", "aset_mobil")] == "regsosek"
    assert got[("K1", "lantai")] == "regsosek"
    assert got[("K3", "daya_listrik")] == "dtks"
    assert got[("K4", "aset_sepeda_motor")] == "ranmor"
    assert got[("K4", "daya_listrik")] == "regsosek"
    assert [k for k in got if k[0] == "K2"] == [("K2", "lahan_lain")]
    assert rows.height == 3 * len(attrs) + 1
    assert rows["entitas"].unique().to_list() == ["family"]
    keys = list(zip(rows["id"], rows["atribut"], strict=True))
    assert keys == sorted(keys)


def test_duckdb_query_memory_is_its_memory_limit() -> None:
    """Golden's buckets are sized from the limit DuckDB applies (a decimal limit in binary units)."""
    from dtsen.engine import DuckDBEngine

    eng = DuckDBEngine(ibis.duckdb.connect(memory_limit="800MB"))
    assert abs(eng.query_memory() - 800_000_000) < 100_000
    assert eng.execute(ibis.literal(1)) == 1  # the setting's result is consumed: the connection is free
