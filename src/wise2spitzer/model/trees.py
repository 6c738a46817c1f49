"""What a forest's trees say together: the mean and spread of their predictions.

One implementation shared by the regressor (its point prediction's spread, the ``tree_sem``
and conformal intervals), the batch fast path and the lean-forest search.
"""

from __future__ import annotations

import numpy as np

from ..errors import ModelError

__all__ = ["prefix_means", "tree_moments"]


def tree_moments(
    trees, X: np.ndarray, *, n_jobs: int = 1, check_input: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation over ``trees`` of their predictions, in one pass.

    Streaming over trees keeps memory at O(rows) instead of O(rows x trees). Sums are taken
    around the first tree's prediction so that a spread small next to the mean keeps its
    digits (the plain ``E[p^2] - E[p]^2`` varies by 1e-8 with the order of the sums). With
    ``n_jobs > 1`` each thread sums its own block of trees (scikit-learn's tree traversal
    releases the GIL). ``check_input=False`` skips the per-tree validation; ``X`` must then
    be float32 and C-contiguous, as the trees read it.
    """
    if len(trees) == 0:
        raise ModelError("the forest has no trees")
    shift = trees[0].predict(X, check_input=check_input)

    def block(sub) -> tuple[np.ndarray, np.ndarray]:
        total = np.zeros(len(X))
        total_sq = np.zeros(len(X))
        for tree in sub:
            d = tree.predict(X, check_input=check_input) - shift
            total += d
            total_sq += d * d
        return total, total_sq

    rest = list(trees[1:])
    if n_jobs <= 1 or len(rest) < 2:
        total, total_sq = block(rest)
    else:
        from concurrent.futures import ThreadPoolExecutor

        groups = [g for g in np.array_split(np.arange(len(rest)), n_jobs) if len(g)]
        with ThreadPoolExecutor(max_workers=len(groups)) as pool:
            parts = list(pool.map(lambda g: block([rest[i] for i in g]), groups))
        total = np.sum([t for t, _ in parts], axis=0)
        total_sq = np.sum([t for _, t in parts], axis=0)
    n = len(trees)
    mean_d = total / n  # the first tree's own deviation is 0
    var = np.maximum(total_sq / n - mean_d * mean_d, 0.0)
    return shift + mean_d, np.sqrt(var)


def prefix_means(per_tree: np.ndarray) -> np.ndarray:
    """Column ``k - 1`` = mean of the first ``k`` trees' predictions (rows x trees in, same out).

    The trees of a forest are independent, so the mean of its first ``k`` trees is exactly
    the prediction of a ``k``-tree forest grown with the same seed: one large forest gives
    the score of every smaller one.
    """
    return np.cumsum(per_tree, axis=1) / np.arange(1, per_tree.shape[1] + 1)
