"""``qrf``: quantiles of a quantile regression forest, kept for comparison.

``quantile_forest.ExtraTreesQuantileRegressor`` with the regressor's hyper-parameters, except
leaves of at least :data:`QRF_MIN_LEAF` rows, all kept for the quantiles. Fully grown trees
would leave one row per leaf and, with tied feature values, collapse the interval onto one
training flux. Its quantiles are not calibrated and may still under-cover.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np

from ...errors import ModelError
from .base import MIN_HALF_WIDTH_DEX, IntervalMethod

__all__ = ["QRF_MIN_LEAF", "QrfInterval"]

#: Fewest training rows in a leaf of the quantile forest.
QRF_MIN_LEAF = 5


class QrfInterval(IntervalMethod):
    """Central quantiles of a quantile forest; fits ``reg.qrf_``."""

    name = "qrf"
    needs_forest = True
    # The bounds are clipped around the forest's own prediction (``predict``), not the
    # streamed tree mean.
    uses_moments = False

    def fit(self, reg, X, target, offset, seeds):
        """Grow ``reg.qrf_`` on the transformed, selected features (seed ``seeds.qrf``)."""
        try:
            from quantile_forest import ExtraTreesQuantileRegressor
        except ImportError:
            raise ModelError(
                "interval_method 'qrf' needs the quantile-forest package: "
                "pip install 'wise2spitzer[qrf]' (or use 'conformal', the default)"
            ) from None

        Xt = reg.pipeline_[:-1].transform(X[:, reg.input_mask_])
        params = reg.forest_params()
        # A quantile needs a distribution in each leaf: fully grown trees leave one row per
        # leaf, and with tied feature values (a single selected colour) every tree then puts
        # a row in its twin's leaf, so the "interval" collapses onto one training flux.
        # Leaves of at least QRF_MIN_LEAF rows, all of them kept (max_samples_leaf=None;
        # the library default keeps one), give the forest a spread to take quantiles of.
        if isinstance(params["min_samples_leaf"], Integral):
            params["min_samples_leaf"] = max(int(params["min_samples_leaf"]), QRF_MIN_LEAF)
        reg.qrf_ = ExtraTreesQuantileRegressor(
            random_state=seeds.qrf, max_samples_leaf=None, **params
        )
        reg.qrf_.fit(Xt, target)

    def bounds_log(self, reg, Xt, offset, mu, sigma, confidence):
        """Quantiles ``(1 -/+ confidence) / 2``, widened to contain the prediction."""
        alpha = 1.0 - confidence
        mu = reg.pipeline_[-1].predict(Xt)
        q = np.asarray(reg.qrf_.predict(Xt, quantiles=[alpha / 2, 1 - alpha / 2]))
        q = q.reshape(len(Xt), 2)
        lo = np.minimum(q[:, 0], mu - MIN_HALF_WIDTH_DEX)
        hi = np.maximum(q[:, 1], mu + MIN_HALF_WIDTH_DEX)
        return np.column_stack([lo, hi]) + offset[:, None]
