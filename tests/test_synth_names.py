"""Synthetic names: province mixes, name shapes by culture and cohort, inherited surnames, and dirt that
changes about the requested share of applicable rows and nothing else."""

from __future__ import annotations

import re

import numpy as np
import pytest

from dtsen.synth import names as nm

ALL_PROVINCES = [
    "11",
    "12",
    "13",
    "14",
    "15",
    "16",
    "17",
    "18",
    "19",
    "21",
    "31",
    "32",
    "33",
    "34",
    "35",
    "36",
    "51",
    "52",
    "53",
    "61",
    "62",
    "63",
    "64",
    "65",
    "71",
    "72",
    "73",
    "74",
    "75",
    "76",
    "81",
    "82",
    "91",
    "92",
    "93",
    "94",
    "95",
    "96",
]
CLEAN = re.compile(r"^[A-Z]+( [A-Z]+){0,3}$")
HEAD, SPOUSE, CHILD = 0, 1, 2


def ci(name: str) -> int:
    return nm.CULTURES.index(name)


def draw(seed: int, culture: str, n: int, sex: int, birth_year: int, **kw) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return nm.draw_full_names(rng, np.full(n, sex), np.full(n, ci(culture)), np.full(n, birth_year), **kw)


@pytest.fixture(scope="module")
def population() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(2024)
    n = 60_000
    prov = rng.choice(np.array(ALL_PROVINCES), n)
    culture = nm.draw_culture(rng, prov)
    sex = rng.integers(1, 3, n)
    birth_year = rng.integers(1930, 2026, n)
    names = nm.draw_full_names(rng, sex, culture, birth_year)
    return {"culture": culture, "sex": sex, "birth_year": birth_year, "names": names}


# ---- cultures ---------------------------------------------------------------------------------------


def test_every_province_has_weights_summing_to_one() -> None:
    assert sorted(nm.PROVINCE_CODES) == ALL_PROVINCES
    w = nm.culture_weights(np.array(ALL_PROVINCES))
    assert w.shape == (38, len(nm.CULTURES))
    assert (w >= 0).all()
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    assert 8 <= len(nm.CULTURES) <= 14


@pytest.mark.parametrize(
    ("code", "culture", "at_least"),
    [
        ("51", "bali", 0.8),
        ("33", "jawa", 0.9),
        ("35", "jawa", 0.9),
        ("32", "sunda", 0.6),
        ("12", "batak", 0.4),
        ("13", "aceh_minang", 0.8),
        ("53", "kristen_timur", 0.8),
        ("95", "papua", 0.85),
        ("73", "bugis_makassar", 0.8),
        ("52", "sasak_bima", 0.85),
        ("63", "banjar", 0.6),
        ("71", "kristen_timur", 0.6),
    ],
)
def test_dominant_culture(code: str, culture: str, at_least: float) -> None:
    w = nm.culture_weights(np.array([code]))[0]
    assert w.argmax() == ci(culture)
    assert w[ci(culture)] >= at_least


def test_mixed_provinces() -> None:
    w = dict(zip(ALL_PROVINCES, nm.culture_weights(np.array(ALL_PROVINCES)), strict=True))
    assert w["31"][ci("tionghoa")] > 0.03
    assert w["31"][ci("jawa")] < 0.5
    assert w["12"][ci("jawa")] > 0.2
    assert w["12"][ci("melayu")] > 0.05
    assert w["61"][ci("dayak")] > 0.2
    assert w["61"][ci("tionghoa")] > 0.05
    for code in ("91", "92", "93", "94", "95", "96"):
        assert w[code][ci("papua")] > 0.4
        assert w[code][ci("jawa")] + w[code][ci("bugis_makassar")] > 0.04  # migrants


