"""NIK and No. KK: build, clean and validate the 16-digit identifiers.

Layout ``PP KK CC DDMMYY SSSS``: kecamatan of *first* registration (never updated on moving), birth
date with day + 40 for women (for a KK: the issue date), serial from 0001. There is no check digit, so
some corruptions cannot be detected from the number alone (see ``docs/nik.md``). Following the domain
rules, a NIK that disagrees with the record's birth date or sex is a *warning*, never a rejection: the
NIK is not reissued when a birth date is corrected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import cache

from dtsen.findings import Finding, Severity
from dtsen.reference import regions

_NON_DIGIT_SEPARATORS = re.compile(r"[\s.\-/_']")
_SCIENTIFIC = re.compile(r"^\s*[+]?\d(?:[.,]\d+)?[eE][+]?\d{1,2}\s*$")


@dataclass(frozen=True)
class IdentifierCheck:
    """The outcome of checking one NIK or KK number: cleaned digits, decoded parts, findings."""

    raw: object
    digits: str | None
    findings: tuple[Finding, ...] = field(default_factory=tuple)
    prefix: str | None = None
    born_or_issued: date | None = None
    sex: int | None = None  # 1 laki-laki, 2 perempuan (NIK only)
    serial: int | None = None

    @property
    def valid(self) -> bool:
        """Usable as an identifier: no error (warnings allowed)."""
        return self.digits is not None and not any(f.is_error for f in self.findings)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(f.code for f in self.findings)


def _err(code: str, fld: str, message: str) -> Finding:
    return Finding(code, Severity.ERROR, fld, message)


def _warn(code: str, fld: str, message: str) -> Finding:
    return Finding(code, Severity.WARNING, fld, message)


def clean_identifier(raw: object, fld: str = "nik") -> tuple[str | None, list[Finding]]:
    """Strip spaces and punctuation; undo a float rendering only when all 16 digits survive.

    Excel shows 15 significant digits, so ``3.27E+15`` (or ``3.30201123456E+15``) has lost digits: it is
    flagged ``excel_scientific`` and not guessed. ``3302011234560001.0`` (a float column) is exact.
    """
    if raw is None:
        return None, [_err(f"{fld}_missing", fld, f"{fld} is empty")]
    if isinstance(raw, float):
        if raw != raw:  # NaN
            return None, [_err(f"{fld}_missing", fld, f"{fld} is empty")]
        if abs(raw) >= 2**53:  # a float cannot hold every 16-digit number above 2**53: digits may be wrong
            return None, [
                _err(f"{fld}_float_precision", fld, f"{fld} arrived as a float; last digits unreliable")
            ]
        raw = repr(raw)
    text = str(raw).strip()
    if text == "" or text.upper() in {"NULL", "NAN", "NONE", "-", "0"}:
        return None, [_err(f"{fld}_missing", fld, f"{fld} is empty")]
    if _SCIENTIFIC.match(text):
        try:
            number = Decimal(text.replace(",", "."))
        except InvalidOperation:  # pragma: no cover - the regex admits only parseable numbers
            number = None
        mantissa = text.upper().split("E")[0].replace(",", ".").replace(".", "").lstrip("+")
        if number is not None and len(mantissa) >= 16 and number == number.to_integral_value():
            recovered = str(int(number))
            if len(recovered) != 16:  # a wrong exponent: the digits survived but the number is not a NIK
                return None, [_err(f"{fld}_length", fld, f"{fld} has {len(recovered)} digits, not 16")]
            return recovered, [_warn(f"{fld}_excel_recovered", fld, f"{fld} recovered from a float")]
        return None, [
            _err(f"{fld}_excel_scientific", fld, f"{fld} was mangled by a spreadsheet ({text}); digits lost")
        ]
    if text.endswith(".0") and text[:-2].isdigit():
        text = text[:-2]
    digits = _NON_DIGIT_SEPARATORS.sub("", text)
    findings: list[Finding] = []
    if digits != text and digits.isdigit():
        findings.append(_warn(f"{fld}_reformatted", fld, f"{fld} had separators"))
    if not digits.isdigit():
        return None, [*findings, _err(f"{fld}_not_numeric", fld, f"{fld} has characters other than digits")]
    if len(digits) != 16:
        return None, [*findings, _err(f"{fld}_length", fld, f"{fld} has {len(digits)} digits, not 16")]
    return digits, findings


def _resolve_date(day: int, month: int, two_digits: int, today: date) -> date:
    """The latest date with these digits that is not after ``today`` (20YY if it has happened, else 19YY).

    Raises ``ValueError`` if the digits are no calendar date.
    """
    recent = date(2000 + two_digits, month, day)
    return recent if recent <= today else date(1900 + two_digits, month, day)


def _check_prefix(digits: str, fld: str, findings: list[Finding]) -> str:
    prefix = digits[:6]
    if prefix[:2] not in _province_codes():
        findings.append(_err(f"{fld}_province_unknown", fld, f"province code {prefix[:2]} does not exist"))
    elif prefix[:4] not in _kabupaten_codes():
        findings.append(
            _err(f"{fld}_kabupaten_unknown", fld, f"kabupaten/kota code {prefix[:4]} does not exist")
        )
    elif prefix not in regions.nik_prefixes():
        findings.append(
            _warn(
                f"{fld}_kecamatan_unknown", fld, f"kecamatan code {prefix} is in no current list (old code?)"
            )
        )
    return prefix


@cache
def _province_codes() -> frozenset[str]:
    return frozenset(p[:2] for p in regions.nik_prefixes())


@cache
def _kabupaten_codes() -> frozenset[str]:
    return frozenset(p[:4] for p in regions.nik_prefixes())


def check_nik(
    raw: object, *, birth_date: date | None = None, sex: int | None = None, today: date | None = None
) -> IdentifierCheck:
    """Validate a NIK; with the record's ``birth_date``/``sex`` also report disagreements (as warnings)."""
    today = today or date.today()
    digits, findings = clean_identifier(raw, "nik")
    if digits is None:
        return IdentifierCheck(raw, None, tuple(findings))
    prefix = _check_prefix(digits, "nik", findings)
    day, month, yy, serial = int(digits[6:8]), int(digits[8:10]), int(digits[10:12]), int(digits[12:16])
    nik_sex = 2 if day > 40 else 1
    born: date | None = None
    try:
        born = _resolve_date(day - 40 if day > 40 else day, month, yy, today)
    except ValueError:
        findings.append(_err("nik_birth_date_invalid", "nik", f"digits 7-12 ({digits[6:12]}) are not a date"))
    if serial == 0:
        findings.append(_err("nik_serial_zero", "nik", "serial 0000 is never issued"))
    if (
        born is not None
        and birth_date is not None
        and (born.day, born.month, born.year % 100)
        != (
            birth_date.day,
            birth_date.month,
            birth_date.year % 100,
        )
    ):
        findings.append(_warn("nik_birth_date_mismatch", "nik", "birth date in NIK differs from the record"))
    if born is not None and sex is not None and sex != nik_sex:
        findings.append(_warn("nik_sex_mismatch", "nik", "sex in NIK differs from the record"))
    return IdentifierCheck(raw, digits, tuple(findings), prefix, born, nik_sex if born else None, serial)


