"""The WISE -> Spitzer regressor and what it is built from.

:class:`FluxRegressor` (:mod:`.regressor`) is the method of Fonseca-Bonilla et al. (2024) as
one scikit-learn estimator. Its pieces live beside it:

* :mod:`.intervals` -- the prediction-interval methods (``conformal``, ``tree_sem``,
  ``qrf``) behind one interface, and their registry;
* :mod:`.trees` -- the mean and spread of a forest's trees (:func:`tree_moments`);
* :mod:`.columns` -- which columns of ``X`` are features and which is the counterpart;
* :mod:`.lean` -- the choice of the cheapest forest within an R2 tolerance (used by
  :func:`wise2spitzer.tuning.tune` and :func:`wise2spitzer.batch.lean_forest`).

Every name below is importable from ``wise2spitzer.model``, and saved models refer to the
class as ``wise2spitzer.model.FluxRegressor``.
"""

from __future__ import annotations

from .intervals import (
    CONFORMAL_TAILS,
    DEFAULT_INTERVAL_METHOD,
    INTERVAL_METHODS,
    MIN_HALF_WIDTH_DEX,
    FitSeeds,
    IntervalMethod,
    conformal_bounds,
    get_interval_method,
    interval_method_names,
    register_interval_method,
    tree_sem_bounds,
    unregister_interval_method,
)
from .regressor import ESTIMATORS, FORMS, PAPER_FORM, FluxRegressor
from .trees import tree_moments

__all__ = [
    "CONFORMAL_TAILS",
    "DEFAULT_INTERVAL_METHOD",
    "ESTIMATORS",
    "FORMS",
    "INTERVAL_METHODS",
    "MIN_HALF_WIDTH_DEX",
    "PAPER_FORM",
    "FitSeeds",
    "FluxRegressor",
    "IntervalMethod",
    "conformal_bounds",
    "get_interval_method",
    "interval_method_names",
    "register_interval_method",
    "tree_moments",
    "tree_sem_bounds",
    "unregister_interval_method",
]
