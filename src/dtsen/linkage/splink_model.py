"""The Splink model of stage 2: comparisons, blocking rules (``config.SplinkSpec``, by default suited to
Indonesia), training, versioned JSON.

Trained once on a broad sample of stacked records (u by random sampling, m by EM over the spec's EM
rules, so every comparison is estimated once with its own field outside the block), saved as
``state/model/splink_v<N>.json`` and reused by every later run until the configuration that shapes it
changes or a retrain is asked for. Training on a small residue alone is unstable (EM on few pairs),
hence the broad sample. The spec is saved with the model, so scoring uses what the model was trained with.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from dtsen import atomic
from dtsen.linkage.config import PRESETS, ComparisonSpec, LinkConfig, SplinkSpec
from dtsen.logs import get_logger

log = get_logger(__name__)

TF_COLUMNS = SplinkSpec().tf_columns  # term frequencies (default model) taken from the population register


def blocking_rules(spec: SplinkSpec | None = None) -> list[Any]:
    """Candidate pairs (``spec.blocking_rules``). Defaults: kecamatan + birth date; first name + birth date
    within a kabupaten; full name + birth date (records without region codes); NIK region + NIK date
    part; KK number; full name within a kabupaten or at the same address (registry rows that have
    neither birth date nor NIK; the vehicle registry has an address but no region code)."""
    from splink import block_on

    return [block_on(*rule) for rule in (spec or SplinkSpec()).blocking_rules]


BLOCKING_RULE_NAMES = tuple("+".join(rule) for rule in SplinkSpec().blocking_rules)
# bump when the code of a preset or a link field's meaning changes (4: alamat is the street part only):
# the persisted model is retrained
SETTINGS_VERSION = 4


def _preset(kind: str) -> Any:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    if kind == "dtsen_nik":
        return cl.CustomComparison(
            output_column_name="nik",
            comparison_levels=[
                cll.NullLevel("nik"),
                cll.ExactMatchLevel("nik"),
                cll.DamerauLevenshteinLevel("nik", 1),
                cll.LevenshteinLevel("nik", 2),
                cll.ElseLevel(),
            ],
            comparison_description="NIK compared fuzzily (typos and transposed digits), not as a key",
        )
    if kind == "dtsen_nama":
        return cl.CustomComparison(
            output_column_name="nama",
            comparison_levels=[
                cll.NullLevel("nama"),
                cll.ExactMatchLevel("nama").configure(tf_adjustment_column="nama"),
                cll.ExactMatchLevel("nama_urut").configure(label_for_charts="same words, other order"),
                cll.JaroWinklerLevel("nama", 0.92),
                cll.ExactMatchLevel("nama_depan")
                .configure(tf_adjustment_column="nama_depan")
                .configure(label_for_charts="same first name"),
                cll.JaroWinklerLevel("nama", 0.80),
                cll.ElseLevel(),
            ],
            comparison_description="standardized name: exact (term frequency), reordered, Jaro-Winkler, "
            "first name",
        )
    if kind == "dtsen_lahir":
        return _birth()
    if kind == "dtsen_alamat":
        return _address()
    return cl.CustomComparison(
        output_column_name="wilayah",
        comparison_levels=[
            cll.NullLevel("kode_kab"),
            cll.ExactMatchLevel("kode_desa"),
            cll.ExactMatchLevel("kode_kec"),
            cll.ExactMatchLevel("kode_kab"),
            cll.ElseLevel(),
        ],
        comparison_description="region: same desa, kecamatan, kabupaten",
    )


def _address() -> Any:
    """The street part of the address (``sources/addresses.py``), then RT/RW: the same in both records, one
    record without RT/RW (most registries outside the population register), or another RT/RW. Two
    neighbours of one kampung who share a name differ only in their RT/RW; a street matched without
    them weighs what the model learns for that case, not what a full match weighs."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    same = "alamat_l = alamat_r"
    return cl.CustomComparison(
        output_column_name="alamat",
        comparison_levels=[
            cll.NullLevel("alamat"),
            cll.CustomLevel(f"{same} AND rt_rw_l = rt_rw_r", label_for_charts="same street, RT and RW"),
            cll.CustomLevel(
                f"{same} AND (rt_rw_l IS NULL OR rt_rw_r IS NULL)", label_for_charts="same street, no RT/RW"
            ),
            cll.CustomLevel(same, label_for_charts="same street, other RT/RW"),
            cll.ElseLevel(),
        ],
        comparison_description="address: street part, then RT/RW",
    )


