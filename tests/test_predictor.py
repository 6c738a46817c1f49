"""SpitzerPredictor: training, row statuses, determinism and safe persistence."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from wise2spitzer.errors import ModelError
from wise2spitzer.predictor import SpitzerPredictor
from wise2spitzer.schema import STATUS_UPPER_LIMIT, STATUSES, VALUE_STATUSES, output_columns

from conftest import IRAC4_FIT, RANDOM_STATE

# The settings of the shared IRAC4 predictor, the target left to each call.
FAST = {k: v for k, v in IRAC4_FIT.items() if k != "target"}


@pytest.fixture(scope="module")
def sim(sim_small):
    """The shared simulated catalogue (read-only)."""
    return sim_small


@pytest.fixture(scope="module")
def fitted(irac4_predictor):
    """The shared IRAC4 predictor: ``SpitzerPredictor().fit(sim, target="irac4", **FAST)``."""
    return irac4_predictor


def _inside_rows(model, df, n):
    """First n rows of df the model predicts (status ok)."""
    ok = model.row_status(df) == "ok"
    return df[ok].head(n).copy()


def test_fit_records_card(fitted, sim):
    card = fitted.card
    assert fitted.target.key == "irac4" and fitted.sample == "clean"
    assert card["target"] == "irac4" and card["sample"] == "clean"
    assert 0 < card["n_train"] < len(sim)
    assert len(card["training_data_sha256"]) == 64
    assert set(card["features_selected"]) <= set(fitted.features)
    assert card["interval_method"] == "conformal" and card["form"] == "ratio"
    assert {"mae", "rmse", "r2", "mape", "mape_linear"} <= set(card["test_metrics"])
    assert 0 <= card["interval_coverage"]["coverage"] <= 1
    assert card["versions"]["scikit-learn"]
    assert card["hyperparameters"]["n_estimators"] == 15


def test_predict_catalog_keeps_every_row_in_order(fitted, sim):
    chunk = sim.sample(400, random_state=RANDOM_STATE)  # shuffled index on purpose
    out = fitted.predict_catalog(chunk)
    cols = output_columns("irac4")
    assert list(out.index) == list(chunk.index)
    assert list(out.columns[: chunk.shape[1]]) == list(chunk.columns)
    assert set(out[cols["status"]]) <= set(STATUSES)
    ok = out[cols["status"]].isin(VALUE_STATUSES)  # ok and extrapolated carry a value
    assert ok.sum() > 0
    pred, lo, hi = (out.loc[ok, cols[k]].to_numpy() for k in ("pred", "lo", "hi"))
    assert np.all((lo <= pred) & (pred <= hi) & (pred > 0))
    assert out.loc[~ok, [cols["pred"], cols["lo"]]].isna().all().all()
    # An upper limit keeps only its upper bound; no other status has any.
    limit = out[cols["status"]] == STATUS_UPPER_LIMIT
    assert (out.loc[limit, cols["hi"]] > 0).all()
    assert out.loc[~ok & ~limit, cols["hi"]].isna().all()
    # the input is untouched
    assert cols["pred"] not in chunk.columns


def test_predict_catalog_status_of_bad_rows(fitted, sim):
    upper_limit = _inside_rows(fitted, sim[sim["dwise4"].isna()], 1)  # SEIP 95% upper limit
    assert len(upper_limit) == 1
    rows = pd.concat([_inside_rows(fitted, sim, 7), upper_limit])
    rows.index = [f"r{i}" for i in range(len(rows))]
    rows.loc["r1", "wise3"] = np.nan  # not measured
    rows.loc["r2", "wise2"] = 0.0  # SEIP 0 = not measured
    rows.loc["r3", "wise1"] = -5.0  # negative flux
    rows.loc["r4", "wise4"] = np.inf
    rows.loc["r5", ["wise1", "wise2", "wise3", "wise4"]] = [1e9, 1e3, 1e7, 1.0]  # off the hull
    out = fitted.predict_catalog(rows)
    st = out["i4_pred_status"]
    # r7, a W4 upper limit, is a value as in the paper's training set
    assert st["r0"] == "ok" and st["r6"] == "ok" and st["r7"] == "ok"
    assert st["r1"] == "missing_feature" and st["r2"] == "missing_feature"
    assert st["r3"] == "bad_value" and st["r4"] == "bad_value"
    assert st["r5"] == "outside_domain"
    assert out.loc[["r1", "r2", "r3", "r4", "r5"], "i4_f_pred"].isna().all()


def test_non_numeric_value_is_bad(fitted, sim):
    rows = _inside_rows(fitted, sim, 3).reset_index(drop=True)
    rows["wise2"] = rows["wise2"].astype(object)
    rows.loc[1, "wise2"] = "n/a"
    out = fitted.predict_catalog(rows)
    assert list(out["i4_pred_status"]) == ["ok", "bad_value", "ok"]


def test_absent_column_warns_and_marks_every_row(fitted, sim):
    rows = sim.head(5).drop(columns=["wise1rchi2", "wise3"])
    with pytest.warns(UserWarning, match=r"lacks column\(s\) \['wise3', 'wise1rchi2'\]"):
        out = fitted.predict_catalog(rows)
    assert (out["i4_pred_status"] == "missing_feature").all()
    assert len(out) == 5 and out["i4_f_pred"].isna().all()


def test_duplicated_index_is_kept(fitted, sim):
    rows = pd.concat([sim.head(3), sim.head(3)])
    out = fitted.predict_catalog(rows)
    assert list(out.index) == list(rows.index)
    np.testing.assert_array_equal(out["i4_f_pred"].to_numpy()[:3], out["i4_f_pred"].to_numpy()[3:])


def test_empty_chunk(fitted, sim):
    out = fitted.predict_catalog(sim.head(0))
    assert len(out) == 0
    assert set(output_columns("irac4").values()) <= set(out.columns)


def test_interval_method_and_confidence(fitted, sim):
    rows = _inside_rows(fitted, sim, 50)
    narrow = fitted.predict_catalog(rows, confidence=0.5)
    wide = fitted.predict_catalog(rows, confidence=0.95)
    assert np.all(wide["i4_f_pred_hi"] >= narrow["i4_f_pred_hi"])
    with pytest.raises(ModelError, match="confidence must lie in"):
        fitted.predict_catalog(rows, confidence=1.5)
    with pytest.raises(ModelError, match="'qrf' was not fitted"):
        fitted.predict_catalog(rows, method="qrf")


def test_same_seed_same_predictions_and_roundtrip(fitted, sim, tmp_path):
    again = SpitzerPredictor().fit(sim, target="irac4", random_state=RANDOM_STATE, **FAST)
    a = fitted.predict_catalog(sim)
    b = again.predict_catalog(sim)
    pd.testing.assert_frame_equal(a, b)
    assert again.card["training_data_sha256"] == fitted.card["training_data_sha256"]
    path = fitted.save(tmp_path / "m" / "irac4.skops")
    loaded = SpitzerPredictor.load(path)
    pd.testing.assert_frame_equal(loaded.predict_catalog(sim), a)
    assert loaded.card == fitted.card and loaded.features == fitted.features


def test_load_refuses_untrusted_types(tmp_path):
    import skops.io as sio
    from sklearn.preprocessing import FunctionTransformer

    path = tmp_path / "evil.skops"
    sio.dump(FunctionTransformer(func=os.system), path)
    with pytest.raises(ModelError, match="outside the allow-list"):
        SpitzerPredictor.load(path)
    junk = tmp_path / "junk.skops"
    junk.write_bytes(b"not a zip file")
    with pytest.raises(ModelError, match="is not a wise2spitzer model file"):
        SpitzerPredictor.load(junk)


def test_load_refuses_other_objects(tmp_path):
    import skops.io as sio
    from sklearn.linear_model import LinearRegression

    path = tmp_path / "lr.skops"
    sio.dump(LinearRegression(), path)
    with pytest.raises(ModelError, match="not a SpitzerPredictor"):
        SpitzerPredictor.load(path)


def test_fit_errors(sim):
    with pytest.raises(ModelError, match="sample must be one of"):
        SpitzerPredictor().fit(sim, target="irac4", sample="dirty", **FAST)
    with pytest.raises(ModelError, match="preset must be one of"):
        SpitzerPredictor().fit(sim, target="irac4", preset="slow")
    with pytest.raises(ModelError, match="not fitted"):
        SpitzerPredictor().predict_catalog(sim)
    no_target = sim.drop(columns=["m1_f_psf"])
    with pytest.raises(ModelError, match="m1_f_psf"):
        SpitzerPredictor().fit(no_target, target="mips1", **FAST)
