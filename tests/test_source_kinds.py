"""Sources declared by kind in the linkage settings (``LinkConfig.sources``), never known by name: a new
field agency links and wins or loses survivorship by its rank, a second survey sample is left out like
Susenas, an undeclared source is refused naming the key to add, and the shipped defaults written out as
YAML (in another order, with other rank numbers) give the same outputs as the defaults.

The small synthetic province of tests/test_linkage.py (``build_world``, ``small_config``); the new
agencies are copies of a shipped mapping under another source name, fed that mapping's file. The field
agency copies the Regsosek members (DTKS carries no socio-economic facts): same records, same
tanggal_data, so every field fact ties with Regsosek's and only the rank decides."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest
import yaml

from dtsen.linkage.config import LinkConfig, SourceKind, SourceSpec
from dtsen.linkage.golden import attribute_sets
from dtsen.linkage.inputs import LinkInputError
from dtsen.linkage.run import link
from test_linkage import build_world, small_config

OUTPUTS = ("links.parquet", "persons.parquet", "families.parquet", "provenance.parquet")


def _config(**extra: SourceSpec) -> LinkConfig:
    """The test settings with the shipped sources plus ``extra``."""
    base = small_config()
    return LinkConfig(probabilistic=base.probabilistic, sources={**base.sources, **extra})


def _state(province: dict[str, Path], name: str) -> Path:
    """A copy of the province's linkage state: its trained model and IDs, so runs compare person by person."""
    state = province["root"] / f"state_{name}"
    shutil.copytree(province["state"], state)
    return state


def _data_with_copy(province: dict[str, Path], source: str, shipped: str) -> Path:
    """The province's batches plus the file of the ``shipped`` mapping ingested again through a copy of
    that mapping whose source (and mapping name) is ``source``."""
    from dtsen.sources.ingest import ingest
    from dtsen.sources.mapping import resolve_mapping

    data = province["root"] / f"data_{source}"
    if data.exists():
        return data
    shutil.copytree(province["data"], data)
    manifest = json.loads((province["synth"] / "manifest.json").read_text(encoding="utf-8"))
    (path,) = [
        province["synth"] / f["path"]
        for f in manifest["files"]
        if f["kind"] == "source" and f["table"] == shipped
    ]
    mapping = resolve_mapping(shipped).model_copy(update={"name": source, "source": source})
    ingest(mapping, [path], data_dir=data)
    return data


def _run(province: dict[str, Path], name: str, cfg: LinkConfig, data: Path) -> Path:
    out = province["root"] / f"run_{name}" / "link"
    link(None, out, _state(province, name), config=cfg, data_dir=data, run=name)
    return out


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_world(tmp_path_factory.mktemp("source_kinds"))


@pytest.fixture(scope="module")
def control(province: dict[str, Path]) -> Path:
    """The default settings on the province's batches, from a copy of its state (the others compare to it)."""
    return _run(province, "control", small_config(), province["data"])


def _field_winners(out: Path) -> dict[str, int]:
    """Per source, how many golden person field attributes (socio-economic facts) it gave."""
    field = attribute_sets()[1]
    prov = pl.read_parquet(out / "provenance.parquet").filter(
        (pl.col("entitas") == "person") & pl.col("atribut").is_in(field)
    )
    return dict(prov.group_by("sumber").len().iter_rows())


def test_a_new_field_agency_links_and_wins_ties_by_its_rank(province: dict[str, Path]) -> None:
    data = _data_with_copy(province, "dinsos_kab", "regsosek_anggota")
    below = _run(province, "dinsos_25", _config(dinsos_kab=SourceSpec(kind=SourceKind.FIELD, rank=25)), data)
    above = _run(province, "dinsos_5", _config(dinsos_kab=SourceSpec(kind=SourceKind.FIELD, rank=5)), data)
    links = pl.read_parquet(below / "links.parquet")
    copies = links.filter(pl.col("sumber") == "dinsos_kab").select("berkas", "baris", "id_dtsen")
    originals = links.filter(pl.col("sumber") == "regsosek").select("berkas", "baris", asli="id_dtsen")
    assert copies.height == originals.height > 0
    pairs = copies.join(originals, on=["berkas", "baris"])
    assert pairs.height == copies.height
    assert pairs["id_dtsen"].null_count() == 0  # a field record always belongs to a person
    assert (pairs["id_dtsen"] == pairs["asli"]).all()  # the copy is its original's person
    # rank 25 (between DTKS 20 and P3KE 30): Regsosek (10) wins every tie, the copy never gives a fact
    won_below, won_above = _field_winners(below), _field_winners(above)
    assert won_below.get("dinsos_kab", 0) == 0
    assert won_below["regsosek"] > 0
    # rank 5 (above Regsosek): the copy takes exactly the facts Regsosek gave, nothing else moves
    assert won_above.get("regsosek", 0) == 0
    assert won_above["dinsos_kab"] == won_below["regsosek"]
    assert {k: v for k, v in won_above.items() if k != "dinsos_kab"} == {
        k: v for k, v in won_below.items() if k != "regsosek"
    }


