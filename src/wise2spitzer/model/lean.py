"""Cheaper forests within an R2 tolerance: every "lean forest" choice in one place.

Prediction time is proportional to the number of trees (times their depth), so a forest that
scores 0.001 lower than one many times its size is the better product. One rule,
:func:`cheapest_within`, picks the cheapest configuration whose score is within a tolerance
of a reference score; it serves

* :func:`wise2spitzer.tuning.tune` (fast preset): :func:`lean_choice` compares the forest
  sizes of the best structures of a halving search by cross-validation, the CV score of
  every size read off one large forest per fold (:func:`lean_tree_counts`); the reference is
  the best score and the cost ``trees x mean depth``;
* :func:`lean_forest` (re-exported by :mod:`wise2spitzer.batch`): refits a trained
  :class:`~wise2spitzer.predictor.SpitzerPredictor` with leaner forests; the reference is
  the given predictor's test R2 and the cost the measured time per row.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import r2_score

from ..errors import ModelError
from .trees import prefix_means

__all__ = [
    "LEAN_CANDIDATES",
    "TREE_GRID",
    "LeanForestResult",
    "cheapest_within",
    "lean_choice",
    "lean_forest",
    "lean_tree_counts",
]

#: Forest sizes whose CV score :func:`lean_tree_counts` reads off one large forest per fold.
TREE_GRID: tuple[int, ...] = (10, 20, 30, 40, 60, 80, 100, 150, 200, 300, 400, 500)

#: Leaner forests tried by :func:`lean_forest`: (n_estimators, min_samples_leaf, max_depth).
LEAN_CANDIDATES: tuple[tuple[int, int, int | None], ...] = (
    (200, 1, None),
    (100, 1, None),
    (100, 3, None),
    (60, 3, None),
    (50, 5, None),
    (30, 5, None),
)


def cheapest_within(scores, costs, *, reference: float, tolerance: float
                    ) -> tuple[np.ndarray, int]:
    """The cheapest configuration whose score is at least ``reference - tolerance``.

    Parameters
    ----------
    scores, costs : array-like of shape (n,)
        Score (higher is better, e.g. R2) and cost (lower is better) of each configuration.
    reference : float
        The score to stay close to (the best one, or a reference model's).
    tolerance : float
        Largest accepted loss of score.

    Returns
    -------
    accepted : ndarray of bool, shape (n,)
        ``scores >= reference - tolerance``.
    chosen : int
        Position of the accepted configuration with the lowest cost; among equal costs the
        higher score, then the earlier position.

    Raises
    ------
    ModelError
        If no configuration is accepted.
    """
    scores = np.asarray(scores, dtype=float)
    costs = np.asarray(costs, dtype=float)
    accepted = scores >= reference - tolerance
    ok = np.flatnonzero(accepted)
    if len(ok) == 0:
        raise ModelError(
            f"no configuration scores within tolerance={tolerance!r} of {reference!r}; "
            f"best score {np.nanmax(scores) if len(scores) else float('nan')!r}"
        )
    # lexsort is stable and sorts by the last key first: cost, then -score, then position.
    order = np.lexsort((-scores[ok], costs[ok]))
    return accepted, int(ok[order[0]])


def lean_tree_counts(estimator, X, y, *, cv, tree_grid=TREE_GRID) -> pd.DataFrame:
    """CV score (log R2) of ``estimator`` for every forest size in ``tree_grid``.

    One forest of ``max(tree_grid)`` trees is fitted per fold; the prediction of a forest of
    ``k`` trees is the mean of the first ``k`` trees (trees of a forest are independent,
    so this is exactly a ``k``-tree forest with the same seed).

    Returns
    -------
    pandas.DataFrame
        Columns ``n_estimators``, ``cv_r2``, ``cv_r2_std``, ``mean_depth`` and ``cost``
        (``n_estimators * mean_depth``, proportional to prediction time).
    """
    grid = sorted(int(k) for k in tree_grid)
    max_trees = grid[-1]
    scores = np.empty((0, len(grid)))
    depths = []
    y_arr = np.asarray(y, dtype=float)
    for train_idx, test_idx in cv.split(X):
        Xtr = X.iloc[train_idx] if isinstance(X, pd.DataFrame) else X[train_idx]
        Xte = X.iloc[test_idx] if isinstance(X, pd.DataFrame) else X[test_idx]
        model = clone(estimator).set_params(n_estimators=max_trees, interval_method="tree_sem")
        model.fit(Xtr, y_arr[train_idx])
        prefix = prefix_means(model.predict_trees_log(Xte))
        truth = np.log10(y_arr[test_idx])
        scores = np.vstack([scores, [r2_score(truth, prefix[:, k - 1]) for k in grid]])
        depths.extend(t.get_depth() for t in model.pipeline_[-1].estimators_)
    mean_depth = float(np.mean(depths))
    return pd.DataFrame(
        {
            "n_estimators": grid,
            "cv_r2": scores.mean(axis=0),
            "cv_r2_std": scores.std(axis=0),
            "mean_depth": mean_depth,
            "cost": np.asarray(grid) * mean_depth,
        }
    )


def lean_choice(search, searched, X, y, *, cv, tolerance: float, n_best: int, tree_grid
                ) -> tuple[dict, pd.DataFrame]:
    """Cheapest (structure, forest size) within ``tolerance`` of the best CV score.

    ``search`` is a fitted successive-halving search over the structure (every parameter
    but ``n_estimators``) of ``searched``; its ``n_best`` best structures of the last round
    are scored at every size of ``tree_grid`` with :func:`lean_tree_counts`.

    Returns
    -------
    chosen : dict
        The structure's parameters plus ``n_estimators``.
    table : pandas.DataFrame
        One row per (structure, size): ``structure_rank``, the :func:`lean_tree_counts`
        columns, ``params`` and ``chosen``.
    """
    results = pd.DataFrame(search.cv_results_)
    last = results[results["iter"] == results["iter"].max()]
    top = last.sort_values("mean_test_score", ascending=False).head(n_best)
    tables = []
    for rank, params in enumerate(top["params"], start=1):
        params = {k: v for k, v in params.items() if k != "n_estimators"}
        table = lean_tree_counts(
            clone(searched).set_params(**params), X, y, cv=cv, tree_grid=tree_grid
        )
        table.insert(0, "structure_rank", rank)
        table["params"] = [params] * len(table)
        tables.append(table)
    table = pd.concat(tables, ignore_index=True)
    _, pos = cheapest_within(
        table["cv_r2"], table["cost"], reference=table["cv_r2"].max(), tolerance=tolerance
    )
    pick = table.index[pos]
    table["chosen"] = table.index == pick
    chosen = dict(table.loc[pick, "params"])
    chosen["n_estimators"] = int(table.loc[pick, "n_estimators"])
    return chosen, table


@dataclass
class LeanForestResult:
    """Outcome of :func:`lean_forest`.

    Attributes
    ----------
    predictor : SpitzerPredictor
        The chosen predictor (the reference itself when no leaner forest is accurate enough).
    table : DataFrame
        One row per forest tried (the reference first): ``n_estimators``,
        ``min_samples_leaf``, ``max_depth``, ``r2`` (test split), ``delta_r2`` (vs the
        reference), ``interval_coverage``, ``rows_per_s`` (fast path on ``df``, per second
        of CPU time of one thread),
        ``speedup`` (vs the reference), ``accepted`` and ``chosen``.
    """

    predictor: Any
    table: pd.DataFrame


def lean_forest(
    predictor: Any,
    df: pd.DataFrame,
    *,
    candidates: tuple[tuple[int, int, int | None], ...] = LEAN_CANDIDATES,
    max_r2_loss: float = 0.002,
    test_size: float = 0.2,
    random_state: int | None = 0,
    n_jobs: int = 1,
) -> LeanForestResult:
    """Pick the fastest forest whose test R2 is within ``max_r2_loss`` of ``predictor``'s.

    Each candidate is a full :meth:`SpitzerPredictor.fit` on the same catalogue, target,
    sample and feature set with the reference's other hyper-parameters (no new search), so
    its domain and its interval calibration (conformal scores of the lean forest itself) are
    redone; the reference is refitted the same way so that every R2 comes from the same
    train/test split. Speed is measured with :class:`~wise2spitzer.batch.FastPredictor` on
    the rows of ``df``.

    Parameters
    ----------
    predictor : SpitzerPredictor
        The reference (e.g. the paper's 500 fully grown trees).
    df : DataFrame
        The training catalogue the reference was fitted on.
    candidates : sequence of (n_estimators, min_samples_leaf, max_depth)
        Forests to try.
    max_r2_loss : float, default 0.002
        Largest accepted drop of the test R2 (log10 flux).
    test_size, random_state, n_jobs
        Passed to :meth:`SpitzerPredictor.fit`.

    Returns
    -------
    LeanForestResult

    Raises
    ------
    ModelError
        If ``predictor`` is not a fitted forest predictor or ``max_r2_loss`` is negative.
    """
    from ..batch import FastPredictor

    if not FastPredictor.supports(predictor):
        raise ModelError(
            "lean_forest needs a fitted SpitzerPredictor with an extratrees regressor; got "
            f"{predictor!r}"
        )
    if not (np.isfinite(max_r2_loss) and max_r2_loss >= 0):
        raise ModelError(f"max_r2_loss must be a number >= 0; got {max_r2_loss!r}")
    if not test_size:
        raise ModelError(f"test_size must be in (0, 1) to score the forests; got {test_size!r}")
    ref_params = predictor.regressor.get_params(deep=False)
    configs = [
        (ref_params["n_estimators"], ref_params["min_samples_leaf"], ref_params["max_depth"])
    ] + [tuple(c) for c in candidates]
    rows, fitted = [], []
    for n_est, leaf, depth in configs:
        p = _refit(predictor, df, ref_params, test_size=test_size, random_state=random_state,
                   n_jobs=n_jobs, n_estimators=n_est, min_samples_leaf=leaf, max_depth=depth)
        cov = (p.card.get("interval_coverage") or {}).get("coverage")
        rows.append(
            {
                "n_estimators": n_est,
                "min_samples_leaf": leaf,
                "max_depth": depth,
                "r2": p.card["test_metrics"]["r2"],
                "interval_coverage": cov,
                "rows_per_s": _rows_per_cpu_second(FastPredictor(p, n_jobs=n_jobs), df),
            }
        )
        fitted.append(p)
    table = pd.DataFrame(rows)
    table["delta_r2"] = table["r2"] - table["r2"].iloc[0]
    table["speedup"] = table["rows_per_s"] / table["rows_per_s"].iloc[0]
    accepted, best = cheapest_within(
        table["r2"], -table["rows_per_s"], reference=table["r2"].iloc[0],
        tolerance=max_r2_loss,
    )
    table["accepted"] = accepted
    table["chosen"] = table.index == best
    return LeanForestResult(predictor=fitted[best], table=table)


def _refit(predictor, df, ref_params: dict, *, test_size, random_state, n_jobs, **forest):
    """``predictor`` refitted on ``df`` with its own settings and the ``forest`` knobs."""
    fixed = {
        k: v
        for k, v in ref_params.items()
        if k not in ("counterpart", "random_state", "n_jobs", "form", "interval_method")
    }
    return type(predictor)().fit(
        df,
        target=predictor.target.key,
        sample=predictor.sample,
        feature_set=predictor.feature_set,
        form=ref_params.get("form"),
        interval_method=ref_params.get("interval_method", "conformal"),
        preset="none",
        random_state=random_state,
        n_jobs=n_jobs,
        test_size=test_size,
        **{**fixed, **forest},
    )


def _rows_per_cpu_second(fast, df: pd.DataFrame) -> float:
    """Rows of ``df`` the fast path predicts per second of this process's CPU time."""
    fast.predict_columns(df.iloc[:100])  # warm-up: imports and allocations
    best = np.inf
    # CPU time of this process, best of three: wall time on a shared machine measures
    # the other processes as much as the forest.
    for _ in range(3):
        t0 = time.process_time()
        fast.predict_columns(df)
        best = min(best, time.process_time() - t0)
    return len(df) / max(best, 1e-9)
