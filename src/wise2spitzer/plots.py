"""Publication figures of the study (Fonseca-Bonilla et al. 2024, Figs. 5, 6, 7, 9, 10).

Every function takes plain arrays or DataFrames (fluxes in uJy, the package convention), draws
into ``ax`` when one is given (or a new figure otherwise) and returns what it drew. All of them
use one style (:func:`style_context`) so the figures of a report look alike; none calls
``plt.show()``. Artists that carry data points have a ``gid`` (``"predicted"``, ``"wise"``,
``"spitzer"``, ``"snr_2-3"``...) so a caller or a test can find them.

Examples
--------
>>> import numpy as np
>>> from wise2spitzer.plots import plot_predicted_vs_observed
>>> obs = np.array([1e3, 1e4, 1e5])
>>> ax = plot_predicted_vs_observed(obs, obs * 1.1, wise=obs * 2, target="mips1")
>>> ax.get_xscale(), ax.get_yscale()
('log', 'log')
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .samples import SNR_BINS as _SAMPLE_SNR_BINS
from .samples import snr_bin_label, snr_bin_mask
from .schema import BANDS, get_target

__all__ = [
    "COLORS",
    "SNR_BINS",
    "UNIT_SCALE",
    "check_unit",
    "flux_label",
    "new_axes",
    "plot_feature_importances",
    "plot_interval_coverage",
    "plot_learning_curve",
    "plot_predicted_vs_observed",
    "plot_quality_cut",
    "plot_quality_cut_counts",
    "plot_relative_uncertainty",
    "readable_log_ticks",
    "save_figure",
    "style_context",
    "unit_tex",
]

#: One colour per kind of flux, used by every figure (the paper's red/blue convention).
COLORS: dict[str, str] = {
    "predicted": "#d62728",
    "wise": "#1f77b4",
    "spitzer": "#222222",
    "lr": "#2ca02c",
    "one_to_one": "#7f7f7f",
}

#: Display units: multiply a flux in uJy by ``1 / UNIT_SCALE[unit]``.
UNIT_SCALE: dict[str, float] = {"uJy": 1.0, "mJy": 1e3, "Jy": 1e6}

#: Colours of the WISE SNR bins, lowest (SEIP upper limits, grey) to highest.
_SNR_COLORS: tuple[str, ...] = ("#bdbdbd", "#e6550d", "#3182bd", "#31a354")
#: WISE SNR bins of the paper's Appendix A (:data:`wise2spitzer.samples.SNR_BINS`) as drawn:
#: (label, low, high, colour); low inclusive.
SNR_BINS: tuple[tuple[str, float, float, str], ...] = tuple(
    (snr_bin_label(lo, hi) + (" (upper limit)" if np.isinf(lo) else ""), lo, hi, color)
    for (lo, hi), color in zip(_SAMPLE_SNR_BINS, _SNR_COLORS, strict=True)
)

_RC: dict[str, object] = {
    "font.size": 10,
    "axes.labelsize": 11,
    "axes.titlesize": 11,
    "legend.fontsize": 9,
    "xtick.labelsize": 9.5,
    "ytick.labelsize": 9.5,
    "xtick.direction": "in",
    "ytick.direction": "in",
    "xtick.top": True,
    "ytick.right": True,
    "xtick.minor.visible": True,
    "ytick.minor.visible": True,
    "axes.linewidth": 0.8,
    "lines.markersize": 4,
    "legend.frameon": True,
    "legend.framealpha": 0.85,
    "legend.edgecolor": "0.8",
    "figure.dpi": 100,
    "savefig.dpi": 200,
    "savefig.bbox": "tight",
    "figure.constrained_layout.use": True,
    "image.cmap": "viridis",
}


@contextlib.contextmanager
def style_context(**overrides: object) -> Iterator[None]:
    """Context manager applying the package's figure style (plus ``overrides`` rc values)."""
    with plt.style.context(["default", {**_RC, **overrides}]):
        yield


