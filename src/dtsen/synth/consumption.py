"""The welfare model: true log per-capita consumption of each synthetic family.

log c = province intercept + kabupaten effect + f(log size, share of children, share of elderly, female
head) + head's education (stronger in towns) + head's job status + other earners (diminishing) +
agriculture (worse in rural eastern Indonesia) + unobserved status + noise. The province intercepts,
the noise scale and the national decile cut-offs come from ``calibration.json`` (see ``calibration.py``),
so every chunk shares one ranking. Housing, assets and program receipt are later drawn from the
standardised result (``Consumption.welfare``).

Non-linear on purpose, as real surveys are (issue 17: a nearly log-linear truth flattered the linear
PMT): thresholds (a large-household penalty from 6 members, a child-share penalty above one half, an
inverted-U age profile of the head), interactions (other earners pay more in towns, schooling pays more
in eastern Indonesia; assets say more in the countryside, see ``housing.py``) and heteroscedastic error:
a transient shock, largest for own-account and casual workers, that moves this year's consumption but
not the house or the assets, which are drawn from the permanent part (``Consumption.welfare``). The
calibration pilot generates the shock too, so poverty rates and the Gini still meet their targets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dtsen.synth.calibration import Calibration
from dtsen.synth.geography import EASTERN, hash_normal
from dtsen.synth.household import Households, Members
from dtsen.synth.params import WelfareParams

# Effect of the head's highest certificate (ijazah 0-6) and job status (0 none, 1-8) on log consumption
_EDUCATION_EFFECT = np.array([-0.25, -0.12, 0.0, 0.15, 0.33, 0.52, 0.72])
_STATUS_EFFECT = np.array([-0.12, 0.0, -0.02, 0.30, 0.05, 0.20, -0.25, -0.15, -0.10])
# Extra log-consumption noise sd by the head's job status: own-account and casual incomes vary most
_STATUS_NOISE_SD = np.array([0.20, 0.35, 0.35, 0.35, 0.08, 0.05, 0.40, 0.40, 0.25])


@dataclass(frozen=True)
class Consumption:
    """One row per family."""

    log_consumption: np.ndarray
    per_capita: np.ndarray  # Rp per capita per month, rounded
    welfare: np.ndarray  # permanent log consumption standardised to ~N(0, 1): what observables load on
    desil: np.ndarray  # national decile 1-10


def family_consumption(
    rng: np.random.Generator,
    hh: Households,
    m: Members,
    works: np.ndarray,
    ijazah: np.ndarray,
    status: np.ndarray,
    sector: np.ndarray,
    wp: WelfareParams,
    calibration: Calibration,
) -> Consumption:
    """Draw each family's true consumption from its structure, its head and its place."""
    fam, nf, size, urban, head_age = m.fam, hh.n, hh.size, hh.urban, hh.head_age
    living = m.alive.astype(float)
    n_child = np.bincount(fam, weights=living * (m.age < 15), minlength=nf)
    n_old = np.bincount(fam, weights=living * (m.age >= 65), minlength=nf)
    n_workers = np.bincount(fam, weights=living * works, minlength=nf)
    h_edu = ijazah[m.head_of]
    h_status = status[m.head_of]
    h_agri = np.isin(sector[m.head_of], np.arange(1, 8))
    edu_effect = _EDUCATION_EFFECT[h_edu] + 0.15 * urban * (h_edu >= 5)
    status_effect = _STATUS_EFFECT[h_status]
    status_effect = np.where((h_status == 0) & (head_age >= 60), -0.05, status_effect)
    other_workers = np.maximum(n_workers - (h_status > 0), 0)
    kab_effect = wp.kabupaten_sd * hash_normal(hh.kab_int, 3)
    log_size = np.log(size)
    struct = (
        kab_effect
        + wp.urban_effect * urban
        + wp.size_elasticity * log_size
        + wp.child_share_effect * n_child / size
        + wp.elderly_share_effect * n_old / size
        + wp.female_head_effect * ~hh.head_male
        + edu_effect
        + status_effect
        + 0.22 * np.log1p(other_workers)
        - 0.08 * h_agri
        - 0.10 * (h_agri & np.isin(hh.prov, list(EASTERN)) & ~urban)
        + wp.latent_ses_effect * hh.ses
        - 0.05 * (log_size * (1 - urban))
        # thresholds and interactions a log-linear PMT cannot represent
        - 0.15 * (size >= 6)
        - 0.12 * (n_child / size > 0.5)
        + 0.12 * (1 - ((np.clip(head_age, 18, 85) - 47) / 22) ** 2)
        + 0.15 * np.log1p(other_workers) * urban
        + 0.10 * (h_edu >= 4) * np.isin(hh.prov, list(EASTERN))
    )
    # heteroscedastic, transient: this year's income shock shows in consumption, not in the house or the
    # assets (drawn from the permanent part below), and it is largest for own-account and casual work
    transient = _STATUS_NOISE_SD[h_status] * rng.standard_normal(nf)
    alpha_table = np.zeros(100)
    for code, value in calibration.province_alpha.items():
        alpha_table[int(code)] = value
    alpha = alpha_table[hh.prov_int]
    permanent = alpha + struct + calibration.noise_sd * rng.standard_normal(nf)
    lnc = permanent + transient
    return Consumption(
        log_consumption=lnc,
        per_capita=np.round(np.exp(lnc)).astype(np.int64),
        welfare=(permanent - calibration.lnc_mean) / calibration.lnc_sd,
        desil=(np.searchsorted(calibration.decile_cuts, lnc) + 1).astype(np.int8),
    )
