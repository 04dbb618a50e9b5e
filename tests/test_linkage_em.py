"""Splink training survives a level whose m EM drives to zero (issue 14, kota set seed 14: ``ValueError:
m_probability value 0.0 is below the minimum allowed value of 1e-300`` ended training), and the saved
model keeps every comparison."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from dtsen.linkage import splink_model
from dtsen.linkage.config import ComparisonSpec, LinkConfig, Probabilistic, SplinkSpec


def _sample() -> pa.Table:
    """Two groups of eight records; two records of a pair agree on both ``a`` and ``b`` or on neither, so
    a pair at the else level of one field is at the else level of the other too."""
    values = ["x", "x", "y", "z", "p", "p", "q", "r"] * 2
    return pa.table(
        {
            "unique_id": list(range(16)),
            "g": [1] * 8 + [2] * 8,
            "a": [f"{v}{i // 8}" for i, v in enumerate(values)],
            "b": [f"{v}{i // 8}" for i, v in enumerate(values)],
        }
    )


def _tiny_else_m(spec: SplinkSpec | None = None) -> list[Any]:
    """The spec's comparisons starting EM with m = 1e-299 at the else level: one M step takes it (times
    the other field's equally tiny weight) below float64, to 0.0, as seed 14's levels got after a few."""
    import splink.comparison_library as cl

    start = {"m_probabilities": [0.9, 1e-299], "u_probabilities": [0.1, 0.9]}
    return [cl.ExactMatch(c).configure(**start) for c in ("a", "b")]


def test_em_underflow_does_not_end_training(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = SplinkSpec(
        extra_columns=["g", "a", "b"],
        comparisons=[ComparisonSpec(kind="ExactMatch", columns=[c]) for c in ("a", "b")],
        blocking_rules=[["g"]],
        lambda_rules=[],
        em_rules=[["g"]],
    )
    cfg = LinkConfig(probabilistic=Probabilistic(splink=spec, u_max_pairs=1e3))
    monkeypatch.setattr(splink_model, "comparisons", _tiny_else_m)
    model = splink_model.train(_sample(), cfg, tmp_path)
    saved = json.loads(model.path.read_text(encoding="utf-8"))["comparisons"]
    assert [c["output_column_name"] for c in saved] == ["a", "b"]  # complete: no comparison lost
    for comparison in saved:
        exact, other = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        assert exact["m_probability"] > 0.5
        assert 0 < other["m_probability"] <= 1e-290  # EM's verdict kept: never among matches


def test_floor_is_only_active_inside_training() -> None:
    from splink.internals import expectation_maximisation as em

    before = em.compute_proportions_for_new_parameters
    with splink_model.floored_em():
        assert em.compute_proportions_for_new_parameters is not before
    assert em.compute_proportions_for_new_parameters is before