def test_province_code_forms() -> None:
    rows = nm.culture_weights(np.array(["3301", "33.01", "33"]))
    np.testing.assert_array_equal(rows[0], rows[1])
    np.testing.assert_array_equal(rows[0], nm.culture_weights(np.array([33, 3301]))[1])
    with pytest.raises(ValueError, match="unknown province"):
        nm.culture_weights(np.array(["99"]))


def test_draw_culture_follows_weights_and_is_deterministic() -> None:
    prov = np.array(["51"] * 20_000 + ["33"] * 20_000)
    a = nm.draw_culture(np.random.default_rng(5), prov)
    b = nm.draw_culture(np.random.default_rng(5), prov)
    assert a.dtype == np.int8
    np.testing.assert_array_equal(a, b)
    bali_share = (a[:20_000] == ci("bali")).mean()
    assert abs(bali_share - nm.culture_weights(np.array(["51"]))[0, ci("bali")]) < 0.02
    assert (a[20_000:] == ci("jawa")).mean() > 0.94


# ---- true names -------------------------------------------------------------------------------------


def test_deterministic(population: dict[str, np.ndarray]) -> None:
    p = population
    again = nm.draw_full_names(np.random.default_rng(9), p["sex"], p["culture"], p["birth_year"])
    same = nm.draw_full_names(np.random.default_rng(9), p["sex"], p["culture"], p["birth_year"])
    other = nm.draw_full_names(np.random.default_rng(10), p["sex"], p["culture"], p["birth_year"])
    assert again.tolist() == same.tolist()
    assert again.tolist() != other.tolist()


def test_clean_upper_case_one_to_four_words(population: dict[str, np.ndarray]) -> None:
    names = population["names"]
    assert names.dtype == object
    bad = [s for s in names if not CLEAN.match(s)]
    assert not bad, bad[:10]
    assert len(set(names)) > 0.3 * len(names)  # realistic: common names repeat, but not too much


def test_every_culture_sex_and_cohort_draws(population: dict[str, np.ndarray]) -> None:
    for c in range(len(nm.CULTURES)):
        for sex in (1, 2):
            for year in (1940, 1965, 1980, 1995, 2015):
                names = nm.draw_full_names(
                    np.random.default_rng(c), np.full(50, sex), np.full(50, c), np.full(50, year)
                )
                assert all(CLEAN.match(s) for s in names), (nm.CULTURES[c], sex, year)
                assert len(set(names)) > 10


def test_javanese_single_names_fall_by_cohort() -> None:
    old = draw(1, "jawa", 8000, 1, 1950).tolist() + draw(2, "jawa", 8000, 2, 1955).tolist()
    young = draw(3, "jawa", 8000, 1, 2003).tolist() + draw(4, "jawa", 8000, 2, 2012).tolist()
    single_old = np.mean([" " not in s for s in old])
    single_young = np.mean([" " not in s for s in young])
    assert single_old > 0.30
    assert single_young < 0.15
    long_young = np.mean([s.count(" ") >= 2 for s in young])
    assert long_young > 0.4  # MUHAMMAD RIZKY PRATAMA, AULIA PUTRI RAMADHANI


def test_era_pools() -> None:
    old = " ".join(draw(1, "jawa", 5000, 2, 1945))
    young = " ".join(draw(1, "jawa", 5000, 2, 2012))
    assert old.count("SUKIRAH") + old.count("SUMARNI") > young.count("SUKIRAH") + young.count("SUMARNI") + 10
    assert young.count("PUTRI") + young.count("AULIA") > 5 * (old.count("PUTRI") + old.count("AULIA") + 1)
    boys = draw(2, "jawa", 5000, 1, 2010)
    assert np.mean(["MUHAMMAD" in s.split() for s in boys]) > 0.08


def test_balinese_prefixes() -> None:
    men = draw(1, "bali", 3000, 1, 1980)
    women = draw(2, "bali", 3000, 2, 1980)
    assert all(s.startswith("I ") for s in men)
    assert all(s.startswith("NI ") for s in women)
    orders = {"WAYAN", "PUTU", "GEDE", "MADE", "KADEK", "NENGAH", "NYOMAN", "KOMANG", "KETUT"}
    assert np.mean([s.split()[1] in orders for s in men]) > 0.85


