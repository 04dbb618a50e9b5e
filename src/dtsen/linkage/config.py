"""Linkage settings: the sources and their kinds, thresholds, the Splink model, survivorship. One pydantic
model with documented defaults, loadable from YAML, so tuning (or a new agency's data) is a reviewed file
rather than a code change."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

# link fields Splink sees (inputs.RECORD_COLUMNS minus provenance); unique_id is the record's rid
SPLINK_COLUMNS = (
    "unique_id",
    "nik",
    "nama",
    "nama_depan",
    "nama_urut",
    "tgl_lahir",
    "tahun_lahir",
    "jenis_kelamin",
    "kode_desa",
    "kode_kec",
    "kode_kab",
    "nik_wilayah",
    "nik_tanggal",
    "no_kk",
    "alamat",
    "rt_rw",
)
# comparisons written for Indonesian records (splink_model.py), with the link fields each reads and the
# fields whose term frequencies (taken from the register) they use
PRESETS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "dtsen_nik": (("nik",), ()),
    "dtsen_nama": (("nama", "nama_urut", "nama_depan"), ("nama", "nama_depan")),
    "dtsen_wilayah": (("kode_desa", "kode_kec", "kode_kab"), ()),
    "dtsen_lahir": (("tgl_lahir", "tahun_lahir"), ()),
    "dtsen_alamat": (("alamat", "rt_rw"), ()),
}
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SOURCE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")  # as a mapping's source (sources/mapping.py)


class ComparisonSpec(BaseModel):
    """One Splink comparison: a DTSEN preset, or a class of ``splink.comparison_library`` called with
    ``columns`` as its positional arguments and ``args`` as keywords (``tf``: term-frequency adjusted)."""

    model_config = ConfigDict(extra="forbid")

    kind: str = Field(
        description="dtsen_nik | dtsen_nama | dtsen_lahir | dtsen_wilayah | dtsen_alamat | a "
        "comparison_library class name."
    )
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
        c(kind="dtsen_lahir"),  # birth date, else the birth year an age (umur) gives
        c(kind="ExactMatch", columns=["jenis_kelamin"]),
        c(kind="dtsen_wilayah"),
        c(kind="ExactMatch", columns=["no_kk"]),
        # the street part of the address (sources/addresses.py); dtsen_alamat adds RT/RW levels
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
            # bounded by kabupaten: unbounded, its pairs grew with the square of the population (2.4 M at
            # 3 M persons, 7x the 1 M count; docs/benchmarks.md, "Where a 10 M cycle's memory goes")
            ["nama_depan", "tgl_lahir", "kode_kab"],
            # a record with neither NIK, KK nor region codes: its full name (blocks of a few records,
            # where a first name is thousands nationally) and birth date
            ["nama", "tgl_lahir"],
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
        description="Full-name Jaro-Winkler required on top of the first-name test when a record has no "
        "birth date (PLN, vehicle and land registries).",
    )


class Probabilistic(BaseModel):
    """Stage 2: Splink on the residue against Dukcapil and within itself."""

    model_config = ConfigDict(extra="forbid")

    match_threshold: float | Literal["auto"] = Field(
        "auto",
        description="Match probability at or above which a pair links; auto (default): the lowest at which "
        "the model's expected precision of the pairs it links reaches target_precision (thresholds.py).",
    )
    review_threshold: float | Literal["auto"] = Field(
        0.70,
        description="Pairs between this and match_threshold go to the clerical review queue; auto: the "
        "lowest lower end at which the queue's expected share of true matches is review_precision.",
    )
    target_precision: float = Field(
        0.995, gt=0, le=1, description="Expected precision an auto match_threshold must reach."
    )
    review_precision: float = Field(
        0.5, gt=0, le=1, description="Expected share of true matches an auto review band must hold."
    )
    refuse_conflicts: bool = Field(
        True,
        description="A Splink pair whose names and birth data both disagree never links (a NIK, KK and "
        "address shared within a household outweighed them); it goes to the review queue instead.",
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

    @model_validator(mode="after")
    def _bands(self) -> Probabilistic:
        numbers = [t for t in (self.review_threshold, self.match_threshold) if t != "auto"]
        if any(not 0 < t < 1 for t in numbers) or (len(numbers) == 2 and numbers[0] > numbers[1]):
            raise ValueError(
                "need 0 < review_threshold <= match_threshold < 1 (either may be auto), got "
                f"review_threshold {self.review_threshold}, match_threshold {self.match_threshold}"
            )
        return self


class SourceKind(StrEnum):
    """What a source's records are, hence what linkage and consolidation do with them."""

    REGISTER = "register"  # the population register: the spine every record links to; identity wins
    FIELD = "field"  # socio-economic field observations of families (Regsosek, DTKS, P3KE)
    SURVEY = "survey"  # a consumption survey sample: welfare-model training only, never linked
    ADMIN = "admin"  # registries of assets, utilities, insurance: link to persons, override self-report


class SourceSpec(BaseModel):
    """One source (the ``source`` of its mappings, written to ``sumber``)."""

    model_config = ConfigDict(extra="forbid")

    kind: SourceKind = Field(description="register | field | survey | admin.")
    rank: int | None = Field(
        None,
        description="Field sources only: trust in survivorship, lower wins between observations of the "
        "same tanggal_data (the most recent observation wins first).",
    )


