"""Indonesian personal names for the synthetic population: true names and the dirt sources add to them.

Record linkage is only worth measuring if names look like the registry's: single names of elderly
Javanese, long modern names of the young, Balinese birth-order names, Batak marga carried by children,
fam names in the east, Indonesianised Tionghoa names, and the spellings, titles and typos that field
copies add (DTSEN.md section 3, "Names"). Everything here is vectorised with NumPy and Polars: true
names are drawn as token indices into typed-in pools and joined once; the dirt functions loop in Python
only over the rows they change. Nothing is downloaded: every pool below was typed in by hand.

Codes used: ``sex`` 1 = male, 2 = female (``JenisKelamin``); ``education_level`` is ``IjazahTertinggi``
(0 none .. 4 D1-D3, 5 D4/S1, 6 S2/S3); ``role`` follows ``dtsen.synth.population`` (HEAD=0, SPOUSE=1,
CHILD=2, CHILD_IN_LAW=3, GRANDCHILD=4, PARENT=5, OTHER=6).
"""

from __future__ import annotations

import random
import re
from bisect import bisect_right
from dataclasses import dataclass
from itertools import accumulate

import numpy as np
import polars as pl

# ---------------------------------------------------------------------------------------------------
# Cultures and where they live
# ---------------------------------------------------------------------------------------------------

CULTURES: tuple[str, ...] = (
    "jawa",  # Javanese (incl. Madurese, Bantenese, Cirebon): single names of the old, numbered EKO/DWI/TRI
    "sunda",  # Sundanese: ASEP, UJANG, NENG, CUCU, AE/P spellings
    "melayu",  # Malay of Sumatra/Kalimantan, Betawi, Gorontalo, North Maluku: Arabic-Malay names
    "aceh_minang",  # Acehnese and Minangkabau: TEUKU/CUT, -IZAL/-RIL/-NIDAR names
    "batak",  # Toba, Mandailing, Karo, Simalungun: given name(s) + marga (women: BR + marga)
    "bali",  # Balinese Hindu: I/NI + birth-order name + given name
    "sasak_bima",  # Sasak and Bima (NTB): LALU/BAIQ nobility, AE spellings
    "kristen_timur",  # Christian east: NTT, Maluku, Minahasa, Toraja: baptismal name + fam name
    "papua",  # indigenous Papuans: baptismal name + clan name
    "tionghoa",  # Chinese-Indonesians: Indonesianised names; old three-syllable Hokkien names
    "bugis_makassar",  # Bugis, Makassar, Mandar, Buton: ANDI, LA ODE/WA ODE, -UDDIN, SITTI
    "banjar",  # Banjarese (South Kalimantan): MUHAMMAD, NOR-/NOOR- spellings, GUSTI
    "dayak",  # Dayak (Kalimantan interior): baptismal and Dayak names, some Muslim
)
_CI = {c: i for i, c in enumerate(CULTURES)}

# Ethnic mix per province in percent (rough reading of the 2010 census ethnicity tables and later
# migration; Madurese counted as jawa, Toraja and Minahasa as kristen_timur). *(assumption)*
_PROVINCE_MIX: dict[str, dict[str, float]] = {
    "11": {"aceh_minang": 80, "jawa": 9, "melayu": 6, "batak": 4, "tionghoa": 0.5, "sunda": 0.5},
    "12": {"batak": 48, "jawa": 33, "melayu": 9, "aceh_minang": 4, "tionghoa": 4, "kristen_timur": 1, "sunda": 1},
    "13": {"aceh_minang": 88, "batak": 5, "jawa": 5, "melayu": 1.5, "tionghoa": 0.5},
    "14": {"melayu": 38, "jawa": 28, "aceh_minang": 13, "batak": 13, "banjar": 3, "bugis_makassar": 2, "tionghoa": 2, "sunda": 1},
    "15": {"melayu": 50, "jawa": 28, "aceh_minang": 6, "bugis_makassar": 4, "batak": 4, "sunda": 4, "banjar": 3, "tionghoa": 1},
    "16": {"melayu": 65, "jawa": 28, "sunda": 2.5, "tionghoa": 2, "aceh_minang": 2, "batak": 0.5},
    "17": {"melayu": 64, "jawa": 23, "sunda": 5, "aceh_minang": 5, "batak": 2, "tionghoa": 1},
    "18": {"jawa": 62, "melayu": 16, "sunda": 12, "aceh_minang": 3, "bali": 2, "batak": 2, "tionghoa": 1.5, "bugis_makassar": 1, "banjar": 0.5},
    "19": {"melayu": 72, "tionghoa": 12, "jawa": 8, "bugis_makassar": 4, "aceh_minang": 2, "batak": 1, "sunda": 1},
    "21": {"melayu": 33, "jawa": 24, "batak": 13, "aceh_minang": 10, "tionghoa": 8, "bugis_makassar": 5, "sunda": 4, "kristen_timur": 3},
    "31": {"jawa": 36, "melayu": 28, "sunda": 15, "tionghoa": 6.5, "batak": 4, "aceh_minang": 4, "bugis_makassar": 2, "kristen_timur": 3, "banjar": 0.5, "bali": 0.5, "papua": 0.5},
    "32": {"sunda": 74, "jawa": 14, "melayu": 6, "aceh_minang": 2, "batak": 1.5, "tionghoa": 1.5, "kristen_timur": 0.5, "bugis_makassar": 0.5},
    "33": {"jawa": 97, "sunda": 1.3, "tionghoa": 1.2, "melayu": 0.3, "batak": 0.2},
    "34": {"jawa": 96, "sunda": 1, "tionghoa": 1, "batak": 0.5, "kristen_timur": 0.7, "melayu": 0.5, "bali": 0.3},
    "35": {"jawa": 97, "tionghoa": 1.5, "melayu": 0.5, "sunda": 0.5, "bali": 0.3, "batak": 0.2},
    "36": {"jawa": 46, "sunda": 36, "melayu": 11, "tionghoa": 3, "batak": 2, "aceh_minang": 1.5, "bugis_makassar": 0.5},
    "51": {"bali": 86, "jawa": 9, "sasak_bima": 1.5, "kristen_timur": 1, "bugis_makassar": 1, "tionghoa": 0.5, "melayu": 0.5, "sunda": 0.5},
    "52": {"sasak_bima": 93, "bali": 3, "jawa": 2, "bugis_makassar": 1.5, "tionghoa": 0.3, "kristen_timur": 0.2},
    "53": {"kristen_timur": 88, "bugis_makassar": 4, "melayu": 3, "jawa": 2, "sasak_bima": 1.5, "tionghoa": 0.7, "bali": 0.5},
    "61": {"dayak": 35, "melayu": 34, "jawa": 10, "tionghoa": 9, "bugis_makassar": 3.5, "sunda": 1.5, "batak": 1, "banjar": 1, "aceh_minang": 1, "kristen_timur": 1},
    "62": {"dayak": 45, "banjar": 24, "jawa": 22, "melayu": 2, "bugis_makassar": 2, "sunda": 2, "batak": 1, "bali": 1, "tionghoa": 0.5, "kristen_timur": 0.5},
    "63": {"banjar": 75, "jawa": 14, "dayak": 4, "bugis_makassar": 3, "sunda": 1.5, "melayu": 1, "bali": 1, "tionghoa": 0.5},
    "64": {"jawa": 30, "bugis_makassar": 21, "banjar": 14, "dayak": 12, "melayu": 8, "kristen_timur": 6, "sunda": 3, "batak": 2, "tionghoa": 2, "aceh_minang": 1, "sasak_bima": 1},
    "65": {"dayak": 35, "bugis_makassar": 25, "jawa": 15, "kristen_timur": 9, "banjar": 7, "melayu": 6, "tionghoa": 1.5, "sunda": 1, "batak": 0.5},
    "71": {"kristen_timur": 70, "melayu": 16, "jawa": 4, "bugis_makassar": 4, "tionghoa": 3, "papua": 0.5, "sunda": 0.5, "batak": 0.5, "bali": 0.5},
    "72": {"bugis_makassar": 48, "melayu": 14, "kristen_timur": 14, "jawa": 11, "bali": 6, "sasak_bima": 2, "sunda": 2, "tionghoa": 1.5, "batak": 0.5},
    "73": {"bugis_makassar": 89, "kristen_timur": 7.5, "jawa": 1.5, "tionghoa": 1, "melayu": 0.5},
    "74": {"bugis_makassar": 76, "jawa": 9, "bali": 5, "kristen_timur": 4, "melayu": 3, "sasak_bima": 2, "sunda": 1},
    "75": {"melayu": 75, "bugis_makassar": 12, "jawa": 6, "kristen_timur": 4, "bali": 1.5, "tionghoa": 1, "sunda": 0.5},
    "76": {"bugis_makassar": 83, "kristen_timur": 9.5, "jawa": 5, "bali": 1.5, "sasak_bima": 1},
    "81": {"kristen_timur": 55, "melayu": 26, "bugis_makassar": 10, "jawa": 5, "papua": 2, "tionghoa": 1, "sunda": 0.5, "batak": 0.5},
    "82": {"melayu": 60, "kristen_timur": 23, "bugis_makassar": 9, "jawa": 5, "tionghoa": 1, "sunda": 1, "papua": 1},
    "91": {"papua": 58, "jawa": 15, "bugis_makassar": 12, "kristen_timur": 10, "batak": 2, "tionghoa": 1, "sunda": 1, "melayu": 1},
    "92": {"papua": 50, "jawa": 19, "bugis_makassar": 12, "kristen_timur": 14, "batak": 2, "tionghoa": 1, "melayu": 1, "sunda": 1},
    "93": {"papua": 46, "jawa": 33, "bugis_makassar": 8, "kristen_timur": 10, "batak": 1, "sunda": 1, "tionghoa": 0.5, "bali": 0.5},
    "94": {"papua": 74, "bugis_makassar": 8, "jawa": 8, "kristen_timur": 8, "batak": 1, "tionghoa": 0.5, "sunda": 0.5},
    "95": {"papua": 93, "bugis_makassar": 3, "jawa": 2, "kristen_timur": 2},
    "96": {"papua": 44, "jawa": 20, "bugis_makassar": 14, "kristen_timur": 18, "batak": 2, "tionghoa": 1, "melayu": 1},
}  # fmt: skip
PROVINCE_CODES: tuple[str, ...] = tuple(sorted(_PROVINCE_MIX))

_PROV_TABLE = np.zeros((len(PROVINCE_CODES), len(CULTURES)))
for _r, _code in enumerate(PROVINCE_CODES):
    for _c, _pct in _PROVINCE_MIX[_code].items():
        _PROV_TABLE[_r, _CI[_c]] = _pct
_PROV_TABLE /= _PROV_TABLE.sum(axis=1, keepdims=True)
_PROV_ROW = np.full(100, -1, dtype=np.int64)  # two-digit code -> row of _PROV_TABLE
_PROV_ROW[[int(c) for c in PROVINCE_CODES]] = np.arange(len(PROVINCE_CODES))


