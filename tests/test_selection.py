"""Tests of wise2spitzer.selection.BorutaSelector."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from wise2spitzer.errors import ModelError
from wise2spitzer.selection import BorutaSelector, NoFeatureSelectedWarning

from conftest import RANDOM_STATE


@pytest.fixture(scope="module")
def data(random_state):
    rng = np.random.default_rng(random_state)
    n = 400
    X = pd.DataFrame(rng.normal(size=(n, 6)), columns=[f"f{i}" for i in range(6)])
    y = 3 * X["f0"] + 2 * np.sin(2 * X["f1"]) + X["f2"] ** 2 + 0.1 * rng.normal(size=n)
    return X, y


@pytest.mark.filterwarnings("ignore::wise2spitzer.selection.NoFeatureSelectedWarning")
@parametrize_with_checks([BorutaSelector(max_iter=5, random_state=RANDOM_STATE)])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_informative_kept_noise_rejected(data, random_state):
    X, y = data
    sel = BorutaSelector(max_iter=30, random_state=random_state).fit(X, y)
    assert sel.get_support().tolist() == [True, True, True, False, False, False]
    assert list(sel.get_feature_names_out()) == ["f0", "f1", "f2"]
    assert (sel.ranking_[:3] == 1).all() and (sel.ranking_[3:] > 1).all()
    assert sel.transform(X).shape == (len(X), 3)


def test_pure_noise_keeps_top_ranked_feature_with_warning(random_state):
    rng = np.random.default_rng(random_state)
    X = rng.normal(size=(200, 4))
    y = rng.normal(size=200)
    with pytest.warns(NoFeatureSelectedWarning, match="keeping the top-ranked feature"):
        sel = BorutaSelector(max_iter=20, random_state=random_state).fit(X, y)
    assert sel.get_support().sum() == 1


def test_deterministic_for_a_seed(data):
    X, y = data
    a = BorutaSelector(max_iter=10, random_state=3).fit(X, y)
    b = BorutaSelector(max_iter=10, random_state=3).fit(X, y)
    np.testing.assert_array_equal(a.ranking_, b.ranking_)
    np.testing.assert_array_equal(a.importances_, b.importances_)


def test_keep_tentative_adds_weak_features(data):
    X, y = data
    # f3 is weakly informative: with this seed Boruta can neither confirm nor reject it
    # in 9 rounds, so it stays tentative.
    y = y + 0.25 * X["f3"]
    strict = BorutaSelector(max_iter=10, random_state=RANDOM_STATE).fit(X, y)
    loose = BorutaSelector(max_iter=10, keep_tentative=True, random_state=RANDOM_STATE).fit(X, y)
    assert strict.support_weak_.any()
    assert not (strict.support_ & strict.support_weak_).any()
    np.testing.assert_array_equal(loose.support_, strict.support_ | strict.support_weak_)
    assert (strict.ranking_[strict.support_weak_] == 2).all()


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"max_iter": 1}, r"max_iter must be an integer in \[2, inf\]; got 1"),
        ({"alpha": 0}, r"alpha must be in \(0, 1\]; got 0"),
        ({"alpha": 1.5}, r"alpha must be a number in \[0, 1\]; got 1.5"),
        ({"perc": 0}, r"perc must be an integer in \[1, 100\]; got 0"),
        ({"n_estimators": "many"}, r"n_estimators must be .* or 'auto'; got 'many'"),
        ({"estimator": "lgbm"}, r"estimator must be a regressor .*; got 'lgbm'"),
    ],
)
def test_invalid_parameters(data, params, match):
    X, y = data
    with pytest.raises(ModelError, match=match):
        BorutaSelector(**params).fit(X, y)
