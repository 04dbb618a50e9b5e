"""True names: each culture's name templates by sex and birth era, drawn as tokens and joined once."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from dtsen.synth.names.cultures import CULTURE_INDEX, CULTURES
from dtsen.synth.names.pools import ERA_EDGES, POOLS, VOCAB, VOCAB_ID, Entries, Pool, mix

_P = POOLS  # short name for the culture tables below

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
    pools: dict[str, Pool]
    slots: list[tuple[str, ...]]
    cum: np.ndarray  # (5, T) template choice per era


def _spec(pools: dict[str, Entries], rows: _Rows) -> _Spec:
    slots, cum = _templates(rows)
    return _Spec({k: Pool.of(v) for k, v in pools.items()}, slots, cum)


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

_M_JV_CORE = mix(_P.JV_M_OLD, _P.JV_M_MID, (_P.ISL_M_CORE, 0.5), _P.MOD_M_CORE)
_F_JV_CORE = mix(_P.JV_F_OLD, _P.JV_F_MID, (_P.ISL_F_CORE, 0.5), _P.MOD_F_CORE)

_SPECS: dict[tuple[int, int], _Spec] = {}  # (culture, 0 male / 1 female)


def _add(culture: str, male: _Spec, female: _Spec) -> None:
    _SPECS[CULTURE_INDEX[culture], 0] = male
    _SPECS[CULTURE_INDEX[culture], 1] = female


_add(
    "jawa",
    _spec({"F": mix(_P.ISL_M_LEAD, _P.JV_M_LEAD), "C": _M_JV_CORE, "T": mix(_P.JV_M_TAIL, (_P.ISL_M_TAIL, 0.5))},
          _islamic_templates(_OLD_SINGLE["jawa"], 0.40)),
    _spec({"F": mix((_P.ISL_F_LEAD, 0.8), _P.JV_F_LEAD), "C": _F_JV_CORE, "T": mix(_P.JV_F_TAIL, (_P.ISL_F_TAIL, 0.5))},
          _islamic_templates(_OLD_SINGLE["jawa"], 0.55)),
)  # fmt: skip
_add(
    "sunda",
    _spec({"F": _P.SU_M_LEAD, "C": mix(_P.SU_M_CORE, (_P.ISL_M_CORE, 0.5), (_P.MOD_M_CORE, 0.8)), "T": mix(_P.SU_M_TAIL, (_P.ISL_M_TAIL, 0.4))},
          _islamic_templates(_OLD_SINGLE["sunda"], 0.40)),
    _spec({"F": _P.SU_F_LEAD, "C": mix(_P.SU_F_CORE, (_P.ISL_F_CORE, 0.5), (_P.MOD_F_CORE, 0.8)), "T": mix(_P.SU_F_TAIL, (_P.ISL_F_TAIL, 0.5))},
          _islamic_templates(_OLD_SINGLE["sunda"], 0.50)),
)  # fmt: skip
_add(
    "melayu",
    _spec({"F": _P.ISL_M_LEAD, "C": mix(_P.ML_M_CORE, _P.ISL_M_CORE, (_P.MOD_M_CORE, 0.8)), "T": mix(_P.ISL_M_TAIL, (_P.JV_M_TAIL, 0.2))},
          _islamic_templates(_OLD_SINGLE["melayu"], 0.45)),
    _spec({"F": _P.ISL_F_LEAD, "C": mix(_P.ML_F_CORE, _P.ISL_F_CORE, (_P.MOD_F_CORE, 0.8)), "T": mix(_P.ISL_F_TAIL, (_P.JV_F_TAIL, 0.3))},
          _islamic_templates(_OLD_SINGLE["melayu"], 0.55)),
)  # fmt: skip
_add(
    "aceh_minang",
    _spec({"F": _P.AM_M_LEAD, "C": mix(_P.AM_M_CORE, (_P.ISL_M_CORE, 0.6), (_P.MOD_M_CORE, 0.7)), "T": mix(_P.AM_M_TAIL, _P.ISL_M_TAIL)},
          _islamic_templates(_OLD_SINGLE["aceh_minang"], 0.45)),
    _spec({"F": _P.AM_F_LEAD, "C": mix(_P.AM_F_CORE, (_P.ISL_F_CORE, 0.6), (_P.MOD_F_CORE, 0.7)), "T": mix(_P.AM_F_TAIL, _P.ISL_F_TAIL, (_P.JV_F_TAIL, 0.2))},
          _islamic_templates(_OLD_SINGLE["aceh_minang"], 0.55)),
)  # fmt: skip
_add(
    "bugis_makassar",
    _spec({"F": _P.ISL_M_LEAD, "C": mix(_P.BG_M_CORE, (_P.ISL_M_CORE, 0.6), (_P.MOD_M_CORE, 0.7)), "T": mix(_P.BG_M_TAIL, (_P.ISL_M_TAIL, 0.6)), "P": _P.BG_M_PREFIX},
          _islamic_templates(_OLD_SINGLE["bugis_makassar"], 0.45, _BUGIS_PREFIX)),
    _spec({"F": _P.BG_F_LEAD, "C": mix(_P.BG_F_CORE, (_P.ISL_F_CORE, 0.6), (_P.MOD_F_CORE, 0.7)), "T": mix(_P.BG_F_TAIL, (_P.ISL_F_TAIL, 0.6), (_P.JV_F_TAIL, 0.2)), "P": _P.BG_F_PREFIX},
          _islamic_templates(_OLD_SINGLE["bugis_makassar"], 0.55, _BUGIS_PREFIX)),
)  # fmt: skip
_add(
    "banjar",
    _spec({"F": _P.BJ_M_LEAD, "C": mix(_P.BJ_M_CORE, (_P.ISL_M_CORE, 0.6), (_P.MOD_M_CORE, 0.7)), "T": mix(_P.ISL_M_TAIL, (_P.JV_M_TAIL, 0.2))},
          _islamic_templates(_OLD_SINGLE["banjar"], 0.50)),
    _spec({"F": _P.BJ_F_LEAD, "C": mix(_P.BJ_F_CORE, (_P.ISL_F_CORE, 0.6), (_P.MOD_F_CORE, 0.7)), "T": mix(_P.ISL_F_TAIL, (_P.JV_F_TAIL, 0.3))},
          _islamic_templates(_OLD_SINGLE["banjar"], 0.55)),
)  # fmt: skip
_add(
    "sasak_bima",
    _spec({"F": _P.SB_M_LEAD, "C": mix(_P.SB_M_CORE, (_P.ISL_M_CORE, 0.5), (_P.MOD_M_CORE, 0.7)), "T": mix(_P.ISL_M_TAIL, (_P.JV_M_TAIL, 0.15))},
          _islamic_templates(_OLD_SINGLE["sasak_bima"], 0.45)),
    _spec({"F": _P.SB_F_LEAD, "C": mix(_P.SB_F_CORE, (_P.ISL_F_CORE, 0.5), (_P.MOD_F_CORE, 0.7)), "T": mix(_P.ISL_F_TAIL, (_P.JV_F_TAIL, 0.3))},
          _islamic_templates(_OLD_SINGLE["sasak_bima"], 0.55)),
)  # fmt: skip
_add(
    "batak",
    _spec({"C": _P.BT_M_CORE, "M": mix(_P.ISL_M_CORE, (_P.MOD_M_CORE, 0.6)), "F": _P.ISL_M_LEAD, "SUR": _P.BT_MARGA, "SURM": _P.BT_MARGA_MANDAILING,
           "FAM": mix(_P.BT_MARGA, (_P.BT_MARGA_MANDAILING, 0.6))},
          [(("C", "SUR"), (46, 40, 33, 27, 24)), (("C", "C2", "SUR"), (19, 25, 32, 38, 41)),
           (("M", "SURM"), (24, 20, 16, 12, 10)), (("M", "M2", "SURM"), (8, 11, 14, 16, 17)), (("F", "M", "SURM"), (3, 4, 5, 7, 8))]),
    _spec({"C": _P.BT_F_CORE, "M": mix(_P.ISL_F_CORE, (_P.MOD_F_CORE, 0.6)), "F": _P.ISL_F_LEAD, "SUR": _P.BT_MARGA, "SURM": _P.BT_MARGA_MANDAILING,
           "FAM": mix(_P.BT_MARGA, (_P.BT_MARGA_MANDAILING, 0.6)), "BR": _P.BT_BR},
          [(("C", "SUR"), (22, 20, 18, 16, 16)), (("C", "BR", "SUR"), (28, 26, 22, 18, 14)),
           (("C", "C2", "SUR"), (8, 11, 15, 20, 24)), (("C", "C2", "BR", "SUR"), (7, 8, 10, 11, 11)),
           (("M", "SURM"), (22, 20, 17, 14, 12)), (("M", "M2", "SURM"), (6, 8, 10, 12, 13)), (("F", "M", "SURM"), (7, 7, 8, 9, 10))]),
)  # fmt: skip
_add(
    "bali",
    _spec({"PRE": _P.BL_I, "ORD": _P.BL_M_ORD, "C": _P.BL_M_CORE, "T": _P.BL_M_TAIL},
          [(("PRE", "ORD", "C"), (70, 62, 52, 45, 40)), (("PRE", "ORD", "C", "T"), (15, 25, 38, 45, 50))]),
    _spec({"PRE": _P.BL_NI, "ORD": _P.BL_F_ORD, "C": _P.BL_F_CORE, "T": _P.BL_F_TAIL, "LUH": _P.BL_LUH},
          [(("PRE", "ORD", "C"), (60, 55, 45, 40, 35)), (("PRE", "ORD", "C", "T"), (15, 20, 30, 35, 40)),
           (("PRE", "LUH", "C"), (15, 15, 15, 15, 15)), (("PRE", "LUH", "ORD", "C"), (5, 8, 10, 10, 10))]),
)  # fmt: skip
_add(
    "kristen_timur",
    _spec({"C": _P.KT_M_CORE, "SUR": _P.KT_FAM, "P": _P.KT_PREFIX_M},
          [(("C", "SUR"), (58, 56, 52, 46, 42)), (("C", "C2", "SUR"), (14, 20, 28, 35, 40)), (("C", "C2"), (8, 8, 8, 8, 8)),
           (("C",), (15, 10, 5, 3, 2)), (("P", "C", "SUR"), (3, 3, 3, 3, 3))]),
    _spec({"C": _P.KT_F_CORE, "SUR": _P.KT_FAM, "P": _P.KT_PREFIX_F},
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
    _spec({"C": mix(_P.PP_M_CORE, (_P.KT_M_CORE, 0.2)), "SUR": _P.PP_CLAN}, _PAPUA_ROWS),
    _spec({"C": mix(_P.PP_F_CORE, (_P.KT_F_CORE, 0.2)), "SUR": _P.PP_CLAN}, _PAPUA_ROWS),
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
    _spec({"C": _P.TH_M_CORE, "SUR": _P.TH_SURNAME, "CLAN": _P.TH_CLAN, "SYL": _P.TH_M_SYL}, _TIONGHOA_ROWS),
    _spec({"C": _P.TH_F_CORE, "SUR": _P.TH_SURNAME, "CLAN": _P.TH_CLAN, "SYL": _P.TH_F_SYL}, _TIONGHOA_ROWS),
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
    _spec({"C": _P.DY_M_CORE, "T": _P.DY_M_TAIL, "F": _P.ISL_M_LEAD, "M": mix(_P.ML_M_CORE, _P.ISL_M_CORE, (_P.MOD_M_CORE, 0.5)), "MT": _P.ISL_M_TAIL},
          _DAYAK_ROWS),
    _spec({"C": _P.DY_F_CORE, "T": _P.DY_F_TAIL, "F": _P.ISL_F_LEAD, "M": mix(_P.ML_F_CORE, _P.ISL_F_CORE, (_P.MOD_F_CORE, 0.5)), "MT": _P.ISL_F_TAIL},
          _DAYAK_ROWS),
)  # fmt: skip
assert len(_SPECS) == 2 * len(CULTURES)

# Cultures whose names end in an inherited family name, and how many families actually carry one.
SURNAME_USE: dict[str, float] = {"batak": 0.98, "kristen_timur": 0.9, "papua": 0.9, "tionghoa": 0.6}
SURNAME_CULTURES: frozenset[int] = frozenset(CULTURE_INDEX[c] for c in SURNAME_USE)
_SURNAME_POOL = {
    CULTURE_INDEX[c]: _SPECS[CULTURE_INDEX[c], 0].pools.get("FAM", _SPECS[CULTURE_INDEX[c], 0].pools["SUR"])
    for c in SURNAME_USE
}
# roles that take the family (father's) surname: the male head, children and grandchildren
_ROLE_HEAD, _ROLE_CHILD, _ROLE_GRANDCHILD = 0, 2, 4

_VOCAB_WORDS = np.array([v.count(" ") + 1 for v in VOCAB], dtype=np.int8)
_MAX_POS = max(len(s) for sp in _SPECS.values() for s in sp.slots)


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
    vocab = np.array(VOCAB, dtype=object)
    u = rng.random(culture.size)
    for c, pool in _SURNAME_POOL.items():
        idx = np.flatnonzero((culture == c) & (u < SURNAME_USE[CULTURES[c]]))
        if idx.size:
            out[idx] = vocab[pool.draw(rng, idx.size, 2)]
    return out


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

    vocab, words = VOCAB, _VOCAB_WORDS
    if family_surname is not None:
        vocab, words = _inherit_surnames(tok, sur_pos, family_surname, role, female)
    _dedupe(tok, sur_pos, vocab)
    _cap_words(tok, words)
    series = pl.Series("v", [*vocab, None], dtype=pl.String)
    null_id = len(vocab)
    cols = [
        series.gather(np.where(tok[:, p] < 0, null_id, tok[:, p])).alias(f"w{p}") for p in range(_MAX_POS)
    ]
    out = pl.DataFrame(cols).select(pl.concat_str(pl.all(), separator=" ", ignore_nulls=True)).to_series()
    return out.to_numpy().astype(object, copy=False)


def _inherit_surnames(
    tok: np.ndarray,
    sur_pos: np.ndarray,
    family_surname: np.ndarray,
    role: np.ndarray | None,
    female: np.ndarray,
) -> tuple[list[str], np.ndarray]:
    """Put the family's surname in the surname slot of those who inherit it (in place); returns the
    vocabulary and word counts, extended by surnames the pools do not have."""
    n = len(tok)
    vocab, words = VOCAB, _VOCAB_WORDS
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
        extra = [u for u in uniq if u and u not in VOCAB_ID]
        ext_id = {u: len(VOCAB) + i for i, u in enumerate(extra)}
        ids = np.array([(VOCAB_ID.get(u, ext_id.get(u, -1)) if u else -1) for u in uniq], dtype=np.int32)
        new = ids[inv]
        ok = new >= 0
        tok[idx[ok], sur_pos[idx[ok]]] = new[ok]
        if extra:
            vocab = VOCAB + extra
            words = np.concatenate([words, np.array([len(u.split()) for u in extra], dtype=np.int8)])
    return vocab, words


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
