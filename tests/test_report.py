"""The reproduce report: every output written, tables consistent with the library, labels."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from wise2spitzer.errors import CatalogError, ModelError
from wise2spitzer.evaluation import evaluate
from wise2spitzer.report import (
    _QUICK,
    REPRODUCE_PRESETS,
    quality_cut_analysis,
    quality_cut_table,
    reproduce,
    sample_flow,
)
from wise2spitzer.schema import STATUSES, VALUE_STATUSES, output_columns

from conftest import RANDOM_STATE

METRIC_COLUMNS = ["target", "sample", "model", "split", "n_train", "n_test", "mae", "rmse",
                  "r2", "mape", "mape_linear"]


@pytest.fixture(scope="module")
def catalogue(sim_head):
    """The first rows of the shared simulated catalogue (read-only)."""
    return sim_head


@pytest.fixture(scope="module")
def run(tmp_path_factory, catalogue):
    """One quick reproduce run (tens of seconds): every test that uses it is marked slow."""
    out = tmp_path_factory.mktemp("repro")
    res = reproduce(catalogue, out=out, preset="none", quick=True, random_state=RANDOM_STATE,
                    n_jobs=1, formats=("png",), dpi=60, n_sed=1, compare_forms=False)
    return res


@pytest.mark.slow
def test_metrics_csv_has_every_target_sample_model_split(run):
    m = pd.read_csv(run.out / "metrics.csv")
    assert list(m.columns[: len(METRIC_COLUMNS)]) == METRIC_COLUMNS
    assert len(m) == 2 * 2 * 3 * 2
    combos = set(zip(m["target"], m["sample"], m["model"], m["split"], strict=True))
    assert len(combos) == len(m)
    assert set(m["model"]) == {"ET", "LR", "raw WISE"} and set(m["split"]) == {"cv", "test"}
    assert set(m["sample"]) == {"clean", "unclean"} and set(m["target"]) == {"mips1", "irac4"}


@pytest.mark.slow
def test_metrics_equal_evaluation_evaluate(run, catalogue):
    """reproduce does not recompute scores: they are evaluation.evaluate's, to the last bit."""
    m = pd.read_csv(run.out / "metrics.csv")
    direct = evaluate(catalogue, target="irac4", sample="clean", cv=_QUICK["cv"], preset="none",
                      random_state=RANDOM_STATE, n_jobs=1, **_QUICK["regressor_params"])
    mine = m[(m["target"] == "irac4") & (m["sample"] == "clean")].reset_index(drop=True)
    for col in ("n_train", "n_test", "mae", "rmse", "r2", "mape", "mape_linear"):
        np.testing.assert_allclose(mine[col].to_numpy(float), direct[col].to_numpy(float),
                                   rtol=1e-12, err_msg=col)


@pytest.mark.slow
def test_report_files_tables_and_simulated_labels(run):
    md = (run.out / "report.md").read_text()
    for heading in ("Samples (paper Fig. 2)", "Scores (paper Table 2)", "Prediction intervals",
                    "What it means", "Figures"):
        assert heading in md
    assert md.startswith("# ") and "SIMULATED DATA" in md.splitlines()[0]
    figures = re.findall(r"!\[.*?\]\((figures/[^)]+\.png)\)", md)
    assert len(figures) >= 8
    for f in figures:
        assert (run.out / f).read_bytes()[:4] == b"\x89PNG"
    captions = re.findall(r"^\*Figure \d+\. (.*)\*$", md, flags=re.MULTILINE)
    assert len(captions) == len(figures)
    assert all(c.startswith("Simulated data.") for c in captions)
    # Every section heading that shows numbers or figures says the data was simulated.
    for h in re.findall(r"^## (.*)$", md, flags=re.MULTILINE):
        if h not in ("What it means", "Run"):
            assert "(simulated data)" in h, h
    # The Table 2 equivalent shows the test R2 of the ET model as in metrics.csv.
    m = run.metrics
    r2 = m[(m["model"] == "ET") & (m["split"] == "test")]["r2"]
    for v in r2:
        assert f"| {v:.3f} |" in md


@pytest.mark.slow
def test_report_html_is_self_contained(run):
    page = (run.out / "report.html").read_text()
    srcs = re.findall(r'src="([^"]*)"', page)
    md_figs = re.findall(r"!\[", (run.out / "report.md").read_text())
    assert len(srcs) == len(md_figs)
    assert all(s.startswith("data:image/png;base64,") for s in srcs)
    assert "<table>" in page and "Scores (paper Table 2) (simulated data)" in page
    assert "http://" not in page and "https://" not in page


@pytest.mark.slow
def test_predictions_cover_every_row_with_both_targets(run, catalogue):
    pred = pd.read_parquet(run.out / "predictions.parquet")
    assert len(pred) == len(catalogue)
    assert list(pred["objid"]) == list(catalogue["objid"])
    from wise2spitzer.catalog import read_catalog

    meta = read_catalog(run.out / "predictions.parquet").attrs["meta"]
    for t in ("mips1", "irac4"):
        assert meta[f"{t}_interval_method"] == "conformal"
        assert meta[f"{t}_conformal_tails"] == "separate"
        assert meta[f"{t}_interval_confidence"] == 0.95
    for t in ("mips1", "irac4"):
        cols = output_columns(t)
        assert set(cols.values()) <= set(pred.columns)
        assert set(pred[cols["status"]].astype(str)) <= set(STATUSES)
        ok = pred[cols["status"]].astype(str).isin(VALUE_STATUSES)  # ok, extrapolated
        assert ok.any()
        assert pred.loc[ok, cols["pred"]].gt(0).all()
        assert (pred.loc[ok, cols["lo"]] <= pred.loc[ok, cols["pred"]]).all()
        assert pred.loc[~ok, cols["pred"]].isna().all()


