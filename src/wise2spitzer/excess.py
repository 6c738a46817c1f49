"""Mid-infrared excess flags from predicted Spitzer fluxes, and how often they are wrong.

A source shows a 24 um (or 8 um) excess -- warm dust, a disk -- when its measured flux lies
above what the photosphere, or the WISE -> Spitzer prediction, allows. With the prediction
interval of the paper (``tree_sem``: the standard error of the mean of the trees) the
interval is far too narrow, so ordinary stars are flagged; a calibrated interval
(conformal, quantile forest) keeps the false flags near the nominal rate. On the simulated
catalogue, whose stars without dust are known (``has_disk`` False), :func:`false_excess_rate`
measures it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .errors import ModelError
from .evaluation import TABLE_INTERVAL_METHODS, check_interval_methods
from .schema import Target, get_target

__all__ = ["excess_significance", "false_excess_rate", "flag_excess", "flag_rates"]


def flag_excess(
    observed,
    photosphere_or_prediction,
    lo,
    hi,
    *,
    observed_err=None,
    n_sigma: float = 0.0,
) -> np.ndarray:
    """Flag sources whose measured flux exceeds the predicted one beyond its interval.

    Parameters
    ----------
    observed : array-like of shape (n,)
        Measured Spitzer flux (uJy); NaN, 0 or negative = not measured (never flagged).
    photosphere_or_prediction : array-like of shape (n,)
        The expected flux (uJy): a predicted or photospheric value.
    lo, hi : array-like of shape (n,)
        Its interval (uJy); only ``hi`` decides, ``lo`` is checked for consistency.
    observed_err : array-like of shape (n,), optional
        1-sigma error of ``observed``; with ``n_sigma > 0`` the flux must exceed ``hi`` by more
        than ``n_sigma * observed_err``.
    n_sigma : float, default 0

    Returns
    -------
    numpy.ndarray of bool
        True where ``observed - n_sigma * observed_err > hi`` and ``observed > prediction``;
        False where anything needed is missing.

    Raises
    ------
    ModelError
        If the arrays differ in length or an interval does not contain its prediction.

    Examples
    --------
    >>> flag_excess([100.0, 300.0, np.nan], [100.0, 100.0, 100.0], [80, 80, 80], [120, 120, 120])
    array([False,  True, False])
    """
    obs = np.asarray(observed, dtype=float).ravel()
    pred = np.asarray(photosphere_or_prediction, dtype=float).ravel()
    low = np.asarray(lo, dtype=float).ravel()
    high = np.asarray(hi, dtype=float).ravel()
    sizes = {obs.size, pred.size, low.size, high.size}
    err = None
    if observed_err is not None:
        err = np.asarray(observed_err, dtype=float).ravel()
        sizes.add(err.size)
    if len(sizes) != 1:
        raise ModelError(
            "observed, photosphere_or_prediction, lo, hi (and observed_err) must have the same "
            f"length; got {obs.size}, {pred.size}, {low.size}, {high.size}"
            + (f", {err.size}" if err is not None else "")
        )
    with np.errstate(invalid="ignore"):
        wrong = (low > pred) | (high < pred)
    if wrong.any():
        raise ModelError(
            f"every interval must contain its prediction (lo <= prediction <= hi); "
            f"{int(wrong.sum())} row(s) do not"
        )
    margin = np.zeros_like(obs)
    if err is not None and n_sigma > 0:
        margin = n_sigma * np.where(np.isfinite(err), err, np.inf)
    with np.errstate(invalid="ignore"):
        flagged = (obs > 0) & (obs - margin > high) & (obs > pred)
    return np.where(np.isfinite(obs) & np.isfinite(high), flagged, False)


def excess_significance(observed, prediction, observed_err, pred_sigma_dex) -> np.ndarray:
    """Excess in units of the combined error, ``(obs - pred) / sqrt(err^2 + (pred*ln10*s)^2)``.

    ``pred_sigma_dex`` is the 1-sigma error of the prediction in dex (log10 flux).
    """
    obs = np.asarray(observed, dtype=float)
    pred = np.asarray(prediction, dtype=float)
    sig_pred = pred * np.log(10.0) * np.asarray(pred_sigma_dex, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (obs - pred) / np.hypot(np.asarray(observed_err, dtype=float), sig_pred)


def false_excess_rate(
    df: pd.DataFrame,
    *,
    target: str | Target,
    sample: str = "clean",
    methods: Sequence[str] = TABLE_INTERVAL_METHODS,
    confidence: float | Sequence[float] = 0.95,
    reference: str | Sequence[str] = "observed",
    test_size: float = 0.2,
    random_state=0,
    n_jobs: int | None = 1,
    **regressor_params: Any,
) -> pd.DataFrame:
    """How many dust-free stars each interval method flags as having an excess.

    The regressor is trained on 80% of the labelled rows of ``sample`` (stars with and
    without dust, as in the paper); on the held-out stars *without* dust (``has_disk``
    False in the simulated catalogue) every flag is false. With a one-sided test at the upper
    end of a central interval of level ``confidence`` a calibrated method should flag about
    ``(1 - confidence) / 2`` of them.

    Parameters
    ----------
    df : pandas.DataFrame
        A simulated catalogue with ``has_disk`` (``true_<target column>`` too for
        ``reference="truth"``).
    target : {"mips1", "irac4"}
    sample : {"clean", "unclean", "all"}, default "clean"
    methods : sequence of {"tree_sem", "conformal", "qrf"}
    confidence : float or sequence of float, default 0.95
        One row per level (a single fit serves them all).
    reference : {"observed", "truth"} or a sequence of them, default "observed"
        Flux compared with the interval: the measured Spitzer flux or the noise-free one.
    test_size, random_state, n_jobs, **regressor_params
        As in :func:`~wise2spitzer.evaluation.evaluate`.

    Returns
    -------
    pandas.DataFrame
        One row per method, confidence and reference: ``target, sample, method, confidence,
        reference, n_no_disk,
        n_flagged, false_excess_rate, expected_rate, n_disk, disk_flagged_rate`` (the last
        two: how many real disks the same flag finds, for balance).

    Raises
    ------
    ModelError
        Without ``has_disk`` (or the true column) or on a bad ``reference``.
    """
    from sklearn.model_selection import train_test_split

    from .training import training_table

    t = get_target(target)
    if "has_disk" not in df.columns:
        raise ModelError(
            "false_excess_rate needs the column 'has_disk' of the simulated catalogue "
            "(which stars have dust); the table lacks it"
        )
    references = [reference] if isinstance(reference, str) else list(reference)
    bad_ref = [r for r in references if r not in ("observed", "truth")]
    if bad_ref:
        raise ModelError(f"reference must be 'observed' or 'truth'; got {bad_ref}")
    confidences = [float(c) for c in np.atleast_1d(confidence)]
    if not all(0 < c < 1 for c in confidences):
        raise ModelError(f"confidence must lie in (0, 1); got {confidences}")
    true_col = f"true_{t.column}"
    if "truth" in references and true_col not in df.columns:
        raise ModelError(f"reference='truth' needs column {true_col!r}; the table lacks it")
    check_interval_methods(methods)
    X, y, _ = training_table(df, target=t, sample=sample)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=test_size,
                                              random_state=random_state)
    disk = df.loc[X_te.index, "has_disk"].astype(bool).to_numpy()
    observed = {"observed": y_te.to_numpy()}
    if "truth" in references:
        observed["truth"] = pd.to_numeric(df.loc[X_te.index, true_col]).to_numpy(dtype=float)
    rows = []
    for m, fitted in _fits_per_method(t, X_tr, y_tr, X_te, methods=methods,
                                      confidences=confidences, random_state=random_state,
                                      n_jobs=n_jobs, regressor_params=regressor_params):
        pred = fitted.predict(X_te)
        for c in confidences:
            iv = np.asarray(fitted.predict_interval(X_te, confidence=c, method=m))
            # Keep the interval consistent with the point prediction it is compared with.
            lo = np.minimum(iv[:, 0], pred)
            hi = np.maximum(iv[:, 1], pred)
            for ref in references:
                flags = flag_excess(observed[ref], pred, lo, hi)
                rows.append({
                    "target": t.key, "sample": sample, "method": m, "confidence": c,
                    "reference": ref, **flag_rates(flags, disk, c),
                })
    return pd.DataFrame(rows)


def flag_rates(flags, disk, confidence: float) -> dict:
    """Dust-free stars flagged (all wrongly), the rate expected, and real disks flagged.

    Parameters
    ----------
    flags, disk : array-like of bool, shape (n,)
        :func:`flag_excess` of the rows and whether each has dust (``has_disk``).
    confidence : float
        Level of the central interval: a calibrated one flags about ``(1 - confidence) / 2``
        of the dust-free stars.

    Returns
    -------
    dict
        ``n_no_disk, n_flagged, false_excess_rate, expected_rate, n_disk, disk_flagged_rate``.
    """
    flags = np.asarray(flags, bool)
    disk = np.asarray(disk, bool)
    return {
        "n_no_disk": int((~disk).sum()), "n_flagged": int(flags[~disk].sum()),
        "false_excess_rate": float(flags[~disk].mean()) if (~disk).any() else np.nan,
        "expected_rate": (1 - confidence) / 2,
        "n_disk": int(disk.sum()),
        "disk_flagged_rate": float(flags[disk].mean()) if disk.any() else np.nan,
    }


def _fits_per_method(t, X_tr, y_tr, X_te, *, methods, confidences, random_state, n_jobs,
                     regressor_params: dict):
    """Yield ``(method, regressor fitted on the train split that gives it)`` per method.

    One fit serves every method when it can (``interval_method="all"``); a method the
    current fit lacks gets its own fit, which then serves the next methods if it can.
    """
    from sklearn.base import clone

    from .training import intervals_or_none, make_regressor

    params = {"interval_method": "all" if len(methods) > 1 else methods[0], **regressor_params}
    base = make_regressor(t, random_state=random_state, n_jobs=n_jobs, **params)
    fitted = None
    for m in methods:
        if fitted is None:
            fitted = clone(base).fit(X_tr, y_tr)
        probe = intervals_or_none(fitted, X_te.iloc[:1], method=m, confidence=confidences[0])
        if probe is None:
            fitted = clone(base).set_params(interval_method=m).fit(X_tr, y_tr)
        yield m, fitted
