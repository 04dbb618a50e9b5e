"""Uncertainty per family: split-conformal 80% intervals (MAPIE) and, from the same calibration
residuals, the probability that the family's true welfare lies below the desil-4 and desil-5 cut-offs.

MAPIE conformalizes the fitted model on households it never saw in training; with the absolute-residual
score the interval is the prediction plus/minus one half-width (in log consumption), which is all the
scorer needs to store. The signed calibration residuals form a conformal predictive distribution:
P(true <= cut) = share of residuals r with prediction + r <= cut. A family is ``borderline`` when its
interval straddles the desil-4 or the desil-5 cut-off: it cannot be placed on either side with 80%
confidence, so it goes first to ground verification.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from mapie.regression import SplitConformalRegressor

LEVEL = 0.8


@dataclass
class Conformal:
    level: float
    halfwidth: float  # of the interval, in log consumption
    residuals: np.ndarray  # sorted signed calibration residuals (truth - prediction)

    def interval(self, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return pred - self.halfwidth, pred + self.halfwidth

    def prob_below(self, pred: np.ndarray, cut: float) -> np.ndarray:
        """P(true log consumption <= cut) for each prediction."""
        return np.searchsorted(self.residuals, cut - pred, side="right") / len(self.residuals)

    def to_dict(self) -> dict[str, Any]:
        return {"level": self.level, "halfwidth": self.halfwidth, "residuals": self.residuals.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Conformal:
        return cls(data["level"], data["halfwidth"], np.asarray(data["residuals"], dtype=float))


def conformalize(estimator: Any, x_cal: np.ndarray, y_cal: np.ndarray, level: float = LEVEL) -> Conformal:
    """Calibrate a fitted estimator on held-back households with MAPIE's split conformal regressor."""
    mapie = SplitConformalRegressor(
        estimator, confidence_level=level, conformity_score="absolute", prefit=True
    )
    mapie.conformalize(x_cal, y_cal)
    pred, bounds = mapie.predict_interval(x_cal[:1])
    halfwidth = float(bounds[0, 1, 0] - pred[0])
    residuals = np.sort(np.asarray(y_cal, dtype=float) - estimator.predict(x_cal))
    return Conformal(level, halfwidth, residuals)


def placement(
    pred: np.ndarray, conformal: Conformal, cut4: float, cut5: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(lower, upper, P(desil <= 4), P(desil <= 5), borderline) for log-consumption predictions."""
    lower, upper = conformal.interval(pred)
    p4 = conformal.prob_below(pred, cut4)
    p5 = conformal.prob_below(pred, cut5)
    borderline = ((lower < cut4) & (upper > cut4)) | ((lower < cut5) & (upper > cut5))
    return lower, upper, p4, p5, borderline
