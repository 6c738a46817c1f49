"""The figures of the study, each with its caption (paper Figs. 5-10 and interval coverage).

Each ``draw_*`` function draws one figure from the study's tables, saves it into the figure
directory in every requested format and returns ``(png path, caption)`` (or a list of them),
which the report embeds in that order.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy.stats import binomtest

from .. import plots
from ..samples import (
    CLEAN,
    SNR_THRESHOLDS,
    counterpart_snr,
    labelled_mask,
    sample_mask,
    snr_column,
    study_samples,
)
from ..schema import ID_COLUMN, STATUS_OK, get_target, output_columns
from .tables import numeric, quality_cut_table

__all__ = [
    "draw_distance_curve",
    "draw_feature_importances",
    "draw_interval_coverage",
    "draw_learning_curves",
    "draw_observed_vs_predicted",
    "draw_quality_cuts",
    "draw_relative_uncertainty",
    "draw_seds",
    "draw_study_figures",
    "plot_quality_cuts",
    "quality_cut_caption",
]

Caption = tuple[Path, str]

def _grid(n: int, *, panel: tuple[float, float]) -> tuple[Figure, list]:
    ncols = min(n, 2)
    nrows = int(np.ceil(n / ncols))
    fig = Figure(figsize=(panel[0] * ncols, panel[1] * nrows))
    axes = [fig.add_subplot(nrows, ncols, i + 1) for i in range(n)]
    return fig, axes


def _save(fig: Figure, path: Path, *, formats: Sequence[str], dpi: int) -> Path:
    return plots.save_figure(fig, path, formats=formats, dpi=dpi)[0]


def draw_observed_vs_predicted(test_preds: dict, fdir: Path, *, note: str,
                               formats: Sequence[str], dpi: int = 200) -> Caption:
    """Fig. 5: observed Spitzer flux of the test split against predicted and raw WISE."""
    keys = list(test_preds)
    with plots.style_context():
        fig, axes = _grid(len(keys), panel=(5.4, 5.4))
        for ax, (tk, s) in zip(axes, keys, strict=True):
            d = test_preds[(tk, s)]
            t = get_target(tk)
            plots.plot_predicted_vs_observed(
                d["observed"], d["predicted"], wise=d["raw_wise"], interval=d["interval"],
                target=tk, ax=ax,
                title=f"{t.band}, {s} sample, test split (n={len(d['observed'])})")
        fig.suptitle(f"Observed Spitzer vs predicted and raw WISE fluxes{note}", fontsize=12)
    path = _save(fig, fdir / "fig5_observed_vs_predicted", formats=formats, dpi=dpi)
    return path, (
        "Observed Spitzer flux of the held-out 20% (test split) against the model's "
        "prediction (red, bars: 95% interval of the default method) and against the raw "
        "WISE estimate (blue: W4 for MIPS1, W3 for IRAC4, rescaled by the ratio of Vega "
        "zero points); dashed: 1:1 (paper Fig. 5). Points above the line at the faint end "
        "are WISE fluxes biased high by confusion.")


def draw_relative_uncertainty(test_preds: dict, fdir: Path, *, target: str, note: str,
                              formats: Sequence[str], dpi: int = 200) -> Caption:
    """Fig. 6 of one target: relative uncertainty against flux (clean sample if studied)."""
    keys = list(test_preds)
    tk = target
    s = CLEAN if (tk, CLEAN) in test_preds else next(k[1] for k in keys if k[0] == tk)
    d = test_preds[(tk, s)]
    t = get_target(tk)
    iv = np.asarray(d["interval68"], float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel_pred = (iv[:, 1] - iv[:, 0]) / 2.0 / d["predicted"]
    series = {f"Predicted {t.band}": (d["predicted"], rel_pred),
              f"Spitzer {t.band}": (d["observed"], d["spitzer_rel"])}
    if d["wise_rel"] is not None:
        series[f"WISE {t.counterpart_band}"] = (d["wise"], d["wise_rel"])
    with plots.style_context():
        fig = Figure(figsize=(7.0, 6.2))
        ax = fig.add_subplot()
        plots.plot_relative_uncertainty(
            series, ax=ax, xlabel=f"{t.band} / {t.counterpart_band} flux density [mJy]",
            title=f"{t.band}, {s} sample, test split{note}")
    path = _save(fig, fdir / f"fig6_relative_uncertainty_{tk}", formats=formats, dpi=dpi)
    return path, (
        f"Relative 1-sigma uncertainty against flux for {t.band} ({s} sample, test "
        "split; paper Fig. 6): predicted (half-width of the 68% interval over the "
        f"prediction), Spitzer (1/SNR, or error/flux without an SNR column) and "
        f"WISE {t.counterpart_band} (error/flux; SEIP upper limits have no error and "
        "are left out); the side panels are histograms.")


def draw_learning_curves(curves: pd.DataFrame, fdir: Path, *, note: str,
                         formats: Sequence[str], dpi: int = 200) -> Caption:
    """Fig. 7: R2 and MAPE of ET against the number of training rows, per target."""
    tks = list(dict.fromkeys(curves["target"]))
    with plots.style_context():
        fig = Figure(figsize=(5.0 * len(tks), 7.6))
        for j, tk in enumerate(tks):
            part = curves[curves["target"] == tk]
            for i, metric in enumerate(("r2", "mape")):
                ax = fig.add_subplot(2, len(tks), i * len(tks) + j + 1)
                plots.plot_learning_curve(part, metric=metric, group="sample", ax=ax,
                                          title=get_target(tk).band if i == 0 else None)
        fig.suptitle(f"Learning curves of the ET model{note}", fontsize=12)
    path = _save(fig, fdir / "fig7_learning_curves", formats=formats, dpi=dpi)
    return path, (
        "Learning curves (paper Fig. 7) of every studied sample (one colour per sample): R2 "
        "and MAPE of log10 flux against the number of training rows, on the training folds "
        "(train) and the held-out folds (validation), "
        "shaded: 1 std over folds. Where the validation curve is still rising, more "
        "labelled rows would help.")


def draw_feature_importances(importances: dict, fdir: Path, *, note: str,
                             formats: Sequence[str], dpi: int = 200) -> Caption:
    """Fig. 9: importances of the features Boruta kept, per target and sample."""
    with plots.style_context():
        n_feat = max(len(c) for _, c in importances.values())
        fig, axes = _grid(len(importances), panel=(5.6, 1.0 + 0.3 * n_feat))
        for ax, ((tk, s), (imp, cand)) in zip(axes, importances.items(), strict=True):
            plots.plot_feature_importances(imp, candidates=cand, ax=ax,
                                           title=f"{get_target(tk).band}, {s} sample")
        fig.suptitle(f"Feature importances of the selected features{note}", fontsize=12)
    path = _save(fig, fdir / "fig9_feature_importances", formats=formats, dpi=dpi)
    return path, (
        "Feature importances of the final ET models (paper Fig. 9; impurity importance, "
        "summing to 1 over the features Boruta kept). Features offered to Boruta but "
        "rejected are listed in grey at the bottom of each panel.")


def draw_interval_coverage(coverage: pd.DataFrame, fdir: Path, *, note: str,
                           formats: Sequence[str], dpi: int = 200) -> Caption:
    """Empirical against nominal coverage of every interval method, per target and sample."""
    allbin = coverage[coverage["bin"] == "all"].copy()
    groups = list(dict.fromkeys(zip(allbin["target"], allbin["sample"], strict=True)))
    with plots.style_context():
        fig, axes = _grid(len(groups), panel=(5.0, 5.0))
        for ax, (tk, s) in zip(axes, groups, strict=True):
            part = allbin[(allbin["target"] == tk) & (allbin["sample"] == s)]
            plots.plot_interval_coverage(part, nominal="confidence", empirical="coverage",
                                         group="reference" if part["reference"].nunique() > 1
                                         else None,
                                         title=f"{get_target(tk).band}, {s} sample", ax=ax)
            handles = dict(zip(*reversed(ax.get_legend_handles_labels()), strict=True))
            ax.get_legend().remove()
        # One legend for all panels, below them, so no curve is hidden behind it.
        fig.legend(list(handles.values()), list(handles.keys()), loc="outside lower center",
                   ncols=4, fontsize=9)
        fig.suptitle(f"Coverage of the prediction intervals{note}", fontsize=12)
    path = _save(fig, fdir / "fig_interval_coverage", formats=formats, dpi=dpi)
    return path, (
        "Empirical coverage of the prediction intervals on held-out rows against the "
        "nominal confidence, per method: tree_sem is the paper's interval (mean of trees "
        "+/- z std/sqrt(n_trees)), conformal the calibrated default, qrf quantile "
        "regression forests; dotted: ideal."
        + (" Dashed ('truth'): scored against the noise-free simulated flux instead of "
           "the observed one." if (coverage["reference"] == "truth").any() else ""))


def draw_distance_curve(curve: pd.DataFrame, fdir: Path, *, zones: dict[str, list[float]],
                        note: str, formats: Sequence[str], dpi: int = 200) -> Caption:
    """Error and interval coverage of held-out rows against distance outside the hull.

    ``curve`` is :func:`wise2spitzer.coverage.distance_curve` per target (a ``target``
    column); ``zones`` gives, per target, the edges of the final models' extrapolation zones.
    """
    tks = list(dict.fromkeys(curve["target"]))
    with plots.style_context():
        fig = Figure(figsize=(5.0 * len(tks), 7.2))
        for j, tk in enumerate(tks):
            part = curve[(curve["target"] == tk) & (curve["n"] > 0)]
            x = np.where(part["distance"] == "inside", 0.0, part["d_median"].clip(lower=0))
            band = get_target(tk).band
            ax_err = fig.add_subplot(2, len(tks), j + 1)
            ax_cov = fig.add_subplot(2, len(tks), len(tks) + j + 1, sharex=ax_err)
            ax_err.plot(x, part["mae_dex"], "o-", color="C0")
            for i, (xi, yi, n) in enumerate(zip(x, part["mae_dex"], part["n"], strict=True)):
                ax_err.annotate(f"n={n}", (xi, yi), textcoords="offset points",
                                xytext=(4, 4 if i % 2 else -10), fontsize=7)
            ax_err.set_ylabel("median |error| (dex)")
            ax_err.set_title(f"{band}: held-out rows{note}", fontsize=10)
            ax_cov.plot(x, part["coverage_hull"], "s--", color="C1",
                        label="in-hull calibration")
            # 95% Wilson intervals of the issued coverage: most bins outside hold few rows.
            k = np.rint(part["coverage_issued"].fillna(0) * part["n_issued"]).astype(int)
            ci = np.array([binomtest(int(a), int(b)).proportion_ci(method="wilson")
                           if b > 0 else (np.nan, np.nan)
                           for a, b in zip(k, part["n_issued"], strict=True)])
            y = part["coverage_issued"].to_numpy(dtype=float)
            ax_cov.errorbar(x, y, yerr=np.abs(ci.T - y), fmt="o-", color="C2", capsize=2,
                            label="issued (zone calibration outside), 95% binomial interval")
            ax_cov.axhspan(0.90, 0.99, color="0.9", zorder=0, label="0.90-0.99")
            ax_cov.axhline(0.95, color="0.4", lw=0.8, ls=":")
            for k, edge in enumerate(zones.get(tk, [])):
                for ax in (ax_err, ax_cov):
                    ax.axvline(edge, color="C3", lw=0.8, ls="-.",
                               label="zone edge (final models)" if k == 0 and ax is ax_cov
                               else None)
            ax_cov.set_ylim(0, 1.05)
            ax_cov.set_xlabel("distance outside the training hull (standardised log flux)")
            ax_cov.set_ylabel("coverage of the 95% interval")
            ax_cov.legend(fontsize=7, loc="lower left")
    path = _save(fig, fdir / "fig_distance_curve", formats=formats, dpi=dpi)
    return path, (
        "Held-out rows (k-fold, folds pooled) against their distance outside the convex hull "
        "of their model's training rows, in standardised log10 W1..W4 (0 = inside; points at "
        "the median distance of each bin of distance_curve.csv). Top: median absolute error "
        "of log10 flux. Bottom: coverage of the 95% interval calibrated in the hull (dashed) "
        "and of the interval issued (solid: the extrapolation zone's own calibration for "
        "rows with status 'extrapolated'). Dash-dot: edges of the final models' zones; "
        "beyond them rows are outside_domain.")


def draw_study_figures(
    fdir: Path,
    *,
    test_preds: dict,
    importances: dict,
    curves: pd.DataFrame,
    coverage: pd.DataFrame,
    note: str,
    formats: Sequence[str],
    dpi: int = 200,
) -> list[Caption]:
    """Draw Figs. 5, 6, 7, 9 and the coverage figure; return (png path, caption) pairs."""
    figs: list[Caption] = []
    opts = {"note": note, "formats": formats, "dpi": dpi}
    if test_preds:
        figs.append(draw_observed_vs_predicted(test_preds, fdir, **opts))
        for tk in dict.fromkeys(k[0] for k in test_preds):
            figs.append(draw_relative_uncertainty(test_preds, fdir, target=tk, **opts))
    if not curves.empty:
        figs.append(draw_learning_curves(curves, fdir, **opts))
    if importances:
        figs.append(draw_feature_importances(importances, fdir, **opts))
    if not coverage.empty:
        figs.append(draw_interval_coverage(coverage, fdir, **opts))
    return figs


def _sed_title(row: pd.Series, ident, tkeys: list[str]) -> str:
    """Panel title: the source and, per band, whether it is observed and where the value
    comes from (see :mod:`.honest`)."""
    from .honest import origin_column

    parts = []
    for tk in tkeys:
        t = get_target(tk)
        v = numeric(pd.Series([row.get(t.column)])).iloc[0]
        origin = row.get(origin_column(t))
        drawn = row.get(output_columns(t)["status"]) == STATUS_OK
        if v > 0:
            parts.append(f"{t.band} observed" + (f", {origin}" if drawn else ""))
        else:
            parts.append(f"{t.band} not observed" + (", final model" if drawn else ""))
    return f"{ID_COLUMN} {ident}\n" + "; ".join(parts)


def draw_seds(frame: pd.DataFrame, fdir: Path, *, tkeys: list[str], n: int, note: str,
              formats: Sequence[str], dpi: int, random_state) -> Path | None:
    """Fig. 8: SEDs of ``n`` representative sources of ``frame`` (None if there are none).

    ``frame`` is :func:`~.honest.sed_frame`: its predictions never saw their own Spitzer
    flux, and each panel title says where they come from.
    """
    from ..sed import pick_sed_sources, plot_sed

    if not tkeys or n <= 0 or frame.empty:
        return None
    idx = pick_sed_sources(frame, target=tkeys[0], n=n, random_state=random_state)
    if len(idx) == 0:
        return None
    with plots.style_context():
        fig, axes = _grid(len(idx), panel=(5.6, 4.6))
        handles: dict[str, Any] = {}
        for ax, i in zip(axes, idx, strict=True):
            row = frame.loc[i]
            plot_sed(row, ax=ax, title=_sed_title(row, row.get(ID_COLUMN, i), tkeys))
            ax.title.set_fontsize(9)
            for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
                handles.setdefault(lab, h)
            ax.get_legend().remove()
        fig.legend(list(handles.values()), list(handles.keys()), loc="outside lower center",
                   ncols=min(len(handles), 5), fontsize=9)
        fig.suptitle(f"SEDs of representative sources{note}", fontsize=12)
    return _save(fig, fdir / "fig8_seds", formats=formats, dpi=dpi)


def plot_quality_cuts(
    df: pd.DataFrame,
    *,
    target: str = "mips1",
    table: pd.DataFrame | None = None,
    data_note: str = "",
    unit: str = "mJy",
) -> Figure:
    """The quality-cut figure (paper Fig. 10): W4 vs MIPS1 per cut, and the counts per cut.

    Returns
    -------
    Figure
        Top row: counterpart vs Spitzer flux for the unclean, clean and clean & SNR >= 2 rows
        (labelled rows only), coloured by the counterpart SNR bin; bottom: rows kept by each cut
        against rows the model can predict.
    """
    t = get_target(target)
    table = quality_cut_table(df, target=t) if table is None else table
    d = df.copy()
    snr_col = snr_column(t)
    d[snr_col] = counterpart_snr(df, t)
    lab = labelled_mask(d, t).astype(bool) if t.column in d.columns else \
        pd.Series(False, index=d.index)
    panels = [(s, sample_mask(d, s).astype(bool)) for s in study_samples(d)]
    if len(panels) == 1:  # no clean/unclean split: every row
        panels = [("all rows", panels[0][1])]
    last = panels[-1]
    lowest = SNR_THRESHOLDS[0]
    with np.errstate(invalid="ignore"):
        panels.append((f"{last[0]}, {t.counterpart_band} SNR >= {lowest:g}",
                       last[1] & (d[snr_col] >= lowest)))
    with plots.style_context():
        fig = Figure(figsize=(4.4 * len(panels), 8.0))
        gs = fig.add_gridspec(2, len(panels), height_ratios=[1.25, 0.75])
        for i, (name, m) in enumerate(panels):
            ax = fig.add_subplot(gs[0, i])
            plots.plot_quality_cut(d[m & lab], target=t, snr_column=snr_col, unit=unit,
                                   title=f"{name} (labelled rows)", ax=ax)
        ax = fig.add_subplot(gs[1, :])
        plots.plot_quality_cut_counts(
            table, label="cut", kept="n_kept", predictable="n_predictable", ax=ax,
            title=f"Rows with a {t.counterpart_band} flux kept by each cut vs rows the "
                  f"{t.band} model gives a value")
        fig.suptitle(f"WISE quality cuts for {t.band}{data_note}", fontsize=12)
    return fig


def quality_cut_caption(target, table: pd.DataFrame) -> str:
    """Caption of the quality-cut figure of ``target``, with its numbers from ``table``."""
    t = get_target(target)
    txt = (f"WISE quality cuts for {t.band} (paper Fig. 10, Appendix A). Top: WISE "
           f"{t.counterpart_band} against the observed {t.band} flux of labelled rows, coloured "
           f"by {t.counterpart_band} SNR bin (grey: SEIP 95% upper limits). Bottom: rows with a "
           f"{t.counterpart_band} flux kept by each cut (blue) and, of those, the rows the "
           f"model gives a value (red: status ok, that is inside the applicability domain "
           f"with every feature and a lower bound above the detection floor's margin; the "
           f"others get an upper limit or no value).")
    n_snr = len(SNR_THRESHOLDS)
    if len(table) >= n_snr:
        r = table.iloc[-n_snr]  # the lowest SNR cut
        first = table.iloc[len(table) - n_snr - 1] if len(table) > n_snr else table.iloc[0]
        pred_n = first["n_predictable"]
        if pd.notna(pred_n):
            txt += (f" A plain '{r['cut']}' cut keeps {int(r['n_kept']):,} rows; the model "
                    f"gives a value to {int(pred_n):,} rows of the {first['cut']} sample.")
    return txt


def draw_quality_cuts(df: pd.DataFrame, table: pd.DataFrame, fdir: Path, *, target,
                      note: str, formats: Sequence[str], dpi: int = 200) -> Caption:
    """Fig. 10 of ``target`` from its :func:`~.tables.quality_cut_table`, with its caption."""
    t = get_target(target)
    fig = plot_quality_cuts(df, target=t, table=table, data_note=note)
    path = _save(fig, fdir / f"fig10_quality_cuts_{t.key}", formats=formats, dpi=dpi)
    return path, quality_cut_caption(t, table)
