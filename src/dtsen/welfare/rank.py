"""Population-weighted desil through the engine layer (DuckDB default, Spark): national, provincial and
kab/kota, one Ibis expression.

Families are ordered by score (poorest first), ties broken by ``id_keluarga_dtsen`` so the same input
always gives the same ranks. Each family is weighted by its living members; a family belongs to the desil
that holds the midpoint of its persons on the cumulative scale, so every desil holds 10% of persons give
or take half a family. ``peringkat`` is the national rank (1 = poorest).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

KEY = "id_keluarga_dtsen"


def _desil(t: ir.Table, weight: ir.NumericValue, group_by: list[str]) -> ir.IntegerValue:
    order = [t.skor, t[KEY]]
    running = weight.sum().over(ibis.cumulative_window(group_by=[t[g] for g in group_by], order_by=order))
    total = weight.sum().over(ibis.window(group_by=[t[g] for g in group_by]))
    rows = ibis.row_number().over(ibis.window(group_by=[t[g] for g in group_by], order_by=order))
    count = (
        t.count().over(ibis.window(group_by=[t[g] for g in group_by]))
        if group_by
        else t.count().over(ibis.window())
    )
    # a group whose families all have no living member falls back to counting families
    share = ibis.ifelse(
        total > 0, (running - weight / 2) / total, (rows.cast("float64") + 0.5) / count.cast("float64")
    )
    return ibis.least((share * 10).floor().cast("int64") + 1, 10).cast("int8")


def rank(t: ir.Table) -> ir.Table:
    """``t`` (KEY, skor, jumlah_anggota, kode_prov, kode_kab, ...) with peringkat and the three desil."""
    weight = t.jumlah_anggota.fill_null(0).cast("float64")
    return t.mutate(
        peringkat=(ibis.row_number().over(ibis.window(order_by=[t.skor, t[KEY]])) + 1).cast("int64"),
        desil_nasional=_desil(t, weight, []),
        desil_provinsi=_desil(t, weight, ["kode_prov"]),
        desil_kabkota=_desil(t, weight, ["kode_kab"]),
    )
