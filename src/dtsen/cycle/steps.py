"""The steps of the quarterly cycle, in order; each reads frozen inputs and earlier steps' output only.

State that outlives a cycle (the linkage ID registry and Splink model, the welfare model registry) is
read from a copy frozen at the start of the run and written back only after the snapshot is published,
so a step that is killed and redone sees exactly what it saw the first time, and an abandoned run
changes nothing for the next one.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from dtsen import atomic
from dtsen.cycle.run import CycleContext, Step
from dtsen.logs import get_logger
from dtsen.tables import ID_REGISTRY, PROVENANCE, BatchStatus

log = get_logger(__name__)

SURVEY_MAPPINGS = ("susenas_rumah_tangga", "susenas_anggota")
#: Linkage state promoted after publish; the operator's clerical decisions are never overwritten.
LINKAGE_STATE = ("ids.parquet", "model")
SURVEY_CONFIG = "susenas_kanonik"


def _cutoff(ctx: CycleContext) -> datetime:
    """The data cut-off: given, or the moment the inputs were frozen (recorded, so a resume keeps it)."""
    if (ctx.run_dir / "freeze").is_dir():
        return datetime.fromisoformat(ctx.inputs["cutoff"])
    given = ctx.options.get("cutoff")
    return datetime.fromisoformat(given) if given else datetime.now(UTC)


# Indonesia's easternmost time zone (WIT, UTC+9): the latest calendar date anywhere in the country.
LATEST_LOCAL_ZONE = ZoneInfo("Asia/Jayapura")


def _cutoff_date(ctx: CycleContext) -> date:
    """Events and corrections count up to the earlier of the data cut-off and the period's end.

    Their dates are local dates (a decision taken in Jayapura is dated in WIT), so the cut-off moment is
    read as a date where the calendar is furthest ahead: a decision taken before the cut-off is never
    dated after it. Read as a UTC date, a decision taken between 00:00 and 07:00 WIB was deferred to the
    next quarter by a cycle run the same evening. A cut-off given without a time zone is taken as written.
    """
    cutoff = _cutoff(ctx)
    day = cutoff.astimezone(LATEST_LOCAL_ZONE).date() if cutoff.tzinfo is not None else cutoff.date()
    return min(day, ctx.period.end)


def _linkage_state(data_dir: Path) -> Path:
    return data_dir / "linkage"


# -- steps --------------------------------------------------------------------------------------------
def step_ingest(ctx: CycleContext, out: Path) -> dict[str, Any]:
    from dtsen.cycle.inputs import ingest_inbox

    inbox = ctx.options.get("inbox")
    summary = ingest_inbox(Path(inbox) if inbox else None, ctx.data_dir, ctx.engine)
    (out / "ingest.json").write_text(json.dumps(summary, indent=2, sort_keys=True), encoding="utf-8")
    return {
        "batches": len(summary["batches"]),
        "new": sum(b["status"] == BatchStatus.COMMITTED for b in summary["batches"]),
    }


def step_freeze(ctx: CycleContext, out: Path) -> dict[str, Any]:
    from dtsen.cycle.inputs import freeze
    from dtsen.workflows.loop import export_for_cycle

    # decided cases' changes join the corrections inbox (serving database configured; never raises)
    cases = export_for_cycle(ctx.data_dir, str(ctx.period), _cutoff(ctx))
    from dtsen.sharing.dci.crvs_inbox import export_for_cycle as export_dukcapil

    # events Dukcapil pushed over DCI notify join the event files (serving database configured; never raises)
    dukcapil = export_dukcapil(ctx.data_dir, str(ctx.period), _cutoff(ctx))
    inputs = freeze(ctx.data_dir, _cutoff(ctx), out)
    person_sources = [m for m in inputs["batches"] if m not in SURVEY_MAPPINGS]
    if "siak_penduduk" not in inputs["batches"]:
        raise ValueError("no SIAK (Dukcapil) batch landed before the cut-off: the registry has no spine")
    state = _linkage_state(ctx.data_dir)
    frozen = out / "linkage_state"
    frozen.mkdir()
    for name in (*LINKAGE_STATE, "decisions.parquet"):
        src = state / name
        if src.is_dir():
            shutil.copytree(src, frozen / name)
        elif src.is_file():
            shutil.copy2(src, frozen / name)
    return {
        "inputs": inputs,
        "sources": person_sources,
        "events": len(inputs["events"]),
        "corrections": len(inputs["corrections"]),
        **({"kasus": cases} if cases is not None else {}),
        **({"dukcapil_dci": dukcapil} if dukcapil is not None else {}),
    }


def step_link(ctx: CycleContext, out: Path) -> dict[str, Any]:
    from dtsen.linkage.config import LinkConfig
    from dtsen.linkage.run import link

    inputs = ctx.inputs
    batch_dirs = [
        Path(b["directory"]) for m, b in sorted(inputs["batches"].items()) if m not in SURVEY_MAPPINGS
    ]
    state = out / "state"
    shutil.copytree(ctx.output("freeze") / "linkage_state", state)
    cfg = LinkConfig(reference_date=ctx.period.end)
    result = link(batch_dirs, out / "tables", state, engine=ctx.engine, config=cfg, run=str(ctx.period))
    used = result.thresholds  # which thresholds linked and queued, and why
    return {"model": result.model, **result.counts, "seconds": result.seconds, "thresholds": used}


def step_apply_events(ctx: CycleContext, out: Path) -> dict[str, Any]:
    """Civil-registration events, then approved corrections, over the linked golden tables.

    Only the persons and families the events and corrections can read or change are loaded (selected by
    the engine: :mod:`dtsen.cycle.events.subset`); the rest of both tables is streamed through.
    Named ``consolidate`` until 2026-12 (a run interrupted before then resumes: :attr:`Step.former`)."""
    from dtsen.cycle.corrections import apply_corrections, read_corrections
    from dtsen.cycle.events import apply_events, read_events
    from dtsen.cycle.events.subset import FAMILY_KEY, PERSON_KEY, select_touched, write_back
    from dtsen.engine import append_parquet, get_engine
    from dtsen.linkage import ids as idreg

    eng = get_engine(ctx.engine)
    tables = ctx.output("link") / "tables"
    provenance: list[pl.DataFrame] = []  # rows events and corrections add to the linkage's provenance
    lineage = pl.read_parquet(tables / "lineage.parquet")
    frozen = ctx.output("freeze")
    inputs = ctx.inputs
    cutoff = _cutoff_date(ctx)
    summary: dict[str, Any] = {}
    event_files = [frozen / e["file"] for e in inputs["events"]]
    correction_files = [frozen / c["file"] for c in inputs["corrections"]]
    feed = read_events(event_files) if event_files else None
    cfeed = read_corrections(correction_files) if correction_files else None
    touched = select_touched(
        eng,
        tables / "persons.parquet",
        tables / "families.parquet",
        feed.events if feed else None,
        cfeed.corrections if cfeed else None,
        cutoff,
        lineage,
    )
    persons, families = touched.persons, touched.families
    if feed is not None:
        issued = idreg.highest_issued(eng, ctx.output("link") / "state")
        allocator = _Allocator(issued, touched.highest)
        persons, families, report = apply_events(
            persons,
            families,
            feed,
            cutoff,
            new_id=allocator,
            batch_id=f"peristiwa-{ctx.period}",
            reference_date=ctx.period.end,
            urban=touched.urban,
        )
        allocator.frame(str(ctx.period)).write_parquet(out / "new_ids.parquet")
        lineage = pl.concat([lineage, report.lineage], how="diagonal_relaxed")
        report.outcomes.write_parquet(out / "events_outcomes.parquet")
        feed.quarantine.write_parquet(out / "events_quarantine.parquet")
        provenance.append(report.provenance)
        summary["events"] = report.summary()
    if cfeed is not None:
        persons, families, creport = apply_corrections(
            persons, families, cfeed, cutoff, batch_id=f"koreksi-{ctx.period}", lineage=lineage
        )
        creport.outcomes.write_parquet(out / "corrections_outcomes.parquet")
        cfeed.quarantine.write_parquet(out / "corrections_quarantine.parquet")
        provenance.append(creport.provenance)
        summary["corrections"] = creport.summary()
    # the untouched rows streamed through, the share merged in by ID: a redone step writes the same bytes
    n_persons = write_back(
        tables / "persons.parquet",
        PERSON_KEY,
        touched.persons[PERSON_KEY],
        persons,
        out / "persons.parquet",
    )
    n_families = write_back(
        tables / "families.parquet",
        FAMILY_KEY,
        touched.families[FAMILY_KEY],
        families,
        out / "families.parquet",
    )
    # the linkage's provenance (~57 M rows at 1 M persons, already in a fixed order) is streamed, not
    # loaded; the rows added here follow it, sorted, so a redone step writes the same bytes
    added = [p.sort(p.columns, nulls_last=True) for p in provenance if p.height]
    extra = pl.concat(added, how="diagonal_relaxed") if added else PROVENANCE.empty()
    append_parquet(tables / "provenance.parquet", extra.to_arrow(), out / "provenance.parquet")
    lineage.sort(lineage.columns, nulls_last=True).write_parquet(out / "lineage.parquet")
    summary.update(persons=n_persons, families=n_families)
    return summary


class _Allocator:
    """New IDs for persons born and families split off by events, continuing the linkage registry's numbering.

    Each new ID is also written as a registry row under the key the next run's linkage will see for the
    same person (the SIAK record of that NIK) or family (its KK), so a newborn who appears in next
    quarter's SIAK extract keeps the ID the event gave them.
    """

    def __init__(self, issued: dict[str, int], present: dict[str, int]) -> None:
        """``issued``: the registry's highest number per kind (ids.highest_issued); ``present``: the
        highest in the golden tables (an ID the registry lost is still never issued twice)."""
        from dtsen.linkage import ids as idreg
        from dtsen.linkage.config import LinkConfig

        self.idreg = idreg
        self.spine_source = LinkConfig().spine_source
        self.counters = {kind: max(issued[kind], present[kind]) for kind in idreg.PREFIX}
        self.rows: list[dict[str, Any]] = []

    def __call__(self, kind: str, number: str | None) -> str:
        self.counters[kind] += 1
        new = f"{self.idreg.PREFIX[kind]}{self.counters[kind]:0{self.idreg.DIGITS}d}"
        if number:
            ids = self.idreg
            key = ids.record_key(self.spine_source, number) if kind == "person" else ids.family_key(number)
            self.rows.append({"jenis_id": kind, "kunci": key, "id": new, "aktif": True})
        return new

    def frame(self, run: str) -> pl.DataFrame:
        rows = [{**r, "run": run} for r in self.rows]
        return pl.DataFrame(rows, schema=ID_REGISTRY.polars, orient="row")


def _survey_dir(ctx: CycleContext, out: Path) -> Path | None:
    """A folder shaped like a data_dir holding only the frozen survey batches (the survey config globs it)."""
    batches = ctx.inputs["batches"]
    if not all(m in batches for m in SURVEY_MAPPINGS):
        return None
    root = out / "survey" / "batches"
    root.mkdir(parents=True)
    for m in SURVEY_MAPPINGS:
        src = Path(batches[m]["directory"])
        os.symlink(src.resolve(), root / src.name)
    return root.parent


def step_score(ctx: CycleContext, out: Path) -> dict[str, Any]:
    """Score and rank every family with the model trained on the frozen survey (trained once, then reused)."""
    from dtsen.welfare import registry
    from dtsen.welfare.score import score_registry
    from dtsen.welfare.survey import SurveyConfig, load_survey
    from dtsen.welfare.train import train

    model = ctx.options.get("model")
    trained: float | None = None
    if model is None:
        survey_dir = _survey_dir(ctx, out)
        if survey_dir is None:
            model = "latest"
        else:
            config = SurveyConfig.load(SURVEY_CONFIG)
            data_hash = load_survey(survey_dir, config).data_hash
            known = [
                v
                for v in registry.versions(ctx.data_dir)
                if json.loads((registry.models_root(ctx.data_dir) / v / "manifest.json").read_text())[
                    "data_hash"
                ]
                == data_hash
            ]
            t0 = time.perf_counter()
            model = known[-1] if known else train(survey_dir, config, data_dir=ctx.data_dir).version
            trained = None if known else round(time.perf_counter() - t0, 2)
        shutil.rmtree(out / "survey", ignore_errors=True)
    golden = ctx.output("apply_events")
    summary = score_registry(
        golden / "families.parquet",
        golden / "persons.parquet",
        model,
        out,
        engine=ctx.engine,
        data_dir=ctx.data_dir,
    )
    return {**summary, "training_seconds": trained}


def step_eligibility(ctx: CycleContext, out: Path) -> dict[str, Any]:
    from dtsen.programs.decide import decide

    golden = ctx.output("apply_events")
    frozen = ctx.output("freeze")
    flag_lists = [frozen / e["file"] for e in ctx.inputs.get("exclusions", [])]
    result = decide(
        golden / "persons.parquet",
        golden / "families.parquet",
        ctx.output("score") / "scores.parquet",
        out / "programs",
        flag_lists=flag_lists,
        engine=ctx.engine,
    )
    return {"families": result.families, "eligible": result.eligible}


def step_publish(ctx: CycleContext, out: Path) -> dict[str, Any]:
    """Publish the snapshot (atomic), then promote the linkage state and write the diff and the report."""
    from dtsen.cycle import report, snapshot
    from dtsen.cycle.diff import diff_snapshots
    from dtsen.cycle.run import checksums

    golden, score, programs = (
        ctx.output("apply_events"),
        ctx.output("score"),
        ctx.output("eligibility") / "programs",
    )
    files: dict[str, Path] = {
        "persons.parquet": golden / "persons.parquet",
        "families.parquet": golden / "families.parquet",
        "provenance.parquet": golden / "provenance.parquet",
        "lineage.parquet": golden / "lineage.parquet",
        "links.parquet": ctx.output("link") / "tables" / "links.parquet",
        "scores.parquet": score / "scores.parquet",
    }
    for p in sorted(programs.rglob("*")):
        if p.is_file():
            files[str(p.relative_to(programs))] = p
    previous = snapshot.current(ctx.data_dir)
    run_id = ctx.run_id
    existing = [
        s
        for s in snapshot.list_snapshots(ctx.data_dir)
        if s.manifest.get("inputs", {}).get("run_id") == run_id
    ]
    early = None  # the diff, when the aggregates computed it before publishing
    if existing:  # killed after publishing, before this step was committed: do not publish twice
        snap = existing[-1]
        snapshot.set_current(snap, data_dir=ctx.data_dir)
        previous = _previous_of(snap, ctx.data_dir)
    else:
        from dtsen.cycle import aggregates  # the dashboards' tables, published inside the snapshot

        scores_model = pl.read_parquet(score / "scores.parquet", columns=["versi_model"])["versi_model"]
        model_version = scores_model[0] if scores_model.len() else None
        built = aggregates.build(
            files,
            str(ctx.period),
            out / aggregates.AGGREGATE_DIR,
            previous=previous,
            model_version=model_version,
            data_dir=ctx.data_dir,
            batches=ctx.inputs.get("batches", {}),
            applied=golden,
        )
        files.update(built.files)
        early = built.diff
        snap = snapshot.publish(
            files,
            str(ctx.period),
            data_dir=ctx.data_dir,
            inputs={"run_id": run_id, "frozen": ctx.inputs, "link_model": ctx.summary("link").get("model")},
            model_version=model_version,
        )
    _promote_linkage_state(ctx, out)
    shutil.rmtree(out / "linkage_state")
    diff = None
    if previous is not None and previous.ref != snap.ref:
        d = early if early is not None else diff_snapshots(previous, snap)
        d.summary["baru"] = snap.ref
        d.write(out / "diff")
        diff = d.summary
    state = json.loads((ctx.run_dir / "state.json").read_text(encoding="utf-8"))
    report.write(snap, state, diff, out / "report")
    from dtsen.store.snapshot_load import load_after_publish  # a configured serving database loads it

    serving = load_after_publish(ctx.data_dir, snap.ref)  # a failure is logged and reported, never raised
    cases = subscribed = None
    if serving is not None and serving.get("status") != "failed":
        from dtsen.workflows.loop import outcomes_for_cycle  # the approved cases learn their outcome

        cases = outcomes_for_cycle(snap.ref, golden / "corrections_outcomes.parquet")
        from dtsen.sharing.dci.subscription_push import after_publish  # subscribers get the changes

        subscribed = after_publish(snap.ref)
    return {
        **({"serving": serving} if serving is not None else {}),
        **({"kasus": cases} if cases is not None else {}),
        **({"langganan_dci": subscribed} if subscribed is not None else {}),
        "snapshot": snap.ref,
        "snapshot_dir": str(snap.path),
        "previous": previous.ref if previous else None,
        "report": str(ctx.run_dir / "publish" / "report" / "report.html"),
        "files": {k: v for k, v in checksums(snap.path).items() if k != "manifest.json"},
    }


def _previous_of(snap: Any, data_dir: Path) -> Any:
    from dtsen.cycle import snapshot

    older = [
        s for s in snapshot.list_snapshots(data_dir) if (s.period, s.version) < (snap.period, snap.version)
    ]
    return older[-1] if older else None


def _promote_linkage_state(ctx: CycleContext, out: Path) -> None:
    """The registry and model this run used, plus the IDs events issued, become the next cycle's state."""
    from dtsen.linkage import ids as idreg

    src = out / "linkage_state"
    shutil.rmtree(src, ignore_errors=True)
    shutil.copytree(ctx.output("link") / "state", src)
    new_ids = ctx.output("apply_events") / "new_ids.parquet"
    if new_ids.exists() and idreg.registry_path(src).exists():
        from dtsen.engine import get_engine

        idreg.reserve(get_engine(ctx.engine), src, new_ids, str(ctx.period))
    dst = _linkage_state(ctx.data_dir)
    dst.mkdir(parents=True, exist_ok=True)
    for name in LINKAGE_STATE:
        s = src / name
        if s.is_dir():
            with atomic.atomic_dir(dst / name) as tmp:
                shutil.copytree(s, tmp, dirs_exist_ok=True)
        elif s.exists():
            with atomic.atomic_file(dst / name) as tmp:
                shutil.copy2(s, tmp)


STEPS: list[Step] = [
    Step("ingest", "menerima berkas sumber", step_ingest),
    Step("freeze", "membekukan input", step_freeze),
    Step("link", "menautkan orang dan keluarga", step_link),
    Step("apply_events", "peristiwa dan koreksi", step_apply_events, former=("consolidate",)),
    Step("score", "skor kesejahteraan dan desil", step_score),
    Step("eligibility", "kelayakan program", step_eligibility),
    Step("publish", "menerbitkan snapshot", step_publish),
]
