"""Program conditions compiled to Ibis expressions, so one rule runs on DuckDB and on Spark.

A condition on a missing value is false (never null): ``not {umur > 6}`` for a person of unknown age is
true, which is what a reader of the YAML expects, and no null ever leaks into ``layak``.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from dtsen.programs.definition import Condition


def compile_condition(cond: Condition, table: ir.Table) -> ir.BooleanValue:
    """``cond`` as a non-null boolean column expression over ``table``."""
    if cond.all is not None:
        out = compile_condition(cond.all[0], table)
        for sub in cond.all[1:]:
            out = out & compile_condition(sub, table)
        return out
    if cond.any is not None:
        out = compile_condition(cond.any[0], table)
        for sub in cond.any[1:]:
            out = out | compile_condition(sub, table)
        return out
    if cond.not_ is not None:
        return ~compile_condition(cond.not_, table)
    assert cond.field is not None  # the model guarantees one form
    column = table[cond.field]
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
