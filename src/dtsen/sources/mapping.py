"""Source mappings as data: how one agency export becomes rows of a canonical entity.

A new agency format is a new YAML file, not new code (see ``docs/sources.md``). A mapping names the
canonical entity, how to read the file, and for each canonical field where its value comes from and
what kind of value it is (``type``), which decides the standardization and validation applied.
"""

from __future__ import annotations

import re
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from dtsen.canonical import ENTITIES
from dtsen.canonical.model import all_code_lists


class MappingError(ValueError):
    """A mapping file that cannot be used, with the file and the offending key in the message."""


def _source_text(value: object) -> str:
    """A source value written in YAML, as text: 1 -> "1"; a YAML boolean (yes/no/on/off) is refused."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} was read as a YAML boolean; quote the source value (e.g. 'YES')")
    if isinstance(value, int | float | str):
        return str(value)
    raise ValueError(f"a source value must be text or a number, not {type(value).__name__}")


class ReadOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    delimiter: str = Field("auto", description="A single character, or auto to sniff , ; | and tab.")
    encoding: str = Field("auto", description="utf-8, cp1252, latin-1 ... or auto to detect.")
    sheet: str | int | None = Field(None, description="Excel sheet name or index (first sheet by default).")
    max_field_bytes: int = Field(65_536, description="Longer fields reject the row (oversized input).")


class FieldMap(BaseModel):
    """Where one canonical field comes from and how to read it."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    source: str | list[str] | None = Field(None, alias="from", description="Source column(s).")
    type: str = Field("string", description="The field kind (dtsen.sources.transform.KINDS): how it is read.")
    required: bool = False
    formats: list[str] = Field(default_factory=list, description="Date formats (strftime), tried in order.")
    excel_serial: bool = Field(True, description="Dates: accept Excel serial day numbers.")
    parts: list[Literal["year", "month", "day"]] | None = Field(
        None,
        description="Date from several columns: what each 'from' column holds, in order "
        "(e.g. [year, month, day]).",
    )
    unknown: list[int] = Field(
        default_factory=list,
        description="Date from parts: codes that mean 'not known' in a part (e.g. 98, 99).",
    )
    impute_day: int | None = Field(
        None,
        ge=1,
        le=28,
        description="Date from parts: the day used when only the day is unknown (flag <field>_day_imputed); "
        "without it such a date is null (flag <field>_partial).",
    )
    map: dict[str, int | bool | None] | None = Field(None, description="Source value -> code/bool.")
    labels: str | None = Field(
        None, description="Code list whose Indonesian/English labels the source writes."
    )
    true: list[str] = Field(default_factory=lambda: ["1", "Y", "YA", "TRUE", "T"])
    false: list[str] = Field(default_factory=lambda: ["2", "0", "N", "TIDAK", "FALSE", "F"])
    pad: list[int] | None = Field(
        None,
        description="Region: zero-pad each source column to these widths and join them; "
        "string: zero-pad the one column to this width (e.g. RT 7 -> 007).",
    )
    null_values: list[str] = Field(
        default_factory=list,
        description="Source values that mean 'no value' here (e.g. 0 for a question the questionnaire "
        "skips): read as null, with no finding.",
    )
    remove: str | None = Field(None, description="Characters deleted from the value (e.g. ' ' in plates).")
    constant: str | int | float | bool | None = Field(None, description="A fixed value instead of a column.")
    min: float | None = None
    max: float | None = None
    within: str | None = Field(
        None,
        description="region_name, region_address: the province (2 digits) or kabupaten (4 digits, dots "
        "allowed) whose regions the names are looked up in.",
    )
    extract: str | None = Field(
        None,
        description="A regular expression with one group: the value is what the group matches in the "
        "source text (no match: null and <field>_no_match).",
    )
    join: str | None = Field(
        None, description="string: the 'from' columns joined with this separator (a null part: no value)."
    )

    @field_validator("extract")
    @classmethod
    def _extract(cls, value: str | None) -> str | None:
        """One capturing group, and only what DuckDB (RE2) and Spark (Java) both read the same way."""
        if value is None:
            return value
        try:
            groups = re.compile(value).groups
        except re.error as exc:
            raise ValueError(f"{value!r} is no regular expression: {exc}") from exc
        if groups != 1:
            raise ValueError(
                f"{value!r} has {groups} capturing groups; give exactly one (use (?:...) for others)"
            )
        if re.search(r"\\[1-9]|\(\?<?[=!]|\(\?P?<[A-Za-z]|\(\?P=", value):
            raise ValueError(
                f"{value!r}: lookarounds, back-references and named groups are not read alike by both engines"
            )
        return value

    @field_validator("map", mode="before")
    @classmethod
    def _map_keys(cls, value: object) -> object:
        """YAML reads ``{1: true}`` with int keys; source values are text, so keys become text."""
        if isinstance(value, dict):
            return {_source_text(k): v for k, v in value.items()}
        return value

    @field_validator("type")
    @classmethod
    def _kind(cls, value: str) -> str:
        from dtsen.sources.transform import KINDS  # the compiler (Ibis) only when a mapping is read

        if value not in KINDS:
            raise ValueError(f"unknown type {value!r}; one of {', '.join(KINDS)}")
        return value

    @field_validator("true", "false", "null_values", mode="before")
    @classmethod
    def _texts(cls, value: object) -> object:
        return [_source_text(v) for v in value] if isinstance(value, list) else value

    @property
    def columns(self) -> list[str]:
        if self.source is None:
            return []
        return [self.source] if isinstance(self.source, str) else list(self.source)


