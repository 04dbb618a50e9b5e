"""Cultures and where they live: the ethnic mix of each province that name pools are drawn by."""

from __future__ import annotations

import numpy as np

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
CULTURE_INDEX = {c: i for i, c in enumerate(CULTURES)}

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
        _PROV_TABLE[_r, CULTURE_INDEX[_c]] = _pct
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
