"""Metrics, the ET / LR / raw WISE evaluation table, learning curves and interval coverage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from wise2spitzer.errors import ModelError
from wise2spitzer.evaluation import (
    METRICS,
    evaluate,
    evaluate_intervals,
    interval_coverage,
    learning_curve,
    raw_wise_estimate,
    regression_metrics,
    training_table,
)

from conftest import RANDOM_STATE

# Boruta is exercised in test_predictor; here it would only add time.
FAST = {"n_estimators": 15, "select_features": False, "feature_set": "flux+colours"}


@pytest.fixture(scope="module")
def sim(sim_small):
    """The shared simulated catalogue (read-only)."""
    return sim_small


def test_regression_metrics_on_log_flux():
    y = np.array([10.0, 100.0, 1000.0, 10000.0])
    perfect = regression_metrics(y, y)
    assert perfect["r2"] == 1.0 and perfect["mae"] == 0.0 and perfect["mape_linear"] == 0.0
    off = regression_metrics(y, y * 10**0.1)  # every prediction 0.1 dex high
    assert off["mae"] == pytest.approx(0.1) and off["rmse"] == pytest.approx(0.1)
    # MAPE of the log10 values: |0.1| / log10(y), averaged
    assert off["mape"] == pytest.approx(np.mean(0.1 / np.log10(y)))
    assert off["mape_linear"] == pytest.approx(10**0.1 - 1)
    assert off["r2"] < 1


def test_regression_metrics_errors():
    with pytest.raises(ModelError, match="y_pred must hold finite fluxes > 0"):
        regression_metrics([1.0, 2.0], [1.0, -2.0])
    with pytest.raises(ModelError, match="equal length; got 2 and 3"):
        regression_metrics([1.0, 2.0], [1.0, 2.0, 3.0])


def test_raw_wise_estimate_uses_zero_point_ratio():
    df = pd.DataFrame({"wise3": [100.0, 0.0], "wise4": [1000.0, np.nan]})
    m1 = raw_wise_estimate(df, "mips1")
    i4 = raw_wise_estimate(df, "irac4")
    assert m1.iloc[0] == pytest.approx(1000.0 * 7.17 / 8.363) and np.isnan(m1.iloc[1])
    assert i4.iloc[0] == pytest.approx(100.0 * 64.9 / 31.674) and np.isnan(i4.iloc[1])
    with pytest.raises(ModelError, match="needs column 'wise4'"):
        raw_wise_estimate(df.drop(columns="wise4"), "mips1")


def test_training_table_keeps_measured_labelled_rows(sim):
    X, y, fs = training_table(sim, target="irac4", sample="unclean")
    assert fs == "paper+colours" and list(X.index) == list(y.index)
    assert (y > 0).all() and np.isfinite(X.to_numpy()).all()
    assert (X[["wise1", "wise2", "wise3", "wise4"]] > 0).all().all()
    with pytest.raises(ModelError, match="no labelled 'unclean' rows"):
        training_table(sim.assign(i4_f_ap1=np.nan), target="irac4", sample="unclean")


def test_evaluate_table(sim):
    table = evaluate(sim, target="irac4", sample="clean", cv=3, preset="none",
                     random_state=RANDOM_STATE, **FAST)
    first = ["target", "sample", "model", "split", "n_train", "n_test", *METRICS]
    assert list(table.columns[: len(first)]) == first
    assert {f"{m}_std" for m in METRICS} <= set(table.columns)
    assert list(zip(table["split"], table["model"], strict=True)) == [
        (s, m) for s in ("cv", "test") for m in ("ET", "LR", "raw WISE")]
    test = table[table["split"] == "test"].set_index("model")
    # The model must beat the rescaled WISE flux it exists to correct.
    assert test.loc["ET", "r2"] > test.loc["raw WISE", "r2"]
    assert test.loc["ET", "mae"] < test.loc["raw WISE", "mae"]
    assert table.loc[table["split"] == "cv", "r2_std"].notna().all()
    assert table.loc[table["split"] == "test", "r2_std"].isna().all()


def test_evaluate_same_seed_same_table(sim):
    # The reproduce report and `wise2spitzer evaluate` must print equal numbers.
    small = {"target": "mips1", "sample": "unclean", "cv": 2, "preset": "none",
             "random_state": RANDOM_STATE, "n_estimators": 5, "select_features": False,
             "feature_set": "flux"}
    pd.testing.assert_frame_equal(evaluate(sim, **small), evaluate(sim, **small))


def test_evaluate_errors(sim):
    with pytest.raises(ModelError, match="cv must be an integer >= 2; got 1"):
        evaluate(sim, target="irac4", cv=1)
    with pytest.raises(ModelError, match="preset must be one of"):
        evaluate(sim, target="irac4", cv=3, preset="turbo")
    tiny = sim[sim["m1_f_psf"] > 0].head(15)
    with pytest.raises(ModelError, match="too few for cv=10"):
        evaluate(tiny, target="mips1", sample="unclean", cv=10)


def test_interval_coverage_per_bin():
    y = np.arange(1.0, 9.0)
    iv = np.column_stack([y * 0.9, y * 1.1])
    iv[0] = [2.0, 3.0]  # the faintest row is missed
    t = interval_coverage(y, iv, method="m", confidence=0.9)
    assert list(t["bin"]) == ["all", "Q1", "Q2", "Q3", "Q4"]
    assert t["n"].tolist() == [8, 2, 2, 2, 2]
    assert t.loc[0, "coverage"] == pytest.approx(7 / 8)
    assert t.loc[1, "coverage"] == pytest.approx(0.5) and (t.loc[2:, "coverage"] == 1).all()
    assert t.loc[2, "width_dex"] == pytest.approx(np.log10(1.1 / 0.9))
    with pytest.raises(ModelError, match=r"shape \(n, 2\)"):
        interval_coverage(y, iv[:, :1])


def test_evaluate_intervals_against_truth(sim):
    table = evaluate_intervals(sim, target="irac4", sample="clean", truth=True,
                               methods=("tree_sem", "conformal"), confidences=(0.68, 0.95),
                               random_state=RANDOM_STATE, **FAST)
    overall = table[table["bin"] == "all"].set_index(["method", "confidence", "reference"])
    assert len(overall) == 2 * 2 * 2
    cov = overall["coverage"]
    # wider level, wider interval, no lower coverage
    for m in ("tree_sem", "conformal"):
        assert cov[(m, 0.95, "observed")] >= cov[(m, 0.68, "observed")]
    # the paper's standard error of the mean is far narrower than the calibrated interval
    assert (overall.loc[("tree_sem", 0.95, "observed"), "width_dex"]
            < overall.loc[("conformal", 0.95, "observed"), "width_dex"])
    with pytest.raises(ModelError, match="methods must be among"):
        evaluate_intervals(sim, target="irac4", methods=("bootstrap",))
    with pytest.raises(ModelError, match="needs the noise-free column 'true_i4_f_ap1'"):
        evaluate_intervals(sim.drop(columns="true_i4_f_ap1"), target="irac4", truth=True)


def test_evaluate_intervals_cross_validated(sim):
    table = evaluate_intervals(sim, target="irac4", sample="clean", cv=3,
                               methods=("conformal",), confidences=(0.9,),
                               random_state=RANDOM_STATE, **FAST)
    n_rows = len(training_table(sim, target="irac4", sample="clean")[0])
    assert (table["n_heldout"] == n_rows).all()  # every row held out exactly once
    assert table.loc[table["bin"] == "all", "n"].item() == n_rows


def test_learning_curve(sim):
    lc = learning_curve(sim, target="irac4", sample="clean", train_sizes=(0.3, 1.0), cv=2,
                        random_state=RANDOM_STATE, **FAST)
    assert list(lc.columns) == ["n_train", "split", "r2", "r2_std", "mape", "mape_std"]
    assert len(lc) == 4 and lc["n_train"].is_monotonic_increasing
    valid = lc[lc["split"] == "validation"]
    assert valid["r2"].iloc[-1] >= valid["r2"].iloc[0] - 0.05
