"""What training a model means, shared by every workflow that trains one.

:meth:`SpitzerPredictor.fit <wise2spitzer.predictor.SpitzerPredictor.fit>`,
:func:`wise2spitzer.evaluation.evaluate` (and the other scores) and the report all train the
same way: the rows of :func:`training_table`, a regressor from :func:`make_regressor`
(counterpart set, :data:`DEFAULT_FORM`), hyper-parameters from :func:`tuned_params`, and
the interval scored by :func:`interval_stats`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from .errors import ModelError
from .model import FORMS, FluxRegressor
from .schema import WISE_FLUX_COLUMNS, Target, get_target
from .tuning import NO_TUNING, check_tuning_preset, tune

__all__ = [
    "DEFAULT_FORM",
    "Progress",
    "interval_stats",
    "intervals_or_none",
    "make_regressor",
    "training_table",
    "tuned_params",
]

#: Target form used when ``form=None``. Learning the correction to the WISE counterpart
#: (``"ratio"``) measured at least as well as the paper's ``log10(flux)`` on the simulated
#: catalogue (clean and unclean, both targets, 5-fold cv and test split) and clearly better on
#: the real Upper Sco pairs, where the paper's form loses to the raw WISE flux (MIPS1) and to
#: the linear model (IRAC4) in cross-validation. Pass ``form="paper"`` to reproduce the paper.
#: This is the default of the training workflow only; a :class:`~wise2spitzer.model.
#: FluxRegressor` built by hand keeps its own default, :data:`~wise2spitzer.model.PAPER_FORM`.
DEFAULT_FORM = "ratio"
if DEFAULT_FORM not in FORMS:  # pragma: no cover - a guard for edits of the constants
    raise ImportError(f"DEFAULT_FORM must be one of {list(FORMS)}; got {DEFAULT_FORM!r}")

#: A callback receiving a short text before each long step (the CLI shows it), or None.
Progress = Callable[[str], None] | None


def training_table(
    df: pd.DataFrame,
    *,
    target: str | Target,
    sample: str = "clean",
    feature_set: str | None = None,
) -> tuple[pd.DataFrame, pd.Series, str]:
    """Rows a model is trained and scored on: labelled rows of ``sample`` with every feature.

    Parameters
    ----------
    df : pandas.DataFrame
        Catalogue in SEIP conventions.
    target : {"mips1", "irac4"}
    sample : {"clean", "unclean", "all"}
    feature_set : str, optional
        A key of :data:`~wise2spitzer.features.FEATURE_SETS`; default the richest set the
        table supports (:func:`~wise2spitzer.features.available_feature_set`).

    Returns
    -------
    X : pandas.DataFrame
        Features (index of ``df`` kept).
    y : pandas.Series
        Target flux in uJy.
    feature_set : str
        The feature set used.

    Raises
    ------
    ModelError
        If no row is left.
    """
    from .features import available_feature_set, build_features
    from .samples import labelled_mask, select_sample

    t = get_target(target)
    sub = select_sample(df, sample)
    feature_set = available_feature_set(sub) if feature_set is None else feature_set
    if t.column not in sub.columns:
        raise ModelError(
            f"target {t.key!r} needs column {t.column!r} with measured fluxes; the table lacks it"
        )
    sub = sub[labelled_mask(sub, t).to_numpy(dtype=bool)]
    X = build_features(sub, feature_set)
    flux_ok = np.ones(len(X), dtype=bool)
    for col in WISE_FLUX_COLUMNS:
        if col in X.columns:
            flux_ok &= X[col].to_numpy() > 0  # 0 or negative = not measured
    keep = flux_ok & np.isfinite(X.to_numpy(dtype=float)).all(axis=1)
    X = X[keep]
    y = pd.to_numeric(sub[t.column], errors="coerce").astype(float)[keep].rename(t.column)
    if len(X) == 0:
        raise ModelError(
            f"no labelled {sample!r} rows with target {t.column!r} > 0 and every feature of "
            f"{feature_set!r} measured; check the catalogue and the sample"
        )
    return X, y, feature_set


def make_regressor(
    target: str | Target,
    *,
    estimator: str = "extratrees",
    form: str | None = None,
    random_state=None,
    n_jobs: int | None = 1,
    **regressor_params: Any,
):
    """A :class:`~wise2spitzer.model.FluxRegressor` for ``target`` (counterpart set).

    ``form=None`` means :data:`DEFAULT_FORM`.
    """
    params: dict[str, Any] = {
        "counterpart": get_target(target).counterpart,
        "estimator": estimator,
        "form": DEFAULT_FORM if form is None else form,
        "random_state": random_state,
        "n_jobs": n_jobs,
    }
    params.update(regressor_params)
    try:
        return FluxRegressor(**params)
    except TypeError as exc:
        raise ModelError(f"unknown FluxRegressor parameter: {exc}") from exc


def tuned_params(
    X: pd.DataFrame,
    y: pd.Series,
    *,
    base,
    preset: str = "fast",
    random_state=None,
    n_jobs: int | None = 1,
    progress: Progress = None,
) -> dict[str, Any]:
    """Hyper-parameters of ``base`` after :func:`~wise2spitzer.tuning.tune` (``{}`` for "none").

    Only the parameters that differ from ``base`` are returned, so they can be applied to
    a regressor built with other fixed parameters (e.g. another interval method). When
    ``base`` selects features, tune runs Boruta once on ``X`` and the result fixes that
    subset (``features=[...]``, ``select_features=False``).
    """
    check_tuning_preset(preset)
    if preset == NO_TUNING:
        return {}
    if progress:
        progress(f"tuning hyper-parameters (preset {preset!r}, {len(X)} rows)")
    result = tune(X, y, base=base, preset=preset, random_state=random_state, n_jobs=n_jobs)
    # tune returns (best estimator, search); a bare estimator, search or dict is accepted too.
    if isinstance(result, tuple):
        result = result[0]
    if hasattr(result, "best_params_"):
        found = dict(result.best_params_)
    elif hasattr(result, "get_params"):
        found = result.get_params(deep=False)
    elif isinstance(result, dict):
        found = dict(result)
    else:
        raise ModelError(f"tuning.tune returned {type(result).__name__}, not parameters")
    before = base.get_params(deep=False)
    return {k: v for k, v in found.items() if k in before and _differs(before[k], v)}


def _differs(a, b) -> bool:
    try:
        return bool(a != b)
    except (TypeError, ValueError):
        return a is not b


def interval_stats(y, intervals) -> tuple[float, float]:
    """Coverage (fraction of ``y`` inside ``[lo, hi]``) and mean width (dex) of intervals.

    Parameters
    ----------
    y : array-like of shape (n,)
        Fluxes the intervals should contain (uJy).
    intervals : array-like of shape (n, 2)
        Lower and upper bounds (uJy).

    Returns
    -------
    coverage : float
    width_dex : float
        Mean of ``log10(hi / lo)`` over the rows where it is defined.
    """
    y = np.asarray(y, float)
    iv = np.asarray(intervals, float)
    cover = (y >= iv[:, 0]) & (y <= iv[:, 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        width = np.log10(iv[:, 1]) - np.log10(iv[:, 0])
    return float(cover.mean()), float(np.nanmean(width))


def intervals_or_none(fitted, X, *, method: str, confidence: float):
    """``fitted.predict_interval(X, ...)``, or None if the fit cannot give ``method``.

    A regressor fitted with one interval method lacks the others (``ModelError``); other
    estimators may not know the method or the call at all.
    """
    try:
        return fitted.predict_interval(X, confidence=confidence, method=method)
    except (ModelError, ValueError, AttributeError, NotImplementedError):
        return None
