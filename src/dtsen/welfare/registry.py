"""Versioned model artifacts in ``data_dir/models/<version>/``: every candidate model, the conformal
calibration, the survey config, the training-data hash and the held-out metrics. Every ranking records
the version.

Nothing is pickled: a LightGBM model is its own text format (``NAME.txt``) plus its parameters and area
encoding as JSON (``NAME.params.json``, ``NAME.state.json``), the baseline and calibration are JSON, so an
artifact can be read (and audited) without running code from it. A version directory is written
under a staging name and renamed into place, so a failed training never leaves a half-written model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from dtsen.atomic import atomic_dir
from dtsen.config import get_settings
from dtsen.welfare.baseline import StepwiseOLS
from dtsen.welfare.challenger import BoostedPMT
from dtsen.welfare.intervals import Conformal

MODELS_DIR = "models"
BASELINE, CHALLENGER = "ols_stepwise", "lightgbm"
QUANTILE = "lightgbm_kuantil"  # LightGBM on the conditional 40% quantile (BoostedPMT(alpha=0.4))
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
    models: dict[str, StepwiseOLS | BoostedPMT],
    conformal: dict[str, Conformal],
    metrics: dict[str, Any],
    config_yaml: str,
) -> Path:
    """Write a new version (every model in ``models``, by name); returns its directory."""
    root = models_root(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    version = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{data_hash[:8]}"
    target = root / version
    if target.exists():
        raise FileExistsError(f"model version {version} already exists")
    with atomic_dir(target, replace=False) as staging:
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
        for name, model in models.items():
            if isinstance(model, StepwiseOLS):
                (staging / f"{name}.json").write_text(json.dumps(model.to_dict()), encoding="utf-8")
                continue
            (staging / f"{name}.txt").write_text(model.to_string(), encoding="utf-8")
            (staging / f"{name}.params.json").write_text(json.dumps(model.get_params()), encoding="utf-8")
            (staging / f"{name}.state.json").write_text(json.dumps(model.state()), encoding="utf-8")
        (staging / "conformal.json").write_text(
            json.dumps({k: c.to_dict() for k, c in conformal.items()}), encoding="utf-8"
        )
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
    models: dict[str, Any] = {BASELINE: baseline}
    for params_file in sorted(path.glob("*.params.json")):
        name = params_file.name.removesuffix(".params.json")
        state_file = path / f"{name}.state.json"
        if not state_file.is_file():
            raise ModelNotFoundError(
                f"{path}: {name} has no {state_file.name} (saved before small-area effects); retrain"
            )
        models[name] = BoostedPMT.from_string(
            (path / f"{name}.txt").read_text(encoding="utf-8"),
            json.loads(params_file.read_text(encoding="utf-8")),
            json.loads(state_file.read_text(encoding="utf-8")),
        )
    conformal = {
        k: Conformal.from_dict(v)
        for k, v in json.loads((path / "conformal.json").read_text(encoding="utf-8")).items()
    }
    metrics = json.loads((path / "metrics.json").read_text(encoding="utf-8"))
    return WelfareModel(manifest["version"], path, manifest, models, conformal, metrics)