def test_batak_children_carry_fathers_marga() -> None:
    rng = np.random.default_rng(11)
    families = np.full(500, ci("batak"))
    marga = nm.family_surnames(rng, families)
    assert np.mean(marga != "") > 0.9
    fam = np.repeat(np.arange(500), 4)
    role = np.tile([HEAD, SPOUSE, CHILD, CHILD], 500)
    sex = np.tile([1, 2, 1, 2], 500)
    year = np.tile([1970, 1973, 2000, 2004], 500)
    names = nm.draw_full_names(rng, sex, families[fam], year, family_surname=marga[fam], role=role)
    has = marga[fam] != ""
    last = np.array([s.split()[-1] for s in names])
    inherit = has & (role != SPOUSE)
    assert (last[inherit] == marga[fam][inherit]).all()
    assert (
        last[has & (role == SPOUSE)] != marga[fam][has & (role == SPOUSE)]
    ).mean() > 0.8  # wife keeps hers
    daughters = names[(role == CHILD) & (sex == 2) & has]
    assert any(" BR " in s for s in daughters)  # ROSMAULI BR SIMANJUNTAK
    # without roles every row with a surname inherits it
    plain = nm.draw_full_names(rng, sex, families[fam], year, family_surname=marga[fam])
    assert all(s.split()[-1] == m for s, m in zip(plain[has], marga[fam][has], strict=True))


def test_surnames_only_where_cultures_use_them() -> None:
    rng = np.random.default_rng(12)
    cultures = np.array([ci(c) for c in nm.CULTURES] * 200)
    fam = nm.family_surnames(rng, cultures)
    for c in nm.CULTURES:
        got = fam[cultures == ci(c)]
        assert (got != "").any() == (c in nm.SURNAME_USE), c
    jawa = draw(3, "jawa", 200, 1, 1980, family_surname=np.full(200, "WIJAYA"))
    assert np.mean([s.endswith(" WIJAYA") for s in jawa]) < 0.2  # ignored: Javanese take no family name
    eastern = draw(3, "kristen_timur", 200, 1, 1980, family_surname=np.full(200, "FANGGIDAE"))
    assert np.mean([s.endswith(" FANGGIDAE") for s in eastern]) > 0.7


def test_other_cultures_look_right() -> None:
    old_chinese = draw(1, "tionghoa", 2000, 1, 1940)
    assert (
        np.mean([s.split()[0] in {"TAN", "LIE", "LIEM", "OEY", "ONG", "GO", "LIM"} for s in old_chinese])
        > 0.1
    )
    young_chinese = " ".join(draw(2, "tionghoa", 2000, 2, 2005))
    assert "WIJAYA" in young_chinese
    bugis = draw(3, "bugis_makassar", 3000, 1, 1980)
    assert np.mean([s.startswith("ANDI ") for s in bugis]) > 0.03
    sundanese = " ".join(draw(4, "sunda", 3000, 1, 1975))
    assert "ASEP" in sundanese
    assert "UJANG" in sundanese
    papua = draw(5, "papua", 2000, 1, 1985)
    assert np.mean([len(s.split()) >= 2 for s in papua]) > 0.6


# ---- dirt -------------------------------------------------------------------------------------------


def multiword(population: dict[str, np.ndarray]) -> np.ndarray:
    names = population["names"]
    return names[np.array([" " in s for s in names])]


def assert_rest_untouched(before: np.ndarray, after: np.ndarray, changed: np.ndarray) -> None:
    assert after.shape == before.shape
    assert changed.dtype == bool
    assert after[~changed].tolist() == before[~changed].tolist()
    assert all(a != b for a, b in zip(after[changed], before[changed], strict=True))