def check_kk(raw: object, *, today: date | None = None) -> IdentifierCheck:
    """Validate a No. KK (same region prefix, then the card's issue date and a serial)."""
    today = today or date.today()
    digits, findings = clean_identifier(raw, "no_kk")
    if digits is None:
        return IdentifierCheck(raw, None, tuple(findings))
    prefix = _check_prefix(digits, "no_kk", findings)
    day, month, yy, serial = int(digits[6:8]), int(digits[8:10]), int(digits[10:12]), int(digits[12:16])
    issued: date | None = None
    try:
        issued = _resolve_date(day, month, yy, today)
    except ValueError:
        findings.append(
            _err("no_kk_issue_date_invalid", "no_kk", f"digits 7-12 ({digits[6:12]}) are not a date")
        )
    if serial == 0:
        findings.append(_err("no_kk_serial_zero", "no_kk", "serial 0000 is never issued"))
    return IdentifierCheck(raw, digits, tuple(findings), prefix, issued, None, serial)


def make_nik(prefix: str, birth_date: date, sex: int, serial: int) -> str:
    """The NIK Dukcapil would issue: ``sex`` 1 laki-laki, 2 perempuan (day + 40)."""
    if len(prefix) != 6 or not prefix.isdigit():
        raise ValueError(f"prefix must be a 6-digit kecamatan code, got {prefix!r}")
    if not 1 <= serial <= 9999:
        raise ValueError(f"serial must be 1..9999, got {serial}")
    day = birth_date.day + (40 if sex == 2 else 0)
    return f"{prefix}{day:02d}{birth_date.month:02d}{birth_date.year % 100:02d}{serial:04d}"


def make_kk(prefix: str, issued: date, serial: int) -> str:
    if len(prefix) != 6 or not prefix.isdigit():
        raise ValueError(f"prefix must be a 6-digit kecamatan code, got {prefix!r}")
    if not 1 <= serial <= 9999:
        raise ValueError(f"serial must be 1..9999, got {serial}")
    return f"{prefix}{issued.day:02d}{issued.month:02d}{issued.year % 100:02d}{serial:04d}"
