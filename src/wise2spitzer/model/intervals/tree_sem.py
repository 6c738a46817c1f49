"""``tree_sem``: the paper's interval, mean of the trees +/- z * std / sqrt(n_trees).

It is the uncertainty of the forest's mean, not of a new source's flux: it covers only a
small fraction of held-out fluxes and is kept to reproduce Fonseca-Bonilla et al. (2024).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

from .base import MIN_HALF_WIDTH_DEX, IntervalMethod

__all__ = ["TreeSemInterval", "tree_sem_bounds"]


def tree_sem_bounds(mu: np.ndarray, sigma: np.ndarray, offset: np.ndarray, n_trees: int,
                    confidence: float) -> np.ndarray:
    """``[mu - h, mu + h] + offset`` with ``h = max(z sigma / sqrt(n_trees), m)`` (log10 flux).

    ``z`` is the normal quantile of a central ``confidence`` interval and ``m`` the narrowest
    half-width; ``mu``, ``sigma`` are the trees' mean and spread of the learned target.
    """
    z = norm.ppf(0.5 + confidence / 2)
    half = z * sigma / np.sqrt(n_trees)
    half = np.maximum(half, MIN_HALF_WIDTH_DEX)
    return np.column_stack([mu - half, mu + half]) + offset[:, None]


class TreeSemInterval(IntervalMethod):
    """The standard error of the forest's mean; nothing to fit."""

    name = "tree_sem"
    needs_forest = True

    def bounds_log(self, reg, Xt, offset, mu, sigma, confidence):
        """See :func:`tree_sem_bounds` (``n_trees`` = the regressor's forest size)."""
        n_trees = len(reg.pipeline_[-1].estimators_)
        return tree_sem_bounds(mu, sigma, offset, n_trees, confidence)
