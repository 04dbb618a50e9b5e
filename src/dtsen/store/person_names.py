"""Names as the registry compares them: :func:`normalize_name` (the spelling stored in ``nama_norm``)
and :func:`mask_name` (what the public may see of a name).
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from typing import Any


@cache
def _name_rules() -> tuple[Any, ...]:
    """The ingestion's name rules (dtsen.sources.names), compiled once; imported lazily (Ibis)."""
    from dtsen.sources import names as t

    fold = str.maketrans(t.FOLD_FROM, t.FOLD_TO, t.ZERO_WIDTH)  # zero-width characters deleted
    return (
        fold,
        t.FOLD_MULTI,
        t.FULL_UPPER_LATIN,
        re.compile(t.FULL_UPPER_OTHER),
        (re.compile(t.HAS_SUFFIX_HINT), re.compile(t.SUFFIX_RE)),
        (re.compile(t.HAS_PREFIX_HINT), re.compile(t.PREFIX_RE)),
        (re.compile(t.HAS_CANON_HINT), [(re.compile(pattern), repl) for pattern, repl in t.NAME_CANON]),
        t.NAME_OLD_SPELLING,
    )


def normalize_name(text: str | None) -> str:
    """A name as the registry stores it in ``nama_norm``: upper case, accents folded, titles (H., DR.,
    S.PD) dropped, the canonical spellings of ingestion (MOCH -> MUHAMMAD, OE -> U), letters and single
    spaces only, apostrophes dropped. Empty when nothing of a name is left.

    The Python twin of the ingestion's name pipeline (an Ibis expression in
    :mod:`dtsen.sources.names`, whose rules it reuses): persons' ``nama`` in a snapshot is already
    that canonical form, so a citizen's or officer's spelling is compared after the same steps.
    """
    # Twice: ingestion ran the rules once before the registry stored ``nama`` ("H.SUGIANTO" -> "H
    # SUGIANTO"), and nama_norm runs them on that again ("SUGIANTO").
    return _normalize_once(_normalize_once(text))


def _normalize_once(text: str | None) -> str:
    if not text:
        return ""
    fold, multi, full_upper, full_other, suffix, prefix, canon, old = _name_rules()
    value = unicodedata.normalize("NFC", str(text)).strip()
    if not value.isascii():  # folded, then upper-cased alike on both engines, as ingestion does
        value = value.translate(fold)
        for letter, ascii_form in multi.items():
            value = value.replace(letter, ascii_form)
        value = full_other.sub(" ", value)
        for letter, capital in full_upper.items():
            value = value.replace(letter, capital)
    value = value.upper()
    if suffix[0].search(value):  # each rule only where ingestion's cheap pre-test lets it run
        value = suffix[1].sub("", value)
    value = " ".join(value.split())
    if prefix[0].search(value):
        value = prefix[1].sub("", value)
    value = re.sub(r"[^A-Z' ]", " ", value)
    if canon[0].search(value):
        for pattern, repl in canon[1]:
            value = pattern.sub(repl, value)
    for before, after in old:
        value = value.replace(before, after)
    return " ".join(value.replace("'", "").split())


def mask_name(name: str | None) -> str:
    """``SITI AMINAH`` -> ``SI** AM****``: each word's first two letters, as the public Cek Bansos shows."""
    if not name:
        return ""
    return " ".join(word[:2] + "*" * max(len(word) - 2, 0) for word in name.split())
