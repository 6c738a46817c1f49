"""SED table and figure: bands from schema.BANDS, upper limits, predictions, errors."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from wise2spitzer.schema import BANDS
from wise2spitzer.sed import pick_sed_sources, plot_sed, sed_table


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def row():
    r = {"objid": 42}
    for i, b in enumerate(BANDS.values()):
        r[b.column] = 1e4 / (i + 1)
        r[b.error_column] = 1e4 / (i + 1) * 0.05
    r["dwise4"] = np.nan  # SEIP: a 95% upper limit has no error
    r["m1_f_psf"] = np.nan  # not observed by MIPS
    r.update({"m1_f_pred": 900.0, "m1_f_pred_lo": 700.0, "m1_f_pred_hi": 1200.0,
              "m1_pred_status": "ok", "i4_f_pred": np.nan, "i4_f_pred_lo": np.nan,
              "i4_f_pred_hi": np.nan, "i4_pred_status": "outside_domain"})
    return pd.Series(r)


def _n(ax, gid):
    return sum(len(line.get_xdata()) for line in ax.lines if line.get_gid() == gid)


def test_sed_table_uses_schema_bands(row):
    t = sed_table(row)
    assert len(t) == len(BANDS) - 1  # MIPS1 missing
    assert t["wavelength_um"].is_monotonic_increasing
    assert t.loc[t["band"] == "W4", "upper_limit"].item()
    assert not t.loc[t["band"] == "W3", "upper_limit"].item()
    w1 = t[t["band"] == "W1"].iloc[0]
    assert w1["wavelength_um"] == BANDS["W1"].wavelength_um
    assert w1["flux_ujy"] == row["wise1"]


def test_plot_sed_points_and_axes(row):
    ax = plot_sed(row, unit="mJy")
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
    assert "Wavelength" in ax.get_xlabel() and "mu" in ax.get_xlabel()
    assert "[mJy]" in ax.get_ylabel()
    assert _n(ax, "Gaia") == 3 and _n(ax, "2MASS") == 3 and _n(ax, "IRAC") == 4
    assert _n(ax, "WISE") == 3 and _n(ax, "WISE_upper_limit") == 1
    assert _n(ax, "MIPS") == 0
    # Only the ok prediction is drawn (IRAC4 is outside the domain), in mJy.
    preds = [line for line in ax.lines if line.get_gid() == "predicted"]
    assert len(preds) == 1 and np.isclose(preds[0].get_ydata()[0], 0.9)
    assert ax.get_title() == "objid 42"


def test_plot_sed_explicit_predictions_of_several_models(row):
    _fig, ax = plt.subplots()
    out = plot_sed(row, predictions={"mips1:model A": (900, 700, 1200),
                                     "mips1:model B": 1000.0, "irac4": (500, 400, 600)},
                   unit="uJy", ax=ax)
    assert out is ax
    assert _n(ax, "predicted") == 3
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "model A" in labels and "model B" in labels and "IRAC4 predicted" in labels


def test_plot_sed_errors(row):
    with pytest.raises(ValueError, match="must be a flux or \\(pred, lo, hi\\)"):
        plot_sed(row, predictions={"mips1": (1, 2)})
    with pytest.raises(ValueError, match="target must be one of"):
        plot_sed(row, predictions={"w4": 1.0})
    with pytest.raises(ValueError, match="source 7 has no positive flux"):
        plot_sed(pd.Series({"objid": 7, "wise1": 0.0}))
    with pytest.raises(ValueError, match="single catalogue row; got a table of 2 rows"):
        plot_sed(pd.DataFrame([row, row]))


def test_pick_sed_sources_mixes_labelled_and_unlabelled(random_state):
    n = 50
    df = pd.DataFrame({
        "m1_f_psf": np.where(np.arange(n) % 2 == 0, 1e3, np.nan),
        "m1_f_pred": np.linspace(1e2, 1e5, n),
        "m1_pred_status": ["ok"] * 40 + ["outside_domain"] * 10,
    })
    idx = pick_sed_sources(df, target="mips1", n=4, random_state=random_state)
    assert len(idx) == 4
    assert (df.loc[idx, "m1_pred_status"] == "ok").all()
    assert df.loc[idx, "m1_f_psf"].notna().sum() == 2
    with pytest.raises(ValueError, match="'i4_f_pred' of target 'irac4'"):
        pick_sed_sources(df, target="irac4")


def test_plot_sed_draws_an_upper_limit_as_an_arrow_from_the_limit(row):
    limit = row.copy()
    limit["m1_f_pred"], limit["m1_f_pred_lo"] = np.nan, np.nan
    limit["m1_f_pred_hi"], limit["m1_pred_status"] = 1500.0, "upper_limit"
    ax = plot_sed(limit, unit="mJy")
    assert _n(ax, "predicted") == 0
    arrows = [line for line in ax.lines if line.get_gid() == "predicted_upper_limit"]
    assert len(arrows) == 1 and np.isclose(arrows[0].get_ydata()[0], 1.5)
    assert "MIPS1 predicted upper limit" in ax.get_legend_handles_labels()[1]
    # The mapping form: (nan, nan, hi) is an upper limit too.
    ax = plot_sed(row, predictions={"mips1:other model": (np.nan, np.nan, 2000.0)})
    assert _n(ax, "predicted_upper_limit") == 1 and _n(ax, "predicted") == 0
