"""Linkage accuracy on our own test sets (tests/linkage_sets, issue 14): exports in layouts `dtsen synth`
never writes, with their own names and noise, ingested through mapping files alone and linked with the
default model. The F1 floor is the issue's target, 0.99 per set (measured values in docs/linkage.md,
"Our own test sets")."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from linkage_sets.evaluate import evaluate_set
from linkage_sets.generate import SETS, generate

# issue 14's target with the default model and mapping files alone (the default seed, 1,100 families per
# set): measured 0.9955 (kabupaten) and 0.9947 (kota) once addresses were compared by their street part
# and the conflict refusal judged the words two names do not share
F1_FLOOR = {"kabupaten": 0.99, "kota": 0.99}


def _rows(path: Path) -> list[list[str]]:
    delimiter = {"bansos": ";", "layanan": ";", "survei": "\t", "penduduk_binjai": "|"}
    sep = next((d for k, d in delimiter.items() if path.name.startswith(k)), ",")
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh, delimiter=sep))


def test_sets_are_deterministic_and_truth_covers_every_line(tmp_path: Path) -> None:
    a = generate(tmp_path / "a", seed=3, families=120)
    b = generate(tmp_path / "b", seed=3, families=120)
    c = generate(tmp_path / "c", seed=4, families=120)
    for name in SETS:
        files = sorted(p.name for p in a[name].iterdir())
        assert files == sorted(p.name for p in b[name].iterdir())
        for f in files:
            assert (a[name] / f).read_bytes() == (b[name] / f).read_bytes(), f
        assert (a[name] / "truth.csv").read_bytes() != (c[name] / "truth.csv").read_bytes()
        truth = {(r[0], r[1]) for r in _rows(a[name] / "truth.csv")[1:]}
        exports = [p for p in a[name].iterdir() if p.name != "truth.csv"]
        lines = {(p.name, str(i)) for p in exports for i in range(2, len(_rows(p)) + 1)}
        assert truth == lines  # every data line (line 1 is the header) has its true person, nothing more


def test_sets_carry_the_noise_they_are_meant_to_measure(tmp_path: Path) -> None:
    sets = generate(tmp_path, seed=14, families=400)
    bansos = _rows(sets["kabupaten"] / "bansos_garut.csv")
    names = [r[2] for r in bansos[1:]]
    assert any(n.startswith(("BPK. ", "IBU ", "NY. ", "ALM. ")) for n in names)
    assert any(r[1] == "" for r in bansos[1:])  # missing NIK
    desa = [r[5] for r in bansos[1:]]
    assert any(d.startswith(("DS. ", "DESA ", "KEL. ")) for d in desa)
    assert any("OE" in d or "DJ" in d or "TJ" in d for d in desa)
    survey = _rows(sets["kabupaten"] / "survei_garut.csv")
    assert any("98" in r[5:8] for r in survey[1:])  # an unknown day, month or year
    nik_share = sum(r[8] != "" for r in survey[1:]) / (len(survey) - 1)
    assert 0.55 < nik_share < 0.8, nik_share
    pln = _rows(sets["kabupaten"] / "pln_garut.csv")
    assert all("GARUT" in r[3] for r in pln[1:])
    service = _rows(sets["kota"] / "layanan_binjai.csv")
    assert len({tuple(r) for r in service[1:]}) < len(service) - 1  # fully identical forms
    welfare = _rows(sets["kota"] / "dinsos_binjai.csv")
    ids = [r[2] for r in welfare[1:]]
    assert any("." in i or " " in i or "-" in i for i in ids)
    assert any(" BR " in r[4] or " BORU " in r[4] for r in welfare[1:])
    assert any(r[4].startswith(("I ", "NI ")) for r in welfare[1:])


@pytest.mark.parametrize("name", SETS)  # about 1.5 minutes each on an idle machine
def test_linkage_accuracy_on_our_own_set(name: str, tmp_path: Path) -> None:
    m = evaluate_set(name, tmp_path)
    print(name, m)  # reported in docs/linkage.md
    assert m["records"] > 5000, m
    assert m["persons"] > 3500, m
    assert m["f1"] >= F1_FLOOR[name], m
