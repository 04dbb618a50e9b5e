"""Structured logging through the standard library, with personal data masked before any handler sees it.

Two defences, because either alone leaks: (1) context values under personal-data keys (``nik``,
``nama``, ...) are masked; (2) every message and value is scanned for NIK/KK-shaped numbers (16 digits,
also spaced, dotted or in Excel's scientific form). Names cannot be recognised in free text, so code
must pass them only as context under a personal-data key or wrapped in :class:`Pii`.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

PII_KEYS = frozenset(
    {
        "nik",
        "no_kk",
        "kk",
        "nomor_kk",
        "nama",
        "name",
        "nama_lengkap",
        "full_name",
        "first_name",
        "last_name",
        "alamat",
        "address",
        "tanggal_lahir",
        "tgl_lahir",
        "birth_date",
        "phone",
        "telepon",
        "email",
        "ibu_kandung",
        "mother_name",
    }
)

# 16 digits, optionally separated by the separators nik.clean_identifier accepts (space . - / _ ');
# and Excel's 3.27E+15 rendering, also with the decimal comma of an Indonesian-locale spreadsheet.
_NIK_RE = re.compile(r"(?<!\d)(?:\d[ .\-/_']?){14,15}\d(?!\d)")  # a NIK or KK, also one digit short
_SCI_RE = re.compile(r"(?<![\w.,])\d[.,]\d+[eE]\+?1[45](?![\w])")
_MAX_DEPTH = 6

_context: contextvars.ContextVar[Mapping[str, Any] | None] = contextvars.ContextVar(
    "dtsen_log_context", default=None
)


class Pii:
    """Wraps a personal value so that formatting it anywhere yields a mask, never the value."""

    __slots__ = ("_value",)

    def __init__(self, value: object) -> None:
        self._value = value

    @property
    def value(self) -> object:
        return self._value

    def __str__(self) -> str:
        return mask_value(self._value)

    __repr__ = __str__
    __format__ = lambda self, spec: str(self)  # noqa: E731


def mask_value(value: object) -> str:
    """A fixed-shape mask that keeps length class and last two characters only for long identifiers."""
    text = "" if value is None else str(value)
    if not text:
        return ""
    if text.isdigit() and len(text) >= 12:
        return "*" * (len(text) - 2) + text[-2:]
    return "***"


def scrub(text: str) -> str:
    """Mask NIK/KK-shaped numbers inside free text."""
    text = _NIK_RE.sub(lambda m: "****************"[: len(m.group(0)) - 2] + "**", text)
    return _SCI_RE.sub("*.**E+15", text)


def _clean(key: str, value: Any, depth: int = 0) -> Any:
    if key.lower() in PII_KEYS or isinstance(value, Pii):
        return mask_value(value.value if isinstance(value, Pii) else value)
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):  # a NIK from a numeric column is still a NIK
        text = str(value)
        return value if scrub(text) == text else scrub(text)
    if depth >= _MAX_DEPTH:
        return "***"
    if isinstance(value, Mapping):  # personal-data keys inside nested fields are masked too
        return {str(k): _clean(str(k), v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_clean(key, v, depth + 1) for v in value]
    return scrub(str(value))


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Adds fields (run id, batch, source, stage...) to every record logged inside the block."""
    token = _context.set({**(_context.get() or {}), **fields})
    try:
        yield
    finally:
        _context.reset(token)


class MaskingFilter(logging.Filter):
    """Runs on the handler, so records from any library are masked as well as ours."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        record.msg = scrub(message)
        record.args = None
        fields = {**(_context.get() or {}), **getattr(record, "fields", {})}
        record.fields = {k: _clean(k, v) for k, v in fields.items()}
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        # other libraries' messages may span lines: continuation lines are indented, so a line that
        # starts at column 0 is always the start of a record
        msg = record.getMessage().replace("\n", "\n    ")
        base = f"{self.formatTime(record, '%H:%M:%S')} {record.levelname:<7} {record.name}: {msg}"
        fields = getattr(record, "fields", {})
        if fields:
            base += " " + " ".join(f"{k}={v}" for k, v in fields.items())
        if record.exc_text:
            base += "\n" + record.exc_text
        return base


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.msg,
            **getattr(record, "fields", {}),
        }
        if record.exc_text:
            payload["exc"] = record.exc_text
        return json.dumps(payload, ensure_ascii=False, default=str)


class _CurrentStderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at emit time, so a replaced-then-closed stderr (test runners,
    embedding applications) never leaves a handler pointing at a closed file."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure_logging(level: str = "INFO", fmt: str = "text", stream: Any = None) -> None:
    """Installs one masked handler on the root logger (idempotent: replaces an earlier dtsen handler)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_dtsen", False):
            root.removeHandler(handler)
    handler: logging.Handler = (
        logging.StreamHandler(stream) if stream is not None else _CurrentStderrHandler()
    )
    handler._dtsen = True  # type: ignore[attr-defined]
    handler.addFilter(MaskingFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("py4j", "urllib3", "asyncio"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def get_logger(name: str) -> logging.LoggerAdapter[logging.Logger]:
    """A logger whose ``extra`` fields become structured context: ``log.info("x", extra={"fields": {...}})``
    or, shorter, ``log.info("x", rows=3)`` through :class:`FieldAdapter`."""
    return FieldAdapter(logging.getLogger(name), {})


class FieldAdapter(logging.LoggerAdapter):  # type: ignore[type-arg]
    """Lets callers pass structured fields as keyword arguments: ``log.info("landed", rows=10)``."""

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        reserved = {"exc_info", "stack_info", "stacklevel", "extra"}
        fields = {k: kwargs.pop(k) for k in list(kwargs) if k not in reserved}
        extra = dict(kwargs.pop("extra", None) or {})
        extra["fields"] = {**extra.get("fields", {}), **fields}
        kwargs["extra"] = extra
        return msg, kwargs