def save_figure(
    fig: Figure, path: str | Path, *, formats: Sequence[str] = ("png",), dpi: int = 200
) -> list[Path]:
    """Write ``fig`` to ``path`` with each suffix in ``formats`` and return the paths written.

    ``path`` is taken without its suffix (``figures/fig5`` -> ``figures/fig5.png``...).
    """
    stem = Path(path)
    stem = stem.with_suffix("") if stem.suffix.lower() in (".png", ".pdf", ".svg") else stem
    stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        p = stem.with_name(f"{stem.name}.{fmt.lstrip('.')}")
        fig.savefig(p, dpi=dpi, bbox_inches="tight")
        written.append(p)
    return written


def flux_label(band: str, unit: str = "mJy") -> str:
    """Axis label of a flux density, e.g. ``"MIPS1 24 um flux density [mJy]"``."""
    check_unit(unit)
    b = BANDS[band]
    return f"{b.name} {_fmt_wl(b.wavelength_um)} $\\mu$m flux density [{unit_tex(unit)}]"


def _fmt_wl(wl: float) -> str:
    # The names astronomers use: IRAC4 "8 um", W3 "12 um", but W1 "3.4 um", IRAC3 "5.8 um".
    return f"{wl:.0f}" if wl >= 7 else f"{wl:.1f}"


def unit_tex(unit: str) -> str:
    """The unit as written on an axis label (``"uJy"`` -> ``"$\\mu$Jy"``, others unchanged)."""
    return {"uJy": "$\\mu$Jy"}.get(unit, unit)


def check_unit(unit: str) -> None:
    """Raise ``ValueError`` (naming the allowed units) unless ``unit`` is in :data:`UNIT_SCALE`."""
    if unit not in UNIT_SCALE:
        raise ValueError(f"unit must be one of {list(UNIT_SCALE)}; got {unit!r}")


def readable_log_ticks(ax: Axes, axis: str = "y") -> None:
    """Plain-number tick labels on a log axis (``0.5``, ``2``, ``300``, not ``5x10^-1``).

    When the axis spans less than about two decades, the 2 and 5 minor ticks are labelled too,
    so a short axis still has several numbers on it.
    """
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    def fmt(v, _pos=None):
        return f"{v:g}" if 1e-3 <= v < 1e5 else f"$10^{{{np.log10(v):.0f}}}$"

    a = ax.yaxis if axis == "y" else ax.xaxis
    lo, hi = ax.get_ylim() if axis == "y" else ax.get_xlim()
    a.set_major_locator(LogLocator(base=10))
    a.set_major_formatter(FuncFormatter(fmt))
    if lo > 0 and np.log10(hi / lo) < 2.2:
        a.set_minor_locator(LogLocator(base=10, subs=(2.0, 5.0)))
        a.set_minor_formatter(FuncFormatter(fmt))
    else:
        a.set_minor_formatter(NullFormatter())


def new_axes(ax: Axes | None, *, figsize: tuple[float, float]) -> Axes:
    """``ax`` itself, or the axes of a new figure of ``figsize`` inches when ``ax`` is None."""
    if ax is not None:
        return ax
    fig = plt.figure(figsize=figsize)
    return fig.add_subplot()


def _arr(x) -> np.ndarray:
    return np.asarray(pd.to_numeric(pd.Series(np.asarray(x).ravel()), errors="coerce"), float)


def _positive(*arrays: np.ndarray) -> np.ndarray:
    """Mask of rows where every array is finite and > 0 (a flux that can go on a log axis)."""
    ok = np.ones(len(arrays[0]), bool)
    for a in arrays:
        with np.errstate(invalid="ignore"):
            ok &= np.isfinite(a) & (a > 0)
    return ok


