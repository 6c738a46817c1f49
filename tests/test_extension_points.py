"""Extension points of the model side: a new interval method, and one bound rule for two paths.

A toy interval method (a fixed +/- 0.1 dex band around the prediction) is registered, used by
:class:`FluxRegressor` and by :meth:`SpitzerPredictor.predict_catalog`, then removed again.
The batch fast path and the regressor must give bitwise identical bounds for the two methods
the fast path computes itself, because both call the method's own ``bounds_log``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from wise2spitzer import batch
from wise2spitzer.errors import ModelError
from wise2spitzer.model import (
    INTERVAL_METHODS,
    FluxRegressor,
    IntervalMethod,
    get_interval_method,
    interval_method_names,
    register_interval_method,
    unregister_interval_method,
)
from wise2spitzer.model.lean import cheapest_within
from wise2spitzer.schema import output_columns

RS = 0
HALF = 0.1  # dex
OUT = output_columns("mips1")


class ToyBand(IntervalMethod):
    """``prediction * 10**(+/- half)``, ``half`` learned at fit time (here: a constant)."""

    name = "toy"

    def fit(self, reg, X, target, offset, seeds):
        reg.toy_half_width_ = HALF

    def bounds_log(self, reg, Xt, offset, mu, sigma, confidence):
        t = mu + offset
        return np.column_stack([t - reg.toy_half_width_, t + reg.toy_half_width_])


@pytest.fixture
def toy():
    register_interval_method(ToyBand)
    try:
        yield get_interval_method("toy")
    finally:
        unregister_interval_method("toy")


@pytest.fixture(scope="module")
def xy():
    rng = np.random.default_rng(RS)
    X = 10 ** rng.uniform(1, 4, size=(300, 4))
    y = X[:, 3] * 10 ** (0.05 * rng.normal(size=300))
    return X, y


@pytest.fixture(scope="module")
def sim():
    from wise2spitzer.datasets import simulate_seip

    return simulate_seip(3000, random_state=RS)


def _predictor(sim, **params):
    from wise2spitzer.predictor import SpitzerPredictor

    return SpitzerPredictor().fit(
        sim, target="mips1", sample="clean", feature_set="paper", preset="none",
        random_state=RS, n_estimators=30, select_features=False, **params,
    )


# ------------------------------------------------------------------ registry
def test_built_in_methods_and_their_order():
    assert INTERVAL_METHODS == ("conformal", "tree_sem", "qrf")
    assert interval_method_names()[:3] == INTERVAL_METHODS
    assert get_interval_method("tree_sem").needs_forest
    assert not get_interval_method("conformal").needs_forest
    with pytest.raises(ModelError, match=r"method must be one of \['conformal'.*got 'nope'"):
        get_interval_method("nope")


def test_registering_checks_the_method(toy):
    assert interval_method_names()[-1] == "toy"
    with pytest.raises(ModelError, match="'toy' is already registered"):
        register_interval_method(ToyBand())
    with pytest.raises(ModelError, match="IntervalMethod subclass or instance; got 3"):
        register_interval_method(3)

    class Unnamed(IntervalMethod):
        pass

    with pytest.raises(ModelError, match="needs a name"):
        register_interval_method(Unnamed)


# ------------------------------------------------------------------ a new method end to end
def test_regressor_fits_and_uses_a_registered_method(toy, xy):
    X, y = xy
    reg = FluxRegressor(form="ratio", counterpart=3, select_features=False, n_estimators=20,
                        interval_method="toy", random_state=RS).fit(X, y)
    assert reg.interval_methods_ == ("toy",) and reg.interval_method_ == "toy"
    assert reg.toy_half_width_ == HALF
    iv = reg.predict_interval(X[:50])
    pred = reg.predict(X[:50])
    np.testing.assert_allclose(np.log10(iv[:, 0] / pred), -HALF, atol=1e-9)
    np.testing.assert_allclose(np.log10(iv[:, 1] / pred), HALF, atol=1e-9)
    with pytest.raises(ModelError, match="'conformal' was not fitted"):
        reg.predict_interval(X[:5], method="conformal")
    # "all" fits every registered method, the new one included, in registry order.
    every = FluxRegressor(form="ratio", counterpart=3, select_features=False, n_estimators=10,
                          interval_method="all", random_state=RS).fit(X, y)
    assert every.interval_methods_ == INTERVAL_METHODS + ("toy",)


def test_the_new_method_reaches_the_catalogue(toy, sim):
    p = _predictor(sim, interval_method="toy")
    assert p.card["interval_method"] == "toy"
    from wise2spitzer.samples import clean_mask

    # The clean-sample model answers clean rows only (others are outside its sample).
    rows = sim.loc[clean_mask(sim)].iloc[:500]
    out = p.predict_catalog(rows)
    ok = out[OUT["status"]] == "ok"
    assert ok.sum() > 50
    pred, lo, hi = (out.loc[ok, OUT[k]].to_numpy() for k in ("pred", "lo", "hi"))
    np.testing.assert_allclose(np.log10(pred / lo), HALF, atol=1e-9)
    np.testing.assert_allclose(np.log10(hi / pred), HALF, atol=1e-9)
    # The fast path leaves methods it does not compute itself to the predictor.
    fast = batch.FastPredictor(p).predict_catalog(rows)
    pd.testing.assert_frame_equal(fast, out)


def test_the_coverage_tables_accept_the_new_method(toy, sim):
    from wise2spitzer.evaluation import TABLE_INTERVAL_METHODS, evaluate_intervals

    assert TABLE_INTERVAL_METHODS == ("tree_sem", "conformal", "qrf")
    cov = evaluate_intervals(sim, target="mips1", methods=("toy", "conformal"),
                             confidences=(0.9,), feature_set="paper", n_estimators=15,
                             select_features=False)
    assert list(dict.fromkeys(cov["method"])) == ["toy", "conformal"]
    assert cov["coverage"].between(0, 1).all()


def test_a_forest_only_method_is_refused_by_the_linear_baseline():
    message = r"'tree_sem' needs a forest; .*interval_method='conformal' \(or 'all'\)"
    with pytest.raises(ModelError, match=message):
        FluxRegressor(estimator="linear", interval_method="tree_sem").fit(
            np.ones((5, 2)) + np.arange(10).reshape(5, 2), np.arange(1.0, 6.0))


# ------------------------------------------------------------------ one bound rule, two paths
@pytest.mark.parametrize("method", ["tree_sem", "conformal"])
def test_fast_path_and_regressor_give_identical_bounds(sim, method):
    p = _predictor(sim, interval_method="all")
    rows = sim.iloc[:1500]
    plain = p.predict_catalog(rows, confidence=0.9, method=method)
    fast = batch.FastPredictor(p, n_jobs=1).predict_catalog(rows, confidence=0.9, method=method)
    assert (fast[OUT["status"]] == plain[OUT["status"]]).all()
    assert plain[OUT["status"]].isin(["ok", "upper_limit"]).sum() > 100
    for col in ("lo", "hi"):
        np.testing.assert_array_equal(fast[OUT[col]].to_numpy(), plain[OUT[col]].to_numpy())


# ------------------------------------------------------------------ one lean-forest rule
def test_cheapest_within_tolerance():
    scores = [0.90, 0.95, 0.949, 0.80, 0.949]
    costs = [10.0, 100.0, 20.0, 1.0, 20.0]
    accepted, chosen = cheapest_within(scores, costs, reference=0.95, tolerance=0.002)
    assert accepted.tolist() == [False, True, True, False, True]
    assert chosen == 2  # cheapest accepted; the tie with row 4 goes to the first
    with pytest.raises(ModelError, match="no configuration scores within"):
        cheapest_within([0.1], [1.0], reference=0.5, tolerance=0.0)


def test_lean_forest_keeps_its_batch_import_path():
    from wise2spitzer.model import lean

    assert batch.lean_forest is lean.lean_forest
    assert batch.LeanForestResult is lean.LeanForestResult
    assert batch.LEAN_CANDIDATES == lean.LEAN_CANDIDATES
    assert FluxRegressor.__module__ == "wise2spitzer.model"


def test_a_model_with_a_registered_method_saves_and_loads(toy, tmp_path):
    from wise2spitzer.datasets import simulate_seip
    from wise2spitzer.predictor import SpitzerPredictor

    df = simulate_seip(1500, random_state=RS)
    p = SpitzerPredictor().fit(df, target="irac4", sample="unclean", preset="none",
                               interval_method="toy", random_state=RS, n_estimators=5,
                               test_size=None)
    loaded = SpitzerPredictor.load(p.save(tmp_path / "toy.skops"))
    pd.testing.assert_frame_equal(loaded.predict_catalog(df.iloc[:40]),
                                  p.predict_catalog(df.iloc[:40]))