def assert_tidy(names: np.ndarray) -> None:
    for s in names:
        assert s == s.strip(), s
        assert "  " not in s, s
        assert s == s.upper(), s


@pytest.mark.parametrize("rate", [0.05, 0.3])
def test_name_variants_rate_and_rest_untouched(population: dict[str, np.ndarray], rate: float) -> None:
    names = multiword(population)  # every multi-word name has an applicable variant
    out, changed = nm.name_variants(np.random.default_rng(1), names, rate)
    assert abs(changed.mean() - rate) < 0.02
    assert_rest_untouched(names, out, changed)
    assert_tidy(out)
    again, _ = nm.name_variants(np.random.default_rng(1), names, rate)
    assert again.tolist() == out.tolist()


def test_muhammad_and_other_variants_appear() -> None:
    names = np.array(["MUHAMMAD RIZKY PRATAMA"] * 3000, dtype=object)
    out, changed = nm.name_variants(np.random.default_rng(2), names, 1.0)
    assert changed.all()
    firsts = {s.split()[0] for s in out}
    assert {"MUHAMAD", "MOHAMAD", "MOH.", "MUH.", "M."} <= firsts
    assert "MUHAMMAD R. PRATAMA" in set(out)
    assert "MUHAMMAD RIZKY" in set(out)
    old = np.array(
        ["SUKARNO", "SITI AMINAH", "ABDUL RAHMAN", "JOKO SUSILO", "NURHAYATI", "CAHYO"] * 500, dtype=object
    )
    out, _ = nm.name_variants(np.random.default_rng(3), old, 1.0)
    got = set(out)
    for expected in ("SOEKARNO", "STI AMINAH", "ABD. RAHMAN", "DJOKO SUSILO", "NUR HAYATI", "TJAHYO"):
        assert expected in got, expected


def test_single_word_without_rules_is_not_applicable() -> None:
    names = np.array(["X", "", "BAMBANG"], dtype=object)
    out, changed = nm.name_variants(np.random.default_rng(4), names, 1.0)
    assert not changed[:2].any()
    assert out[:2].tolist() == ["X", ""]


def levenshtein_or_swap(a: str, b: str) -> int:
    """Edit distance counting an adjacent transposition as one edit."""
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[-1][-1]


@pytest.mark.parametrize("rate", [0.05, 0.3])
def test_typos_rate_single_edit(population: dict[str, np.ndarray], rate: float) -> None:
    names = population["names"]
    out, changed = nm.typos(np.random.default_rng(5), names, rate)
    assert abs(changed.mean() - rate) < 0.02  # nearly every name has three letters
    assert_rest_untouched(names, out, changed)
    assert_tidy(out)
    idx = np.flatnonzero(changed)[:500]
    assert all(levenshtein_or_swap(names[i], out[i]) <= 2 for i in idx)  # RN -> M is two
    assert np.mean([levenshtein_or_swap(names[i], out[i]) == 1 for i in idx]) > 0.9


