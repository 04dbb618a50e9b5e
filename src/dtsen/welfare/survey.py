"""Any household consumption survey -> canonical training tables, described by a YAML config alone.

A config names the household file(s) and, when the survey has them, the member file(s) (globs relative to
the survey directory); where consumption comes from and how to turn it into rupiah per person per month
(log -> level, total -> per capita, year/week/day -> month, a scale); household size (a column, a
constant, a sum of columns, or the count of member rows); the weight (a column or a constant); the
region hierarchy, coarse to fine, one to four levels of any code length (built from columns, padded or
recoded; no rule is applied to the codes unless ``region_codes: bps`` says they are BPS codes); the
urban/rural column if there is one; the survey's own numeric features and yes/no flags (fed to the
models as numbers); and which survey column answers which canonical ``keluarga``/``anggota`` item.
Columns the config does not name are taken from a survey column of the canonical name, so a survey
already in the canonical model (e.g. ingested Susenas) needs no mapping at all. docs/welfare.md lists
every key; ``configs/`` ships the synthetic Susenas, ingested Susenas and a real Belgian budget survey.

Configs and data are checked strictly: an error names the config key and what was expected there, and a
value that is not a number where one is needed, or a code outside the canonical code list, stops the
load with the file, line and field, because a model silently trained on misread answers would rank the
whole registry wrongly.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import polars as pl
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from dtsen.canonical.model import DType, entity

CONFIG_DIR = "configs"
DEFAULT_CONFIG = "susenas"
MAX_EXAMPLES = 5
MAX_CODE_DIGITS = 15  # area codes are model inputs as float64: exact up to 15 digits


class SurveyError(ValueError):
    """A survey file or config that cannot be used for training (names file, line and field)."""


def _column(value: Any) -> Any:
    """A bare string in the config is a survey column: ``weight: FWT`` = ``weight: {from: FWT}``."""
    return {"from": value} if isinstance(value, str) else value


class ColumnMap(BaseModel):
    """Where a canonical column comes from: a survey column, optional recoding and null codes."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    source: str = Field(alias="from")
    map: dict[str, Any] = Field(default_factory=dict, description="survey value -> canonical value")
    missing: list[str] = Field(default_factory=list, description="survey values meaning 'not asked/unknown'")


class Value(BaseModel):
    """A number per household: a survey column (``from``, with optional ``map``/``missing``), a constant
    (``const``, e.g. ``weight: {const: 1}`` for an unweighted sample) or the sum of columns (``sum``, e.g.
    household size = adults + children)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    source: str | None = Field(None, alias="from")
    const: float | None = None
    sum: list[str] | None = Field(None, min_length=1)
    map: dict[str, Any] = Field(default_factory=dict)
    missing: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _exactly_one(self) -> Value:
        given = [k for k in ("source", "const", "sum") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("expected exactly one of 'from' (a column), 'const' (a number), 'sum' (columns)")
        return self


class Consumption(BaseModel):
    """The welfare target and how to turn it into consumption per person per month."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    source: str = Field(alias="from")
    log: bool = Field(False, description="the column is the natural log of consumption: exp() first")
    kind: Literal["per_capita", "total"] = "per_capita"
    period: Literal["month", "year", "week", "day"] = "month"
    scale: float = Field(1.0, gt=0, description="any further factor (currency unit, price deflator)")


PER_MONTH = {"month": 1.0, "year": 1 / 12, "week": 365.25 / 7 / 12, "day": 365.25 / 12}


