"""Any household consumption survey -> canonical training tables, described by a YAML config alone.

A config names the household and member files (globs relative to the survey directory), which column is
per-capita or total consumption, household size, weight and region, and which survey column answers
which canonical ``keluarga``/``anggota`` item (with recoding where the survey's codes differ). Columns
the config does not name are taken from a survey column of the canonical name, so a survey already in
the canonical model (e.g. ingested Susenas) needs no mapping at all. The shipped default describes the
synthetic Susenas that ``dtsen synth`` writes (``configs/susenas.yaml``).

Training data is checked strictly: a value that is not a number where one is needed, or a code outside
the canonical code list, stops the load with the file, line and field, because a model silently
trained on misread answers would rank the whole registry wrongly.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import polars as pl
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from dtsen.canonical.model import DType, entity

CONFIG_DIR = "configs"
DEFAULT_CONFIG = "susenas"
MAX_EXAMPLES = 5


class SurveyError(ValueError):
    """A survey file or config that cannot be used for training (names file, line and field)."""


class ColumnMap(BaseModel):
    """Where a canonical column comes from: a survey column, optional recoding and null codes."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    source: str = Field(alias="from")
    map: dict[str, Any] = Field(default_factory=dict, description="survey value -> canonical value")
    missing: list[str] = Field(default_factory=list, description="survey values meaning 'not asked/unknown'")


