"""Tests of wise2spitzer.tuning."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.model_selection import HalvingRandomSearchCV, KFold, RandomizedSearchCV

from wise2spitzer.errors import ModelError
from wise2spitzer.model import FluxRegressor
from wise2spitzer.tuning import PARAM_DISTRIBUTIONS, lean_tree_counts, log_r2_score, tune

from conftest import RANDOM_STATE


@pytest.fixture(scope="module")
def data(random_state):
    rng = np.random.default_rng(random_state)
    n = 300
    logw = rng.uniform(2, 4, n)
    X = pd.DataFrame(
        {
            "wise3": 10 ** (logw + 0.3 * rng.normal(size=n)),
            "wise4": 10**logw,
            "noise": rng.normal(size=n),
        }
    )
    y = 10 ** (logw + 0.3 * np.log10(X["wise3"] / X["wise4"]) + 0.05 * rng.normal(size=n))
    return X, y.to_numpy()


def base(**kw) -> FluxRegressor:
    params = {
        "form": "ratio",
        "counterpart": "wise4",
        "select_features": False,
        "interval_method": "tree_sem",
        "random_state": RANDOM_STATE,
    }
    params.update(kw)
    return FluxRegressor(**params)


def test_log_r2_score_is_r2_on_log_flux(data):
    X, y = data
    model = base(n_estimators=10).fit(X, y)
    truth = np.log10(y)
    pred = model.predict_log(X)
    expected = 1 - np.sum((truth - pred) ** 2) / np.sum((truth - truth.mean()) ** 2)
    assert log_r2_score(model, X, y) == pytest.approx(expected)


def test_paper_preset_is_a_randomized_search(data, random_state):
    X, y = data
    best, search = tune(
        X, y, base=base(), preset="paper", n_iter=3, cv=3, random_state=random_state
    )
    assert isinstance(search, RandomizedSearchCV)
    assert len(search.cv_results_["params"]) == 3
    assert search.n_splits_ == 3
    assert set(search.best_params_) == set(PARAM_DISTRIBUTIONS)
    assert best.get_params()["n_estimators"] == search.best_params_["n_estimators"]
    assert hasattr(best, "pipeline_") and best.interval_method == "tree_sem"
    assert search.wall_time_ > 0


def test_fast_preset_halves_over_trees_and_prefers_lean_forests(data, random_state):
    X, y = data
    best, search = tune(
        X,
        y,
        base=base(interval_method="conformal", conformal_cv=2),
        preset="fast",
        n_iter=9,
        cv=3,
        min_estimators=10,
        tolerance=0.05,
        random_state=random_state,
    )
    assert isinstance(search, HalvingRandomSearchCV)
    assert search.resource == "n_estimators"
    table = search.lean_table_
    assert table["chosen"].sum() == 1
    chosen = table[table["chosen"]].iloc[0]
    # With a generous tolerance the cheapest configuration within it is chosen ...
    ok = table[table["cv_r2"] >= table["cv_r2"].max() - 0.05]
    assert chosen["cost"] == ok["cost"].min()
    assert best.n_estimators == chosen["n_estimators"]
    # ... and the returned model keeps the base's interval method and is fitted.
    assert best.interval_methods_ == ("conformal",)
    assert best.predict(X.iloc[:2]).shape == (2,)


def test_zero_tolerance_picks_the_best_score(data, random_state):
    X, y = data
    _, search = tune(
        X,
        y,
        base=base(),
        preset="fast",
        n_iter=3,
        cv=3,
        tolerance=0.0,
        min_estimators=10,
        n_candidates_lean=1,
        random_state=random_state,
    )
    table = search.lean_table_
    assert table.loc[table["chosen"], "cv_r2"].iloc[0] == table["cv_r2"].max()
    assert table["n_estimators"].min() >= 10


def test_boruta_runs_once_before_the_search(data, random_state):
    X, y = data
    best, search = tune(
        X,
        y,
        base=base(select_features=True, boruta_max_iter=15),
        preset="paper",
        n_iter=2,
        cv=2,
        random_state=random_state,
    )
    assert "noise" not in search.selected_features_
    assert best.select_features is False
    assert best.features == search.selected_features_
    assert list(best.selected_features_) == search.selected_features_


def test_lean_tree_counts_prefix_forest_equals_small_forest(data):
    X, y = data
    cv = KFold(2, shuffle=True, random_state=RANDOM_STATE)
    table = lean_tree_counts(base(), X, y, cv=cv, tree_grid=(5, 20))
    assert table["n_estimators"].tolist() == [5, 20]
    assert (table["cost"] == table["n_estimators"] * table["mean_depth"]).all()
    # The first 5 trees of a 20-tree forest are a 5-tree forest with the same seed.
    train, test = next(cv.split(X))
    big = base(n_estimators=20).fit(X.iloc[train], y[train])
    small = base(n_estimators=5).fit(X.iloc[train], y[train])
    np.testing.assert_allclose(
        big.predict_trees_log(X.iloc[test])[:, :5].mean(axis=1), small.predict_log(X.iloc[test])
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"preset": "slow"}, r"preset must be one of \['fast', 'paper'\]; got 'slow'"),
        ({"n_iter": 0}, r"n_iter must be an integer in \[1, inf\]; got 0"),
        ({"tolerance": -0.1}, r"tolerance must be a number in \[0, inf\]; got -0.1"),
        ({"base": FluxRegressor(estimator="linear")}, r"base has estimator='linear'"),
        ({"base": "et"}, r"base must be a FluxRegressor; got str"),
    ],
)
def test_invalid_arguments(data, kwargs, match):
    X, y = data
    with pytest.raises(ModelError, match=match):
        tune(X, y, **kwargs)
