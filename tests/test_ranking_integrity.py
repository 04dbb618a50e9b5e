"""Ranking integrity (issue 18): a family the registry knows nothing about is not ranked, explanations
speak only of what was observed, and an unranked family is never paid automatically."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl

from dtsen.programs.decide import decide
from dtsen.programs.definition import load_programs
from dtsen.welfare.explain import GROUPS, MISSING_FACTOR, explain, unobserved_groups
from dtsen.welfare.features import FEATURE_NAMES
from dtsen.welfare.integrity import explanation_problems
from dtsen.welfare.rankable import ADMIN_MODEL, NOT_RANKED, RANKED, SURVEY_MODEL, ranking_status
from golden_frames import sample, write_golden

COLUMNS = (
    "jumlah_anggota",
    "umur_maks",
    "kepala_umur",
    "item_survei_teramati",
    "item_administratif_teramati",
)


def test_ranking_status_reasons_and_models() -> None:
    rows = [
        (4, 45, 45.0, 9, 1),  # surveyed
        (3, 50, 50.0, 0, 2),  # only administrative records
        (2, 60, 60.0, 0, 0),  # nothing observed
        (1, 9, 9.0, 9, 0),  # a lone child
        (0, None, None, 0, 0),  # nobody left
        (2, None, None, 3, 0),  # ages unknown: not a reason by itself
        (3, 41, 12.0, 9, 0),  # a child recorded as head while adults live there
    ]
    features = pl.DataFrame(
        rows,
        schema=dict(zip(COLUMNS, (pl.Int32, pl.Int32, pl.Float64, pl.Int32, pl.Int32), strict=True)),
        orient="row",
    )
    status, reason, model = ranking_status(features)
    assert status.tolist() == [RANKED, RANKED, NOT_RANKED, NOT_RANKED, NOT_RANKED, RANKED, NOT_RANKED]
    assert reason.tolist() == [
        None,
        None,
        "tanpa_observasi",
        "tanpa_kepala_dewasa",
        "tanpa_anggota",
        None,
        "tanpa_kepala_dewasa",
    ]
    assert model.tolist() == [SURVEY_MODEL, ADMIN_MODEL, None, None, None, SURVEY_MODEL, None]
    # a model version without the administrative model ranks nobody on administrative data alone
    status, reason, _ = ranking_status(features, admin_model=False)
    assert status[1] == NOT_RANKED
    assert reason[1] == "tanpa_observasi"


def _feature_row(**values: float | None) -> dict[str, float | None]:
    row: dict[str, float | None] = dict.fromkeys(FEATURE_NAMES, 0.0)
    row.update(prov=34.0, jumlah_anggota=3.0, kepala_umur=40.0, kepala_ijazah=2.0, ijazah_maks=2.0)
    row.update(jumlah_anak=1.0, jumlah_lansia=0.0, jumlah_ternak=0.0)
    row.update(values)
    return row


def test_unobserved_groups_are_never_a_reason_and_are_named() -> None:
    rows = [_feature_row(), _feature_row(log_luas_lantai_per_kapita=None, jumlah_aset=None)]
    features = pl.DataFrame(rows)
    for column in (
        "lantai",
        "dinding",
        "atap",
        "sumber_air_minum",
        "sumber_penerangan",
        "daya_listrik",
        "bahan_bakar_masak",
        "fasilitas_bab",
        "kepala_status_pekerjaan",
    ):
        features = features.with_columns(pl.lit(1, pl.Int8).alias(column))
    x = features.select(FEATURE_NAMES).to_numpy().astype(float)
    grouped = np.zeros((2, len(GROUPS)))
    grouped[:, GROUPS.index("luas_lantai")] = -0.9  # the largest, but unobserved in row 1
    grouped[:, GROUPS.index("jumlah_aset")] = -0.7
    grouped[:, GROUPS.index("kepala_pendidikan")] = 0.2
    grouped[:, GROUPS.index("wilayah")] = -0.1
    grouped[:, GROUPS.index("atap")] = 0.05
    out = explain(grouped, features, unobserved=unobserved_groups(np.isnan(x))).to_pylist()
    assert [item["faktor"] for item in out[0]] == ["luas_lantai", "jumlah_aset", "kepala_pendidikan"]
    assert [item["faktor"] for item in out[1]] == ["kepala_pendidikan", "wilayah", "atap", MISSING_FACTOR]
    assert "luas lantai" in out[1][-1]["kalimat"]
    assert "jumlah aset" in out[1][-1]["kalimat"]
    assert not any("m² per orang" in item["kalimat"] for item in out[1])
    # percentages are exp(k) - 1: -0.1 log points is 10% lower, +0.2 is 22% higher
    assert "sekitar 10%" in out[1][1]["kalimat"]
    assert "menurunkan" in out[1][1]["kalimat"]
    assert f"sekitar {round((math.exp(0.2) - 1) * 100)}%" in out[1][0]["kalimat"]


def test_an_unranked_family_is_never_eligible(tmp_path: Path) -> None:
    p, f, s = sample()
    # f2's 66-year-old has kidney failure: PBI-JK's keep rule would pay him even outside the target desil,
    # and f3 (a woman of 70 in desil 1) would get PKH; neither may be paid once the family is unranked
    s = [
        {
            **r,
            "desil_nasional": None,
            "desil_provinsi": None,
            "desil_kabkota": None,
            "peringkat": None,
            "status_peringkat": NOT_RANKED,
            "alasan_tidak_diperingkat": "tanpa_observasi",
        }
        if r["id_keluarga_dtsen"] in {"f2", "f3"}
        else {**r, "status_peringkat": RANKED}
        for r in s
    ]
    paths = write_golden(tmp_path / "in", p, f, s)
    decide(
        *paths,
        tmp_path / "out",
        programs={c: v for c, v in load_programs().items() if c in {"pkh", "pbi_jk"}},
    )
    elig = pl.read_parquet(tmp_path / "out" / "eligibility.parquet")
    unranked = elig.filter(pl.col("id_keluarga_dtsen").is_in(["f2", "f3"]))
    assert unranked.height == 4
    assert not unranked["layak"].any()
    assert all("tidak_diperingkat" in reasons for reasons in unranked["alasan"].to_list())
    assert elig.filter((pl.col("id_keluarga_dtsen") == "f1") & (pl.col("program") == "pbi_jk"))[
        "layak"
    ].item()


def test_explanation_scan_finds_sentences_about_unobserved_items(tmp_path: Path) -> None:
    p, f, s = sample()
    paths = write_golden(tmp_path, p, f, [{**r, "status_peringkat": RANKED} for r in s])
    scores = pl.read_parquet(paths[2]).with_columns(
        penjelasan=pl.lit(
            [
                {
                    "faktor": "luas_lantai",
                    "kontribusi": -0.5,
                    "kalimat": "Luas lantai sekitar 1 m² per orang ...",
                },
                {"faktor": "lantai", "kontribusi": -0.1, "kalimat": "Lantai rumah ..."},
                {"faktor": "jumlah_aset", "kontribusi": -0.1, "kalimat": "Memiliki 0 dari 18 jenis aset ..."},
            ]
        )
    )
    scores.write_parquet(paths[2])
    problems = explanation_problems(tmp_path)
    # the sample families have a floor type but no floor area, and only the car among 18 asset items:
    # every luas_lantai and jumlah_aset sentence is fabricated
    assert set(problems["faktor"]) == {"luas_lantai", "jumlah_aset"}
    assert problems.height == 2 * scores.height


def test_field_queue_puts_unranked_families_first(tmp_path: Path) -> None:
    from dtsen.welfare.integrity import field_queue

    p, f, s = sample()
    rows = []
    for r in s:
        fid = r["id_keluarga_dtsen"]
        if fid == "f3":
            r = {
                **r,
                "desil_nasional": None,
                "status_peringkat": NOT_RANKED,
                "alasan_tidak_diperingkat": "tanpa_observasi",
            }
        else:
            r = {**r, "status_peringkat": RANKED, "borderline": fid == "f1", "p_desil_le4": 0.6}
        rows.append(r)
    paths = write_golden(tmp_path, p, f, rows)
    scores = pl.read_parquet(paths[2]).with_columns(
        model_peringkat=pl.when(pl.col("id_keluarga_dtsen") == "f4")
        .then(pl.lit(ADMIN_MODEL))
        .when(pl.col("status_peringkat") == RANKED)
        .then(pl.lit(SURVEY_MODEL))
    )
    scores.write_parquet(paths[2])
    queue = field_queue(tmp_path)
    assert queue["id_keluarga_dtsen"].to_list() == ["f3", "f4", "f1"]
    assert queue["kategori"].to_list() == ["pendataan", "verval_data_administratif", "verval_borderline"]
    assert queue["urutan"].to_list() == [1, 2, 3]
    assert field_queue(tmp_path, region="99").height == 0