class Mapping(BaseModel):
    """One source file shape -> one canonical entity."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Identifier of the mapping, e.g. dtks.")
    source: str = Field(
        description="Value written to the sumber column: any agency name (lower case, digits, _), the "
        "shipped ones or a new one; its trust in survivorship is set in the linkage settings.",
        pattern=r"^[a-z][a-z0-9_]{0,39}$",
    )
    entity: str
    description: str = ""
    files: list[str] = Field(
        default_factory=list, description="Glob patterns of file names this mapping reads."
    )
    read: ReadOptions = Field(default_factory=ReadOptions)
    record_id: str | list[str] | None = Field(None, description="Source column(s) that identify a row.")
    observed: str | date | None = Field(
        None,
        description="Date column or fixed date the data describes (tanggal_data); else the landing date.",
    )
    unknown_columns: Literal["keep", "ignore", "reject"] = "keep"
    ignore_columns: list[str] = Field(
        default_factory=list,
        description="Source columns known and deliberately not read (no canonical field, or not needed); "
        "they raise no unknown-column note.",
    )
    fields: dict[str, FieldMap]

    @field_validator("entity")
    @classmethod
    def _entity(cls, value: str) -> str:
        if value not in ENTITIES:
            raise ValueError(f"unknown entity {value!r}; one of {', '.join(ENTITIES)}")
        return value

    @model_validator(mode="after")
    def _fields(self) -> Mapping:
        from dtsen.sources.transform import KINDS

        entity = ENTITIES[self.entity]
        lists = all_code_lists()
        for name, fm in self.fields.items():
            if name not in entity:
                raise ValueError(f"field {name!r} is not in entity {self.entity}")
            if fm.source is None and fm.constant is None:
                raise ValueError(f"field {name!r}: give 'from' or 'constant'")
            if fm.labels is not None and fm.labels not in lists:
                raise ValueError(f"field {name!r}: unknown code list {fm.labels!r}")
            if fm.within is not None and fm.type not in ("region_name", "region_address"):
                raise ValueError(f"field {name!r}: within is for region_name and region_address fields")
            if fm.join is not None and fm.type != "string":
                raise ValueError(f"field {name!r}: join is for string fields (a key of several columns)")
            if fm.extract is not None and len(fm.columns) != 1:
                raise ValueError(f"field {name!r}: extract reads one 'from' column")
            KINDS[fm.type].validate(name, fm, entity)
        read = set(self.read_columns)
        both = [c for c in self.ignore_columns if c in read]
        if both:
            raise ValueError(f"ignore_columns lists column(s) the mapping reads: {', '.join(both)}")
        return self

    @property
    def read_columns(self) -> list[str]:
        """Every source column the mapping reads, in first-use order."""
        seen: dict[str, None] = {}
        for fm in self.fields.values():
            for col in fm.columns:
                seen.setdefault(col, None)
        for col in self.record_columns:
            seen.setdefault(col, None)
        if isinstance(self.observed, str):
            seen.setdefault(self.observed, None)
        return list(seen)

    @property
    def source_columns(self) -> list[str]:
        """Every source column the mapping knows: those it reads, then those it deliberately ignores
        (``ignore_columns``); any other column of a file is unknown."""
        return list(dict.fromkeys([*self.read_columns, *self.ignore_columns]))

    @property
    def record_columns(self) -> list[str]:
        if self.record_id is None:
            return []
        return [self.record_id] if isinstance(self.record_id, str) else list(self.record_id)

    @property
    def required_columns(self) -> list[str]:
        cols: dict[str, None] = {}
        for fm in self.fields.values():
            if fm.required:
                for c in fm.columns:
                    cols.setdefault(c, None)
        return list(cols)


# Keys whose value is a yes/no (and ``map`` values, which may be booleans for a bool field): anywhere
# else a YAML boolean is a code or a column name that YAML 1.1 read as one (NO, no, off, Y, on).
BOOLEAN_KEYS = frozenset({"required", "excel_serial", "constant"})


def _unquoted_booleans(typed: object, raw: object, where: str = "", in_map: bool = False) -> str | None:
    """The first place where YAML turned unquoted text into a boolean and the mapping expects text,
    as a message naming the key and the spelling ('YAML read NO as false: quote it'); else None.
    ``raw`` is the same document read with every scalar as text (:class:`yaml.BaseLoader`)."""

    def found(key: str, spelling: object, value: bool) -> str:
        return f"{key}: YAML read {spelling} as {str(value).lower()}: quote it ('{spelling}')"

    if isinstance(typed, dict) and isinstance(raw, dict) and len(typed) == len(raw):
        for (key, value), (raw_key, raw_value) in zip(typed.items(), raw.items(), strict=True):
            here = f"{where}.{raw_key}" if where else str(raw_key)
            if isinstance(key, bool):
                return found(here, raw_key, key)
            if isinstance(value, bool) and not (in_map or key in BOOLEAN_KEYS):
                return found(here, raw_value, value)
            problem = _unquoted_booleans(value, raw_value, here, key == "map")
            if problem:
                return problem
    elif isinstance(typed, list) and isinstance(raw, list) and len(typed) == len(raw):
        for i, (value, raw_value) in enumerate(zip(typed, raw, strict=True)):
            if isinstance(value, bool):
                return found(f"{where}[{i}]", raw_value, value)
            problem = _unquoted_booleans(value, raw_value, f"{where}[{i}]")
            if problem:
                return problem
    return None


def load_mapping(path: Path) -> Mapping:
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as exc:
        raise MappingError(f"{path}: {exc}") from exc
    if not isinstance(data, dict):
        raise MappingError(f"{path}: a mapping file holds one YAML mapping (got {type(data).__name__})")
    fields = data.get("fields")
    if isinstance(fields, dict):  # the options true: and false: of a field are YAML booleans as keys
        for name, declaration in fields.items():
            if isinstance(declaration, dict):
                fields[name] = {
                    str(k).lower() if isinstance(k, bool) else k: v for k, v in declaration.items()
                }
    problem = _unquoted_booleans(data, yaml.load(text, Loader=yaml.BaseLoader))  # noqa: S506 - text only
    if problem:
        raise MappingError(f"{path}: {problem}")
    data.setdefault("name", path.stem)
    try:
        return Mapping.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise MappingError(f"{path}: {problems}") from exc


@cache
def builtin_mappings() -> dict[str, Mapping]:
    """The mappings shipped with dtsen (for the files ``dtsen synth`` writes)."""
    folder = resources.files("dtsen.sources").joinpath("mappings")
    out: dict[str, Mapping] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            mapping = load_mapping(Path(str(entry)))
            out[mapping.name] = mapping
    return out


def resolve_mapping(name_or_path: str) -> Mapping:
    """A shipped mapping by name, or a mapping file by path."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise MappingError(f"mapping file {path} does not exist")
        return load_mapping(path)
    mappings = builtin_mappings()
    if name_or_path not in mappings:
        raise MappingError(f"no mapping named {name_or_path!r}; shipped: {', '.join(sorted(mappings))}")
    return mappings[name_or_path]