def plot_predicted_vs_observed(
    observed,
    predicted,
    *,
    wise=None,
    interval=None,
    target: str = "mips1",
    unit: str = "mJy",
    interval_label: str = "95% interval",
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Observed Spitzer flux against the predicted (red) and raw WISE (blue) flux (paper Fig. 5).

    Parameters
    ----------
    observed, predicted : array-like
        Spitzer flux and the model prediction, uJy, one value per source.
    wise : array-like, optional
        The WISE counterpart flux (W4 for MIPS1, W3 for IRAC4), uJy.
    interval : array-like of shape (n, 2), optional
        Lower and upper bound of the prediction interval, uJy; drawn as error bars.
    target : {"mips1", "irac4"}
        Sets the axis labels.
    unit : {"uJy", "mJy", "Jy"}
        Display unit.
    interval_label : str
        Legend text of the interval bars.
    title : str, optional
    ax : matplotlib Axes, optional

    Returns
    -------
    Axes
        Log-log axes; the predicted points have ``gid="predicted"`` (an errorbar container's
        data line) and the WISE points ``gid="wise"``. Rows with a non-positive or missing
        flux are left out (they cannot be placed on a log axis).
    """
    check_unit(unit)
    t = get_target(target)
    scale = UNIT_SCALE[unit]
    obs, pred = _arr(observed), _arr(predicted)
    if len(obs) != len(pred):
        raise ValueError(
            f"observed and predicted must have the same length; got {len(obs)} and {len(pred)}"
        )
    with style_context():
        ax = new_axes(ax, figsize=(5.2, 5.0))
        ok = _positive(obs, pred)
        plotted = [obs[ok], pred[ok]]
        if wise is not None:
            w = _arr(wise)
            okw = _positive(obs, w)
            plotted.append(w[okw])
            ax.scatter(
                obs[okw] / scale,
                w[okw] / scale,
                s=9,
                color=COLORS["wise"],
                alpha=0.55,
                lw=0,
                label=f"WISE {t.counterpart_band} (raw)",
                gid="wise",
                zorder=2,
            )
        yerr = None
        if interval is not None:
            iv = np.asarray(interval, float).reshape(-1, 2)
            lo, hi = iv[ok, 0], iv[ok, 1]
            p = pred[ok]
            # Clip so an interval that crosses zero cannot draw a negative bar on a log axis.
            yerr = np.vstack([np.clip(p - lo, 0, None), np.clip(hi - p, 0, None)]) / scale
            yerr = np.where(np.isfinite(yerr), yerr, 0.0)
        # Faint bars and semi-transparent markers: with hundreds of sources the intervals
        # must not hide the WISE points underneath, which are what the model corrects.
        eb = ax.errorbar(
            obs[ok] / scale,
            pred[ok] / scale,
            yerr=yerr,
            fmt="o",
            ms=3,
            mfc=to_rgba(COLORS["predicted"], 0.75),
            mec="none",
            ecolor=to_rgba(COLORS["predicted"], 0.25),
            elinewidth=0.6,
            label="Predicted" + (f" ({interval_label})" if yerr is not None else ""),
            zorder=3,
        )
        eb.lines[0].set_gid("predicted")
        allv = np.concatenate([v for v in plotted if len(v)]) / scale if any(
            len(v) for v in plotted
        ) else np.array([1.0, 10.0])
        lo_lim, hi_lim = np.nanmin(allv) / 1.6, np.nanmax(allv) * 1.6
        ax.plot([lo_lim, hi_lim], [lo_lim, hi_lim], ls="--", color=COLORS["one_to_one"],
                lw=1, label="1:1", zorder=1, gid="one_to_one")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(lo_lim, hi_lim)
        ax.set_ylim(lo_lim, hi_lim)
        ax.set_aspect("equal", adjustable="box")
        ax.set_xlabel(f"Observed {flux_label(t.band, unit)}")
        ax.set_ylabel(f"Predicted or WISE flux density [{unit_tex(unit)}]")
        ax.legend(loc="upper left")
        if title:
            ax.set_title(title)
    return ax


def plot_relative_uncertainty(
    series: Mapping[str, tuple[object, object]],
    *,
    unit: str = "mJy",
    xlabel: str | None = None,
    title: str | None = None,
    bins: int = 30,
    ax: Axes | None = None,
) -> Axes:
    """Relative uncertainty against flux, with marginal histograms (paper Fig. 6).

    Parameters
    ----------
    series : mapping of label -> (flux, relative_uncertainty)
        Flux in uJy and relative uncertainty (sigma / flux, or half-width / prediction) for each
        kind of flux, e.g. ``{"Predicted": (...), "Spitzer": (...), "WISE": (...)}``. Labels
        containing "pred", "spitzer"/"mips"/"irac" or "wise" get the package colours.
    unit : {"uJy", "mJy", "Jy"}
    xlabel, title : str, optional
    bins : int
        Number of logarithmic histogram bins.
    ax : matplotlib Axes, optional
        The main (scatter) axes; the histograms are attached to its top and right.

    Returns
    -------
    Axes
        The scatter axes (log-log); each series is a collection with ``gid`` = its label.
        The histogram axes are ``ax.hist_x`` and ``ax.hist_y``.
    """
    check_unit(unit)
    scale = UNIT_SCALE[unit]
    if not series:
        raise ValueError(
            "series must hold at least one (flux, relative_uncertainty) pair; got none")
    data = {}
    for label, (f, r) in series.items():
        f, r = _arr(f), _arr(r)
        ok = _positive(f, r)
        data[label] = (f[ok] / scale, r[ok])
    allf = np.concatenate([d[0] for d in data.values()] + [np.array([1.0])])
    allr = np.concatenate([d[1] for d in data.values()] + [np.array([0.1])])
    fbins = np.logspace(np.log10(allf.min()) - 0.05, np.log10(allf.max()) + 0.05, bins + 1)
    rbins = np.logspace(np.log10(allr.min()) - 0.05, np.log10(allr.max()) + 0.05, bins + 1)
    with style_context():
        ax = new_axes(ax, figsize=(6.4, 5.4))
        hx = ax.inset_axes([0.0, 1.02, 1.0, 0.25], sharex=ax)
        hy = ax.inset_axes([1.02, 0.0, 0.25, 1.0], sharey=ax)
        for i, (label, (f, r)) in enumerate(data.items()):
            color = _series_color(label, i)
            ax.scatter(f, r, s=7, alpha=0.45, lw=0, color=color, label=f"{label} (n={len(f)})",
                       gid=label)
            hx.hist(f, bins=fbins, histtype="step", color=color, lw=1.2)
            hy.hist(r, bins=rbins, histtype="step", color=color, lw=1.2,
                    orientation="horizontal")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(xlabel or f"Flux density [{unit_tex(unit)}]")
        ax.set_ylabel("Relative uncertainty ($\\sigma_F / F$)")
        ax.legend(loc="lower left", markerscale=2)
        hx.tick_params(labelbottom=False)
        hy.tick_params(labelleft=False)
        # No count-axis label at 0: it would sit on the main axes' last tick label.
        hx.yaxis.set_major_locator(MaxNLocator(nbins=3, prune="lower"))
        hy.xaxis.set_major_locator(MaxNLocator(nbins=3, prune="lower"))
        readable_log_ticks(ax, "y")
        hx.set_ylabel("N")
        hy.set_xlabel("N")
        if title:
            hx.set_title(title)
        ax.hist_x, ax.hist_y = hx, hy
    return ax


def _set_gid(container, gid: str) -> None:
    # A BarContainer has no gid of its own; tag its bars so callers can find them.
    for patch in container.patches:
        patch.set_gid(gid)


def _series_color(label: str, i: int) -> str:
    low = label.lower()
    if "pred" in low:
        return COLORS["predicted"]
    if "wise" in low:
        return COLORS["wise"]
    if "spitzer" in low or "mips" in low or "irac" in low:
        return COLORS["spitzer"]
    return f"C{i + 2}"


def plot_learning_curve(
    curve: pd.DataFrame,
    *,
    metric: str = "r2",
    x: str = "n_train",
    group: str | Sequence[str] | None = None,
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """A metric against the number of training rows (paper Fig. 7).

    Parameters
    ----------
    curve : DataFrame
        One row per training size (and group) with the column ``x`` and ``metric``; an optional
        ``{metric}_std`` column draws a shaded band, and an optional ``split`` column
        (e.g. ``train``/``test``/``cv``) draws one line per split.
    metric : str
        Column to plot (``"r2"``, ``"mape"``, ``"mae"``...).
    x : str
        Column with the number of training rows.
    group : str or list of str, optional
        Columns whose values distinguish the lines (e.g. ``["target", "sample"]``).
    title : str, optional
    ax : matplotlib Axes, optional

    Returns
    -------
    Axes
        One line per group (``gid`` = the group label), x on a log scale.
    """
    for col in (x, metric):
        if col not in curve.columns:
            raise ValueError(
                f"curve must have a {col!r} column; got columns {list(curve.columns)}"
            )
    groups = [group] if isinstance(group, str) else list(group or [])
    if "split" in curve.columns and "split" not in groups:
        groups.append("split")
    with style_context():
        ax = new_axes(ax, figsize=(5.2, 4.0))
        parts = curve.groupby(groups, sort=False) if groups else [((), curve)]
        for i, (key, part) in enumerate(parts):
            key = key if isinstance(key, tuple) else (key,)
            label = ", ".join(str(k) for k in key) if key else metric
            part = part.sort_values(x)
            xs, ys = _arr(part[x]), _arr(part[metric])
            (line,) = ax.plot(xs, ys, "o-", ms=4, color=f"C{i}", label=label, gid=label)
            std = f"{metric}_std"
            if std in part.columns:
                s = _arr(part[std])
                ax.fill_between(xs, ys - s, ys + s, color=line.get_color(), alpha=0.18, lw=0)
        ax.set_xscale("log")
        readable_log_ticks(ax, "x")
        ax.set_xlabel("Number of training rows")
        ax.set_ylabel(_METRIC_LABELS.get(metric, metric))
        if groups:
            ax.legend(loc="best")
        if title:
            ax.set_title(title)
    return ax


_METRIC_LABELS = {
    "r2": "$R^2$ (log$_{10}$ flux)",
    "mape": "MAPE of log$_{10}$ flux (fraction)",
    "mape_linear": "MAPE of flux (fraction)",
    "mae": "MAE (dex)",
    "rmse": "RMSE (dex)",
}


def plot_feature_importances(
    importances: Mapping[str, float] | pd.Series,
    *,
    candidates: Sequence[str] | None = None,
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Feature importances of the selected features and which candidates Boruta kept (Fig. 9).

    Parameters
    ----------
    importances : mapping or Series of feature -> importance
        Importances of the features the model uses (the ones Boruta kept).
    candidates : sequence of str, optional
        Every feature offered to Boruta; those missing from ``importances`` are listed at the
        bottom, in grey, marked "rejected".
    title : str, optional
    ax : matplotlib Axes, optional

    Returns
    -------
    Axes
        Horizontal bars (``gid="kept"``), one per kept feature, largest on top.
    """
    imp = pd.Series(importances, dtype=float).sort_values(ascending=True)
    if imp.empty:
        raise ValueError("importances must hold at least one feature; got none")
    rejected = [c for c in (candidates or []) if c not in imp.index]
    n = len(imp) + len(rejected)
    with style_context():
        ax = new_axes(ax, figsize=(5.2, 0.8 + 0.28 * n))
        y_rej = np.arange(len(rejected))
        y_kept = np.arange(len(rejected), n)
        bars = ax.barh(y_kept, imp.to_numpy(), color=COLORS["predicted"], alpha=0.85,
                       label="kept by Boruta")
        _set_gid(bars, "kept")
        # Values at the bar ends: the smallest importances are otherwise invisible slivers.
        ax.bar_label(bars, fmt="%.3f", padding=2, fontsize=7)
        ax.set_yticks(np.concatenate([y_rej, y_kept]),
                      [f"{c} (rejected)" for c in rejected] + list(imp.index))
        for lbl in ax.get_yticklabels()[: len(rejected)]:
            lbl.set_color("0.55")
        ax.set_ylim(-0.6, n - 0.4)
        ax.set_xlabel("Feature importance (mean decrease in impurity)")
        ax.tick_params(axis="y", which="minor", left=False, right=False)
        ax.set_xlim(0, imp.max() * 1.15)
        if title:
            ax.set_title(title)
    return ax


def plot_quality_cut(
    df: pd.DataFrame,
    *,
    target: str = "mips1",
    snr_column: str | None = None,
    unit: str = "mJy",
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """WISE counterpart flux against the Spitzer flux, coloured by WISE SNR bin (Fig. 10).

    Parameters
    ----------
    df : DataFrame
        Rows to draw: the target column, its WISE counterpart (``wise4`` for MIPS1) and the
        counterpart's SNR column (``w4snr``; or ``snr_column``). Rows lacking a positive flux
        in either band are left out.
    target : {"mips1", "irac4"}
    snr_column : str, optional
        Defaults to ``w4snr``/``w3snr`` for the counterpart.
    unit : {"uJy", "mJy", "Jy"}
    title : str, optional
    ax : matplotlib Axes, optional

    Returns
    -------
    Axes
        Log-log axes, one collection per SNR bin with ``gid="snr_<lo>-<hi>"`` and a 1:1 line.
    """
    check_unit(unit)
    t = get_target(target)
    snr_col = snr_column or f"w{t.counterpart[-1]}snr"
    for col in (t.column, t.counterpart, snr_col):
        if col not in df.columns:
            raise ValueError(f"df must have a {col!r} column for the quality-cut plot; it has not")
    scale = UNIT_SCALE[unit]
    spitzer, wise, snr = _arr(df[t.column]), _arr(df[t.counterpart]), _arr(df[snr_col])
    ok = _positive(spitzer, wise)
    with style_context():
        ax = new_axes(ax, figsize=(4.8, 4.6))
        for label, lo, hi, color in SNR_BINS:
            # Rows without an SNR are upper limits too: they go in the lowest bin.
            sel = ok & snr_bin_mask(snr, lo, hi, missing_in_lowest=True)
            gid = f"snr_{lo:g}-{hi:g}"
            ax.scatter(spitzer[sel] / scale, wise[sel] / scale, s=7, lw=0, alpha=0.6,
                       color=color, label=f"{label} ({int(sel.sum())})", gid=gid)
        vals = np.concatenate([spitzer[ok], wise[ok]]) / scale
        if not len(vals):
            vals = np.array([1e2, 1e4]) / scale
        lim = (np.nanmin(vals) / 1.6, np.nanmax(vals) * 1.6)
        ax.plot(lim, lim, "--", color=COLORS["one_to_one"], lw=1, label="1:1")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(lim)
        ax.set_ylim(lim)
        ax.set_aspect("equal", adjustable="box")
        ax.set_xlabel(flux_label(t.band, unit))
        ax.set_ylabel(flux_label(t.counterpart_band, unit))
        # Upper left: sources gather along the 1:1 line and WISE-high points sit at the faint
        # end, so faint-Spitzer / bright-WISE corner is the emptiest one.
        ax.legend(loc="upper left", title=f"{t.counterpart_band} SNR (n)", markerscale=2,
                  fontsize=8, title_fontsize=8)
        if title:
            ax.set_title(title)
    return ax


def plot_quality_cut_counts(
    counts: pd.DataFrame,
    *,
    label: str = "cut",
    kept: str = "n_kept",
    predictable: str | None = "n_predictable",
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """How many sources each WISE quality cut keeps, against how many the model can predict.

    Parameters
    ----------
    counts : DataFrame
        One row per cut with its name (``label``), the number of rows the cut keeps (``kept``)
        and, optionally, the number the model can predict (``predictable``: e.g. rows inside
        the applicability domain).
    label, kept, predictable : str
        Column names.
    title : str, optional
    ax : matplotlib Axes, optional

    Returns
    -------
    Axes
        Horizontal bars (``gid="kept"`` and ``gid="predictable"``) with the counts written on
        them; log x scale when the counts span more than two decades.
    """
    cols = [label, kept] + ([predictable] if predictable else [])
    for col in cols:
        if col not in counts.columns:
            raise ValueError(f"counts must have a {col!r} column; got {list(counts.columns)}")
    n = len(counts)
    y = np.arange(n)[::-1]
    has_pred = bool(predictable) and counts[predictable].notna().any()
    h = 0.38 if has_pred else 0.7
    with style_context():
        ax = new_axes(ax, figsize=(6.0, 0.9 + 0.5 * n))
        kv = _arr(counts[kept])
        b1 = ax.barh(y + (h / 2 if has_pred else 0), kv, height=h, color=COLORS["wise"],
                     label="kept by the WISE cut")
        _set_gid(b1, "kept")
        allv = list(kv)
        if has_pred:
            pv = _arr(counts[predictable])
            b2 = ax.barh(y - h / 2, np.nan_to_num(pv), height=h, color=COLORS["predicted"],
                         label="given a value by the model")
            _set_gid(b2, "predictable")
            allv += list(pv)
            ax.bar_label(b2, labels=[f"{v:,.0f}" if np.isfinite(v) else "" for v in pv],
                         padding=2, fontsize=8)
        ax.bar_label(b1, labels=[f"{v:,.0f}" for v in kv], padding=2, fontsize=8)
        ax.set_yticks(y, counts[label].astype(str).tolist())
        ax.tick_params(axis="y", which="minor", left=False, right=False)
        pos = np.array([v for v in allv if np.isfinite(v) and v > 0])
        if len(pos) and pos.max() / pos.min() > 100:
            ax.set_xscale("log")
            ax.set_xlim(pos.min() / 2, pos.max() * 4)
        else:
            ax.set_xlim(0, (pos.max() if len(pos) else 1) * 1.2)
        ax.set_xlabel("Number of sources")
        ax.legend(loc="lower right")
        if title:
            ax.set_title(title)
    return ax


def plot_interval_coverage(
    coverage: pd.DataFrame,
    *,
    method: str = "method",
    nominal: str = "nominal",
    empirical: str = "empirical",
    group: str | Sequence[str] | None = None,
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Empirical against nominal coverage of the prediction intervals, per method.

    Parameters
    ----------
    coverage : DataFrame
        One row per method x nominal level (x optional groups) with the columns named by
        ``method``, ``nominal`` and ``empirical`` (fractions in [0, 1]).
    group : str or list of str, optional
        Extra columns (e.g. ``target``) whose values get their own marker style.
    title : str, optional
    ax : matplotlib Axes, optional

    Returns
    -------
    Axes
        One line per method (and group) with ``gid`` = its label, and the ideal diagonal.
    """
    for col in (method, nominal, empirical):
        if col not in coverage.columns:
            raise ValueError(f"coverage must have a {col!r} column; got {list(coverage.columns)}")
    groups = [group] if isinstance(group, str) else list(group or [])
    markers = "osD^v<>"
    with style_context():
        ax = new_axes(ax, figsize=(4.8, 4.6))
        methods = list(dict.fromkeys(coverage[method].astype(str)))
        gvals = (list(dict.fromkeys(map(tuple, coverage[groups].astype(str).to_numpy())))
                 if groups else [()])
        for gi, gv in enumerate(gvals):
            for mi, m in enumerate(methods):
                sel = coverage[method].astype(str) == m
                for col, v in zip(groups, gv, strict=True):
                    sel &= coverage[col].astype(str) == v
                part = coverage[sel].sort_values(nominal)
                if part.empty:
                    continue
                label = m + (f" ({', '.join(gv)})" if gv else "")
                ax.plot(_arr(part[nominal]), _arr(part[empirical]), marker=markers[gi % 7],
                        ls="-" if gi == 0 else "--", color=f"C{mi}", label=label, gid=label)
        ax.plot([0, 1], [0, 1], ":", color=COLORS["one_to_one"], lw=1, label="ideal")
        # Each axis spans only its data (nominal levels are usually 0.68-0.95, empirical ones
        # can be far lower), so no square of empty space is drawn.
        nom, emp = _arr(coverage[nominal]), _arr(coverage[empirical])
        ax.set_xlim(max(0.0, float(np.nanmin(nom)) - 0.05), 1.0)
        ax.set_ylim(max(0.0, min(float(np.nanmin(emp)), float(np.nanmin(nom))) - 0.05), 1.02)
        ax.set_xlabel("Nominal coverage")
        ax.set_ylabel("Empirical coverage (held-out rows)")
        # Outside, on the right: the curves can pass through every part of the axes.
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0, fontsize=8)
        if title:
            ax.set_title(title)
    return ax
