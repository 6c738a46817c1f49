"""Fast inference: the predictions of a fitted forest predictor with less work per row.

:class:`FastPredictor` walks every tree once for the value and the interval's spread, on a
float32 array cast once; its domain test is :class:`~wise2spitzer.domain.FastHull` (the hull
test's home is :mod:`wise2spitzer.domain`). Statuses come from the wrapped predictor's own
``row_status`` and bounds from the interval method's own rule, so both paths agree.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..domain import FastHull
from ..errors import ModelError

# One rule for both paths: the model's tree moments and its interval methods' bounds.
from ..model import get_interval_method, tree_moments
from ..schema import STATUS_OK, output_columns

__all__ = ["FastPredictor", "blas_controller", "check_method", "output_names"]


class FastPredictor:
    """The same predictions as a :class:`SpitzerPredictor`, with less work per row.

    :meth:`SpitzerPredictor.predict_catalog` walks the forest twice (``predict`` for the value,
    then every tree again for the interval's spread) and validates its input once per tree.
    Here, for the rows that pass the status checks and the domain test (done by the wrapped
    predictor's own ``row_status``, so statuses are identical), the features are transformed
    once, cast once to the float32 C-contiguous array the trees read, and every tree is walked
    once, accumulating the mean and the spread together; trees are split across ``n_jobs``
    threads (scikit-learn's tree traversal releases the GIL). Values agree with the plain
    predictor to floating-point rounding (well below 1e-6 dex).

    Interval methods other than ``conformal`` and ``tree_sem`` (e.g. ``qrf``) and non-forest
    regressors are passed to the wrapped predictor unchanged.

    Parameters
    ----------
    predictor : SpitzerPredictor
        A fitted predictor.
    n_jobs : int, default 1
        Threads walking the trees.

    Examples
    --------
    >>> fast = FastPredictor(predictor, n_jobs=2)                  # doctest: +SKIP
    >>> fast.predict_catalog(df)                                   # doctest: +SKIP
    """

    def __init__(self, predictor: Any, *, n_jobs: int = 1) -> None:
        if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)) or n_jobs < 1:
            raise ModelError(f"n_jobs must be a positive integer; got {n_jobs!r}")
        self.predictor = predictor
        self.n_jobs = int(n_jobs)

    def __repr__(self) -> str:
        return f"FastPredictor({self.predictor!r}, n_jobs={self.n_jobs})"

    @property
    def target(self):
        """The wrapped predictor's target."""
        return self.predictor.target

    @staticmethod
    def supports(predictor: Any) -> bool:
        """True when ``predictor`` is a fitted forest predictor the fast path understands."""
        reg = getattr(predictor, "regressor", None)
        pipe = getattr(reg, "pipeline_", None)
        return (
            pipe is not None
            and hasattr(predictor, "row_status")
            and getattr(reg, "estimator", None) == "extratrees"
            and hasattr(pipe[-1], "estimators_")
            and hasattr(reg, "model_inputs")
        )

    def predict_catalog(
        self, df: pd.DataFrame, *, confidence: float = 0.95, method: str | None = None
    ) -> pd.DataFrame:
        """As :meth:`SpitzerPredictor.predict_catalog`: every row, four columns appended."""
        out = df.copy(deep=False)
        for col, values in self.predict_columns(df, confidence=confidence, method=method).items():
            out[col] = values
        return out

    def predict_columns(
        self, df: pd.DataFrame, *, confidence: float = 0.95, method: str | None = None
    ) -> dict[str, np.ndarray]:
        """The four output columns for ``df`` (name -> array), without copying ``df``."""
        p = self.predictor
        reg = getattr(p, "regressor", None)
        chosen = method if method is not None else getattr(reg, "interval_method_", None)
        # Only the tree-spread conformal score is recomputed here; any other normaliser the
        # regressor may learn is left to its own code.
        spread_score = getattr(reg, "conformal_score_", "spread") == "spread"
        if (
            not self.supports(p)
            or chosen not in ("conformal", "tree_sem")
            or (chosen == "conformal" and not spread_score)
        ):
            result = p.predict_catalog(df, confidence=confidence, method=method)
            return {c: result[c].to_numpy() for c in result.columns if c not in df.columns}
        if chosen not in reg.interval_methods_:
            # The plain path raises the model's own error naming the fitted methods.
            check_method(p, chosen)
        if not 0 < confidence < 1:
            raise ModelError(f"confidence must lie in (0, 1); got {confidence!r}")
        # BLAS (the hull's facet products, 4096-row blocks) runs on one thread whatever
        # n_jobs is: OpenBLAS threads spinning between these small products cost more than
        # they save. Measured on 1M rows, 2 cores: n_jobs=2 with BLAS on 2 threads took
        # 3.9 s wall and 6.7 s CPU, with BLAS on one thread 3.1 s wall and 3.8 s CPU.
        with blas_controller().limit(limits=1, user_api="blas"):
            return self._compute(df, confidence, chosen)

    def _compute(self, df: pd.DataFrame, confidence: float, chosen: str) -> dict:
        p = self.predictor
        cols = output_columns(p.target)
        status = p.status_for_method(self._status_predictor().row_status(df), chosen)
        n = len(df)
        pred, lo, hi = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
        ok = status == STATUS_OK
        if ok.any():
            X = self._features(df, ok)
            pred[ok], lo[ok], hi[ok] = self._predict_arrays(X, confidence, chosen)
        # Zone rows and the detection floor: the predictor's own rules, as on the plain path.
        status = p.finish_values(status, pred, lo, hi, confidence=confidence,
                                 feature_rows=lambda rows: self._features(df, rows))
        return {
            cols["pred"]: pred,
            cols["lo"]: lo,
            cols["hi"]: hi,
            cols["status"]: pd.array(status, dtype="str"),
        }

    def _features(self, df: pd.DataFrame, mask: np.ndarray) -> pd.DataFrame:
        """The model's feature rows for the rows of ``df`` selected by ``mask``."""
        from ..features import build_features

        p = self.predictor
        rows = df.loc[mask, p.input_columns]
        # Only text columns need converting (column-wise apply costs ~10% of a chunk).
        text = [c for c in rows.columns if not pd.api.types.is_numeric_dtype(rows[c])]
        if text:
            rows = rows.assign(**{c: pd.to_numeric(rows[c], errors="coerce") for c in text})
        return build_features(rows, p.feature_set)[p.features]

    def _status_predictor(self):
        """The wrapped predictor's own status logic, with its domain test done by FastHull."""
        cached = getattr(self, "_status_p", None)
        if cached is None:
            import copy

            cached = copy.copy(self.predictor)
            domain = getattr(self.predictor, "domain", None)
            if domain is not None and hasattr(domain, "equations_"):
                cached.domain = FastHull(domain)
            self._status_p = cached
        return cached

    def _predict_arrays(self, X: pd.DataFrame, confidence: float, method: str):
        reg = self.predictor.regressor
        # The regressor's own transform (feature subset, Yeo-Johnson, selection) and offset.
        Xt, offset = reg.model_inputs(X)
        # The trees compare float32 thresholds; casting once here replaces a cast per tree.
        Xt = np.ascontiguousarray(Xt, dtype=np.float32)
        trees = reg.pipeline_[-1].estimators_
        mu, sigma = tree_moments(trees, Xt, n_jobs=self.n_jobs, check_input=False)
        log_pred = mu + offset
        # The interval method's own bound rule: the two paths cannot drift apart.
        bounds = get_interval_method(method).bounds_log(reg, Xt, offset, mu, sigma, confidence)
        return (
            np.power(10.0, log_pred),
            np.power(10.0, bounds[:, 0]),
            np.power(10.0, bounds[:, 1]),
        )


_BLAS = None


def blas_controller():
    """One ``threadpoolctl.ThreadpoolController`` per process.

    Finding the loaded BLAS libraries costs about 4 ms; done once instead of per chunk.
    """
    global _BLAS
    if _BLAS is None:
        from threadpoolctl import ThreadpoolController

        _BLAS = ThreadpoolController()
    return _BLAS


def output_names(predictor: Any) -> list[str] | None:
    """The output column names of ``predictor`` (None when it does not say).

    Parameters
    ----------
    predictor : object
        A predictor (or :class:`FastPredictor`) with a ``target`` or ``target_``.
    """
    if hasattr(predictor, "output_names"):  # a bundle names its own (every band)
        return list(predictor.output_names())
    target = getattr(predictor, "target", None) or getattr(predictor, "target_", None)
    if target is None:
        return None
    try:
        return list(output_columns(target).values())
    except ValueError:
        return None


def check_method(predictor: Any, method: str | None) -> None:
    """Refuse an interval ``method`` the fitted model does not have, with the model's message.

    Predictors that do not list their interval methods (anything but a fitted
    :class:`~wise2spitzer.predictor.SpitzerPredictor` or a :class:`FastPredictor` of one)
    are left to refuse it themselves.

    Raises
    ------
    ModelError
        If ``method`` is not one of the model's fitted interval methods.
    """
    if method is None:
        return
    for member in getattr(predictor, "members", ()):  # a bundle: every model must have it
        check_method(member, method)
    p = getattr(predictor, "predictor", predictor)  # a FastPredictor wraps the predictor
    reg = getattr(p, "regressor", None)
    methods = getattr(reg, "interval_methods_", None)
    if methods is None or method in methods:
        return
    # The model's own check raises its error naming the fitted methods.
    reg.predict_interval(np.empty((0, reg.n_features_in_)), method=method)
    raise ModelError(  # pragma: no cover - the model's check above raises first
        f"method must be one of {sorted(methods)}; got {method!r}"
    )
