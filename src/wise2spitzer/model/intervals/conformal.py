"""``conformal``: a locally adaptive, Mondrian, cross-conformal interval (the default).

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

The calibration is this module's own cross-conformal code (NumPy and scikit-learn); no
conformal library is used. MAPIE was considered and left out: its ``StdConformityScore``
needs a ``predict(X, return_std=True)`` estimator and its cross conformal regressor fixes
the confidence level at construction; its ``ResidualNormalisedScore`` only works with split
(not cross) conformal and spends part of the already small calibration set (about 1,100
clean MIPS1 rows) on the residual model; neither offers Mondrian bins; and a fitted MAPIE
object would bring many more types into the skops file the predictor bundle is saved in.
The published normalised cross-conformal recipe (Lei et al. 2018; Papadopoulos et al. 2011;
Mondrian: Vovk et al. 2005) takes a few lines of NumPy.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from sklearn.ensemble import ExtraTreesRegressor
from sklearn.model_selection import KFold
from sklearn.pipeline import Pipeline

from ...errors import ModelError
from ..trees import tree_moments
from .base import MIN_HALF_WIDTH_DEX, IntervalMethod

__all__ = [
    "CONFORMAL_SCORES",
    "CONFORMAL_TAILS",
    "ConformalInterval",
    "conformal_bounds",
    "conformal_quantiles",
    "conformal_scale",
    "merge_small_bins",
    "score_quantiles",
    "tail_level",
]

#: How the conformal interval's two sides are calibrated (``conformal_tails``).
CONFORMAL_TAILS: tuple[str, ...] = ("separate", "symmetric")
#: Difficulty estimates normalising the scores (``conformal_score``).
CONFORMAL_SCORES: tuple[str, ...] = ("auto", "spread", "residual")

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


def conformal_bounds(log_pred: np.ndarray, q: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Conformal interval in log10 flux from per-row multipliers ``q`` (rows x 2) and scales.

    The one bound rule of :meth:`FluxRegressor.predict_interval` and the batch fast path:
    ``[t - max(q_lo d, m), t + max(q_hi d, m)]`` with ``m`` the narrowest half-width.
    """
    lo = np.maximum(q[:, 0] * scale, MIN_HALF_WIDTH_DEX)
    hi = np.maximum(q[:, 1] * scale, MIN_HALF_WIDTH_DEX)
    return np.column_stack([log_pred - lo, log_pred + hi])


def tail_level(tails: str, confidence: float) -> float:
    """Quantile level each side is calibrated at: ``(1 + c) / 2`` for separate tails."""
    return (1.0 + confidence) / 2.0 if tails == "separate" else confidence


def _tails(reg) -> str:
    # Models saved before conformal_tails existed hold absolute scores: symmetric.
    return getattr(reg, "conformal_tails", "symmetric")


def conformal_quantiles(reg, confidence: float, *, stacklevel: int = 4) -> np.ndarray:
    """Score multipliers of each Mondrian bin of ``reg`` at ``confidence``.

    See :meth:`FluxRegressor.conformal_quantiles`; ``stacklevel`` places the warning about
    too few scores at the caller of the public method.
    """
    level = tail_level(_tails(reg), confidence)
    groups = merge_small_bins([len(s) for s in reg.conformity_scores_], level)
    out = np.empty((len(reg.conformity_scores_), 2))
    for g in np.unique(groups):
        members = np.flatnonzero(groups == g)
        signed = np.concatenate([reg.conformity_scores_[b] for b in members])
        out[members] = score_quantiles(signed, confidence, tails=_tails(reg),
                                       stacklevel=stacklevel + 1)
    return out


def score_quantiles(signed: np.ndarray, confidence: float, *, tails: str = "separate",
                    stacklevel: int = 3) -> tuple[float, float]:
    """``(q_lo, q_hi)`` of one group of signed conformity scores at ``confidence``.

    The one conformal quantile rule (Mondrian bins and the extrapolation zone use it): with
    ``tails="separate"`` ``q_hi`` is the ``ceil((n + 1) (1 + c) / 2)``-th smallest score and
    ``q_lo`` the same of the negated scores, each clipped at 0; with ``"symmetric"`` both are
    the ``ceil((n + 1) c)``-th smallest ``|s|``. Too few scores for a finite quantile: the
    largest is used, with a warning.
    """
    level = tail_level(tails, confidence)
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
            stacklevel=stacklevel,
        )
        rank = n
    if level != confidence:
        ranked = np.sort(signed)
        # The rank-th smallest of -s is minus the rank-th largest of s.
        return max(-ranked[n - rank], 0.0), max(ranked[rank - 1], 0.0)
    q = float(np.sort(np.abs(signed))[rank - 1])
    return q, q


