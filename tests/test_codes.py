"""Regsosek 2022 and SIAK code lists: shapes, the sizes the questionnaire fixes, labels and helpers."""

from __future__ import annotations

import inspect

import pytest

from dtsen.reference import codes
from dtsen.reference.codes import (
    CODE_LISTS,
    Aset,
    Atap,
    BahanBakarMasak,
    CodeList,
    DayaListrik,
    Dinding,
    JenjangPendidikan,
    Lantai,
    LapanganUsaha,
    PenyakitKronis,
    StatusPekerjaan,
    SumberAirMinum,
    SumberPenerangan,
)

ALL_LISTS = sorted(CODE_LISTS.items())


def test_code_lists_registry_is_complete() -> None:
    defined = {
        name: obj
        for name, obj in vars(codes).items()
        if inspect.isclass(obj) and issubclass(obj, CodeList) and obj is not CodeList
    }
    assert defined == CODE_LISTS
    assert all(name == cls.__name__ for name, cls in CODE_LISTS.items())


@pytest.mark.parametrize(("name", "cls"), ALL_LISTS)
def test_values_are_unique(name: str, cls: type[CodeList]) -> None:
    # an IntEnum silently turns a repeated value into an alias: aliases show up only in __members__
    assert len(cls.__members__) == len(list(cls)), f"{name} has duplicate codes"
    assert cls.codes() == sorted(set(cls.codes()))
    assert all(type(code) is int for code in cls.codes())


@pytest.mark.parametrize(("name", "cls"), ALL_LISTS)
def test_labels_are_present_and_unambiguous(name: str, cls: type[CodeList]) -> None:
    for member in cls:
        assert member.label.strip(), (name, member.name)
        assert member.label_en.strip(), (name, member.name)
        assert member.label == member.label.strip()
    # from_label must be able to tell every member apart by any of its spellings
    keys: dict[str, CodeList] = {}
    for member in cls:
        for spelling in {member.label, member.label_en, member.name.replace("_", " ")}:
            key = " ".join(spelling.upper().split())
            assert keys.setdefault(key, member) is member, (name, spelling)


@pytest.mark.parametrize(("name", "cls"), ALL_LISTS)
def test_from_label_round_trips(name: str, cls: type[CodeList]) -> None:
    for member in cls:
        assert cls.from_label(member.label) is member
        assert cls.from_label(member.label_en) is member
        assert cls.from_label(member.name) is member
        assert cls.from_label(f"  {member.label.lower()}  ") is member


def test_from_label_normalises_case_and_spaces() -> None:
    assert Lantai.from_label("tanah") is Lantai.TANAH
    assert Lantai.from_label("  EARTH ") is Lantai.TANAH
    assert Lantai.from_label("marmer/granit") is Lantai.MARMER_GRANIT
    assert Lantai.from_label("kayu   papan") is Lantai.KAYU_PAPAN  # the member name, spaced
    assert Lantai.from_label("KAYU_PAPAN") is Lantai.KAYU_PAPAN
    assert SumberAirMinum.from_label("Air hujan") is SumberAirMinum.AIR_HUJAN


@pytest.mark.parametrize("text", ["", "   ", "tanah liat", "8", "granit", "Bambu!"])
def test_from_label_unknown_is_none(text: str) -> None:
    assert Lantai.from_label(text) is None


def test_label_en_defaults_to_label() -> None:
    class Contoh(CodeList):
        SATU = 1, "Satu"
        DUA = 2, "Dua", "Two"

    assert Contoh.SATU.label_en == "Satu"
    assert Contoh.DUA.label_en == "Two"
    assert Contoh.from_label("two") is Contoh.DUA
    assert Contoh(1) is Contoh.SATU
    assert Contoh.SATU == 1


# --- the sizes the questionnaire fixes --------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("StatusKK", [0, 1, 2]),
        ("StatusBangunan", list(range(1, 6))),  # 301a
        ("Lantai", list(range(1, 10))),  # 303
        ("Dinding", list(range(1, 8))),  # 304
        ("Atap", list(range(1, 9))),  # 305
        ("SumberAirMinum", list(range(1, 12))),  # 306a
        ("SumberPenerangan", list(range(1, 5))),  # 307a
        ("DayaListrik", list(range(1, 6))),  # 307b
        ("BahanBakarMasak", list(range(12))),  # 308: 11 fuels and "does not cook"
        ("FasilitasBAB", list(range(1, 7))),  # 309a
        ("PembuanganTinja", list(range(1, 7))),  # 310
        ("Aset", list(range(1, 15))),  # 502 a-n
        ("Ternak", list(range(1, 6))),  # 504
        ("Keberadaan", list(range(1, 7))),
        ("JenisKelamin", [1, 2]),
        ("StatusKawin", list(range(1, 5))),
        ("HubunganKeluarga", list(range(1, 9))),
        ("JenjangPendidikan", list(range(1, 24))),  # 23 levels, Paket A to S3
        ("LapanganUsaha", list(range(1, 27))),  # 26 sectors
        ("StatusPekerjaan", list(range(1, 9))),  # 8 job statuses
        ("FungsiTubuh", list(range(1, 10))),  # Washington Group domains asked
        ("TingkatKesulitan", list(range(1, 5))),
        ("PenyakitKronis", list(range(18))),  # 17 diseases plus 0 = none
        ("HubunganSIAK", list(range(1, 12))),
        ("Agama", list(range(1, 8))),
    ],
)
def test_list_sizes(name: str, expected: list[int]) -> None:
    assert CODE_LISTS[name].codes() == expected


