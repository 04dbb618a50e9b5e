"""Programs as data: the schema of a program definition (YAML) and its loader.

A program is a file, not code (see ``docs/programs.md``): who is targeted (a desil column and a cut-off),
what it pays (per family, per covered member, or per person matching a component, with a cap on persons),
whom it keeps outside the target (PBI-JK's catastrophic patients), which exclusions apply (each becomes a
reason code a reviewer sees, never a silent drop), an optional regional quota, and the fields its
beneficiary list carries. Every column a rule names is checked against the canonical model and every code
against its code list when the file is loaded, so a typo fails with the file and the field, not later.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from dtsen.canonical import ENTITIES, DType
from dtsen.canonical.model import Field as CanonicalField
from dtsen.conditions import Condition, Resolver

CODE_RE = re.compile(r"^[a-z][a-z0-9_]*$")
Level = Literal["anggota", "keluarga"]

# Golden person/family and welfare-score columns beyond the canonical entities (docs/batch-plane.md).
PERSON_EXTRA: dict[str, DType] = {
    "id_dtsen": DType.STRING,
    "id_keluarga_dtsen": DType.STRING,
    "bukti_status": DType.STRING,
    "di_dukcapil": DType.BOOL,
    "segmen_bpjs": DType.INT8,
}
FAMILY_EXTRA: dict[str, DType] = {
    "id_keluarga_dtsen": DType.STRING,
    "id_kepala": DType.STRING,
}
SCORE_COLUMNS: dict[str, DType] = {
    "skor": DType.FLOAT64,
    "perkiraan_pengeluaran": DType.FLOAT64,
    "peringkat": DType.INT64,
    "desil_nasional": DType.INT8,
    "desil_provinsi": DType.INT8,
    "desil_kabkota": DType.INT8,
    "p_desil_le4": DType.FLOAT64,
    "p_desil_le5": DType.FLOAT64,
    "borderline": DType.BOOL,
}
DESIL_COLUMNS = ("desil_nasional", "desil_provinsi", "desil_kabkota")
# Fields a beneficiary list may carry besides person/family/score columns.
LIST_EXTRA_KELUARGA = (
    "nik_kepala",
    "nama_kepala",
    "jumlah_penerima",
    "nilai_tahunan",
    "nilai_per_tahap",
    "komponen",
    "alasan",
)
LIST_EXTRA_ORANG = ("komponen", "nilai_tahunan", "nilai_per_tahap", "no_kk_keluarga")


class ProgramError(ValueError):
    """A program definition that cannot be used; the message names the file and the field."""


def column_type(name: str, level: Level) -> tuple[DType, CanonicalField | None] | None:
    """The logical type of a column a rule at ``level`` may name (and its canonical field), else None."""
    if level == "anggota":
        entity = ENTITIES["anggota"]
        if name in entity:
            return entity.field(name).dtype, entity.field(name)
        return (PERSON_EXTRA[name], None) if name in PERSON_EXTRA else None
    entity = ENTITIES["keluarga"]
    if name in entity:
        return entity.field(name).dtype, entity.field(name)
    if name in FAMILY_EXTRA:
        return FAMILY_EXTRA[name], None
    return (SCORE_COLUMNS[name], None) if name in SCORE_COLUMNS else None


def level_columns(level: Level) -> Resolver:
    """The columns a rule at ``level`` may name, as the shared condition grammar asks for them."""

    def resolve(name: str) -> tuple[DType, CanonicalField | None]:
        found = column_type(name, level)
        if found is None:
            other = "keluarga" if level == "anggota" else "anggota"
            hint = f" (it is a {other} column)" if column_type(name, other) else ""
            raise ValueError(f"unknown {level} column {name!r}{hint}")
        return found

    return resolve


class Component(BaseModel):
    """A person-level benefit component (PKH's pregnant mother, SD pupil ...; PIP's school levels)."""

    model_config = ConfigDict(extra="forbid")

    code: str
    label: str
    when: Condition
    amount: int = Field(ge=0, description="Rupiah per person per year.")


class Keep(BaseModel):
    """Persons kept covered although their family is outside the target desil (PBI-JK chronic patients)."""

    model_config = ConfigDict(extra="forbid")

    code: str
    label: str
    when: Condition
    max_desil: int | None = Field(
        None, ge=1, le=10, description="Only families up to this desil (null: any desil)."
    )


class Exclusion(BaseModel):
    """A reason a family is excluded (``exclude``) or sent to review (``review``); always written down.

    ``level: anggota`` tests every living member (one match flags the family), ``keluarga`` the family
    row; ``list`` names an externally supplied flag list (NIK or No. KK), e.g. PPATK.
    """

    model_config = ConfigDict(extra="forbid")

    code: str
    label: str = ""
    level: Level | None = None
    when: Condition | None = None
    list: str | None = None
    action: Literal["exclude", "review"] = "exclude"

    @model_validator(mode="after")
    def _form(self) -> Exclusion:
        if (self.when is None) == (self.list is None):
            raise ValueError(f"exclusion {self.code!r}: give 'when' (with level) or 'list', not both")
        if self.when is not None and self.level is None:
            raise ValueError(f"exclusion {self.code!r}: 'when' needs level anggota or keluarga")
        return self

    @property
    def reason(self) -> str:
        return f"{'kecuali' if self.action == 'exclude' else 'tinjau'}_{self.code}"


class Target(BaseModel):
    model_config = ConfigDict(extra="forbid")

    desil: Literal["desil_nasional", "desil_provinsi", "desil_kabkota"] = "desil_nasional"
    max: int = Field(ge=1, le=10)


class Quota(BaseModel):
    """At most ``values[region]`` families per region, the poorest first (national rank ``peringkat``)."""

    model_config = ConfigDict(extra="forbid")

    level: Literal["kode_prov", "kode_kab"]
    values: dict[str, int] = Field(default_factory=dict)

    @field_validator("values", mode="before")
    @classmethod
    def _keys(cls, value: object) -> object:
        return {str(k): v for k, v in value.items()} if isinstance(value, dict) else value


class Program(BaseModel):
    """One program: target, benefits, exclusions, quota and beneficiary-list fields."""

    model_config = ConfigDict(extra="forbid")

    code: str
    name: str
    agency: str = ""
    description: str = ""
    basis: str = Field("", description="Legal or budget basis of the rules and amounts.")
    target: Target
    benefit: Literal["family", "members", "components"] = Field(
        description="family: a fixed amount per family; members: an amount per living member; "
        "components: per person matching a component (at most max_persons)."
    )
    family_amount: int = Field(0, ge=0, description="Rupiah per family per year.")
    member_amount: int = Field(0, ge=0, description="Rupiah per covered person per year.")
    components: list[Component] = Field(default_factory=list)
    max_persons: int | None = Field(None, ge=1)
    payments_per_year: int = Field(1, ge=1, le=12, description="Tahap: 4 = quarterly.")
    keep: list[Keep] = Field(default_factory=list)
    exclusions: list[str | Exclusion] = Field(default_factory=list)
    quota: Quota | None = None
    unit: Literal["keluarga", "orang"] = Field(
        "keluarga", description="One beneficiary-list row per family or per covered person."
    )
    list_fields: list[str] = Field(min_length=1)

    @field_validator("code")
    @classmethod
    def _code(cls, value: str) -> str:
        if not CODE_RE.match(value):
            raise ValueError(f"program code {value!r}: lower-case letters, digits and _ (a file name)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Program:
        if self.benefit == "components":
            if not self.components:
                raise ValueError("benefit components needs at least one component")
        elif self.components or self.max_persons is not None:
            raise ValueError(f"components/max_persons go with benefit components, not {self.benefit}")
        if self.benefit == "family" and self.family_amount <= 0:
            raise ValueError("benefit family needs family_amount > 0")
        if self.benefit == "members" and self.member_amount <= 0:
            raise ValueError("benefit members needs member_amount > 0")
        if self.keep and self.benefit != "members":
            raise ValueError("keep rules cover persons: they go with benefit members")
        codes = [c.code for c in self.components] + [k.code for k in self.keep]
        for code in codes:
            if not CODE_RE.match(code):
                raise ValueError(f"code {code!r}: lower-case letters, digits and _")
        if len(set(codes)) != len(codes):
            raise ValueError(f"component/keep codes repeat: {codes}")
        for i, c in enumerate(self.components):
            c.when.check(level_columns("anggota"), f"components[{i}].when")
        for i, k in enumerate(self.keep):
            k.when.check(level_columns("anggota"), f"keep[{i}].when")
        allowed = self.list_field_names()
        for i, name in enumerate(self.list_fields):
            if name not in allowed:
                raise ValueError(f"list_fields[{i}]: {name!r} is not a field a {self.unit} list can carry")
        if len(set(self.list_fields)) != len(self.list_fields):
            raise ValueError("list_fields repeat a field")
        key = "id_keluarga_dtsen" if self.unit == "keluarga" else "id_dtsen"
        if key not in self.list_fields:
            raise ValueError(f"list_fields: a {self.unit} list must carry {key} (rows need an id)")
        return self

    def list_field_names(self) -> set[str]:
        family = set(ENTITIES["keluarga"].field_names) | set(FAMILY_EXTRA) | set(SCORE_COLUMNS)
        if self.unit == "keluarga":
            return family | set(LIST_EXTRA_KELUARGA)
        return set(ENTITIES["anggota"].field_names) | set(PERSON_EXTRA) | set(LIST_EXTRA_ORANG) | family

    def resolved_exclusions(self, catalog: dict[str, Exclusion]) -> list[Exclusion]:
        """Exclusions with catalog references (a bare code or ``{code, action}``) filled in."""
        out: list[Exclusion] = []
        for i, item in enumerate(self.exclusions):
            if isinstance(item, str):
                if item not in catalog:
                    known = ", ".join(sorted(catalog))
                    raise ValueError(f"exclusions[{i}]: {item!r} is not in the exclusion catalog ({known})")
                out.append(catalog[item])
            else:
                out.append(item)
            ex = out[-1]
            if ex.when is not None:
                ex.when.check(level_columns(ex.level or "keluarga"), f"exclusions[{i}].when")
        codes = [e.code for e in out]
        if len(set(codes)) != len(codes):
            raise ValueError(f"exclusions repeat a code: {codes}")
        return out


class ExclusionRef(BaseModel):
    """``{code: x, action: review}`` in a program file: a catalog exclusion with another action."""

    model_config = ConfigDict(extra="forbid")

    code: str
    action: Literal["exclude", "review"]


def _problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc'] if not str(p).startswith('function-'))}: {e['msg']}"
        for e in exc.errors()
    )


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ProgramError(f"{path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ProgramError(f"{path}: a program file holds one YAML mapping (got {type(data).__name__})")
    return data


@cache
def exclusion_catalog() -> dict[str, Exclusion]:
    """The shipped exclusions programs refer to by code (``programs/exclusions.yaml``)."""
    path = Path(str(resources.files("dtsen.programs").joinpath("exclusions.yaml")))
    data = _read_yaml(path)
    out: dict[str, Exclusion] = {}
    for code, body in data.items():
        try:
            ex = Exclusion.model_validate({"code": code, **(body or {})})
            if ex.when is not None:
                ex.when.check(level_columns(ex.level or "keluarga"), f"{code}.when")
        except (ValidationError, ValueError) as exc:
            detail = _problems(exc) if isinstance(exc, ValidationError) else str(exc)
            raise ProgramError(f"{path}: {code}: {detail}") from exc
        out[code] = ex
    return out


def load_program(path: Path) -> tuple[Program, list[Exclusion]]:
    """A program file, validated, with its exclusions resolved; ProgramError names file and field."""
    data = _read_yaml(path)
    data.setdefault("code", path.stem)
    catalog = exclusion_catalog()
    raw = data.get("exclusions") or []
    if isinstance(raw, list):  # {code, action} refers to the catalog with another action
        fixed: list[object] = []
        for item in raw:
            if isinstance(item, dict) and set(item) <= {"code", "action"} and item.get("code") in catalog:
                ref = ExclusionRef.model_validate(item)
                fixed.append(
                    catalog[ref.code].model_copy(update={"action": ref.action}).model_dump(by_alias=True)
                )
            else:
                fixed.append(item)
        data["exclusions"] = fixed
    try:
        program = Program.model_validate(data)
        exclusions = program.resolved_exclusions(catalog)
    except ValidationError as exc:
        raise ProgramError(f"{path}: {_problems(exc)}") from exc
    except ValueError as exc:
        raise ProgramError(f"{path}: {exc}") from exc
    if program.code != path.stem:
        raise ProgramError(f"{path}: code {program.code!r} differs from the file name {path.stem!r}")
    return program, exclusions


def definitions_dir() -> Path:
    return Path(str(resources.files("dtsen.programs").joinpath("definitions")))


def load_programs(directory: Path | None = None) -> dict[str, tuple[Program, list[Exclusion]]]:
    """Every ``*.yaml`` program in ``directory`` (default: the shipped definitions), by code."""
    directory = directory or definitions_dir()
    if not directory.is_dir():
        raise ProgramError(f"{directory}: no such directory of program definitions")
    out = {}
    for path in sorted(directory.glob("*.yaml")):
        program, exclusions = load_program(path)
        out[program.code] = (program, exclusions)
    if not out:
        raise ProgramError(f"{directory}: no program definitions (*.yaml)")
    return out
