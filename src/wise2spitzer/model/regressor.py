"""FluxRegressor: WISE features -> Spitzer flux (uJy), with calibrated prediction intervals.

The method of Fonseca-Bonilla et al. (2024), as one scikit-learn estimator:

1. target ``t = log10(y)`` (``form="paper"``) or ``t = log10(y / counterpart)``
   (``form="ratio"``: learn the correction to the WISE flux at the nearest wavelength, W4
   for MIPS1 and W3 for IRAC4);
2. features Yeo-Johnson transformed and standardised (``PowerTransformer``), learned in
   :meth:`FluxRegressor.fit` only, so that inside ``cross_validate`` it is learned per fold;
3. optional Boruta feature selection with LightGBM importances (:class:`BorutaSelector`);
4. ExtraTrees (or, as the baseline, a linear regression with the same transforms);
5. prediction intervals in log space, mapped back to uJy (:meth:`FluxRegressor.
   predict_interval`), by the registered interval methods of
   :mod:`wise2spitzer.model.intervals`: the paper's ``tree_sem``, a locally adaptive
   cross-conformal interval (the default) and a quantile regression forest (``qrf``).
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.ensemble import ExtraTreesRegressor
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import PowerTransformer
from sklearn.utils.validation import check_is_fitted, check_random_state, validate_data

from ..errors import ModelError
from ..selection import BorutaSelector, check_choice, check_number
from .columns import counterpart_log, input_names, resolve_counterpart, resolve_features
from .intervals import (
    CONFORMAL_SCORES,
    CONFORMAL_TAILS,
    DEFAULT_INTERVAL_METHOD,
    FitSeeds,
    conformal_quantiles,
    get_interval_method,
    interval_method_names,
)
from .trees import tree_moments

__all__ = ["ESTIMATORS", "FORMS", "PAPER_FORM", "FluxRegressor"]

FORMS: tuple[str, ...] = ("paper", "ratio")
#: The estimator's own default target form: Fonseca-Bonilla et al.'s ``log10(flux)``, so a
#: FluxRegressor built by hand reproduces the paper. The training workflow (predictor,
#: evaluation, report) passes its own default, :data:`wise2spitzer.training.DEFAULT_FORM`.
PAPER_FORM = "paper"
ESTIMATORS: tuple[str, ...] = ("extratrees", "linear")
# Rows per block in predict_interval: bounds the (rows x trees) memory of the tree pass.
_CHUNK_ROWS = 50_000


class FluxRegressor(RegressorMixin, BaseEstimator):
    """Predict a Spitzer flux density (uJy) from WISE features, with prediction intervals.

    Parameters
    ----------
    form : {"paper", "ratio"}, default "paper"
        ``"paper"`` learns ``log10(flux)`` as Fonseca-Bonilla et al. (2024); ``"ratio"``
        learns ``log10(flux / counterpart)``, the correction to the WISE counterpart flux.
    counterpart : str or int, default None
        Column of ``X`` holding the WISE counterpart flux (uJy, > 0), by name (``"wise4"``
        for MIPS1, ``"wise3"`` for IRAC4; ``X`` must then be a DataFrame) or by position.
        Required when ``form="ratio"``, ignored otherwise.
    estimator : {"extratrees", "linear"}, default "extratrees"
        Regression model; ``"linear"`` is the linear baseline with the same transforms.
    select_features : bool, default True
        Run Boruta (LightGBM importances) on the transformed training features.
    features : list of str or int, default None
        Columns of ``X`` (names or positions) the model may use; None = all. Lets
        :func:`wise2spitzer.tuning.tune` fix a selection made once, and keeps the
        counterpart column available for ``form="ratio"`` without using it as a feature.
    n_estimators, max_depth, min_samples_split, min_samples_leaf, max_features
        ExtraTrees hyper-parameters (also used by the ``qrf`` interval forest).
    interval_method : {"conformal", "tree_sem", "qrf", "all"} or str, default "conformal"
        Default interval of :meth:`predict_interval`; only what it needs is fitted
        (``"all"`` fits every method and makes ``"conformal"`` the default). Any method
        registered with :func:`~wise2spitzer.model.register_interval_method` is accepted.
    confidence : float in (0, 1), default 0.95
        Default confidence of :meth:`predict_interval`.
    conformal_cv : int >= 2, default 5
        Folds of the cross-conformal calibration.
    conformal_bins : int >= 1 or "auto", default "auto"
        Bins of predicted log flux (equal counts) with their own score quantile (Mondrian
        conformal), so coverage holds for faint and bright sources alike; "auto" uses one
        bin per 250 training rows, 1 to 5. Bins too small for a finite 95% quantile are
        merged with a neighbour.
    conformal_score : {"auto", "spread", "residual"}, default "auto"
        Difficulty estimate normalising the conformal scores: the trees' spread plus a floor
        (``"spread"``, the default for ExtraTrees) or a cross-fitted model of the residual
        size (``"residual"``, the default for the linear baseline).
    conformal_tails : {"separate", "symmetric"}, default "separate"
        ``"separate"`` calibrates the lower and the upper side of the conformal interval on
        their own signed scores, each at ``(1 + c) / 2``, so an interval can reach further
        on the side where the errors are larger (a source brighter than its WISE photometry
        suggests is more common than a fainter one); ``"symmetric"`` uses the absolute scores
        at ``c`` (``t_hat +/- q d(x)``).
    boruta_max_iter : int >= 2, default 100
        Boruta rounds.
    n_jobs : int or None, default None
        Parallel jobs of the forests.
    random_state : int, RandomState or None, default None
        Seeds the forests, Boruta and the calibration folds.

    Attributes
    ----------
    pipeline_ : sklearn.pipeline.Pipeline
        ``PowerTransformer`` -> selector (or passthrough) -> regressor, fitted on the target
        in log space.
    selected_features_ : ndarray of str
        Names of the features the regressor uses (``x0, x1...`` for an array input).
    support_ : ndarray of bool, shape (n_features_in_,)
        Which columns of ``X`` the regressor uses.
    feature_importances_ : ndarray of float
        Importance of each selected feature, summing to 1 (impurity importance for
        ExtraTrees, normalised ``|coef|`` of the standardised features for the linear model).
    counterpart_index_ : int or None
        Position of the counterpart column (``form="ratio"``).
    interval_methods_ : tuple of str
        Interval methods available after fitting; ``interval_method_`` is the default one.
    conformity_scores_ : list of ndarray
        Sorted out-of-fold signed normalised residuals ``(t - t_hat) / d(x)``, one array per
        predicted-flux bin (conformal only); each holds enough scores for a finite quantile
        at ``max(confidence, 0.95)`` (see ``conformal_tails``) unless the training set is
        smaller.
    conformal_bin_edges_ : ndarray
        Inner edges of the predicted log10 flux bins.
    sigma_floor_ : float
        Floor added to the tree spread in the conformal normaliser (dex), > 0.
    qrf_ : quantile_forest.ExtraTreesQuantileRegressor
        The quantile forest (``qrf`` only).
    n_features_in_, feature_names_in_
        As in scikit-learn.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = 10 ** rng.uniform(1, 4, size=(300, 4))
    >>> y = X[:, 3] * 10 ** (0.05 * rng.normal(size=300))
    >>> reg = FluxRegressor(form="ratio", counterpart=3, select_features=False,
    ...                     n_estimators=50, random_state=0).fit(X, y)
    >>> pred = reg.predict(X[:3])
    >>> bounds = reg.predict_interval(X[:3], confidence=0.9)
    >>> bool(np.all((bounds[:, 0] < pred) & (pred < bounds[:, 1])))
    True
    """

    def __init__(
        self,
        *,
        form: str = PAPER_FORM,
        counterpart: str | int | None = None,
        estimator: str = "extratrees",
        select_features: bool = True,
        features=None,
        n_estimators: int = 500,
        max_depth: int | None = None,
        min_samples_split: float = 2,
        min_samples_leaf: float = 1,
        max_features: float | str | None = 1.0,
        interval_method: str = "conformal",
        confidence: float = 0.95,
        conformal_cv: int = 5,
        conformal_bins: int | str = "auto",
        conformal_score: str = "auto",
        conformal_tails: str = "separate",
        boruta_max_iter: int = 100,
        n_jobs: int | None = None,
        random_state=None,
    ):
        self.form = form
        self.counterpart = counterpart
        self.estimator = estimator
        self.select_features = select_features
        self.features = features
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.min_samples_split = min_samples_split
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.interval_method = interval_method
        self.confidence = confidence
        self.conformal_cv = conformal_cv
        self.conformal_bins = conformal_bins
        self.conformal_score = conformal_score
        self.conformal_tails = conformal_tails
        self.boruta_max_iter = boruta_max_iter
        self.n_jobs = n_jobs
        self.random_state = random_state

    # ------------------------------------------------------------------ validation
    def _check_params(self) -> None:
        check_choice("form", self.form, FORMS)
        check_choice("estimator", self.estimator, ESTIMATORS)
        names = interval_method_names()
        check_choice("interval_method", self.interval_method, names + ("all",))
        if not isinstance(self.select_features, (bool, np.bool_)):
            raise ModelError(f"select_features must be True or False; got {self.select_features!r}")
        check_number("n_estimators", self.n_estimators, Integral, low=1)
        if self.max_depth is not None:
            check_number("max_depth", self.max_depth, Integral, low=1, allow="None")
        check_number("confidence", self.confidence, Real, low=0, high=1, open_=True)
        check_number("conformal_cv", self.conformal_cv, Integral, low=2)
        check_choice("conformal_score", self.conformal_score, CONFORMAL_SCORES)
        check_choice("conformal_tails", self.conformal_tails, CONFORMAL_TAILS)
        if self.conformal_bins != "auto":
            check_number("conformal_bins", self.conformal_bins, Integral, low=1, allow="'auto'")
        check_number("boruta_max_iter", self.boruta_max_iter, Integral, low=2)
        if (
            self.estimator == "linear"
            and self.interval_method != "all"
            and get_interval_method(self.interval_method).needs_forest
        ):
            usable = " or ".join(
                repr(m) for m in names if not get_interval_method(m).needs_forest
            )
            raise ModelError(
                f"interval_method={self.interval_method!r} needs a forest; with "
                f"estimator='linear' use interval_method={usable} (or 'all')"
            )

    # ------------------------------------------------------------------ building blocks
    def forest_params(self) -> dict:
        """The ExtraTrees hyper-parameters (and ``n_jobs``), for any forest built like it."""
        return {
            "n_estimators": self.n_estimators,
            "max_depth": self.max_depth,
            "min_samples_split": self.min_samples_split,
            "min_samples_leaf": self.min_samples_leaf,
            "max_features": self.max_features,
            "n_jobs": self.n_jobs,
        }

    def make_estimator(self, seed: int):
        """A new, unfitted regression model: ExtraTrees (seed ``seed``) or the linear one."""
        if self.estimator == "linear":
            return LinearRegression()
        return ExtraTreesRegressor(random_state=seed, **self.forest_params())

    @staticmethod
    def make_transformer() -> PowerTransformer:
        """The feature transform: Yeo-Johnson, then standardisation."""
        return PowerTransformer(method="yeo-johnson", standardize=True)

    def _make_pipeline(self, seed: int, selector) -> Pipeline:
        return Pipeline(
            [
                ("power", self.make_transformer()),
                ("select", selector if selector is not None else "passthrough"),
                ("model", self.make_estimator(seed)),
            ]
        )

    # ------------------------------------------------------------------ fit
    def fit(self, X, y) -> FluxRegressor:
        """Fit on features ``X`` and the Spitzer flux ``y`` (uJy, all > 0).

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Finite features (e.g. :func:`wise2spitzer.features.build_features`).
        y : array-like of shape (n_samples,)
            Spitzer flux density in uJy.

        Returns
        -------
        self

        Raises
        ------
        ModelError
            For an invalid parameter, a non-positive flux in ``y`` or counterpart, or a
            missing counterpart column.
        """
        self._check_params()
        # Two rows at least: one row can neither be transformed nor calibrated.
        X, y = validate_data(self, X, y, y_numeric=True, dtype=np.float64, ensure_min_samples=2)
        if not np.all(y > 0):
            raise ModelError(
                f"y must be a flux density in uJy > 0 in every row; {int(np.sum(~(y > 0)))} of "
                f"{len(y)} values are <= 0 (drop unlabelled rows before fitting)"
            )
        names = getattr(self, "feature_names_in_", None)
        self.counterpart_index_ = resolve_counterpart(
            self.counterpart, self.form, self.n_features_in_, names
        )
        offset = counterpart_log(X, self.counterpart_index_, self.counterpart, training=True)
        target = np.log10(y) - offset

        rng = check_random_state(self.random_state)
        seeds = FitSeeds(*(int(s) for s in rng.randint(np.iinfo(np.int32).max, size=4)))
        self._fit_pipeline(X, target, seeds)
        self._fit_intervals(X, target, offset, seeds)
        return self

    def _fit_pipeline(self, X, target, seeds: FitSeeds) -> None:
        """Transform, (Boruta) selection and regressor; ``support_`` and importances."""
        selector = (
            BorutaSelector(max_iter=self.boruta_max_iter, random_state=seeds.boruta)
            if self.select_features
            else None
        )
        self.input_mask_ = resolve_features(
            self.features, self.n_features_in_, getattr(self, "feature_names_in_", None)
        )
        names = input_names(self.n_features_in_, getattr(self, "feature_names_in_", None))
        # Boruta's warnings name the features, not their column numbers.
        named = {"select__feature_names": list(names[self.input_mask_])} if selector else {}
        self.pipeline_ = self._make_pipeline(seeds.model, selector).fit(
            X[:, self.input_mask_], target, **named
        )
        # support_ spans every column of X: the `features` subset, then Boruta's choice.
        support = self.input_mask_.copy()
        if self.select_features:
            support[self.input_mask_] = self.pipeline_.named_steps["select"].get_support()
        self.support_ = support
        self.selected_features_ = names[support]
        self.feature_importances_ = self._importances()

    def _fit_intervals(self, X, target, offset, seeds: FitSeeds) -> None:
        """Fit the interval method(s) asked for, in registry order."""
        names = interval_method_names()
        wanted = names if self.interval_method == "all" else (self.interval_method,)
        if self.estimator == "linear":
            wanted = tuple(m for m in wanted if not get_interval_method(m).needs_forest)
        for name in names:
            if name in wanted:
                get_interval_method(name).fit(self, X, target, offset, seeds)
        self.interval_methods_ = tuple(m for m in names if m in wanted)
        self.interval_method_ = (
            DEFAULT_INTERVAL_METHOD if self.interval_method == "all" else self.interval_method
        )

    def _importances(self) -> np.ndarray:
        model = self.pipeline_.named_steps["model"]
        if self.estimator == "linear":
            imp = np.abs(np.ravel(model.coef_))
        else:
            imp = np.asarray(model.feature_importances_, dtype=float)
        total = imp.sum()
        if not np.isfinite(total) or total <= 0:
            return np.full(len(imp), 1.0 / len(imp))
        return imp / total

    # ------------------------------------------------------------------ predict
    def model_inputs(self, X) -> tuple[np.ndarray, np.ndarray]:
        """What the final regressor sees for ``X``, for code that walks the trees itself.

        Returns
        -------
        Xt : ndarray of shape (n_samples, n_selected)
            The ``features`` subset of ``X``, Yeo-Johnson transformed, standardised and
            reduced to the selected features.
        offset : ndarray of shape (n_samples,)
            ``log10(counterpart)`` for ``form="ratio"`` (NaN where it is <= 0), zeros for
            ``form="paper"``; ``log10(flux) = pipeline_[-1].predict(Xt) + offset``.
        """
        check_is_fitted(self, "pipeline_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        Xt = self.pipeline_[:-1].transform(X[:, self.input_mask_])
        return Xt, counterpart_log(X, self.counterpart_index_, self.counterpart, training=False)

    def predict_log(self, X) -> np.ndarray:
        """Predicted log10 flux density (log10 uJy); NaN where the counterpart is <= 0."""
        Xt, offset = self.model_inputs(X)
        return self.pipeline_[-1].predict(Xt) + offset

    def predict(self, X) -> np.ndarray:
        """Predicted flux density in uJy (NaN where a ratio-form counterpart is <= 0)."""
        return np.power(10.0, self.predict_log(X))

    def predict_trees_log(self, X) -> np.ndarray:
        """Each tree's predicted log10 flux, shape (n_samples, n_estimators) (forest only)."""
        if self.estimator != "extratrees":
            raise ModelError("predict_trees_log needs estimator='extratrees'; got 'linear'")
        Xt, offset = self.model_inputs(X)
        trees = self.pipeline_[-1].estimators_
        return np.column_stack([t.predict(Xt) for t in trees]) + offset[:, None]

    def prediction_moments(self, Xt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and spread of the trees' predictions of the target for transformed rows.

        ``Xt`` as returned by :meth:`model_inputs`; the linear model gives its prediction
        and a spread of 1. What the interval methods' ``bounds_log`` receive.
        """
        model = self.pipeline_[-1]
        if self.estimator == "linear":
            return model.predict(Xt), np.ones(len(Xt))
        return tree_moments(model.estimators_, Xt)

    def conformal_quantiles(self, confidence: float) -> np.ndarray:
        """Score multipliers of each Mondrian bin at ``confidence`` (``conformal`` fitted).

        Returns
        -------
        ndarray of shape (n_bins, 2)
            ``(q_lo, q_hi)``: the interval is ``[t_hat - q_lo d(x), t_hat + q_hi d(x)]`` in
            log10 flux. With ``conformal_tails="separate"``, ``q_hi`` is the
            ``ceil((n + 1) (1 + c) / 2)``-th smallest of a bin's ``n`` signed scores and
            ``q_lo`` the same of the negated scores (each side misses at most ``(1 - c) / 2``
            of new rows, so the interval covers at least ``c``); a side whose quantile is
            negative (every error of the bin on the other side) is clipped to 0. With
            ``"symmetric"`` both are the ``ceil((n + 1) c)``-th smallest absolute score.
            A bin with too few scores is pooled with its neighbours until the pooled bin has
            enough, and the bins of a group share its quantiles.
        """
        return conformal_quantiles(self, confidence, stacklevel=3)

    def predict_interval(self, X, *, confidence: float | None = None, method: str | None = None):
        """Prediction interval of the flux density in uJy.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
        confidence : float in (0, 1), default ``self.confidence``
        method : str, default ``self.interval_method_``
            A registered interval method ("conformal", "tree_sem", "qrf" built in); must
            be among ``interval_methods_`` (fitted).

        Returns
        -------
        ndarray of shape (n_samples, 2)
            Lower and upper bound (uJy); ``lo < predict(X) < hi`` for every valid row.
        """
        check_is_fitted(self, "pipeline_")
        confidence = self.confidence if confidence is None else confidence
        check_number("confidence", confidence, Real, low=0, high=1, open_=True)
        method = self.interval_method_ if method is None else method
        check_choice("method", method, interval_method_names())
        if method not in self.interval_methods_:
            raise ModelError(
                f"interval method {method!r} was not fitted "
                f"(fitted: {list(self.interval_methods_)}); "
                f"refit with interval_method={method!r} or 'all'"
            )
        interval = get_interval_method(method)
        Xt, offset = self.model_inputs(X)
        out = np.empty((len(Xt), 2))
        for start in range(0, len(Xt), _CHUNK_ROWS):
            sl = slice(start, start + _CHUNK_ROWS)
            mu, sigma = self.prediction_moments(Xt[sl]) if interval.uses_moments else (None, None)
            # Called from here directly: the too-few-scores warning of the conformal
            # quantiles is placed at this method's caller.
            out[sl] = interval.bounds_log(self, Xt[sl], offset[sl], mu, sigma, confidence)
        return np.power(10.0, out)

    def __setstate__(self, state):
        # Models saved before conformal_tails existed hold absolute scores: symmetric.
        state = dict(state)
        state.setdefault("conformal_tails", "symmetric")
        super().__setstate__(state)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.positive_only = True
        tags.input_tags.allow_nan = False
        return tags


# Saved models (skops, pickle) name the class by this public path, before and after the
# model module became a package.
FluxRegressor.__module__ = "wise2spitzer.model"
