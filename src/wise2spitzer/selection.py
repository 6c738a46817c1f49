"""Boruta feature selection with a LightGBM importance model, as a scikit-learn selector.

Fonseca-Bonilla et al. (2024) keep the features that Boruta (Kursa & Rudnicki 2010) confirms
with LightGBM importances. Boruta compares every feature with shuffled copies of itself
("shadow" features) over repeated fits and keeps the ones that beat the best shadow more
often than chance allows (binomial test, corrected for multiple testing).

The work is done by the ``boruta`` package's ``BorutaPy`` (0.4.3 runs with NumPy 2 and
scikit-learn 1.9); :class:`BorutaSelector` adds scikit-learn's selector interface
(``get_support``, ``transform``, ``get_feature_names_out``, cloning, parameter validation)
and never selects nothing: when Boruta rejects every feature it keeps the top-ranked one
and warns.
"""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import numpy as np
from boruta import BorutaPy
from sklearn.base import BaseEstimator, clone
from sklearn.feature_selection import SelectorMixin
from sklearn.utils.validation import check_is_fitted, check_random_state, validate_data

from .errors import ModelError

__all__ = [
    "BorutaSelector",
    "NoFeatureSelectedWarning",
    "check_choice",
    "check_number",
    "default_boruta_estimator",
]


def check_choice(name: str, value, allowed) -> None:
    """Raise :class:`ModelError` unless ``value`` is one of ``allowed`` (names all three)."""
    if not isinstance(value, str) or value not in allowed:
        raise ModelError(f"{name} must be one of {list(allowed)}; got {value!r}")


def check_number(
    name: str,
    value,
    kind=Real,
    *,
    low=None,
    high=None,
    open_: bool = False,
    allow: str = "",
) -> None:
    """Raise :class:`ModelError` unless ``value`` is a ``kind`` number within the bounds.

    ``low``/``high`` are inclusive unless ``open_``; ``allow`` names accepted extras for
    the message (e.g. ``"None"``).
    """
    ok = isinstance(value, kind) and not isinstance(value, bool)
    if ok and low is not None:
        ok = value > low if open_ else value >= low
    if ok and high is not None:
        ok = value < high if open_ else value <= high
    if ok and isinstance(value, Real):
        ok = bool(np.isfinite(value))
    if not ok:
        kind_name = "an integer" if kind is Integral else "a number"
        lo_b, hi_b = ("(", ")") if open_ else ("[", "]")
        low_s = low if low is not None else "-inf"
        high_s = high if high is not None else "inf"
        rng = f" in {lo_b}{low_s}, {high_s}{hi_b}"
        extra = f" or {allow}" if allow else ""
        raise ModelError(f"{name} must be {kind_name}{rng}{extra}; got {value!r}")


class NoFeatureSelectedWarning(UserWarning):
    """Boruta confirmed no feature, so the top-ranked one was kept."""


def default_boruta_estimator(*, n_jobs: int = 1):
    """The paper's importance model: ``LGBMRegressor(max_depth=5, verbose=-1)``.

    ``max_depth`` must be set: BorutaPy's ``n_estimators="auto"`` reads it to size the
    forest (about 100 uses of each feature per fit).
    """
    from lightgbm import LGBMRegressor

    return LGBMRegressor(max_depth=5, n_estimators=100, verbose=-1, n_jobs=n_jobs)


