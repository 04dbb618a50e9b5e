"""How the quarterly cycle grows with the population, and what that predicts for the national cycle.

``dtsen bench scaling`` runs ``dtsen bench cycle --profile`` once per population size, each in a fresh
process, so a size's peak memory is its own (``ru_maxrss`` never goes down within a process). Every
finished size is appended to a JSONL file at once: a long series interrupted at 10 M keeps 100 k-3 M,
and a later call with more sizes runs only the new ones. A size whose process fails (an exception, the
OOM killer's SIGKILL, no JSON line) is appended too, as a failed run with the step it was in (from the
child's log), the reason, its seconds and peak; the series goes on, a later call runs that size again, and
the table shows it as a failed row. From the finished sizes it fits, per step, the
exponent b of ``seconds = a * persons ** b`` (least squares on logs) and projects the national cycle on a
Spark cluster by dividing the one-machine time at 289 M by nodes x an assumed parallel efficiency.

The profile of a cycle is sampled inside the benchmark process (:class:`StepSampler`): the resident
memory of the process tree (the Spark JVM is a child of the Python driver) and the bytes in the spill
directories (DuckDB's ``.tmp`` in the working directory, Spark's ``blockmgr-*`` under the temporary
directory), attributed to the step running at that moment. The scaling command gives each run its own
working and temporary directory, so other processes on the machine never count.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import psutil

from dtsen.logs import get_logger, scrub

log = get_logger(__name__)

NATIONAL_PERSONS = 289_000_000
NATIONAL_FAMILIES = 95_000_000
CLUSTER_NODES = 32
#: What limits each step when it is spread over machines (an assumption, see EFFICIENCY).
STEP_KINDS: dict[str, str] = {
    "ingest": "scan",  # each source file is parsed and validated row by row
    "freeze": "scan",  # copies of the side inputs
    "link": "iterative",  # blocking joins, then connected components over the match graph
    "apply_events": "shuffle",  # events and corrections joined to persons and families by key
    "score": "shuffle",  # per-family scoring is a scan, but desil ranks need a global order
    "eligibility": "shuffle",  # person-family-program joins
    "publish": "scan",  # snapshot files written, checksummed
}
#: Parallel efficiency per step kind: speed-up on N nodes = N x efficiency. Assumptions, not measurements:
#: scans split without communication; shuffles move every row over the network once; connected components
#: iterate until no label changes, each round a shuffle.
EFFICIENCY: dict[str, float] = {"scan": 0.8, "shuffle": 0.5, "iterative": 0.3}
SAMPLE_SECONDS = 0.25


def tree_rss_bytes(process: psutil.Process) -> int:
    """Resident bytes of a process and every descendant (worker processes, the Spark JVM)."""
    total = 0
    for proc in [process, *process.children(recursive=True)]:
        try:
            total += proc.memory_info().rss
        except psutil.Error:  # exited between the listing and the read
            continue
    return total


def dir_bytes(path: Path) -> int:
    """Bytes of the files under ``path`` (0 if it does not exist); files vanishing mid-walk are skipped,
    as a spill directory is written and emptied while it is read."""
    total = 0
    try:
        entries = list(os.scandir(path))
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return 0
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                total += dir_bytes(Path(entry.path))
            elif entry.is_file(follow_symlinks=False):
                total += entry.stat(follow_symlinks=False).st_size
        except FileNotFoundError:
            continue
    return total


def spill_dirs() -> list[Path]:
    """Where the engines of this process spill: DuckDB's ``.tmp`` (its default for in-memory connections,
    relative to the working directory) and Spark's block managers under ``spark.local.dir`` (the
    temporary directory, see :func:`dtsen.engine.spark_session`)."""
    return [Path.cwd() / ".tmp", *Path(tempfile.gettempdir()).glob("blockmgr-*")]


class StepSampler:
    """Samples tree RSS and spill bytes in a thread; ``on_step`` (CycleRunner's hook) says which step the
    samples belong to. Peaks are per step; ``peak_rss_mb``/``spill_mb`` cover the whole run."""

    def __init__(self, interval: float = SAMPLE_SECONDS) -> None:
        self.interval = interval
        self.steps: dict[str, dict[str, float]] = {}
        self.current: str | None = None
        self.peak_rss = 0
        self.peak_spill = 0
        self._process = psutil.Process()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="dtsen-step-sampler", daemon=True)

    def __enter__(self) -> StepSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def on_step(self, name: str, event: str) -> None:
        with self._lock:
            if event == "start":
                self.current = name
                self.steps[name] = {"peak_rss_mb": 0.0, "spill_mb": 0.0}
            elif event == "done" and self.current == name:
                self.current = None
        if event == "start":
            self.sample()  # a step shorter than the interval still gets one sample

    def sample(self) -> None:
        rss = tree_rss_bytes(self._process)
        spill = sum(dir_bytes(path) for path in spill_dirs())
        with self._lock:
            self.peak_rss = max(self.peak_rss, rss)
            self.peak_spill = max(self.peak_spill, spill)
            if self.current is not None:
                step = self.steps[self.current]
                step["peak_rss_mb"] = max(step["peak_rss_mb"], round(rss / 2**20, 1))
                step["spill_mb"] = max(step["spill_mb"], round(spill / 2**20, 1))

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def profile(self, step_seconds: dict[str, float]) -> dict[str, dict[str, float]]:
        """Per step: seconds (the runner's), peak tree RSS and peak spill in MB."""
        return {name: {"seconds": secs, **self.steps.get(name, {})} for name, secs in step_seconds.items()}


# --- results file -------------------------------------------------------------------------------------

FAILED = "failed"


def is_failed(record: dict[str, Any]) -> bool:
    """A failed run; lines without ``status`` were written before failures were recorded, all finished."""
    return record.get("status") == FAILED


def load_results(path: Path) -> list[dict[str, Any]]:
    """The runs recorded in ``path``, finished and failed (none if it does not exist)."""
    if not path.exists():
        return []
    records = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: line {number}: not JSON ({exc.msg})") from None
        required = ("persons", "engine") if is_failed(record) else ("persons", "engine", "step_profile")
        for key in required:
            if key not in record:
                raise ValueError(f"{path}: line {number}: field {key!r} missing")
        records.append(record)
    return records


def append_result(path: Path, record: dict[str, Any]) -> None:
    """Append one run, flushed and fsynced, so a later crash never loses it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        handle.write(json.dumps(record) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def finished(
    records: Iterable[dict[str, Any]], persons: int, engine: str, seed: int
) -> dict[str, Any] | None:
    """The latest finished run of that size, engine and seed, if any (a failed run is run again)."""
    match = None
    for record in records:
        key = (record["persons"], record["engine"], record.get("seed", 1))
        if key == (persons, engine, seed) and not is_failed(record):
            match = record
    return match


# --- running one size -----------------------------------------------------------------------------------

STDERR_TAIL_CHARS = 400
#: The cycle runner's step log lines, in the text format (``... step started period=2026Q1 step=link``);
#: the JSON format is parsed as JSON. ``error=`` is the last field of ``step failed``.
_STEP_LINE = re.compile(r"\bstep (started|committed|failed)\b.*?\bstep=(\S+)")
_SECONDS_FIELD = re.compile(r"\bseconds=([0-9.]+)")
_ERROR_FIELD = re.compile(r"\berror=(.*)$")
_BOX_DRAWING = re.compile("[\u2500-\u257f]")


def child_command(persons: int, engine: str, seed: int, cache: Path, data_dir: Path) -> list[str]:
    """The profiled cycle of one size (a function of its own so tests can run a fake child instead)."""
    command = [sys.executable, "-m", "dtsen.cli.main", "bench", "cycle", "--profile"]
    command += ["--persons", str(persons), "--engine", engine, "--seed", str(seed)]
    return [*command, "--cache", str(cache.resolve()), "--keep", str(data_dir)]


class ChildLog:
    """Follows the child's stderr: the step it is in (the runner logs each start, commit and failure),
    the seconds of the steps it committed, and the last lines, to say why a run died."""

    def __init__(self) -> None:
        self.step: str | None = None
        self.steps_done: dict[str, float] = {}
        self.error: str | None = None
        self.tail: deque[str] = deque(maxlen=20)

    def feed(self, line: str) -> None:
        line = line.rstrip("\n")
        if line.strip() and not _BOX_DRAWING.search(line):  # a rich traceback's frames fill the tail
            self.tail.append(line[:STDERR_TAIL_CHARS])
        event = self._step_event(line)
        if event is None:
            return
        kind, step, seconds, error = event
        if kind == "started":
            self.step = step
        elif kind == "committed":
            self.steps_done[step] = seconds if seconds is not None else 0.0
            if self.step == step:
                self.step = None
        else:  # failed: the step stays the one the run died in
            self.step = step
            self.error = error

    @staticmethod
    def _step_event(line: str) -> tuple[str, str, float | None, str | None] | None:
        if line.startswith("{"):
            try:
                payload = json.loads(line)
            except json.JSONDecodeError:
                return None
            if not isinstance(payload, dict):
                return None
            msg, step = payload.get("msg"), payload.get("step")
            if not isinstance(step, str) or msg not in ("step started", "step committed", "step failed"):
                return None
            seconds = payload.get("seconds")
            error = payload.get("error")
            return (
                msg.removeprefix("step "),
                step,
                float(seconds) if isinstance(seconds, int | float) else None,
                str(error) if error is not None else None,
            )
        match = _STEP_LINE.search(line)
        if match is None:
            return None
        seconds = _SECONDS_FIELD.search(line)
        error = _ERROR_FIELD.search(line) if match.group(1) == "failed" else None
        return (
            match.group(1),
            match.group(2),
            float(seconds.group(1)) if seconds else None,
            error.group(1) if error else None,
        )

    def stderr_tail(self) -> str:
        """The last few hundred characters of stderr, NIK-shaped numbers masked (there should be none)."""
        return scrub("\n".join(self.tail))[-STDERR_TAIL_CHARS:]


def _follow(stream: IO[str] | None, on_line: Callable[[str], None]) -> None:
    if stream is None:
        return
    for line in iter(stream.readline, ""):
        on_line(line)
    stream.close()


def _stop_leftovers(processes: Iterable[psutil.Process]) -> None:
    """End descendants that outlived a dead child (a Spark JVM whose driver was killed), so the next
    size neither shares the memory nor waits on their hold of the stderr pipe."""
    alive = []
    for proc in processes:
        try:
            if proc.is_running():  # psutil checks the creation time: never a recycled pid
                proc.terminate()
                alive.append(proc)
        except psutil.Error:
            continue
    _gone, still = psutil.wait_procs(alive, timeout=5)
    for proc in still:
        try:
            proc.kill()
        except psutil.Error:
            continue


def _reason(returncode: int, log: ChildLog) -> tuple[str, int | None, str | None]:
    """(reason, exit code, signal name) of a child that did not finish."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        reason = f"killed by {name}" + (" (the OOM killer's signal)" if name == "SIGKILL" else "")
        return reason, None, name
    reason = f"exited {returncode}"
    if log.error:
        reason += f": {scrub(log.error)[:200]}"
    return reason, returncode, None


def run_size(persons: int, engine: str, seed: int, cache: Path, work_root: Path) -> dict[str, Any]:
    """One profiled cycle of ``persons`` in a fresh process with its own working and temporary directory
    (so its spill is its own). Returns the cycle's JSON line, or, if the process failed (non-zero exit,
    a signal, no JSON line), a failed record: the reason, the step it was in, the steps it committed,
    its seconds and peak tree RSS, and the end of its stderr. The child's log is passed on to this
    process's stderr as it comes (a long size shows its progress)."""
    import shutil

    work = Path(tempfile.mkdtemp(prefix=f"scaling-{engine}-{persons}-", dir=work_root))
    (work / "tmp").mkdir()
    env = {**os.environ, "TMPDIR": str(work / "tmp"), "DTSEN_DATA_DIR": str(work / "data")}
    command = child_command(persons, engine, seed, cache, work / "data")
    log = ChildLog()
    stdout: list[str] = []
    sink = sys.stderr

    def on_stderr(line: str) -> None:
        log.feed(line)
        sink.write(line)
        sink.flush()

    peak = 0
    seen: dict[int, psutil.Process] = {}
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.monotonic()
    try:
        child = subprocess.Popen(  # noqa: S603 - our own CLI
            command,
            cwd=work,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
        )
        readers = [
            threading.Thread(target=_follow, args=(pipe, on_line), daemon=True)
            for pipe, on_line in ((child.stdout, stdout.append), (child.stderr, on_stderr))
        ]
        for reader in readers:
            reader.start()
        try:
            root = psutil.Process(child.pid)
        except psutil.Error:
            root = None
        while True:
            if root is not None:
                peak = max(peak, tree_rss_bytes(root))
                with contextlib.suppress(psutil.Error):
                    seen.update((p.pid, p) for p in root.children(recursive=True))
            try:
                child.wait(timeout=SAMPLE_SECONDS)
                break
            except subprocess.TimeoutExpired:
                continue
        seconds = round(time.monotonic() - start, 2)
        _stop_leftovers(seen.values())
        for reader in readers:
            reader.join(timeout=30)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # the kernel's high-water mark of the child, if it is above every earlier child's (KB on Linux)
    kernel_peak = after * 1024 if after > before else 0
    returncode = child.returncode
    lines = "".join(stdout).strip().splitlines()
    if returncode == 0:
        try:
            result = json.loads(lines[-1])
        except (IndexError, json.JSONDecodeError):
            result = None
        if isinstance(result, dict) and "step_profile" in result:
            return {**result, "status": "finished"}
        reason: str = (
            "exited 0 without a JSON line on stdout"
            if not isinstance(result, dict)
            else "exited 0 with a JSON line that has no step_profile"
        )
        code: int | None = 0
        signal_name: str | None = None
    else:
        reason, code, signal_name = _reason(returncode, log)
    return {
        "stage": "cycle",
        "persons": persons,
        "engine": engine,
        "seed": seed,
        "status": FAILED,
        "reason": reason,
        "exit_code": code,
        "signal": signal_name,
        "step": log.step,
        "steps_done": log.steps_done,
        "seconds": seconds,
        "peak_rss_mb": round(max(peak, kernel_peak) / 2**20, 1) if max(peak, kernel_peak) else None,
        "stderr_tail": log.stderr_tail(),
    }


# --- fit and projection ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fit:
    """``seconds = exp(intercept) * persons ** exponent``, fitted on ``points`` sizes."""

    exponent: float
    intercept: float
    points: int

    def seconds(self, persons: float) -> float:
        return math.exp(self.intercept + self.exponent * math.log(persons))


def fit_exponent(points: Sequence[tuple[float, float]]) -> Fit | None:
    """Least squares of log seconds on log persons. Points with 0 seconds (a step faster than the 10 ms
    the runner rounds to) have no logarithm and are left out; fewer than two distinct sizes fit nothing."""
    usable = [(math.log(n), math.log(s)) for n, s in points if n > 0 and s > 0]
    if len({x for x, _ in usable}) < 2:
        return None
    mean_x = sum(x for x, _ in usable) / len(usable)
    mean_y = sum(y for _, y in usable) / len(usable)
    sxx = sum((x - mean_x) ** 2 for x, _ in usable)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in usable)
    slope = sxy / sxx
    return Fit(exponent=slope, intercept=mean_y - slope * mean_x, points=len(usable))


def step_names(records: Sequence[dict[str, Any]]) -> list[str]:
    """Steps in cycle order as first recorded; a failed run adds the steps it committed and the one it died
    in (so a series whose every size failed still has its columns)."""
    names: list[str] = []
    for record in records:
        if is_failed(record):
            steps = [*(record.get("steps_done") or {}), *([record["step"]] if record.get("step") else [])]
        else:
            steps = list(record["step_profile"])
        names.extend(name for name in steps if name not in names)
    return names


def fits(records: Sequence[dict[str, Any]]) -> dict[str, Fit | None]:
    """The fitted growth of every step (and ``total``) over the finished sizes of one engine (a failed run
    has no time for the whole cycle, and its committed steps alone would bias the fit to the early ones)."""
    records = [r for r in records if not is_failed(r)]
    result = {
        name: fit_exponent(
            [(r["persons"], r["step_profile"][name]["seconds"]) for r in records if name in r["step_profile"]]
        )
        for name in step_names(records)
    }
    result["total"] = fit_exponent([(r["persons"], r["seconds"]) for r in records])
    return result


def project(
    step_fits: dict[str, Fit | None],
    *,
    persons: int = NATIONAL_PERSONS,
    nodes: int = CLUSTER_NODES,
    efficiency: dict[str, float] = EFFICIENCY,
) -> list[dict[str, Any]]:
    """Per step: one-machine seconds at ``persons`` from its fit, and on ``nodes`` nodes
    ``one_machine / (nodes * efficiency[kind])``; None where the step has no fit."""
    rows = []
    for name, fit in step_fits.items():
        if name == "total":
            continue
        kind = STEP_KINDS.get(name, "shuffle")  # an unknown step is assumed to shuffle
        one = fit.seconds(persons) if fit else None
        rows.append(
            {
                "step": name,
                "kind": kind,
                "efficiency": efficiency[kind],
                "exponent": round(fit.exponent, 3) if fit else None,
                "points": fit.points if fit else 0,
                "one_machine_seconds": round(one, 1) if one is not None else None,
                "cluster_seconds": round(one / (nodes * efficiency[kind]), 1) if one is not None else None,
            }
        )
    return rows


def node_size() -> dict[str, float]:
    """The machine the sizes were measured on: the projection assumes cluster nodes of this size."""
    return {"cores": os.cpu_count() or 1, "memory_gb": round(psutil.virtual_memory().total / 1e9, 1)}


# --- report -------------------------------------------------------------------------------------------------


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def markdown(
    records: Sequence[dict[str, Any]],
    projection: list[dict[str, Any]],
    step_fits: dict[str, Fit | None],
    node: dict[str, float],
    *,
    nodes: int = CLUSTER_NODES,
) -> str:
    """Size x step seconds, peak and spill GB, the exponent per step, and the national projection. A failed
    size is a row saying so: the seconds of the steps it committed, ``failed`` in the step it died in, and
    the reason and time in the total column."""
    records = sorted(records, key=lambda r: r["persons"])
    names = step_names(records)
    engine = records[0]["engine"] if records else "-"
    head = ["persons", *names, "total s", "peak GB", "spill GB"]
    lines = [
        f"Engine: {engine}. Seconds per step; peak = resident memory of the process tree (sampled every "
        f"{SAMPLE_SECONDS} s), spill = peak bytes in the engine's spill directories.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---:|" * len(head),
    ]
    for r in records:
        if is_failed(r):
            lines.append(_failed_row(r, names))
            continue
        profile = r["step_profile"]
        peak = max((p.get("peak_rss_mb", 0.0) for p in profile.values()), default=0.0)
        spill = max((p.get("spill_mb", 0.0) for p in profile.values()), default=0.0)
        cells = [f"{r['persons']:,}", *(_num(profile.get(n, {}).get("seconds"), 2) for n in names)]
        cells += [_num(r["seconds"], 2), _num(peak / 1024, 2), _num(spill / 1024, 2)]
        lines.append("| " + " | ".join(cells) + " |")
    exps = [f"{f.exponent:.2f} (n={f.points})" if (f := step_fits.get(n)) else "-" for n in [*names, "total"]]
    lines.append("| **exponent** | " + " | ".join(exps) + " | | |")
    if any(is_failed(r) for r in records):
        lines += [
            "",
            "Failed sizes are left out of the exponents and the projection; results.jsonl keeps their exit "
            "code or signal and the last lines of their stderr.",
        ]
    lines += [
        "",
        f"Projection of the national cycle ({NATIONAL_PERSONS / 1e6:.0f} M persons, "
        f"{NATIONAL_FAMILIES / 1e6:.0f} M families) on {nodes} Spark nodes of {node['cores']:.0f} cores and "
        f"{node['memory_gb']:.0f} GB each (the measuring machine). One machine = the fit extrapolated to "
        f"{NATIONAL_PERSONS / 1e6:.0f} M persons (arithmetic only: it would not fit one machine's memory); "
        f"cluster = one machine / ({nodes} x efficiency). The efficiencies are assumptions, not "
        "measurements: scans 0.8, shuffles and joins 0.5, connected components and other iterative "
        "steps 0.3.",
        "",
        "| step | kind | efficiency | exponent (n) | one machine s | cluster s |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for row in projection:
        exponent = "-" if row["exponent"] is None else f"{row['exponent']:.2f} ({row['points']})"
        lines.append(
            f"| {row['step']} | {row['kind']} | {row['efficiency']} | {exponent} | "
            f"{_num(row['one_machine_seconds'], 0)} | {_num(row['cluster_seconds'], 0)} |"
        )
    cluster = [r["cluster_seconds"] for r in projection if r["cluster_seconds"] is not None]
    lines.append(
        f"| **total** | | | | | **{_num(sum(cluster), 0)}** |" if cluster else "| **total** | | | | | - |"
    )
    return "\n".join(lines) + "\n"


def _failed_row(record: dict[str, Any], names: Sequence[str]) -> str:
    done = record.get("steps_done") or {}
    step = record.get("step")
    cells = [f"{record['persons']:,}"]
    cells += [_num(done[n], 2) if n in done else "**failed**" if n == step else "-" for n in names]
    reason = " ".join(str(record.get("reason") or "unknown").split()).replace("|", "\\|")
    where = f" in {step}" if step else ""
    after = f" after {record['seconds']:,.0f} s" if record.get("seconds") is not None else ""
    peak = record.get("peak_rss_mb")
    cells += [f"failed{where}: {reason}{after}", _num(peak / 1024 if peak else None, 2), "-"]
    return "| " + " | ".join(cells) + " |"


PALETTE = ("#1b6ca8", "#d1495b", "#edae49", "#00798c", "#30638e", "#6a4c93", "#8d6a9f", "#2e4052", "#3a7d44")


def svg_chart(records: Sequence[dict[str, Any]], *, width: int = 640, height: int = 400) -> str:
    """Seconds against persons, both on log scales (a straight line's slope is the exponent), one line
    per step and the total, finished sizes only. Drawn here: the project's charts are plotly HTML or
    fixed-purpose SVG."""
    records = sorted((r for r in records if not is_failed(r)), key=lambda r: r["persons"])
    series = {
        n: [(r["persons"], r["step_profile"][n]["seconds"]) for r in records if n in r["step_profile"]]
        for n in step_names(records)
    }
    series["total"] = [(r["persons"], r["seconds"]) for r in records]
    points = [(n, s) for line in series.values() for n, s in line if n > 0 and s > 0]
    left, right, top, bottom = 60, 130, 20, 40
    frame = f'x="{left}" y="{top}" width="{width - left - right}" height="{height - top - bottom}"'
    body = [f'<rect {frame} fill="none" stroke="#999"/>']
    if points:
        x0, x1 = math.log10(min(n for n, _ in points)), math.log10(max(n for n, _ in points))
        y0, y1 = (
            math.floor(math.log10(min(s for _, s in points))),
            math.ceil(math.log10(max(s for _, s in points))),
        )
        x1 = x1 if x1 > x0 else x0 + 1
        y1 = y1 if y1 > y0 else y0 + 1

        def px(n: float) -> float:
            return left + (math.log10(n) - x0) / (x1 - x0) * (width - left - right)

        def py(s: float) -> float:
            return height - bottom - (math.log10(s) - y0) / (y1 - y0) * (height - top - bottom)

        for exp in range(y0, y1 + 1):
            y = py(10.0**exp)
            body.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>')
            body.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{10.0**exp:g} s</text>')
        for n in sorted({n for n, _ in points}):
            body.append(f'<text x="{px(n):.1f}" y="{height - bottom + 16}" text-anchor="middle">{n:,}</text>')
        for i, (name, line) in enumerate(series.items()):
            usable = [(n, s) for n, s in line if n > 0 and s > 0]
            color = PALETTE[i % len(PALETTE)]
            coords = " ".join(f"{px(n):.1f},{py(s):.1f}" for n, s in usable)
            dash = ' stroke-dasharray="6 3"' if name == "total" else ""
            body.append(f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="2"{dash}/>')
            body.extend(
                f'<circle cx="{px(n):.1f}" cy="{py(s):.1f}" r="3" fill="{color}"/>' for n, s in usable
            )
            y = top + 14 + 16 * i
            key = f'x1="{width - right + 10}" x2="{width - right + 28}" y1="{y - 4}" y2="{y - 4}"'
            body.append(f'<line {key} stroke="{color}" stroke-width="2"{dash}/>')
            body.append(f'<text x="{width - right + 32}" y="{y}">{name}</text>')
    body.append(
        f'<text x="{(width - right + left) / 2}" y="{height - 6}" text-anchor="middle">persons</text>'
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11" role="img">'
        "<title>Cycle seconds per step against persons (log-log)</title>" + "".join(body) + "</svg>\n"
    )


def run_scaling(
    sizes: Sequence[int],
    engine: str,
    *,
    seed: int,
    cache: Path,
    out: Path,
    fresh: bool,
    nodes: int = CLUSTER_NODES,
) -> dict[str, Any]:
    """Run (or reuse) every size of one engine, then write ``scaling-<engine>.md`` and ``.svg`` beside
    ``results.jsonl`` in ``out``; returns the summary for the benchmark's JSON line. A size that fails is
    recorded and the next one runs: the table and chart are written from whatever finished."""
    out.mkdir(parents=True, exist_ok=True)
    results = out / "results.jsonl"
    if fresh and results.exists():
        results.rename(out / f"results-{time.strftime('%Y%m%dT%H%M%S')}.jsonl")  # kept, not deleted
    records = load_results(results)
    used, reused = [], []
    for persons in sorted(set(sizes)):
        record = finished(records, persons, engine, seed)
        if record is None:
            runs = cache / "scaling-runs"  # beside the cached input: a run's data dir is as large
            runs.mkdir(parents=True, exist_ok=True)
            record = {**run_size(persons, engine, seed, cache, runs), "seed": seed}
            if is_failed(record):
                log.warning(
                    "scaling size failed",
                    persons=persons,
                    engine=engine,
                    step=record.get("step"),
                    reason=record.get("reason"),
                )
            append_result(results, record)
            records.append(record)
        else:
            reused.append(persons)
        used.append(record)
    done = [r for r in used if not is_failed(r)]
    step_fits = fits(done)
    projection = project(step_fits, nodes=nodes)
    node = node_size()
    table, chart = out / f"scaling-{engine}.md", out / f"scaling-{engine}.svg"
    table.write_text(markdown(used, projection, step_fits, node, nodes=nodes))
    chart.write_text(svg_chart(done))
    cluster = [r["cluster_seconds"] for r in projection if r["cluster_seconds"] is not None]
    return {
        "persons": [r["persons"] for r in done],
        "reused": reused,
        "failed": [
            {key: r.get(key) for key in ("persons", "step", "reason", "seconds", "peak_rss_mb")}
            for r in used
            if is_failed(r)
        ],
        "seconds": {r["persons"]: r["seconds"] for r in done},
        "peak_rss_mb": {r["persons"]: r.get("profile_peak_rss_mb") for r in done},
        "spill_mb": {r["persons"]: r.get("profile_spill_mb") for r in done},
        "exponents": {
            name: {"exponent": round(f.exponent, 3), "points": f.points} if f else None
            for name, f in step_fits.items()
        },
        "projection": {
            "persons": NATIONAL_PERSONS,
            "families": NATIONAL_FAMILIES,
            "nodes": nodes,
            "node": node,
            "efficiency": EFFICIENCY,
            "steps": projection,
            "cluster_seconds": round(sum(cluster), 1) if cluster else None,
        },
        "files": {"results": str(results), "table": str(table), "chart": str(chart)},
    }
