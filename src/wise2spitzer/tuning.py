"""Hyper-parameter search for :class:`~wise2spitzer.model.FluxRegressor`.

Two presets:

``"paper"``
    Fonseca-Bonilla et al. (2024): a randomized search of 1000 ExtraTrees configurations,
    each scored by 10-fold cross-validation; the best mean CV score wins.
``"fast"``
    The same search space explored by successive halving over the number of trees
    (``HalvingRandomSearchCV`` with ``resource="n_estimators"``: many structures scored
    with a few trees, the best few with many), followed by a *lean* choice of the forest
    size: for the best structures of the last halving round, one forest per CV fold gives
    the CV score of every forest size at once (the mean of the first ``k`` trees is a
    forest of ``k`` trees), and the cheapest (trees x mean depth, i.e. prediction cost)
    configuration whose CV score is within ``tolerance`` of the best is kept. Prediction
    time is proportional to the number of trees, so a forest of 60 trees that scores
    0.001 lower than one of 500 is the better product.

Scoring is R2 on log10 flux (:func:`log_r2_score`), the paper's metric.

Boruta is too slow to run inside every fit of a search, so when ``base.select_features``
is true the features are selected once, on the rows given to :func:`tune` (the training
split), and the search and the returned model use that fixed subset (``features=...``,
``select_features=False``). Feature selection is therefore outside the search's CV loop
(its choice is slightly optimistic for the CV scores, not for a separate test split).
"""

from __future__ import annotations

import time
import warnings
from numbers import Integral, Real

import numpy as np
import pandas as pd
from scipy.stats import randint, uniform
from sklearn.base import clone
from sklearn.experimental import enable_halving_search_cv  # noqa: F401  (enables the class)
from sklearn.metrics import r2_score
from sklearn.model_selection import HalvingRandomSearchCV, KFold, RandomizedSearchCV
from sklearn.utils.validation import check_random_state

from .errors import ModelError
from .model import FluxRegressor
from .selection import check_choice, check_number

__all__ = [
    "PARAM_DISTRIBUTIONS",
    "PRESETS",
    "lean_tree_counts",
    "log_r2_score",
    "tune",
]

PRESETS: tuple[str, ...] = ("fast", "paper")

#: The search space of both presets (Fonseca-Bonilla et al. 2024 searched the same knobs).
PARAM_DISTRIBUTIONS: dict = {
    "n_estimators": randint(10, 501),
    "max_depth": [None, 5, 10, 15, 20, 25, 30, 35, 40],
    "min_samples_split": randint(2, 21),
    "min_samples_leaf": randint(1, 11),
    "max_features": uniform(0.3, 0.7),  # fraction of the features, 0.3 to 1.0
}

# Defaults per preset: (n_iter, folds).
_PRESET_DEFAULTS = {"paper": (1000, 10), "fast": (60, 5)}
# Forest sizes whose CV score the lean step reads off one large forest per fold.
_TREE_GRID = (10, 20, 30, 40, 60, 80, 100, 150, 200, 300, 400, 500)


def log_r2_score(estimator, X, y) -> float:
    """Scorer: R2 between log10 of the true flux and the model's log10 prediction.

    ``estimator`` must have ``predict_log`` (as :class:`FluxRegressor` has); the flux
    ``y`` is in uJy.
    """
    return float(r2_score(np.log10(np.asarray(y, dtype=float)), estimator.predict_log(X)))


