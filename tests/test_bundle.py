"""Sample membership is part of the domain; one bundle answers every row with its sample's model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from wise2spitzer.bundle import PredictorBundle, model_column
from wise2spitzer.cli import main
from wise2spitzer.coverage import issued_coverage
from wise2spitzer.datasets import simulate_seip
from wise2spitzer.samples import clean_mask
from wise2spitzer.schema import STATUS_OK, STATUS_OUTSIDE_SAMPLE, output_columns

SEED = 0
FIT = dict(preset="none", random_state=SEED, n_estimators=10, test_size=None)


@pytest.fixture(scope="module")
def sim():
    return simulate_seip(4000, random_state=SEED)


@pytest.fixture(scope="module")
def new_sim():
    """A catalogue the models never saw (another seed)."""
    return simulate_seip(3000, random_state=SEED + 7)


@pytest.fixture(scope="module")
def bundle(sim):
    return PredictorBundle.fit(sim, targets=["mips1", "irac4"], samples=["clean", "unclean"],
                               **FIT)


def test_clean_model_never_marks_a_non_clean_row_ok(bundle, new_sim):
    clean = clean_mask(new_sim).to_numpy()
    assert 0 < clean.sum() < len(clean)
    for t in ("mips1", "irac4"):
        model = next(p for p in bundle.members_for(t) if p.sample == "clean")
        status = model.predict_catalog(new_sim)[output_columns(t)["status"]].to_numpy()
        assert not np.any(status[~clean] == STATUS_OK)
        assert np.all(status[~clean] != "")
        # Non-clean rows that would otherwise be predicted are the ones now outside the sample.
        assert np.any(status[~clean] == STATUS_OUTSIDE_SAMPLE)
        assert np.any(status[clean] == STATUS_OK)
        assert not np.any(status[clean] == STATUS_OUTSIDE_SAMPLE)


def test_clean_model_without_flags_warns_and_issues_nothing(bundle, new_sim):
    model = next(p for p in bundle.members_for("irac4") if p.sample == "clean")
    with pytest.warns(UserWarning, match=r"lacks column\(s\) \['cc_flags'\].*outside_sample"):
        out = model.predict_catalog(new_sim.drop(columns=["cc_flags"]))
    status = out["i4_pred_status"]
    assert not (status == STATUS_OK).any() and (status == STATUS_OUTSIDE_SAMPLE).any()


def test_bundle_answers_each_row_with_the_model_of_its_sample(bundle, new_sim):
    out = bundle.predict_catalog(new_sim)
    assert len(out) == len(new_sim) and out.index.equals(new_sim.index)
    clean = clean_mask(new_sim).to_numpy()
    for t in ("mips1", "irac4"):
        cols = output_columns(t)
        which = out[model_column(t)].to_numpy()
        assert set(which[clean]) == {"clean"} and set(which[~clean]) == {"unclean"}
        for p in bundle.members_for(t):
            rows = which == p.sample
            # The unclean model answers the non-clean rows with its interval calibrated on
            # its non-clean training rows; the clean model answers as it is.
            view = bundle.answering(p)
            assert (view is p) == (p.sample == "clean")
            alone = view.predict_catalog(new_sim.loc[rows])
            for c in (cols["pred"], cols["lo"], cols["hi"], cols["status"]):
                np.testing.assert_array_equal(out.loc[rows, c].to_numpy(), alone[c].to_numpy())
        # Both bands in one pass, and no issued row from the clean model is non-clean.
        ok = out[cols["status"]].to_numpy() == STATUS_OK
        assert not np.any(ok & ~clean & (which == "clean"))
        valued = np.isin(out[cols["status"]].to_numpy(), [STATUS_OK, "upper_limit"])
        assert valued[~clean].mean() > 0.3


def test_bundle_fast_path_matches(bundle, new_sim):
    slow = bundle.predict_catalog(new_sim)
    fast = bundle.fast().predict_catalog(new_sim)
    for t in ("mips1", "irac4"):
        cols = output_columns(t)
        assert (slow[cols["status"]] == fast[cols["status"]]).all()
        assert (slow[model_column(t)] == fast[model_column(t)]).all()
        np.testing.assert_allclose(fast[cols["pred"]], slow[cols["pred"]], rtol=1e-5)


def test_bundle_refuses_two_models_of_one_sample(bundle):
    twice = bundle.members_for("mips1")[:1] * 2
    with pytest.raises(Exception, match="one model per target and sample"):
        PredictorBundle(twice)


def test_issued_coverage_names_every_population(bundle, new_sim):
    out = bundle.predict_catalog(new_sim)
    table = issued_coverage(out, "irac4", min_rows=50)
    pops = set(zip(table["population"], table["group"], strict=True))
    assert ("sample", "clean") in pops and ("sample", "non-clean") in pops
    assert {("observed flux", f"Q{i}") for i in range(1, 5)} <= pops
    assert ("model", "unclean") in pops and ("status", "ok") in pops
    assert any(p == "counterpart SNR" for p, _ in pops)
    issued = table.set_index(["population", "group"]).loc[("all issued", "all")]
    lo = out["i4_f_pred_lo"].notna() & out["i4_f_ap1"].gt(0)
    assert issued["n"] == lo.sum()
    # A verdict only where the population is big enough.
    small = table["n"] < 50
    assert table.loc[small, "within_tolerance"].isna().all()
    assert table.loc[small, "consistent"].isna().all()
    big = ~small
    assert (table.loc[big, "coverage_lo95"] <= table.loc[big, "coverage"]).all()
    assert (table.loc[big, "coverage"] <= table.loc[big, "coverage_hi95"]).all()


@pytest.mark.parametrize(("n", "k", "strict", "consistent"), [
    (300, 276, False, True),    # 0.92 on 300 rows: outside 0.93-0.97, within chance
    (5000, 4600, False, False),  # 0.92 on 5000 rows: a real miss
    (300, 285, True, True),     # 0.95
])
def test_issued_coverage_separates_chance_from_a_miss(n, k, strict, consistent):
    obs = np.full(n, 100.0)
    obs[k:] = 1000.0  # outside [50, 200]
    predicted = pd.DataFrame({"i4_f_ap1": obs, "i4_f_pred": 100.0, "i4_f_pred_lo": 50.0,
                              "i4_f_pred_hi": 200.0, "i4_pred_status": STATUS_OK})
    row = issued_coverage(predicted, "irac4").set_index(["population", "group"]).loc[
        ("all issued", "all")]
    assert row["coverage"] == pytest.approx(k / n)
    assert bool(row["within_tolerance"]) is strict and bool(row["consistent"]) is consistent
    assert row["coverage_lo95"] < k / n < row["coverage_hi95"]


def test_train_cli_writes_a_bundle_and_predict_writes_both_bands(tmp_path, capsys):
    data = tmp_path / "train.parquet"
    simulate_seip(3000, random_state=SEED).to_parquet(data)
    model = tmp_path / "both.skops"
    rc = main(["train", "--data", str(data), "--target", "mips1", "--target", "irac4",
               "--preset", "none", "--n-estimators", "8", "--out", str(model)])
    assert rc == 0, capsys.readouterr().err
    assert "bundle of 4 models written" in capsys.readouterr().out
    b = PredictorBundle.load(model)
    assert sorted((p.target.key, p.sample) for p in b.members) == [
        ("irac4", "clean"), ("irac4", "unclean"), ("mips1", "clean"), ("mips1", "unclean")]
    inp = tmp_path / "in.csv"
    simulate_seip(500, random_state=SEED + 3).to_csv(inp, index=False)
    out = tmp_path / "out.parquet"
    rc = main(["predict", "--model", str(model), str(inp), str(out)])
    assert rc == 0, capsys.readouterr().err
    got = pd.read_parquet(out)
    assert len(got) == 500
    for t in ("mips1", "irac4"):
        assert set(output_columns(t).values()) <= set(got.columns)
        assert set(got[model_column(t)]) <= {"clean", "unclean"}


def test_unclean_member_is_calibrated_on_its_non_clean_rows(bundle, sim):
    from wise2spitzer.training import training_table

    for t in ("mips1", "irac4"):
        p = next(m for m in bundle.members_for(t) if m.sample == "unclean")
        X, _, _ = training_table(sim, target=t, sample="unclean", feature_set=p.feature_set)
        nonclean = ~clean_mask(sim.loc[X.index]).to_numpy()
        view = bundle.answering(p)
        scores = np.concatenate(view.regressor.conformity_scores_)
        assert len(scores) == nonclean.sum() == p.card["nonclean_calibration_rows"]
        expected = np.sort(np.asarray(p.regressor.oof_score_)[nonclean])
        np.testing.assert_array_equal(np.sort(scores), expected)
        # The forest is shared and the member itself keeps the calibration on all its rows.
        assert view.regressor.pipeline_ is p.regressor.pipeline_
        assert len(np.concatenate(p.regressor.conformity_scores_)) == len(X)
        # A lone unclean model answers clean rows too, so it keeps the pooled calibration.
        assert PredictorBundle([p]).answering(p) is p


def test_a_bad_non_clean_calibration_is_refused_on_load(bundle):
    import copy

    from wise2spitzer.errors import ModelError
    from wise2spitzer.modelfile import validate_predictor

    p = copy.deepcopy(next(m for m in bundle.members_for("irac4") if m.sample == "unclean"))
    validate_predictor(p)
    p.nonclean_calibration[0] = np.array([np.nan])
    with pytest.raises(ModelError, match=r"nonclean_calibration\[0\] holds NaN"):
        validate_predictor(p)
    p.nonclean_calibration = p.nonclean_calibration[:1]
    with pytest.raises(ModelError, match="one array per conformal bin"):
        validate_predictor(p)
