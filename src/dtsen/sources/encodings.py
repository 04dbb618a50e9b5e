"""What a landed text file is before it is parsed: binary or text, its encoding (BOM, declaration, NUL
pattern, UTF-16/32), its line endings and its delimiter.

Kept apart from the parsers in :mod:`dtsen.sources.readers` because the feeds (events, corrections) ask
the same questions of their files.
"""

from __future__ import annotations

import codecs
import re
from itertools import chain
from pathlib import Path

import duckdb

from dtsen.logs import get_logger
from dtsen.sources.staged import FileError, duckdb_connect

log = get_logger(__name__)
DELIMITERS = [",", ";", "\t", "|"]
SAMPLE_BYTES = 1 << 16  # read to detect binary data, encoding and delimiter


def read_sample(path: Path, size: int = SAMPLE_BYTES) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(size)


# Zip (XLSX, DOCX), OLE (XLS), PDF, gzip, Parquet, PNG: binary whatever their share of control bytes
_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0", b"%PDF", b"\x1f\x8b", b"PAR1", b"\x89PNG")
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE, whose BOM starts it
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_LONE_CR = re.compile(rb"\r(?!\n)")


def is_binary(sample: bytes | str) -> bool:
    """A known binary format, more than 2% control characters or more than 5% NULs: a few NUL bytes in a
    text file are not binary, the lines holding them are quarantined (``nul_byte``)."""
    if isinstance(sample, bytes) and sample.startswith(_MAGIC):
        return True
    codes = sample if isinstance(sample, bytes) else [ord(c) for c in sample]
    nul = sum(1 for b in codes if b == 0)
    control = sum(1 for b in codes if 0 < b < 32 and b not in (9, 10, 13))
    return len(sample) > 0 and (control / len(sample) > 0.02 or nul / len(sample) > 0.05)


def _codec(name: str) -> str:
    try:
        return codecs.lookup(name).name
    except LookupError as exc:
        raise FileError(f"unknown encoding {name!r}") from exc


def _nul_share(sample: bytes, unit: int, positions: tuple[int, ...]) -> float:
    """Share of NUL bytes at the given positions of each ``unit``-byte code unit."""
    units = [sample[i : i + unit] for i in range(0, len(sample) - unit + 1, unit)]
    if not units:
        return 0.0
    return sum(u[k] == 0 for u in units for k in positions) / (len(units) * len(positions))


def wide_encoding(sample: bytes, declared: str) -> tuple[str, int] | None:
    """UTF-16/32 as (codec with its byte order, length of the byte-order mark), else None: from the BOM,
    else a declared ``utf-16-le``..., else for a declared ``utf-16``/``utf-32`` or ``auto`` from where the
    NUL bytes of mostly-ASCII text fall (``auto`` needs a clear pattern; a declared one defaults to LE)."""
    for bom, name in _BOMS:
        if sample.startswith(bom):
            return name, len(bom)
    name = _codec(declared) if declared != "auto" else None
    if name is not None and not name.startswith(("utf-16", "utf-32")):
        return None
    if name is not None and name.endswith(("-le", "-be")):
        return name, 0
    for unit, le, be in ((4, (1, 2, 3), (0, 1, 2)), (2, (1,), (0,))):
        if name is not None and name != f"utf-{unit * 8}":
            continue
        for order, zeros in (("le", le), ("be", be)):
            others = tuple(k for k in range(unit) if k not in zeros)
            if _nul_share(sample, unit, zeros) > 0.7 and _nul_share(sample, unit, others) < 0.1:
                return f"utf-{unit * 8}-{order}", 0
        if name is not None:
            return f"{name}-le", 0
    return None


def utf8_copy(path: Path, dest: Path, wide: tuple[str, int] | None, cr_lines: bool) -> bool:
    """Write ``path`` to ``dest`` as UTF-8 (decoded from a ``wide`` encoding, else byte for byte) with
    every lone CR made a LF when ``cr_lines`` (CRLF stays): line numbers are unchanged. Returns whether
    an undecodable sequence was replaced by U+FFFD (those lines are quarantined, see ``_CarefulCsv``)."""
    decoder = codecs.getincrementaldecoder(wide[0])(errors="replace") if wide else None
    replaced, held = False, b""
    with open(path, "rb") as src, open(dest, "wb") as out:
        src.seek(wide[1] if wide else 0)
        for block in chain(iter(lambda: src.read(1 << 20), b""), [None]):
            if decoder is not None:
                text = decoder.decode(block or b"", final=block is None)
                replaced = replaced or "\ufffd" in text
                data = text.encode("utf-8")
            else:
                data = block or b""
            if cr_lines:
                data, held = held + data, b""
                if block is not None and data.endswith(b"\r"):  # it may be the CR of a CRLF
                    data, held = data[:-1], b"\r"
                data = _LONE_CR.sub(b"\n", data)
            out.write(data)
    return replaced


def detect_encoding(sample: bytes, declared: str) -> str:
    """The declared encoding, or UTF-8 when the sample decodes, else the best legacy guess."""
    if declared != "auto":
        return _codec(declared)
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data" and len(sample) >= SAMPLE_BYTES:  # cut by the sample's end
            return "utf-8"
    from charset_normalizer import from_bytes

    best = from_bytes(sample, cp_isolation=["cp1252", "latin_1", "iso8859_15", "utf_8"]).best()
    return codecs.lookup(best.encoding).name if best else "cp1252"


def sniff_delimiter(path: Path, header: str, encoding: str, declared: str) -> str:
    """The declared delimiter, else DuckDB's CSV sniffer's (it weighs the rows, not only the header;
    ``ignore_errors``: a malformed row must not sway it). The sniffer reads UTF-8 and, for delimiters,
    any single-byte encoding as Latin-1; for another encoding, or a file it refuses, the delimiter is
    the one of ``, ; tab |`` the header holds most often."""
    if declared != "auto":
        if len(declared) != 1:
            raise FileError(f"delimiter must be one character, got {declared!r}")
        return declared
    as_read = (
        "utf-8"
        if encoding in ("utf-8", "utf-8-sig", "ascii")
        else "latin-1"
        if _single_byte(encoding)
        else None
    )
    if as_read is not None:
        con = duckdb_connect()
        try:
            sql = "SELECT Delimiter FROM sniff_csv(?, encoding = ?, ignore_errors = true)"
            found = con.execute(sql, [str(path), as_read]).fetchone()
            if found and found[0] in DELIMITERS:
                return str(found[0])
        except duckdb.Error as exc:
            log.info("delimiter from the header", reason=type(exc).__name__)
        finally:
            con.close()
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def _single_byte(encoding: str) -> bool:
    """Every byte is one character and ASCII is ASCII (cp1252, latin-1, iso8859-15 ...)."""
    everything = bytes(range(256))
    try:
        text = everything.decode(encoding, errors="replace")
    except LookupError:
        return False
    unicode = codecs.lookup(encoding).name.startswith("utf")
    return not unicode and len(text) == 256 and text[:128] == everything[:128].decode("ascii")


def count_lines(path: Path) -> tuple[int, bool]:
    """Physical lines and whether the file holds a NUL byte (DuckDB's reader would keep it)."""
    n, last, nul = 0, b"", False
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            n += block.count(b"\n")
            nul = nul or b"\x00" in block
            last = block[-1:]
    return n + (0 if last in (b"\n", b"") else 1), nul
