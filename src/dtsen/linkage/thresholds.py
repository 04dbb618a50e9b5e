"""Match and review thresholds from the trained model and from a labelled clerical sample.

A fixed 0.95 / 0.70 suits the data the model was tuned on; on another export the scores shift. Two
sources of evidence, both reported by ``dtsen link thresholds`` and neither changing anything:

- **the model**: a calibrated model's probability of a pair is its chance of being a match, so the
  mean probability of the pairs scored at or above ``t`` is the precision the model itself expects
  there. ``match_threshold: auto`` takes the lowest ``t`` whose expected precision reaches
  ``target_precision`` (never below 0.5: such a pair is more likely a non-match); ``review_threshold:
  auto`` the lowest lower end whose band still holds ``review_precision`` true matches. Every run keeps
  the score distribution (``thresholds.json``), so a recommendation needs no re-scoring.
- **a clerical sample** (decisions in ``state/decisions.parquet`` or a CSV of labelled pairs): the
  threshold that maximises F1 on it, and the lowest that meets the target precision, with the sample
  size and a Wilson interval, since a few dozen labels say much less than the model's own estimate.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from dtsen.linkage.config import Probabilistic
from dtsen.tables import ReviewDecision

BINS = 1000  # score distribution kept in bins of 0.001
AUTO_FLOOR = 0.05  # pairs are scored down to this, so the distribution covers any review band
MATCH_MIN = 0.5  # an automatic match threshold never goes below: such a pair is likelier a non-match
# candidate thresholds: round numbers, finer at the top where a target of 0.995 is decided
CANDIDATES = (*(round(x / 100, 2) for x in range(5, 100)), 0.995, 0.999)
THRESHOLDS_FILE = "thresholds.json"
WILSON_Z = 1.959964  # 95% two-sided


class ThresholdError(ValueError):
    """A labelled sample or a run's threshold record cannot be read; the message names file and line."""


def histogram(probabilities: pl.Series) -> pl.DataFrame:
    """bin (0..BINS-1), n, total probability: enough to compute the expected precision at any bin edge."""
    return (
        pl.DataFrame({"p": probabilities.cast(pl.Float64)})
        .with_columns(bin=(pl.col("p") * BINS).floor().clip(0, BINS - 1).cast(pl.Int32))
        .group_by("bin")
        .agg(n=pl.len().cast(pl.Int64), total=pl.col("p").sum())
        .sort("bin")
    )


def _above(hist: pl.DataFrame, low: float, high: float = 2.0) -> tuple[int, float]:
    lo, hi = round(low * BINS), round(high * BINS)
    part = hist.filter((pl.col("bin") >= lo) & (pl.col("bin") < hi))
    return int(part["n"].sum()), float(part["total"].sum())


def expected_precision(hist: pl.DataFrame, low: float, high: float = 2.0) -> float | None:
    """Mean model probability of the pairs scored in [low, high): the model's expected precision there."""
    n, total = _above(hist, low, high)
    return total / n if n else None


@dataclass(frozen=True)
class Thresholds:
    """What a run linked and queued with, and why (recorded in ``thresholds.json`` and the result)."""

    match: float
    review: float
    match_from: str  # config | model | default (auto with nothing scored)
    review_from: str
    reason: str
    pairs_scored: int
    expected_precision_match: float | None  # of the pairs at or above match
    expected_precision_review: float | None  # of the pairs in [review, match): the queue

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def match_from_model(hist: pl.DataFrame, target: float) -> float | None:
    """The lowest candidate threshold (>= MATCH_MIN) whose expected precision reaches ``target``."""
    return next(
        (t for t in CANDIDATES if t >= MATCH_MIN and (expected_precision(hist, t) or 0) >= target), None
    )


def review_from_model(hist: pl.DataFrame, match: float, target: float) -> float:
    """The lowest lower end of the band [review, match) whose expected share of matches stays >= target,
    walking down from ``match`` (an empty band at a step costs nothing and is passed)."""
    review = match
    for t in sorted((c for c in CANDIDATES if c < match), reverse=True):
        band = expected_precision(hist, t, match)
        if band is not None and band < target:
            break
        review = t
    return review


