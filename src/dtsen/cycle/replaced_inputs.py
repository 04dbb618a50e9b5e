"""A frozen side input replaced at its source is taken up by ``resume``, so a broken file needs no --force.

Freezing copies the event, correction and flag-list files into the run, so a resume reads exactly what
the interrupted run read. But when a step failed *because* of such a file (a broken event file), every
resume failed on the same copy, and only ``--force`` (a whole new run) got past it. Now, on resume, a
frozen file whose source (same name under ``data_dir/<kind>/``) has different content is replaced: the
copy and its SHA-256 in ``inputs.json`` are updated, the replacement is recorded there (``replaced``:
file, the SHA-256 before and after, when), the freeze step's recorded checksums follow, and every step
after freeze is redone. Batches are not side inputs: a corrected source file is a new batch (``--force``).
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dtsen import atomic
from dtsen.atomic import sha256_file
from dtsen.logs import get_logger

log = get_logger(__name__)

FREEZE = "freeze"
INPUTS = "inputs.json"
SIDE_KINDS = ("events", "corrections", "exclusions")


def take_up_replacements(run_dir: Path, data_dir: Path, state: dict[str, Any]) -> list[dict[str, str]]:
    """Replace frozen side inputs changed at their source (see the module docstring); ``state`` (the
    run's, steps under current names) is updated and written. Returns the replacements (none: no-op)."""
    from dtsen.cycle.run import checksums

    frozen = run_dir / FREEZE
    record = state["steps"].get(FREEZE)
    if record is None or not (frozen / INPUTS).is_file():
        return []
    inputs = json.loads((frozen / INPUTS).read_text(encoding="utf-8"))
    now = datetime.now(UTC).isoformat(timespec="seconds")
    replaced: list[dict[str, str]] = []
    for kind in SIDE_KINDS:
        for entry in inputs.get(kind, []):
            source = data_dir / entry["file"]
            if not source.is_file():
                continue  # a source removed since: the frozen copy stays what the period uses
            digest = sha256_file(source)
            if digest == entry["sha256"]:
                continue
            with atomic.atomic_file(frozen / entry["file"]) as temporary:
                shutil.copy2(source, temporary)
            replaced.append(
                {"file": entry["file"], "sha256_before": entry["sha256"], "sha256": digest, "at": now}
            )
            entry["sha256"] = digest
    if not replaced:
        return []
    inputs["replaced"] = [*inputs.get("replaced", []), *replaced]
    atomic.write_text(frozen / INPUTS, json.dumps(inputs, indent=2, sort_keys=True))
    names = list(state["steps"])
    for later in names[names.index(FREEZE) + 1 :]:
        state["steps"].pop(later)
    record["files"] = checksums(frozen)
    if isinstance(record.get("summary"), dict) and "inputs" in record["summary"]:
        record["summary"]["inputs"] = inputs
    atomic.write_text(run_dir / "state.json", json.dumps(state, indent=2, default=str))
    for r in replaced:
        log.warning(
            "frozen input replaced from its source; the steps after freeze are redone", file=r["file"]
        )
    return replaced


__all__ = ["take_up_replacements"]