def test_a_second_survey_is_left_out_like_susenas(province: dict[str, Path], control: Path) -> None:
    """A survey copy of DTKS (names and NIKs: linkable, were it linked) leaves every output as it was."""
    data = _data_with_copy(province, "survei_kab", "dtks")
    out = _run(province, "survey", _config(survei_kab=SourceSpec(kind=SourceKind.SURVEY)), data)
    assert pl.read_parquet(out / "links.parquet").filter(pl.col("sumber") == "survei_kab").is_empty()
    for name in OUTPUTS:
        assert pl.read_parquet(out / name).equals(pl.read_parquet(control / name)), name


def test_an_undeclared_source_is_refused_naming_the_key(province: dict[str, Path]) -> None:
    data = _data_with_copy(province, "dinsos_kab", "regsosek_anggota")
    out = province["root"] / "run_undeclared" / "link"
    with pytest.raises(LinkInputError, match=r"source 'dinsos_kab' is not declared.*sources\.dinsos_kab"):
        link(None, out, _state(province, "undeclared"), config=small_config(), data_dir=data, run="u")
    assert not out.exists()


def test_the_defaults_written_out_give_the_same_outputs(
    province: dict[str, Path],
    control: Path,
    tmp_path: Path,
) -> None:
    """Ranks only order: the shipped sources as YAML, listed backwards with ranks 1-3, link the same."""
    declared = {
        "atr_bpn": {"kind": "admin"},
        "ranmor": {"kind": "admin"},
        "bpjs_kesehatan": {"kind": "admin"},
        "pln": {"kind": "admin"},
        "susenas": {"kind": "survey"},
        "p3ke": {"kind": "field", "rank": 3},
        "dtks": {"kind": "field", "rank": 2},
        "regsosek": {"kind": "field", "rank": 1},
        "siak": {"kind": "register"},
    }
    settings = {"sources": declared, "probabilistic": small_config().probabilistic.model_dump(mode="json")}
    path = tmp_path / "linkage.yaml"
    path.write_text(yaml.safe_dump(settings), encoding="utf-8")
    cfg = LinkConfig.from_yaml(path)
    assert set(cfg.sources) == set(LinkConfig().sources)  # the defaults declare every shipped source
    assert cfg.field_sources == LinkConfig().field_sources == ["regsosek", "dtks", "p3ke"]
    out = _run(province, "written_out", cfg, province["data"])
    for name in OUTPUTS:
        assert pl.read_parquet(out / name).equals(pl.read_parquet(control / name)), name


@pytest.mark.parametrize(
    ("sources", "message"),
    [
        ({"a": {"kind": "register"}, "b": {"kind": "register"}}, r"exactly one source of kind register"),
        ({"a": {"kind": "register"}, "b": {"kind": "field"}}, r"sources\.b: a field source needs a rank"),
        (
            {"a": {"kind": "register"}, "b": {"kind": "field", "rank": 1}, "c": {"kind": "field", "rank": 1}},
            r"sources\.c: rank 1 is also b's",
        ),
        ({"a": {"kind": "register"}, "b": {"kind": "admin", "rank": 5}}, r"rank orders field sources only"),
        ({"a": {"kind": "register"}, "b": {"kind": "registry"}}, r"sources\.b\.kind"),
        ({"a": {"kind": "register"}, "B-2": {"kind": "admin"}}, r"sources\.B-2: not a source name"),
    ],
)
def test_inconsistent_sources_are_refused(sources: dict[str, dict[str, object]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LinkConfig.model_validate({"sources": sources})


@pytest.mark.parametrize(
    ("settings", "replacement"),
    [
        (
            {"spine_source": "siak"},
            r"spine_source is no longer a setting: declare sources: <name>: \{kind: register",
        ),
        ({"survivorship": {"field_sources": ["dtks"]}}, r"survivorship\.field_sources .*kind: field, rank"),
        (
            {"survivorship": {"identity_sources": ["siak"]}},
            r"survivorship\.identity_sources .*kind: register",
        ),
    ],
)
def test_settings_of_before_name_their_replacement(settings: dict[str, object], replacement: str) -> None:
    with pytest.raises(ValueError, match=replacement):
        LinkConfig.model_validate(settings)