def _select_once(base: FluxRegressor, X, y):
    """Boruta on the given rows, with the base model's target form; returns the features."""
    probe = clone(base).set_params(
        select_features=True, n_estimators=10, interval_method="tree_sem", n_jobs=1
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        probe.fit(X, y)
    support = np.flatnonzero(probe.support_)
    if isinstance(X, pd.DataFrame):
        return [str(c) for c in np.asarray(X.columns)[support]]
    return [int(i) for i in support]


def lean_tree_counts(
    estimator: FluxRegressor,
    X,
    y,
    *,
    cv,
    tree_grid=_TREE_GRID,
) -> pd.DataFrame:
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
    X_arr = X
    y_arr = np.asarray(y, dtype=float)
    for train_idx, test_idx in cv.split(X_arr):
        Xtr = X_arr.iloc[train_idx] if isinstance(X_arr, pd.DataFrame) else X_arr[train_idx]
        Xte = X_arr.iloc[test_idx] if isinstance(X_arr, pd.DataFrame) else X_arr[test_idx]
        model = clone(estimator).set_params(n_estimators=max_trees, interval_method="tree_sem")
        model.fit(Xtr, y_arr[train_idx])
        trees = model.predict_trees_log(Xte)
        prefix = np.cumsum(trees, axis=1) / np.arange(1, trees.shape[1] + 1)
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


def tune(
    X,
    y,
    *,
    base: FluxRegressor | None = None,
    preset: str = "fast",
    cv=None,
    n_iter: int | None = None,
    tolerance: float = 0.002,
    n_candidates_lean: int = 3,
    min_estimators: int = 50,
    random_state=None,
    n_jobs: int | None = 1,
):
    """Search ExtraTrees hyper-parameters of a :class:`FluxRegressor`.

    Parameters
    ----------
    X : DataFrame or array-like of shape (n_samples, n_features)
        Training features (the training split only: the search uses CV inside it).
    y : array-like of shape (n_samples,)
        Spitzer flux density in uJy (> 0).
    base : FluxRegressor, default None
        Model whose other parameters (form, counterpart, interval method...) are kept;
        None means ``FluxRegressor()``. Must use ``estimator="extratrees"``.
    preset : {"fast", "paper"}, default "fast"
        See the module docstring.
    cv : int or CV splitter, default None
        Folds of the search; None = 10 (paper) or 5 (fast) shuffled K-fold.
    n_iter : int, default None
        Configurations sampled; None = 1000 (paper) or 60 (fast).
    tolerance : float, default 0.002
        Fast preset: largest CV log-R2 loss accepted for a cheaper forest.
    n_candidates_lean : int, default 3
        Fast preset: structures of the last halving round whose forest sizes are compared.
    min_estimators : int, default 50
        Fast preset: smallest forest the lean step may choose. The CV score of ExtraTrees
        is nearly flat from a few tens of trees, but the tree spread that scales the
        default conformal interval (and the paper's interval) needs enough trees to be a
        stable estimate.
    random_state : int, RandomState or None, default None
        Seeds the folds, the sampled configurations and the forests.
    n_jobs : int or None, default 1
        Parallel fits of the search (the forests themselves then run on one core each).

    Returns
    -------
    best_estimator : FluxRegressor
        ``base`` with the chosen hyper-parameters, refitted on all of ``X``.
    search : RandomizedSearchCV or HalvingRandomSearchCV
        The fitted search (``cv_results_``...). The fast preset also sets
        ``search.lean_table_`` (DataFrame: structure rank, forest size, CV score, cost;
        the chosen row has ``chosen=True``) and every search gets
        ``search.selected_features_``, ``search.chosen_params_`` and ``search.wall_time_``.

    Raises
    ------
    ModelError
        For an unknown preset, invalid ``n_iter``/``tolerance`` or a linear ``base``.
    """
    check_choice("preset", preset, PRESETS)
    base = FluxRegressor() if base is None else base
    if not isinstance(base, FluxRegressor):
        raise ModelError(f"base must be a FluxRegressor; got {type(base).__name__}")
    if base.estimator != "extratrees":
        raise ModelError(
            f"tune searches ExtraTrees hyper-parameters; base has estimator={base.estimator!r}"
        )
    default_iter, default_folds = _PRESET_DEFAULTS[preset]
    n_iter = default_iter if n_iter is None else n_iter
    check_number("n_iter", n_iter, Integral, low=1)
    check_number("tolerance", tolerance, Real, low=0)
    check_number("n_candidates_lean", n_candidates_lean, Integral, low=1)
    check_number("min_estimators", min_estimators, Integral, low=1, high=_TREE_GRID[-1])
    rng = check_random_state(random_state)
    seed_cv, seed_search, seed_model = (int(s) for s in rng.randint(2**31 - 1, size=3))
    if cv is None:
        cv = KFold(n_splits=default_folds, shuffle=True, random_state=seed_cv)
    elif isinstance(cv, Integral):
        cv = KFold(n_splits=int(cv), shuffle=True, random_state=seed_cv)
    y = np.asarray(y, dtype=float)

    start = time.perf_counter()
    features = base.features
    if base.select_features:
        features = _select_once(base, X, y)
    # Inside the search nothing but the point prediction is needed: no calibration fits,
    # one core per forest so the search can parallelise over fits.
    searched = clone(base).set_params(
        select_features=False,
        features=features,
        interval_method="tree_sem",
        n_jobs=1,
        random_state=seed_model,
    )
    if preset == "paper":
        search = RandomizedSearchCV(
            searched,
            PARAM_DISTRIBUTIONS,
            n_iter=n_iter,
            scoring=log_r2_score,
            cv=cv,
            refit=False,
            random_state=seed_search,
            n_jobs=n_jobs,
            error_score="raise",
        )
        search.fit(X, y)
        chosen = dict(search.best_params_)
    else:
        structure = {k: v for k, v in PARAM_DISTRIBUTIONS.items() if k != "n_estimators"}
        search = HalvingRandomSearchCV(
            searched,
            structure,
            n_candidates=n_iter,
            resource="n_estimators",
            min_resources=10,
            max_resources=270,
            factor=3,
            scoring=log_r2_score,
            cv=cv,
            refit=False,
            random_state=seed_search,
            n_jobs=n_jobs,
            error_score="raise",
        )
        search.fit(X, y)
        chosen, search.lean_table_ = _lean_choice(
            search,
            searched,
            X,
            y,
            cv=cv,
            tolerance=tolerance,
            n_best=n_candidates_lean,
            tree_grid=[k for k in _TREE_GRID if k >= min_estimators],
        )
    # The chosen forest size was scored with the search's seed: keep it unless the caller
    # fixed one.
    seed = base.random_state if base.random_state is not None else seed_model
    best = clone(base).set_params(
        select_features=False, features=features, random_state=seed, **chosen
    )
    best.fit(X, y)
    search.selected_features_ = features
    search.chosen_params_ = chosen
    search.wall_time_ = time.perf_counter() - start
    return best, search


def _lean_choice(search, searched, X, y, *, cv, tolerance: float, n_best: int, tree_grid):
    """Cheapest (structure, forest size) within ``tolerance`` of the best CV score."""
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
    best_score = table["cv_r2"].max()
    ok = table[table["cv_r2"] >= best_score - tolerance]
    pick = ok.sort_values(["cost", "cv_r2"], ascending=[True, False]).index[0]
    table["chosen"] = table.index == pick
    chosen = dict(table.loc[pick, "params"])
    chosen["n_estimators"] = int(table.loc[pick, "n_estimators"])
    return chosen, table
