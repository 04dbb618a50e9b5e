"""Vectorized random draws shared by the synthetic population model (one draw per row)."""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri


def categorical(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One draw per row from a (rows x K) probability matrix."""
    cum = np.cumsum(probs, axis=1)
    cum /= cum[:, -1:]
    return (rng.random((probs.shape[0], 1)) > cum).sum(axis=1).clip(0, probs.shape[1] - 1)


def ordered(
    rng: np.random.Generator,
    signal: np.ndarray,
    loading: np.ndarray | float,
    shares: list[float],
    shift: np.ndarray | float = 0.0,
) -> np.ndarray:
    """Category index (worst..best) from a latent ``loading*signal + noise`` cut at the target shares.

    The latent is standardised so the marginal shares match ``shares`` when ``signal`` is ~N(0,1); the
    loading sets how well welfare predicts the item (as imperfectly as in real PMT data).
    """
    latent = (loading * signal + rng.standard_normal(signal.shape[0])) / np.sqrt(1.0 + loading**2) + shift
    cuts = ndtri(np.clip(np.cumsum(shares)[:-1] / np.sum(shares), 1e-9, 1 - 1e-9))
    return np.searchsorted(cuts, latent)


def binary(
    rng: np.random.Generator,
    signal: np.ndarray,
    loading: np.ndarray | float,
    share: float,
    shift: np.ndarray | float = 0.0,
) -> np.ndarray:
    """Yes/no item held by ``share`` of rows, more often where ``signal`` is high."""
    return ordered(rng, signal, loading, [1.0 - share, share], shift) == 1


def norm(weights: list[float]) -> np.ndarray:
    """Weights scaled to probabilities."""
    w = np.asarray(weights, dtype=float)
    return w / w.sum()
