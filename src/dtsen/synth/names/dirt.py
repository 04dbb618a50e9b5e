"""The dirt field copies add to names: hajj and degree titles, spelling variants, typos.

The functions loop in Python only over the rows they change.
"""

from __future__ import annotations

import random
import re
from bisect import bisect_right
from itertools import accumulate

import numpy as np
import polars as pl

from dtsen.synth.names.pools import MUSLIM_TOKENS, OTHER_TOKENS


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


_NON_MUSLIM_FIRST = sorted((OTHER_TOKENS - MUSLIM_TOKENS) | {"I", "NI"})
MIN_HAJJ_AGE = 35  # hajj waiting lists are decades long: the title sits on older people *(assumption)*
MIN_DEGREE_AGE = 21
GRADUATE_SHARE_IF_UNKNOWN = 0.10  # adults 23+ treated as graduates when education is not given

_HAJJ_M = (("H. ", 55), ("H.", 15), ("H ", 22), ("HAJI ", 5), ("H, ", 3))
_HAJJ_F = (("HJ. ", 50), ("HJ ", 25), ("HJ.", 15), ("HAJAH ", 5), ("HJH ", 5))
_S1 = (
    ("S.PD", 25),
    ("S.E", 15),
    ("S.H", 8),
    ("S.KOM", 6),
    ("S.SOS", 6),
    ("S.T", 6),
    ("S.AG", 5),
    ("S.PD.I", 5),
    ("S.KEP", 4),
    ("S.IP", 3),
    ("S.P", 3),
    ("S.SI", 4),
    ("S.FARM", 1),
    ("S.KM", 2),
    ("S.AK", 2),
    ("S.HUT", 1),
    ("S.IKOM", 1),
    ("S.KED", 1),
    ("S.TR.KEP", 1),
)
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
    ("MUHAMMAD", 10),
    ("MUHAMAD", 8),
    ("MOHAMAD", 6),
    ("MOHAMMAD", 6),
    ("MOCHAMAD", 4),
    ("MOCHAMMAD", 2),
    ("MOH.", 8),
    ("MUH.", 8),
    ("M.", 12),
    ("MOH", 4),
    ("MUH", 3),
    ("M", 4),
    ("MUHAMAT", 1),
    ("MOHAMED", 1),
)
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
        (rf"(?<=[{_C}])U", "OE", 1),
        (r"OE", "U", 6),
        (r"(?<!D)J", "DJ", 2),
        (r"DJ", "J", 6),
        (r"C(?!H)", "TJ", 2),
        (r"TJ", "C", 6),
        (r"(?<=[AIUEO])Y(?=[AIUEO])|\bY(?=[AIUEO])", "J", 2),
        (r"KH", "CH", 3),
        (r"(?<=[AIUEO])CH", "KH", 1),
        (r"IY(?=[AO])", "I", 3),
        (rf"(?<=[{_C}])I(?=[AOU])", "IY", 1.5),
        (rf"(?<=[{_C}]{{2}})O\b|(?<=[AIUE][{_C}])O\b", "A", 1),
        (r"DH", "D", 3),
        (r"SY", "S", 2),
        (r"AI", "AE", 3),
        (r"AE", "AI", 3),
        (r"Q", "K", 2),
        (r"F", "P", 1.5),
        (r"TH", "T", 2),
        (r"I\b", "Y", 2),
        (r"(?<=[AEOU][A-Z])Y\b", "I", 3),
        (r"([MDLNST])\1", r"\1", 3),
        (r"UDIN\b", "UDDIN", 2),
        (r"Z(?=K)", "S", 2),
        (r"IE\b", "I", 1),
        (r"Z(?=[AE]N)", "J", 0.5),
    )
)
_STRUCTURAL = (
    ("abbr_middle", 4),
    ("abbr_last", 1),
    ("abbr_first", 0.5),
    ("swap", 1.5),
    ("drop_last", 3),
    ("drop_first", 1),
    ("merge", 1.5),
    ("split", 2),
)
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
    "A": "QWSZ",
    "B": "VGHN",
    "C": "XDFV",
    "D": "SERFCX",
    "E": "WSDR",
    "F": "DRTGVC",
    "G": "FTYHBV",
    "H": "GYUJNB",
    "I": "UJKO",
    "J": "HUIKMN",
    "K": "JIOLM",
    "L": "KOP",
    "M": "NJK",
    "N": "BHJM",
    "O": "IKLP",
    "P": "OL",
    "Q": "WA",
    "R": "EDFT",
    "S": "AWEDXZ",
    "T": "RFGY",
    "U": "YHJI",
    "V": "CFGB",
    "W": "QASE",
    "X": "ZSDC",
    "Y": "TGHU",
    "Z": "ASX",
}
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
