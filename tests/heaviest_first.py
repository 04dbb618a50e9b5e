"""The order in which pytest-xdist workers take test files (``--dist loadfile``): longest expected first.

xdist's loadfile hands files out by their number of tests, most first, so the few files that take minutes
with few tests (a Spark session, whole cycles, the browser journeys) came last and one worker ran them
alone while the other had nothing left. Longest first (the LPT rule) keeps both workers busy to the end.
The expected time of a file is the table below (refresh it from ``--junitxml`` or ``--durations=0``
when a file's cost changes a lot), else :data:`SECONDS_PER_TEST` per test. The order
changes only the wall time: every file still runs whole on one worker, in its own order.
"""

from __future__ import annotations

from typing import Any

import pytest
from xdist.scheduler import LoadFileScheduling

SECONDS_PER_TEST = 0.5
# Seconds per file (setup, calls and teardown of its selected tests, both backends) on 2 idle cores: the
# 2026-12-06 run on 2 workers, measured under a load of ~9 and divided by 3. Only the files that take far
# longer than their test count suggests need to be here; only their order matters. The first file to need
# the served city (tests/served_city.py) also pays its build, about a minute.
EXPECTED_SECONDS: dict[str, float] = {
    "tests/test_cycle_parity.py": 160,
    "tests/test_cycle.py": 145,
    "tests/test_openapi_fuzz.py": 130,
    "tests/test_engine_parity.py": 95,
    "tests/browser/test_workflow_journeys.py": 95,
    "tests/test_log_privacy.py": 80,
    "tests/test_linkage_spark.py": 35,
    "tests/test_authz_matrix.py": 23,
    "tests/test_served_load.py": 21,
    "tests/browser/test_public_pages.py": 21,
    "tests/browser/test_staff_browser.py": 20,
    "tests/browser/test_sharing_journey.py": 17,
    "tests/browser/test_layout_browser.py": 16,
    "tests/browser/test_dashboard_browser.py": 12,
    "tests/test_bench_cli.py": 10,
    "tests/test_programs_parity.py": 9,
}


class HeaviestFileFirst(LoadFileScheduling):
    """``--dist loadfile`` whose next file for an idle worker is the pending one expected to take longest."""

    def _expected_seconds(self, scope: str) -> float:
        known = EXPECTED_SECONDS.get(scope)
        return known if known is not None else SECONDS_PER_TEST * len(self.workqueue[scope])

    def _assign_work_unit(self, node: Any) -> None:
        if len(self.workqueue) > 1:  # the base class pops the first unit: put the heaviest there
            heaviest = max(self.workqueue, key=self._expected_seconds)
            self.workqueue.move_to_end(heaviest, last=False)
        super()._assign_work_unit(node)


def make_scheduler(config: pytest.Config, log: Any) -> HeaviestFileFirst | None:
    """The scheduler for ``--dist loadfile`` runs; any other mode keeps xdist's own (None)."""
    if config.getoption("dist") != "loadfile":
        return None
    return HeaviestFileFirst(config, log)