class BorutaSelector(SelectorMixin, BaseEstimator):
    """Boruta all-relevant feature selection (BorutaPy) with LightGBM importances.

    Parameters
    ----------
    estimator : regressor with ``feature_importances_``, default None
        Importance model; None means :func:`default_boruta_estimator`. It is cloned.
    max_iter : int, default 100
        Maximum Boruta rounds (each fits ``estimator`` once on the features plus shadows).
    alpha : float in (0, 1], default 0.05
        Significance level of the binomial tests (two-step FDR + Bonferroni correction).
    perc : int in (0, 100], default 100
        Percentile of the shadow importances a feature must beat (100 = the best shadow,
        Boruta's original rule; lower is more permissive).
    n_estimators : int or "auto", default "auto"
        Trees per round; "auto" lets BorutaPy size it from ``max_depth`` and the number of
        features still undecided.
    keep_tentative : bool, default False
        Also keep features still undecided after ``max_iter`` rounds whose median
        importance beats the median best shadow (BorutaPy's "weak" support).
    random_state : int, RandomState or None, default None
        Seeds the shadow shuffles and the importance model.

    Attributes
    ----------
    support_ : ndarray of bool, shape (n_features_in_,)
        Selected features (never all False).
    support_weak_ : ndarray of bool
        Tentative features (kept only if ``keep_tentative``).
    ranking_ : ndarray of int
        1 = confirmed, 2 = tentative, higher = rejected, ordered by importance.
    importances_ : ndarray of float
        Median importance of each feature over the Boruta rounds (NaN after rejection).
    n_features_in_, feature_names_in_
        As in scikit-learn.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 4))
    >>> y = 2 * X[:, 0] + X[:, 1] + 0.1 * rng.normal(size=300)
    >>> BorutaSelector(max_iter=20, random_state=0).fit(X, y).get_support().tolist()
    [True, True, False, False]
    """

    def __init__(
        self,
        estimator=None,
        *,
        max_iter: int = 100,
        alpha: float = 0.05,
        perc: int = 100,
        n_estimators: int | str = "auto",
        keep_tentative: bool = False,
        random_state=None,
    ):
        self.estimator = estimator
        self.max_iter = max_iter
        self.alpha = alpha
        self.perc = perc
        self.n_estimators = n_estimators
        self.keep_tentative = keep_tentative
        self.random_state = random_state

    def fit(self, X, y, *, feature_names=None) -> BorutaSelector:
        """Run Boruta on ``X`` (n_samples, n_features) and target ``y``.

        ``feature_names`` (one per column) name the features in the warning given when
        Boruta confirms none, for an ``X`` without column names (a numpy array inside a
        pipeline: pass ``select__feature_names=...`` to the pipeline's ``fit``).

        Returns
        -------
        self
        """
        check_number("max_iter", self.max_iter, Integral, low=2)
        check_number("alpha", self.alpha, Real, low=0, high=1)
        if self.alpha == 0:
            raise ModelError(f"alpha must be in (0, 1]; got {self.alpha!r}")
        check_number("perc", self.perc, Integral, low=1, high=100)
        if self.n_estimators != "auto":
            check_number("n_estimators", self.n_estimators, Integral, low=1, allow="'auto'")
        if self.estimator is not None and not hasattr(self.estimator, "fit"):
            raise ModelError(
                f"estimator must be a regressor with fit and feature_importances_ or None; "
                f"got {self.estimator!r}"
            )
        X, y = validate_data(self, X, y, y_numeric=True, dtype=np.float64)
        base = default_boruta_estimator() if self.estimator is None else self.estimator
        # BorutaPy replaces its random_state by a RandomState and mutates the estimator's
        # parameters; an int seed and a clone keep this selector's parameters untouched.
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        boruta = BorutaPy(
            clone(base),
            n_estimators=self.n_estimators,
            perc=self.perc,
            alpha=self.alpha,
            max_iter=self.max_iter,
            random_state=seed,
            verbose=0,
        )
        with warnings.catch_warnings():
            # Median of an all-NaN column (a feature rejected in round 1) is expected.
            warnings.simplefilter("ignore", RuntimeWarning)
            boruta.fit(X, np.ravel(y))
            history = boruta.importance_history_[1:]
            self.importances_ = (
                np.nanmedian(history, axis=0) if len(history) else np.zeros(X.shape[1])
            )
        support = np.asarray(boruta.support_, dtype=bool).copy()
        self.support_weak_ = np.asarray(boruta.support_weak_, dtype=bool).copy()
        if self.keep_tentative:
            support |= self.support_weak_
        self.ranking_ = np.asarray(boruta.ranking_, dtype=int).copy()
        if not support.any():
            # An empty selection would break every model downstream; keep the feature
            # Boruta ranked best (ties broken by median importance).
            imp = np.nan_to_num(self.importances_, nan=-np.inf)
            best = int(np.lexsort((-imp, self.ranking_))[0])
            support[best] = True
            names = getattr(self, "feature_names_in_", None)
            if names is None and feature_names is not None:
                names = np.asarray(feature_names, dtype=object)
            name = str(names[best]) if names is not None else f"number {best}"
            warnings.warn(
                f"Boruta confirmed none of the {X.shape[1]} features; keeping the top-ranked "
                f"feature {name!r}. Consider more rows, a larger max_iter or a lower perc.",
                NoFeatureSelectedWarning,
                stacklevel=2,
            )
        self.support_ = support
        self.n_iter_ = len(history)
        return self

    def _get_support_mask(self) -> np.ndarray:
        check_is_fitted(self, "support_")
        return self.support_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags
