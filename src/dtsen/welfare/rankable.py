"""Which families the welfare model may rank at all, and why the others may not.

A family the registry knows nothing about is not "the poorest": scored on imputed values it used to land
in desil 1 and be paid. A family is ranked only when it has living members, at least one of them an adult and
the head not a child (a lone child is a fragment of a family that linkage has not put back together; a
child recorded as head is a data error to check), and something observed
about its welfare: a housing or asset item from a field survey (Regsosek, DTKS, P3KE), ranked by the
survey model; or, failing that, an administrative record (PLN power class, vehicle, land), ranked by the
administrative-data model, which was trained on the survey with only what such a family has and carries
its own, wider intervals. The others get a reason code, no desil, no automatic program eligibility, and
go to the top of the field queue for data collection (pendataan) or a ground check.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from dtsen.tables import RankingModel, RankingStatus, UnrankedReason
from dtsen.welfare.features import CHILD_AGE

RANKED = RankingStatus.DIPERINGKAT
NOT_RANKED = RankingStatus.TIDAK_DIPERINGKAT
SURVEY_MODEL = RankingModel.SURVEI
ADMIN_MODEL = RankingModel.ADMINISTRATIF
# Reason codes, most fundamental first (a family gets the first that applies), with the sentence a citizen,
# operator or auditor reads.
REASONS: dict[UnrankedReason, str] = {
    UnrankedReason.TANPA_ANGGOTA: (
        "Keluarga ini belum dapat diperingkat: tidak ada anggota yang masih hidup dan tinggal bersama."
    ),
    UnrankedReason.TANPA_KEPALA_DEWASA: (
        "Keluarga ini belum dapat diperingkat: kepala keluarga tercatat berumur di bawah 15 tahun atau "
        "tidak ada anggota berumur 15 tahun ke atas, sehingga kemungkinan merupakan bagian dari keluarga "
        "lain; perlu diperiksa di lapangan."
    ),
    UnrankedReason.TANPA_OBSERVASI: (
        "Keluarga ini belum dapat diperingkat: belum ada data kondisi rumah dan aset dari pendataan "
        "lapangan (Regsosek, DTKS atau P3KE) maupun dari data administratif (PLN, kendaraan, tanah); "
        "perlu pendataan."
    ),
}


def ranking_status(
    features: pl.DataFrame, admin_model: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(status, reason, model) per feature row: ``diperingkat`` with a null reason and the model that ranks
    it (``survei`` or ``administratif``), or ``tidak_diperingkat`` with the first reason code of
    :data:`REASONS` that applies and a null model. Without an administrative model (versions trained
    before it existed) a family with administrative records only is not ranked."""
    members = features["jumlah_anggota"].fill_null(0).to_numpy()
    oldest = features["umur_maks"].to_numpy().astype(float)
    head_age = (
        features["kepala_umur"].to_numpy().astype(float) if "kepala_umur" in features.columns else oldest
    )
    surveyed = features["item_survei_teramati"].fill_null(0).to_numpy() > 0
    administrative = features["item_administratif_teramati"].fill_null(0).to_numpy() > 0
    conditions = {
        UnrankedReason.TANPA_ANGGOTA: members <= 0,
        # no adult at all, or a child recorded as the head: a fragment or a data error to check in the field
        UnrankedReason.TANPA_KEPALA_DEWASA: (~np.isnan(oldest) & (np.nan_to_num(oldest, nan=0.0) < CHILD_AGE))
        | (~np.isnan(head_age) & (np.nan_to_num(head_age, nan=0.0) < CHILD_AGE)),
        UnrankedReason.TANPA_OBSERVASI: ~surveyed & ~(administrative & admin_model),
    }
    reason = np.full(len(features), None, dtype=object)
    for code in reversed(REASONS):  # the first in REASONS wins: assign it last
        reason[conditions[code]] = code.value  # plain text: the column is a string column
    ranked = np.array([r is None for r in reason], dtype=bool)
    status = np.where(ranked, RANKED.value, NOT_RANKED.value).astype(object)
    model = np.where(ranked, np.where(surveyed, SURVEY_MODEL.value, ADMIN_MODEL.value), None).astype(object)
    return status, reason, model