def merge_small_bins(counts, confidence: float) -> np.ndarray:
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


class ConformalInterval(IntervalMethod):
    """Cross-conformal calibration of normalised scores, per bin of predicted flux.

    Fits ``conformal_bin_edges_``, ``conformal_score_``, ``sigma_floor_``,
    ``conformity_scores_``, ``oof_log_prediction_``, ``oof_fold_`` and ``oof_score_`` (each
    training row's fold and signed out-of-fold score, in training order: the extrapolation
    zone is calibrated on them) and, for the residual score, ``difficulty_model_`` on the
    regressor.
    """

    name = "conformal"

    def fit(self, reg, X, target, offset, seeds):
        """Out-of-fold normalised scores (cross-conformal calibration).

        Fold models reuse the features selected on all rows (Boruta per fold would multiply
        the cost by ``conformal_cv``) but learn their own Yeo-Johnson transform and forest,
        so no score comes from a row its model was trained on.
        """
        oof_mu, oof_sigma, folds = _out_of_fold_moments(reg, X, target, seeds)
        oof_flux = oof_mu + offset
        residual = np.abs(target - oof_mu)
        reg.conformal_bin_edges_ = _mondrian_edges(reg, oof_flux)
        bins = np.digitize(oof_flux, reg.conformal_bin_edges_)
        reg.conformal_score_ = _score_kind(reg)
        if reg.estimator == "linear":
            reg.sigma_floor_ = 0.0
        else:
            reg.sigma_floor_ = _choose_sigma_floor(
                oof_sigma, residual, bins, float(reg.confidence)
            )
        if reg.conformal_score_ == "residual":
            Xt = reg.pipeline_[:-1].transform(X[:, reg.input_mask_])
            Z = difficulty_inputs(reg, Xt, oof_flux, oof_sigma)
            scale = _fit_difficulty(reg, Z, residual, seeds.cv)
        else:
            scale = oof_sigma + reg.sigma_floor_
        scores = (target - oof_mu) / scale  # signed; |scores| for symmetric intervals
        reg.conformity_scores_ = [
            np.sort(scores[bins == b]) for b in range(len(reg.conformal_bin_edges_) + 1)
        ]
        reg.oof_log_prediction_ = oof_flux  # out-of-fold log10 flux, for diagnostics
        reg.oof_fold_ = folds
        reg.oof_score_ = scores

    def bounds_log(self, reg, Xt, offset, mu, sigma, confidence):
        """``[t_hat - q_lo d(x), t_hat + q_hi d(x)]`` with the bin's quantiles (log10 flux)."""
        bins = np.digitize(mu + offset, reg.conformal_bin_edges_)
        q = conformal_quantiles(reg, confidence)[bins]
        return conformal_bounds(mu + offset, q, conformal_scale(reg, Xt, mu + offset, sigma))


def subset_scores(reg, rows: np.ndarray) -> list[np.ndarray]:
    """Sorted conformity scores of the training rows selected by ``rows``, per Mondrian bin.

    The same out-of-fold scores and flux bins as ``reg.conformity_scores_``, restricted to
    the rows a caller will be asked about (a bundle's unclean model answers only the rows
    that are not clean). A bin may be empty; small bins merge at prediction time as usual.
    """
    rows = np.asarray(rows, dtype=bool)
    scores = np.asarray(reg.oof_score_, dtype=float)
    bins = np.digitize(np.asarray(reg.oof_log_prediction_, dtype=float),
                       reg.conformal_bin_edges_)
    return [np.sort(scores[rows & (bins == b)])
            for b in range(len(reg.conformal_bin_edges_) + 1)]


