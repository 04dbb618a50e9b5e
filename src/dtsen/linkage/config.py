"""Linkage settings: thresholds, the Splink model, survivorship. One pydantic model with documented defaults,
loadable from YAML, so tuning is a reviewed file rather than a code change."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

# sources that name persons and whose records are field observations of a family (socio-economic facts)
FIELD_SOURCES = ("regsosek", "dtks", "p3ke")

# link fields Splink sees (inputs.RECORD_COLUMNS minus provenance); unique_id is the record's rid
SPLINK_COLUMNS = (
    "unique_id",
    "nik",
    "nama",
    "nama_depan",
    "nama_urut",
    "tgl_lahir",
    "jenis_kelamin",
    "kode_desa",
    "kode_kec",
    "kode_kab",
    "nik_wilayah",
    "nik_tanggal",
    "no_kk",
    "alamat",
)
# comparisons written for Indonesian records (splink_model.py), with the link fields each reads and the
# fields whose term frequencies (taken from the register) they use
PRESETS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "dtsen_nik": (("nik",), ()),
    "dtsen_nama": (("nama", "nama_urut", "nama_depan"), ("nama", "nama_depan")),
    "dtsen_wilayah": (("kode_desa", "kode_kec", "kode_kab"), ()),
}
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ComparisonSpec(BaseModel):
    """One Splink comparison: a DTSEN preset, or a class of ``splink.comparison_library`` called with
    ``columns`` as its positional arguments and ``args`` as keywords (``tf``: term-frequency adjusted)."""

    model_config = ConfigDict(extra="forbid")

    kind: str = Field(description="dtsen_nik | dtsen_nama | dtsen_wilayah | a comparison_library class name.")
    columns: list[str] = Field([], description="Link fields passed positionally (none for a preset).")
    args: dict[str, Any] = Field({}, description="Keyword arguments of the comparison_library class.")
    tf: bool = Field(False, description="Term-frequency adjustment of exact matches (register frequencies).")

    @model_validator(mode="after")
    def _known(self) -> ComparisonSpec:
        if self.kind in PRESETS:
            if self.columns or self.args or self.tf:
                raise ValueError(f"comparison {self.kind}: a preset takes no columns, args or tf")
            return self
        import splink.comparison_library as cl

        if not self.kind[:1].isupper() or not isinstance(getattr(cl, self.kind, None), type):
            raise ValueError(
                f"comparison {self.kind!r}: neither a preset ({', '.join(PRESETS)}) "
                "nor a class of splink.comparison_library"
            )
        if not self.columns:
            raise ValueError(f"comparison {self.kind}: needs at least one column")
        if self.tf and len(self.columns) != 1:
            raise ValueError(f"comparison {self.kind}: tf needs exactly one column")
        return self

    @property
    def reads(self) -> tuple[str, ...]:
        return PRESETS[self.kind][0] if self.kind in PRESETS else tuple(self.columns)

    @property
    def tf_columns(self) -> tuple[str, ...]:
        if self.kind in PRESETS:
            return PRESETS[self.kind][1]
        return tuple(self.columns) if self.tf else ()


def _default_comparisons() -> list[ComparisonSpec]:
    # built unvalidated (known good) so that a default LinkConfig does not import Splink
    c = ComparisonSpec.model_construct
    return [
        c(kind="dtsen_nik"),
        c(kind="dtsen_nama"),
        # ISO dates as text: each SQL dialect parses its own format
        c(kind="DateOfBirthComparison", columns=["tgl_lahir"], args={"input_is_string": True}),
        c(kind="ExactMatch", columns=["jenis_kelamin"]),
        c(kind="dtsen_wilayah"),
        c(kind="ExactMatch", columns=["no_kk"]),
        c(kind="ExactMatch", columns=["alamat"]),
    ]


class SplinkSpec(BaseModel):
    """What the Splink model is made of: comparisons, blocking rules and training rules. The defaults are
    built for Indonesian records; another dataset (FEBRL4) brings its own through its mapping, adding
    its link fields to the record table as ``extra_columns``. A rule is a list of link fields or SQL
    expressions over them, all equal between the two records (Splink's ``block_on``)."""

    model_config = ConfigDict(extra="forbid")

    extra_columns: list[str] = Field(
        [], description="Record-table columns Splink sees besides the standard link fields."
    )
    comparisons: list[ComparisonSpec] = Field(default_factory=_default_comparisons)
    blocking_rules: list[list[str]] = Field(
        [
            ["kode_kec", "tgl_lahir"],
            ["nama_depan", "tgl_lahir"],
            ["nik_wilayah", "nik_tanggal"],
            ["no_kk"],
            ["nama", "kode_kab"],  # registry rows without birth date or NIK
            ["nama", "alamat"],  # the vehicle registry has an address but no region code
        ],
        description="Candidate pairs: a pair is scored when any rule holds.",
    )
    lambda_rules: list[list[str]] = Field(
        [["nik", "nama_depan"], ["nama", "tgl_lahir", "kode_kec"]],
        description="Deterministic rules estimating the share of matching pairs (lambda).",
    )
    lambda_recall: float = Field(0.85, gt=0, le=1, description="Assumed recall of lambda_rules.")
    em_rules: list[list[str]] = Field(
        [["nik"], ["kode_kec", "tgl_lahir"]],
        description="Blocking rules of the EM passes estimating m (each comparison outside some rule).",
    )

    @model_validator(mode="after")
    def _fields_known(self) -> SplinkSpec:
        repeated = [c for c in self.extra_columns if c in SPLINK_COLUMNS or not _IDENTIFIER.match(c)]
        if repeated or len(set(self.extra_columns)) != len(self.extra_columns):
            raise ValueError(
                f"extra_columns: {repeated or self.extra_columns} repeat a link field or are not names"
            )
        known = set(self.columns)
        for where, rules in (
            ("blocking_rules", self.blocking_rules),
            ("lambda_rules", self.lambda_rules),
            ("em_rules", self.em_rules),
        ):
            for rule in rules:
                if not rule:
                    raise ValueError(f"{where}: an empty rule")
                unknown = [c for c in rule if _IDENTIFIER.match(c) and c not in known]
                if unknown:
                    raise ValueError(f"{where} {rule}: unknown link field(s) {unknown}; add to extra_columns")
        for comparison in self.comparisons:
            unknown = [c for c in comparison.reads if c not in known]
            if unknown:
                raise ValueError(f"comparison {comparison.kind}: unknown link field(s) {unknown}")
        if not self.comparisons or not self.blocking_rules or not self.em_rules:
            raise ValueError("need at least one comparison, blocking rule and EM rule")
        return self

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column Splink reads (``unique_id`` is the record's rid)."""
        return (*SPLINK_COLUMNS, *self.extra_columns)

    @property
    def tf_columns(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c for comparison in self.comparisons for c in comparison.tf_columns))


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
    splink: SplinkSpec = Field(
        default_factory=SplinkSpec, description="Comparisons, blocking and training rules of the model."
    )


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
            "splink": p.splink.model_dump(mode="json"),
        }
        return hashlib.sha256(json.dumps(basis, sort_keys=True).encode()).hexdigest()[:12]
