"""Seconds per linkage sub-step, each logged as it ends with the process's resident memory, so a run that
dies at national scale (the kernel's OOM killer leaves no traceback) shows in its log the last sub-step
that finished and how much memory it held."""

from __future__ import annotations

import time

import psutil

from dtsen.logs import get_logger

log = get_logger(__name__)


class Laps:
    """``lap(name)`` closes the sub-step ``name`` that began at the previous lap (or at creation)."""

    def __init__(self, stage: str) -> None:
        self.stage = stage
        self.seconds: dict[str, float] = {}
        self._process = psutil.Process()
        self._t = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = round(now - self._t, 2)
        self._t = now
        rss_mb = round(self._process.memory_info().rss / 2**20)
        seconds = self.seconds[name]
        log.info("linkage sub-step done", stage=self.stage, step=name, seconds=seconds, rss_mb=rss_mb)
