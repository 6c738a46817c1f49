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
   predict_interval`): the paper's ``tree_sem``, a locally adaptive cross-conformal interval
   (the default) and a quantile regression forest (``qrf``).

The conformal interval
----------------------
Score ``s = (t - t_hat) / d(x)`` (signed), with the difficulty ``d(x)``

* ``conformal_score="spread"`` (default for ExtraTrees): the standard deviation of the trees'
  predictions in log space plus a floor, so the interval is wide where the trees disagree
  (faint sources, sparse regions) and narrow where they agree. The floor is a multiple of
  the median out-of-fold residual, picked on the out-of-fold rows as the one giving the
  narrowest intervals: the spread can be zero for most rows (a single selected feature
  with tied values puts a row in its twin's leaf in every tree), and a floor tied to the
  spread alone then makes the scores, and the intervals of every other row, explode;
* ``conformal_score="residual"`` (default for the linear baseline): ``exp(g(x))`` with ``g`` a
  smooth forest fitted to ``log|t - t_hat|`` on the features, the predicted flux and the tree
  spread; cross-fitted, so no row's scale comes from a model that saw its residual.

Scores are computed out of fold (K-fold cross-conformal: each fold is predicted by a forest
that never saw it), then the model is refit on all rows and the interval is
``[t_hat(x) - q_lo d(x), t_hat(x) + q_hi d(x)]``. With ``conformal_tails="separate"`` (the
default) ``q_hi`` is the ``ceil((n + 1) (1 + c) / 2)``-th smallest of the ``n`` scores and
``q_lo`` the same of the negated scores, so each side misses at most ``(1 - c) / 2`` of new
rows: the errors are skewed (a source can be much brighter at 24 um than its WISE photometry
suggests, rarely much fainter), and a symmetric interval then over-covers faint sources and
under-covers brighter ones. ``"symmetric"`` uses ``q_lo = q_hi`` = the
``ceil((n + 1) c)``-th smallest ``|s|``. Scores are grouped in bins of predicted flux
(Mondrian conformal, ``conformal_bins``), each with its own ``q``, so coverage holds for
faint and bright sources alike, not only on average. A bin needs ``n >= l / (1 - l)`` scores
for a finite ``q`` at quantile level ``l`` (``c`` symmetric, ``(1 + c) / 2`` separate):
bins are merged with a neighbour at fit time until each has enough for 95% (or
``confidence``, if higher), and again at prediction time for a higher confidence; when all
scores together are too few, the largest is used, with a warning. Scores are kept, so any
confidence can be asked for at prediction time. Fold models are trained on (K-1)/K of the
rows; on the simulated catalogue their tree spread on new rows is within a few per cent of
the final model's, so the scores transfer without rescaling.

MAPIE 1.6 is not used for this step, although it was the first choice: its
``StdConformityScore`` needs a ``predict(X, return_std=True)`` estimator and MAPIE's cross
conformal regressor fixes the confidence level at construction; its
``ResidualNormalisedScore`` only works with split (not cross) conformal and spends part of the
already small calibration set (about 1,100 clean MIPS1 rows) on the residual model; neither
offers Mondrian bins; and a fitted MAPIE object would bring many more types into the skops
file the predictor bundle is saved in. The published normalised cross-conformal recipe (Lei
et al. 2018; Papadopoulos et al. 2011; Mondrian: Vovk et al. 2005) takes a few lines of NumPy.

``qrf`` (``quantile_forest.ExtraTreesQuantileRegressor`` with the same hyper-parameters,
except leaves of at least 5 rows, all kept for the quantiles) is kept for comparison; fully
grown trees would leave one row per leaf and, with tied feature values, collapse the
interval onto one training flux; its quantiles are not calibrated and may still
under-cover. ``tree_sem`` (the paper's mean of trees +/- z * std / sqrt(n_trees)) is the
uncertainty of the forest's mean, not of a new source's flux: it covers only a small fraction
of held-out fluxes and is reported for reproduction.
"""

from __future__ import annotations

import math
import warnings
from numbers import Integral, Real

import numpy as np
from scipy.stats import norm
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.ensemble import ExtraTreesRegressor
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import KFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import PowerTransformer
from sklearn.utils.validation import check_is_fitted, check_random_state, validate_data

from .errors import ModelError
from .selection import BorutaSelector, check_choice, check_number

__all__ = [
    "CONFORMAL_TAILS",
    "ESTIMATORS",
    "FORMS",
    "INTERVAL_METHODS",
    "FluxRegressor",
    "conformal_bounds",
    "tree_moments",
]

FORMS: tuple[str, ...] = ("paper", "ratio")
ESTIMATORS: tuple[str, ...] = ("extratrees", "linear")
#: Interval methods ``predict_interval`` knows; ``interval_method="all"`` fits every one.
INTERVAL_METHODS: tuple[str, ...] = ("conformal", "tree_sem", "qrf")
#: How the conformal interval's two sides are calibrated (``conformal_tails``).
CONFORMAL_TAILS: tuple[str, ...] = ("separate", "symmetric")

# The normaliser sigma(x) + floor: the floor is chosen among these fractions of the median
# out-of-fold absolute residual (and the former default, 5% of the median tree spread) as
# the one giving the narrowest calibrated intervals. The tree spread can be zero for many
# rows (one selected feature with tied values: every tree puts the row in the leaf of its
# twin), so a floor tied to the spread alone can be ~0 and make the scores, hence the
# interval of every row with a real spread, explode.
_SIGMA_FLOOR_FRACTION = 0.05
_SIGMA_FLOOR_GRID = (0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
# Mondrian bins are merged at fit time until each holds enough scores for this confidence
# (or the model's own, if higher), so the usual confidences need no merging when predicting.
_BIN_CONFIDENCE = 0.95
# Narrowest half-width in dex, so that lo < prediction < hi holds even for a perfect fit.
_MIN_HALF_WIDTH_DEX = 1e-9
# Fewest training rows in a leaf of the quantile forest.
_QRF_MIN_LEAF = 5
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
    interval_method : {"conformal", "tree_sem", "qrf", "all"}, default "conformal"
        Default interval of :meth:`predict_interval`; only what it needs is fitted
        (``"all"`` fits every method and makes ``"conformal"`` the default).
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
        form: str = "paper",
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
        check_choice("interval_method", self.interval_method, INTERVAL_METHODS + ("all",))
        if not isinstance(self.select_features, (bool, np.bool_)):
            raise ModelError(f"select_features must be True or False; got {self.select_features!r}")
        check_number("n_estimators", self.n_estimators, Integral, low=1)
        if self.max_depth is not None:
            check_number("max_depth", self.max_depth, Integral, low=1, allow="None")
        check_number("confidence", self.confidence, Real, low=0, high=1, open_=True)
        check_number("conformal_cv", self.conformal_cv, Integral, low=2)
        check_choice("conformal_score", self.conformal_score, ("auto", "spread", "residual"))
        check_choice("conformal_tails", self.conformal_tails, CONFORMAL_TAILS)
        if self.conformal_bins != "auto":
            check_number("conformal_bins", self.conformal_bins, Integral, low=1, allow="'auto'")
        check_number("boruta_max_iter", self.boruta_max_iter, Integral, low=2)
        if self.estimator == "linear" and self.interval_method in ("tree_sem", "qrf"):
            raise ModelError(
                f"interval_method={self.interval_method!r} needs a forest; with "
                "estimator='linear' use interval_method='conformal' (or 'all')"
            )

    def _resolve_counterpart(self) -> int | None:
        if self.form != "ratio":
            return None
        cp = self.counterpart
        names = getattr(self, "feature_names_in_", None)
        if cp is None:
            raise ModelError(
                "form='ratio' needs counterpart: the column of X with the WISE counterpart "
                "flux, by name ('wise4' for MIPS1, 'wise3' for IRAC4) or by position; got None"
            )
        if isinstance(cp, (Integral, np.integer)) and not isinstance(cp, bool):
            if not 0 <= int(cp) < self.n_features_in_:
                raise ModelError(
                    f"counterpart index must be in [0, {self.n_features_in_ - 1}] for X with "
                    f"{self.n_features_in_} columns; got {cp}"
                )
            return int(cp)
        if isinstance(cp, str):
            if names is None:
                raise ModelError(
                    f"counterpart={cp!r} is a column name but X has no column names; pass a "
                    "DataFrame or give the counterpart's position as an int"
                )
            matches = np.flatnonzero(np.asarray(names) == cp)
            if len(matches) == 0:
                raise ModelError(f"counterpart column {cp!r} is not in X; columns: {list(names)}")
            return int(matches[0])
        raise ModelError(f"counterpart must be a column name, an int position or None; got {cp!r}")

    def _input_names(self) -> np.ndarray:
        names = getattr(self, "feature_names_in_", None)
        if names is None:
            names = [f"x{i}" for i in range(self.n_features_in_)]
        return np.asarray(names, dtype=object)

    def _resolve_features(self) -> np.ndarray:
        """Boolean mask over the columns of X from the ``features`` parameter."""
        mask = np.zeros(self.n_features_in_, dtype=bool)
        if self.features is None:
            mask[:] = True
            return mask
        wanted = [self.features] if isinstance(self.features, (str, Integral)) else self.features
        names = getattr(self, "feature_names_in_", None)
        for f in wanted:
            if isinstance(f, str):
                if names is None or f not in names:
                    where = "X has no column names" if names is None else f"columns: {list(names)}"
                    raise ModelError(f"features: column {f!r} is not in X ({where})")
                mask[int(np.flatnonzero(np.asarray(names) == f)[0])] = True
            elif isinstance(f, (Integral, np.integer)) and 0 <= int(f) < self.n_features_in_:
                mask[int(f)] = True
            else:
                raise ModelError(
                    f"features must list column names or positions in [0, "
                    f"{self.n_features_in_ - 1}]; got {f!r}"
                )
        if not mask.any():
            raise ModelError(f"features must name at least one column; got {self.features!r}")
        return mask

    def _counterpart_log(self, X: np.ndarray, *, training: bool) -> np.ndarray:
        """log10 of the counterpart column (zeros for the paper form)."""
        if self.counterpart_index_ is None:
            return np.zeros(len(X))
        cp = X[:, self.counterpart_index_]
        bad = ~(cp > 0)
        if training and bad.any():
            raise ModelError(
                f"form='ratio' needs the counterpart column {self.counterpart!r} > 0 in every "
                f"training row; {int(bad.sum())} of {len(cp)} rows are <= 0"
            )
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(bad, np.nan, np.log10(np.where(bad, 1.0, cp)))

    # ------------------------------------------------------------------ building blocks
    def _forest_params(self) -> dict:
        return {
            "n_estimators": self.n_estimators,
            "max_depth": self.max_depth,
            "min_samples_split": self.min_samples_split,
            "min_samples_leaf": self.min_samples_leaf,
            "max_features": self.max_features,
            "n_jobs": self.n_jobs,
        }

    def _make_regressor(self, seed: int):
        if self.estimator == "linear":
            return LinearRegression()
        return ExtraTreesRegressor(random_state=seed, **self._forest_params())

    def _make_pipeline(self, seed: int, selector) -> Pipeline:
        return Pipeline(
            [
                ("power", PowerTransformer(method="yeo-johnson", standardize=True)),
                ("select", selector if selector is not None else "passthrough"),
                ("model", self._make_regressor(seed)),
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
        self.counterpart_index_ = self._resolve_counterpart()
        offset = self._counterpart_log(X, training=True)
        target = np.log10(y) - offset

        rng = check_random_state(self.random_state)
        seed_model, seed_boruta, seed_cv, seed_qrf = (
            int(s) for s in rng.randint(np.iinfo(np.int32).max, size=4)
        )
        selector = (
            BorutaSelector(max_iter=self.boruta_max_iter, random_state=seed_boruta)
            if self.select_features
            else None
        )
        self.input_mask_ = self._resolve_features()
        self.pipeline_ = self._make_pipeline(seed_model, selector).fit(
            X[:, self.input_mask_], target
        )

        # support_ spans every column of X: the `features` subset, then Boruta's choice.
        support = self.input_mask_.copy()
        if self.select_features:
            support[self.input_mask_] = self.pipeline_.named_steps["select"].get_support()
        self.support_ = support
        self.selected_features_ = self._input_names()[support]
        self.feature_importances_ = self._importances()

        methods = INTERVAL_METHODS if self.interval_method == "all" else (self.interval_method,)
        if self.estimator == "linear":
            methods = tuple(m for m in methods if m == "conformal")
        if "conformal" in methods:
            self._fit_conformal(X, target, offset, seed_model, seed_cv)
        if "qrf" in methods:
            self._fit_qrf(X, target, seed_qrf)
        self.interval_methods_ = tuple(m for m in INTERVAL_METHODS if m in methods)
        self.interval_method_ = (
            "conformal" if self.interval_method == "all" else self.interval_method
        )
        return self

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

    def _n_conformal_bins(self, n: int) -> int:
        if self.conformal_bins == "auto":
            # About 250 rows per bin keep the 95% quantile rank >= 12 from the top.
            return int(np.clip(n // 250, 1, 5))
        return int(min(self.conformal_bins, max(n // 2, 1)))

    def _fit_conformal(self, X, target, offset, seed_model: int, seed_cv: int) -> None:
        """Out-of-fold normalised scores (cross-conformal calibration).

        Fold models reuse the features selected on all rows (Boruta per fold would multiply
        the cost by ``conformal_cv``) but learn their own Yeo-Johnson transform and forest,
        so no score comes from a row its model was trained on.
        """
        n = len(target)
        k = min(self.conformal_cv, n)
        if k < 2:
            raise ModelError(f"conformal calibration needs at least 2 rows; got {n}")
        support = self.support_
        oof_mu = np.empty(n)
        oof_sigma = np.empty(n)
        folds = KFold(n_splits=k, shuffle=True, random_state=seed_cv)
        for train_idx, test_idx in folds.split(X):
            fold = Pipeline(
                [
                    ("power", PowerTransformer(method="yeo-johnson", standardize=True)),
                    ("model", self._make_regressor(seed_model)),
                ]
            )
            with warnings.catch_warnings():
                # Tiny folds can hold a constant column; the transform copes with it.
                warnings.simplefilter("ignore", RuntimeWarning)
                fold.fit(X[train_idx][:, support], target[train_idx])
                Xt = fold[:-1].transform(X[test_idx][:, support])
            if self.estimator == "linear":
                oof_mu[test_idx] = fold[-1].predict(Xt)
                oof_sigma[test_idx] = 1.0
            else:
                oof_mu[test_idx], oof_sigma[test_idx] = tree_moments(fold[-1].estimators_, Xt)
        oof_flux = oof_mu + offset
        residual = np.abs(target - oof_mu)
        # Mondrian split by predicted log flux: a normaliser alone under-covers some
        # brightness ranges and over-covers others, so each predicted-brightness bin gets
        # its own quantile (coverage then holds within each bin, not only on average).
        # Bins too small for the usual confidences are merged with a neighbour: below
        # ceil((n + 1) c) scores the conformal quantile is infinite.
        inner = np.quantile(oof_flux, np.linspace(0, 1, self._n_conformal_bins(n) + 1)[1:-1])
        edges = np.unique(inner)
        counts = np.bincount(np.digitize(oof_flux, edges), minlength=len(edges) + 1)
        groups = _merge_small_bins(
            counts, self._tail_level(max(float(self.confidence), _BIN_CONFIDENCE))
        )
        keep = np.flatnonzero(np.diff(groups) != 0)  # edge i separates bins i and i + 1
        self.conformal_bin_edges_ = edges[keep]
        bins = np.digitize(oof_flux, self.conformal_bin_edges_)
        self.conformal_score_ = self._score_kind()
        if self.estimator == "linear":
            self.sigma_floor_ = 0.0
        else:
            self.sigma_floor_ = self._choose_sigma_floor(oof_sigma, residual, bins)
        if self.conformal_score_ == "residual":
            Xt = self.pipeline_[:-1].transform(X[:, self.input_mask_])
            Z = self._difficulty_inputs(Xt, oof_flux, oof_sigma)
            scale = self._fit_difficulty(Z, residual, seed_cv)
        else:
            scale = oof_sigma + self.sigma_floor_
        scores = (target - oof_mu) / scale  # signed; |scores| for symmetric intervals
        self.conformity_scores_ = [
            np.sort(scores[bins == b]) for b in range(len(self.conformal_bin_edges_) + 1)
        ]
        self.oof_log_prediction_ = oof_flux  # out-of-fold log10 flux, for diagnostics

    def _choose_sigma_floor(self, sigma, residual, bins) -> float:
        """Floor of the normaliser ``sigma + floor`` giving the narrowest mean interval.

        Candidates scale with the median out-of-fold residual, so the floor stays
        meaningful when most tree spreads are zero; the criterion (mean half-width of the
        out-of-fold rows at ``confidence``) picks a small floor when the spread tracks the
        error and a large one (towards a constant width) when it does not.
        """
        ref = float(np.median(residual))
        if not ref > 0:
            ref = float(np.mean(residual))
        if not ref > 0:
            ref = 1e-6  # a perfect fit: any positive floor will do
        candidates = [ref * f for f in _SIGMA_FLOOR_GRID]
        median_sigma = float(np.median(sigma))
        if median_sigma > 0:
            candidates.append(_SIGMA_FLOOR_FRACTION * median_sigma)
        candidates = np.unique(candidates)
        confidence = float(self.confidence)
        widths = []
        for floor in candidates:
            scale = sigma + floor
            scores = residual / scale
            q = np.empty(len(scores))
            for b in np.unique(bins):
                inb = bins == b
                s = np.sort(scores[inb])
                rank = min(math.ceil((len(s) + 1) * confidence), len(s))
                q[inb] = s[rank - 1]
            widths.append(float(np.mean(q * scale)))
        return float(candidates[int(np.argmin(widths))])

    def _score_kind(self) -> str:
        if self.conformal_score == "auto":
            return "spread" if self.estimator == "extratrees" else "residual"
        if self.conformal_score == "spread" and self.estimator == "linear":
            raise ModelError(
                "conformal_score='spread' needs a forest; with estimator='linear' use "
                "'residual' or 'auto'"
            )
        return self.conformal_score

    def _difficulty_inputs(self, Xt, flux_log, sigma) -> np.ndarray:
        """Inputs of the residual model: features, predicted log flux, log tree spread."""
        cols = [Xt, flux_log[:, None]]
        if self.estimator == "extratrees":
            cols.append(np.log10(sigma + self.sigma_floor_)[:, None])
        return np.hstack(cols)

    def _make_difficulty_model(self, seed: int):
        # A smooth, shallow-leaved forest: it must learn the typical size of the error
        # in a region, not the error of each row.
        return ExtraTreesRegressor(
            n_estimators=50,
            min_samples_leaf=20,
            max_features=1.0,
            random_state=seed,
            n_jobs=self.n_jobs,
        )

    def _fit_difficulty(self, Z, residual, seed: int) -> np.ndarray:
        """Cross-fit a model of log|residual|; return out-of-fold scales exp(g(x)).

        The scale of each calibration row comes from a residual model that never saw the
        row, so the scores stay exchangeable with those of new rows.
        """
        target = np.log(np.maximum(residual, 1e-6))
        out = np.empty(len(Z))
        k = min(self.conformal_cv, len(Z))
        for train_idx, test_idx in KFold(k, shuffle=True, random_state=seed + 1).split(Z):
            g = self._make_difficulty_model(seed).fit(Z[train_idx], target[train_idx])
            out[test_idx] = g.predict(Z[test_idx])
        self.difficulty_model_ = self._make_difficulty_model(seed).fit(Z, target)
        return np.exp(out)

    def _fit_qrf(self, X, target, seed: int) -> None:
        from quantile_forest import ExtraTreesQuantileRegressor

        Xt = self.pipeline_[:-1].transform(X[:, self.input_mask_])
        params = self._forest_params()
        # A quantile needs a distribution in each leaf: fully grown trees leave one row per
        # leaf, and with tied feature values (a single selected colour) every tree then puts
        # a row in its twin's leaf, so the "interval" collapses onto one training flux.
        # Leaves of at least _QRF_MIN_LEAF rows, all of them kept (max_samples_leaf=None;
        # the library default keeps one), give the forest a spread to take quantiles of.
        if isinstance(params["min_samples_leaf"], Integral):
            params["min_samples_leaf"] = max(int(params["min_samples_leaf"]), _QRF_MIN_LEAF)
        self.qrf_ = ExtraTreesQuantileRegressor(random_state=seed, max_samples_leaf=None, **params)
        self.qrf_.fit(Xt, target)

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
        return Xt, self._counterpart_log(X, training=False)

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

    def _tail_level(self, confidence: float) -> float:
        """Quantile level each side is calibrated at: ``(1 + c) / 2`` for separate tails."""
        tails = getattr(self, "conformal_tails", "symmetric")
        return (1.0 + confidence) / 2.0 if tails == "separate" else confidence

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
        level = self._tail_level(confidence)
        separate = level != confidence
        groups = _merge_small_bins([len(s) for s in self.conformity_scores_], level)
        out = np.empty((len(self.conformity_scores_), 2))
        for g in np.unique(groups):
            members = np.flatnonzero(groups == g)
            signed = np.concatenate([self.conformity_scores_[b] for b in members])
            n = len(signed)
            rank = math.ceil((n + 1) * level)
            if rank > n:
                # Too few scores even pooled: the exact interval is infinite; the largest
                # score keeps it finite but without the coverage guarantee.
                warnings.warn(
                    f"confidence={confidence} needs at least "
                    f"{math.ceil(level / (1 - level))} calibration scores; the model has {n}, "
                    "so the largest score is used and coverage is not guaranteed (fit on "
                    "more rows or ask a lower confidence)",
                    UserWarning,
                    stacklevel=4,
                )
                rank = n
            if separate:
                ranked = np.sort(signed)
                # The rank-th smallest of -s is minus the rank-th largest of s.
                out[members] = (max(-ranked[n - rank], 0.0), max(ranked[rank - 1], 0.0))
            else:
                out[members] = np.sort(np.abs(signed))[rank - 1]
        return out

    def predict_interval(self, X, *, confidence: float | None = None, method: str | None = None):
        """Prediction interval of the flux density in uJy.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
        confidence : float in (0, 1), default ``self.confidence``
        method : {"conformal", "tree_sem", "qrf"}, default ``self.interval_method_``
            Must be among ``interval_methods_`` (fitted).

        Returns
        -------
        ndarray of shape (n_samples, 2)
            Lower and upper bound (uJy); ``lo < predict(X) < hi`` for every valid row.
        """
        check_is_fitted(self, "pipeline_")
        confidence = self.confidence if confidence is None else confidence
        check_number("confidence", confidence, Real, low=0, high=1, open_=True)
        method = self.interval_method_ if method is None else method
        check_choice("method", method, INTERVAL_METHODS)
        if method not in self.interval_methods_:
            raise ModelError(
                f"interval method {method!r} was not fitted (fitted: {list(self.interval_methods_)}); "
                f"refit with interval_method={method!r} or 'all'"
            )
        Xt, offset = self.model_inputs(X)
        out = np.empty((len(Xt), 2))
        for start in range(0, len(Xt), _CHUNK_ROWS):
            sl = slice(start, start + _CHUNK_ROWS)
            out[sl] = self._interval_log(Xt[sl], offset[sl], confidence, method)
        return np.power(10.0, out)

    def _interval_log(
        self, Xt: np.ndarray, offset: np.ndarray, confidence: float, method: str
    ) -> np.ndarray:
        """Interval bounds in log10 flux for one block of transformed rows."""
        model = self.pipeline_[-1]
        if method == "qrf":
            alpha = 1.0 - confidence
            mu = model.predict(Xt)
            q = np.asarray(self.qrf_.predict(Xt, quantiles=[alpha / 2, 1 - alpha / 2]))
            q = q.reshape(len(Xt), 2)
            lo = np.minimum(q[:, 0], mu - _MIN_HALF_WIDTH_DEX)
            hi = np.maximum(q[:, 1], mu + _MIN_HALF_WIDTH_DEX)
            return np.column_stack([lo, hi]) + offset[:, None]
        if self.estimator == "linear":
            mu, sigma = model.predict(Xt), np.ones(len(Xt))
        else:
            mu, sigma = tree_moments(model.estimators_, Xt)
        if method == "tree_sem":
            z = norm.ppf(0.5 + confidence / 2)
            half = z * sigma / np.sqrt(len(model.estimators_))
            half = np.maximum(half, _MIN_HALF_WIDTH_DEX)
            return np.column_stack([mu - half, mu + half]) + offset[:, None]
        bins = np.digitize(mu + offset, self.conformal_bin_edges_)
        q = self.conformal_quantiles(confidence)[bins]
        if self.conformal_score_ == "residual":
            Z = self._difficulty_inputs(Xt, mu + offset, sigma)
            scale = np.exp(self.difficulty_model_.predict(Z))
        else:
            scale = sigma + self.sigma_floor_
        return conformal_bounds(mu + offset, q, scale)

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


def conformal_bounds(log_pred: np.ndarray, q: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Conformal interval in log10 flux from per-row multipliers ``q`` (rows x 2) and scales.

    Shared by :meth:`FluxRegressor.predict_interval` and the batch fast path so both apply
    one rule: ``[t - max(q_lo d, m), t + max(q_hi d, m)]`` with ``m`` the narrowest half-width.
    """
    lo = np.maximum(q[:, 0] * scale, _MIN_HALF_WIDTH_DEX)
    hi = np.maximum(q[:, 1] * scale, _MIN_HALF_WIDTH_DEX)
    return np.column_stack([log_pred - lo, log_pred + hi])


def _merge_small_bins(counts, confidence: float) -> np.ndarray:
    """Group adjacent bins until each group holds enough scores for ``confidence``.

    A group of ``n`` scores is enough when ``ceil((n + 1) c) <= n`` (a finite conformal
    quantile). The smallest short group is merged with its smaller neighbour, repeatedly.

    Returns
    -------
    ndarray of int, shape (len(counts),)
        Group label of each bin, non-decreasing from 0.
    """

    def short(n: int) -> bool:
        return n == 0 or math.ceil((n + 1) * confidence) > n

    groups = [[i] for i in range(len(counts))]
    sizes = [int(c) for c in counts]
    while len(groups) > 1:
        bad = [i for i, n in enumerate(sizes) if short(n)]
        if not bad:
            break
        i = min(bad, key=lambda j: sizes[j])
        if i == 0:
            j = 1
        elif i == len(groups) - 1:
            j = i - 1
        else:
            j = i - 1 if sizes[i - 1] <= sizes[i + 1] else i + 1
        a, b = min(i, j), max(i, j)
        groups[a : b + 1] = [groups[a] + groups[b]]
        sizes[a : b + 1] = [sizes[a] + sizes[b]]
    labels = np.empty(len(counts), dtype=int)
    for g, members in enumerate(groups):
        labels[members] = g
    return labels
