"""The smallest synthetic population whose Susenas sample is large enough to train the welfare model.

A cycle's ``score`` step trains on the survey and refuses fewer than
:data:`~dtsen.welfare.train.MIN_SURVEY_HOUSEHOLDS` usable households. The synthetic Susenas picks each
family with probability ``susenas_sample_rate``, so the number of survey households is binomial; the
minimum is the population whose expected sample, less :data:`MARGIN_SD` standard deviations, still
reaches that count (with 3, about one seed in 740 falls short at exactly this size).
"""

from __future__ import annotations

import math

from dtsen.synth.params import SynthParams

MARGIN_SD = 3.0


def mean_family_size(params: SynthParams) -> float:
    """Persons per family (KK) the generator draws: the mean of ``family_size_probs`` (sizes 1..n)."""
    probs = params.family_size_probs
    return sum(size * p for size, p in enumerate(probs, start=1)) / sum(probs)


def min_trainable_persons(params: SynthParams | None = None) -> int:
    """Persons below which ``dtsen cycle run`` on the output cannot train its welfare model."""
    from dtsen.welfare.train import MIN_SURVEY_HOUSEHOLDS

    params = params or SynthParams()
    rate = params.susenas_sample_rate
    spread = MARGIN_SD * math.sqrt(1 - rate)  # sd of a binomial count = sqrt(mean * (1 - rate))
    root = (spread + math.sqrt(spread**2 + 4 * MIN_SURVEY_HOUSEHOLDS)) / 2  # mean - spread*sqrt(mean) = min
    households = root**2
    return math.ceil(households / rate * mean_family_size(params))


__all__ = ["MARGIN_SD", "mean_family_size", "min_trainable_persons"]
