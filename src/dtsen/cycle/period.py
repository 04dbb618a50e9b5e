"""Quarterly periods (``2026Q1``): the unit BPS publishes DTSEN in."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

PERIOD = re.compile(r"^(\d{4})Q([1-4])$")


class PeriodError(ValueError):
    """A period that is not of the form YYYYQn."""


@dataclass(frozen=True, order=True)
class Period:
    year: int
    quarter: int

    @classmethod
    def parse(cls, text: str) -> Period:
        m = PERIOD.fullmatch(text.strip().upper())
        if m is None:
            raise PeriodError(f"period {text!r}: expected YYYYQn, e.g. 2026Q1")
        return cls(int(m.group(1)), int(m.group(2)))

    def __str__(self) -> str:
        return f"{self.year}Q{self.quarter}"

    @property
    def start(self) -> date:
        return date(self.year, 3 * self.quarter - 2, 1)

    @property
    def end(self) -> date:
        """Last day of the quarter: the reference date for ages and the default data cut-off."""
        nxt = self.next()
        return date(nxt.year, 3 * nxt.quarter - 2, 1) - timedelta(days=1)

    def next(self) -> Period:
        return Period(self.year + self.quarter // 4, self.quarter % 4 + 1)

    def previous(self) -> Period:
        return Period(self.year - (self.quarter == 1), (self.quarter - 2) % 4 + 1)
