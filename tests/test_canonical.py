"""The canonical data model: valid physical schemas, consistent with the code lists, documented as built."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest

from dtsen.canonical import (
    ENTITIES,
    MODEL_CODE_LISTS,
    RELATIONSHIPS,
    DType,
    Entity,
    Field,
    Sumber,
    all_code_lists,
    arrow_schema,
    entity,
    polars_schema,
)
from dtsen.canonical.docs import render_markdown
from dtsen.reference.codes import CODE_LISTS, Aset, FungsiTubuh, ProgramBansos, Ternak, TingkatKesulitan

DOC = Path(__file__).resolve().parents[1] / "docs" / "data-model.md"
PROVENANCE = ["sumber", "batch_id", "berkas", "baris", "tanggal_data", "flags"]
IDENTIFIERS = {"nik", "no_kk", "nik_pemilik", "nik_pemegang", "id_pelanggan", "nomor_kartu", "kode_desa"}

ALL_FIELDS = [pytest.param(e, f, id=f"{e.name}.{f.name}") for e in ENTITIES.values() for f in e.fields]


def test_expected_entities() -> None:
    assert list(ENTITIES) == [
        "keluarga",
        "anggota",
        "pelanggan_pln",
        "kepesertaan_bpjs",
        "kendaraan",
        "bidang_tanah",
        "survei_rumah_tangga",
    ]


@pytest.mark.parametrize("name", list(ENTITIES))
def test_arrow_and_polars_schemas_agree(name: str) -> None:
    schema = arrow_schema(name)
    assert isinstance(schema, pa.Schema)
    assert schema.names == ENTITIES[name].field_names
    table = schema.empty_table()
    frame = pl.DataFrame(schema=polars_schema(name))
    assert frame.schema == polars_schema(name)
    assert pl.from_arrow(table).schema == polars_schema(name)  # type: ignore[union-attr]
    for f in ENTITIES[name].fields:
        assert schema.field(f.name).nullable is (not f.required)
        assert schema.field(f.name).metadata[b"description"]


@pytest.mark.parametrize("name", list(ENTITIES))
def test_key_fields_are_required_and_provenance_is_last(name: str) -> None:
    ent = ENTITIES[name]
    assert all(ent.field(k).required for k in ent.key)
    assert ent.field_names[-len(PROVENANCE) :] == PROVENANCE
    assert ent.field("flags").dtype is DType.STRING_LIST
    assert ent.field("tanggal_data").arrow_type == pa.date32()
    assert ent.sources
    assert all(isinstance(s, Sumber) for s in ent.sources)


@pytest.mark.parametrize(("ent", "f"), ALL_FIELDS)
def test_field_is_well_formed(ent: Entity, f: Field) -> None:
    assert f.description.strip().endswith((".", ")")), "descriptions are sentences"
    if f.code_list is not None:
        assert all_code_lists()[f.code_list.__name__] is f.code_list
        assert f.arrow_type == pa.int8()
    if f.dtype is DType.MONEY:
        assert f.arrow_type == pa.int64()
        assert "rupiah" in (f.unit or "")
    if f.dtype is DType.DATE:
        assert f.arrow_type == pa.date32()


def test_code_lists_referenced_exist_in_the_registry() -> None:
    used = {f.code_list for e in ENTITIES.values() for f in e.fields if f.code_list is not None}
    for cls in used:
        assert CODE_LISTS.get(cls.__name__) is cls or MODEL_CODE_LISTS.get(cls.__name__) is cls
    assert not set(MODEL_CODE_LISTS) & set(CODE_LISTS), "model lists must not shadow codes.py"


@pytest.mark.parametrize("name", ["keluarga", "survei_rumah_tangga"])
def test_family_features_cover_every_asset_livestock_and_program(name: str) -> None:
    ent = ENTITIES[name]
    for m in Aset:
        assert ent.field(m.field).dtype is DType.BOOL
        assert ent.field(m.field).regsosek == f"502{m.letter}"
    for m in Ternak:
        assert ent.field(m.field).dtype is DType.INT16
    for m in ProgramBansos:
        assert ent.field(m.field).dtype is DType.BOOL
    for extra in ("lahan_lain", "rumah_lain", "internet", "rekening_bank", "daya_listrik", "lantai"):
        assert extra in ent


def test_functional_difficulty_is_a_member_field() -> None:
    anggota = ENTITIES["anggota"]
    for m in FungsiTubuh:
        assert anggota.field(m.field).code_list is TingkatKesulitan
        assert m.field not in ENTITIES["keluarga"]


def test_survey_household_reuses_the_family_features() -> None:
    keluarga, survei = ENTITIES["keluarga"], ENTITIES["survei_rumah_tangga"]
    shared = [f for f in keluarga.fields if f.group.startswith(("Housing", "Assets", "Programs"))]
    assert shared
    for f in shared:
        assert survei.field(f.name) == f
    assert survei.field("pengeluaran_per_kapita").dtype is DType.MONEY
    assert survei.field("penimbang").required


def test_no_duplicate_field_names() -> None:
    for ent in ENTITIES.values():
        assert len(ent.field_names) == len(set(ent.field_names))
    x = Field("x", DType.STRING, "x.")
    with pytest.raises(ValueError, match="duplicate"):
        Entity("bad", "bad.", ("x",), (x, x))


def test_field_rejects_inconsistent_declarations() -> None:
    with pytest.raises(ValueError, match="code_list"):
        Field("lantai", DType.INT8, "x.", code_list=TingkatKesulitan)
    with pytest.raises(ValueError, match="snake_case"):
        Field("NamaLengkap", DType.STRING, "x.")
    with pytest.raises(ValueError, match="key"):
        Entity("bad", "bad.", ("missing",), (Field("x", DType.STRING, "x."),))


def test_identifiers_are_strings_never_numbers() -> None:
    for ent in ENTITIES.values():
        for f in ent.fields:
            if (
                f.name in IDENTIFIERS
                or f.name.startswith(("id_", "nik", "no_kk", "kode_"))
                or f.name in ent.key
            ):
                assert f.arrow_type == pa.string(), f"{ent.name}.{f.name}"
                assert f.polars_type == pl.String(), f"{ent.name}.{f.name}"


def test_personal_data_is_flagged() -> None:
    must = {"nik", "no_kk", "nama", "nama_asli", "tanggal_lahir", "alamat", "nik_pemilik", "nik_pemegang"}
    found = set()
    for ent in ENTITIES.values():
        for f in ent.fields:
            if f.name in must or f.name.startswith("nama"):
                assert f.pii, f"{ent.name}.{f.name} must be marked PII"
                found.add(f.name)
    assert must <= found
    assert ENTITIES["anggota"].field("penyakit_kronis").sensitive
    assert not ENTITIES["keluarga"].field("kode_desa").pii  # aggregates need it in the clear


def test_relationships_join_existing_columns_of_the_same_type() -> None:
    pairs = {(r.parent, r.child) for r in RELATIONSHIPS}
    assert ("keluarga", "anggota") in pairs
    for child in ("pelanggan_pln", "kepesertaan_bpjs", "kendaraan", "bidang_tanah"):
        assert ("anggota", child) in pairs
    for r in RELATIONSHIPS:
        parent, child = entity(r.parent).field(r.parent_field), entity(r.child).field(r.child_field)
        assert parent.arrow_type == child.arrow_type


def test_derived_location_fields_point_to_kode_desa() -> None:
    keluarga = ENTITIES["keluarga"]
    for name in ("kode_kec", "kode_kab", "kode_prov"):
        assert keluarga.field(name).derived_from == "kode_desa"


def test_unknown_entity_is_a_clear_error() -> None:
    with pytest.raises(KeyError, match="known: keluarga"):
        arrow_schema("rumah")


def test_docs_list_every_field_and_code() -> None:
    text = render_markdown()
    assert "erDiagram" in text
    for ent in ENTITIES.values():
        assert f"## {ent.name}" in text
        for f in ent.fields:
            assert f"`{f.name}`" in text
    for cls in all_code_lists().values():
        assert f"### {cls.__name__}" in text
        for m in cls:
            assert f"| {int(m)} | {m.label} | {m.label_en} |" in text.replace("\\|", "|")


def test_committed_doc_matches_the_model() -> None:
    """Fails when the model changes without `dtsen reference data-model --out docs/data-model.md`."""
    assert DOC.exists(), "run: dtsen reference data-model --out docs/data-model.md"
    assert DOC.read_text(encoding="utf-8") == render_markdown(), (
        "docs/data-model.md is stale: run `dtsen reference data-model --out docs/data-model.md`"
    )
