"""Values a little outside the training hull, with an interval calibrated for them.

The paper predicts only inside the convex hull of the labelled W1..W4 (log flux). With the
tens of thousands of SEIP rows of the paper that costs little; with the small real samples
users bring (a cluster, an association) a third of the rows can fall just outside the hull of
~150 training rows in four dimensions. :class:`ExtrapolationZone` issues values for rows
*near* the hull, with status ``extrapolated`` and their own interval, and leaves the rest
``outside_domain``:

* **Distance.** How far a row lies outside the hull, in the standardised log-flux space (each
  log10 W column divided by its standard deviation over the training rows): the largest
  signed facet distance, ``max_f (a_f . x + b_f) / ||a_f * s||``, <= 0 inside. It is a lower
  bound of the Euclidean distance to the hull, exact when the nearest hull point lies inside
  a facet, and costs one matrix product, like the hull test itself.
* **Calibration on held-out rows outside their fold's hull.** The conformal calibration of the
  regressor already predicts every training row with a fold model that never saw it. Here the
  hull of each fold model's training rows is built too, and each held-out row's distance to it
  measured: the rows that fell outside their fold's hull are exactly the situation of a new row
  outside the final hull. Their signed, normalised scores (the conformal ones) give the zone's
  own quantiles, so an extrapolated row's interval is ``[t - q_lo d(x), t + q_hi d(x)]`` with
  the regressor's own normaliser ``d(x)`` and the zone's ``q``.
* **How far.** Coverage can fall with distance even after the zone's calibration (the tree
  forest returns the value of the nearest leaf, however far the row is). The largest distance
  ``max_distance_`` is chosen on the held-out rows: candidates are the 100%, 90%, ..., 50%
  quantiles of the outside rows' distances; for each, the outside rows within it are split by
  distance, the nearer two thirds calibrate and the farthest third is covered or not; the
  largest candidate whose far third shows no evidence (one-sided binomial test at 5%) of a
  coverage below ``confidence - tolerance`` is kept, and the zone is then calibrated on all
  the outside rows within it. With a few dozen outside rows (a small real sample) a test
  on a dozen far rows is weak, so the edge is wide and the coverage actually achieved is what
  the held-out measurement of the report shows; with thousands it is strict.
  When no candidate passes, or fewer than ``min_rows`` held-out rows fell outside, the zone is
  empty (``max_distance_ = 0``) and every row outside the hull stays ``outside_domain``.

The measured error and coverage against distance (held-out rows of the simulation and of the
real Upper Sco sample) are in the ``reproduce`` report and ``docs/extrapolation.md``.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.stats import binom
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from .errors import ModelError

__all__ = ["DISTANCE_LEVELS", "ExtrapolationZone", "standardised_distance"]

# Significance of the test that the zone's far rows are under-covered.
_ALPHA = 0.05

#: Quantiles of the held-out outside rows' distances tried as the zone's edge, largest first.
DISTANCE_LEVELS: tuple[float, ...] = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5)


def standardised_distance(domain, log_points: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Largest signed facet distance of each row in standardised log-flux units.

    Parameters
    ----------
    domain : ConvexHullDomain or FastHull
        A fitted hull (facet equations in log10 flux, unit normals).
    log_points : ndarray of shape (n_rows, n_columns)
        log10 fluxes; rows with a NaN give NaN.
    scale : ndarray of shape (n_columns,)
        Standard deviation of each log10 flux column (the unit of the standardised space).

    Returns
    -------
    ndarray of shape (n_rows,)
        <= 0 inside the hull, > 0 outside, NaN for invalid rows.
    """
    return domain.log_distance(np.asarray(log_points, dtype=float), scale=scale)


