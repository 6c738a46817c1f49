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
from .model.lean import TREE_GRID, lean_choice, lean_tree_counts
from .selection import check_choice, check_number

__all__ = [
    "NO_TUNING",
    "PARAM_DISTRIBUTIONS",
    "PRESETS",
    "TUNING_PRESETS",
    "check_tuning_preset",
    "lean_tree_counts",
    "log_r2_score",
    "tune",
]

#: The searches :func:`tune` runs (see the module docstring).
PRESETS: tuple[str, ...] = ("fast", "paper")
#: The preset of a training workflow that runs no search and keeps the given parameters.
NO_TUNING = "none"
#: Every ``preset`` a training workflow accepts (:meth:`SpitzerPredictor.fit
#: <wise2spitzer.predictor.SpitzerPredictor.fit>`, :func:`wise2spitzer.evaluation.evaluate`,
#: :func:`wise2spitzer.training.tuned_params`): a search of :data:`PRESETS` or none.
TUNING_PRESETS: tuple[str, ...] = PRESETS + (NO_TUNING,)

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


def check_tuning_preset(preset) -> None:
    """Raise :class:`ModelError` unless ``preset`` is one of :data:`TUNING_PRESETS`."""
    check_choice("preset", preset, TUNING_PRESETS)


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
    base = _checked_base(base)
    default_iter, default_folds = _PRESET_DEFAULTS[preset]
    n_iter = default_iter if n_iter is None else n_iter
    check_number("n_iter", n_iter, Integral, low=1)
    check_number("tolerance", tolerance, Real, low=0)
    check_number("n_candidates_lean", n_candidates_lean, Integral, low=1)
    check_number("min_estimators", min_estimators, Integral, low=1, high=TREE_GRID[-1])
    cv, seed_search, seed_model = _folds_and_seeds(cv, default_folds, random_state)
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
    search_args = {"scoring": log_r2_score, "cv": cv, "refit": False,
                   "random_state": seed_search, "n_jobs": n_jobs, "error_score": "raise"}
    if preset == "paper":
        search = RandomizedSearchCV(searched, PARAM_DISTRIBUTIONS, n_iter=n_iter, **search_args)
        search.fit(X, y)
        chosen = dict(search.best_params_)
    else:
        search, chosen = _fast_search(
            searched, X, y, n_iter=n_iter, search_args=search_args, tolerance=tolerance,
            n_best=n_candidates_lean, min_estimators=min_estimators)
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


def _checked_base(base) -> FluxRegressor:
    """``base``, or ``FluxRegressor()`` for None; a forest regressor is required."""
    base = FluxRegressor() if base is None else base
    if not isinstance(base, FluxRegressor):
        raise ModelError(f"base must be a FluxRegressor; got {type(base).__name__}")
    if base.estimator != "extratrees":
        raise ModelError(
            f"tune searches ExtraTrees hyper-parameters; base has estimator={base.estimator!r}"
        )
    return base


def _folds_and_seeds(cv, default_folds: int, random_state):
    """The search's CV splitter and the seeds of the search and the model, from one RNG."""
    rng = check_random_state(random_state)
    seed_cv, seed_search, seed_model = (int(s) for s in rng.randint(2**31 - 1, size=3))
    if cv is None:
        cv = KFold(n_splits=default_folds, shuffle=True, random_state=seed_cv)
    elif isinstance(cv, Integral):
        cv = KFold(n_splits=int(cv), shuffle=True, random_state=seed_cv)
    return cv, seed_search, seed_model


def _fast_search(searched, X, y, *, n_iter: int, search_args: dict, tolerance: float,
                 n_best: int, min_estimators: int):
    """The fast preset: successive halving over the forest structure, then the lean choice.

    Returns the fitted search (with ``lean_table_``) and the chosen parameters.
    """
    structure = {k: v for k, v in PARAM_DISTRIBUTIONS.items() if k != "n_estimators"}
    search = HalvingRandomSearchCV(
        searched,
        structure,
        n_candidates=n_iter,
        resource="n_estimators",
        min_resources=10,
        max_resources=270,
        factor=3,
        **search_args,
    )
    search.fit(X, y)
    chosen, search.lean_table_ = lean_choice(
        search,
        searched,
        X,
        y,
        cv=search_args["cv"],
        tolerance=tolerance,
        n_best=n_best,
        tree_grid=[k for k in TREE_GRID if k >= min_estimators],
    )
    return search, chosen
