"""Regression tests of FluxRegressor intervals in degenerate settings.

A single selected feature with tied values (Upper Sco with Boruta keeping only ``w3_w4``)
made the tree spread zero for most rows, the conformal scores explode and the intervals
overflow to infinity; the quantile forest collapsed onto single training fluxes. Tiny
calibration sets gave Mondrian bins too small for a finite conformal quantile.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from wise2spitzer.model import INTERVAL_METHODS, FluxRegressor


def tied_single_feature(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Flux ratio driven by one colour rounded to 0.02 mag, so many rows share a value."""
    rng = np.random.default_rng(seed)
    colour = np.round(rng.normal(0.5, 0.3, n), 2)
    w4 = 10 ** rng.uniform(3, 5, n)
    X = pd.DataFrame({"w3_w4": colour, "wise4": w4})
    y = w4 * 10 ** (0.3 * colour + 0.08 * rng.normal(size=n))
    return X, y


def check_bounds(reg: FluxRegressor, X, *, confidence: float, method: str) -> np.ndarray:
    pred = reg.predict(X)
    lo, hi = reg.predict_interval(X, confidence=confidence, method=method).T
    width = np.log10(hi) - np.log10(lo)
    assert np.isfinite(lo).all() and np.isfinite(hi).all(), method
    assert (width > 0).all() and np.isfinite(width).all(), method
    assert (lo < pred).all() and (pred < hi).all(), method
    return width


@pytest.fixture(scope="module")
def single_feature(random_state):
    X, y = tied_single_feature(400, random_state)
    fit = FluxRegressor(
        form="ratio",
        counterpart="wise4",
        features=["w3_w4"],
        select_features=False,
        n_estimators=40,
        interval_method="all",
        random_state=random_state,
        n_jobs=1,
    ).fit(X.iloc[:250], y[:250])
    return fit, X.iloc[250:], y[250:]


@pytest.mark.parametrize("method", INTERVAL_METHODS)
@pytest.mark.parametrize("confidence", [0.68, 0.95])
def test_single_tied_feature_gives_finite_intervals(single_feature, method, confidence):
    reg, Xte, _ = single_feature
    width = check_bounds(reg, Xte, confidence=confidence, method=method)
    if method != "tree_sem":
        # The noise is 0.08 dex: a calibrated 95% interval is a few tenths of a dex wide,
        # not the hundreds of dex an exploding score gives.
        assert np.max(width) < 3.0


@pytest.mark.parametrize("method", ["conformal", "qrf"])
def test_single_tied_feature_covers(single_feature, method):
    reg, Xte, yte = single_feature
    lo, hi = reg.predict_interval(Xte, confidence=0.9, method=method).T
    coverage = np.mean((yte >= lo) & (yte <= hi))
    # 150 held-out rows: binomial standard error 2.5 points.
    assert 0.8 < coverage < 0.98


def test_sigma_floor_is_not_negligible_when_spread_is_zero(single_feature):
    reg, _, _ = single_feature
    # Most out-of-fold tree spreads are zero here (ties); the floor follows the residuals.
    assert reg.sigma_floor_ > 1e-3
    assert all(np.isfinite(s).all() for s in reg.conformity_scores_)


def test_constant_ish_feature(random_state):
    rng = np.random.default_rng(random_state)
    n = 200
    flat = np.where(rng.random(n) < 0.97, 1.0, 1.0 + rng.random(n))
    w4 = 10 ** rng.uniform(3, 5, n)
    X = np.column_stack([flat, w4])
    y = w4 * 10 ** (0.1 * rng.normal(size=n))
    reg = FluxRegressor(
        form="ratio",
        counterpart=1,
        features=[0],
        select_features=False,
        n_estimators=20,
        interval_method="all",
        random_state=random_state,
    ).fit(X, y)
    for method in INTERVAL_METHODS:
        check_bounds(reg, X, confidence=0.95, method=method)


@pytest.mark.parametrize(
    ("tails", "need95", "need99"), [("symmetric", 19, 99), ("separate", 39, 199)]
)
def test_tiny_bins_are_merged(random_state, tails, need95, need99):
    X, y = tied_single_feature(60, random_state)
    reg = FluxRegressor(
        form="ratio",
        counterpart="wise4",
        select_features=False,
        n_estimators=10,
        conformal_bins=5,
        conformal_cv=3,
        conformal_tails=tails,
        random_state=random_state,
    ).fit(X, y)
    # 60 rows in 5 bins would leave 12 scores a bin; a finite 95% quantile needs 19 (one
    # absolute score quantile at 0.95) or 39 (each side at 0.975).
    sizes = [len(s) for s in reg.conformity_scores_]
    assert sum(sizes) == 60 and len(sizes) == len(reg.conformal_bin_edges_) + 1
    assert len(sizes) < 5 and min(sizes) >= need95
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback needed at the usual confidences
        for c in (0.68, 0.9, 0.95):
            check_bounds(reg, X, confidence=c, method="conformal")
    # 99% needs more than 60: all are pooled, the largest one is used, with a warning.
    with pytest.warns(
        UserWarning,
        match=rf"confidence=0.99 needs at least {need99} calibration "
        r"scores; the model has 60",
    ):
        width = check_bounds(reg, X, confidence=0.99, method="conformal")
    assert (width >= check_bounds(reg, X, confidence=0.95, method="conformal") - 1e-12).all()


def test_tiny_training_set(random_state):
    X, y = tied_single_feature(12, random_state)
    reg = FluxRegressor(
        form="ratio",
        counterpart="wise4",
        select_features=False,
        n_estimators=10,
        conformal_bins=3,
        conformal_cv=3,
        interval_method="all",
        random_state=random_state,
    ).fit(X, y)
    assert len(reg.conformity_scores_) == 1
    with pytest.warns(UserWarning, match=r"needs at least 39 calibration scores; the model has 12"):
        check_bounds(reg, X, confidence=0.95, method="conformal")
    for method in ("tree_sem", "qrf"):
        check_bounds(reg, X, confidence=0.95, method=method)


def test_perfect_fit_keeps_positive_width(random_state):
    rng = np.random.default_rng(random_state)
    w4 = 10 ** rng.uniform(3, 5, 100)
    X = np.column_stack([rng.normal(size=100), w4])
    reg = FluxRegressor(
        form="ratio",
        counterpart=1,
        features=[0],
        select_features=False,
        n_estimators=10,
        interval_method="all",
        random_state=random_state,
    ).fit(X, 2 * w4)
    for method in INTERVAL_METHODS:
        check_bounds(reg, X, confidence=0.9, method=method)
