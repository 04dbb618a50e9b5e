"""Name standardization rules as data, and the Ibis steps that apply them to a text column.

Titles (H., DR., S.PD), canonical spellings (MOCH -> MUHAMMAD, ABD -> ABDUL), Van Ophuijsen spellings
(SOEKARNO -> SUKARNO) and the folding of accented letters to ASCII. The ingestion's ``name`` field kind
(:class:`NameField`, below) runs them as Ibis expressions; :func:`dtsen.store.person_names.normalize_name`
and the snapshot loader run the same rules in Python and SQL, so a citizen's spelling is compared after
the same steps.
"""

from __future__ import annotations

import json
import re
import unicodedata
from importlib import resources

import ibis
import ibis.expr.types as ir

from dtsen.sources.fields import NULL_STR, FieldKind, Stage

TITLE_PREFIXES = [
    "H",
    "HJ",
    "HAJI",
    "HAJJAH",
    "DR",
    "DRS",
    "DRA",
    "IR",
    "PROF",
    "KH",
    "TGK",
    "USTADZ",
    "USTADZAH",
    # honorifics of address and of the deceased (Bapak, Ibu, Nyonya, Saudara/i, Almarhum/ah)
    "BPK",
    "BAPAK",
    "IBU",
    "NY",
    "NYONYA",
    "SDR",
    "SDRI",
    "ALM",
    "ALMH",
    "ALMARHUM",
    "ALMARHUMAH",
]
TITLE_SUFFIXES = [
    r"S\.?\s?PD\.?\s?I",
    r"S\.?\s?PD",
    r"S\.?\s?E",
    r"S\.?\s?KOM",
    r"S\.?\s?H",
    r"S\.?\s?T",
    r"S\.?\s?SOS",
    r"S\.?\s?AG",
    r"S\.?\s?IP",
    r"S\.?\s?KEP",
    r"S\.?\s?FARM",
    r"S\.?\s?KED",
    r"S\.?\s?SI",
    r"S\.?\s?HUT",
    r"S\.?\s?P",
    r"S\.?\s?PT",
    r"A\.?\s?MD(?:\.?\s?KEP)?",
    r"AMD",
    r"M\.?\s?M",
    r"M\.?\s?PD",
    r"M\.?\s?SI",
    r"M\.?\s?KES",
    r"M\.?\s?SC",
    r"M\.?\s?T",
    r"M\.?\s?H",
    r"M\.?\s?AG",
    r"SE",
    r"SH",
    r"ST",
    # bachelor's, master's and doctor's degrees written the English way: dotted only (BA is a name)
    r"B\.\s?A",
    r"B\.\s?SC",
    r"M\.\s?A",
    r"PH\.\s?D",
    r"S\.\s?S",
    r"S\.?\s?PSI",
    r"S\.?\s?KM",
]
_SUFFIX_ALT = "|".join(TITLE_SUFFIXES)
SUFFIX_RE = rf"(?:,\s*|\s+)((?:{_SUFFIX_ALT})\.?(?:[\s,]+(?:{_SUFFIX_ALT})\.?)*)\s*$"
PREFIX_RE = rf"^((?:(?:{'|'.join(TITLE_PREFIXES)})\.?\s+)+)"
# canonical spellings for matching (the original spelling stays in nama_asli)
MUHAMMAD_SPELLINGS = [
    "MUHAMAD",
    "MOHAMAD",
    "MOHAMMAD",
    "MOHAMMED",
    "MOCHAMAD",
    "MOCHAMMAD",
    "MUCHAMAD",
    "MUCHAMMAD",
    "MUHAMMED",
    "MOHAMED",
    "MOCH",
    "MOH",
    "MUH",
    "MHD",
    "MUHD",
    "MOHD",
]
NAME_CANON: list[tuple[str, str]] = [
    (rf"\b(?:{'|'.join(MUHAMMAD_SPELLINGS)})\b", "MUHAMMAD"),
    (r"^M\s+", "MUHAMMAD "),
    (r"\bABD\b", "ABDUL"),
    (r"\bSTI\b", "SITI"),
]
NAME_OLD_SPELLING = [("OE", "U"), ("DJ", "J"), ("TJ", "C")]  # Van Ophuijsen spellings (SOEKARNO, DJOKO)
# cheap pre-tests so the long patterns run only on the few names they can change
HAS_SUFFIX_HINT = r"(?:,|\bS\.|\bS\s?[EHTP]\b|\bA\.?\s?MD|\bM\.\s?[A-Z]|\bB\.\s?(?:A|SC)\b|\bPH\.\s?D\b)"
HAS_PREFIX_HINT = rf"^(?:{'|'.join(TITLE_PREFIXES)})\b"
HAS_CANON_HINT = r"(?:MOH|MUH|MOC|MUC|MHD|ABD|STI|^M\s)"