@pytest.mark.slow
def test_models_saved_with_cards(run, catalogue):
    from wise2spitzer.predictor import SpitzerPredictor

    for t in ("mips1", "irac4"):
        for s in ("clean", "unclean"):
            card = json.loads((run.out / "models" / f"{t}_{s}.json").read_text())
            assert card["target"] == t and card["sample"] == s
            assert set(card["test_metrics"]) >= {"r2", "mae"}
    p = SpitzerPredictor.load(run.out / "models" / "mips1_clean.skops")
    again = p.predict_catalog(catalogue)
    saved = pd.read_parquet(run.out / "predictions.parquet")
    np.testing.assert_allclose(again["m1_f_pred"].to_numpy(float),
                               saved["m1_f_pred"].to_numpy(float), equal_nan=True)


def test_sample_flow_is_consistent(catalogue):
    flow = sample_flow(catalogue).set_index(["sample", "step"])["n"]
    assert flow[("all rows", "")] == len(catalogue)
    for s in ("clean", "unclean"):
        for t in ("mips1", "irac4"):
            assert flow[(s, f"{t} labelled")] + flow[(s, f"{t} unlabelled")] == flow[(s, "")]
            assert 0 < flow[(s, f"{t} unlabelled inside hull")] <= flow[(s, f"{t} unlabelled")]
    assert flow[("clean", "")] < flow[("unclean", "")]


def test_quality_cut_table_is_nested(catalogue):
    t = quality_cut_table(catalogue, target="mips1")
    assert list(t["cut"]) == ["unclean", "clean", "clean, W4 SNR >= 2", "clean, W4 SNR >= 3",
                              "clean, W4 SNR >= 10"]
    assert t["n_kept"].is_monotonic_decreasing
    assert (t["n_labelled"] <= t["n_kept"]).all()
    assert np.isnan(t["n_predictable"].iloc[0])  # the clean model does not predict unclean rows
    assert (t["n_predictable"].iloc[1:] <= t["n_kept"].iloc[1:]).all()
    snr = catalogue["w4snr"]
    clean = (catalogue["cc_flags"] == "0000") & (catalogue["ext_flg"] == 0)
    assert t["n_kept"].iloc[2] == int((clean & (snr >= 2) & (catalogue["wise4"] > 0)).sum())


def test_quality_cut_analysis_writes_figure_and_csv(tmp_path, catalogue):
    paths = quality_cut_analysis(catalogue, out=tmp_path, target="irac4")
    assert paths["csv"].exists() and paths["png"].exists()
    assert pd.read_csv(paths["csv"])["cut"].iloc[-1] == "clean, W3 SNR >= 10"
    with pytest.raises(CatalogError, match="needs column 'wise3'"):
        quality_cut_analysis(catalogue.drop(columns="wise3"), out=tmp_path, target="irac4")


def test_reproduce_rejects_unknown_preset(tmp_path):
    with pytest.raises(ModelError, match="preset must be one of .*'fast'.*got 'slow'"):
        reproduce("simulated", out=tmp_path, preset="slow")
    assert set(REPRODUCE_PRESETS) == {"fast", "paper", "none"}


@pytest.mark.slow
def test_reproduce_upper_sco_uses_sample_all(tmp_path):
    res = reproduce("upper-sco", out=tmp_path, quick=True, targets=("mips1",), n_jobs=1,
                    formats=("png",), dpi=60, n_sed=1, random_state=RANDOM_STATE,
                    compare_forms=False)
    assert res.samples == ["all"] and not res.simulated
    assert set(res.metrics["sample"]) == {"all"}
    md = (tmp_path / "report.md").read_text()
    assert "no clean/unclean split" in md and "Real data" in md
    assert "simulated" not in md.lower()
    assert (tmp_path / "figures" / "fig5_observed_vs_predicted.png").exists()


@pytest.mark.slow
def test_coverage_where_values_are_issued_is_reported(run):
    """Every population that gets a value, for both targets, in the CSV and the report."""
    res = run
    table = pd.read_csv(res.out / "issued_coverage.csv")
    assert set(table["target"]) == {"mips1", "irac4"}
    for t, g in table.groupby("target"):
        pops = set(zip(g["population"], g["group"], strict=True))
        assert {("sample", "clean"), ("sample", "non-clean"), ("model", "clean"),
                ("model", "unclean"), ("all issued", "all")} <= pops, t
        assert {f"Q{i}" for i in range(1, 5)} <= set(g.loc[g["population"] == "observed flux",
                                                         "group"])
        issued = g.set_index(["population", "group"]).loc[("all issued", "all")]
        assert 0 < issued["n"] and 0 <= issued["coverage"] <= 1
    md = (res.out / "report.md").read_text()
    assert "where `predict` issues values" in md and "issued_coverage.csv" in md