def _province_rows(province_codes: np.ndarray) -> np.ndarray:
    """Row of the mix table per input row; accepts '33', '3301', '33.01', 33 (fast path, no string sort)."""
    arr = np.asarray(province_codes)
    if arr.dtype.kind in "iu":
        num = arr.astype(np.int64).ravel()
        while (num >= 100).any():  # 3301 / 3301012001 -> 33
            num = np.where(num >= 100, num // 10, num)
    else:
        if arr.dtype.kind != "U":
            arr = arr.astype("U")
        if arr.size == 0:
            return np.zeros(0, dtype=np.int64)
        chars = (
            np.ascontiguousarray(arr.astype("U2")).view(np.uint32).reshape(arr.size, 2).astype(np.int64) - 48
        )
        num = chars[:, 0] * 10 + chars[:, 1]
        num = np.where((chars < 0).any(axis=1) | (chars > 9).any(axis=1), -1, num)
    bad = (num < 0) | (num > 99)
    rows = np.where(bad, -1, _PROV_ROW[np.clip(num, 0, 99)])
    if (rows < 0).any():
        unknown = sorted({str(x) for x in np.asarray(province_codes).ravel()[rows.ravel() < 0][:10]})
        raise ValueError(f"unknown province code(s): {unknown}")
    return rows.ravel()


def culture_weights(province_codes: np.ndarray) -> np.ndarray:
    """Probability of each culture (columns in ``CULTURES`` order) for each row's province."""
    return _PROV_TABLE[_province_rows(province_codes)]


def draw_culture(rng: np.random.Generator, province_codes: np.ndarray) -> np.ndarray:
    """One culture index (int8 into ``CULTURES``) per row, drawn from the province's ethnic mix."""
    rows = _province_rows(province_codes)
    cum = np.cumsum(_PROV_TABLE, axis=1)
    cum[:, -1] = 1.0
    u = rng.random(rows.size)
    out = np.empty(rows.size, dtype=np.int8)
    order = np.argsort(rows.astype(np.uint8), kind="stable")  # radix sort
    bounds = np.searchsorted(rows[order], np.arange(len(PROVINCE_CODES) + 1))
    for r in range(len(PROVINCE_CODES)):
        idx = order[bounds[r] : bounds[r + 1]]
        if idx.size:
            out[idx] = np.searchsorted(cum[r], u[idx], side="right")
    return out


# ---------------------------------------------------------------------------------------------------
# Pools. Token syntax: NAME[:weight[:era]] with default weight 2 and era "n"; "_" joins a two-word
# token (ABDUL_RAHMAN). Era tags give the birth cohorts a name belongs to (multipliers below); the
# weights are relative frequencies within the pool *(assumption: read from experience of Indonesian
# registers, school lists and KPU voter lists, not from a published frequency table)*.
# ---------------------------------------------------------------------------------------------------

ERA_EDGES = np.array([1960, 1975, 1990, 2005])  # birth-year buckets: <1960, 60-74, 75-89, 90-04, 2005+
_ERA_MULT = {
    "o": (1.0, 0.45, 0.12, 0.03, 0.01),  # born before ~1960: SUPARMAN, SUKIRAH
    "p": (0.6, 1.0, 0.55, 0.2, 0.06),  # 1960s-70s: BUDI, AGUS, ENDANG, SRI
    "n": (1.0, 1.0, 1.0, 1.0, 1.0),  # timeless: MUHAMMAD, SITI, YOHANES
    "r": (0.05, 0.35, 1.0, 0.8, 0.35),  # 1975-2000: DEWI, HENDRA, YULI
    "y": (0.005, 0.03, 0.3, 1.0, 1.2),  # 1990+: RIZKY, PUTRI, AULIA
    "z": (0.001, 0.003, 0.02, 0.35, 1.5),  # 2005+: ARKAN, KEISHA, AZZAHRA
}

_VOCAB: list[str] = []
_VOCAB_ID: dict[str, int] = {}
_MUSLIM_TOKENS: set[str] = set()
_OTHER_TOKENS: set[str] = set()

_Entries = list[tuple[int, float, str]]


def _tok(name: str) -> int:
    i = _VOCAB_ID.get(name)
    if i is None:
        i = _VOCAB_ID[name] = len(_VOCAB)
        _VOCAB.append(name)
    return i


def _b(text: str, *, muslim: bool = True, weight: float = 2.0) -> _Entries:
    """Parse a pool block; remembers which words mark a (non-)Muslim name for the hajj titles."""
    out: _Entries = []
    for raw in text.split():
        parts = raw.split(":")
        name = parts[0].replace("_", " ")
        w = float(parts[1]) if len(parts) > 1 and parts[1] else weight
        era = parts[2] if len(parts) > 2 else "n"
        if era not in _ERA_MULT or not re.fullmatch(r"[A-Z]+( [A-Z]+)?", name):
            raise ValueError(f"bad pool token {raw!r}")
        out.append((_tok(name), w, era))
        (_MUSLIM_TOKENS if muslim else _OTHER_TOKENS).add(name.split(" ")[0])
    return out


def _mix(*parts: _Entries | tuple[_Entries, float]) -> _Entries:
    out: _Entries = []
    for part in parts:
        entries, mult = part if isinstance(part, tuple) else (part, 1.0)
        out.extend((t, w * mult, e) for t, w, e in entries)
    return out


@dataclass(frozen=True)
class _Pool:
    """Token ids with cumulative probabilities per birth-era bucket."""

    ids: np.ndarray
    cum: np.ndarray  # (5, len(ids))

    @classmethod
    def of(cls, entries: _Entries) -> _Pool:
        ids = np.array([t for t, _, _ in entries], dtype=np.int32)
        w = np.array([[wt * _ERA_MULT[e][k] for _, wt, e in entries] for k in range(5)])
        cum = np.cumsum(w, axis=1)
        cum /= cum[:, -1:]
        cum[:, -1] = 1.0
        return cls(ids, cum)

    def draw(self, rng: np.random.Generator, m: int, era: int) -> np.ndarray:
        if self.ids.size == 1:
            return np.full(m, self.ids[0], dtype=np.int32)
        return self.ids[np.searchsorted(self.cum[era], rng.random(m), side="right")]


# --- shared Islamic / pan-Indonesian blocks ----------------------------------------------------------
# fmt: off
ISL_M_LEAD = _b("""
MUHAMMAD:40 MOHAMMAD:5:p MUHAMAD:4 MOHAMAD:3:p MOCHAMAD:2:p MOCHAMMAD:2:p ACHMAD:3:o AHMAD:14
ABDUL_RAHMAN:1 ABDUL_AZIZ:1 ABDUL_HAMID:1 ABDUL_KADIR:1 ABDUL_MALIK:1 ABDUL_KARIM:1 NUR:2 SYAIFUL:1 ALI:1
""")
ISL_M_CORE = _b("""
ALI:3 HASAN:3 HUSEIN:2 HUSIN:2 IBRAHIM:2 ISMAIL:3 YUSUF:3 IDRIS:2 SALEH:2:p HAMZAH:2 ABDULLAH:5 ZAINAL:3:p
ARIFIN:4 SYAMSUL:3:p SAIFUL:4 SYAIFUL:2 KHOIRUL:2:r MUSTOFA:2 IMAM:3 RAHMAT:4 HIDAYAT:3 NURDIN:2:p FAUZI:2
MUKHLIS:2 TAUFIK:3:r HAMID:2:o RASYID:2 HARUN:2:p SULAIMAN:2 ZULKIFLI:2 JUNAIDI:2:p SAHRUL:2:r AMIN:2:p
ANWAR:2:p MANSUR:2:p BAHRUDIN:2:p NASRUDIN:2:p JAMALUDIN:2:p ABDUL_RAHMAN:1.5 ABDUL_AZIZ:1 ABDUL_HAMID:1
ABDUL_MAJID:0.5 ABDUL_GHOFUR:0.5 ABDUL_KADIR:1 ABDUL_MALIK:1 ABDUL_WAHAB:0.5 ABDUL_LATIF:0.5 ABDUL_HALIM:1
ABDUL_KARIM:1 ABDUL_ROHMAN:1 ABDUL_ROZAK:0.5 ABDUL_RAZAK:0.5 ABDUL_MANAF:0.5 ABDUL_MUIS:0.5 ABDUL_JALIL:0.5
ABDUL_SALAM:0.5 ABDUL_GANI:0.5 ABDUL_HADI:0.5 LUKMAN:2 HAKIM:2 IRFAN:3:r FIRDAUS:2 HABIBI:1:r FAHMI:2:r SYARIF:2
ZAKARIA:2 YAHYA:2 MUSA:2 ILYAS:2 ADAM:1:y MAHMUD:2:o SUBHAN:1 RIDWAN:3:r FAISAL:3:r SOLEH:2:p HUSNI:1
KHAIRUL:2:r SYAHRUL:2:r ROSYID:1 NASIR:2 KAMAL:1 JAMAL:2 AZIS:1 HANAFI:2:p SUHAIMI:1 ZULFIKAR:2:r
""")
ISL_M_TAIL = _b("""
HIDAYAT:5 HIDAYATULLAH:2 RAHMAN:3 ARIFIN:4 HAKIM:3 MAULANA:4:y FAUZI:3 ALFARIZI:2:z RAMADHAN:6:y
FIRMANSYAH:4:y SYAHPUTRA:3:y ARDIANSYAH:3:y ABDULLAH:2 EFENDI:3:p EFFENDI:2:p SALEH:2:p AKBAR:2:y
ZULKARNAIN:1 FADILLAH:2:y ISKANDAR:2 AZIZ:2 MAHMUD:2 HANAFI:2 HASAN:2 NUGRAHA:1 ALAMSYAH:2 HUSAIN:1
KURNIAWAN:3 SETIAWAN:3 SAPUTRA:4:y PRATAMA:4:y IRAWAN:2:r SAFRUDIN:1 RIFAI:1 MUBAROK:1 ASYARI:1
ANSHORI:1 ALFIAN:1:y RAMADHANI:2:y ILHAM:1:y
""")
MOD_M_CORE = _b("""
RIZKY:10:y RIZKI:5:y FAJAR:5:y ADITYA:6:y DIMAS:5:y RAFI:3:y FARHAN:4:y ALIF:4:y RAFA:2:z ILHAM:4:y
REZA:3:y FIKRI:3:y DAFFA:3:z NAUFAL:3:z HAFIZ:2:z ZIDAN:3:z AKBAR:2:y ARKAN:2:z AZKA:2:z ALVARO:1:z
ATHAR:2:z GIBRAN:1:z DZAKY:1:z BAGAS:3:y BIMA:2:y YOGA:3:y ANGGA:3:y GALIH:2:y ARYA:3:y FAREL:2:z
RAKA:2:y SATRIA:2:y IQBAL:3:y FIRMAN:3:r ALDI:3:y DAFA:2:z RENDI:3:y DICKY:2:y ANDIKA:2:y RAMA:2:y
REHAN:2:z ZAKY:2:y FAUZAN:2:y ARDIAN:2:y FEBRI:2:y AGUNG:3:r FAISAL:2:r RIDHO:2:y HABIB:1:y ABID:1:z
KENZO:1:z ELVANO:1:z ARSYA:1:z ABRISAM:1:z RAFFASYA:1:z FATHAN:1:z YUSUF:1:y DANU:2:y VINO:1:z
""")
ISL_F_LEAD = _b("""
SITI:30 NUR:12 NURUL:5:r SITTI:1 SYARIFAH:1 UMMI:1:p
""")
ISL_F_CORE = _b("""
FATIMAH:3 AMINAH:4 KHADIJAH:2 ZAINAB:2 MAIMUNAH:2:p HALIMAH:3 MARYAM:2 SALAMAH:2:o ROHANI:2:p ROKAYAH:2:o
NURHAYATI:4:p NURJANAH:3 NURAINI:3 NURHASANAH:3 NURHIDAYAH:2:r KHOIRUNNISA:2:y MASITOH:1:o JUBAEDAH:2:p
HASANAH:2 UMI_KALSUM:2:o ZULAIKHA:2 FAUZIAH:2 RAHMAWATI:3:r HIDAYATI:2 ROSIDAH:2:p MAHMUDAH:1 LAILA:2
LATIFAH:2 SALMAH:2:o HAFSAH:1 SAKINAH:2 AISYAH:3 ZAHRA:2:y ANNISA:2:y HUSNUL:1 KHOTIMAH:2:p ASIAH:1:o
MUNAWAROH:2:p ISTIQOMAH:2:r MUSLIMAH:1:p NAFISAH:1 NAJWA:1:z RABIAH:1:o HAJAR:1 SALWA:1:y WARDAH:1:y
""")
ISL_F_TAIL = _b("""
HIDAYAH:3 RAHMAWATI:4 NURJANAH:2 HASANAH:2 FAUZIAH:2 AZZAHRA:2:z MAULIDIA:2:y MAULIDA:2:y RAMADHANI:5:y
NURHALIZA:2:z KHOIRUNNISA:1:y AMALIA:3:y FADHILAH:1:y SALSABILA:2:y MARDIAH:1 ZAKIAH:1 SYAFITRI:1:y
AULIA:2:y ROHMAH:1 HUSNA:1:y LATIFAH:1
""")
MOD_F_CORE = _b("""
PUTRI:8:y AULIA:6:y NABILA:5:y SALSABILA:4:y AISYAH:4:y ZAHRA:4:z NAYLA:3:z KEISHA:3:z ALYA:3:z AZZAHRA:3:z
ANISA:4:y NADIA:3:y AMELIA:3:y DINDA:3:y INDAH:3:y FITRI:4:r AYU:3:y NOVITA:2:y RIZKA:2:y SALSA:2:y
TIARA:2:y NAJWA:2:z ALIFIA:2:z NAURA:2:z KHANZA:2:z QIANA:1:z ANINDYA:1:y CITRA:3:y DINA:2:y INTAN:3:y
MAYA:2:y ANGGI:2:y RANI:2:y SINTA:2:y ELSA:2:y SAFIRA:2:y ADELIA:2:y SEKAR:2:y KIRANA:2:z ANDINI:2:y
RAHMA:2:y DESI:2:r NOVI:2:r DIAN:3:r WULAN:2:r RINA:2:r DEWI:3 ALISHA:1:z HUMAIRA:1:z SYIFA:2:y
ZASKIA:1:z MUTIARA:2:y REGINA:1:y CAHAYA:1:z ARUMI:1:z SHAFA:1:z NAILA:2:z FARAH:1:y
""")

# --- Javanese ------------------------------------------------------------------------------------
JV_M_LEAD = _b("""
EKO:7:p DWI:5 TRI:4 CATUR:1:p PANCA:1:p SRI:1:o RADEN:1:o BAGUS:1:r ADI:1
""")
JV_M_OLD = _b("""
SUPARMAN:3:o SUKIRMAN:3:o SUGIMAN:2:o PAIMAN:3:o PAIJO:2:o SARDI:2:o KARTO:2:o SUTARNO:3:o SUMARNO:3:o
SUKARDI:3:o SUPARDI:3:o SUYATNO:3:o SUGIYONO:3:o SUPRAPTO:2:o SUWARNO:2:o SUMADI:2:o SARIMAN:2:o
TUKIMAN:2:o WAGIMAN:2:o SLAMET:6:o SUKIMIN:2:o MARDI:2:o PARJO:2:o KASMAN:2:o SUDARMO:2:o SUNARTO:3:o
SUTRISNO:4:o SUGENG:3:o TUGIMAN:2:o SAMIN:2:o KASIMAN:2:o NGATIMIN:2:o NGADIMAN:2:o KASIRAN:2:o
SALIMIN:2:o TUKIJO:2:o DARMO:1:o SAMIDI:2:o RASIMIN:1:o KASIJO:1:o MUJIONO:2:o WAGIRAN:2:o SUKARMAN:2:o
SARIJO:1:o SUPARNO:3:o SUMIRAN:1:o KARSONO:1:o RASMAN:1:o DALIMIN:1:o SUKARNO:1:o SUHARTO:2:o SUWITO:2:o
SUMARDI:2:o SUROTO:2:o SUKIMAN:2:o PARMIN:2:o TUMIN:1:o RUSMAN:1:o SUYONO:2:o GIYONO:1:o MARIJAN:1:o
KATIMAN:1:o SUKISNO:1:o WARSITO:2:o SUDARNO:2:o DARSONO:1:o KUSNO:1:o SUTOYO:2:o SOEKIRMAN:1:o
SOEMARNO:1:o SUHARNO:2:o SUMIDI:1:o TARMIN:1:o KARTIMAN:1:o SUKARDJO:1:o SADIMAN:1:o PONIMAN:2:o
SUPIYAN:1:o SUMANTRI:1:o SUHADI:2:o SUPADI:1:o MUJI:1:o KASNO:1:o SAKIMIN:1:o WAGINO:1:o
""")
JV_M_MID = _b("""
BUDI:8:p AGUS:10:p JOKO:5:p BAMBANG:5:p HERU:4:p TEGUH:3:p WAHYU:5:r ARIF:4:r HENDRA:3:r DEDI:2:r YUDI:2:r
ARIS:3:r ANTON:2:r HERI:3:r SUGIANTO:2:p SUGIARTO:2:p PURWANTO:3:p HARIYANTO:3:p SUSANTO:3:p BUDIONO:2:p
WIDODO:2:p HARTONO:2:p SUPRIYANTO:3:p SUYANTO:2:p KUSNADI:2:p SURYANTO:2:p SUDARSONO:2:p DIDIK:3:p
IWAN:3:r RUDI:3:r DANANG:2:r IRWAN:2:r EDI:3:p RAHMAT:3:r TAUFIK:2:r ARIEF:2:p PRIYO:2:p PUJI:2:p
DARYANTO:2:p SETYO:2:p JUNAEDI:2:p KUSWANTO:2:p SUNARDI:2:p RIYANTO:3:p SUPRIYONO:3:p SUBAGYO:2:p
BAYU:3:r ADI:3:r ARDI:2:r BAGUS:2:r NUR_HADI:1:p SAIFUL:2:p SYAIFUL:1:p ROHMAT:2:p KHOIRUL:2:r
MUSTOFA:2:p IMAM:2:p ZAINAL:2:p SUPRIYADI:3:p WAHYUDI:2:r HADI:2:p YULI:1:r SUGIHARTO:2:p WIDI:1:r
NANANG:2:p GUNAWAN:1:p TRIYONO:2:p SISWANTO:2:p SUWANTO:2:p SUHERMANTO:1:p SLAMET:2:p KUSNO:1:p
ANDRI:2:r YUSUF:2:r DONI:1:r DENI:1:r SIGIT:2:r PRASETYO:1:r ADIT:1:y
""")
JV_M_TAIL = _b("""
SANTOSO:5 WIBOWO:4 PRASETYO:5 NUGROHO:4 WIDODO:3 SETIAWAN:5 KURNIAWAN:5 SUSANTO:3 PURNOMO:3 SAPUTRO:3:y
PRABOWO:2 HARYANTO:2 SUPRIYANTO:2 WAHYUDI:3 SULISTYO:2 RAHARJO:2 UTOMO:3 HARTONO:2 GUNAWAN:3 SUSILO:2
PAMUNGKAS:2:y WICAKSONO:2:y SETIADI:2 PRIBADI:2 BUDIMAN:2 SUBROTO:1:p PRATAMA:6:y SAPUTRA:6:y WIJAYA:3
PERMANA:2:y ADITAMA:1:z ARDIANTO:2 DARMAWAN:2 HERMAWAN:2 SETYAWAN:2 PRASETYA:2:y WARDANA:2:y MAHENDRA:2:y
ABIMANYU:1:z PRADANA:2:y PURWANTO:2 SUGIANTO:1 SUPRIYADI:1 SETIYONO:1 HARIADI:1 NUGRAHA:1 HIDAYAT:3
RAMADHAN:3:y FIRMANSYAH:2:y MAULANA:2:y SAKTI:1:y ANGGORO:1 SURYADI:2 SUYANTO:1 SANJAYA:2:y PUTRA:2:y
""")
JV_F_LEAD = _b("""
SRI:25:p DWI:6 TRI:4 EKA:3:r ENDANG:3:p RETNO:3:p DEWI:3:r PUTRI:5:y AYU:2:y INDAH:2:y DIAH:2:p
""")
JV_F_OLD = _b("""
SUMARNI:3:o SUKIRAH:3:o SUPARMI:3:o SUMINAH:3:o TUMINAH:3:o PAINEM:3:o PAIJEM:2:o SAINEM:2:o SUKINEM:2:o
WAGINEM:2:o NGATINEM:2:o TUKINEM:2:o SUMIYATI:2:o SUYATI:2:o SUPARTI:3:o SUMIATI:3:o SUWARNI:2:o
KASMINI:2:o MUJIATI:2:o SARINAH:3:o PARIYEM:2:o SADINAH:2:o MARSINAH:2:o LASMI:2:o TUMIRAH:2:o
SUMIRAH:2:o JUMINAH:2:o SARMI:2:o WARSINI:2:o NGADINEM:2:o SUPINAH:2:o KARSINAH:2:o SUTINAH:2:o
SUKARTI:2:o SUYATMI:2:o PARMI:2:o KATINEM:2:o SUDARMI:2:o SALAMAH:2:o RUKMINI:2:o SEMI:1:o SAMIRAH:1:o
JUMIATI:2:o SUWARTI:2:o PONIYEM:2:o PONIYAH:1:o TUGINEM:2:o KASIYAH:1:o WARSIH:1:o MISNI:1:o TARMINI:1:o
SUKIYEM:2:o NGADIYEM:2:o SAMINI:1:o RUBIAH:1:o SATINEM:1:o SUMIYEM:2:o KARMI:1:o SANIYEM:1:o TUMIYEM:1:o
SITI_ASIAH:1:o SITI_AMINAH:1:o MUNAH:1:o SUPIAH:1:o ASMINAH:1:o KAMSIAH:1:o SARIYEM:1:o JAMINAH:1:o
""")
JV_F_MID = _b("""
ENDANG:3:p RETNO:2:p SUSI:2:r YULI:3:r WIWIK:2:p NINIK:2:p RINI:3:r TUTIK:3:p ENDAH:2:p DEWI:4:r
RATNA:3:p LILIK:2:p ERNA:2:p ERNI:2:p WAHYUNI:4:p SUPRIYATI:3:p SUSILOWATI:2:p SULISTYOWATI:2:p
SETYOWATI:2:p PURWANINGSIH:2:p HANDAYANI:3:r RAHAYU:3:p LESTARI:3:r MULYANI:2:p SUSANTI:3:r
HARTATI:3:p KUSMIATI:2:p WIDYASTUTI:2:p ANIK:2:p UMI:2:p YANTI:3:r YUNI:2:r NOVI:2:r DIAN:3:r
RINA:3:r EVI:2:r WULAN:2:r PUJI:2:p ISTIQOMAH:2:r MUNAWAROH:2:p KHOTIMAH:2:p WINARTI:2:p TITIK:2:p
SUHARTINI:2:p SUNARTI:2:p SARTINI:2:p PUJIATI:2:p SRI_WAHYUNI:2:p SRI_RAHAYU:2:p SUMARSIH:2:p
MURNI:2:p SITI_FATIMAH:1:p SITI_KOMARIAH:1:p SUWARTINI:1:p SUPRAPTI:2:p YATI:1:p TRI_WAHYUNI:1:r
ANI:2:p NURHAYATI:2:p MUSLIKAH:1:p DWI_ASTUTI:1:r LISTYOWATI:1:p SUPARTINI:1:p KARTINI:2:p
""")
JV_F_TAIL = _b("""
LESTARI:5 RAHAYU:4 WAHYUNI:4 HANDAYANI:4 SUSANTI:3 NINGSIH:4 SULISTYOWATI:2 WULANDARI:4:r PURWANINGSIH:2:p
ASTUTI:3 MULYANI:3 WIDYASTUTI:2 KURNIASIH:2:r YULIANTI:3:r PRATIWI:3:y SETYANINGSIH:2:p FITRIANI:3:r RAHMAWATI:4
SARI:5 PERTIWI:3:y ANGGRAINI:4:y SAFITRI:4:y RAMADHANI:5:y PUTRI:4:y NURHALIZA:2:z MAHARANI:3:y
OKTAVIANI:2:y PUSPITASARI:3:y FEBRIANTI:2:y AGUSTINA:3:r NOVITASARI:2:y PURNAMASARI:2:y KUSUMAWATI:2:r
PERMATASARI:2:y HIDAYAH:2 AZZAHRA:2:z MAULIDIA:2:y SUSILOWATI:2:p DAMAYANTI:2:r KARTIKA:2:r UTAMI:3:r
AMALIA:3:y SETIAWATI:2:r RAHMADANI:2:y SEPTIANI:2:y MARLINA:2:r NINGRUM:2:r PRASTIWI:1:y SUGIARTI:1:p
ARIYANI:2:r YULIANA:2:r WIDIASTUTI:1:r INDRIANI:2:r LESTARININGSIH:1:r WIJAYANTI:2:r ANJANI:1:z
""")

# --- Sundanese -----------------------------------------------------------------------------------
SU_M_LEAD = _b("""
MUHAMMAD:25 MOCHAMAD:6:p MOCHAMMAD:3:p MOHAMAD:3:p AHMAD:8 ACHMAD:2:p DEDE:2:r ASEP:2:r UJANG:1:p
""")
SU_M_CORE = _b("""
ASEP:10:r UJANG:6:p DEDEN:4:r DEDI:4:r DADANG:5:p CECEP:4:r AAN:3:r IWAN:4:r YAYAT:3:p DEDE:4:r ENCEP:3:p
JAJANG:3:r OMAN:2:o OHAN:1:o UDIN:3:p AJAT:2:o AMAN:2:p ADE:4:r AGUS:5:p MAMAN:4:p NANA:3:p OMO:2:o
DUDUNG:2:p OTONG:2:o ENDANG:4:p WAWAN:3:r DENI:3:r SUHERMAN:2:p SUTISNA:2:o SUPRIATNA:3:p UNANG:1:o
EMAN:2:o ENDIN:2:p UUS:1:p TATANG:2:p YAYA:2:p RIDWAN:2:r RIKI:2:y GILANG:3:y RAMDAN:2:y YUDA:2:y DIKI:2:y
RENDI:2:y HERMAN:2:p ENDI:1:p SOBANDI:1:o KOMAR:1:o ROHMAN:2:p SAEPUL:2:p SAEPUDIN:2:p HENDRA:2:r
DEDEN_SUPRIATNA:1:p ENJANG:1:p ACENG:2:p EPEN:1:o ENDUN:1:o ADANG:2:p ENOH:1:o UJU:1:o ASEP_SAEPUL:1:r
YANA:2:p KARNA:1:o DADAN:2:p DEDEH:1:o USEP:2:p ANDRI:2:r ERIK:1:r DANI:2:r FIRMAN:2:r
""")
SU_M_TAIL = _b("""
HIDAYAT:6 SUPRIATNA:3 KURNIAWAN:3 PERMANA:4 NUGRAHA:4 MULYANA:4 SETIAWAN:4 RUKMANA:2 SOLIHIN:3 SAEPUDIN:3
NURJAMAN:3 SUHERMAN:2 SOBARI:2 GUNAWAN:3 RAMDANI:3:y SOPIAN:2 SAPUTRA:3:y PRATAMA:3:y FIRMANSYAH:2:y
MAULANA:3:y SUNANDAR:2 KOSASIH:2:p HERMAWAN:2 SUTISNA:2:p KURNIA:2 SAEPULOH:2 RUSTANDI:2:p SUHENDAR:2:p
WIJAYA:2 SUMARNA:2:p SUKMANA:2:p SUNARYA:2:p SUPRIADI:2 FAUZI:2 RAMDAN:2:y SURYANA:2:p SOLEHUDIN:1
ABDULLAH:1 NURDIN:1 JAELANI:1 SUTARYA:1:p SUHENDRA:1 ARDIANSYAH:2:y SOMANTRI:1:p
""")
SU_F_LEAD = _b("""
SITI:18 NENG:6:r NUR:6 DEWI:3:r SRI:4:p EUIS:2:p IIS:1:p PUTRI:4:y
""")
SU_F_CORE = _b("""
ENTIN:3:o CUCU:4:p EUIS:5:p IMAS:4:p ENCUM:2:o ENAH:3:o OOM:2:o IYAH:1:o ENENG:3:p NINING:3:p NENENG:4:p
ELIS:3:r ICIH:2:o IIS:3:p ENOK:2:o TITIN:3:p YAYAH:2:o NANI:3:p IDAH:3:p WIWIN:2:r LILIS:3:r NENI:2:r
YANTI:3:r TATI:2:p RINA:2:r YENI:2:r EPON:1:o EMA:1:o KOKOM:1:o EDAH:1:o NUNUNG:2:p TINA:2:r DEDEH:2:p
EEN:2:p SALMA:2:y RISMA:2:y FITRI:2:r ANI:2:p IKA:1:r NUNUY:1:p ENDAH:2:p ROSMIATI:1:p ATIKAH:1:p
AAS:1:o ELAH:1:o IMAS_MASITOH:1:p NURAENI:2:p IPAH:1:o ONENG:1:o UUM:1:o MIMIN:2:p TETI:2:r YULI:1:r
""")
SU_F_TAIL = _b("""
NURHASANAH:4 NURAENI:3 KOMALASARI:2 MARLINA:3 RAHAYU:3 NURLAELA:3 SUKMAWATI:2 HERAWATI:3 KURNIASIH:3
ROHAYATI:3 ROSMIATI:2 FITRIANI:3 NURJANAH:3 LESTARI:2 SARI:3 PUSPITASARI:2:y FAUZIAH:2 RAMADHANI:3:y
NURAZIZAH:2:y RAHMAWATI:3 HANDAYANI:2 WULANDARI:2:y ANGGRAENI:2:y MAESAROH:2 JUBAEDAH:2:p SOPIAH:1:p
ROSITA:1 AMELIA:1:y PERMATASARI:1:y NURAINI:1 YULIANTI:2 MULYANI:2 SUMIATI:1:p KARTIKA:1:r
""")

# --- Malay, Betawi, Gorontalo, North Maluku ---------------------------------------------------------
ML_M_CORE = _b("""
SYAHRIAL:3:p ZULKIFLI:3 RUSLAN:3:p AZHAR:2 SYAMSUDIN:3:p JUNAIDI:3:p SUHAIMI:2 ROSLI:2:p AMRAN:2:p
ZAINAL:3:p IDRIS:2 HAMDAN:2 YUSRI:2:r RAMLI:3:p SAPRI:2:p ROJALI:1:p UDIN:2:p MAMAT:1:p JAMALUDIN:2
HERMAN:3:p SAHRIL:2:r JAMAL:2 ZULKARNAIN:2 AZWAR:2 AMIRUDIN:2 SAMSUDIN:2:p ROSMAN:1:o JUPRI:2:p
SYAFRUDIN:2:p ROSIDI:1:p EFENDI:2:p NASIR:2 MUSLIM:2 SYAHRIL:2:r HENDRI:3:r FERI:2:r ROBI:1:r AMIRUL:1:y
MARZUKI:2:p SAFARUDIN:1 DARMAN:1:o ABU_BAKAR:2 ISHAK:2:p AMAT:1:o MAT:1:o HASANUDIN:2 MARWAN:2:r
ARIFIN:2 BUSTAMI:1:o ZAHARI:1:p ZAKIR:1 RAHMAN:1 KAHAR:1:o
""")
ML_F_CORE = _b("""
ROSMAWATI:3:p NURHAYATI:4:p ZAINAB:2 FATIMAH:3 ROHANI:2:p ASMAH:2:o MASNAH:2:o SALMAH:2:o ROSNAH:2:o
ZURAIDA:2:p FAUZIAH:2 MARIAM:2 ROSIDAH:2:p YUSNIAR:2:p ROSLINA:2:p ERNAWATI:3:p SURYANI:2:p LELI:2:r
YULIANA:2:r JULIANA:2:r HASNAH:2:o NORMA:1:p ROSMINI:1:o SAADAH:1 HAYATI:1:o JUWITA:1:r MARLIANA:1:r
ELI:1:r SUSANTI:2:r MURNIATI:1:p SYAMSIAH:1:o NURBAYA:1:o SITI_RAHMAH:1 RUSNAH:1:o JAMILAH:2 ASNAH:1:o
""")

# --- Aceh and Minangkabau ------------------------------------------------------------------------
AM_M_LEAD = _b("""
MUHAMMAD:30 TEUKU:3 AHMAD:6 SUTAN:1:o ABDUL_MANAF:1 ZUL:1 SYAMSUL:1
""")
AM_M_CORE = _b("""
ZULKIFLI:4 RAZALI:3:p MUKHLIS:3 BAHTIAR:2:p HUSAINI:2:p SYAHRUL:3:r MAWARDI:3:p ZULFIKAR:3:r NASRULLAH:2
IRWANSYAH:2:r AFRIZAL:3:r SYAFRIZAL:3:r ERIZAL:2:r YUSRIZAL:2:r DESRIZAL:2:r ASRIL:2:p DASRIL:2:p
JASRIL:2:p YULIZAR:2:r ZULHENDRI:2:r HENDRI:2:r ANDRI:2:r YONDRI:1:r FIRDAUS:3 DASRIZAL:1:p SYAFRI:2:p
ZAINUDDIN:2:p NASRUL:2:p YUSRIL:2:r AZWIR:1:p EFRIZAL:2:r JONI:2:p RISWAN:1:r MUNAWAR:2 ZAHRUL:1:r
ZULKARNAIN:2 ISKANDAR:2 RUSLI:2:p SYAMSUL_BAHRI:2:p ABDUL_MUIS:1 MAHYUDDIN:2:o BASRI:2:p NAZARUDDIN:2
AMIRUDDIN:2 SAIFUL_BAHRI:1 FAUZAN:2:y RIDHA:2:y ZIKRI:2:y RAHMAT:2 HUSNI:1 MULYADI:2:r FADLI:2:r
JAMALUDDIN:1 DARMAWAN:1 ERWIN:2:r YULIUS:1:p ARMEN:1:p NOFRIZAL:1:r
""")
AM_M_TAIL = _b("""
PUTRA:3:y SYAHPUTRA:2:y HIDAYAT:2 ARIFIN:2 SALEH:1 DATUK:1:o MALIN:1:o ABDULLAH:1 SUTAN:1 RAHMAN:1
""")
AM_F_LEAD = _b("""
CUT:3 SITI:18 NUR:5 NURUL:4:r PUTRI:3:y SYARIFAH:1
""")
AM_F_CORE = _b("""
YUSNIDAR:3:p NURBAITI:2:p ASNIDAR:2:p YENI:3:r ELFI:2:r DESMAWATI:2:r ERNAWATI:3:p YUSMANIAR:2:p
ROSNIAR:2:p NURHASANAH:2 MAULIDAR:2 SALMIAH:2:o ROSNANI:2:p NURLAILA:2 SAFRIDA:2:r YUSNITA:2:r DESI:2:r
YELFI:1:r FITRIA:2:r RAHMI:2:r ROSMAWAR:1:o MARLIANI:2:r MEUTIA:1 NURAINI:2 RAHMAWATI:2 ELVI:1:r
ZURAIDA:1:p MARDIANA:2:r YUSNIAR:2:p ASMAUL_HUSNA:1:y NURMALA:1:p ERMAWATI:2:p YULIANI:2:r REFNI:1:r
NOVIA:1:y SRI_WAHYUNI:1:p DEWI:1:r RISKA:1:y MUTIA:2:y ZAHARA:1
""")
AM_F_TAIL = _b("""
SARI:1:y PUTRI:2:y HASANAH:1 WATI:1:r ZAHRA:1:z
""")

# --- Bugis, Makassar, Mandar, Buton ----------------------------------------------------------------
BG_M_PREFIX = _b("ANDI:10 LA_ODE:2")
BG_F_PREFIX = _b("ANDI:10 WA_ODE:2")
BG_M_CORE = _b("""
BAHARUDDIN:3 SYAMSUDDIN:3 HAERUDDIN:2 KAHARUDDIN:2 SAHABUDDIN:2:p AMIRUDDIN:2 SAHARUDDIN:2:p NURDIN:3
JAMALUDDIN:2 MUSTARI:2:p ANSAR:3:r ASRUL:2:r ASWAR:2:r IRFAN:3:r SUARDI:2:p SUPARDI:2:p JUMADI:2:p
HAMZAH:2 BASO:2:o BACO:2:o RUSDI:2:p SAMSUL:2 ARIFUDDIN:2 NASRUDDIN:2 HASANUDDIN:2 SUKRI:2 MUSLIMIN:2
HASBI:1 HAERUL:2:r RISAL:2:r MANSUR:2 SUDIRMAN:2:p ILHAM:2:y ARDI:2:r ANWAR:2 AKBAR:2:y LAUPE:1:o
PATTA:1:o BEDDU:1:o SAPRI:1:p RAHMAN:2 KAMARUDDIN:2:p SUARDI_AMIN:1 SYAHRIR:2 ALIMUDDIN:2:p ZAINUDDIN:2
FAHRUL:2:y IKBAL:1:y ASRI:2:r ARMAN:2:r SAHRIR:1 SIRAJUDDIN:1 AMRAN:1 BURHANUDDIN:1
""")
BG_M_TAIL = _b("""
SAPUTRA:2:y PRATAMA:1:y RAHMAN:2 AMIN:2 HASAN:1 SYAM:1 ARIFIN:1 SALEH:1 MAPPA:1:o DAENG:1:o
MANGGA:1:o RAHIM:1 RAUF:1 MUIN:1 HAMID:1 LATIF:1 SYAHRIR:1 RAMADHAN:2:y FIRMANSYAH:1:y SULTAN:1
""")
BG_F_LEAD = _b("""
SITTI:20 SITI:8 NUR:10 NURUL:3:r PUTRI:3:y
""")
BG_F_CORE = _b("""
HASNAH:3:p HASNIAH:2 HAJRAH:2 NURHAEDAH:2:p JUMRAH:2:o RAHMAWATI:3 NURMIATI:2 BECCE:1:o BESSE:1:o
NURHAYATI:3 HADIJAH:2 SAHARIAH:2:o ASMA:2 MARWAH:1 NURLIAH:2 HASMAWATI:2:r SUHARTINI:2:p NURHIDAYAH:2
RISMAWATI:2:r MUSDALIFAH:2 NURJANNAH:3 SALMAWATI:2:r ARMAWATI:1:r KASMAWATI:2:r HERAWATI:2 NURWAHIDAH:1
ISMAWATI:1 SUARNI:1:p FATMAWATI:2 HASNAWATI:2 MARDIANA:2:r NURAENI:1 SAHRIANI:1 RAHMA:2:y JUMIATI:1:p
SANIASA:1:o MASSE:1:o INDO:1:o NURSIA:1 HASMIAH:1 SAMSIAH:1:o
""")
BG_F_TAIL = _b("""
RAHMAN:0.5 ARIFIN:0.5 HASANAH:1 HIDAYAH:1 AMALIAH:1 RAMADHANI:2:y SAFITRI:1:y ZAHRA:1:z AULIA:1:y
""")

# --- Sasak and Bima ------------------------------------------------------------------------------
SB_M_LEAD = _b("""
LALU:8 MUHAMMAD:16 AHMAD:4 ABDUL_HAMID:1 AMAQ:1:o
""")
SB_M_CORE = _b("""
ZAINUDDIN:3 HAERUDDIN:2 SAPARUDIN:2 SAHRUL:2 SAMSUL:3 SUHAIMI:2 SAHIRUDIN:1 ABDULLAH:3 MUSTAJAB:1
JUMAHIR:1:o ZAENAL:3 HAERUL:3 SAHNAN:1:o SUPARDI:2:p MUHSIN:2 JAMALUDIN:2 SAPRUDIN:2 MASRUN:1:o
NURDIN:2 HASAN:2 AMIR:2 IRWAN:2:r SUKRI:2 SAHNUN:1:o RUSLAN:2 SAMSUDIN:2 MUHLIS:2 HAMDI:2 SUPRIADI:2:p
MUNIR:1 ZULKIFLI:2 ISMAIL:2 HERMAN:1:p AKHMAD:1 SUBHAN:2 SAHLAN:1 HAMZAN:1 ARIF:2:r RIJAL:2:r
""")
SB_F_LEAD = _b("""
BAIQ:8 SITI:16 NUR:4 INAQ:1:o
""")
SB_F_CORE = _b("""
ZAENAB:3 MARIANI:2 JUMIATI:2:p SAENAH:2:o HARNI:2 SAMIATI:2:p RAHMI:2 SAHNI:1:o MAHNI:1:o HUSNIATI:2
SUMIATI:2:p NURHASANAH:2 ROHANI:2 SAKINAH:2 HULTIAH:1:o SAHNAH:1:o RUSNAH:1:o HAERANI:2 SAPIAH:1:o
AMINAH:2 HALIMAH:2 MULIANI:2:r RAHMAWATI:2 SRIWAHYUNI:1 NURAENI:2 FITRIANI:2:r HUSNUL_KHOTIMAH:1
KHAERUNNISA:1:y MAISARAH:1 NURHAYATI:2 SITI_AISYAH:1 MURNIATI:1:p HERNAWATI:1:r
""")

# --- Banjar --------------------------------------------------------------------------------------
BJ_M_LEAD = _b("""
MUHAMMAD:40 AHMAD:8 GUSTI:2 ANTUNG:1 ABDUL_HADI:1 NOOR:1 ACHMAD:1:p
""")
BJ_M_CORE = _b("""
ARBAIN:2:p ASNAWI:2:p RUSMADI:2:r JUMBERI:1:o ASRAN:2 FAHRIANSYAH:2:y NOORDIANSYAH:1:y SYAHRANI:2
BAHRANI:2 HAMDANI:3 RAHMADI:2 MISRANI:1 RIDUAN:2 ZAINI:2 JUHRI:1:p ILMI:1 MAHFUZ:2 NORDIN:1:p HASBULLAH:1
JUMAIN:1:o BASRI:2:p SYARIFUDDIN:2 MARDANI:2 NORHADI:1 RUSLAN:1 FAUZAN:2:y RAHMAN:2 ANWAR:1 YUSRAN:1
HAIRIL:1 SAHRIL:2:r ZAINAL:2 ABDUL_HALIM:1 RIZALI:1:r MASRANI:1 MUKHLIS:1 ABDUL_GANI:1
""")
BJ_F_LEAD = _b("""
SITI:18 NOR:8 NUR:6 NOORHIDAYAH:1 SYARIFAH:1 GUSTI:1
""")
BJ_F_CORE = _b("""
NORHAYATI:3 NORMAH:2:o NORJANAH:2 MASLIANI:2 NORLIANI:2 NOORHIDAYAH:2 MAHRITA:1:r JUBAIDAH:2 RUSMILAWATI:1
MASLAHAH:1 HALIMAH:2 SALAMAH:1:o FAUZIAH:2 NORSIDAH:1 RAHMAH:2 MASRIAH:1:o JUMIYATI:1 NORSIAH:1:o
RUSMINAH:1:o NORLAILA:2 HAMIDAH:2 SAUDAH:1:o JAMILAH:2 MUNAWARAH:1 NORMALA:1 ZAHRATUL:1:y RAHMAWATI:2
MARIANA:1 NORHASANAH:1 YULIANTI:1:r MAISARAH:1 NURUL_HIDAYAH:1:r
""")

# --- Batak ---------------------------------------------------------------------------------------
BT_M_CORE = _b("""
HOTMAN:2:p TIGOR:2:p POLTAK:2:p MARULAK:1:p PARLINDUNGAN:2 BONAR:2:p MANGATUR:1:o BINSAR:2:p SAHAT:2:p
TUNGGUL:1:p JANSEN:1:r RICARDO:2:y RONALDO:1:y FERDINAND:1:r JONNI:2:p MARTUA:1:o HASUDUNGAN:1:o
PARULIAN:1:p MARIHOT:1:o TUA:1:o DAVID:3:r DANIEL:3 SAMUEL:2 YOHANNES:3 JOSUA:3:y GABRIEL:2:z
NATANAEL:1:y JONATHAN:2:y ELIAS:1 ROBERT:2:p RICHARD:1:r ANDREAS:2:r BENNY:2:p JHONSON:1:r SURUNG:1:o
MANGASI:1:o SARMAN:1:o RUDOLF:1:p MARTIN:1:r JUNIOR:1:y GILBERT:1:y KEVIN:1:y RIKARDO:1:r DONAL:1:r
HERBIN:1:r LAMHOT:1:p DAME:1:o HALOMOAN:1:p SANGAP:1:o MAXWEL:1:y HENDRA:1:r RAJA:1 ARMADA:1:p
BISMAR:1:p RONI:2:r ALBERT:1:r PANDAPOTAN:1:o TOGAR:1:p DOLOK:0.5:o HOTBIN:1:p NIKSON:1:r JEFRI:1:r
""", muslim=False)
BT_F_CORE = _b("""
ROSMAULI:2:p LAMRIA:2:p HOTNIDA:2:p DUMARIA:2:p MASTIUR:1:o TIOMINAR:1:o ROSTIANA:2:p RUGUN:1:o
ROSMIDA:2:p LASMARIA:2:p MARIANI:2 ROSLINA:2:p MERI:2:r GRACE:3:y CHRISTINA:2:r ROSDIANA:2:p
TIURMA:1:o NURSIAH:1:o MARTA:2 DEBORA:2:y YOHANA:2 ELISABETH:2 MARIA:3 SANTI:2:r HOTMA:1:p MASRIANI:1:p
RENTA:1:o TETTY:1:p ROSLINDA:1:p DUMA:1:p EVA:2:r INTAN:1:y NATALIA:2:y YESSI:1:r LASTIUR:1:o MARINTAN:1:o
DAMERIA:1:o LISDA:1:r JULIANA:2:r KRISTINA:2:r FEBRINA:1:y ROTUA:1:o SRIMAN:0.5:o NOVITA:1:y
MONIKA:1:y SARAH:2:y ESTER:1 SERTA:1:o LENNY:1:r MELVA:1:r TIAR:1:p
""", muslim=False)
BT_MARGA = _b("""
SIMANJUNTAK:5 SITUMORANG:4 PANJAITAN:4 SIMATUPANG:3 SINAGA:4 HUTAGALUNG:3 TAMBUNAN:3 PASARIBU:3 SIHOMBING:3
NAINGGOLAN:3 MANURUNG:3 HUTAPEA:3 SITORUS:4 SIAHAAN:3 SIMANULLANG:2 SIANTURI:2 SILALAHI:3 SIMAMORA:3
HUTABARAT:3 SIBARANI:2 GULTOM:3 SIREGAR:3 SIMBOLON:3 SAMOSIR:2 SIDABUTAR:2 SITANGGANG:2 MUNTHE:2 GINTING:4
TARIGAN:4 SEMBIRING:4 SURBAKTI:2 BANGUN:1 SARAGIH:3 PURBA:3 DAMANIK:2 SIPAYUNG:1 GIRSANG:1 SILABAN:2
ARITONANG:2 RAJAGUKGUK:1 SIRAIT:2 SITOMPUL:2 HUTAURUK:2 LUMBANTOBING:2 LUMBANRAJA:1 SIAGIAN:2 SIBUEA:1
NAPITUPULU:3 PARDEDE:2 SIDABALOK:1 MANALU:2 SITOHANG:1 SIMORANGKIR:2 MARPAUNG:3 PANGGABEAN:2 HUTASOIT:1
PAKPAHAN:2 SINURAT:1 SIPAHUTAR:1 SOLIN:1 BERUTU:1 CIBRO:1 KUDADIRI:0.5
""")
BT_MARGA_MANDAILING = _b("""
NASUTION:7 LUBIS:5 HARAHAP:5 SIREGAR:5 HASIBUAN:4 DAULAY:3 RANGKUTI:2 POHAN:2 PULUNGAN:2 BATUBARA:2 RITONGA:3
TANJUNG:2 MATONDANG:2 DALIMUNTHE:2 HUTASUHUT:1 NASUTION:0.5 PARINDURI:1 SIMAMORA:0.5
""")
BT_BR = _b("BR:1")

# --- Bali ----------------------------------------------------------------------------------------
BL_I = _b("I:1", muslim=False)
BL_NI = _b("NI:1", muslim=False)
BL_LUH = _b("LUH:1", muslim=False)
BL_M_ORD = _b("""
WAYAN:20 PUTU:12:r GEDE:10 MADE:22 KADEK:8:r NENGAH:5 NYOMAN:14 KOMANG:8:r KETUT:12 GUSTI_NGURAH:2
GUSTI_BAGUS:1 GUSTI_MADE:1 GUSTI_KETUT:0.5 DEWA_GEDE:1 DEWA_MADE:0.5 GUSTI_PUTU:1
""", muslim=False)
BL_F_ORD = _b("""
WAYAN:16 PUTU:14:r MADE:22 KADEK:10:r NENGAH:5 NYOMAN:14 KOMANG:8:r KETUT:12 DESAK:1
""", muslim=False)
BL_M_CORE = _b("""
SUDARSANA:2 ARTHA:2 SUARDANA:2 SUKADANA:2 MERTA:2:p WIRAWAN:2 ARYA:3:y AGUS:4:r BUDIARTA:2 SUARTANA:2
SUPARTA:2:p DARMA:2 ADI:2 WIDIANA:2 SUDIARTA:2 SUARSANA:1 SUWENDRA:1 SUKARMA:1:o REGEG:1:o RAI:1 SUMERTA:1
ARDANA:2 SUTAMA:1 SUDANA:2 PARWATA:1 SUDIRTA:1 MANTRA:1:o DIANA:1 YASA:1 SUARJANA:1 SUWITRA:1
ANTARA:1 ARIMBAWA:1 ASTAWA:2 JAYA:2 DARMAYASA:1 WIRATA:1 SUTAWAN:1 PUTRA:2 EKA:2:r DWI:1:r ANGGA:2:y
DIKA:1:y KRISNA:2:y ARIANA:1 SUARTHA:1 SURYA:2:y BAGUS:1 PRADNYANA:1:y PASEK:1 SUANDA:1 KARYA:1:o
""", muslim=False)
BL_M_TAIL = _b("""
SAPUTRA:4:y PUTRA:5 ADNYANA:2 WIRAWAN:2 PRATAMA:3:y DARMAWAN:2 ARIMBAWA:2 SUDARMA:2 WIRANATA:2
ARTAWAN:1 SUGIARTA:1 PRADIPTA:1:y MAHENDRA:2:y SANJAYA:1:y WIGUNA:2 JAYA:1 SUKARDANA:1 ASTAWA:1
YOGISWARA:1:z SUARDIKA:1 WIDNYANA:1 ANTARA:1 ARDIKA:1 PARWATA:1
""", muslim=False)
BL_F_CORE = _b("""
SRI:3 AYU:4 SUARNI:2 ARIANI:2 WIDIASTUTI:1 SUARTINI:2 ARTINI:2 SUDIARI:1 ASTITI:1 DEWI:3 PUSPITA:1:y
SUASTINI:1 MIRAH:1 SUKERTI:1:o SUWENI:1:o RAI:1 SUKARMI:1:o SUDARMI:1:o MURNI:1:p SUKARINI:1 WIDIARI:1
ARINI:1 SUPARMI:1:o YULIANI:1:r SUWITRI:1 DARMI:1:o PURNAMI:1 SRIASIH:1 SUWARNI:1:o ARTAWATI:1 ERNAWATI:1:r
KARTINI:1:p WARDANI:1 LISNAWATI:1:r ASTUTI:1 ANGGI:1:y INTAN:1:y DIAH:1 EKA:2:r DWI:1:r TRISNA:1 PUTRI:2:y
LIANA:1:r SINTYA:1:y GITA:1:y TIRTA:0.5
""", muslim=False)
BL_F_TAIL = _b("""
DEWI:4 ANTARI:2 LESTARI:2 PURNAMI:1 PUSPITASARI:2:y ANGGRENI:1 ASTUTI:1 WULANDARI:2 PRADNYANI:1:y UTAMI:2
SARI:2 ARIANI:1 MAHARANI:1:y SUGIANTARI:1 WIDYANTARI:1:y PRATIWI:1:y YANTI:1 ARIASIH:1 SURYANI:1
""", muslim=False)

# --- Christian east: NTT, Maluku, Minahasa, Toraja --------------------------------------------------
KT_M_CORE = _b("""
YOHANES:6 PETRUS:4 PAULUS:3 FRANSISKUS:4 YOSEF:3 MARKUS:3 ANTONIUS:3 STEFANUS:2 MIKAEL:2 YAKOBUS:2
ALOYSIUS:2:p KORNELIS:2 DOMINIKUS:2 AGUSTINUS:3 BENEDIKTUS:2 BERNARDUS:2 KRISTOFORUS:1 SIPRIANUS:1
YULIUS:2 FELIKS:2 YOHANIS:4 NIKOLAS:2 SEMUEL:2 MATIUS:2 MARTHEN:2 DANIEL:3 OKTOVIANUS:2 YERMIAS:1
FRANKY:2:r JEFRI:2:r ROBERT:2:p HENDRIK:2 ALEX:2:r JANTJE:1:o STEVEN:2:y RONNY:1:r DONNY:1:r JEMMY:1:r
JOHNY:1:r MAIKEL:1:y FERRY:1:r ABRAHAM:2 IZAAK:1:o JACOBUS:1:p MARTHINUS:1:p ELIAS:2 LUKAS:2 SIMON:2
ARNOLDUS:1:p GREGORIUS:2 VINSENSIUS:2 ADRIANUS:2 EMANUEL:2 RIKARDUS:1 YOAKIM:1 KRISTIAN:2:y GABRIEL:1:z
MARIANUS:1 HERMANUS:1:p LODEWIK:1:o WILHELMUS:1:o VIKTOR:1 ALFONSUS:1 KAROLUS:1 SEBASTIANUS:1 RIKI:1:y
DEVID:1:y ANDRE:1:y RIVALDO:1:z JUNIOR:1:y CHRISTOPHER:1:z NATANIEL:1:y YOSUA:1:y
""", muslim=False)
KT_F_CORE = _b("""
MARIA:8 YOSEFINA:3 MAGDALENA:3 MARGARETA:2 KATARINA:2 ELISABETH:2 AGNES:2 SISILIA:1 YULIANA:3
FRANSISKA:2 BERNADETA:2 ANASTASIA:2 VERONIKA:2 MARTHA:2 YUSTINA:2 ADRIANA:1 FLORENSIANA:1 YOHANA:2
MEIKE:1:r SELVI:1:r NOVIE:1:r WENNY:1:r MEITY:1:r DEETJE:1:o JOHANNA:1:p FRIDA:1 KRISTINA:2 FEBRIANTI:1:y
SRI:1 THERESIA:2 SERLIN:1:y DEBORA:1 MARSELINA:2 PAULINA:2 PETRONELA:1 NATALIA:2:y ROSALINA:2 OKTAVIA:1:y
KRISTIN:1:r VIVI:1:r JULIA:1 SANTI:1:r VANESSA:1:z GRACIA:1:z ANGELINA:1:y CLAUDIA:1:y REGINA:1 YOVITA:1
ELISA:1 HERLINA:1:r MELANI:1:y SILVANA:1 DORTEA:1:o ANTONETA:1:p NONCE:1:p NELCI:1:r MERRY:1:r
""", muslim=False)
KT_PREFIX_M = _b("UMBU:1", muslim=False)
KT_PREFIX_F = _b("RAMBU:1", muslim=False)
KT_FAM = _b("""
LAKA:2 BRIA:2 NDUN:2 NDOEN:1 FANGGIDAE:2 TALLO:2 SERAN:2 KLAU:2 NAHAK:2 MAU:2 BANI:2 TEFA:1 LOPO:1 MANU:2
BENU:2 SINLAE:1 PELLOKILA:1 MESAKH:1 ADOE:1 NDOLU:1 DETHAN:1 RIWU:1 HENUK:1 SAUDALE:1 FOEH:1 PARERA:2
FERNANDEZ:2 KOTEN:1 BELEN:1 TUKAN:1 KEWA:1 BOLI:1 LEBA:1 SEDA:1 MBOI:1 NAI:1 LADO:1 GOLO:1 TAEK:1 TAOLIN:1
WOWOR:2 RUMENGAN:2 SUMAMPOW:1 LUMINGKEWAS:1 KALALO:1 MANDAGI:1 PANGEMANAN:2 ROMPAS:1 TUMBELAKA:1 LONDA:1
MONINGKA:1 RUNTUWENE:1 WALANDOUW:1 SONDAKH:2 TAMBAJONG:1 POLII:1 SUOTH:1 LASUT:1 KAUNANG:2 MAMAHIT:1
TUMEWU:1 WAROUW:1 LUMENTUT:1 SUMAKUL:1 TANGKUMAN:1 PONTOH:1 KANDOU:1 LOMBAN:1 WENAS:1 ROTINSULU:1
SUMOLANG:1 MAKAGANSA:1 PATTIRAJAWANE:1 SAHETAPY:1 LATUMAHINA:1 TUHUMURY:1 PATTINAMA:1 SOPACUA:1
LEIWAKABESSY:1 MATAHELUMUAL:1 RUMAHLATU:1 WATTIMENA:1 PATTIASINA:1 LATUPERISSA:1 NANLOHY:1 SIWABESSY:1
PELUPESSY:1 HEHANUSSA:1 TUPAMAHU:1 LEATEMIA:1 SAPULETTE:1 TITALEY:1 RIRIMASSE:1 METEKOHY:1 MANUPUTTY:1
TUANAKOTTA:1 PATANDUNG:1 PAEMBONAN:1 TANGDILINTIN:1 PALALLO:1 TODING:1 RANTETANA:1 SAMPE:1 LEWAR:1
DAKHI:0.5 LEDE:1 DJAMI:1 KANA:1 BIRE:1 LUSI:1 NENO:1 TUAN:1 KOLO:1 AMA:0.5
""", muslim=False)

# --- Papua ---------------------------------------------------------------------------------------
PP_M_CORE = _b("""
YOHANIS:5 MARTHEN:3 YULIANUS:3 NATALIS:3 YAKOB:3 ELIAS:3 OKTOVIANUS:3 MARKUS:3 ANDERIAS:2 YONAS:2
YAPET:2 LUKAS:3 AMOS:2 DEMIANUS:2 PAULUS:3 YOSIAS:2 ALBERTUS:2 YULIUS:2 MATIUS:2 NIKOLAS:2 SEPNAT:1
SEM:1 HENOK:2 YERMIAS:2 MESAK:2 OTNIEL:1 BENYAMIN:2 ISAK:2 YUSTINUS:2 DORUS:1 NELSON:1:r TITUS:1
FRENGKY:1:r YANCE:2:r NAFTALI:1 PETRUS:3 YOSEP:2 SAMUEL:2 DANIEL:2 FRANS:2 MIKAEL:1 KORNELIUS:2 ELISA:1
ABNER:1 HABEL:1 MARINUS:1 SALMON:1 DERIUS:1 TOMAS:1 YOPI:1:r DEKI:1:y ALFONS:1 OBAJA:1 EDISON:1:r
AGUS:1:r SIMSON:1 LEONARD:1:r YUNUS:1 ENOS:1 EPRAIM:1 PILIPUS:1 NEHEMIA:1 YEREMIAS:1 ZAKARIAS:1
BRAYEN:1:z GERALD:1:z RIVALDO:1:z
""", muslim=False)
PP_F_CORE = _b("""
DORKAS:2 YULIANA:3 MARTHA:3 NELCE:2 YOSINA:2 DEBORA:2 MARIA:3 SERLINA:2 RAHEL:2 YOHANA:2 ELSYE:1
SALOMINA:2 BERTHA:1 OKTOVINA:2 YAKOMINA:2 MERLIN:1:y NOVITA:1:y MAGDALENA:2 AGUSTINA:2 NATALIA:2 LIDIA:2
ANACE:1 ELISABETH:2 PETRONELA:1 YUSTINA:2 MARIANA:1 SARLOTA:1 ANTJE:1:o DINA:1 FRANSINA:2 ELSINA:1
MARICE:1 ANDERINA:1 SELFINA:1 KRISTINA:1 FERONIKA:1 ESTER:2 NAOMI:1 SUSANA:2 MINCE:1 HERLINA:1:r
LENNY:1:r YOSEFINA:1 SINTIA:1:y MERY:1 REGINA:1:y VANIA:1:z GLORIA:1:z
""", muslim=False)
PP_CLAN = _b("""
WENDA:3 KOGOYA:3 WONDA:2 TABUNI:3 MURIB:2 ENUMBI:1 GOBAY:2 PIGAI:2 DOUW:2 TEBAY:2 YOGI:2 MOTE:2 KOBOGAU:1
WANIMBO:2 WAKERKWA:1 HISAGE:1 MABEL:2 ASSO:2 LOKOBAL:1 HILAPOK:1 ELOPERE:1 WETIPO:1 YIKWA:1 KARUBABA:1
YELIPELE:1 KOSAY:1 MATUAN:1 WALILO:1 RUMBIAK:2 WOMSIWOR:1 MANSOBEN:1 RUMBEWAS:1 KAFIAR:1 RUMAKIEK:1
KOIBUR:1 MANDOWEN:1 AWOM:1 RUMBRAWER:1 SAWAKI:1 SUEBU:1 OHEE:1 HAMADI:1 MERAUJE:1 DEDA:1 IBO:1 MEBRI:1
FONATABA:1 WAROMI:1 KARETH:1 WAMBRAUW:1 MANUFANDU:1 KAISIEPO:1 NUMBERI:1 RUMSAYOR:1 INDEY:1 AMBOROUW:1
YARANGGA:1 GEBZE:1 KAIZE:1 MAHUZE:1 BALAGAIZE:1 NDIKEN:1 SAMBOM:1 ALUA:1 DEGEY:1 KAYAME:1 ZONGGONAU:1
MAGAI:1 MAMA:0.5 TEKEGE:1 BOMAY:1 WEYA:1 TELENGGEN:1 GIRI:1 MIRINO:1 SROYER:1
""", muslim=False)

# --- Tionghoa ------------------------------------------------------------------------------------
TH_M_CORE = _b("""
HENDRA:4:r BUDI:3:p HERMAN:3:p SUSANTO:2:p HARTONO:2:p ANTON:2:r ROBERT:2:p WILLIAM:3:y STEVEN:3:y
KEVIN:4:y FELIX:3:y VINCENT:3:y JOHAN:2:p RUDY:2:r JIMMY:2:r EDDY:2:p HENRY:2:r TONNY:1:p ANDY:2:r
WILLY:2:r DANNY:1:r ALBERT:2:r RICHARD:2:r SANDY:1:r HARRY:1:p HANSEN:1:y RYAN:2:y JASON:2:y NICHOLAS:2:y
JONATHAN:2:y CHRISTOPHER:1:y MICHAEL:2:y DARREN:1:z EDWARD:1:r ERIC:2:r FRANKY:1:r GUNAWAN:2:p
HALIM:1:p KUSNADI:1:p SUGIANTO:2:p JOHNNY:1:p AGUS:1:p SUWANDI:1:p TJANDRA:1:p HENDRIK:1:p
DAVID:2:r BENNY:2:p ALVIN:2:y RAYMOND:1:r JOSHUA:1:z KENNETH:1:z KELVIN:2:y FERRY:1:r SANTOSO:1:p
YOHANES:1 SETIAWAN:1:p IRWAN:1:r SUHENDRA:1:p SUDONO:1:o HARIANTO:1:p SURYA:1:r ADRIAN:1:y ELBERT:1:z
""", muslim=False)
TH_F_CORE = _b("""
LINDA:3:p LILI:2:p SUSAN:2:r MELIANA:2:r JESSICA:3:y MICHELLE:3:y CINDY:3:y VANESSA:2:y CHRISTINE:2:y
YENNY:2:r LIANA:2:p MEILANI:1:r MEILINDA:2:r LISA:1:r FENNY:1:r SHERLY:2:y STEPHANIE:2:y NATALIA:1:y
ANGELINA:2:y VIVIAN:2:y CELINE:2:z FELICIA:2:y GRACE:2:y SUSANTI:2:p LILIANA:2:p IRENE:2:r ELISA:1:r
WATI:1:o HARTATI:1:p LIANY:1:r MELINDA:1:r JULIANA:1:r DEWI:1:r NOVI:1:r SELVI:1:r WINNY:1:r MELISA:2:y
FELISHA:1:z CLARISSA:1:z NICOLE:1:z VALERIE:1:z ELLEN:1:p YULIANA:1:p SUSI:1:p TANTI:1:p LANNY:1:p
ERNAWATI:1:p ANITA:1:p HERLINA:1:p MARIANA:1:p
""", muslim=False)
TH_SURNAME = _b("""
WIJAYA:8 GUNAWAN:4 SUSANTO:3 TANOTO:2 LIMANTO:2 HALIM:4 SALIM:3 KURNIAWAN:3 WIDJAJA:3 TANUWIJAYA:2
SUTANTO:2 HARTONO:2 SETIADI:2 SANTOSO:3 HALIMAN:1 TJANDRA:2 SETIAWAN:3 TANJAYA:1 LIMAN:1 ONGKO:1
GOENAWAN:1 SUGIARTO:1 LIEMANTO:1 TANUDJAJA:1 KUSUMA:2 WIBOWO:2 TEDJA:1 SUTEDJA:1 CHANDRA:3 SUWANDI:1
HERMANTO:1 SUSILO:1 TANDIONO:1 LAKSONO:1 TAN:2 LIM:2 LIE:1 ONG:1 GO:1 SALIMAN:1 HIDAYAT:1 TANUSAPUTRA:1
TJAHJADI:1 HARTANTO:2 SANJAYA:2 GOUW:0.5 WONGSO:1 WIRAWAN:1 PRANOTO:1 SUHENDRA:1 LUKITO:1 SETIABUDI:1
""", muslim=False)
TH_CLAN = _b("""
TAN:6 LIE:4 LIEM:4 OEY:3 ONG:3 GO:3 THE:2 KWEE:2 LAUW:1 TJHIN:1 BONG:2 LO:1 SIAUW:1 HO:1 NJOO:1 YAP:2
GAN:2 KHO:2 TJIO:1 LIM:3 WONG:2 OEN:1 SIE:1 KANG:1 TJOA:1 TIO:1 HAN:1 LAI:1
""", muslim=False)
TH_M_SYL = _b("""
KIM:3 LIONG:3 HOK:2 SENG:3 TJOAN:1 HWA:1 HONG:2 SWIE:1 ENG:2 HOA:1 BIE:1 SIANG:2 KIAT:2 HIN:2 TJIN:1 AN:2
HIAN:1 SIOE:1 KOEN:1 DJIN:1 TEK:2 SOEN:1 HAP:1 LIANG:2 TJOE:1 BENG:2 GWAN:1 TIONG:1 HOEI:1 JAUW:1 TJAY:1
KOK:1 WIE:1 GIE:1 POO:1 SING:1 TJONG:2
""", muslim=False)
TH_F_SYL = _b("""
LAN:3 MEI:3 NIO:3 GIOK:2 HWA:2 HOA:2 LING:2 SIOE:2 HONG:2 KIOK:1 NGO:1 BWEE:1 HIANG:1 SIAN:2 KIM:2 LIAN:2
EN:1 YOE:1 TJOE:1 SOEI:1 BIE:1 NIE:1 KWIE:1 HOEI:1 TJIE:1
""", muslim=False)

# --- Dayak ---------------------------------------------------------------------------------------
DY_M_CORE = _b("""
YOHANES:3 AGUSTINUS:3 KRISTIANUS:2 ANTONIUS:3 FRANSISKUS:2 YULIUS:2 MARKUS:2 LUKAS:2 PAULUS:2 DAMIANUS:2
ALEXANDER:2 CORNELIS:1 PETRUS:2 STEFANUS:2 SIMON:1 MATIUS:1 ANDREAS:2 BENEDIKTUS:1 YOSEF:2 HERKULANUS:1
ASUN:1:o IGAU:1:o JALONG:1:o UJANG:1 ATENG:1:o BUJANG:2 LAWING:1 USAT:1 AJANG:1 ANYANG:1 LAING:1 NYAHU:1
TINGANG:1 LANGAT:1 LAWAI:1 BAYAU:1 RUDI:2:r HERI:2:r SUPARDI:1:p ELIAS:1 NOVIANTO:1:r ARDI:1:r
YANSEN:1:r YOGI:1:y RIKI:1:y KRISTIAN:1:y DEDI:1:r YOSUA:1:y MUHAMMAD:3 AHMAD:1 ABDUL_RAHMAN:1 SYAHRIL:1
""", muslim=False)
DY_F_CORE = _b("""
MARIA:4 SUSANA:2 YULIANA:3 ELISABETH:2 MAGDALENA:2 MARTA:2 KRISTINA:2 AGNES:2 VERONIKA:2 LUSIA:2 REGINA:1
YOSEFINA:1 NATALIA:2:y SELVIA:1:r ROSALINA:1 DESI:1:r ERNA:1:p HERLINA:2:r YANTI:2:r LINA:1:r
DAYANG:1:o INDAI:1:o ITAH:1:o LUSI:1:r MERI:1:r ANGELA:1:y SINTA:1:y NOVIA:1:y FRANSISKA:1 THERESIA:1
FITRI:1:r SRI:1:p RENI:1:r MARSELINA:1 KATARINA:1
""", muslim=False)
DY_M_TAIL = _b("""
LAWING:1 TINGANG:1 BUNGAI:1 TAMBUN:1 LANGAT:1 USAT:1 LAWAI:1 JALONG:1 AJANG:1 IBAU:1 ANYANG:1 LAING:1
NYAHU:1 UJANG:1 LUHAT:1 DJAHAN:1 BUNU:1 KULING:1 AWANG:1 APUI:1 SAPUTRA:2:y PRATAMA:1:y KRISTIANTO:1:r
SETIAWAN:1 WIJAYA:1 HIDAYAT:0.5 PUTRA:1:y
""", muslim=False)
DY_F_TAIL = _b("""
LAWING:0.5 TINGANG:0.5 BUNGAI:0.5 TAMBUN:0.5 LANGAT:0.5 USAT:0.5 ANYANG:0.5 LAING:0.5 NYAHU:0.5
LESTARI:1 SARI:1 DEWI:1 NATALIA:1:y WATI:1:r NOVITA:1:y PUTRI:1:y RAHAYU:0.5 MARLINA:0.5:r
""", muslim=False)
# fmt: on


_Rows = list[tuple[tuple[str, ...], tuple[float, ...]]]


def _templates(rows: _Rows) -> tuple[list[tuple[str, ...]], np.ndarray]:
    slots = [s for s, _ in rows]
    w = np.array([wt for _, wt in rows], dtype=float).T  # (5, T)
    cum = np.cumsum(w, axis=1)
    cum /= cum[:, -1:]
    cum[:, -1] = 1.0
    return slots, cum


_TWO = np.array([0.82, 0.75, 0.64, 0.47, 0.37])
_THREE = np.array([0.16, 0.23, 0.32, 0.44, 0.48])
_FOUR = np.array([0.02, 0.02, 0.04, 0.09, 0.15])


def _islamic_templates(single: tuple[float, ...], lead_share: float, extra: _Rows | None = None) -> _Rows:
    """Word-count mix for Muslim-majority cultures: single names fall and long names rise by cohort."""
    s = np.array(single)
    extra = extra or []
    extra_total = np.sum([np.array(w) for _, w in extra], axis=0) if extra else np.zeros(5)
    rest = (1 - s - extra_total) / (_TWO + _THREE + _FOUR)
    lead = np.minimum(
        lead_share * np.array([1.3, 1.15, 1.0, 0.9, 0.85]), 0.9
    )  # old two-word names: lead + core
    rows = [
        (("C",), tuple(s)),
        (("F", "C"), tuple(rest * _TWO * lead)),  # SITI AMINAH, SRI SUMARNI, MUHAMMAD ALI
        (("C", "T"), tuple(rest * _TWO * (1 - lead))),  # BUDI SANTOSO, AGUS SETIAWAN
        (("F", "C", "T"), tuple(rest * _THREE * 0.7)),
        (("C", "C2", "T"), tuple(rest * _THREE * 0.3)),
        (("F", "C", "C2", "T"), tuple(rest * _FOUR)),
    ]
    return rows + extra


@dataclass(frozen=True)
class _Spec:
    pools: dict[str, _Pool]
    slots: list[tuple[str, ...]]
    cum: np.ndarray  # (5, T) template choice per era


def _spec(pools: dict[str, _Entries], rows: _Rows) -> _Spec:
    slots, cum = _templates(rows)
    return _Spec({k: _Pool.of(v) for k, v in pools.items()}, slots, cum)


_OLD_SINGLE = {  # share of one-word names per birth-era bucket
    "jawa": (0.50, 0.33, 0.16, 0.07, 0.03),
    "sunda": (0.45, 0.30, 0.14, 0.06, 0.03),
    "melayu": (0.35, 0.25, 0.13, 0.07, 0.04),
    "aceh_minang": (0.30, 0.22, 0.12, 0.06, 0.04),
    "bugis_makassar": (0.40, 0.28, 0.15, 0.07, 0.04),
    "banjar": (0.35, 0.25, 0.13, 0.06, 0.03),
    "sasak_bima": (0.45, 0.32, 0.16, 0.07, 0.03),
}
_BUGIS_PREFIX = [
    (("P", "C"), (0.05, 0.05, 0.05, 0.04, 0.04)),
    (("P", "C", "T"), (0.02, 0.03, 0.04, 0.05, 0.05)),
    (("P", "F", "C"), (0.01, 0.02, 0.02, 0.03, 0.03)),
]

_M_JV_CORE = _mix(JV_M_OLD, JV_M_MID, (ISL_M_CORE, 0.5), MOD_M_CORE)
_F_JV_CORE = _mix(JV_F_OLD, JV_F_MID, (ISL_F_CORE, 0.5), MOD_F_CORE)

_SPECS: dict[tuple[int, int], _Spec] = {}  # (culture, 0 male / 1 female)


def _add(culture: str, male: _Spec, female: _Spec) -> None:
    _SPECS[_CI[culture], 0] = male
    _SPECS[_CI[culture], 1] = female


_add(
    "jawa",
    _spec({"F": _mix(ISL_M_LEAD, JV_M_LEAD), "C": _M_JV_CORE, "T": _mix(JV_M_TAIL, (ISL_M_TAIL, 0.5))},
          _islamic_templates(_OLD_SINGLE["jawa"], 0.40)),
    _spec({"F": _mix((ISL_F_LEAD, 0.8), JV_F_LEAD), "C": _F_JV_CORE, "T": _mix(JV_F_TAIL, (ISL_F_TAIL, 0.5))},
          _islamic_templates(_OLD_SINGLE["jawa"], 0.55)),
)  # fmt: skip
_add(
    "sunda",
    _spec({"F": SU_M_LEAD, "C": _mix(SU_M_CORE, (ISL_M_CORE, 0.5), (MOD_M_CORE, 0.8)), "T": _mix(SU_M_TAIL, (ISL_M_TAIL, 0.4))},
          _islamic_templates(_OLD_SINGLE["sunda"], 0.40)),
    _spec({"F": SU_F_LEAD, "C": _mix(SU_F_CORE, (ISL_F_CORE, 0.5), (MOD_F_CORE, 0.8)), "T": _mix(SU_F_TAIL, (ISL_F_TAIL, 0.5))},
          _islamic_templates(_OLD_SINGLE["sunda"], 0.50)),
)  # fmt: skip
_add(
    "melayu",
    _spec({"F": ISL_M_LEAD, "C": _mix(ML_M_CORE, ISL_M_CORE, (MOD_M_CORE, 0.8)), "T": _mix(ISL_M_TAIL, (JV_M_TAIL, 0.2))},
          _islamic_templates(_OLD_SINGLE["melayu"], 0.45)),
    _spec({"F": ISL_F_LEAD, "C": _mix(ML_F_CORE, ISL_F_CORE, (MOD_F_CORE, 0.8)), "T": _mix(ISL_F_TAIL, (JV_F_TAIL, 0.3))},
          _islamic_templates(_OLD_SINGLE["melayu"], 0.55)),
)  # fmt: skip
_add(
    "aceh_minang",
    _spec({"F": AM_M_LEAD, "C": _mix(AM_M_CORE, (ISL_M_CORE, 0.6), (MOD_M_CORE, 0.7)), "T": _mix(AM_M_TAIL, ISL_M_TAIL)},
          _islamic_templates(_OLD_SINGLE["aceh_minang"], 0.45)),
    _spec({"F": AM_F_LEAD, "C": _mix(AM_F_CORE, (ISL_F_CORE, 0.6), (MOD_F_CORE, 0.7)), "T": _mix(AM_F_TAIL, ISL_F_TAIL, (JV_F_TAIL, 0.2))},
          _islamic_templates(_OLD_SINGLE["aceh_minang"], 0.55)),
)  # fmt: skip
_add(
    "bugis_makassar",
    _spec({"F": ISL_M_LEAD, "C": _mix(BG_M_CORE, (ISL_M_CORE, 0.6), (MOD_M_CORE, 0.7)), "T": _mix(BG_M_TAIL, (ISL_M_TAIL, 0.6)), "P": BG_M_PREFIX},
          _islamic_templates(_OLD_SINGLE["bugis_makassar"], 0.45, _BUGIS_PREFIX)),
    _spec({"F": BG_F_LEAD, "C": _mix(BG_F_CORE, (ISL_F_CORE, 0.6), (MOD_F_CORE, 0.7)), "T": _mix(BG_F_TAIL, (ISL_F_TAIL, 0.6), (JV_F_TAIL, 0.2)), "P": BG_F_PREFIX},
          _islamic_templates(_OLD_SINGLE["bugis_makassar"], 0.55, _BUGIS_PREFIX)),
)  # fmt: skip
_add(
    "banjar",
    _spec({"F": BJ_M_LEAD, "C": _mix(BJ_M_CORE, (ISL_M_CORE, 0.6), (MOD_M_CORE, 0.7)), "T": _mix(ISL_M_TAIL, (JV_M_TAIL, 0.2))},
          _islamic_templates(_OLD_SINGLE["banjar"], 0.50)),
    _spec({"F": BJ_F_LEAD, "C": _mix(BJ_F_CORE, (ISL_F_CORE, 0.6), (MOD_F_CORE, 0.7)), "T": _mix(ISL_F_TAIL, (JV_F_TAIL, 0.3))},
          _islamic_templates(_OLD_SINGLE["banjar"], 0.55)),
)  # fmt: skip
_add(
    "sasak_bima",
    _spec({"F": SB_M_LEAD, "C": _mix(SB_M_CORE, (ISL_M_CORE, 0.5), (MOD_M_CORE, 0.7)), "T": _mix(ISL_M_TAIL, (JV_M_TAIL, 0.15))},
          _islamic_templates(_OLD_SINGLE["sasak_bima"], 0.45)),
    _spec({"F": SB_F_LEAD, "C": _mix(SB_F_CORE, (ISL_F_CORE, 0.5), (MOD_F_CORE, 0.7)), "T": _mix(ISL_F_TAIL, (JV_F_TAIL, 0.3))},
          _islamic_templates(_OLD_SINGLE["sasak_bima"], 0.55)),
)  # fmt: skip
_add(
    "batak",
    _spec({"C": BT_M_CORE, "M": _mix(ISL_M_CORE, (MOD_M_CORE, 0.6)), "F": ISL_M_LEAD, "SUR": BT_MARGA, "SURM": BT_MARGA_MANDAILING,
           "FAM": _mix(BT_MARGA, (BT_MARGA_MANDAILING, 0.6))},
          [(("C", "SUR"), (46, 40, 33, 27, 24)), (("C", "C2", "SUR"), (19, 25, 32, 38, 41)),
           (("M", "SURM"), (24, 20, 16, 12, 10)), (("M", "M2", "SURM"), (8, 11, 14, 16, 17)), (("F", "M", "SURM"), (3, 4, 5, 7, 8))]),
    _spec({"C": BT_F_CORE, "M": _mix(ISL_F_CORE, (MOD_F_CORE, 0.6)), "F": ISL_F_LEAD, "SUR": BT_MARGA, "SURM": BT_MARGA_MANDAILING,
           "FAM": _mix(BT_MARGA, (BT_MARGA_MANDAILING, 0.6)), "BR": BT_BR},
          [(("C", "SUR"), (22, 20, 18, 16, 16)), (("C", "BR", "SUR"), (28, 26, 22, 18, 14)),
           (("C", "C2", "SUR"), (8, 11, 15, 20, 24)), (("C", "C2", "BR", "SUR"), (7, 8, 10, 11, 11)),
           (("M", "SURM"), (22, 20, 17, 14, 12)), (("M", "M2", "SURM"), (6, 8, 10, 12, 13)), (("F", "M", "SURM"), (7, 7, 8, 9, 10))]),
)  # fmt: skip
_add(
    "bali",
    _spec({"PRE": BL_I, "ORD": BL_M_ORD, "C": BL_M_CORE, "T": BL_M_TAIL},
          [(("PRE", "ORD", "C"), (70, 62, 52, 45, 40)), (("PRE", "ORD", "C", "T"), (15, 25, 38, 45, 50))]),
    _spec({"PRE": BL_NI, "ORD": BL_F_ORD, "C": BL_F_CORE, "T": BL_F_TAIL, "LUH": BL_LUH},
          [(("PRE", "ORD", "C"), (60, 55, 45, 40, 35)), (("PRE", "ORD", "C", "T"), (15, 20, 30, 35, 40)),
           (("PRE", "LUH", "C"), (15, 15, 15, 15, 15)), (("PRE", "LUH", "ORD", "C"), (5, 8, 10, 10, 10))]),
)  # fmt: skip
_add(
    "kristen_timur",
    _spec({"C": KT_M_CORE, "SUR": KT_FAM, "P": KT_PREFIX_M},
          [(("C", "SUR"), (58, 56, 52, 46, 42)), (("C", "C2", "SUR"), (14, 20, 28, 35, 40)), (("C", "C2"), (8, 8, 8, 8, 8)),
           (("C",), (15, 10, 5, 3, 2)), (("P", "C", "SUR"), (3, 3, 3, 3, 3))]),
    _spec({"C": KT_F_CORE, "SUR": KT_FAM, "P": KT_PREFIX_F},
          [(("C", "SUR"), (58, 56, 52, 46, 42)), (("C", "C2", "SUR"), (14, 20, 28, 35, 40)), (("C", "C2"), (8, 8, 8, 8, 8)),
           (("C",), (15, 10, 5, 3, 2)), (("P", "C", "SUR"), (3, 3, 3, 3, 3))]),
)  # fmt: skip
_PAPUA_ROWS = [
    (("C", "SUR"), (55, 60, 60, 55, 50)),
    (("C", "C2", "SUR"), (5, 10, 18, 25, 32)),
    (("C",), (30, 20, 10, 6, 4)),
    (("C", "C2"), (8, 8, 8, 8, 8)),
]
_add(
    "papua",
    _spec({"C": _mix(PP_M_CORE, (KT_M_CORE, 0.2)), "SUR": PP_CLAN}, _PAPUA_ROWS),
    _spec({"C": _mix(PP_F_CORE, (KT_F_CORE, 0.2)), "SUR": PP_CLAN}, _PAPUA_ROWS),
)  # fmt: skip
_TIONGHOA_ROWS = [
    (("CLAN", "SYL", "SYL2"), (40, 15, 4, 1, 0.2)),
    (("C",), (20, 25, 18, 8, 4)),
    (("C", "SUR"), (30, 45, 55, 50, 45)),
    (("C", "C2", "SUR"), (4, 8, 13, 25, 30)),
    (("C", "C2"), (6, 7, 10, 16, 20)),
]
_add(
    "tionghoa",
    _spec({"C": TH_M_CORE, "SUR": TH_SURNAME, "CLAN": TH_CLAN, "SYL": TH_M_SYL}, _TIONGHOA_ROWS),
    _spec({"C": TH_F_CORE, "SUR": TH_SURNAME, "CLAN": TH_CLAN, "SYL": TH_F_SYL}, _TIONGHOA_ROWS),
)  # fmt: skip
_DAYAK_ROWS = [
    (("C",), (21, 14, 8, 4, 2)),
    (("C", "C2"), (25, 28, 28, 25, 21)),
    (("C", "T"), (17, 21, 22, 25, 25)),
    (("C", "C2", "T"), (4, 6, 10, 14, 18)),  # Christian and traditional names (~70%)
    (("M",), (10, 7, 4, 2, 1)),
    (("F", "M"), (8, 9, 9, 8, 7)),
    (("M", "MT"), (8, 9, 10, 10, 10)),
    (("F", "M", "MT"), (2, 3, 5, 7, 8)),  # Muslim Dayak (~30%)
]
_add(
    "dayak",
    _spec({"C": DY_M_CORE, "T": DY_M_TAIL, "F": ISL_M_LEAD, "M": _mix(ML_M_CORE, ISL_M_CORE, (MOD_M_CORE, 0.5)), "MT": ISL_M_TAIL},
          _DAYAK_ROWS),
    _spec({"C": DY_F_CORE, "T": DY_F_TAIL, "F": ISL_F_LEAD, "M": _mix(ML_F_CORE, ISL_F_CORE, (MOD_F_CORE, 0.5)), "MT": ISL_F_TAIL},
          _DAYAK_ROWS),
)  # fmt: skip
assert len(_SPECS) == 2 * len(CULTURES)

# Cultures whose names end in an inherited family name, and how many families actually carry one.
SURNAME_USE: dict[str, float] = {"batak": 0.98, "kristen_timur": 0.9, "papua": 0.9, "tionghoa": 0.6}
SURNAME_CULTURES: frozenset[int] = frozenset(_CI[c] for c in SURNAME_USE)
_SURNAME_POOL = {
    _CI[c]: _SPECS[_CI[c], 0].pools.get("FAM", _SPECS[_CI[c], 0].pools["SUR"]) for c in SURNAME_USE
}
# roles that take the family (father's) surname: the male head, children and grandchildren
_ROLE_HEAD, _ROLE_CHILD, _ROLE_GRANDCHILD = 0, 2, 4

_VOCAB_WORDS = np.array([v.count(" ") + 1 for v in _VOCAB], dtype=np.int8)
_MAX_POS = max(len(s) for sp in _SPECS.values() for s in sp.slots)


# ---------------------------------------------------------------------------------------------------
# True names
# ---------------------------------------------------------------------------------------------------


def era_bucket(birth_year: np.ndarray) -> np.ndarray:
    """Birth-cohort bucket 0..4 (<1960, 1960-74, 1975-89, 1990-2004, 2005+) that pools weight by."""
    return np.searchsorted(ERA_EDGES, np.asarray(birth_year), side="right").astype(np.int8)


def family_surnames(rng: np.random.Generator, culture: np.ndarray) -> np.ndarray:
    """One inherited surname per family ("" where the culture or family has none).

    Call once per family with the head's culture and pass ``result[fam]`` as ``family_surname`` to
    :func:`draw_full_names`: Batak marga, eastern fam names, Papuan clan names and Indonesianised
    Tionghoa surnames are then shared by father and children, while everyone else's last word stays
    personal, as in the real registry (household members rarely share a surname).
    """
    culture = np.asarray(culture)
    out = np.full(culture.size, "", dtype=object)
    vocab = np.array(_VOCAB, dtype=object)
    u = rng.random(culture.size)
    for c, pool in _SURNAME_POOL.items():
        idx = np.flatnonzero((culture == c) & (u < SURNAME_USE[CULTURES[c]]))
        if idx.size:
            out[idx] = vocab[pool.draw(rng, idx.size, 2)]
    return out


surname_for_family = family_surnames  # the name used in the design brief


def draw_full_names(
    rng: np.random.Generator,
    sex: np.ndarray,
    culture: np.ndarray,
    birth_year: np.ndarray,
    family_surname: np.ndarray | None = None,
    role: np.ndarray | None = None,
) -> np.ndarray:
    """Clean true names (as Dukcapil holds them: UPPER CASE, 1-4 words, no titles), object array.

    ``family_surname`` (from :func:`family_surnames`, "" or None = none) replaces the surname slot of
    cultures that use one; other cultures ignore it. With ``role`` given, only the male head, children
    and grandchildren inherit it (wives and female heads keep their own father's marga); without
    ``role`` every row with a non-empty value inherits it.
    """
    sex = np.asarray(sex)
    culture = np.asarray(culture).astype(np.int64)
    n = culture.size
    if sex.size != n or np.asarray(birth_year).size != n:
        raise ValueError("sex, culture and birth_year must have the same length")
    if n and (culture.min() < 0 or culture.max() >= len(CULTURES)):
        raise ValueError("culture index out of range")
    female = (sex != 1).astype(np.int64)
    era = era_bucket(birth_year).astype(np.int64)
    key = ((culture * 2 + female) * 5 + era).astype(np.uint8)  # < 140: the stable sort is a radix sort
    order = np.argsort(key, kind="stable")
    bounds = np.searchsorted(key[order], np.arange(len(CULTURES) * 10 + 1))

    tok = np.full((n, _MAX_POS), -1, dtype=np.int32)
    sur_pos = np.full(n, -1, dtype=np.int8)
    for k in range(len(CULTURES) * 10):
        rows = order[bounds[k] : bounds[k + 1]]
        m = rows.size
        if not m:
            continue
        c, rem = divmod(k, 10)
        fem, e = divmod(rem, 5)
        spec = _SPECS[c, fem]
        t = np.searchsorted(spec.cum[e], rng.random(m), side="right")
        for j, slots in enumerate(spec.slots):
            sel = np.flatnonzero(t == j)
            if not sel.size:
                continue
            target = rows[sel]
            for p, slot in enumerate(slots):
                tok[target, p] = spec.pools[slot.rstrip("0123456789")].draw(rng, sel.size, e)
                if slot.startswith("SUR"):
                    sur_pos[target] = p

    vocab = _VOCAB
    words = _VOCAB_WORDS
    if family_surname is not None:
        fs = np.asarray(family_surname, dtype=object)
        if fs.size != n:
            raise ValueError("family_surname must have one value per row")
        take = sur_pos >= 0
        if role is not None:
            r = np.asarray(role)
            take &= ((r == _ROLE_HEAD) & (female == 0)) | (r == _ROLE_CHILD) | (r == _ROLE_GRANDCHILD)
        idx = np.flatnonzero(take)
        if idx.size:
            vals = (
                pl.Series(fs[idx], dtype=pl.String, strict=False)
                .fill_null("")
                .str.strip_chars()
                .str.to_uppercase()
            )
            uniq, inv = np.unique(vals.to_numpy().astype(str), return_inverse=True)
            extra = [u for u in uniq if u and u not in _VOCAB_ID]
            ext_id = {u: len(_VOCAB) + i for i, u in enumerate(extra)}
            ids = np.array([(_VOCAB_ID.get(u, ext_id.get(u, -1)) if u else -1) for u in uniq], dtype=np.int32)
            new = ids[inv]
            ok = new >= 0
            tok[idx[ok], sur_pos[idx[ok]]] = new[ok]
            if extra:
                vocab = _VOCAB + extra
                words = np.concatenate([words, np.array([len(u.split()) for u in extra], dtype=np.int8)])

    _dedupe(tok, sur_pos, vocab)
    _cap_words(tok, words)
    series = pl.Series("v", [*vocab, None], dtype=pl.String)
    null_id = len(vocab)
    cols = [
        series.gather(np.where(tok[:, p] < 0, null_id, tok[:, p])).alias(f"w{p}") for p in range(_MAX_POS)
    ]
    out = pl.DataFrame(cols).select(pl.concat_str(pl.all(), separator=" ", ignore_nulls=True)).to_series()
    return out.to_numpy().astype(object, copy=False)


def _word_ends(vocab: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Ids of the first and last word of each token, with -1 appended for the empty id -1."""
    ids: dict[str, int] = {}
    heads = [ids.setdefault(v.split(" ")[0], len(ids)) for v in vocab]
    tails = [ids.setdefault(v.split(" ")[-1], len(ids)) for v in vocab]
    return np.array([*heads, -1], dtype=np.int32), np.array([*tails, -1], dtype=np.int32)


def _dedupe(tok: np.ndarray, sur_pos: np.ndarray, vocab: list[str]) -> None:
    """Drop a token that repeats a word (PUTRI PUTRI, SITI + SITI AISYAH, ABDUL AZIZ + AZIZ); the
    surname always stays."""
    heads, tails = _word_ends(vocab)
    hw, tw = heads[tok], tails[tok]
    npos = tok.shape[1]
    for q in range(1, npos):
        for p in range(q):
            dup = (hw[:, p] >= 0) & (hw[:, q] >= 0)
            dup &= (
                (hw[:, p] == hw[:, q])
                | (tw[:, p] == tw[:, q])
                | (tw[:, p] == hw[:, q])
                | (hw[:, p] == tw[:, q])
            )
            if dup.any():
                drop_p = dup & (sur_pos == q)
                drop_q = dup & ~drop_p
                tok[drop_p, p] = -1
                hw[drop_p, p] = tw[drop_p, p] = -1
                tok[drop_q, q] = -1
                hw[drop_q, q] = tw[drop_q, q] = -1


def _cap_words(tok: np.ndarray, words: np.ndarray) -> None:
    """Keep true names at four words by dropping the word before the last (I GUSTI NGURAH ARYA PUTRA)."""
    words0 = np.append(words, 0).astype(np.int8)  # id -1 (empty) reads the trailing 0
    over = np.flatnonzero(words0[tok].sum(axis=1, dtype=np.int8) > 4)
    npos = tok.shape[1]
    while over.size:
        filled = tok[over] >= 0
        last = npos - 1 - np.argmax(filled[:, ::-1], axis=1)
        filled[np.arange(over.size), last] = False
        tok[over, npos - 1 - np.argmax(filled[:, ::-1], axis=1)] = -1
        over = over[words0[tok[over]].sum(axis=1) > 4]


# ---------------------------------------------------------------------------------------------------
# Dirt: titles, spelling variants, typos
# ---------------------------------------------------------------------------------------------------


def _as_object(names: np.ndarray) -> np.ndarray:
    arr = np.asarray(names)
    return arr.astype(object) if arr.dtype != object else arr.copy()


def _py_rng(rng: np.random.Generator) -> random.Random:
    """A Python RNG seeded from ``rng``: per-row loops over the few dirty rows are ~10x faster with it."""
    return random.Random(int(rng.integers(0, 2**63 - 1)))


def _pick(r: random.Random, options: tuple[tuple[str, float], ...]) -> str:
    x = r.random() * sum(w for _, w in options)
    for s, w in options:
        x -= w
        if x < 0:
            return s
    return options[-1][0]


_NON_MUSLIM_FIRST = sorted((_OTHER_TOKENS - _MUSLIM_TOKENS) | {"I", "NI"})
MIN_HAJJ_AGE = 35  # hajj waiting lists are decades long: the title sits on older people *(assumption)*
MIN_DEGREE_AGE = 21
GRADUATE_SHARE_IF_UNKNOWN = 0.10  # adults 23+ treated as graduates when education is not given

_HAJJ_M = (("H. ", 55), ("H.", 15), ("H ", 22), ("HAJI ", 5), ("H, ", 3))
_HAJJ_F = (("HJ. ", 50), ("HJ ", 25), ("HJ.", 15), ("HAJAH ", 5), ("HJH ", 5))
_S1 = (
    ("S.PD", 25), ("S.E", 15), ("S.H", 8), ("S.KOM", 6), ("S.SOS", 6), ("S.T", 6), ("S.AG", 5), ("S.PD.I", 5),
    ("S.KEP", 4), ("S.IP", 3), ("S.P", 3), ("S.SI", 4), ("S.FARM", 1), ("S.KM", 2), ("S.AK", 2), ("S.HUT", 1),
    ("S.IKOM", 1), ("S.KED", 1), ("S.TR.KEP", 1),
)  # fmt: skip
_DIPLOMA = (
    ("A.MD", 30),
    ("AMD", 15),
    ("A.MD.KEP", 15),
    ("A.MA", 8),
    ("A.MA.PD", 8),
    ("AMK", 5),
    ("A.MD.KOM", 5),
)
_DIPLOMA_F = (*_DIPLOMA, ("A.MD.KEB", 12))  # midwives
_MASTER = (
    ("M.PD", 25),
    ("M.M", 20),
    ("M.SI", 15),
    ("M.KES", 10),
    ("M.H", 10),
    ("M.T", 8),
    ("M.AG", 7),
    ("M.AP", 5),
)
_SEP = ((", ", 55), (",", 15), (" ", 25), (" , ", 5))


def _degree_text(r: random.Random, d: str) -> str:
    """Degrees the way forms hold them: S.PD / S.PD. / SPD."""
    x = r.random()
    if x < 0.55:
        return d
    if x < 0.75:
        return d + "."
    return d.replace(".", "")


def _prefix_text(r: random.Random, p: str) -> str:
    x = r.random()
    return p + ". " if x < 0.6 else (p + " " if x < 0.9 else p + ".")


def _first_words(names: np.ndarray) -> pl.Series:
    return pl.Series(names, dtype=pl.String).str.extract(r"^\s*([A-Z]+)", 1)


def add_titles(
    rng: np.random.Generator,
    names: np.ndarray,
    sex: np.ndarray,
    age: np.ndarray,
    education_level: np.ndarray | None,
    rate: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Hajj and academic titles as sources write them ("H. AHMAD", "AHMAD, S.PD", "HJ SITI AMINAH").

    Applicable rows: Muslim-looking names aged ``MIN_HAJJ_AGE``+ (H./HJ.) and graduates (IjazahTertinggi
    >= 4) aged ``MIN_DEGREE_AGE``+ (diploma AMD, S1 S.x or DRS./DRA./IR. for those 55+, S2/S3 M.x and DR.).
    About ``rate`` of applicable rows change; returns (names, changed mask); the rest are untouched.
    """
    out = _as_object(names)
    n = out.size
    changed = np.zeros(n, dtype=bool)
    if n == 0 or rate <= 0:
        return out, changed
    sex = np.asarray(sex)
    age = np.asarray(age, dtype=float)
    male = sex == 1
    if education_level is None:
        edu = np.where((age >= 23) & (rng.random(n) < GRADUATE_SHARE_IF_UNKNOWN), 5, 0)
    else:
        edu = np.asarray(education_level)
    degree_ok = (edu >= 4) & (age >= MIN_DEGREE_AGE)
    old = np.flatnonzero(age >= MIN_HAJJ_AGE)
    hajj_ok = np.zeros(n, dtype=bool)
    if old.size:
        first = _first_words(out[old])
        hajj_ok[old] = (~first.is_in(_NON_MUSLIM_FIRST)).fill_null(False).to_numpy()
    cand = np.flatnonzero(hajj_ok | degree_ok)
    pick = cand[rng.random(cand.size) < rate]
    r = _py_rng(rng)
    for i in pick:
        name = out[i]
        if not isinstance(name, str) or not name:
            continue
        h, d = bool(hajj_ok[i]), bool(degree_ok[i])
        if h and d:
            x = r.random()
            h, d = x < 0.6, x >= 0.4
        prefix, suffix = "", ""
        if d:
            level, a, is_m = int(edu[i]), float(age[i]), bool(male[i])
            if level == 4:
                suffix = _degree_text(r, _pick(r, _DIPLOMA if is_m else _DIPLOMA_F))
            elif a >= 55 and r.random() < 0.7:  # before the 1993 reform: DRS./DRA./IR. prefixes
                prefix = _prefix_text(
                    r, _pick(r, ((("DRS" if is_m else "DRA"), 6), ("IR", 3 if is_m else 1)))
                )
                if level >= 6:
                    suffix = _degree_text(r, _pick(r, _MASTER))
            else:
                suffix = _degree_text(r, _pick(r, _S1))
                if level >= 6:
                    suffix += _pick(r, _SEP) + _degree_text(r, _pick(r, _MASTER))
            if level >= 6 and r.random() < 0.2:
                prefix = _prefix_text(r, "DR") + prefix
        if h:
            prefix = _pick(r, _HAJJ_M if male[i] else _HAJJ_F) + prefix
        new = prefix + name + (_pick(r, _SEP) + suffix if suffix else "")
        if new != name:
            out[i] = new
            changed[i] = True
    return out, changed


# Spelling-variant rules. Token rules replace whole words; regex rules change one occurrence in a word.
_MUH = ("MUHAMMAD", "MUHAMAD", "MOHAMAD", "MOHAMMAD", "MOCHAMAD", "MOCHAMMAD", "MUHAMMED", "MOHAMED")
_MUH_VARIANTS = (
    ("MUHAMMAD", 10), ("MUHAMAD", 8), ("MOHAMAD", 6), ("MOHAMMAD", 6), ("MOCHAMAD", 4), ("MOCHAMMAD", 2),
    ("MOH.", 8), ("MUH.", 8), ("M.", 12), ("MOH", 4), ("MUH", 3), ("M", 4), ("MUHAMAT", 1), ("MOHAMED", 1),
)  # fmt: skip
_TOKEN_VARIANTS: dict[str, tuple[tuple[str, float], ...]] = {
    **dict.fromkeys(_MUH, _MUH_VARIANTS),
    **dict.fromkeys(
        ("AHMAD", "ACHMAD", "AKHMAD"), (("AHMAD", 5), ("ACHMAD", 4), ("AKHMAD", 3), ("AHMAT", 1), ("A.", 2))
    ),
    "ABDUL": (("ABD.", 5), ("ABD", 3), ("A.", 1)),
    "NUR": (("NURUL", 4), ("NOOR", 2), ("NOER", 1), ("N.", 1)),
    "NURUL": (("NUR", 5), ("N.", 1)),
    "NOR": (("NUR", 4), ("NOOR", 3)),
    "NOOR": (("NUR", 4), ("NOR", 3)),
    "SITI": (("STI", 3), ("SITTI", 3), ("ST.", 3), ("ST", 1), ("S.", 1)),
    "SITTI": (("SITI", 6), ("ST.", 3), ("STI", 1)),
    "BR": (("BORU", 3), ("BR.", 5)),
    "SRI": (("SRIE", 1), ("SRY", 1)),
    "TEUKU": (("T.", 5), ("TGK", 1)),
    "CUT": (("CUT NYAK", 1), ("C.", 1)),
    "ANDI": (("A.", 4), ("ANDY", 1)),
    "LALU": (("L.", 5),),
    "BAIQ": (("BQ.", 3), ("BQ", 2), ("BAIK", 1)),
    "I": (("", 1),),
    "NI": (("", 1),),
    "GUSTI": (("GST.", 2), ("GST", 1)),
    "RADEN": (("R.", 5), ("RD.", 1)),
}
_C = "BCDFGHJKLMNPQRSTVWXYZ"
_SPELLING: tuple[tuple[re.Pattern[str], str, float], ...] = tuple(
    (re.compile(p), rep, w)
    for p, rep, w in (
        (rf"(?<=[{_C}])U", "OE", 1), (r"OE", "U", 6), (r"(?<!D)J", "DJ", 2), (r"DJ", "J", 6),
        (r"C(?!H)", "TJ", 2), (r"TJ", "C", 6), (r"(?<=[AIUEO])Y(?=[AIUEO])|\bY(?=[AIUEO])", "J", 2),
        (r"KH", "CH", 3), (r"(?<=[AIUEO])CH", "KH", 1), (r"IY(?=[AO])", "I", 3),
        (rf"(?<=[{_C}])I(?=[AOU])", "IY", 1.5), (rf"(?<=[{_C}]{{2}})O\b|(?<=[AIUE][{_C}])O\b", "A", 1),
        (r"DH", "D", 3), (r"SY", "S", 2), (r"AI", "AE", 3), (r"AE", "AI", 3), (r"Q", "K", 2), (r"F", "P", 1.5),
        (r"TH", "T", 2), (r"I\b", "Y", 2), (r"(?<=[AEOU][A-Z])Y\b", "I", 3), (r"([MDLNST])\1", r"\1", 3),
        (r"UDIN\b", "UDDIN", 2), (r"Z(?=K)", "S", 2), (r"IE\b", "I", 1), (r"Z(?=[AE]N)", "J", 0.5),
    )
)  # fmt: skip
_STRUCTURAL = (("abbr_middle", 4), ("abbr_last", 1), ("abbr_first", 0.5), ("swap", 1.5), ("drop_last", 3),
               ("drop_first", 1), ("merge", 1.5), ("split", 2))  # fmt: skip
_SPLIT_PREFIX = re.compile(r"\b(NUR|SRI|ABDUL|NOOR|NOR)(?=[A-Z]{3,})")
# one regex with every pattern that can change a one-word name, for the vectorised applicability test
_APPLICABLE_SINGLE = (
    r"OE|DJ|TJ|KH|CH|IY[AO]|DH|SY|AI|AE|Q|F|TH|I$|[AEOU][A-Z]Y$|MM|DD|LL|NN|SS|TT|UDIN$|ZK|IE$|Z[AE]N|"
    rf"[{_C}]U|J|C|[AIUEO]Y[AIUEO]|^Y[AIUEO]|[{_C}]I[AOU]|[{_C}]{{2}}O$|[AIUE][{_C}]O$|"
    r"^(NUR|SRI|ABDUL|NOOR|NOR)[A-Z]{3,}|"
    "^(?:" + "|".join(sorted(_TOKEN_VARIANTS)) + ")$"
)


def _structural(r: random.Random, words: list[str], kind: str) -> list[str] | None:
    n = len(words)
    if kind == "split":
        for i in r.sample(range(n), n):
            m = _SPLIT_PREFIX.match(words[i])
            if m:
                return [*words[:i], m.group(1), words[i][m.end() :], *words[i + 1 :]]
        return None
    if n < 2:
        return None
    if kind == "abbr_middle" and n >= 3:
        i = r.randrange(1, n - 1)
        if len(words[i]) > 2:
            return [*words[:i], words[i][0] + ("." if r.random() < 0.7 else ""), *words[i + 1 :]]
    elif kind == "abbr_last" and len(words[-1]) > 2:
        return [*words[:-1], words[-1][0] + ("." if r.random() < 0.7 else "")]
    elif kind == "abbr_first" and len(words[0]) > 2:
        return [words[0][0] + ("." if r.random() < 0.7 else ""), *words[1:]]
    elif kind == "swap":
        if n == 2:
            return [words[1], words[0]]
        return [words[-1], *words[:-1]] if r.random() < 0.5 else [words[1], words[0], *words[2:]]
    elif kind == "drop_last":
        return words[:-1]
    elif kind == "drop_first":
        return words[1:]
    elif kind == "merge":
        i = r.randrange(n - 1)
        return [*words[:i], words[i] + words[i + 1], *words[i + 2 :]]
    return None


class _Weighted:
    """Weighted choice with precomputed cumulative weights (the dirt loops call it per row)."""

    def __init__(self, options: tuple[tuple[object, float], ...]) -> None:
        self.items = [o for o, _ in options]
        self.cum = list(accumulate(w for _, w in options))
        self.total = self.cum[-1]

    def pick(self, r: random.Random) -> object:
        return self.items[min(bisect_right(self.cum, r.random() * self.total), len(self.items) - 1)]


_TOKEN_CHOICES = {
    t: _Weighted(tuple((v, w) for v, w in opts if v != t)) for t, opts in _TOKEN_VARIANTS.items()
}
_RULES = _Weighted(
    (*((("struct", k), w) for k, w in _STRUCTURAL), *((("spell", p, rep), w) for p, rep, w in _SPELLING))
)


def _apply_rule(r: random.Random, name: str, words: list[str], rule: tuple) -> str | None:
    if rule[0] == "struct":
        new = _structural(r, words, rule[1])
        return " ".join(x for x in new if x) if new else None
    pat, rep = rule[1], rule[2]
    if pat.search(name) is None:
        return None
    m = r.choice(list(pat.finditer(name)))
    return name[: m.start()] + (m.expand(rep) if "\\" in rep else rep) + name[m.end() :]


def _variant(r: random.Random, name: str) -> str:
    """One spelling variant of ``name``, weighted among the rules that change it; MUHAMMAD-type words
    weigh most. Rules are drawn by weight and a rule that does not apply is struck off, which samples
    from the applicable rules without testing all of them on every name."""
    words = name.split(" ")
    tok_idx = [i for i, w in enumerate(words) if w in _TOKEN_CHOICES]
    w_tok = (25.0 if any(words[i] in _MUH for i in tok_idx) else 8.0) if tok_idx else 0.0
    total = _RULES.total + w_tok
    cum, items, last = _RULES.cum, _RULES.items, len(_RULES.items) - 1
    bad: set[int] = set()
    for _ in range(60):
        x = r.random() * total
        if x < w_tok:
            i = r.choice(tok_idx)
            rep = _TOKEN_CHOICES[words[i]].pick(r)
            return " ".join([*words[:i], *([rep] if rep else []), *words[i + 1 :]]) or name
        j = min(bisect_right(cum, x - w_tok), last)
        if j in bad:
            continue
        out = _apply_rule(r, name, words, items[j])
        if out and out != name:
            return out
        bad.add(j)
    for j in r.sample(range(last + 1), last + 1):  # few rules apply: test the rest in random order
        if j not in bad:
            out = _apply_rule(r, name, words, items[j])
            if out and out != name:
                return out
    return name


def name_variants(rng: np.random.Generator, names: np.ndarray, rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Spelling variants real records hold for the same person (MUHAMMAD/MOH./M., ABDUL/ABD., NUR/NURUL,
    SITI/STI, SOEKARNO/SUKARNO, DJ/J, TJ/C, J/Y, initials, swapped or dropped words, merged NURHAYATI).

    Applicable rows: names of two or more words, or one word that some spelling rule changes. About
    ``rate`` of them change; returns (names, changed mask); the rest are untouched.
    """
    out = _as_object(names)
    n = out.size
    changed = np.zeros(n, dtype=bool)
    if n == 0 or rate <= 0:
        return out, changed
    s = pl.Series(out, dtype=pl.String).fill_null("").str.strip_chars()
    app = s.str.contains(" ", literal=True).to_numpy()
    single = np.flatnonzero(~app)
    if single.size:  # every multi-word name is applicable (initials, swaps, drops); test only the rest
        app[single] = s.gather(single).str.contains(_APPLICABLE_SINGLE).to_numpy()
    cand = np.flatnonzero(app)
    pick = cand[rng.random(cand.size) < rate]
    r = _py_rng(rng)
    for i in pick:
        name = out[i]
        new = _variant(r, name)
        if new != name:
            out[i] = new
            changed[i] = True
    return out, changed


_KEY_NEIGHBOURS = {
    "A": "QWSZ", "B": "VGHN", "C": "XDFV", "D": "SERFCX", "E": "WSDR", "F": "DRTGVC", "G": "FTYHBV",
    "H": "GYUJNB", "I": "UJKO", "J": "HUIKMN", "K": "JIOLM", "L": "KOP", "M": "NJK", "N": "BHJM", "O": "IKLP",
    "P": "OL", "Q": "WA", "R": "EDFT", "S": "AWEDXZ", "T": "RFGY", "U": "YHJI", "V": "CFGB", "W": "QASE",
    "X": "ZSDC", "Y": "TGHU", "Z": "ASX",
}  # fmt: skip
_OCR = {
    "M": "N",
    "N": "M",
    "U": "V",
    "V": "U",
    "I": "L",
    "L": "I",
    "O": "D",
    "D": "O",
    "E": "F",
    "F": "E",
    "C": "G",
    "G": "C",
}
_TYPO_OPS = _Weighted(
    (
        ("neighbour", 30),
        ("delete", 20),
        ("insert", 15),
        ("transpose", 15),
        ("double", 10),
        ("undouble", 10),
        ("ocr", 5),
    )
)


def _typo(r: random.Random, name: str) -> str:
    """One keyboard/OCR-like edit on a letter of ``name`` (never touches spaces or punctuation)."""
    size = len(name)
    for _ in range(12):
        op = _TYPO_OPS.pick(r)
        i = r.randrange(size)
        ch = name[i]
        if not "A" <= ch <= "Z":
            continue
        if op == "neighbour":
            new = name[:i] + r.choice(_KEY_NEIGHBOURS[ch]) + name[i + 1 :]
        elif op == "delete":
            new = name[:i] + name[i + 1 :]
        elif op == "insert":
            new = name[: i + 1] + r.choice(_KEY_NEIGHBOURS[ch] + ch) + name[i + 1 :]
        elif op == "transpose":
            if i + 1 >= len(name) or not ("A" <= name[i + 1] <= "Z") or name[i + 1] == ch:
                continue
            new = name[:i] + name[i + 1] + ch + name[i + 2 :]
        elif op == "double":
            new = name[:i] + ch + name[i:]
        elif op == "undouble":
            doubles = [j for j in range(size - 1) if name[j] == name[j + 1] and "A" <= name[j] <= "Z"]
            if not doubles:
                continue
            j = r.choice(doubles)
            new = name[:j] + name[j + 1 :]
        else:
            if name[i : i + 2] == "RN":
                new = name[:i] + "M" + name[i + 2 :]
            elif ch == "M" and r.random() < 0.3:
                new = name[:i] + "RN" + name[i + 1 :]
            elif ch in _OCR:
                new = name[:i] + _OCR[ch] + name[i + 1 :]
            else:
                continue
        new = " ".join(new.split())
        if new and new != name:
            return new
    return name


def typos(rng: np.random.Generator, names: np.ndarray, rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Keyboard and OCR slips: neighbouring-key substitution, deletion, insertion, transposition,
    doubled or dropped double letters, OCR confusions (M/N, U/V, RN/M). One edit per changed row.

    Applicable rows: names with at least three letters. About ``rate`` of them change.
    """
    out = _as_object(names)
    n = out.size
    changed = np.zeros(n, dtype=bool)
    if n == 0 or rate <= 0:
        return out, changed
    s = pl.Series(out, dtype=pl.String).fill_null("")
    app = s.str.contains("[A-Z][^A-Z]*[A-Z][^A-Z]*[A-Z]").to_numpy()
    cand = np.flatnonzero(app)
    pick = cand[rng.random(cand.size) < rate]
    r = _py_rng(rng)
    for i in pick:
        name = out[i]
        new = _typo(r, name)
        if new != name:
            out[i] = new
            changed[i] = True
    return out, changed
