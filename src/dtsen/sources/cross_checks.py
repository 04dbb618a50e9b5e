"""Checks across the fields of one ingested row, as data (``cross_checks.yaml``, shipped with dtsen).

Each check is a finding code, the field it is reported on and a condition in the grammar of program
rules (:mod:`dtsen.conditions`). Loading checks every field name and value against the canonical model,
so a typo fails with the file, the entry and the key.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

import ibis
import ibis.expr.types as ir
import yaml
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from dtsen.canonical import ENTITIES, DType
from dtsen.canonical.model import Entity
from dtsen.canonical.model import Field as CanonicalField
from dtsen.conditions import Condition, Resolver, check_value, compile_condition

CODE_RE = re.compile(r"^[a-z][a-z0-9_]*$")


class CrossCheckError(ValueError):
    """A checks file that cannot be used; the message names the file, the entry and the key."""


class CrossCheck(BaseModel):
    """One finding across fields: ``code`` on ``field`` when ``when`` holds."""

    model_config = ConfigDict(extra="forbid")

    code: str
    field: str
    when: Condition
    severity: Literal["warning", "error"] = "warning"
    assume: dict[str, bool | int | float | str] = {}

    @property
    def columns(self) -> list[str]:
        """Every field the check names."""
        return list(dict.fromkeys([self.field, *self.when.columns(), *self.assume]))

    def validate_fields(self, where: str) -> None:
        """The code's shape, and every field and value against each entity that has all the fields."""
        if not CODE_RE.match(self.code):
            raise ValueError(f"{where}.code: {self.code!r}: lower-case letters, digits and _")
        entities = [e for e in ENTITIES.values() if all(c in e for c in self.columns)]
        if not entities:
            raise ValueError(f"{where}: no canonical entity has all of {', '.join(self.columns)}")
        for entity in entities:
            self.when.check(_resolver(entity), f"{where}.when")
            for name, value in self.assume.items():
                check_value(name, entity.field(name).dtype, entity.field(name), value, f"{where}.assume")

    def applies(self, values: dict[str, ir.Value]) -> bool:
        """The batch's mapping gives every field the check reads (or the check assumes its value)."""
        return all(c in values or c in self.assume for c in self.columns)

    def condition(self, values: dict[str, ir.Value]) -> ir.BooleanValue:
        assumed = {k: ibis.literal(v) for k, v in self.assume.items() if k not in values}
        return compile_condition(self.when, {**values, **assumed})


def _resolver(entity: Entity) -> Resolver:
    def resolve(name: str) -> tuple[DType, CanonicalField | None]:
        if name not in entity:
            raise ValueError(f"unknown {entity.name} field {name!r}")
        return entity.field(name).dtype, entity.field(name)

    return resolve


def load_cross_checks(path: Path) -> list[CrossCheck]:
    """The checks of one YAML file (a list), validated; errors name the file, entry and key."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CrossCheckError(f"{path}: {exc}") from exc
    if not isinstance(data, list):
        raise CrossCheckError(f"{path}: a checks file holds one YAML list (got {type(data).__name__})")
    try:
        checks = TypeAdapter(list[CrossCheck]).validate_python(data)
    except ValidationError as exc:
        problems = "; ".join(f"[{']['.join(map(str, e['loc']))}]: {e['msg']}" for e in exc.errors())
        raise CrossCheckError(f"{path}: {problems}") from exc
    for i, check in enumerate(checks):
        try:
            check.validate_fields(f"[{i}] {check.code}")
        except ValueError as exc:
            raise CrossCheckError(f"{path}: {exc}") from exc
    return checks


@cache
def builtin_cross_checks() -> tuple[CrossCheck, ...]:
    """The checks shipped with dtsen, applied to every batch."""
    return tuple(load_cross_checks(Path(str(resources.files("dtsen.sources").joinpath("cross_checks.yaml")))))