class Urban(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    source: str = Field(alias="from")
    urban: list[str]
    rural: list[str]


class RegionLevel(BaseModel):
    """One level of the region hierarchy: its code from one or more survey columns, each optionally
    zero-padded (``pad``, one width per column) and, for a single column, recoded (``map``: survey value ->
    code); or one code for every household (``const``). A code must name its area within the level on its
    own: build a commune code from [region, commune] when commune numbers restart in each region."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str | None = None
    source: list[str] | None = Field(None, alias="from")
    pad: list[int] | None = None
    map: dict[str, str] = Field(default_factory=dict)
    const: str | None = None

    @field_validator("source", mode="before")
    @classmethod
    def _listed(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _consistent(self) -> RegionLevel:
        if (self.source is None) == (self.const is None):
            raise ValueError("expected exactly one of 'from' (column or list of columns) or 'const' (a code)")
        if self.pad is not None and len(self.pad) != len(self.source or []):
            raise ValueError("'pad' needs one width per 'from' column")
        if self.map and len(self.source or []) != 1:
            raise ValueError("'map' recodes a single 'from' column")
        return self


class Flag(BaseModel):
    """A household yes/no model feature from a survey column: 1 for a ``true_values`` value, 0 for a
    ``false_values`` one (for every other value when ``false_values`` is not given)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    source: str = Field(alias="from")
    true_values: list[str] = Field(min_length=1)
    false_values: list[str] | None = None


REGION_COLUMNS = ("kode_prov", "kode_kab", "kode_kec", "kode_desa")  # level 1, 2, 3, 4 of the hierarchy
_NAME = r"^[a-z][a-z0-9_]*$"


class Households(BaseModel):
    model_config = ConfigDict(extra="forbid")

    files: str
    id: str
    consumption: Consumption
    household_size: Value | Literal["members"]
    weight: Value
    regions: list[RegionLevel] = Field(min_length=1, max_length=len(REGION_COLUMNS))
    region_codes: Literal["bps", "plain"] = "plain"
    urban: Urban | None = None
    numeric: dict[str, Value] = Field(default_factory=dict)
    flags: dict[str, Flag] = Field(default_factory=dict)
    columns: dict[str, str | ColumnMap] = Field(default_factory=dict)

    @field_validator("household_size", mode="before")
    @classmethod
    def _size(cls, value: Any) -> Any:
        return value if value == "members" else _column(value)

    @field_validator("weight", mode="before")
    @classmethod
    def _weight(cls, value: Any) -> Any:
        return _column(value)

    @field_validator("numeric", mode="before")
    @classmethod
    def _numeric(cls, value: Any) -> Any:
        return {k: _column(v) for k, v in value.items()} if isinstance(value, dict) else value

    @model_validator(mode="after")
    def _feature_names(self) -> Households:
        from dtsen.welfare.features import FEATURE_NAMES

        names = [*self.numeric, *self.flags]
        for name in names:
            if not re.match(_NAME, name):
                raise ValueError(f"feature name {name!r}: expected lower-case letters, digits and _")
            if name in FEATURE_NAMES or name in entity(HOUSEHOLD_ENTITY).field_names:
                raise ValueError(f"feature name {name!r} is already a built-in feature or canonical column")
        if len(set(names)) != len(names):
            raise ValueError("a name appears in both 'numeric' and 'flags'")
        return self


class MemberNumber(Value):
    """A household feature from a numeric member column: the head's value (``of: head``, the member whose
    canonical ``hubungan`` is 1, so ``members.columns`` must map ``hubungan``) or the household's
    ``max``, ``min``, ``sum`` or ``mean`` over its members; e.g. the head's years of schooling."""

    of: Literal["head", "max", "min", "sum", "mean"] = "head"


class Members(BaseModel):
    model_config = ConfigDict(extra="forbid")

    files: str
    household_id: str
    columns: dict[str, str | ColumnMap] = Field(default_factory=dict)
    numeric: dict[str, MemberNumber] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _head_needs_relation(self) -> Members:
        heads = [k for k, v in self.numeric.items() if v.of == "head"]
        if heads and "hubungan" not in self.columns:
            raise ValueError(
                f"numeric {heads} take the head's value: expected 'columns' to map hubungan "
                "(relation to head)"
            )
        return self


class SurveyConfig(BaseModel):
    """The whole description of a survey; see configs/susenas.yaml for a commented example."""

    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    weighting: Literal["persons", "households"] = "persons"
    true_values: list[str] = Field(default_factory=lambda: ["1", "true", "TRUE", "True", "Y", "YA"])
    false_values: list[str] = Field(
        default_factory=lambda: ["2", "0", "false", "FALSE", "False", "N", "TIDAK"]
    )
    null_values: list[str] = Field(default_factory=lambda: ["", "NA", "NULL", "."])
    households: Households
    members: Members | None = None

    @model_validator(mode="after")
    def _members_for_size(self) -> SurveyConfig:
        if self.households.household_size == "members" and self.members is None:
            raise ValueError("households.household_size is 'members' but the config has no 'members' file")
        return self

    @classmethod
    def load(cls, path: Path | str | None = None) -> SurveyConfig:
        """A config file, or a shipped one by name (``susenas``, ``susenas_kanonik``, ``tobacco_be``,
        ``budgetfood_es``); default ``susenas``. Every error names the config key and what was expected."""
        name = str(path) if path is not None else DEFAULT_CONFIG
        candidate = Path(name)
        if candidate.is_file():
            text = candidate.read_text(encoding="utf-8")
        else:
            shipped = resources.files("dtsen.welfare").joinpath(CONFIG_DIR, f"{name}.yaml")
            if not shipped.is_file():
                raise SurveyError(f"survey config {name}: no such file and no shipped config of that name")
            text = shipped.read_text(encoding="utf-8")
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise SurveyError(f"survey config {name}: not valid YAML: {exc}") from exc
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise SurveyError(f"survey config {name}: {_explain(exc)}") from exc

    def digest(self) -> str:
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()

    @model_validator(mode="after")
    def _unique_features(self) -> SurveyConfig:
        from dtsen.welfare.features import FEATURE_NAMES

        names = self.feature_names
        for name in self.members.numeric if self.members else ():
            if not re.match(_NAME, name):
                raise ValueError(f"members.numeric.{name}: expected lower-case letters, digits and _")
            if name in FEATURE_NAMES or name in entity(HOUSEHOLD_ENTITY).field_names:
                raise ValueError(f"members.numeric.{name} is already a built-in feature or canonical column")
        if len(set(names)) != len(names):
            raise ValueError("a feature name appears twice in households.numeric/flags and members.numeric")
        return self

    @property
    def feature_names(self) -> tuple[str, ...]:
        """The survey's own model features (household ``numeric``, ``flags``, then ``members.numeric``),
        after the built-in ones."""
        member = tuple(self.members.numeric) if self.members else ()
        return (*self.households.numeric, *self.households.flags, *member)


def _explain(exc: ValidationError) -> str:
    """Pydantic's errors as 'yaml.key.path: what was expected (got value)', one per problem."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith(("function-", "literal[")))
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown key (see docs/welfare.md for the keys a survey config takes)"
        got = "" if err["type"] in ("missing", "extra_forbidden") else f" (got {err.get('input')!r})"
        parts.append(f"{loc or '(top level)'}: {message}{got}")
    return "; ".join(dict.fromkeys(parts))


@dataclass
class Survey:
    """Canonical training tables: households (``survei_rumah_tangga`` columns) and their members."""

    households: pl.DataFrame
    members: pl.DataFrame  # no rows (only ``id_keluarga``) for a household-level survey
    files: list[Path]
    data_hash: str  # SHA-256 over the config and every file's bytes
    config: SurveyConfig

    @property
    def weighting(self) -> str:
        return self.config.weighting


HOUSEHOLD_ENTITY = "survei_rumah_tangga"
MEMBER_ENTITY = "anggota"
_NUMERIC = {DType.INT8, DType.INT16, DType.INT32, DType.INT64, DType.MONEY, DType.CODE}


def _read(pattern: str, root: Path, null_values: list[str]) -> tuple[pl.DataFrame, list[Path]]:
    files = sorted(p for p in root.glob(pattern) if p.is_file())
    if not files:
        raise SurveyError(f"no survey file matches {pattern!r} under {root}")
    parts = []
    for f in files:
        if f.suffix.lower() == ".parquet":
            df = pl.read_parquet(f)  # read as text like a CSV, so one set of checks serves both
            df = df.select(pl.col(c).cast(pl.String) for c, t in df.schema.items() if not t.is_nested())
            first_line = 1
        elif f.suffix.lower() in {".csv", ".txt"}:
            df = pl.read_csv(f, infer_schema=False, null_values=null_values or None)
            first_line = 2  # header is line 1
        else:
            raise SurveyError(f"{f}: unsupported survey file type (csv or parquet)")
        parts.append(df.with_columns(_file=pl.lit(str(f)), _line=pl.int_range(pl.len()) + first_line))
    return pl.concat(parts, how="diagonal_relaxed"), files


def _need(df: pl.DataFrame, column: str, what: str) -> None:
    if column not in df.columns:
        raise SurveyError(f"{df['_file'][0]}: survey column {column!r} ({what}) not found")


def _fail(df: pl.DataFrame, bad: pl.Series, field: str, source: str, reason: str) -> None:
    rows = df.filter(bad).head(MAX_EXAMPLES)
    if rows.height:
        where = "; ".join(
            f"{r['_file']} line {r['_line']}: {r[source]!r}"
            for r in rows.select("_file", "_line", source).to_dicts()
        )
        column = "" if source.startswith(field) else f" (column {source})"
        raise SurveyError(f"field {field}{column}: {reason} ({int(bad.sum())} rows), e.g. {where}")


def _convert(df: pl.DataFrame, field: str, spec: ColumnMap, ent: str, cfg: SurveyConfig) -> pl.Expr:
    """The canonical column ``field`` from survey column ``spec.source``, checked row by row."""
    fld = entity(ent).field(field)
    raw = pl.col(spec.source).str.strip_chars()
    if spec.missing:
        raw = pl.when(raw.is_in(spec.missing)).then(None).otherwise(raw)
    if spec.map:
        mapping = {str(k): (None if v is None else str(v)) for k, v in spec.map.items()}
        raw = raw.replace(mapping)
    target = fld.polars_type
    if fld.storage == DType.BOOL:
        trues, falses = cfg.true_values, cfg.false_values
        value = pl.when(raw.is_in(trues)).then(True).when(raw.is_in(falses)).then(False).otherwise(None)
        bad = df.select(raw.is_not_null() & ~raw.is_in(trues + falses)).to_series()
        _fail(df, bad, field, spec.source, f"not one of the yes/no values {trues}/{falses}")
        return value.alias(field)
    if fld.storage in _NUMERIC or fld.storage == DType.FLOAT64:
        number = raw.str.replace(r"\.0+$", "").cast(pl.Float64, strict=False)
        bad = df.select(raw.is_not_null() & number.is_null()).to_series()
        _fail(df, bad, field, spec.source, "not a number")
        if fld.storage == DType.FLOAT64:
            return number.alias(field)
        if fld.code_list is not None:
            codes = [float(c) for c in fld.code_list.codes()]
            bad = df.select(number.is_not_null() & ~number.is_in(codes)).to_series()
            _fail(df, bad, field, spec.source, f"not a {fld.code_list.__name__} code {fld.code_list.codes()}")
        return number.round(0).cast(target).alias(field)
    return raw.cast(pl.String).alias(field)


def _columns(
    df: pl.DataFrame, mapped: dict[str, str | ColumnMap], ent: str, cfg: SurveyConfig, skip: set[str]
) -> list[pl.Expr]:
    """Every canonical column of ``ent`` the survey answers: mapped ones, then same-named ones."""
    specs = {k: ColumnMap(source=v) if isinstance(v, str) else v for k, v in mapped.items()}
    unknown = sorted(set(specs) - set(entity(ent).field_names))
    if unknown:
        raise SurveyError(f"config maps {unknown} which are not {ent} columns (see docs/data-model.md)")
    for name in entity(ent).field_names:
        if name not in specs and name not in skip and name in df.columns:
            specs[name] = ColumnMap(source=name)
    exprs = []
    for name, spec in specs.items():
        _need(df, spec.source, name)
        exprs.append(_convert(df, name, spec, ent, cfg))
    return exprs


def _number(df: pl.DataFrame, spec: Value, key: str) -> pl.Expr:
    """A :class:`Value` as a float per row, every non-number named with its file and line."""
    if spec.const is not None:
        return pl.lit(float(spec.const), pl.Float64)
    columns = spec.sum if spec.sum is not None else [spec.source or ""]
    parts = []
    for column in columns:
        _need(df, column, key)
        raw = pl.col(column).str.strip_chars()
        if spec.missing:
            raw = pl.when(raw.is_in(spec.missing)).then(None).otherwise(raw)
        if spec.map:
            raw = raw.replace({str(k): (None if v is None else str(v)) for k, v in spec.map.items()})
        number = raw.cast(pl.Float64, strict=False)
        bad = df.select(raw.is_not_null() & number.is_null()).to_series()
        _fail(df, bad, key, column, "not a number")
        parts.append(number)
    # a missing part leaves the sum missing: a household of "2 adults + unknown children" is not 2 people
    return pl.sum_horizontal(parts, ignore_nulls=False) if len(parts) > 1 else parts[0]


def _region(df: pl.DataFrame, spec: RegionLevel, key: str) -> pl.Expr:
    """A level's code as a string of digits (the models take codes as numbers)."""
    if spec.const is not None:
        if not spec.const.isdigit():
            raise SurveyError(f"{key}.const: expected a code of digits (got {spec.const!r})")
        return pl.lit(spec.const)
    columns = spec.source or []
    for c in columns:
        _need(df, c, key)
    parts = [pl.col(c).str.strip_chars().str.replace(r"\.0+$", "") for c in columns]
    if spec.map:
        parts = [parts[0].replace({str(k): str(v) for k, v in spec.map.items()})]
    bad = df.select(pl.any_horizontal(~p.str.contains(r"^\d+$").fill_null(False) for p in parts)).to_series()
    what = "code is not digits" + (" after 'map'" if spec.map else " (give 'map' to recode names)")
    _fail(df, bad, key, columns[-1], what)
    if spec.pad is not None:
        parts = [p.str.zfill(w) for p, w in zip(parts, spec.pad, strict=True)]
    code = pl.concat_str(parts)
    too_long = df.select(code.str.len_chars() > MAX_CODE_DIGITS).to_series()
    _fail(df, too_long, key, columns[-1], f"code longer than {MAX_CODE_DIGITS} digits")
    return code


def _flag(df: pl.DataFrame, spec: Flag, key: str) -> pl.Expr:
    _need(df, spec.source, key)
    raw = pl.col(spec.source).str.strip_chars()
    yes, no = spec.true_values, spec.false_values
    if no is not None:
        bad = df.select(raw.is_not_null() & ~raw.is_in(yes + no)).to_series()
        _fail(df, bad, key, spec.source, f"not one of the true_values {yes} or false_values {no}")
    return pl.when(raw.is_null()).then(None).otherwise(raw.is_in(yes).cast(pl.Float64))


def _member_numbers(raw: pl.DataFrame, members: pl.DataFrame, cfg: Members) -> pl.DataFrame:
    """One row per household with each ``members.numeric`` feature (the head's value or an aggregate)."""
    values = raw.select(
        pl.col(cfg.household_id).cast(pl.String).alias("id_keluarga"),
        *(_number(raw, spec, f"members.numeric.{name}").alias(name) for name, spec in cfg.numeric.items()),
    ).with_columns(members["hubungan"] if "hubungan" in members.columns else pl.lit(None).alias("hubungan"))
    head = pl.col("hubungan") == 1
    aggregate = {
        "head": lambda c: pl.col(c).filter(head).first(),
        "max": lambda c: pl.col(c).max(),
        "min": lambda c: pl.col(c).min(),
        "sum": lambda c: pl.col(c).sum(),
        "mean": lambda c: pl.col(c).mean(),
    }
    return values.group_by("id_keluarga").agg(
        aggregate[spec.of](name).cast(pl.Float64).alias(name) for name, spec in cfg.numeric.items()
    )


def load_survey(root: Path | str, config: SurveyConfig) -> Survey:
    """Read and check the survey under ``root``. With a member file, households keep only those with
    members and vice versa; a household-level survey (no ``members``) is complete in one file."""
    root = Path(root)
    hh_cfg, mem_cfg = config.households, config.members
    hh, hh_files = _read(hh_cfg.files, root, config.null_values)
    _need(hh, hh_cfg.id, "households.id")
    _need(hh, hh_cfg.consumption.source, "households.consumption.from")
    mem, mem_files = _read(mem_cfg.files, root, config.null_values) if mem_cfg else (None, [])
    if mem is not None and mem_cfg is not None:
        _need(mem, mem_cfg.household_id, "members.household_id")
    levels = {
        REGION_COLUMNS[k]: _region(hh, level, f"households.regions[{k}]")
        for k, level in enumerate(hh_cfg.regions)
    }
    weight = _number(hh, hh_cfg.weight, "households.weight").alias("penimbang")
    spend = _number(hh, Value(source=hh_cfg.consumption.source), "households.consumption.from")
    if hh_cfg.consumption.log:
        spend = spend.exp()
    spend = spend * (hh_cfg.consumption.scale * PER_MONTH[hh_cfg.consumption.period])
    if hh_cfg.household_size == "members":
        assert mem is not None
        assert mem_cfg is not None
        counts = mem.group_by(pl.col(mem_cfg.household_id).cast(pl.String).alias("_hh")).agg(_n=pl.len())
        hh = hh.with_columns(pl.col(hh_cfg.id).cast(pl.String).alias("_hh")).join(
            counts, on="_hh", how="left", maintain_order="left"
        )
        size = pl.col("_n").cast(pl.Float64)
    else:
        size = _number(hh, hh_cfg.household_size, "households.household_size")
    if hh_cfg.consumption.kind == "total":
        spend = spend / size
    if hh_cfg.urban is not None:
        _need(hh, hh_cfg.urban.source, "households.urban.from")
        u = pl.col(hh_cfg.urban.source).str.strip_chars()
        urban = pl.when(u.is_in(hh_cfg.urban.urban)).then(True).when(u.is_in(hh_cfg.urban.rural)).then(False)
        bad = hh.select(~u.is_in(hh_cfg.urban.urban + hh_cfg.urban.rural).fill_null(False)).to_series()
        _fail(hh, bad, "households.urban", hh_cfg.urban.source, "not one of the urban or rural values")
    else:
        urban = pl.lit(None, pl.Boolean)
    fixed = {"id_keluarga", *REGION_COLUMNS, "perkotaan", "penimbang", "jumlah_art", "pengeluaran_per_kapita"}
    households = hh.select(
        pl.col(hh_cfg.id).cast(pl.String).alias("id_keluarga"),
        *(code.alias(name) for name, code in levels.items()),
        urban.alias("perkotaan"),
        weight,
        size.alias("_size"),
        spend.alias("_spend"),
        *(_number(hh, v, f"households.numeric.{k}").alias(k) for k, v in hh_cfg.numeric.items()),
        *(_flag(hh, v, f"households.flags.{k}").alias(k) for k, v in hh_cfg.flags.items()),
        *_columns(hh, hh_cfg.columns, HOUSEHOLD_ENTITY, config, fixed | set(hh_cfg.columns)),
        "_file",
        "_line",
    )
    for column, key, reason in [  # size first: per-capita consumption is missing when the size is
        ("_size", "households.household_size", "household size missing or below 1"),
        ("penimbang", "households.weight", "weight missing or not positive"),
        (
            "_spend",
            "households.consumption",
            "consumption per person per month missing or below 0.5 after "
            "the transforms (a currency unit too large? set households.consumption.scale)",
        ),
    ]:
        value = households[column]
        floor = {"_size": 1.0, "_spend": 0.5}.get(column)  # rupiah are whole: 0.4 would become log(0)
        bad = value.is_null() | value.is_nan() | ((value < floor) if floor else (value <= 0))
        label = f"{key} value"
        _fail(households.with_columns(value.alias(label)), bad, key, label, reason)
    households = households.with_columns(
        jumlah_art=pl.col("_size").round(0).cast(pl.Int16),
        pengeluaran_per_kapita=pl.col("_spend").round(0).cast(pl.Int64),
    ).drop("_size", "_spend")
    dup = households["id_keluarga"].is_duplicated()
    _fail(households, dup, "households.id", "id_keluarga", "household id appears more than once")
    if mem is not None and mem_cfg is not None:
        members = mem.select(
            pl.col(mem_cfg.household_id).cast(pl.String).alias("id_keluarga"),
            *_columns(mem, mem_cfg.columns, MEMBER_ENTITY, config, {"id_keluarga"} | set(mem_cfg.columns)),
        )
        if mem_cfg.numeric:  # before members are filtered: row for row with the raw member file
            numbers = _member_numbers(mem, members, mem_cfg)
            households = households.join(numbers, on="id_keluarga", how="left", maintain_order="left")
        households = households.join(members.select("id_keluarga").unique(), on="id_keluarga", how="semi")
        members = members.join(households.select("id_keluarga"), on="id_keluarga", how="semi")
    else:
        members = pl.DataFrame(schema={"id_keluarga": pl.String})
    households = households.drop("_file", "_line")
    if households.height == 0:
        raise SurveyError(
            f"no household under {root} has members (check households.id and members.household_id)"
        )
    files = hh_files + mem_files
    digest = hashlib.sha256(config.digest().encode())
    for f in files:
        with f.open("rb") as handle:
            for block in iter(lambda h=handle: h.read(1 << 20), b""):
                digest.update(block)
    return Survey(households, members, files, digest.hexdigest(), config)