def resolve(p: Probabilistic, hist: pl.DataFrame) -> Thresholds:
    """The thresholds a run uses: the configured numbers, or ``auto`` ones from the model. A fixed review
    threshold not below the model's match threshold gives way to the model's review band (else the
    queue would be empty); not below a configured match threshold, it is lowered to it (an empty band)."""
    pairs = int(hist["n"].sum())
    reasons = []
    match, match_from = (p.match_threshold, "config") if p.match_threshold != "auto" else (0.95, "default")
    if p.match_threshold == "auto":
        found = match_from_model(hist, p.target_precision)
        if found is None:
            reasons.append(
                f"match auto: no threshold >= {MATCH_MIN} reaches expected precision {p.target_precision} "
                f"over {pairs:,} scored pairs; 0.95 used"
            )
        else:
            match, match_from = found, "model"
            reasons.append(f"match auto: lowest with expected precision >= {p.target_precision}")
    if p.review_threshold == "auto":
        review, review_from = review_from_model(hist, match, p.review_precision), "model"
        reasons.append(f"review auto: lowest band with expected share of matches >= {p.review_precision}")
    elif p.review_threshold >= match and match_from == "model":
        # the model placed the match threshold at or below the configured review threshold (small or
        # clean data): that band would be empty and no pair below the match would ever be reviewed
        review, review_from = review_from_model(hist, match, p.review_precision), "model"
        reasons.append(
            f"review {p.review_threshold} is not below the model's match threshold: the band the model "
            f"gives (expected share of matches >= {p.review_precision})"
        )
    else:
        review, review_from = min(p.review_threshold, match), "config"
    return Thresholds(
        match=match,
        review=review,
        match_from=match_from,
        review_from=review_from,
        reason="; ".join(reasons) or "configured",
        pairs_scored=pairs,
        expected_precision_match=_round(expected_precision(hist, match)),
        expected_precision_review=_round(expected_precision(hist, review, match)),
    )


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 6)


def scoring_floor(p: Probabilistic) -> float:
    """The lowest probability kept from scoring: low enough for the distribution any recommendation
    reads, and for a fixed review band."""
    return min(AUTO_FLOOR, p.review_threshold if p.review_threshold != "auto" else AUTO_FLOOR)


def write_record(path: Path, used: Thresholds, hist: pl.DataFrame) -> None:
    """``thresholds.json``: the thresholds used and why, and the score distribution they came from."""
    data = {
        "used": used.as_dict(),
        "bins": BINS,
        "histogram": [[int(b), int(n), round(float(t), 9)] for b, n, t in hist.iter_rows()],
    }
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def read_record(run: Path) -> tuple[dict[str, Any], pl.DataFrame]:
    path = run / THRESHOLDS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        rows = data["histogram"]
    except (OSError, ValueError, KeyError) as exc:
        raise ThresholdError(
            f"{path}: no threshold record ({exc}); link again with this version to record one"
        ) from exc
    hist = pl.DataFrame(
        {"bin": [r[0] for r in rows], "n": [r[1] for r in rows], "total": [r[2] for r in rows]},
        schema={"bin": pl.Int32, "n": pl.Int64, "total": pl.Float64},
    )
    return data["used"], hist


# --- clerical sample ------------------------------------------------------------------------------


