"""The shipped source mappings, checked end to end against the synthetic generator's truth.

One small dataset (one kabupaten, ~24k persons) is generated per module and every export is ingested
with the mapping of the same name into a temporary data directory. The key acceptance test: the
ingestion report's counts agree *exactly* with the dirt the generator says it injected (truth/), because
every rule involved is deterministic; where a corruption may or may not be detectable from the number
alone (a typo in a NIK can still be a valid NIK), the expectation is computed per row with
:mod:`dtsen.reference.nik`, the reference the transform mirrors, so the test stays exact.

Rows are tied together without trusting any one line-number convention: file row i (0-based) is physical
line i + 2 (header = line 1), which is ingestion's ``baris``; the truth is joined on ``record_id`` built
from the file's own id columns. The truth's ``baris`` is only checked to follow one of the two known
conventions (data row number, or physical line number).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
import yaml

from dtsen.canonical import ENTITIES
from dtsen.canonical.model import Sumber, arrow_schema
from dtsen.reference.nik import check_kk, check_nik
from dtsen.sources.ingest import BatchResult, IngestError, ingest
from dtsen.sources.mapping import Mapping, MappingError, builtin_mappings, load_mapping
from dtsen.synth.dirt import DateDirt, NikDirt
from dtsen.synth.generate import SynthRequest, generate
from dtsen.synth.sources import RECORD_ID, SOURCES

PERSONS = 24_000
KABUPATEN = "3302"  # Banyumas
SEED = 5
DOCS = Path(__file__).resolve().parents[1] / "docs" / "sources.md"

# (file column, canonical field, truth dirt column, "nik" or "kk") for every identifier the generator dirties.
IDENTIFIERS: dict[str, list[tuple[str, str, str, str]]] = {
    "dtks": [("NIK", "nik", "nik_dirt", "nik"), ("NOKK", "no_kk", "kk_dirt", "kk")],
    "p3ke": [("NIK", "nik", "nik_dirt", "nik"), ("NO_KK", "no_kk", "kk_dirt", "kk")],
    "regsosek_anggota": [("NIK", "nik", "nik_dirt", "nik")],
    "regsosek_keluarga": [("NO_KK", "no_kk", "kk_dirt", "kk")],
    "siak_penduduk": [("NIK", "nik", "nik_dirt", "nik")],
    "pln_pelanggan": [("NIK_PELANGGAN", "nik_pemilik", "nik_dirt", "nik")],
    "bpjs_peserta": [("NIK", "nik", "nik_dirt", "nik")],
    "kendaraan": [("NIK_PEMILIK", "nik_pemilik", "nik_dirt", "nik")],
    "bidang_tanah": [("NIK_PEMEGANG", "nik_pemegang", "nik_dirt", "nik")],
}
# The only warnings clean synthetic data may raise: the generator dirties identifiers and birth dates
# (and names, which standardization absorbs). Any other warning (an unknown code, a region that does
# not exist, a number out of range, a skip-rule breach) means a mapping misreads a column.
INJECTED_WARNINGS = re.compile(r"^(nik_|no_kk_|tanggal_lahir_)")


@dataclass
class Ingested:
    table: str
    mapping: Mapping
    result: BatchResult
    canonical: pl.DataFrame
    quarantine: pl.DataFrame
    source: Path
    truth: Path

    @property
    def report(self) -> dict:
        return self.result.report

    def rows(self) -> pl.DataFrame:
        """Every file row (all text) with its truth row and its canonical row (null when quarantined)."""
        src = pl.read_csv(self.source, infer_schema_length=0).with_row_index("_i")
        src = src.with_columns(
            (pl.col("_i").cast(pl.Int64) + 2).alias("_line"),
            pl.concat_str([pl.col(c) for c in RECORD_ID[self.table]], separator="-").alias("_record_id"),
        )
        truth = pl.read_parquet(self.truth).rename(lambda c: f"t_{c}")
        joined = src.join(truth, left_on="_record_id", right_on="t_record_id", how="left", validate="1:1")
        assert joined["t_source"].null_count() == 0, f"{self.table}: file rows without a truth row"
        offsets = set((joined["t_baris"] - joined["_line"]).unique().to_list())
        assert offsets in ({-1}, {0}), f"{self.table}: truth baris follows no known convention: {offsets}"
        canonical = self.canonical.rename(lambda c: f"c_{c}")
        return joined.join(canonical, left_on="_line", right_on="c_baris", how="left", validate="1:1")


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "out"
    generate(SynthRequest(persons=PERSONS, out=out, seed=SEED, kabupaten=[KABUPATEN], workers=1))
    return out


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="module")
def ingested(synth_dir: Path, data_dir: Path) -> dict[str, Ingested]:
    """Every synth export ingested with the shipped mapping named like the file."""
    out: dict[str, Ingested] = {}
    for table in SOURCES:
        source = synth_dir / "sources" / f"{table}.csv"
        result = ingest(table, [source], data_dir=data_dir)
        assert result.status == "committed"
        assert result.directory is not None
        mapping = builtin_mappings()[table]
        out[table] = Ingested(
            table=table,
            mapping=mapping,
            result=result,
            canonical=pl.read_parquet(result.directory / "canonical" / f"{mapping.entity}.parquet"),
            quarantine=pl.read_parquet(result.directory / "quarantine.parquet"),
            source=source,
            truth=synth_dir / "truth" / f"links_{table}.parquet",
        )
    return out


def _expected_valid(kind: str, raw: str | None) -> bool:
    """Whether the reference check accepts the value as written in the file (the truth-side value)."""
    return (check_kk(raw) if kind == "kk" else check_nik(raw)).valid


# --- the mapping files themselves ---------------------------------------------------------------


def test_every_shipped_mapping_loads() -> None:
    mappings = builtin_mappings()
    assert set(SOURCES) <= set(mappings), "every synth export needs a mapping of the same name"
    sumber = {s.value for s in Sumber}
    for name, m in mappings.items():
        assert m.name == name
        assert m.source in sumber, f"{name}: source {m.source!r} is not a canonical Sumber"
        assert m.source in {s.value for s in ENTITIES[m.entity].sources}, f"{name}: entity does not list it"
        assert m.description
        assert m.files
        folder = Path(__file__).resolve().parents[1] / "src" / "dtsen" / "sources" / "mappings"
        assert load_mapping(folder / f"{name}.yaml") == m


@pytest.mark.parametrize("table", sorted(SOURCES))
def test_mapping_names_exactly_the_columns_of_the_export(synth_dir: Path, table: str) -> None:
    """Each column is read or deliberately ignored, and the mapping reads no column the file lacks,
    so an unknown-column note on a real file always means something new."""
    header = (synth_dir / "sources" / f"{table}.csv").read_text(encoding="utf-8").split("\n", 1)[0]
    columns = header.split(",")
    m = builtin_mappings()[table]
    assert sorted(m.source_columns) == sorted(columns)
    assert any(Path(f"{table}.csv").match(glob) for glob in m.files)


# --- ingestion of every export -------------------------------------------------------------------


@pytest.mark.parametrize("table", sorted(SOURCES))
def test_export_ingests_cleanly(ingested: dict[str, Ingested], synth_dir: Path, table: str) -> None:
    ing = ingested[table]
    report = ing.report
    manifest = json.loads((synth_dir / "manifest.json").read_text(encoding="utf-8"))
    rows = next(f["rows"] for f in manifest["files"] if f["table"] == table and f["kind"] == "source")
    assert report["notes"] == []
    assert ing.result.notes == []
    assert report["structural_rejects"] == 0
    assert report["rows_read"] == rows
    assert report["accepted"] + report["rejected"] == rows
    assert ing.canonical.height == report["accepted"]
    unexpected = {c: n for c, n in report["warnings_by_code"].items() if not INJECTED_WARNINGS.match(c)}
    assert unexpected == {}, f"{table}: warnings the generator did not inject"
    # exact: no shipped export has a required field the generator leaves empty or dirties beyond use
    assert report["rejected"] == 0, report["rejected_by_reason"]


@pytest.mark.parametrize("table", sorted(SOURCES))
def test_canonical_matches_the_entity_schema(ingested: dict[str, Ingested], table: str) -> None:
    ing = ingested[table]
    path = ing.result.directory / "canonical" / f"{ing.mapping.entity}.parquet"  # type: ignore[operator]
    written = pq.read_schema(path)
    expected = arrow_schema(ing.mapping.entity)
    assert written.names == expected.names
    for name in written.names:
        assert written.field(name).type == expected.field(name).type, name
    entity = ENTITIES[ing.mapping.entity]
    for f in entity.fields:
        values = ing.canonical[f.name]
        if f.required:
            assert values.null_count() == 0, f"{table}: required {f.name} has nulls"
        if f.code_list is not None:
            found = set(values.drop_nulls().unique().to_list())
            assert found <= set(f.code_list.codes()), f"{table}.{f.name}: {found - set(f.code_list.codes())}"
    for name in ing.mapping.fields:  # every mapped field carries data
        assert ing.canonical[name].null_count() < ing.canonical.height, f"{table}: {name} is all null"
    assert ing.canonical["sumber"].unique().to_list() == [ing.mapping.source]
    key = entity.key[0]
    assert ing.canonical[key].n_unique() == ing.canonical.height, f"{table}: {key} not unique"


# --- the acceptance test: report counts == injected dirt -------------------------------------------


@pytest.mark.parametrize("table", sorted(IDENTIFIERS))
def test_identifier_findings_match_injected_dirt(ingested: dict[str, Ingested], table: str) -> None:
    """Per identifier column, exact: rows flagged missing == truth MISSING, excel_scientific == EXCEL,
    length == TRUNCATED (each kind produces exactly that code and no other kind can); the canonical
    value is null exactly on the rows the reference check rejects, which are all MISSING, EXCEL and
    TRUNCATED rows plus the TYPO/TRANSPOSED rows whose corrupted number is structurally invalid."""
    ing = ingested[table]
    rows = ing.rows()
    assert rows["c_sumber"].null_count() == 0  # nothing quarantined (exact, see test_export_ingests_cleanly)
    warnings = ing.report["warnings_by_code"]
    rejected = ing.report["rejected_by_reason"]
    for column, fld, dirt, kind in IDENTIFIERS[table]:
        prefix = "nik" if kind == "nik" else "no_kk"
        truth = rows[f"t_{dirt}"]
        counts = {code: warnings.get(code, 0) + rejected.get(code, 0) for code in warnings | rejected}
        for code, injected in (
            ("missing", NikDirt.MISSING),
            ("excel_scientific", NikDirt.EXCEL),
            ("length", NikDirt.TRUNCATED),
        ):
            n = int((truth == injected).sum())
            assert counts.get(f"{prefix}_{code}", 0) == n, f"{table}.{column}: {prefix}_{code}"
            flagged = rows["c_flags"].list.contains(f"{prefix}_{code}")
            assert (flagged == (truth == injected)).all(), f"{table}.{column}: rows flagged {code}"
        expected = pl.Series([_expected_valid(kind, v) for v in rows[column].to_list()])
        got = rows[f"c_{fld}"].is_not_null()
        assert (got == expected).all(), f"{table}.{column}: canonical null != reference check"
        always_invalid = truth.is_in([NikDirt.MISSING, NikDirt.EXCEL, NikDirt.TRUNCATED])
        maybe_invalid = truth.is_in([NikDirt.TYPO, NikDirt.TRANSPOSED])
        assert not expected.filter(always_invalid).any()
        assert expected.filter(~always_invalid & ~maybe_invalid).all()  # clean and ganda NIKs are valid
        n_null = int((~got).sum())
        assert n_null == int(always_invalid.sum()) + int((maybe_invalid & ~expected).sum())
        if fld == "nik" and "nik" in ing.report.get("files", [{}])[0]:
            assert ing.report["files"][0]["nik"]["valid"] == int(got.sum())
        # a valid value is the file's digits (only reformatting can change them, and the synth adds none)
        same = rows.filter(got).select((pl.col(f"c_{fld}") == pl.col(column)).all()).item()
        assert same, f"{table}.{column}: a valid value was altered"


def test_dtks_counts(ingested: dict[str, Ingested]) -> None:
    """The DTKS audit figures the generator reproduces, read back from the report (exact)."""
    ing = ingested["dtks"]
    truth = pl.read_parquet(ing.truth)
    w = ing.report["warnings_by_code"]
    assert w.get("nik_missing", 0) == int((truth["nik_dirt"] == NikDirt.MISSING).sum())
    assert w.get("nik_excel_scientific", 0) == int((truth["nik_dirt"] == NikDirt.EXCEL).sum())
    assert w.get("nik_length", 0) == int((truth["nik_dirt"] == NikDirt.TRUNCATED).sum())
    assert w.get("no_kk_missing", 0) == int((truth["kk_dirt"] == NikDirt.MISSING).sum())
    assert w.get("no_kk_excel_scientific", 0) == int((truth["kk_dirt"] == NikDirt.EXCEL).sum())
    assert w.get("no_kk_length", 0) == int((truth["kk_dirt"] == NikDirt.TRUNCATED).sum())
    assert ing.report["rows_read"] == truth.height  # duplicates are rows too: linkage removes them
    assert ing.report["accepted"] == truth.height


@pytest.mark.parametrize("table", ["dtks", "p3ke", "regsosek_anggota", "siak_penduduk"])
def test_default_birth_dates_are_flagged(ingested: dict[str, Ingested], table: str) -> None:
    """Every date the generator replaced by 1 January is flagged (exact as an implication: a true
    1 January birthday is flagged too, and cannot be told apart)."""
    rows = ingested[table].rows()
    defaulted = rows.filter(pl.col("t_date_dirt") == DateDirt.DEFAULT)
    assert defaulted.height > 0
    assert defaulted["c_flags"].list.contains("tanggal_lahir_default_0101").all()
    assert (defaulted["c_tanggal_lahir"].dt.day() == 1).all()


def test_siak_register(ingested: dict[str, Ingested]) -> None:
    """SIAK is clean: nothing rejected, every NIK valid, and the deaths it knows of are marked."""
    ing = ingested["siak_penduduk"]
    assert ing.report["rejected"] == 0
    assert ing.quarantine.height == 0
    rows = ing.rows()
    assert rows["c_nik"].null_count() == 0
    assert rows["c_kode_desa"].null_count() == 0
    assert (rows["c_id_anggota"] == "siak:" + rows["NIK"]).all()
    assert (rows["c_id_keluarga"] == "siak:" + rows["NO_KK"]).all()
    # exact: STAT_HIDUP = MATI exactly for the deaths already recorded; the unrecorded dead still live here
    assert (rows["c_status_hidup"] == ~rows["t_death_recorded"]).all()
    assert (rows["c_tanggal_meninggal"].is_not_null() == rows["t_death_recorded"]).all()
    dead = rows.filter(pl.col("t_death_recorded"))
    assert dead.height > 0
    assert (~dead["t_alive"]).all()
    assert (dead["c_tanggal_meninggal"] >= dead["c_tanggal_lahir"]).all()
    assert int((~rows["c_status_hidup"]).sum()) == int(pl.read_parquet(ing.truth)["death_recorded"].sum())
    assert set(rows["c_rt"].str.len_chars().unique().to_list()) == {3}


def test_regsosek(ingested: dict[str, Ingested]) -> None:
    keluarga, anggota = ingested["regsosek_keluarga"], ingested["regsosek_anggota"]
    truth = pl.read_parquet(anggota.truth)
    # exact: the report's NIK-missing count is the truth's MISSING count
    assert anggota.report["warnings_by_code"].get("nik_missing", 0) == int(
        (truth["nik_dirt"] == NikDirt.MISSING).sum()
    )
    # every member points to a family of the same source
    assert set(anggota.canonical["id_keluarga"]) <= set(keluarga.canonical["id_keluarga"])
    assert (anggota.canonical["tanggal_data"] == date(2022, 10, 31)).all()
    # skipped items (written 0) are null, not an unknown code: hamil only for women
    women = anggota.canonical.filter(pl.col("jenis_kelamin") == 2)
    assert anggota.canonical.filter(pl.col("jenis_kelamin") == 1)["hamil"].null_count() > 0
    assert women["hamil"].null_count() == 0
    rows = keluarga.rows()
    assert ((rows["c_daya_listrik"].is_null()) == (rows["R307B"] == "0")).all()
    assert (
        rows["c_kode_desa"] == rows["KODE_PROV"] + rows["KODE_KAB"] + rows["KODE_KEC"] + rows["KODE_DESA"]
    ).all()
    assert (rows["c_status_kk"] == rows["t_kode_kk"]).all()


def test_p3ke(ingested: dict[str, Ingested]) -> None:
    rows = ingested["p3ke"].rows()
    # exact: PADAN_DUKCAPIL is Ya exactly where the NIK is clean
    assert ((rows["c_status_padan"] == 1) == (rows["t_nik_dirt"] == NikDirt.CLEAN)).all()
    assert rows["c_status_padan"].null_count() == 0
    assert rows["c_kode_desa"].null_count() == 0  # every dotted code read


def test_susenas(ingested: dict[str, Ingested]) -> None:
    rt, art = ingested["susenas_rumah_tangga"], ingested["susenas_anggota"]
    rows = rt.rows()
    assert (rows["c_pengeluaran_per_kapita"] == rows["KAPITA"].cast(pl.Int64)).all()
    assert (rows["c_penimbang"] == rows["FWT"].cast(pl.Float64)).all()
    assert (rows["c_kode_kab"] == KABUPATEN).all()
    assert (rows["c_kode_prov"] == KABUPATEN[:2]).all()
    assert (rows["c_perkotaan"] == (rows["KLASIFIKASI"] == "1")).all()
    assert set(art.canonical["id_keluarga"]) <= set(rt.canonical["id_keluarga"])
    assert art.canonical["nik"].null_count() == art.canonical.height  # anonymous survey


def test_registries(ingested: dict[str, Ingested]) -> None:
    plates = ingested["kendaraan"].canonical["nomor_polisi"]
    assert not plates.str.contains(" ").any()
    assert plates.str.contains(r"^[A-Z]{1,2}\d{1,4}[A-Z]{1,3}$").all()
    tanah = ingested["bidang_tanah"].canonical
    assert tanah["kode_desa"].null_count() == 0
    assert tanah["jenis_hak"].null_count() == 0
    bpjs = ingested["bpjs_peserta"].canonical
    assert bpjs["status_aktif"].null_count() == 0
    assert bpjs["segmen"].null_count() == 0
    # identity kept for linking a membership without a usable NIK
    assert bpjs["nama"].null_count() == 0
    assert bpjs["tanggal_lahir"].null_count() < bpjs.height * 0.01
    assert set(bpjs["jenis_kelamin"].unique().to_list()) == {1, 2}
    assert bpjs["kode_desa"].null_count() == 0
    vehicles = ingested["kendaraan"].canonical
    assert vehicles["merek"].null_count() == 0
    assert set(tanah["penggunaan"].unique().to_list()) <= {"PERUMAHAN", "PERTANIAN"}
    p3ke = ingested["p3ke"].canonical
    assert p3ke["desil_kesejahteraan"].is_between(1, 4).all()


# --- the worked example of docs/sources.md -----------------------------------------------------------


def _docs_example() -> Mapping:
    """The YAML block that follows the ``worked-example`` marker in docs/sources.md."""
    text = DOCS.read_text(encoding="utf-8")
    block = re.search(r"<!-- worked-example -->\s*```yaml\n(.*?)```", text, re.S)
    assert block, "docs/sources.md lost its worked example"
    data = yaml.safe_load(block.group(1))
    data.setdefault("name", "dtks_kabupaten")
    return Mapping.model_validate(data)


def test_docs_worked_example(ingested: dict[str, Ingested], tmp_path: Path, data_dir: Path) -> None:
    """A DTKS export with other headers, ';' and cp1252 ingests with the docs' mapping alone and gives
    the same canonical rows as the synth export with the shipped mapping."""
    m = _docs_example()
    assert m.read.delimiter == ";"
    assert m.read.encoding == "cp1252"
    rename = {
        "IDDTKS": "ID DTKS",
        "ID_KELUARGA": "ID KELUARGA",
        "NIK": "NIK ART",
        "NOKK": "NO KK",
        "NAMA": "NAMA ART",
        "TGL_LAHIR": "TANGGAL LAHIR",
        "JNS_KEL": "JENIS KELAMIN",
        "HUB_KEL": "HUBUNGAN DENGAN KRT",
        "PEKERJAAN": "PEKERJAAN",
        "ALAMAT": "ALAMAT",
        "KODE_WILAYAH": "KODE DESA",
        "STATUS_DTKS": "STATUS",
    }
    base = ingested["dtks"]
    frame = pl.read_csv(base.source, infer_schema_length=0).rename(rename)
    frame = frame.with_columns(pl.col("ALAMAT").str.replace("^DUSUN", "DUSUN CAFÉ"))  # a cp1252 letter
    path = tmp_path / "dtks_banyumas_2024.csv"
    path.write_bytes(frame.write_csv(separator=";").encode("cp1252"))
    result = ingest(m, [path], data_dir=data_dir)
    assert result.report["notes"] == []
    assert result.report["rejected"] == 0
    got = pl.read_parquet(result.directory / "canonical" / "anggota.parquet")  # type: ignore[operator]
    want = base.canonical
    assert got["alamat"].str.contains("CAFÉ").any()
    skip = {"batch_id", "berkas", "alamat"}
    cols = [c for c in want.columns if c not in skip]
    assert got.select(cols).equals(want.select(cols))


# --- the mapping features the shipped files use ----------------------------------------------------


def _mapping(**fields: dict) -> Mapping:
    return Mapping.model_validate(
        {
            "name": "t",
            "source": "regsosek",
            "entity": "keluarga",
            "record_id": "ID",
            "fields": {"id_keluarga": {"from": "ID", "required": True}, **fields},
        }
    )


def test_mapping_features(tmp_path: Path) -> None:
    """null_values, string pad, remove, int map keys and ignore_columns, through a real ingestion."""
    m = _mapping(
        rt={"from": "RT", "pad": [3]},
        rw={"from": "RW", "pad": [3], "remove": " "},
        bukti_kepemilikan={"from": "B", "type": "code", "null_values": [0]},
        internet={"from": "NET", "type": "bool", "map": {1: True, 2: False}},
        alamat={"from": "AL", "remove": "-[]"},
        aset_tabung_gas={"from": "GAS", "type": "bool"},
        bahan_bakar_masak={"from": "BB", "type": "code"},
    ).model_copy(update={"ignore_columns": ["X"]})
    path = tmp_path / "k.csv"
    lines = [
        "ID,RT,RW,B,NET,AL,X,GAS,BB",
        "a,7,1 2,0,1,JL-[1],x,1,2",
        "b,1234,,3,2,---,x,2,10",
        "c,012,5,9,3,JL,x,1,10",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = ingest(m, [path], data_dir=tmp_path / "data")
    assert result.report["notes"] == []  # X is known, ignored
    out = pl.read_parquet(result.directory / "canonical" / "keluarga.parquet")  # type: ignore[operator]
    assert out["rt"].to_list() == ["007", "1234", "012"]  # padded, never cut
    assert out["rw"].to_list() == ["012", None, "005"]
    assert out["bukti_kepemilikan"].to_list() == [None, 3, None]
    assert out["internet"].to_list() == [True, False, None]
    assert out["alamat"].to_list() == ["JL1", None, "JL"]
    flags = out["flags"].to_list()
    assert flags[0] == []
    assert flags[1] == []
    # and a cross-field rule: a gas tank >= 5.5 kg without cooking on LPG 5.5/12 kg
    assert set(flags[2]) == {
        "bukti_kepemilikan_code_unknown",
        "internet_code_unknown",
        "skip_tabung_gas_bahan_bakar",
    }


@pytest.mark.parametrize(
    ("fields", "extra", "message"),
    [
        ({"kode_desa": {"from": ["A", "B"], "type": "region", "pad": [2]}}, {}, "one width per"),
        ({"rt": {"from": "RT", "pad": [3, 3]}}, {}, "one column to one width"),
        ({"jumlah_anggota": {"from": "N", "type": "int", "pad": [3]}}, {}, "pad is for region and string"),
        ({"no_kk": {"from": "KK", "type": "kk", "null_values": ["0"]}}, {}, "own cleaning"),
        ({"no_kk": {"from": "KK", "type": "kk", "remove": " "}}, {}, "own cleaning"),
        ({"alamat": {"from": "AL"}}, {"ignore_columns": ["AL"]}, "ignore_columns lists"),
        ({"internet": {"from": "N", "type": "bool", "map": {True: True}}}, {}, "YAML boolean"),
    ],
)
def test_mapping_validation(fields: dict, extra: dict, message: str) -> None:
    data = {
        "name": "t",
        "source": "regsosek",
        "entity": "keluarga",
        "fields": {"id_keluarga": {"from": "ID"}, **fields},
        **extra,
    }
    with pytest.raises(ValueError, match=message):
        Mapping.model_validate(data)


def test_yaml_booleans_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "source: bpjs_kesehatan\nentity: kepesertaan_bpjs\nfields:\n"
        "  nomor_kartu: {from: NOKA}\n  status_aktif: {from: S, type: bool, map: {yes: true, no: false}}\n",
        encoding="utf-8",
    )
    with pytest.raises(
        MappingError, match=r"status_aktif\.map\.yes: YAML read yes as true: quote it \('yes'\)"
    ):
        load_mapping(path)


def test_missing_required_column_refuses_the_file(tmp_path: Path) -> None:
    """A file without a required column is refused whole, naming the file, line and column."""
    path = tmp_path / "dtks_x.csv"
    path.write_text("IDDTKS,ID_KELUARGA,NIK\nDT1,K1,3302061001880001\n", encoding="utf-8")
    with pytest.raises(IngestError, match=r"dtks_x.csv: line 1: required column\(s\) missing: NAMA"):
        ingest("dtks", [path], data_dir=tmp_path / "data")
    assert not (tmp_path / "data" / "batches").exists() or not any((tmp_path / "data" / "batches").iterdir())