class RegionCode(BaseModel):
    """A region code assembled from one or more zero-padded survey columns (e.g. province + district)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    source: list[str] = Field(alias="from")
    pad: list[int]

    @field_validator("pad")
    @classmethod
    def _same_length(cls, pad: list[int], info: Any) -> list[int]:
        if len(pad) != len(info.data.get("source", [])):
            raise ValueError("pad needs one width per 'from' column")
        return pad


class Consumption(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    source: str = Field(alias="from")
    kind: Literal["per_capita", "total"] = "per_capita"
    scale: float = Field(1.0, gt=0, description="factor to rupiah per month (1/12 for annual totals)")


class Urban(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    source: str = Field(alias="from")
    urban: list[str]
    rural: list[str]


class Households(BaseModel):
    model_config = ConfigDict(extra="forbid")

    files: str
    id: str
    consumption: Consumption
    household_size: str
    weight: str
    kode_prov: RegionCode
    kode_kab: RegionCode
    urban: Urban | None = None
    columns: dict[str, str | ColumnMap] = Field(default_factory=dict)


class Members(BaseModel):
    model_config = ConfigDict(extra="forbid")

    files: str
    household_id: str
    columns: dict[str, str | ColumnMap] = Field(default_factory=dict)


class SurveyConfig(BaseModel):
    """The whole description of a survey; see configs/susenas.yaml for a commented example."""

    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    true_values: list[str] = Field(default_factory=lambda: ["1", "true", "TRUE", "True", "Y", "YA"])
    false_values: list[str] = Field(
        default_factory=lambda: ["2", "0", "false", "FALSE", "False", "N", "TIDAK"]
    )
    null_values: list[str] = Field(default_factory=lambda: ["", "NA", "NULL", "."])
    households: Households
    members: Members

    @classmethod
    def load(cls, path: Path | str | None = None) -> SurveyConfig:
        """A config file, or a shipped one by name (``susenas``, ``susenas_kanonik``); default ``susenas``."""
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
            return cls.model_validate(yaml.safe_load(text))
        except Exception as exc:
            raise SurveyError(f"survey config {name}: {exc}") from exc

    def digest(self) -> str:
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()


@dataclass
class Survey:
    """Canonical training tables: households (``survei_rumah_tangga`` columns) and their members."""

    households: pl.DataFrame
    members: pl.DataFrame
    files: list[Path]
    data_hash: str  # SHA-256 over the config and every file's bytes


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
        raise SurveyError(f"field {field} (column {source}): {reason} ({int(bad.sum())} rows), e.g. {where}")


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


def _region(df: pl.DataFrame, spec: RegionCode, name: str) -> pl.Expr:
    for c in spec.source:
        _need(df, c, name)
    parts = [pl.col(c).str.strip_chars().str.replace(r"\.0+$", "") for c in spec.source]
    bad = df.select(pl.any_horizontal(~p.str.contains(r"^\d+$").fill_null(False) for p in parts)).to_series()
    _fail(df, bad, name, spec.source[-1], "region code is not digits")
    return pl.concat_str([p.str.zfill(w) for p, w in zip(parts, spec.pad, strict=True)]).alias(name)


def load_survey(root: Path | str, config: SurveyConfig) -> Survey:
    """Read and check the survey under ``root``; households keep only those with members and vice versa."""
    root = Path(root)
    hh_cfg, mem_cfg = config.households, config.members
    hh, hh_files = _read(hh_cfg.files, root, config.null_values)
    mem, mem_files = _read(mem_cfg.files, root, config.null_values)
    for column, what in [
        (hh_cfg.id, "household id"),
        (hh_cfg.consumption.source, "consumption"),
        (hh_cfg.household_size, "household size"),
        (hh_cfg.weight, "weight"),
    ]:
        _need(hh, column, what)
    _need(mem, mem_cfg.household_id, "household id of the member")
    fixed = {"id_keluarga", "kode_prov", "kode_kab", "perkotaan", "penimbang", "jumlah_art",
             "pengeluaran_per_kapita"}  # fmt: skip
    size = _convert(hh, "jumlah_art", ColumnMap(source=hh_cfg.household_size), HOUSEHOLD_ENTITY, config)
    weight = _convert(hh, "penimbang", ColumnMap(source=hh_cfg.weight), HOUSEHOLD_ENTITY, config)
    spend = _convert(hh, "pengeluaran_per_kapita", ColumnMap(source=hh_cfg.consumption.source),
                     "survei_rumah_tangga", config).cast(pl.Float64)  # fmt: skip
    spend = spend * hh_cfg.consumption.scale
    if hh_cfg.consumption.kind == "total":
        spend = spend / size.cast(pl.Float64)
    if hh_cfg.urban is not None:
        _need(hh, hh_cfg.urban.source, "urban/rural")
        u = pl.col(hh_cfg.urban.source).str.strip_chars()
        urban = pl.when(u.is_in(hh_cfg.urban.urban)).then(True).when(u.is_in(hh_cfg.urban.rural)).then(False)
        bad = hh.select(~u.is_in(hh_cfg.urban.urban + hh_cfg.urban.rural).fill_null(False)).to_series()
        _fail(hh, bad, "perkotaan", hh_cfg.urban.source, "not an urban or rural value")
    else:
        urban = pl.lit(None, pl.Boolean)
    households = hh.select(
        pl.col(hh_cfg.id).cast(pl.String).alias("id_keluarga"),
        _region(hh, hh_cfg.kode_prov, "kode_prov"),
        _region(hh, hh_cfg.kode_kab, "kode_kab"),
        urban.alias("perkotaan"),
        weight,
        size,
        spend.round(0).cast(pl.Int64).alias("pengeluaran_per_kapita"),
        *_columns(hh, hh_cfg.columns, HOUSEHOLD_ENTITY, config, fixed | set(hh_cfg.columns)),
        "_file",
        "_line",
    )
    for column, reason in [
        ("pengeluaran_per_kapita", "consumption missing or not positive"),
        ("penimbang", "weight missing or not positive"),
        ("jumlah_art", "household size missing or below 1"),
    ]:
        floor = 1 if column == "jumlah_art" else 0
        value = households[column]
        bad = value.is_null() | ((value < floor) if floor else (value <= 0))
        _fail(
            households.with_columns(households[column].cast(pl.String).alias("_v")), bad, column, "_v", reason
        )
    dup = households["id_keluarga"].is_duplicated()
    _fail(households, dup, "id_keluarga", "id_keluarga", "household id appears more than once")
    members = mem.select(
        pl.col(mem_cfg.household_id).cast(pl.String).alias("id_keluarga"),
        *_columns(mem, mem_cfg.columns, MEMBER_ENTITY, config, {"id_keluarga"} | set(mem_cfg.columns)),
    )
    with_members = households.join(members.select("id_keluarga").unique(), on="id_keluarga", how="semi")
    households = with_members.drop("_file", "_line")
    members = members.join(households.select("id_keluarga"), on="id_keluarga", how="semi")
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
    return Survey(households, members, files, digest.hexdigest())