def conformal_scale(reg, Xt: np.ndarray, flux_log: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """The difficulty ``d(x)`` normalising the scores of new rows (one rule for every caller).

    ``sigma + sigma_floor_`` for the tree-spread score; the residual model's ``exp(g(x))``
    for the residual score.
    """
    if reg.conformal_score_ == "residual":
        Z = difficulty_inputs(reg, Xt, flux_log, sigma)
        return np.exp(reg.difficulty_model_.predict(Z))
    return sigma + reg.sigma_floor_


def _out_of_fold_moments(reg, X, target, seeds) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's prediction, tree spread and fold, by a fold model that never saw it."""
    n = len(target)
    k = min(reg.conformal_cv, n)
    if k < 2:
        raise ModelError(f"conformal calibration needs at least 2 rows; got {n}")
    support = reg.support_
    oof_mu = np.empty(n)
    oof_sigma = np.empty(n)
    fold_of = np.empty(n, dtype=np.int64)
    folds = KFold(n_splits=k, shuffle=True, random_state=seeds.cv)
    for f, (train_idx, test_idx) in enumerate(folds.split(X)):
        fold_of[test_idx] = f
        fold = Pipeline(
            [("power", reg.make_transformer()), ("model", reg.make_estimator(seeds.model))]
        )
        with warnings.catch_warnings():
            # Tiny folds can hold a constant column; the transform copes with it.
            warnings.simplefilter("ignore", RuntimeWarning)
            fold.fit(X[train_idx][:, support], target[train_idx])
            Xt = fold[:-1].transform(X[test_idx][:, support])
        if reg.estimator == "linear":
            oof_mu[test_idx] = fold[-1].predict(Xt)
            oof_sigma[test_idx] = 1.0
        else:
            oof_mu[test_idx], oof_sigma[test_idx] = tree_moments(fold[-1].estimators_, Xt)
    return oof_mu, oof_sigma, fold_of


def _n_bins(conformal_bins, n: int) -> int:
    if conformal_bins == "auto":
        # About 250 rows per bin keep the 95% quantile rank >= 12 from the top.
        return int(np.clip(n // 250, 1, 5))
    return int(min(conformal_bins, max(n // 2, 1)))


def _mondrian_edges(reg, oof_flux: np.ndarray) -> np.ndarray:
    """Inner edges of the predicted-flux bins, each holding enough scores.

    Mondrian split by predicted log flux: a normaliser alone under-covers some brightness
    ranges and over-covers others, so each predicted-brightness bin gets its own quantile
    (coverage then holds within each bin, not only on average). Bins too small for the
    usual confidences are merged with a neighbour: below ``ceil((n + 1) c)`` scores the
    conformal quantile is infinite.
    """
    n = len(oof_flux)
    inner = np.quantile(oof_flux, np.linspace(0, 1, _n_bins(reg.conformal_bins, n) + 1)[1:-1])
    edges = np.unique(inner)
    counts = np.bincount(np.digitize(oof_flux, edges), minlength=len(edges) + 1)
    level = tail_level(_tails(reg), max(float(reg.confidence), _BIN_CONFIDENCE))
    groups = merge_small_bins(counts, level)
    keep = np.flatnonzero(np.diff(groups) != 0)  # edge i separates bins i and i + 1
    return edges[keep]


def _choose_sigma_floor(sigma, residual, bins, confidence: float) -> float:
    """Floor of the normaliser ``sigma + floor`` giving the narrowest mean interval.

    Candidates scale with the median out-of-fold residual, so the floor stays meaningful
    when most tree spreads are zero; the criterion (mean half-width of the out-of-fold rows
    at ``confidence``) picks a small floor when the spread tracks the error and a large one
    (towards a constant width) when it does not.
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


def _score_kind(reg) -> str:
    if reg.conformal_score == "auto":
        return "spread" if reg.estimator == "extratrees" else "residual"
    if reg.conformal_score == "spread" and reg.estimator == "linear":
        raise ModelError(
            "conformal_score='spread' needs a forest; with estimator='linear' use "
            "'residual' or 'auto'"
        )
    return reg.conformal_score


def difficulty_inputs(reg, Xt, flux_log, sigma) -> np.ndarray:
    """Inputs of the residual model: features, predicted log flux, log tree spread."""
    cols = [Xt, flux_log[:, None]]
    if reg.estimator == "extratrees":
        cols.append(np.log10(sigma + reg.sigma_floor_)[:, None])
    return np.hstack(cols)


def _make_difficulty_model(seed: int, n_jobs):
    # A smooth, shallow-leaved forest: it must learn the typical size of the error
    # in a region, not the error of each row.
    return ExtraTreesRegressor(
        n_estimators=50,
        min_samples_leaf=20,
        max_features=1.0,
        random_state=seed,
        n_jobs=n_jobs,
    )


def _fit_difficulty(reg, Z, residual, seed: int) -> np.ndarray:
    """Cross-fit a model of log|residual|; set ``reg.difficulty_model_``; return scales.

    The scale of each calibration row comes from a residual model that never saw the
    row, so the scores stay exchangeable with those of new rows.
    """
    target = np.log(np.maximum(residual, 1e-6))
    out = np.empty(len(Z))
    k = min(reg.conformal_cv, len(Z))
    for train_idx, test_idx in KFold(k, shuffle=True, random_state=seed + 1).split(Z):
        g = _make_difficulty_model(seed, reg.n_jobs).fit(Z[train_idx], target[train_idx])
        out[test_idx] = g.predict(Z[test_idx])
    reg.difficulty_model_ = _make_difficulty_model(seed, reg.n_jobs).fit(Z, target)
    return np.exp(out)
