"""Logging: no NIK, KK number or name reaches a handler's output, in text or JSON, however it is passed."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from dtsen.logs import Pii, configure_logging, get_logger, log_context, mask_value, scrub

NIK = "3302014101900001"
NAME = "Siti Aminah Nurhaliza"
NIK_FORMS: list[object] = [
    NIK,
    "3302 0141 0190 0001",
    "33.02.01.410190.0001",
    "3302-01-410190-0001",
    "3302/0141/0190/0001",
    "'3302014101900001",
    "3.30201410190E+15",  # Excel: 12 digits still visible
    "3,30201410190E+15",  # Excel in an Indonesian locale
    "3.302014101900001E+15",
    "3.30201410190e15",
    int(NIK),
    float(NIK),
]
FORMATS = ["text", "json"]
_SEPARATORS = re.compile(r"[\s.,\-/_'\"]")

Emit = Callable[[], str]


@pytest.fixture(params=FORMATS)
def fmt(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@contextmanager
def capture(fmt: str, level: str = "DEBUG") -> Iterator[Emit]:
    """Installs the dtsen handler on a buffer; yields a function returning what was written so far."""
    root = logging.getLogger()
    old_level = root.level
    stream = io.StringIO()
    configure_logging(level, fmt, stream)
    try:
        yield stream.getvalue
    finally:
        for handler in list(root.handlers):
            if getattr(handler, "_dtsen", False):
                root.removeHandler(handler)
        root.setLevel(old_level)


@pytest.fixture
def output(fmt: str) -> Iterator[Emit]:
    with capture(fmt) as emitted:
        yield emitted


def assert_no_nik(text: str) -> None:
    """Neither the NIK nor its first 12 digits (what an Excel rendering shows), with any separators."""
    assert text
    squeezed = _SEPARATORS.sub("", text)
    assert NIK[:12] not in squeezed, text


def assert_no_name(text: str) -> None:
    assert text
    for word in NAME.split():
        assert word not in text, text


def lines(text: str, fmt: str) -> list[dict[str, object]]:
    """JSON lines parsed (every line must be one JSON object), or [] for the text format."""
    if fmt != "json":
        return []
    records = [json.loads(line) for line in text.splitlines()]
    assert all(isinstance(r, dict) for r in records)
    return records


# --- NIK-shaped numbers -----------------------------------------------------------------------


@pytest.mark.parametrize("form", NIK_FORMS, ids=repr)
def test_nik_in_message(output: Emit, form: object) -> None:
    get_logger("dtsen.test").info(f"checking {form} now")
    text = output()
    assert_no_nik(text)
    assert "checking" in text
    assert "now" in text


@pytest.mark.parametrize("form", NIK_FORMS, ids=repr)
def test_nik_in_args(output: Emit, form: object) -> None:
    get_logger("dtsen.test").warning("checking %s (%r)", form, form)
    assert_no_nik(output())


def test_nik_as_integer_arg(output: Emit) -> None:
    logging.getLogger("dtsen.test").info("nik=%d kk=%i", int(NIK), int(NIK))
    assert_no_nik(output())


@pytest.mark.parametrize("form", NIK_FORMS, ids=repr)
def test_nik_in_fields_under_any_key(output: Emit, fmt: str, form: object) -> None:
    log = get_logger("dtsen.test")
    log.info("row", ref=form)
    log.info("row", nik=form)
    log.info("row", extra={"fields": {"value": form, "no_kk": form}})
    log.info("row", nested={"a": [form, {"b": (form,)}]}, many=[form, form])
    text = output()
    assert_no_nik(text)
    assert len(text.splitlines()) == 4
    for record in lines(text, fmt):
        assert record["msg"] == "row"


def test_third_party_loggers_are_masked_too(output: Emit) -> None:
    logging.getLogger("urllib3.connectionpool").warning("GET /cek?nik=%s", NIK)
    logging.getLogger("some.library").error(f"nik {NIK}", extra={"fields": {"nik": NIK}})
    assert_no_nik(output())


@pytest.mark.parametrize("form", NIK_FORMS, ids=repr)
def test_nik_in_exception_traceback(output: Emit, fmt: str, form: object) -> None:
    log = get_logger("dtsen.test")
    try:
        try:
            int(f"NIK {form} is bad")
        except ValueError as inner:
            raise KeyError(f"no row for {form}") from inner
    except KeyError:
        log.exception("lookup failed")
    text = output()
    assert_no_nik(text)
    assert "Traceback" in text
    assert "KeyError" in text
    for record in lines(text, fmt):
        assert "Traceback" in str(record["exc"])


def test_traceback_source_lines_are_masked(output: Emit) -> None:
    try:
        raise RuntimeError("3302014101900001")  # the source line itself shows the NIK
    except RuntimeError:
        logging.getLogger("x").error("failed", exc_info=True)
    assert_no_nik(output())


# --- names ------------------------------------------------------------------------------------


def test_name_under_a_personal_data_key(output: Emit, fmt: str) -> None:
    log = get_logger("dtsen.test")
    log.info("member", nama=NAME, NAME=NAME, full_name=NAME, ibu_kandung=NAME, alamat=NAME)
    log.info("member", extra={"fields": {"nama_lengkap": NAME}})
    log.info("member", person={"nama": NAME, "keluarga": [{"name": NAME}]})
    text = output()
    assert_no_name(text)
    for record in lines(text, fmt)[:1]:
        assert record["nama"] == "***"


@pytest.mark.parametrize("key", ["nik", "NIK", "no_kk", "kk", "nomor_kk", "tanggal_lahir", "phone", "email"])
def test_any_value_under_a_personal_data_key(output: Emit, key: str) -> None:
    """Under these keys even values the NIK pattern would not catch are masked: a truncated NIK, a
    number with a typo, a birth date."""
    log = get_logger("dtsen.test")
    log.info("row", **{key: NIK[:12]})
    log.info("row", **{key: "1990-01-01"})
    log.info("row", extra={"fields": {key: NIK + "9"}})
    text = output()
    assert NIK[:12] not in text
    assert "1990-01-01" not in text
    assert "***" in text


def test_name_wrapped_in_pii(output: Emit) -> None:
    log = get_logger("dtsen.test")
    name = Pii(NAME)
    log.info("hello %s", name)
    log.info("hello %r", name)
    log.info(f"hello {name} / {name!s} / {name:>30}")
    log.info("member", kepala=name, anggota=[name, Pii(NAME.lower())])
    assert_no_name(output())
    assert name.value == NAME


def test_pii_in_log_context(output: Emit) -> None:
    with log_context(nama=NAME, nik=NIK, operator=Pii(NAME)):
        get_logger("dtsen.test").info("inside")
    text = output()
    assert_no_name(text)
    assert_no_nik(text)


# --- context and structure --------------------------------------------------------------------


def test_log_context_fields_appear_and_nest(output: Emit, fmt: str) -> None:
    log = get_logger("dtsen.test")
    with log_context(run_id="run-7", stage="ingest"):
        log.info("outer")
        with log_context(batch=3, stage="link"):
            log.info("inner", rows=10)
        log.info("outer again")
    log.info("outside")
    text = output()
    if fmt == "json":
        outer, inner, again, outside = lines(text, fmt)
        assert (outer["run_id"], outer["stage"]) == ("run-7", "ingest")
        assert inner["run_id"] == "run-7"
        assert inner["stage"] == "link"
        assert inner["batch"] == 3
        assert inner["rows"] == 10
        assert again["stage"] == "ingest"
        assert "batch" not in again
        assert "run_id" not in outside
    else:
        first, second, third, fourth = text.splitlines()
        assert "run_id=run-7" in first
        assert "stage=ingest" in first
        assert "batch=3" in second
        assert "stage=link" in second
        assert "rows=10" in second
        assert "batch" not in third
        assert "run_id" not in fourth


def test_json_lines_parse() -> None:
    log = get_logger("dtsen.json")
    with capture("json") as emitted:
        log.debug("one", count=1, ratio=0.5, ok=True, nothing=None)
        log.error('two "quoted"\nand multi-line')
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("three")
        records = lines(emitted(), "json")
    assert [r["msg"] for r in records] == ["one", 'two "quoted"\nand multi-line', "three"]
    assert [r["level"] for r in records] == ["DEBUG", "ERROR", "ERROR"]
    assert all(r["logger"] == "dtsen.json" for r in records)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", str(r["ts"])) for r in records)
    assert (records[0]["count"], records[0]["ratio"], records[0]["ok"], records[0]["nothing"]) == (
        1,
        0.5,
        True,
        None,
    )
    assert "ValueError: boom" in str(records[2]["exc"])


def test_ordinary_numbers_are_not_masked(output: Emit, fmt: str) -> None:
    log = get_logger("dtsen.test")
    log.info("loaded 1,234,567 rows in 12.5 s from batch 20250630", rows=1234567, village="3302012001")
    text = output()
    assert "1,234,567" in text
    assert "20250630" in text
    assert "3302012001" in text  # a village code is not personal data
    for record in lines(text, fmt):
        assert record["rows"] == 1234567


def test_level_and_idempotent_configuration(fmt: str) -> None:
    first = io.StringIO()
    configure_logging("WARNING", fmt, first)
    with capture(fmt, "WARNING") as emitted:  # replaces the first handler
        assert sum(bool(getattr(h, "_dtsen", False)) for h in logging.getLogger().handlers) == 1
        get_logger("dtsen.test").info("quiet")
        get_logger("dtsen.test").warning("loud")
        assert first.getvalue() == ""
        assert "loud" in emitted()
        assert "quiet" not in emitted()


# --- the masking functions --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        (NIK, "**************01"),
        (int(NIK), "**************01"),
        (NAME, "***"),
        ("12345", "***"),
        (None, ""),
        ("", ""),
    ],
)
def test_mask_value(value: object, masked: str) -> None:
    assert mask_value(value) == masked


@pytest.mark.parametrize("form", [f for f in NIK_FORMS if isinstance(f, str)])
def test_scrub(form: str) -> None:
    result = scrub(f"a {form} b")
    assert result.startswith("a ")
    assert result.endswith(" b")
    assert_no_nik(result)


@pytest.mark.parametrize("text", ["33020141019000", "33020141019000011", "2025-06-30 12:00:00", "1.5E+10"])
def test_scrub_leaves_other_numbers(text: str) -> None:
    assert scrub(text) == text


def test_scrub_masks_a_nik_one_digit_short() -> None:
    """A NIK typed with a digit missing (15 digits) still names a person: masked like a whole one."""
    assert scrub("nik 330201410190001 x") == "nik *************** x"
