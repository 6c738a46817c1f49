"""Excess flags and the false-excess rate of each interval method on dust-free stars."""

from __future__ import annotations

import numpy as np
import pytest

from wise2spitzer.errors import ModelError
from wise2spitzer.excess import excess_significance, false_excess_rate, flag_excess

from conftest import RANDOM_STATE


def test_flag_excess_above_interval_only():
    obs = [100.0, 130.0, 119.0, np.nan, 0.0, 50.0]
    pred = [100.0] * 6
    lo, hi = [80.0] * 6, [120.0] * 6
    assert flag_excess(obs, pred, lo, hi).tolist() == [False, True, False, False, False, False]


def test_flag_excess_with_observed_error():
    flags = flag_excess([130.0, 200.0], [100.0, 100.0], [80, 80], [120, 120],
                        observed_err=[5.0, 5.0], n_sigma=3)
    assert flags.tolist() == [False, True]  # 130 - 15 < 120 but 200 - 15 > 120


def test_flag_excess_errors():
    with pytest.raises(ModelError, match="same length; got 2, 1, 2, 2"):
        flag_excess([1.0, 2.0], [1.0], [0.5, 1.0], [2.0, 3.0])
    with pytest.raises(ModelError, match="must contain its prediction"):
        flag_excess([1.0], [5.0], [0.5], [2.0])


def test_excess_significance():
    s = excess_significance([130.0], [100.0], [30.0], [0.0])
    assert s[0] == pytest.approx(1.0)


@pytest.fixture(scope="module")
def sim(sim_small):
    """The shared simulated catalogue (read-only)."""
    return sim_small


def test_false_excess_rate_table(sim):
    t = false_excess_rate(sim, target="irac4", sample="clean", confidence=0.9,
                          random_state=RANDOM_STATE, n_estimators=20, select_features=False)
    assert list(t["method"]) == ["tree_sem", "conformal", "qrf"]
    assert (t["n_no_disk"] > 0).all() and np.allclose(t["expected_rate"], 0.05)
    assert t["false_excess_rate"].between(0, 1).all()
    rate = t.set_index("method")["false_excess_rate"]
    # The standard error of the mean of the trees shrinks as 1/sqrt(n_trees): it cannot
    # give fewer false excesses than an interval calibrated on held-out residuals.
    assert rate["tree_sem"] >= rate["conformal"]


def test_false_excess_rate_errors(sim):
    with pytest.raises(ModelError, match="needs the column 'has_disk'"):
        false_excess_rate(sim.drop(columns="has_disk"), target="irac4")
    with pytest.raises(ModelError, match="reference must be 'observed' or 'truth'"):
        false_excess_rate(sim, target="irac4", reference="model")
    with pytest.raises(ModelError, match="methods must be among"):
        false_excess_rate(sim, target="irac4", methods=("jackknife",))
