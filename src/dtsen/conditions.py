"""Row conditions as data: one YAML grammar and its Ibis compiler, shared by program rules
(``dtsen.programs``) and the ingestion's checks across fields (``dtsen.sources.cross_checks``).

A condition is one of ``{field, eq | in | min/max | is_null}``, ``{all: [...]}``, ``{any: [...]}`` or
``{not: ...}``. Whoever loads conditions says which columns exist and of what type (a resolver), so a
typo fails with the file and the key when the file is loaded, not later. Compiled, a test on a missing
value is false (never null): ``not {umur > 6}`` for a person of unknown age is true, which is what a
reader of the YAML expects, and no null ever leaks into a result.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import ibis
import ibis.expr.types as ir
from pydantic import BaseModel, ConfigDict, Field, model_validator

from dtsen.canonical import DType
from dtsen.canonical.model import Field as CanonicalField

NUMERIC = {DType.INT8, DType.INT16, DType.INT32, DType.INT64, DType.FLOAT64, DType.MONEY, DType.CODE}
# A column name -> its logical type and canonical field; raises ValueError (the reason) for an unknown one.
Resolver = Callable[[str], tuple[DType, CanonicalField | None]]


class Condition(BaseModel):
    """A test on one row: a column compared with a value, or a combination of conditions.

    One of: ``field`` with ``eq`` / ``in`` / ``min``/``max`` / ``is_null``; ``all``; ``any``; ``not``.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    field: str | None = None
    eq: bool | int | float | str | None = None
    in_: list[bool | int | float | str] | None = Field(None, alias="in")
    min: float | None = None
    max: float | None = None
    is_null: bool | None = None
    all: list[Condition] | None = None
    any: list[Condition] | None = None
    not_: Condition | None = Field(None, alias="not")

    @model_validator(mode="after")
    def _one_form(self) -> Condition:
        forms = [self.field is not None, self.all is not None, self.any is not None, self.not_ is not None]
        if sum(forms) != 1:
            raise ValueError(
                "a condition is exactly one of: field (with eq/in/min/max/is_null), all, any, not"
            )
        if self.field is not None:
            tests = [
                self.eq is not None,
                self.in_ is not None,
                self.min is not None or self.max is not None,
                self.is_null is not None,
            ]
            if sum(tests) != 1:
                raise ValueError(f"field {self.field!r}: give exactly one of eq, in, min/max, is_null")
        elif any(v is not None for v in (self.eq, self.in_, self.min, self.max, self.is_null)):
            raise ValueError("eq/in/min/max/is_null go with field")
        return self

    def columns(self) -> list[str]:
        if self.field is not None:
            return [self.field]
        subs = self.all or self.any or ([self.not_] if self.not_ else [])
        return [c for s in subs for c in s.columns()]

    def check(self, resolve: Resolver, where: str) -> None:
        """Every column is known to ``resolve`` and every value fits its type and code list."""
        if self.field is None:
            for i, sub in enumerate(self.all or self.any or [self.not_]):  # type: ignore[list-item]
                kind = "all" if self.all else "any" if self.any else "not"
                sub.check(resolve, f"{where}.{kind}[{i}]" if kind != "not" else f"{where}.not")
            return
        try:
            dtype, canonical = resolve(self.field)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        values = [self.eq] if self.eq is not None else (self.in_ or [])
        for v in values:
            check_value(self.field, dtype, canonical, v, where)
        if (self.min is not None or self.max is not None) and dtype not in NUMERIC:
            raise ValueError(f"{where}: min/max need a numeric column; {self.field} is {dtype.value}")


def check_value(name: str, dtype: DType, canonical: CanonicalField | None, v: object, where: str) -> None:
    """``v`` is a value column ``name`` can hold (a code of its code list, for a coded column)."""
    if dtype is DType.BOOL:
        if not isinstance(v, bool):
            raise ValueError(f"{where}: {name} is true/false, got {v!r}")
        return
    if dtype in NUMERIC:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ValueError(f"{where}: {name} is numeric, got {v!r}")
        if canonical is not None and canonical.code_list is not None:
            codes = canonical.code_list.codes()
            if v not in codes:
                raise ValueError(
                    f"{where}: {v!r} is not a code of {canonical.code_list.__name__} ({name}); codes: {codes}"
                )
        return
    if not isinstance(v, str):
        raise ValueError(f"{where}: {name} is text, got {v!r}")


def compile_condition(cond: Condition, columns: ir.Table | Mapping[str, ir.Value]) -> ir.BooleanValue:
    """``cond`` as a non-null boolean expression over ``columns`` (a table, or named expressions)."""
    if cond.all is not None:
        out = compile_condition(cond.all[0], columns)
        for sub in cond.all[1:]:
            out = out & compile_condition(sub, columns)
        return out
    if cond.any is not None:
        out = compile_condition(cond.any[0], columns)
        for sub in cond.any[1:]:
            out = out | compile_condition(sub, columns)
        return out
    if cond.not_ is not None:
        return ~compile_condition(cond.not_, columns)
    assert cond.field is not None  # the model guarantees one form
    column = columns[cond.field]
    if cond.is_null is not None:
        return column.isnull() if cond.is_null else column.notnull()
    if cond.eq is not None:
        test = column == cond.eq
    elif cond.in_ is not None:
        test = column.isin(cond.in_)
    else:
        test = ibis.literal(True)
        if cond.min is not None:
            test = test & (column >= cond.min)
        if cond.max is not None:
            test = test & (column <= cond.max)
    return test.fill_null(False)
