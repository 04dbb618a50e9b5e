"""A reason code with a severity: the one shape every check in dtsen reports (NIK rules, row validation,
linkage conflicts), so reports and quarantine can count and explain them the same way."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"  # the value or row cannot be used: quarantine it
    WARNING = "warning"  # usable, but flagged for review


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    severity: Severity
    field: str
    message: str

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR
