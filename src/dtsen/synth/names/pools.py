"""Name pools: the typed-in lists in ``synth/data/names/*.txt``, read once, and their vocabulary.

Token syntax: NAME[:weight[:era]] with default weight 2 and era "n"; "_" joins a two-word token
(ABDUL_RAHMAN). Era tags give the birth cohorts a name belongs to (multipliers below); the weights are
relative frequencies within the pool *(assumption: read from experience of Indonesian registers, school
lists and KPU voter lists, not from a published frequency table)*.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from types import SimpleNamespace

import numpy as np

ERA_EDGES = np.array([1960, 1975, 1990, 2005])  # birth-year buckets: <1960, 60-74, 75-89, 90-04, 2005+
ERA_MULT = {
    "o": (1.0, 0.45, 0.12, 0.03, 0.01),  # born before ~1960: SUPARMAN, SUKIRAH
    "p": (0.6, 1.0, 0.55, 0.2, 0.06),  # 1960s-70s: BUDI, AGUS, ENDANG, SRI
    "n": (1.0, 1.0, 1.0, 1.0, 1.0),  # timeless: MUHAMMAD, SITI, YOHANES
    "r": (0.05, 0.35, 1.0, 0.8, 0.35),  # 1975-2000: DEWI, HENDRA, YULI
    "y": (0.005, 0.03, 0.3, 1.0, 1.2),  # 1990+: RIZKY, PUTRI, AULIA
    "z": (0.001, 0.003, 0.02, 0.35, 1.5),  # 2005+: ARKAN, KEISHA, AZZAHRA
}

VOCAB: list[str] = []
VOCAB_ID: dict[str, int] = {}
MUSLIM_TOKENS: set[str] = set()
OTHER_TOKENS: set[str] = set()

Entries = list[tuple[int, float, str]]


def _tok(name: str) -> int:
    i = VOCAB_ID.get(name)
    if i is None:
        i = VOCAB_ID[name] = len(VOCAB)
        VOCAB.append(name)
    return i


def parse_pool(text: str, *, muslim: bool = True, weight: float = 2.0) -> Entries:
    """Parse a pool block; remembers which words mark a (non-)Muslim name for the hajj titles."""
    out: Entries = []
    for raw in text.split():
        parts = raw.split(":")
        name = parts[0].replace("_", " ")
        w = float(parts[1]) if len(parts) > 1 and parts[1] else weight
        era = parts[2] if len(parts) > 2 else "n"
        if era not in ERA_MULT or not re.fullmatch(r"[A-Z]+( [A-Z]+)?", name):
            raise ValueError(f"bad pool token {raw!r}")
        out.append((_tok(name), w, era))
        (MUSLIM_TOKENS if muslim else OTHER_TOKENS).add(name.split(" ")[0])
    return out


def mix(*parts: Entries | tuple[Entries, float]) -> Entries:
    out: Entries = []
    for part in parts:
        entries, mult = part if isinstance(part, tuple) else (part, 1.0)
        out.extend((t, w * mult, e) for t, w, e in entries)
    return out


@dataclass(frozen=True)
class Pool:
    """Token ids with cumulative probabilities per birth-era bucket."""

    ids: np.ndarray
    cum: np.ndarray  # (5, len(ids))

    @classmethod
    def of(cls, entries: Entries) -> Pool:
        ids = np.array([t for t, _, _ in entries], dtype=np.int32)
        w = np.array([[wt * ERA_MULT[e][k] for _, wt, e in entries] for k in range(5)])
        cum = np.cumsum(w, axis=1)
        cum /= cum[:, -1:]
        cum[:, -1] = 1.0
        return cls(ids, cum)

    def draw(self, rng: np.random.Generator, m: int, era: int) -> np.ndarray:
        if self.ids.size == 1:
            return np.full(m, self.ids[0], dtype=np.int32)
        return self.ids[np.searchsorted(self.cum[era], rng.random(m), side="right")]


# Pool files in data/names, one per cultural block, in the order their words enter the vocabulary.
POOL_FILES: tuple[str, ...] = (
    "islamic",
    "jawa",
    "sunda",
    "melayu",
    "aceh_minang",
    "bugis_makassar",
    "sasak_bima",
    "banjar",
    "batak",
    "bali",
    "kristen_timur",
    "papua",
    "tionghoa",
    "dayak",
)
NAMES_DATA = resources.files("dtsen.synth") / "data" / "names"
_POOL_HEADER = re.compile(r"\[([A-Z][A-Z0-9_]*)( non-muslim)?\]")


def parse_pool_file(file: str, text: str) -> dict[str, Entries]:
    """Pools of one file: a ``[NAME]`` (or ``[NAME non-muslim]``) header, then lines of tokens."""
    sections: list[tuple[str, bool, int, list[str]]] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        header = _POOL_HEADER.fullmatch(line)
        if header:
            sections.append((header[1], header[2] is None, lineno, []))
        elif sections:
            sections[-1][3].append(line)
        else:
            raise ValueError(f"data/names/{file} line {lineno}: names before the first [POOL] header")
    pools: dict[str, Entries] = {}
    for name, muslim, lineno, lines in sections:
        if name in pools:
            raise ValueError(f"data/names/{file} line {lineno}: pool [{name}] defined twice")
        try:
            pools[name] = parse_pool(" ".join(lines), muslim=muslim)
        except ValueError as exc:
            raise ValueError(f"data/names/{file}, pool [{name}] at line {lineno}: {exc}") from None
    return pools


def _load_pools() -> dict[str, Entries]:
    """Every name pool of the package data by name, read once at import."""
    pools: dict[str, Entries] = {}
    for stem in POOL_FILES:
        file = f"{stem}.txt"
        found = parse_pool_file(file, (NAMES_DATA / file).read_text(encoding="utf-8"))
        twice = sorted(found.keys() & pools.keys())
        if twice:
            raise ValueError(f"data/names/{file}: pool(s) {', '.join(twice)} already defined in another file")
        pools.update(found)
    return pools


POOLS = SimpleNamespace(**_load_pools())  # every pool by name: POOLS.JV_M_OLD