def _default_sources() -> dict[str, SourceSpec]:
    """The shipped agencies (src/dtsen/sources/mappings): every one a default run may meet."""
    k = SourceKind
    return {
        "siak": SourceSpec(kind=k.REGISTER),
        "regsosek": SourceSpec(kind=k.FIELD, rank=10),  # ranks 10 apart: room for a new agency between
        "dtks": SourceSpec(kind=k.FIELD, rank=20),
        "p3ke": SourceSpec(kind=k.FIELD, rank=30),
        "susenas": SourceSpec(kind=k.SURVEY),
        "pln": SourceSpec(kind=k.ADMIN),
        "bpjs_kesehatan": SourceSpec(kind=k.ADMIN),
        "ranmor": SourceSpec(kind=k.ADMIN),
        "atr_bpn": SourceSpec(kind=k.ADMIN),
    }


# keys of the settings before ``sources`` declared the sources, and what replaced each
_MOVED = {
    "spine_source": "sources: <name>: {kind: register}",
    "survivorship.identity_sources": "sources: <name>: {kind: register}",
    "survivorship.field_sources": "sources: <name>: {kind: field, rank: <n>} (lower rank wins ties)",
}


class Survivorship(BaseModel):
    """Which record wins each golden attribute (docs/linkage.md explains the order). Which sources are
    the register and the field observations, and the field sources' order, is ``LinkConfig.sources``."""

    model_config = ConfigDict(extra="forbid")

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

    sources: dict[str, SourceSpec] = Field(
        default_factory=_default_sources,
        description="Every source a run may link, by name: its kind and (field sources) rank. Replaces "
        "the shipped list when given; a batch of an undeclared source is refused.",
    )
    deterministic: Deterministic = Field(default_factory=Deterministic)
    probabilistic: Probabilistic = Field(default_factory=Probabilistic)
    survivorship: Survivorship = Field(default_factory=Survivorship)
    reference_date: date | None = Field(
        None, description="Date umur is computed at; default the latest tanggal_data of the spine."
    )

    @model_validator(mode="before")
    @classmethod
    def _moved_keys(cls, data: Any) -> Any:
        """Settings written before ``sources`` existed name the key that replaced theirs."""
        if isinstance(data, dict):
            surv = data.get("survivorship")
            surv = surv if isinstance(surv, dict) else {}
            given = [key for key in _MOVED if key in data or (key.split(".")[-1] in surv and "." in key)]
            if given:
                raise ValueError(
                    "; ".join(f"{k} is no longer a setting: declare {_MOVED[k]}" for k in given)
                    + " (docs/linkage.md, Sources)"
                )
        return data

    @model_validator(mode="after")
    def _sources_consistent(self) -> LinkConfig:
        registers = self.of_kind(SourceKind.REGISTER)
        if len(registers) != 1:
            raise ValueError(
                f"sources: exactly one source of kind register (the spine) is needed, got {sorted(registers)}"
            )
        ranks: dict[int, str] = {}
        for name, spec in self.sources.items():
            if not _SOURCE_NAME.match(name):
                raise ValueError(f"sources.{name}: not a source name (lower case, digits, _)")
            if spec.kind != SourceKind.FIELD:
                if spec.rank is not None:
                    raise ValueError(f"sources.{name}: rank orders field sources only, not {spec.kind}")
                continue
            if spec.rank is None:
                raise ValueError(f"sources.{name}: a field source needs a rank (lower wins ties)")
            if spec.rank in ranks:
                raise ValueError(f"sources.{name}: rank {spec.rank} is also {ranks[spec.rank]}'s")
            ranks[spec.rank] = name
        return self

    def of_kind(self, *kinds: SourceKind) -> frozenset[str]:
        """The declared sources of these kinds."""
        return frozenset(n for n, spec in self.sources.items() if spec.kind in kinds)

    @property
    def spine_source(self) -> str:
        """The population register every source is linked to."""
        (name,) = self.of_kind(SourceKind.REGISTER)
        return name

    @property
    def field_sources(self) -> list[str]:
        """The field sources, most trusted (lowest rank) first."""
        field = [(spec.rank, n) for n, spec in self.sources.items() if spec.kind == SourceKind.FIELD]
        return [n for _, n in sorted(field)]

    @property
    def not_linked(self) -> frozenset[str]:
        """Sources whose records never reach linkage or the golden records (survey samples)."""
        return self.of_kind(SourceKind.SURVEY)

    def kind_of(self, source: str, where: str) -> SourceKind:
        """The declared kind of ``source``; an undeclared one is refused (``where``: the batch or file),
        since treating it as any kind by default would silently mis-place its records."""
        spec = self.sources.get(source)
        if spec is None:
            raise ValueError(
                f"{where}: source {source!r} is not declared in the linkage settings; add it under "
                f"sources: (sources.{source}: {{kind: register | field | survey | admin, rank: <n> for a "
                f"field source}}; declared: {', '.join(sorted(self.sources))}; docs/linkage.md, Sources)"
            )
        return spec.kind

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