@pytest.mark.parametrize("rate", [0.05, 0.5])
def test_titles_rate_applicable_only(rate: float) -> None:
    n = 4000
    muslim = np.array(
        ["SITI AMINAH", "AHMAD FAUZI", "MUHAMMAD RIZKY PRATAMA", "NUR HAYATI"] * (n // 4), dtype=object
    )
    sex = np.tile([2, 1, 1, 2], n // 4)
    out, changed = nm.add_titles(np.random.default_rng(6), muslim, sex, np.full(n, 50), np.full(n, 5), rate)
    assert abs(changed.mean() - rate) < 0.03
    assert_rest_untouched(muslim, out, changed)
    assert_tidy(out)
    # children and non-Muslim uneducated adults have nothing applicable
    kids, ch_kids = nm.add_titles(np.random.default_rng(7), muslim, sex, np.full(n, 10), np.full(n, 0), 1.0)
    assert not ch_kids.any()
    assert kids.tolist() == muslim.tolist()
    bali = np.array(["I WAYAN SUDARSANA", "NI MADE AYU"] * (n // 2), dtype=object)
    _, ch_bali = nm.add_titles(
        np.random.default_rng(8), bali, np.tile([1, 2], n // 2), np.full(n, 60), np.full(n, 1), 1.0
    )
    assert not ch_bali.any()


def test_titles_look_like_sources() -> None:
    n = 6000
    names = np.array(["AHMAD FAUZI", "SITI AMINAH"] * (n // 2), dtype=object)
    sex = np.tile([1, 2], n // 2)
    age = np.tile([62, 62, 30, 30], n // 4)
    edu = np.tile([6, 5, 5, 4], n // 4)
    out, changed = nm.add_titles(np.random.default_rng(9), names, sex, age, edu, 1.0)
    assert changed.all()
    joined = "\n".join(out)
    for pattern in (
        r"^H\. AHMAD",
        r"^HJ\.? SITI",
        r"^DRS\.? ",
        r"^DRA\.? ",
        r", ?S\.PD",
        r"A\.?MD",
        r"M\.PD|M\.M",
    ):
        assert re.search(pattern, joined, re.MULTILINE), pattern
    hajj = out[(sex == 2) & np.array([s.startswith("HJ") for s in out])]
    assert len(hajj) > 0
    men = out[sex == 1]
    assert not any(s.startswith("HJ") for s in men)
    _out2, changed2 = nm.add_titles(np.random.default_rng(9), names, sex, age, None, 0.2)
    assert 0.1 < changed2.mean() < 0.3  # without education only hajj titles and a few assumed graduates


def test_dirt_keeps_none_and_empty() -> None:
    names = np.array(["AHMAD", None, ""], dtype=object)
    for out, changed in (
        nm.name_variants(np.random.default_rng(1), names, 1.0),
        nm.typos(np.random.default_rng(1), names, 1.0),
        nm.add_titles(np.random.default_rng(1), names, np.ones(3), np.full(3, 50), None, 1.0),
    ):
        assert out[1] is None
        assert out[2] == ""
        assert not changed[1:].any()


@pytest.mark.slow
def test_million_rows_smoke() -> None:
    """Runs the full path at the generator's scale (no timing assertions; see the module report)."""
    rng = np.random.default_rng(0)
    n = 1_000_000
    culture = nm.draw_culture(rng, rng.choice(np.array(ALL_PROVINCES), n))
    sex = rng.integers(1, 3, n)
    year = rng.integers(1930, 2026, n)
    names = nm.draw_full_names(rng, sex, culture, year, family_surname=nm.family_surnames(rng, culture))
    out, _ = nm.name_variants(rng, names, 0.05)
    out, _ = nm.add_titles(rng, out, sex, 2026 - year, rng.integers(0, 7, n), 0.05)
    out, _ = nm.typos(rng, out, 0.05)
    assert len(out) == n


def test_every_pool_file_is_read() -> None:
    """A pool file added to the package data but not to POOL_FILES would be silently ignored."""
    shipped = {p.name.removesuffix(".txt") for p in nm.NAMES_DATA.iterdir() if p.name.endswith(".txt")}
    assert shipped == set(nm.POOL_FILES)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("BUDI:2\n", r"x\.txt line 1: names before the first \[POOL\] header"),
        ("# comment\n[JV_X]\nBUDI:2:q\n", r"x\.txt, pool \[JV_X\] at line 2: bad pool token 'BUDI:2:q'"),
        ("[JV_X]\nbudi\n", r"pool \[JV_X\] at line 1: bad pool token 'budi'"),
        ("[JV_X]\n\n[JV_X]\n", r"x\.txt line 3: pool \[JV_X\] defined twice"),
    ],
)
def test_bad_pool_file_names_file_line_and_token(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        nm.parse_pool_file("x.txt", text)
