"""The detection floor: rows whose interval reaches the training sample's faintest fluxes get
only an upper limit (status ``upper_limit``), and that upper limit holds on the simulation."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from wise2spitzer.batch import FastPredictor
from wise2spitzer.cli import main
from wise2spitzer.coverage import issued_coverage, unlabelled_truth_coverage
from wise2spitzer.detection import (
    DEFAULT_MARGINS,
    FLOOR_QUANTILE,
    apply_detection_limit,
    check_margin,
    detection_floor,
)
from wise2spitzer.errors import ModelError
from wise2spitzer.predictor import SpitzerPredictor
from wise2spitzer.schema import (
    STATUS_OK,
    STATUS_OUTSIDE_DOMAIN,
    STATUS_UPPER_LIMIT,
    STATUSES,
    output_columns,
)

from conftest import RANDOM_STATE

M1 = output_columns("mips1")


def test_rule_turns_only_faint_valued_rows_into_upper_limits():
    status = np.array([STATUS_OK, STATUS_OK, STATUS_OUTSIDE_DOMAIN, STATUS_OK], dtype=object)
    pred = np.array([300.0, 3000.0, np.nan, 900.0])
    lo = np.array([100.0, 2000.0, np.nan, 499.0])
    hi = np.array([800.0, 5000.0, np.nan, 1500.0])
    new = apply_detection_limit(status, pred, lo, hi, floor=100.0, margin=5.0)
    assert list(new) == [STATUS_UPPER_LIMIT, STATUS_OK, STATUS_OUTSIDE_DOMAIN,
                         STATUS_UPPER_LIMIT]
    assert np.isnan(pred[[0, 3]]).all() and np.isnan(lo[[0, 3]]).all()
    assert list(hi)[:2] == [800.0, 5000.0] and hi[3] == 1500.0  # the limit is kept
    assert pred[1] == 3000.0 and lo[1] == 2000.0
    assert list(status) == [STATUS_OK, STATUS_OK, STATUS_OUTSIDE_DOMAIN, STATUS_OK]
    assert STATUS_UPPER_LIMIT in STATUSES


def test_margin_zero_turns_the_rule_off():
    status = np.array([STATUS_OK], dtype=object)
    lo = np.array([1.0])
    out = apply_detection_limit(status, np.array([2.0]), lo, np.array([3.0]), floor=100.0,
                                margin=0.0)
    assert list(out) == [STATUS_OK] and lo[0] == 1.0


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf"), "five", True, None])
def test_bad_margins_are_refused_by_name(bad):
    with pytest.raises(ValueError, match="detection margin must be a finite number >= 0"):
        check_margin(bad)


def test_floor_is_the_low_quantile_of_positive_training_fluxes():
    y = np.concatenate([np.arange(1.0, 1001.0), [0.0, np.nan, -5.0]])
    assert detection_floor(y) == pytest.approx(np.quantile(np.arange(1.0, 1001.0),
                                                           FLOOR_QUANTILE))
    with pytest.raises(ValueError, match="no positive training flux"):
        detection_floor([0.0, np.nan])


def test_fit_stores_floor_and_default_margin(mips1_predictor):
    p = mips1_predictor
    assert p.detection_margin == DEFAULT_MARGINS["mips1"] == 5.0
    assert p.detection_floor > 0
    card = p.card["detection_limit"]
    assert card["floor_ujy"] == pytest.approx(p.detection_floor)
    assert card["upper_limit_below_ujy"] == pytest.approx(5.0 * p.detection_floor)
    with pytest.raises(ModelError, match="detection margin"):
        SpitzerPredictor().fit(pd.DataFrame(), target="mips1", detection_margin=-2)


def test_predictions_respect_the_floor_on_both_paths(mips1_predictor, sim_small):
    p = mips1_predictor
    out = p.predict_catalog(sim_small)
    status = out[M1["status"]].astype(str).to_numpy()
    limit = status == STATUS_UPPER_LIMIT
    ok = status == STATUS_OK
    assert limit.any() and ok.any()
    assert out.loc[limit, M1["pred"]].isna().all() and out.loc[limit, M1["lo"]].isna().all()
    assert (out.loc[limit, M1["hi"]] > 0).all()
    edge = p.detection_margin * p.detection_floor
    assert (out.loc[ok, M1["lo"]] >= edge).all()
    # Rows turned into upper limits are exactly the valued rows below the edge: with the rule
    # off, the same rows carry a value whose lower bound is below it.
    off = copy.deepcopy(p)
    off.detection_margin = 0.0
    raw = off.predict_catalog(sim_small)
    assert (raw.loc[limit, M1["lo"]] < edge).all()
    assert np.allclose(raw.loc[limit, M1["hi"]], out.loc[limit, M1["hi"]])
    # The fast path applies the same rule.
    fast = FastPredictor(p).predict_columns(sim_small, method="conformal")
    assert (np.asarray(fast[M1["status"]], dtype=str) == status).all()
    assert np.allclose(fast[M1["hi"]], out[M1["hi"]], equal_nan=True)
    assert np.allclose(fast[M1["pred"]], out[M1["pred"]], equal_nan=True)


def test_old_model_without_a_floor_predicts_as_before(mips1_predictor, sim_head):
    old = copy.deepcopy(mips1_predictor)
    del old.detection_floor, old.detection_margin
    out = old.predict_catalog(sim_head)
    assert STATUS_UPPER_LIMIT not in set(out[M1["status"]].astype(str))


def test_model_file_with_a_bad_floor_is_refused(mips1_predictor, tmp_path, capsys):
    bad = copy.deepcopy(mips1_predictor)
    bad.detection_floor = float("nan")
    path = bad.save(tmp_path / "bad.skops")
    with pytest.raises(ModelError, match="detection_floor must be a finite number > 0"):
        SpitzerPredictor.load(path)
    code = main(["describe-model", str(path)])
    assert code == 2
    assert "detection_floor" in capsys.readouterr().err


def test_describe_model_names_the_upper_limit_edge(mips1_model_file, capsys):
    assert main(["describe-model", str(mips1_model_file)]) == 0
    text = capsys.readouterr().out
    assert "upper limits: rows whose lower bound is below 5 x the detection floor" in text


def test_train_refuses_a_negative_margin(sim_head, tmp_path, capsys):
    data = tmp_path / "sim.csv"
    sim_head.to_csv(data, index=False)
    code = main(["train", "--data", str(data), "--target", "irac4", "--out",
                 str(tmp_path / "m.skops"), "--floor-margin", "-1"])
    err = capsys.readouterr().err
    assert code == 2 and "--floor-margin must be a number >= 0; got -1" in err
    assert not (tmp_path / "m.skops").exists()


def test_upper_limits_are_measured_one_sided():
    predicted = pd.DataFrame({
        "m1_f_psf": [100.0, 200.0, 5000.0, 50.0],
        "true_m1_f_psf": [np.nan, np.nan, np.nan, 40.0],
        M1["pred"]: [np.nan, np.nan, np.nan, np.nan],
        M1["lo"]: [np.nan, np.nan, np.nan, np.nan],
        M1["hi"]: [150.0, 150.0, 6000.0, 60.0],
        M1["status"]: [STATUS_UPPER_LIMIT] * 4,
    })
    table = issued_coverage(predicted, "mips1", min_rows=1)
    row = table[table["group"] == "upper_limit (obs <= hi)"].iloc[0]
    assert row["n"] == 4 and row["coverage"] == pytest.approx(0.75)
    assert not row["within_tolerance"]  # 0.75 is far below the upper tail's 0.975
    truth = predicted.assign(m1_f_psf=np.nan, true_m1_f_psf=[100.0, 200.0, 10.0, 40.0])
    never = unlabelled_truth_coverage(truth, "mips1")
    row = never[never["status"] == "upper_limit (true <= hi)"].iloc[0]
    assert row["n"] == 4 and row["coverage_truth"] == pytest.approx(0.75)


@pytest.mark.slow
def test_never_labelled_values_hold_against_the_simulated_truth():
    """The measurement behind the MIPS1 margin, on a catalogue the model never saw.

    Without the rule, the values given to never-labelled MIPS1 rows (sources Spitzer did not
    detect or did not observe) cover their simulated true flux far below 95%; with it, the
    rows that keep a value are covered near the nominal level and the upper limits hold.
    """
    from wise2spitzer.datasets import simulate_seip

    train = simulate_seip(12000, random_state=RANDOM_STATE)
    new = simulate_seip(12000, random_state=RANDOM_STATE + 1)
    p = SpitzerPredictor().fit(train, target="mips1", sample="unclean", preset="none",
                               n_estimators=60, test_size=None, random_state=RANDOM_STATE)
    with_rule = unlabelled_truth_coverage(p.predict_catalog(new), "mips1").set_index("status")
    off = copy.deepcopy(p)
    off.detection_margin = 0.0
    without = unlabelled_truth_coverage(off.predict_catalog(new), "mips1").set_index("status")
    assert without.loc["ok", "coverage_truth"] < 0.6
    assert without.loc["ok", "median_pred_over_truth"] > 3
    assert with_rule.loc["ok", "n"] >= 100
    assert 0.88 <= with_rule.loc["ok", "coverage_truth"] <= 1.0
    assert 0.5 <= with_rule.loc["ok", "median_pred_over_truth"] <= 2
    limits = with_rule.loc["upper_limit (true <= hi)"]
    assert limits["n"] > with_rule.loc["ok", "n"] and limits["coverage_truth"] >= 0.975
