"""The interface every prediction-interval method implements, and the registry of methods.

A method learns what it needs while :meth:`~wise2spitzer.model.FluxRegressor.fit` runs
(:meth:`IntervalMethod.fit`, storing fitted attributes on the regressor so that they are
saved with it) and turns transformed rows into bounds in log10 flux
(:meth:`IntervalMethod.bounds_log`). The regressor and the batch fast path both call
``bounds_log``, so each bound rule is written once. See ``docs/extending.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ...errors import ModelError

__all__ = [
    "MIN_HALF_WIDTH_DEX",
    "FitSeeds",
    "IntervalMethod",
    "get_interval_method",
    "interval_method_names",
    "register_interval_method",
    "unregister_interval_method",
]

#: Narrowest half-width in dex, so that lo < prediction < hi holds even for a perfect fit.
MIN_HALF_WIDTH_DEX = 1e-9


@dataclass(frozen=True)
class FitSeeds:
    """The integer seeds :meth:`FluxRegressor.fit` draws, in this order, from ``random_state``.

    ``model`` seeds the forest (and the conformal fold forests), ``boruta`` the feature
    selection, ``cv`` the calibration folds and ``qrf`` the quantile forest. An interval
    method needing randomness uses one of them: drawing more numbers from the regressor's
    random state would change every other step's numbers.
    """

    model: int
    boruta: int
    cv: int
    qrf: int


class IntervalMethod:
    """One way of turning a fitted :class:`~wise2spitzer.model.FluxRegressor` into intervals.

    Subclasses set :attr:`name` and implement :meth:`bounds_log`; :meth:`fit` is optional.

    Attributes
    ----------
    name : str
        What ``interval_method=`` / ``predict_interval(method=)`` call it.
    needs_forest : bool, default False
        True if the method only works with ``estimator="extratrees"`` (the linear baseline
        then refuses it and ``interval_method="all"`` skips it).
    uses_moments : bool, default True
        True if :meth:`bounds_log` reads the forest's mean and spread (``mu``, ``sigma``);
        otherwise the caller passes None and saves a pass over the trees.
    """

    name: ClassVar[str] = ""
    needs_forest: ClassVar[bool] = False
    uses_moments: ClassVar[bool] = True

    def fit(self, reg, X: np.ndarray, target: np.ndarray, offset: np.ndarray,
            seeds: FitSeeds) -> None:
        """Learn what the bounds need; store it on ``reg`` as fitted (``..._``) attributes.

        Parameters
        ----------
        reg : FluxRegressor
            The regressor being fitted (``pipeline_``, ``support_``, ``input_mask_`` set).
        X : ndarray of shape (n_samples, n_features_in_)
            Every input column, validated (float64).
        target : ndarray of shape (n_samples,)
            What the regressor learns: ``log10(y) - offset``.
        offset : ndarray of shape (n_samples,)
            ``log10(counterpart)`` for ``form="ratio"``, zeros for ``form="paper"``.
        seeds : FitSeeds
        """

    def bounds_log(self, reg, Xt: np.ndarray, offset: np.ndarray, mu: np.ndarray | None,
                   sigma: np.ndarray | None, confidence: float) -> np.ndarray:
        """Interval bounds in log10 flux, shape (n, 2), for transformed rows ``Xt``.

        ``mu`` and ``sigma`` are the mean and spread of the trees' predictions of the
        learned target (the linear model: its prediction and ones), None when
        :attr:`uses_moments` is false; the predicted log10 flux is ``mu + offset``.
        """
        raise NotImplementedError(f"interval method {self.name!r} has no bounds_log")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


_REGISTRY: dict[str, IntervalMethod] = {}


def register_interval_method(method, *, replace: bool = False):
    """Make ``method`` available as ``interval_method=method.name``.

    Parameters
    ----------
    method : IntervalMethod instance or subclass
        A subclass is instantiated (so this works as a class decorator and returns the class).
    replace : bool, default False
        Allow replacing a method registered under the same name.

    Returns
    -------
    The ``method`` argument, unchanged.

    Raises
    ------
    ModelError
        If ``method`` is not an :class:`IntervalMethod`, has no usable name, or the name is
        taken (and ``replace`` is false).
    """
    instance = method() if isinstance(method, type) else method
    if not isinstance(instance, IntervalMethod):
        raise ModelError(
            f"method must be an IntervalMethod subclass or instance; got {method!r}"
        )
    name = instance.name
    if not isinstance(name, str) or not name or name == "all":
        raise ModelError(f"an interval method needs a name other than '' and 'all'; got {name!r}")
    if name in _REGISTRY and not replace:
        raise ModelError(
            f"interval method {name!r} is already registered "
            f"({list(_REGISTRY)}); pass replace=True to replace it"
        )
    _REGISTRY[name] = instance
    return method


def unregister_interval_method(name: str) -> IntervalMethod:
    """Remove a registered method and return it (e.g. after a test or an experiment)."""
    return _REGISTRY.pop(get_interval_method(name).name)


def get_interval_method(name: str) -> IntervalMethod:
    """The registered method called ``name`` (``ModelError`` naming the registered ones)."""
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ModelError(f"method must be one of {list(_REGISTRY)}; got {name!r}")
    return _REGISTRY[name]


def interval_method_names() -> tuple[str, ...]:
    """Names of the registered interval methods, in registration order."""
    return tuple(_REGISTRY)