@pytest.mark.parametrize(
    ("member", "label_en"),
    [
        (Lantai.MARMER_GRANIT, "Marble/granite"),
        (Lantai.TANAH, "Earth"),
        (Lantai.LAINNYA, "Other"),
        (Dinding.TEMBOK, "Masonry"),
        (Dinding.BAMBU, "Bamboo"),
        (Atap.BETON, "Concrete"),
        (Atap.JERAMI_IJUK, "Straw/palm leaf"),
        (SumberAirMinum.LEDENG, "Piped water"),
        (SumberAirMinum.AIR_HUJAN, "Rain water"),
        (SumberPenerangan.BUKAN_LISTRIK, "No electricity"),
        (BahanBakarMasak.TIDAK_MEMASAK, "Does not cook"),
    ],
)
def test_housing_codes_follow_the_questionnaire(member: CodeList, label_en: str) -> None:
    assert member.label_en == label_en


def test_job_status_5_is_the_state_employee() -> None:
    assert StatusPekerjaan(5) is StatusPekerjaan.PNS_TNI_POLRI
    for word in ("PNS", "TNI", "Polri", "BUMN"):
        assert word in StatusPekerjaan.PNS_TNI_POLRI.label
    assert sum("PNS" in member.label for member in StatusPekerjaan) == 1


def test_chronic_disease_none_and_catastrophic() -> None:
    assert PenyakitKronis(0) is PenyakitKronis.TIDAK_ADA
    assert len([d for d in PenyakitKronis if d is not PenyakitKronis.TIDAK_ADA]) == 17
    catastrophic = {d for d in PenyakitKronis if d.is_catastrophic}
    assert PenyakitKronis.TIDAK_ADA not in catastrophic
    assert {PenyakitKronis.KANKER, PenyakitKronis.GAGAL_GINJAL, PenyakitKronis.STROKE} <= catastrophic
    assert PenyakitKronis.HIPERTENSI not in catastrophic


# --- helpers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "stage"),
    [
        (JenjangPendidikan.PAKET_A, "SD"),
        (JenjangPendidikan.SD, "SD"),
        (JenjangPendidikan.SPM_ULA, "SD"),
        (JenjangPendidikan.PAKET_B, "SMP"),
        (JenjangPendidikan.MTS, "SMP"),
        (JenjangPendidikan.SPM_WUSTHA, "SMP"),
        (JenjangPendidikan.PAKET_C, "SMA"),
        (JenjangPendidikan.SMK, "SMA"),
        (JenjangPendidikan.SPM_ULYA, "SMA"),
        (JenjangPendidikan.D1_D2, "PT"),
        (JenjangPendidikan.S3, "PT"),
    ],
)
def test_education_stage_boundaries(level: JenjangPendidikan, stage: str) -> None:
    assert level.stage == stage


def test_education_stage_counts() -> None:
    stages = [level.stage for level in JenjangPendidikan]
    assert {s: stages.count(s) for s in ("SD", "SMP", "SMA", "PT")} == {"SD": 5, "SMP": 5, "SMA": 7, "PT": 6}
    assert stages == sorted(stages, key=["SD", "SMP", "SMA", "PT"].index)  # stages never go back


def test_aset_letters_a_to_n() -> None:
    assert [a.letter for a in Aset] == list("abcdefghijklmn")
    assert Aset.TABUNG_GAS.letter == "a"
    assert Aset.SMARTPHONE.letter == "n"
    assert Aset.MOBIL.letter == "k"
    assert len({a.field for a in Aset}) == 14
    assert Aset.MOBIL.field == "aset_mobil"


def test_electrical_assets() -> None:
    electrical = {a for a in Aset if a.needs_electricity}
    assert electrical == {Aset.LEMARI_ES, Aset.AC, Aset.PEMANAS_AIR, Aset.TV_LAYAR_DATAR, Aset.KOMPUTER}


@pytest.mark.parametrize(
    ("va", "band"),
    [
        (0, DayaListrik.VA_450),
        (450, DayaListrik.VA_450),
        (451, DayaListrik.VA_900),
        (900, DayaListrik.VA_900),
        (1300, DayaListrik.VA_1300),
        (2200, DayaListrik.VA_2200),
        (2201, DayaListrik.VA_LEBIH_2200),
        (5500, DayaListrik.VA_LEBIH_2200),
    ],
)
def test_power_band_from_va(va: int, band: DayaListrik) -> None:
    assert DayaListrik.from_va(va) is band


def test_agriculture_sectors() -> None:
    assert [s for s in LapanganUsaha if s.is_agriculture] == list(LapanganUsaha)[:7]
    assert not LapanganUsaha.PERTAMBANGAN.is_agriculture


FIELD_LISTS = [(n, c) for n, c in ALL_LISTS if isinstance(inspect.getattr_static(c, "field", None), property)]


def test_lists_with_field_names() -> None:
    assert {n for n, _ in FIELD_LISTS} == {"Aset", "Ternak", "ProgramBansos", "FungsiTubuh"}


@pytest.mark.parametrize(("name", "cls"), FIELD_LISTS)
def test_field_names_are_unique(name: str, cls: type[CodeList]) -> None:
    fields = [member.field for member in cls]  # type: ignore[attr-defined]
    assert len(set(fields)) == len(fields)
    assert all(f.isidentifier() and f == f.lower() for f in fields)