def _birth() -> Any:
    """Birth date with Splink's date-of-birth levels, and, when either record has an age (``umur``) but no
    date, the birth year it gives (``tahun_lahir``: year of tanggal_data minus umur) within one year.

    One comparison, so a record with both date and age is not counted twice; an age 30 years off falls
    to the else level, which EM trains on full dates (a strong "different person"). ISO dates as text:
    each SQL dialect parses its own format. A subclass, not a CustomComparison of the date levels: Splink
    rewrites those level objects in place each time it builds SQL from them."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    class BirthComparison(cl.DateOfBirthComparison):
        def create_comparison_levels(self) -> list[Any]:
            dates = super().create_comparison_levels()  # null, exact, 1 character, 1 month, 1/10 years, else
            return [
                cll.CustomLevel("tahun_lahir_l IS NULL OR tahun_lahir_r IS NULL").configure(
                    is_null_level=True
                ),
                *dates[1:-1],  # two full dates
                cll.CustomLevel(
                    "(tgl_lahir_l IS NULL OR tgl_lahir_r IS NULL) "
                    "AND ABS(tahun_lahir_l - tahun_lahir_r) <= 1",
                    label_for_charts="birth year from age within 1",
                ),
                dates[-1],
            ]

    return BirthComparison("tgl_lahir", input_is_string=True)


def _comparison(c: ComparisonSpec) -> Any:
    if c.kind in PRESETS:
        return _preset(c.kind)
    import splink.comparison_library as cl

    try:
        built = getattr(cl, c.kind)(*c.columns, **c.args)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"comparison {c.kind} on {c.columns}: {exc}") from exc
    return built.configure(term_frequency_adjustments=True) if c.tf else built


def comparisons(spec: SplinkSpec | None = None) -> list[Any]:
    """The model's comparisons (``spec.comparisons``). Defaults: NIK fuzzily, name (exact with term
    frequency, reordered, Jaro-Winkler, first name), birth date or age, sex, region, KK number, the
    street part of the address (``dtsen_alamat`` adds RT/RW levels)."""
    return [_comparison(c) for c in (spec or SplinkSpec()).comparisons]


def settings(spec: SplinkSpec | None = None) -> Any:
    from splink import SettingsCreator

    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=comparisons(spec),
        blocking_rules_to_generate_predictions=blocking_rules(spec),
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=False,
    )


def trained_settings(model_path: Path, spec: SplinkSpec | None = None) -> Any:
    """The persisted model rebuilt from code (``spec``: what it was trained with) for any backend: the
    JSON's SQL is in the dialect it was trained on (DuckDB), so only its parameters (lambda, m and u per
    level) are read back."""
    from splink import SettingsCreator

    data = json.loads(model_path.read_text(encoding="utf-8"))
    built = comparisons(spec)
    if len(built) != len(data["comparisons"]):
        raise ValueError(
            f"{model_path}: {len(data['comparisons'])} comparisons, code has {len(built)}; retrain"
        )
    for comparison, saved in zip(built, data["comparisons"], strict=True):
        levels = [lv for lv in saved["comparison_levels"] if not lv.get("is_null_level")]
        comparison.configure(
            m_probabilities=[lv.get("m_probability") for lv in levels],
            u_probabilities=[lv.get("u_probability") for lv in levels],
        )
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=built,
        blocking_rules_to_generate_predictions=blocking_rules(spec),
        probability_two_random_records_match=data["probability_two_random_records_match"],
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=False,
    )


class TrainingError(ValueError):
    """The training sample cannot estimate the model (no EM rule finds a pair); the message says why."""


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def rule_fields(rule: list[str]) -> set[str]:
    """The plain column names a rule reads (a SQL expression's identifiers included)."""
    return {w for part in rule for w in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", part)}


def usable_rules(table: pa.Table, rules: list[list[str]], what: str, notes: list[str]) -> list[list[str]]:
    """``rules`` whose columns hold a value somewhere in ``table``; each rule left out is named in ``notes``
    (a source without region codes or birth dates makes a rule on them block nothing, or crash EM)."""
    empty = {c for c in table.column_names if table[c].null_count == table.num_rows}
    kept = []
    for rule in rules:
        absent = sorted(rule_fields(rule) & empty)
        if absent:
            notes.append(f"{what} {'+'.join(rule)} skipped: {', '.join(absent)} null in every record")
        else:
            kept.append(rule)
    return kept


UNOBSERVED = 1e-6  # what an EM session itself scores a level it never observed with


def pin_unobserved_levels(linker: Any) -> None:
    """Give every level that training saw but never observed (no EM session found it among matches, or
    random sampling among non-matches) the probability :data:`UNOBSERVED`. Splink leaves such a level
    untrained, and scoring then uses its *default* m: for a NIK two digits away (sisters born weeks
    apart have such NIKs) that turned "never seen among matches" into +5.7 bits and merged siblings."""
    from splink.internals.constants import LEVEL_NOT_OBSERVED_TEXT

    def unobserved(trained: list[dict[str, Any]]) -> bool:
        values = [r["probability"] for r in trained]
        return bool(values) and all(v == LEVEL_NOT_OBSERVED_TEXT for v in values)

    for comparison in linker._settings_obj.comparisons:
        for level in comparison._comparison_levels_excluding_null:
            if unobserved(level._trained_m_probabilities) and not level._fix_m_probability:
                level.m_probability = UNOBSERVED
            if unobserved(level._trained_u_probabilities) and not level._fix_u_probability:
                level.u_probability = UNOBSERVED


@contextmanager
def floored_em() -> Iterator[None]:
    """EM's maximisation step with every new m and u at least Splink's ``M_U_CLAMP_MIN`` (1e-300).

    A level met only among non-matches has its m multiplied each iteration by the already tiny weights of
    the pairs in it: the levels shrinking together take it from 1e-9 to 1e-187 and then to 0.0 in a few
    iterations, and Splink's setter refuses that 0.0 with a ValueError, ending training (kota set, seed
    14). Splink's own match weight clamps m and u at the same minimum, so this changes no weight; only
    the crash goes. Patched for the duration of one training, which runs on one thread."""
    from splink.internals import expectation_maximisation as em
    from splink.internals.comparison_level import M_U_CLAMP_MIN

    proportions = em.compute_proportions_for_new_parameters

    def floored(df_params: Any) -> list[dict[str, Any]]:
        records = proportions(df_params)
        for r in records:
            for key in ("m_probability", "u_probability"):
                value = r.get(key)
                if isinstance(value, (int, float)) and value < M_U_CLAMP_MIN:
                    r[key] = M_U_CLAMP_MIN
        return records

    em.compute_proportions_for_new_parameters = floored
    try:
        yield
    finally:
        em.compute_proportions_for_new_parameters = proportions


@dataclass(frozen=True)
class Model:
    version: int
    path: Path
    key: str
    spec: SplinkSpec = field(default_factory=SplinkSpec)  # comparisons and blocking it was trained with
    notes: tuple[str, ...] = ()  # rules training had to leave out, and why

    @property
    def label(self) -> str:
        return f"splink:v{self.version}"


def model_dir(state_dir: Path) -> Path:
    return state_dir / "model"


def current_model(state_dir: Path) -> Model | None:
    meta = model_dir(state_dir) / "current.json"
    if not meta.exists():
        return None
    m = json.loads(meta.read_text(encoding="utf-8"))
    spec = SplinkSpec.model_validate(m["splink"]) if "splink" in m else SplinkSpec()
    return Model(m["version"], model_dir(state_dir) / m["file"], m["key"], spec, tuple(m.get("notes", ())))


def train(sample: pa.Table, cfg: LinkConfig, state_dir: Path) -> Model:
    """Train on ``sample`` (the spec's link fields) with DuckDB and save the next model version."""
    from splink import DuckDBAPI, Linker, block_on
    from splink.internals.exceptions import EMTrainingException, SplinkException

    from dtsen.engine import local_duckdb

    p = cfg.probabilistic
    spec = p.splink
    # one thread: EM's sums then add up in one order, so the same sample gives bit-identical parameters
    # (with two, m and u differed in the last bits between runs and could flip a borderline pair); the
    # sample is small, so this costs under a second at 1 M persons
    con = local_duckdb(threads=1)
    try:
        db = DuckDBAPI(connection=con)
        df = db.register(sample, table_name="dtsen_training_sample")
        linker = Linker(df, settings(spec), log_level=logging.WARNING)
        notes: list[str] = []
        lambda_rules = usable_rules(sample, spec.lambda_rules, "lambda rule", notes)
        if lambda_rules:
            try:
                linker.training.estimate_probability_two_random_records_match(
                    [block_on(*rule) for rule in lambda_rules], recall=spec.lambda_recall
                )
            except SplinkException as exc:
                notes.append(f"lambda rules {lambda_rules}: {_first_line(exc)}; Splink's default share kept")
        linker.training.estimate_u_using_random_sampling(max_pairs=p.u_max_pairs, seed=p.seed)
        trained = 0
        for rule in usable_rules(sample, spec.em_rules, "EM rule", notes):
            try:
                with floored_em():
                    linker.training.estimate_parameters_using_expectation_maximisation(block_on(*rule))
                trained += 1
            except EMTrainingException as exc:  # no pairs in this sample (e.g. no source shares the field)
                notes.append(f"EM rule {'+'.join(rule)} skipped: {_first_line(exc)}")
        if not trained:
            raise TrainingError(
                f"no EM rule of {spec.em_rules} found record pairs in the {sample.num_rows:,}-row training "
                f"sample: {'; '.join(notes) or 'check the rules'}"
            )
        for note in notes:
            log.warning("splink training", note=note)
        pin_unobserved_levels(linker)
        folder = model_dir(state_dir)
        folder.mkdir(parents=True, exist_ok=True)
        previous = current_model(state_dir)
        version = (previous.version if previous else 0) + 1
        target = folder / f"splink_v{version}.json"
        with atomic.atomic_file(target) as staging:
            linker.misc.save_model_to_json(str(staging), overwrite=True)
        meta = {
            "version": version,
            "file": target.name,
            "key": cfg.model_key(),
            "trained_at": datetime.now(UTC).isoformat(),
            "training_rows": sample.num_rows,
            "splink": spec.model_dump(mode="json"),
            "notes": notes,
        }
        atomic.write_text(folder / "current.json", json.dumps(meta, indent=2) + "\n")
    finally:
        con.close()
    log.info("splink model trained", version=version, rows=sample.num_rows)
    return Model(version, target, meta["key"], spec, tuple(notes))


def usable_blocking(records: Path, model: Model, notes: list[str]) -> Model:
    """``model`` scoring with the blocking rules whose fields hold a value in ``records`` (the stacked
    record table); each rule left out is named in ``notes``."""
    import polars as pl

    names = [c for c in pl.read_parquet_schema(records) if c in set(model.spec.columns)]
    filled = pl.scan_parquet(records).select(pl.col(c).is_not_null().any() for c in names).collect()
    empty = {c for c in names if not filled[c][0]}
    kept = []
    for rule in model.spec.blocking_rules:
        absent = sorted(rule_fields(rule) & empty)
        if absent:
            notes.append(f"blocking rule {'+'.join(rule)} skipped: {', '.join(absent)} null in every record")
        else:
            kept.append(rule)
    if len(kept) == len(model.spec.blocking_rules):
        return model
    return replace(model, spec=model.spec.model_copy(update={"blocking_rules": kept}))