def wilson(k: int, n: int, z: float = WILSON_Z) -> tuple[float, float]:
    """Wilson score interval of a proportion k/n (sound near 0 and 1 and for small n, unlike k/n +- z*se)."""
    if n == 0:
        return 0.0, 1.0
    phat = k / n
    centre = (phat + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def labels_from_decisions(decisions: pl.DataFrame, review: pl.DataFrame) -> pl.DataFrame:
    """probabilitas, cocok for every recorded decision on a pair the run scored (``review.parquet``
    holds every decided pair the run met, with its probability)."""
    scored = review.select("id_pasangan", "probabilitas").unique("id_pasangan")
    return decisions.join(scored, on="id_pasangan").select(
        "probabilitas", cocok=pl.col("keputusan") == ReviewDecision.COCOK
    )


def labels_from_csv(path: Path, review: pl.DataFrame | None) -> pl.DataFrame:
    """A CSV of labelled pairs: ``keputusan`` (cocok / tidak_cocok) and ``probabilitas``, or instead of
    the probability an ``id_pasangan`` the run scored (looked up in its ``review.parquet``)."""
    valid = {str(d) for d in ReviewDecision}
    probs = dict(review.select("id_pasangan", "probabilitas").iter_rows()) if review is not None else {}
    out_p: list[float] = []
    out_y: list[bool] = []
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            fields = set(reader.fieldnames or ())
            if "keputusan" not in fields or not fields & {"probabilitas", "id_pasangan"}:
                raise ThresholdError(
                    f"{path}: line 1: need a keputusan column and probabilitas or id_pasangan, "
                    f"got {sorted(fields)}"
                )
            for line, row in enumerate(reader, start=2):
                label = (row.get("keputusan") or "").strip()
                if label not in valid:
                    raise ThresholdError(
                        f"{path}: line {line}: keputusan {label!r} is not one of {sorted(valid)}"
                    )
                out_p.append(_probability(path, line, row, probs))
                out_y.append(label == ReviewDecision.COCOK)
    except OSError as exc:
        raise ThresholdError(f"{path}: {exc}") from exc
    return pl.DataFrame(
        {"probabilitas": out_p, "cocok": out_y}, schema={"probabilitas": pl.Float64, "cocok": pl.Boolean}
    )


def _probability(path: Path, line: int, row: dict[str, str], probs: dict[str, float]) -> float:
    raw = (row.get("probabilitas") or "").strip()
    if raw:
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not 0 <= value <= 1:
            raise ThresholdError(f"{path}: line {line}: probabilitas {raw!r} is not a number in [0, 1]")
        return value
    pair = (row.get("id_pasangan") or "").strip()
    if pair not in probs:
        raise ThresholdError(
            f"{path}: line {line}: id_pasangan not among the run's scored pairs and no probabilitas given"
        )
    return probs[pair]


@dataclass
class SampleAdvice:
    """What a labelled sample says about the thresholds."""

    n: int
    matches: int
    lowest: float | None = None  # range of probabilities the sample covers
    highest: float | None = None
    best_f1_threshold: float | None = None
    best_f1: float | None = None
    target: float = 0.995
    target_threshold: float | None = None  # lowest threshold whose sample precision meets the target
    target_n: int = 0  # labelled pairs at or above it
    target_precision: float | None = None
    target_interval: tuple[float, float] | None = None
    statement: str = ""
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def from_sample(labels: pl.DataFrame, target: float) -> SampleAdvice:
    """The F1-maximising threshold and the lowest meeting ``target`` precision on ``labels``
    (probabilitas, cocok), with the labelled pairs above it and a 95% Wilson interval."""
    n = labels.height
    matches = int(labels["cocok"].sum()) if n else 0
    advice = SampleAdvice(n=n, matches=matches, target=target)
    if n == 0:
        advice.statement = "no labelled pairs: record decisions (dtsen link review decide) or give --labels"
        return advice
    scores = labels["probabilitas"].to_list()
    advice.lowest, advice.highest = min(scores), max(scores)
    # each distinct probability as a threshold: pairs at or above it are called matches
    ranked = (
        labels.group_by("probabilitas")
        .agg(n=pl.len(), k=pl.col("cocok").sum())
        .sort("probabilitas", descending=True)
        .with_columns(n_above=pl.col("n").cum_sum(), k_above=pl.col("k").cum_sum())
        .with_columns(
            precision=pl.col("k_above") / pl.col("n_above"),
            recall=pl.col("k_above") / max(matches, 1),
        )
        .with_columns(
            f1=pl.when(pl.col("k_above") > 0)
            .then(2 * pl.col("precision") * pl.col("recall") / (pl.col("precision") + pl.col("recall")))
            .otherwise(0.0)
        )
    )
    best = ranked.sort(["f1", "probabilitas"], descending=[True, True]).row(0, named=True)
    if matches:
        advice.best_f1_threshold, advice.best_f1 = round(best["probabilitas"], 6), round(best["f1"], 6)
    meeting = ranked.filter(pl.col("precision") >= target).sort("probabilitas")
    if meeting.height:
        row = meeting.row(0, named=True)
        advice.target_threshold = round(row["probabilitas"], 6)
        advice.target_n, k = int(row["n_above"]), int(row["k_above"])
        advice.target_precision = round(k / advice.target_n, 6)
        low, high = wilson(k, advice.target_n)
        advice.target_interval = (round(low, 4), round(high, 4))
        verdict = "meets" if low >= target else "does not establish"
        advice.statement = (
            f"{advice.target_n} of {n} labelled pairs score >= {advice.target_threshold}: precision "
            f"{advice.target_precision:.4f} (95% Wilson {low:.4f}-{high:.4f}); the lower bound {verdict} "
            f"the target {target}"
        )
    else:
        advice.statement = f"no threshold reaches precision {target} on the {n} labelled pairs"
    advice.notes.append(
        f"the sample covers probabilities {advice.lowest:.4f}-{advice.highest:.4f}: a threshold outside "
        "it is an extrapolation (decisions come from the review band)"
    )
    return advice
