"""One study, one domain: the report counts what the predictor decides, and
``wise2spitzer evaluate`` and :func:`wise2spitzer.study.run_evaluation` give the same tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from wise2spitzer.cli import main
from wise2spitzer.datasets import simulate_seip
from wise2spitzer.predictor import SpitzerPredictor
from wise2spitzer.report import reproduce, sample_flow
from wise2spitzer.report.tables import predictable_rows, quality_cut_table
from wise2spitzer.samples import SAMPLES, labelled_mask, sample_mask
from wise2spitzer.schema import STATUS_OK, WISE_FLUX_COLUMNS
from wise2spitzer.study import run_evaluation, study_settings, training_domain

N_ROWS = 1200


@pytest.fixture(scope="module")
def catalogue():
    return simulate_seip(N_ROWS, random_state=5)


@pytest.fixture(scope="module")
def run(tmp_path_factory, catalogue):
    out = tmp_path_factory.mktemp("study")
    return reproduce(catalogue, out=out, preset="none", quick=True, random_state=0, n_jobs=1,
                     targets=("mips1",), formats=("png",), dpi=50, n_sed=0,
                     compare_forms=False)


def test_inside_hull_counts_are_what_the_saved_predictor_decides(run, catalogue):
    flow = pd.read_csv(run.out / "sample_counts.csv", keep_default_na=False)
    flow = flow.set_index(["sample", "step"])["n"]
    for sample in ("clean", "unclean"):
        model = SpitzerPredictor.load(run.out / "models" / f"mips1_{sample}.skops")
        ok = model.row_status(catalogue) == STATUS_OK
        unlabelled = (sample_mask(catalogue, sample).to_numpy()
                      & ~labelled_mask(catalogue, "mips1").to_numpy())
        expected = int((ok & unlabelled).sum())
        assert expected > 0
        assert flow[(sample, "mips1 unlabelled inside hull")] == expected
        assert run.counts.set_index(["sample", "step"])["n"][
            (sample, "mips1 unlabelled inside hull")] == expected


def test_quality_cuts_count_with_the_saved_clean_predictor(run, catalogue):
    model = SpitzerPredictor.load(run.out / "models" / "mips1_clean.skops")
    # The quality cuts count the rows given a value: status ok after prediction (inside the
    # hull, every feature, not an upper limit).
    status = model.predict_catalog(catalogue)["m1_pred_status"].astype(str).to_numpy()
    ok = pd.Series(status == STATUS_OK, index=catalogue.index)
    saved = pd.read_csv(run.out / "quality_cuts_mips1.csv")
    again = quality_cut_table(catalogue, target="mips1", predictable=ok)
    pd.testing.assert_frame_equal(saved, again, check_dtype=False)
    assert predictable_rows(catalogue, target="mips1", sample="clean",
                            predictor=model, valued=True).equals(ok)
    inside = pd.Series(model.row_status(catalogue) == STATUS_OK, index=catalogue.index)
    assert predictable_rows(catalogue, target="mips1", sample="clean",
                            predictor=model).equals(inside)
    assert (inside | ~ok).all() and inside.sum() >= ok.sum()


def test_sample_flow_without_models_uses_the_hull_a_model_would_have(catalogue):
    flow = sample_flow(catalogue, targets=("irac4",)).set_index(["sample", "step"])["n"]
    dom = training_domain(catalogue, target="irac4", sample="clean")
    inside = dom.contains(catalogue[list(WISE_FLUX_COLUMNS)])
    unlabelled = (sample_mask(catalogue, "clean").to_numpy()
                  & ~labelled_mask(catalogue, "irac4").to_numpy())
    assert flow[("clean", "irac4 unlabelled inside hull")] == int((inside & unlabelled).sum())


def test_study_settings_are_the_preset_with_overrides():
    s = study_settings("none", quick=True, cv=4)
    assert s["cv"] == 4 and s["tuning"] == "none" and s["interval_cv"] is None
    assert study_settings("fast")["interval_cv"] == 5
    assert SAMPLES == ("clean", "unclean", "all")


@pytest.fixture(scope="module")
def small_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("cat") / "cat.csv"
    simulate_seip(900, random_state=11).to_csv(path, index=False)
    return path


def test_evaluate_command_and_run_evaluation_give_the_same_tables(small_csv, tmp_path, capsys):
    out = tmp_path / "m.csv"
    assert main(["evaluate", "--data", str(small_csv), "--target", "irac4", "--preset", "none",
                 "--cv", "2", "--n-estimators", "8", "--no-select-features", "--intervals",
                 "--random-state", "3", "--n-jobs", "1", "--out", str(out)]) == 0
    capsys.readouterr()
    df = pd.read_csv(small_csv)
    res = run_evaluation(df, target="irac4", sample="clean", preset="none", cv=2,
                         intervals=True, random_state=3, n_jobs=1, n_estimators=8,
                         select_features=False)
    assert res.note is None
    assert out.read_text() == res.metrics.to_csv(index=False)
    cov = out.with_name("m_coverage.csv")
    assert cov.read_text() == res.coverage.to_csv(index=False)
    assert np.isfinite(res.metrics["r2"]).all()
