"""Prediction-interval methods of :class:`~wise2spitzer.model.FluxRegressor`.

One module per method, each an :class:`IntervalMethod` (``fit`` + ``bounds_log``), and one
registry. ``conformal`` (the default) is a locally adaptive cross-conformal interval,
``tree_sem`` the paper's standard error of the forest's mean, ``qrf`` a quantile forest.
Adding a method is one new module and one entry in the ``_BUILT_IN`` tuple below (or a call to
:func:`register_interval_method` from user code); see ``docs/extending.md``.
"""

from __future__ import annotations

from .base import (
    MIN_HALF_WIDTH_DEX,
    FitSeeds,
    IntervalMethod,
    get_interval_method,
    interval_method_names,
    register_interval_method,
    unregister_interval_method,
)
from .conformal import (
    CONFORMAL_SCORES,
    CONFORMAL_TAILS,
    ConformalInterval,
    conformal_bounds,
    conformal_quantiles,
    conformal_scale,
    score_quantiles,
    subset_scores,
)
from .qrf import QrfInterval
from .tree_sem import TreeSemInterval, tree_sem_bounds

__all__ = [
    "CONFORMAL_SCORES",
    "CONFORMAL_TAILS",
    "DEFAULT_INTERVAL_METHOD",
    "INTERVAL_METHODS",
    "MIN_HALF_WIDTH_DEX",
    "ConformalInterval",
    "FitSeeds",
    "IntervalMethod",
    "QrfInterval",
    "TreeSemInterval",
    "conformal_bounds",
    "conformal_quantiles",
    "conformal_scale",
    "get_interval_method",
    "interval_method_names",
    "register_interval_method",
    "score_quantiles",
    "subset_scores",
    "tree_sem_bounds",
    "unregister_interval_method",
]

# The registry's order is the order of INTERVAL_METHODS, of the fitted
# ``interval_methods_`` and of the fits ``interval_method="all"`` runs (each method draws
# from its own seed, so the order changes no number).
_BUILT_IN = (ConformalInterval, TreeSemInterval, QrfInterval)
for _method in _BUILT_IN:
    register_interval_method(_method)
del _method

#: The built-in interval methods, in registry order. Methods registered later are listed
#: by :func:`interval_method_names`.
INTERVAL_METHODS: tuple[str, ...] = interval_method_names()
#: The interval ``interval_method="all"`` makes the default of ``predict_interval``.
DEFAULT_INTERVAL_METHOD = "conformal"