class ExtrapolationZone(BaseEstimator):
    """The rows just outside the hull that still get a value, and their calibration.

    Parameters
    ----------
    confidence : float, default 0.95
        Level at which the zone's edge is chosen (intervals can be asked at any level).
    tolerance : float, default 0.05
        The zone's far third must be covered at ``confidence - tolerance`` or better.
    min_rows : int, default 30
        Fewest held-out rows outside their fold's hull (and within the chosen distance) for
        a zone; fewer give an empty zone.
    tails : {"separate", "symmetric"}, default "separate"
        As the regressor's ``conformal_tails``.

    Attributes
    ----------
    scale_ : ndarray of shape (n_columns,)
        Standard deviation of each training log10 flux column.
    heldout_distance_ : ndarray of shape (n_rows,)
        Each training row's standardised distance to the hull of its fold model's training
        rows (<= 0 inside; NaN when that hull could not be built).
    max_distance_ : float
        Edge of the zone (0: empty zone, nothing is extrapolated).
    scores_ : ndarray
        Sorted signed conformity scores of the held-out rows in the zone.
    n_outside_ : int
        Held-out rows that fell outside their fold's hull.
    level_ : float or None
        The quantile of the outside distances chosen as the edge (None for an empty zone).
    """

    def __init__(self, *, confidence: float = 0.95, tolerance: float = 0.05,
                 min_rows: int = 30, tails: str = "separate") -> None:
        self.confidence = confidence
        self.tolerance = tolerance
        self.min_rows = min_rows
        self.tails = tails

    def fit(self, log_points: np.ndarray, folds: np.ndarray, scores: np.ndarray):
        """Measure each held-out row's distance to its fold's hull; choose and calibrate.

        Parameters
        ----------
        log_points : ndarray of shape (n_rows, n_columns)
            log10 W1..W4 of the training rows, in the order the regressor saw them.
        folds : ndarray of int, shape (n_rows,)
            The conformal fold of each row (``FluxRegressor.oof_fold_``).
        scores : ndarray of shape (n_rows,)
            Signed out-of-fold conformity scores (``FluxRegressor.oof_score_``).

        Raises
        ------
        ModelError
            On inconsistent lengths or parameters.
        """
        from .domain import ConvexHullDomain

        pts = np.asarray(log_points, dtype=float)
        folds = np.asarray(folds)
        scores = np.asarray(scores, dtype=float)
        if not (len(pts) == len(folds) == len(scores)) or pts.ndim != 2:
            raise ModelError(
                f"log_points, folds and scores must describe the same rows; got shapes "
                f"{pts.shape}, {folds.shape}, {scores.shape}")
        if not 0 < self.confidence < 1 or not 0 <= self.tolerance < self.confidence:
            raise ModelError(
                f"confidence must lie in (0, 1) and tolerance in [0, confidence); got "
                f"{self.confidence!r}, {self.tolerance!r}")
        valid = np.isfinite(pts).all(axis=1)
        self.scale_ = np.std(pts[valid], axis=0)
        self.scale_[~(self.scale_ > 0)] = 1.0
        dist = np.full(len(pts), np.nan)
        for f in np.unique(folds):
            held = folds == f
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    hull = ConvexHullDomain().fit(10.0 ** pts[~held & valid])
            except ModelError:
                continue  # a fold too small or flat for a hull: its rows say nothing here
            dist[held] = standardised_distance(hull, pts[held], self.scale_)
        self.heldout_distance_ = dist
        self.n_features_in_ = pts.shape[1]
        self._choose(dist, scores)
        return self

    def _choose(self, dist: np.ndarray, scores: np.ndarray) -> None:
        from .model.intervals import score_quantiles

        outside = np.isfinite(dist) & (dist > 0)
        self.n_outside_ = int(outside.sum())
        self.max_distance_, self.level_ = 0.0, None
        self.scores_ = np.empty(0)
        if self.n_outside_ < self.min_rows:
            return
        d_out, s_out = dist[outside], scores[outside]
        for level in DISTANCE_LEVELS:
            edge = float(np.quantile(d_out, level))
            inside = d_out <= edge
            if inside.sum() < self.min_rows:
                break
            d, s = d_out[inside], s_out[inside]
            far = d > np.quantile(d, 2 / 3)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                q_lo, q_hi = score_quantiles(s[~far], self.confidence, tails=self.tails)
            misses = int(((s[far] < -q_lo) | (s[far] > q_hi)).sum())
            # Evidence that the far rows are covered less than confidence - tolerance: a
            # one-sided binomial test at 5% (a few misses in a dozen rows are not evidence).
            p_value = binom.sf(misses - 1, int(far.sum()), 1 - self.confidence + self.tolerance)
            if p_value >= _ALPHA:
                self.max_distance_, self.level_ = edge, level
                self.scores_ = np.sort(s)
                return

    @property
    def active(self) -> bool:
        """True when the zone issues values (a non-empty, calibrated zone)."""
        return bool(getattr(self, "max_distance_", 0.0) > 0 and len(self.scores_))

    def distance(self, domain, log_points: np.ndarray) -> np.ndarray:
        """Standardised distance of rows to ``domain`` (the final model's hull)."""
        check_is_fitted(self, "scale_")
        return standardised_distance(domain, log_points, self.scale_)

    def within(self, domain, log_points: np.ndarray) -> np.ndarray:
        """True for rows outside ``domain`` but within the zone (0 < distance <= edge)."""
        d = self.distance(domain, log_points)
        with np.errstate(invalid="ignore"):
            return self.active & (d > 0) & (d <= self.max_distance_)

    def quantiles(self, confidence: float) -> tuple[float, float]:
        """``(q_lo, q_hi)`` of the zone's scores at ``confidence``.

        Raises
        ------
        ModelError
            If the zone is empty.
        """
        from .model.intervals import score_quantiles

        if not self.active:
            raise ModelError("this extrapolation zone is empty: no row is extrapolated")
        return score_quantiles(self.scores_, confidence, tails=self.tails, stacklevel=4)