NON_ASCII = r"[^\x00-\x7f]"  # a name with such a letter is folded to ASCII first
# Zero-width characters (ZWSP, ZWNJ, ZWJ, word joiner, BOM) and the soft hyphen: deleted, not a space
ZERO_WIDTH = "\u00ad\u200b\u200c\u200d\u2060\ufeff"
ZERO_WIDTH_RE = f"[{ZERO_WIDTH}]"
# Latin letters that Unicode does not decompose (NFKD leaves them whole), spelled as ASCII names do
LATIN_EXTRA = {
    "Æ": "AE",
    "æ": "ae",
    "Œ": "OE",
    "œ": "oe",
    "Ø": "O",
    "ø": "o",
    "Đ": "D",
    "đ": "d",
    "Ð": "D",
    "ð": "d",
    "Ł": "L",
    "ł": "l",
    "Þ": "TH",
    "þ": "th",
    "ı": "i",
    "Ħ": "H",
    "ħ": "h",
    "Ŋ": "NG",
    "ŋ": "ng",
    "ĸ": "q",
    "Ŧ": "T",
    "ŧ": "t",
    "ß": "ss",
    "ẞ": "SS",
}


def _confusables() -> dict[str, str]:
    """Letters of other scripts that look like one Latin letter (Cyrillic А, Greek Η, Cherokee Ꭺ), from
    the Unicode TR39 confusables data shipped by ``confusable-homoglyphs``: each to that letter, so a
    name typed with a Cyrillic keyboard layout (АHMAD) keeps its letters. TR39 skeletons map I to l;
    an upper-case look-alike of l is an I in a name."""
    data = json.loads(resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text())
    out: dict[str, str] = {}
    for char, glyphs in data.items():
        if len(char) != 1 or char.isascii() or not unicodedata.category(char).startswith("L"):
            continue
        latin = [g["c"] for g in glyphs if len(g["c"]) == 1 and g["c"].isascii() and g["c"].isalpha()]
        if latin:
            out[char] = "I" if latin[0] == "l" and char.isupper() else latin[0]
    return out


def _fold_table() -> tuple[str, str, dict[str, str]]:
    """Latin letters with accents or compatibility forms folded to ASCII as Unicode NFKD spells them
    (É -> E, ǰ -> j, Ａ -> A, ﬁ -> fi), then the Latin letters NFKD leaves whole (:data:`LATIN_EXTRA`)
    and the look-alikes of other scripts (:func:`_confusables`): one-letter folds for ``translate``,
    longer ones for ``replace``."""
    single: dict[str, str] = {}
    multi: dict[str, str] = {}
    for code in range(0x80, 0x10000):
        c = chr(code)
        if 0xD800 <= code <= 0xDFFF:
            continue
        base = "".join(x for x in unicodedata.normalize("NFKD", c) if not unicodedata.combining(x))
        if base == c or not unicodedata.category(c).startswith("L") or not re.fullmatch("[A-Za-z]+", base):
            continue  # letters only: symbols such as ™ or ㎏ are no part of a name
        (single if len(base) == 1 else multi)[c] = base
    for table in (LATIN_EXTRA, _confusables()):
        for c, base in table.items():
            if c not in single and c not in multi and ord(c) < 0x10000:
                (single if len(base) == 1 else multi)[c] = base
    return "".join(single), "".join(single.values()), multi


FOLD_FROM, FOLD_TO, FOLD_MULTI = _fold_table()


def fold(v: ir.StringValue) -> ir.StringValue:
    """Accented and compatibility Latin letters folded to ASCII as NFKD spells them (JOSÉ -> JOSE), other
    Latin letters and look-alikes of other scripts to the ASCII letter (see :func:`_fold_table`), and
    zero-width characters deleted."""
    folded = v.re_replace(ZERO_WIDTH_RE, "").translate(FOLD_FROM, FOLD_TO)
    for letter, ascii_form in FOLD_MULTI.items():
        folded = folded.replace(letter, ascii_form)
    return folded


# Letters whose capital is two or more characters (ß -> SS, ﬁ -> FI, ΐ -> Ϊ́): Spark (Java) upper-cases
# them so, DuckDB leaves them (or writes ẞ). For names, those with a Latin capital are spelled out before
# upper() and the others (Greek, Armenian: never part of a canonical name) become spaces, on every engine.
FULL_UPPER = {c: c.upper() for c in map(chr, range(0x10000)) if len(c.upper()) > 1}
FULL_UPPER_LATIN = {c: u for c, u in FULL_UPPER.items() if re.search("[A-Z]", u)}
FULL_UPPER_OTHER = f"[{''.join(c for c in FULL_UPPER if c not in FULL_UPPER_LATIN)}]"
FULL_UPPER_HINT = f"[{''.join(FULL_UPPER)}]"


def full_upper(v: ir.StringValue) -> ir.StringValue:
    """``v.upper()`` alike on both engines (see :data:`FULL_UPPER`)."""
    spelled = v.re_replace(FULL_UPPER_OTHER, " ")
    for letter, capital in FULL_UPPER_LATIN.items():
        spelled = spelled.replace(letter, capital)
    return ibis.ifelse(v.re_search(FULL_UPPER_HINT).fill_null(False), spelled, v).upper()


