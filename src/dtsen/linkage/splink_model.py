"""The Splink model of stage 2: comparisons, blocking rules suited to Indonesia, training, versioned JSON.

Trained once on a broad sample of stacked records (u by random sampling, m by EM over two blocking
rules, so every comparison is estimated once with its own field outside the block), saved as
``state/model/splink_v<N>.json`` and reused by every later run until the configuration that shapes it
changes or a retrain is asked for. Training on a small residue alone is unstable (EM on few pairs),
hence the broad sample.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from dtsen.linkage.config import LinkConfig
from dtsen.logs import get_logger

log = get_logger(__name__)

# link fields Splink sees (inputs.RECORD_COLUMNS minus provenance); unique_id is the record's rid
SPLINK_COLUMNS = (
    "unique_id", "nik", "nama", "nama_depan", "nama_urut", "tgl_lahir", "jenis_kelamin", "kode_desa",
    "kode_kec", "kode_kab", "nik_wilayah", "nik_tanggal", "no_kk", "alamat",
)  # fmt: skip
TF_COLUMNS = ("nama", "nama_depan")  # term frequencies taken from the population register


def blocking_rules() -> list[Any]:
    """Candidate pairs: kecamatan + birth date; first name + birth date; NIK region + NIK date part; KK
    number; full name within a kabupaten or at the same address (registry rows that have neither birth
    date nor NIK; the vehicle registry has an address but no region code)."""
    from splink import block_on

    return [
        block_on("kode_kec", "tgl_lahir"),
        block_on("nama_depan", "tgl_lahir"),
        block_on("nik_wilayah", "nik_tanggal"),
        block_on("no_kk"),
        block_on("nama", "kode_kab"),
        block_on("nama", "alamat"),
    ]


BLOCKING_RULE_NAMES = (
    "kode_kec+tgl_lahir",
    "nama_depan+tgl_lahir",
    "nik_wilayah+nik_tanggal",
    "no_kk",
    "nama+kode_kab",
    "nama+alamat",
)
SETTINGS_VERSION = 2  # bump when comparisons or blocking rules change: the persisted model is retrained


def comparisons() -> list[Any]:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    nik = cl.CustomComparison(
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
    nama = cl.CustomComparison(
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
        comparison_description="standardized name: exact (term frequency), reordered, Jaro-Winkler, first name",
    )
    wilayah = cl.CustomComparison(
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
    return [
        nik,
        nama,
        cl.DateOfBirthComparison("tgl_lahir", input_is_string=True),  # ISO dates; each dialect its format
        cl.ExactMatch("jenis_kelamin"),
        wilayah,
        cl.ExactMatch("no_kk"),
        cl.ExactMatch("alamat"),
    ]


def settings() -> Any:
    from splink import SettingsCreator

    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=comparisons(),
        blocking_rules_to_generate_predictions=blocking_rules(),
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=False,
    )


def trained_settings(model_path: Path) -> Any:
    """The persisted model rebuilt from code for any backend: the JSON's SQL is in the dialect it was
    trained on (DuckDB), so only its parameters (lambda, m and u per level) are read back."""
    from splink import SettingsCreator

    data = json.loads(model_path.read_text(encoding="utf-8"))
    built = comparisons()
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
        blocking_rules_to_generate_predictions=blocking_rules(),
        probability_two_random_records_match=data["probability_two_random_records_match"],
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=False,
    )


@dataclass(frozen=True)
class Model:
    version: int
    path: Path
    key: str

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
    return Model(m["version"], model_dir(state_dir) / m["file"], m["key"])


def train(sample: pa.Table, cfg: LinkConfig, state_dir: Path) -> Model:
    """Train on ``sample`` (SPLINK_COLUMNS) with DuckDB and save the next model version."""
    import duckdb
    from splink import DuckDBAPI, Linker, block_on

    p = cfg.probabilistic
    con = duckdb.connect()
    try:
        db = DuckDBAPI(connection=con)
        df = db.register(sample, table_name="dtsen_training_sample")
        linker = Linker(df, settings(), log_level=logging.WARNING)
        linker.training.estimate_probability_two_random_records_match(
            [block_on("nik", "nama_depan"), block_on("nama", "tgl_lahir", "kode_kec")], recall=0.85
        )
        linker.training.estimate_u_using_random_sampling(max_pairs=p.u_max_pairs, seed=p.seed)
        linker.training.estimate_parameters_using_expectation_maximisation(block_on("nik"))
        linker.training.estimate_parameters_using_expectation_maximisation(block_on("kode_kec", "tgl_lahir"))
        folder = model_dir(state_dir)
        folder.mkdir(parents=True, exist_ok=True)
        previous = current_model(state_dir)
        version = (previous.version if previous else 0) + 1
        target = folder / f"splink_v{version}.json"
        staging = folder / f".{target.name}.tmp"
        linker.misc.save_model_to_json(str(staging), overwrite=True)
        staging.rename(target)
        meta = {
            "version": version,
            "file": target.name,
            "key": cfg.model_key(),
            "trained_at": datetime.now(UTC).isoformat(),
            "training_rows": sample.num_rows,
        }
        tmp = folder / ".current.json.tmp"
        tmp.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        tmp.rename(folder / "current.json")
    finally:
        con.close()
    log.info("splink model trained", version=version, rows=sample.num_rows)
    return Model(version, target, meta["key"])
