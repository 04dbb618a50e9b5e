"""Linkage settings: thresholds, the Splink model, survivorship. One pydantic model with documented defaults,
loadable from YAML, so tuning is a reviewed file rather than a code change."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

# sources that name persons and whose records are field observations of a family (socio-economic facts)
FIELD_SOURCES = ("regsosek", "dtks", "p3ke")


class Deterministic(BaseModel):
    """Stage 1: a valid NIK equal to a Dukcapil NIK links when the name and birth date corroborate it."""

    model_config = ConfigDict(extra="forbid")

    first_name_jw: float = Field(0.88, description="Jaro-Winkler of the first name tokens that corroborates.")
    sorted_name_jw: float = Field(
        0.92,
        description="Jaro-Winkler of the name tokens in sorted order (word order swapped) that corroborates.",
    )
    strong_name_jw: float = Field(
        0.90,
        description="Full-name Jaro-Winkler required on top of the first-name test when a record has no birth "
        "date (PLN, vehicle and land registries).",
    )


class Probabilistic(BaseModel):
    """Stage 2: Splink on the residue against Dukcapil and within itself."""

    model_config = ConfigDict(extra="forbid")

    match_threshold: float = Field(0.95, description="Match probability at or above which a pair links.")
    review_threshold: float = Field(
        0.70, description="Pairs between this and match_threshold go to the clerical review queue."
    )
    training_sample: int = Field(
        300_000, description="Records (all sources, whole kecamatan drawn at random) the model is trained on."
    )
    u_max_pairs: float = Field(2e6, description="Random pairs sampled to estimate u probabilities.")
    seed: int = Field(7, description="Seed of the training sample and of u sampling.")
    max_block_report: int = Field(5, description="Largest blocks listed per rule in the run report.")


class Survivorship(BaseModel):
    """Which source wins each golden attribute (docs/linkage.md explains the order)."""

    model_config = ConfigDict(extra="forbid")

    identity_sources: list[str] = Field(
        ["siak"], description="Identity, demography, vital status and address come from these, in order."
    )
    field_sources: list[str] = Field(
        list(FIELD_SOURCES),
        description="Socio-economic facts: the most recent field observation (tanggal_data) wins; ties in "
        "this order.",
    )
    admin_over_self_report: bool = Field(
        True, description="PLN power, vehicle and land registries replace self-reported assets when present."
    )
    admin_absence_is_false: bool = Field(
        False,
        description="When true, no registry record means the asset is absent (False); by default the "
        "self-report stands, because vehicles are often still registered to the seller.",
    )
    car_types: list[int] = Field([2, 3], description="JenisKendaraan codes that count as aset_mobil.")
    motorcycle_types: list[int] = Field(
        [1], description="JenisKendaraan codes that count as aset_sepeda_motor."
    )
    house_plot_use: str = Field("PERUMAHAN", description="Land use of the house plot (not lahan_lain).")


class LinkConfig(BaseModel):
    """Every linkage knob with its default."""

    model_config = ConfigDict(extra="forbid")

    deterministic: Deterministic = Field(default_factory=Deterministic)
    probabilistic: Probabilistic = Field(default_factory=Probabilistic)
    survivorship: Survivorship = Field(default_factory=Survivorship)
    spine_source: str = Field("siak", description="The population register every source is linked to.")
    reference_date: date | None = Field(
        None, description="Date umur is computed at; default the latest tanggal_data of the spine."
    )

    @model_validator(mode="after")
    def _bands(self) -> LinkConfig:
        p = self.probabilistic
        if not 0 < p.review_threshold <= p.match_threshold < 1:
            raise ValueError("need 0 < review_threshold <= match_threshold < 1")
        return self

    @classmethod
    def from_yaml(cls, path: Path) -> LinkConfig:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ValueError(f"linkage configuration {path}: {exc}") from exc
        return cls.model_validate(data)

    def model_key(self) -> str:
        """Hash of what the trained model depends on (a change retrains it under a new version)."""
        p = self.probabilistic
        from dtsen.linkage.splink_model import SETTINGS_VERSION

        basis = {
            "sample": p.training_sample,
            "u": p.u_max_pairs,
            "seed": p.seed,
            "settings": SETTINGS_VERSION,
        }
        return hashlib.sha256(json.dumps(basis, sort_keys=True).encode()).hexdigest()[:12]
