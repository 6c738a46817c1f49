"""Figures: right axes labels and scales, the right number of plotted points, errors."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from wise2spitzer import plots
from wise2spitzer.schema import PAPER_FEATURES


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def fluxes(random_state):
    rng = np.random.default_rng(random_state)
    obs = 10 ** rng.uniform(2, 6, 120)
    pred = obs * 10 ** rng.normal(0, 0.05, 120)
    wise = obs * 10 ** rng.normal(0.2, 0.3, 120)
    return obs, pred, wise


def _points(ax, gid):
    """Number of data points drawn by the artists tagged ``gid``."""
    n = 0
    for line in ax.lines:
        if line.get_gid() == gid:
            n += len(line.get_xdata())
    for coll in ax.collections:
        if coll.get_gid() == gid:
            n += len(coll.get_offsets())
    n += sum(1 for p in ax.patches if p.get_gid() == gid)
    return n


def test_predicted_vs_observed_points_scales_labels(fluxes):
    obs, pred, wise = fluxes
    pred = pred.copy()
    pred[:3] = [np.nan, 0.0, -5.0]  # cannot go on a log axis: left out
    iv = np.c_[pred * 0.8, pred * 1.2]
    ax = plots.plot_predicted_vs_observed(obs, pred, wise=wise, interval=iv, target="mips1",
                                          unit="mJy", title="t")
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
    assert "MIPS1 24" in ax.get_xlabel() and "[mJy]" in ax.get_xlabel()
    assert "[mJy]" in ax.get_ylabel()
    assert _points(ax, "predicted") == len(obs) - 3
    assert _points(ax, "wise") == len(obs)
    # Fluxes are shown in mJy: the largest plotted x is max(obs) / 1000.
    xs = next(line for line in ax.lines if line.get_gid() == "predicted").get_xdata()
    assert np.isclose(np.max(xs), np.max(obs[3:]) / 1e3)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("WISE W4" in t for t in labels) and "1:1" in labels


def test_predicted_vs_observed_draws_into_given_axes(fluxes):
    obs, pred, _ = fluxes
    _fig, ax = plt.subplots()
    assert plots.plot_predicted_vs_observed(obs, pred, target="irac4", ax=ax) is ax
    assert "IRAC4 8" in ax.get_xlabel()
    assert _points(ax, "wise") == 0


def test_predicted_vs_observed_errors(fluxes):
    obs, pred, _ = fluxes
    with pytest.raises(ValueError, match="same length; got 120 and 119"):
        plots.plot_predicted_vs_observed(obs, pred[:-1])
    with pytest.raises(ValueError, match="unit must be one of .*got 'erg'"):
        plots.plot_predicted_vs_observed(obs, pred, unit="erg")
    with pytest.raises(ValueError, match="target must be one of"):
        plots.plot_predicted_vs_observed(obs, pred, target="w4")


def test_relative_uncertainty_has_histograms(fluxes):
    obs, pred, wise = fluxes
    rel = np.full(len(obs), 0.1)
    rel_w = 6000.0 / wise
    rel_w[:5] = np.nan  # an upper limit has no error
    ax = plots.plot_relative_uncertainty(
        {"Predicted": (pred, rel), "Spitzer MIPS1": (obs, rel), "WISE W4": (wise, rel_w)})
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
    assert "Relative uncertainty" in ax.get_ylabel()
    assert _points(ax, "Predicted") == len(obs)
    assert _points(ax, "WISE W4") == len(obs) - 5
    assert len(ax.hist_x.patches) == 3 and len(ax.hist_y.patches) == 3  # one step per series
    with pytest.raises(ValueError, match="at least one"):
        plots.plot_relative_uncertainty({})


def test_learning_curve_lines_per_split():
    curve = pd.DataFrame({
        "n_train": [50, 100, 200] * 2, "split": ["train"] * 3 + ["validation"] * 3,
        "r2": [0.99, 0.99, 0.98, 0.7, 0.8, 0.9], "r2_std": [0.01] * 6,
        "mape": [0.01, 0.01, 0.02, 0.1, 0.08, 0.05], "mape_std": [0.01] * 6,
    })
    ax = plots.plot_learning_curve(curve, metric="r2")
    assert ax.get_xscale() == "log"
    assert ax.get_xlabel() == "Number of training rows"
    assert "R^2" in ax.get_ylabel()
    assert _points(ax, "train") == 3 and _points(ax, "validation") == 3
    ax = plots.plot_learning_curve(curve, metric="mape")
    assert "MAPE" in ax.get_ylabel()
    with pytest.raises(ValueError, match="must have a 'mae' column"):
        plots.plot_learning_curve(curve, metric="mae")


def test_feature_importances_marks_rejected():
    imp = {"wise4": 0.6, "wise3": 0.3, "wise4rchi2": 0.1}
    ax = plots.plot_feature_importances(imp, candidates=list(PAPER_FEATURES))
    assert _points(ax, "kept") == 3
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == len(PAPER_FEATURES)
    assert labels[-1] == "wise4"  # largest on top
    assert sum("(rejected)" in t for t in labels) == len(PAPER_FEATURES) - 3
    assert "importance" in ax.get_xlabel().lower()
    with pytest.raises(ValueError, match="at least one feature"):
        plots.plot_feature_importances({})


def test_quality_cut_bins_cover_every_row(fluxes):
    obs, _, wise = fluxes
    snr = np.linspace(0.5, 30, len(obs))
    df = pd.DataFrame({"m1_f_psf": obs, "wise4": wise, "w4snr": snr})
    df.loc[0, "m1_f_psf"] = np.nan
    ax = plots.plot_quality_cut(df, target="mips1")
    n = sum(_points(ax, f"snr_{lo:g}-{hi:g}") for _, lo, hi, _ in plots.SNR_BINS)
    assert n == len(df) - 1
    assert _points(ax, "snr_2-3") == int(((snr >= 2) & (snr < 3))[1:].sum())
    assert "W4 22" in ax.get_ylabel() and "MIPS1 24" in ax.get_xlabel()
    with pytest.raises(ValueError, match="'w3snr'"):
        plots.plot_quality_cut(df.assign(wise3=1.0, i4_f_ap1=1.0), target="irac4")


def test_quality_cut_counts_bars():
    counts = pd.DataFrame({"cut": ["unclean", "clean", "clean, W4 SNR >= 2"],
                           "n_kept": [26068, 9231, 6000],
                           "n_predictable": [np.nan, 5400, 4000]})
    ax = plots.plot_quality_cut_counts(counts)
    assert _points(ax, "kept") == 3 and _points(ax, "predictable") == 3
    assert ax.get_xlabel() == "Number of sources"
    assert [t.get_text() for t in ax.get_yticklabels()] == list(counts["cut"])
    with pytest.raises(ValueError, match="'n_kept' column"):
        plots.plot_quality_cut_counts(counts.drop(columns="n_kept"))


def test_interval_coverage_lines_per_method():
    cov = pd.DataFrame({"method": ["tree_sem"] * 3 + ["conformal"] * 3,
                        "confidence": [0.68, 0.9, 0.95] * 2,
                        "coverage": [0.2, 0.3, 0.35, 0.7, 0.9, 0.95]})
    ax = plots.plot_interval_coverage(cov, nominal="confidence", empirical="coverage")
    assert _points(ax, "tree_sem") == 3 and _points(ax, "conformal") == 3
    assert ax.get_xlabel() == "Nominal coverage"
    assert ax.get_ylim()[0] <= 0.2
    with pytest.raises(ValueError, match="'nominal' column"):
        plots.plot_interval_coverage(cov)


def test_save_figure_writes_each_format(tmp_path, fluxes):
    obs, pred, _ = fluxes
    ax = plots.plot_predicted_vs_observed(obs, pred)
    paths = plots.save_figure(ax.figure, tmp_path / "sub" / "fig5.png", formats=("png", "pdf"))
    assert [p.name for p in paths] == ["fig5.png", "fig5.pdf"]
    assert all(p.stat().st_size > 1000 for p in paths)
    assert paths[0].read_bytes()[:4] == b"\x89PNG"