class NameField(FieldKind):
    """A person's name: accents folded, upper case, titles split off to ``gelar``, letters only,
    canonical spellings (:mod:`dtsen.sources.names`); the original goes to ``nama_asli``."""

    types = ("name",)

    def prepare(self) -> list[Stage]:
        def upper(s: ir.Table) -> dict[str, ir.Value]:
            raw = s[self.col("raw")]
            foreign = raw.re_search(NON_ASCII).fill_null(False)
            return {self.col("up"): ibis.ifelse(foreign, full_upper(fold(raw)), raw.upper())}

        def hint(s: ir.Table) -> dict[str, ir.Value]:
            up = s[self.col("up")]
            return {self.col("up"): up, self.col("sfx"): up.re_search(HAS_SUFFIX_HINT).fill_null(False)}

        return [upper, hint]

    def derive(self) -> list[Stage]:
        """Split off trailing then leading titles, spaces, letters only, canonical spellings: one named
        step each, and each costly regular expression only on the names a cheap test says it changes."""

        def suffix(p: ir.Table) -> dict[str, ir.Value]:
            up, hint = p[self.col("up")], p[self.col("sfx")]
            return {
                self.col("suffix"): ibis.ifelse(hint, up.re_extract(SUFFIX_RE, 1), NULL_STR),
                self.col("ns"): ibis.ifelse(hint, up.re_replace(SUFFIX_RE, ""), up),
            }

        def spaced(s: ir.Table) -> dict[str, ir.Value]:  # runs of whitespace -> one space, ends stripped
            v = s[self.col("ns")]
            # all that the replace or the strip (which also takes \v) can change
            odd = v.re_search(r"[\t\n\f\r]|\s\s|^[\s\x0b]|[\s\x0b]$").fill_null(False)
            return {self.col("nosuffix"): ibis.ifelse(odd, v.re_replace(r"\s+", " ").strip(), v)}

        def prefix_hint(s: ir.Table) -> dict[str, ir.Value]:
            return {self.col("ph"): s[self.col("nosuffix")].re_search(HAS_PREFIX_HINT).fill_null(False)}

        def prefix(s: ir.Table) -> dict[str, ir.Value]:
            base, hint = s[self.col("nosuffix")], s[self.col("ph")]
            return {
                self.col("prefix"): ibis.ifelse(hint, base.re_extract(PREFIX_RE, 1), NULL_STR),
                self.col("rest"): ibis.ifelse(hint, base.re_replace(PREFIX_RE, ""), base),
            }

        def letters(s: ir.Table) -> dict[str, ir.Value]:
            rest = s[self.col("rest")]
            odd = rest.re_search(r"[^A-Z' ]").fill_null(False)
            return {self.col("letters"): ibis.ifelse(odd, rest.re_replace(r"[^A-Z' ]", " "), rest)}

        def canonical(s: ir.Table) -> dict[str, ir.Value]:
            letters = s[self.col("letters")]
            canon = letters
            for pattern, repl in NAME_CANON:
                canon = canon.re_replace(pattern, repl)
            clean = ibis.ifelse(letters.re_search(HAS_CANON_HINT).fill_null(False), canon, letters)
            for old, new in NAME_OLD_SPELLING:
                clean = clean.replace(old, new)
            return {self.col("clean"): clean}

        def final(s: ir.Table) -> dict[str, ir.Value]:
            clean, prefix, suffix = s[self.col("clean")], s[self.col("prefix")], s[self.col("suffix")]
            # only spaces are left between letters: collapse them where there is something to collapse
            odd = clean.contains("  ") | clean.startswith(" ") | clean.endswith(" ")
            clean = ibis.ifelse(odd.fill_null(False), clean.re_replace(r"\s+", " ").strip(), clean)
            titles = (prefix.fill_null("") + " " + suffix.fill_null("")).re_replace(r"[\s,]+", " ").strip()
            return {
                self.col("val"): clean.nullif(""),
                self.col("titles"): ibis.ifelse(prefix.isnull() & suffix.isnull(), "", titles),
            }

        return [suffix, spaced, prefix_hint, prefix, letters, canonical, final]

    def check(self, p: ir.Table) -> dict[str, ir.Value]:
        original, clean, titles = p[self.col("raw")], p[self.col("val")], p[self.col("titles")]
        values = {self.name: clean}
        if "nama_asli" in self.entity and self.name == "nama":
            values["nama_asli"] = original
        if "gelar" in self.entity and self.name == "nama":
            values["gelar"] = ibis.ifelse(
                titles.fill_null("") == "", ibis.literal([], type="array<string>"), titles.split(" ")
            )
        if self.fm.required:
            self.flag(original.isnull(), f"{self.name}_missing", "error")
        self.flag(original.notnull() & clean.isnull(), f"{self.name}_no_letters")
        return values
