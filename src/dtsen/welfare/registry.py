"""Versioned model artifacts in ``data_dir/models/<version>/``: both models, the conformal calibration,
the survey config, the training-data hash and the held-out metrics. Every ranking records the version.

Nothing is pickled: the challenger is LightGBM's own text format, the baseline and calibration are JSON,
so an artifact can be read (and audited) without running code from it. A version directory is written
under a staging name and renamed into place, so a failed training never leaves a half-written model.
"""

from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from dtsen.config import get_settings
from dtsen.welfare.baseline import StepwiseOLS
from dtsen.welfare.challenger import BoostedPMT
from dtsen.welfare.intervals import Conformal

MODELS_DIR = "models"
BASELINE, CHALLENGER = "ols_stepwise", "lightgbm"
ADMIN = "administratif"  # LightGBM on the administrative view only (dtsen.welfare.train.admin_view)


class ModelNotFoundError(LookupError):
    pass


@dataclass
class WelfareModel:
    version: str
    path: Path
    manifest: dict[str, Any]
    models: dict[str, Any]  # name -> fitted estimator (predict, contributions)
    conformal: dict[str, Conformal]
    metrics: dict[str, Any]

    @property
    def chosen(self) -> str:
        return str(self.manifest["chosen"])

    @property
    def has_admin(self) -> bool:
        return ADMIN in self.models and ADMIN in self.conformal

    @property
    def cutoffs(self) -> np.ndarray:
        """Survey estimate of the national desil cut-offs of true log per-capita consumption (9 values)."""
        return np.asarray(self.manifest["cutoffs"], dtype=float)


def models_root(data_dir: Path | None = None) -> Path:
    return Path(data_dir or get_settings().data_dir) / MODELS_DIR


def save(
    data_dir: Path | None,
    data_hash: str,
    manifest: dict[str, Any],
    baseline: StepwiseOLS,
    challenger: BoostedPMT,
    conformal: dict[str, Conformal],
    metrics: dict[str, Any],
    config_yaml: str,
    admin: BoostedPMT | None = None,
) -> Path:
    """Write a new version; returns its directory."""
    root = models_root(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    version = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{data_hash[:8]}"
    staging = root / f".staging-{version}-{uuid.uuid4().hex[:6]}"
    staging.mkdir()
    try:
        full = {
            "version": version,
            "data_hash": data_hash,
            "created": datetime.now(UTC).isoformat(),
            **manifest,
        }
        (staging / "manifest.json").write_text(
            json.dumps(full, indent=2, ensure_ascii=False), encoding="utf-8"
        )
        (staging / "metrics.json").write_text(
            json.dumps(metrics, indent=2, ensure_ascii=False), encoding="utf-8"
        )
        (staging / "config.yaml").write_text(config_yaml, encoding="utf-8")
        (staging / f"{BASELINE}.json").write_text(json.dumps(baseline.to_dict()), encoding="utf-8")
        (staging / f"{CHALLENGER}.txt").write_text(challenger.to_string(), encoding="utf-8")
        (staging / f"{CHALLENGER}.params.json").write_text(
            json.dumps(challenger.get_params()), encoding="utf-8"
        )
        if admin is not None:
            (staging / f"{ADMIN}.txt").write_text(admin.to_string(), encoding="utf-8")
            (staging / f"{ADMIN}.params.json").write_text(json.dumps(admin.get_params()), encoding="utf-8")
        (staging / "conformal.json").write_text(
            json.dumps({k: c.to_dict() for k, c in conformal.items()}), encoding="utf-8"
        )
        target = root / version
        if target.exists():
            raise FileExistsError(f"model version {version} already exists")
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def versions(data_dir: Path | None = None) -> list[str]:
    root = models_root(data_dir)
    if not root.is_dir():
        return []
    return sorted(
        p.name
        for p in root.iterdir()
        if p.is_dir() and (p / "manifest.json").is_file() and not p.name.startswith(".")
    )


def load(version: str | Path | None = None, data_dir: Path | None = None) -> WelfareModel:
    """A model by version name, by directory, or the newest one (``None`` or ``latest``)."""
    if version is not None and Path(version).is_dir() and (Path(version) / "manifest.json").is_file():
        path = Path(version)
    else:
        known = versions(data_dir)
        if not known:
            raise ModelNotFoundError(
                f"no trained welfare model under {models_root(data_dir)} (run dtsen welfare train)"
            )
        name = known[-1] if version in (None, "latest") else str(version)
        if name not in known:
            raise ModelNotFoundError(f"model version {name} not found under {models_root(data_dir)}")
        path = models_root(data_dir) / name
    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    baseline = StepwiseOLS.from_dict(json.loads((path / f"{BASELINE}.json").read_text(encoding="utf-8")))
    params = json.loads((path / f"{CHALLENGER}.params.json").read_text(encoding="utf-8"))
    challenger = BoostedPMT.from_string((path / f"{CHALLENGER}.txt").read_text(encoding="utf-8"), params)
    conformal = {
        k: Conformal.from_dict(v)
        for k, v in json.loads((path / "conformal.json").read_text(encoding="utf-8")).items()
    }
    metrics = json.loads((path / "metrics.json").read_text(encoding="utf-8"))
    models: dict[str, Any] = {BASELINE: baseline, CHALLENGER: challenger}
    if (path / f"{ADMIN}.txt").is_file():  # versions trained before the administrative model lack it
        admin_params = json.loads((path / f"{ADMIN}.params.json").read_text(encoding="utf-8"))
        models[ADMIN] = BoostedPMT.from_string(
            (path / f"{ADMIN}.txt").read_text(encoding="utf-8"), admin_params
        )
    return WelfareModel(manifest["version"], path, manifest, models, conformal, metrics)
