"""Spectral energy distributions: observed photometry plus predicted Spitzer fluxes (Fig. 8).

The bands, wavelengths and columns come from :data:`wise2spitzer.schema.BANDS`; fluxes in the
catalogue are in uJy (SEIP convention). A flux that is 0, negative or NaN is "not measured" and
is not drawn; a WISE flux without an error (SEIP stores the 95% upper limit there when the SNR
is below 2) is drawn as an upper limit.

Examples
--------
>>> import pandas as pd
>>> from wise2spitzer.sed import plot_sed
>>> row = pd.Series({"objid": 1, "wise1": 5e3, "dwise1": 1e2, "wise4": 2e3,
...                  "m1_f_pred": 1.5e3, "m1_f_pred_lo": 1.2e3, "m1_f_pred_hi": 1.9e3})
>>> ax = plot_sed(row)
>>> ax.get_xscale(), ax.get_yscale()
('log', 'log')
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from .plots import (
    COLORS,
    UNIT_SCALE,
    check_unit,
    new_axes,
    readable_log_ticks,
    style_context,
    unit_tex,
)
from .schema import (
    BANDS,
    ID_COLUMN,
    STATUS_OK,
    STATUS_UPPER_LIMIT,
    TARGETS,
    get_target,
    output_columns,
)

__all__ = ["INSTRUMENT_STYLE", "pick_sed_sources", "plot_sed", "sed_table"]

#: Marker and colour per instrument (predictions are red stars, as in the paper).
INSTRUMENT_STYLE: dict[str, dict[str, object]] = {
    "Gaia": {"marker": "o", "color": "#8c6d31"},
    "2MASS": {"marker": "s", "color": "#9467bd"},
    "WISE": {"marker": "D", "color": COLORS["wise"]},
    "IRAC": {"marker": "^", "color": COLORS["spitzer"]},
    "MIPS": {"marker": "v", "color": COLORS["spitzer"]},
}


_PRED_COLORS = {"mips1": COLORS["predicted"], "irac4": "#ff7f0e"}


def _as_row(row) -> pd.Series:
    if isinstance(row, pd.DataFrame):
        if len(row) != 1:
            raise ValueError(f"row must be a single catalogue row; got a table of {len(row)} rows")
        return row.iloc[0]
    if isinstance(row, Mapping):
        return pd.Series(dict(row))
    if isinstance(row, pd.Series):
        return row
    raise TypeError(
        f"row must be a pandas Series, a one-row DataFrame or a mapping; got {type(row)}")


def _ident(row: pd.Series) -> str:
    """The row's identifier as text (an integer id read as float prints without ".0")."""
    v = row.get(ID_COLUMN, None)
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "<row>"
    if isinstance(v, float | np.floating) and float(v).is_integer():
        return str(int(v))
    return str(v)


def _num(row: pd.Series, col: str) -> float:
    if col not in row.index:
        return np.nan
    try:
        v = float(row[col])
    except (TypeError, ValueError):
        return np.nan
    return v if np.isfinite(v) else np.nan


def sed_table(row) -> pd.DataFrame:
    """The observed photometry of one catalogue row, one line per measured band.

    Parameters
    ----------
    row : Series, one-row DataFrame or mapping
        A catalogue row with SEIP columns (uJy).

    Returns
    -------
    DataFrame
        Columns ``band``, ``instrument``, ``wavelength_um``, ``flux_ujy``, ``error_ujy`` (NaN if
        unknown) and ``upper_limit`` (a WISE flux without an error), sorted by wavelength. Bands
        the row does not have, or whose flux is not positive, are left out.
    """
    r = _as_row(row)
    rows = []
    for b in BANDS.values():
        f = _num(r, b.column)
        if not (f > 0):
            continue
        e = _num(r, b.error_column)
        has_err_col = b.error_column in r.index
        rows.append(
            {
                "band": b.name,
                "instrument": b.instrument,
                "wavelength_um": b.wavelength_um,
                "flux_ujy": f,
                "error_ujy": e if e > 0 else np.nan,
                # SEIP keeps the 95% upper limit in wise# and leaves dwise# empty (SNR < 2).
                "upper_limit": bool(b.instrument == "WISE" and has_err_col and not (e > 0)),
            }
        )
    cols = ["band", "instrument", "wavelength_um", "flux_ujy", "error_ujy", "upper_limit"]
    return pd.DataFrame(rows, columns=cols).sort_values("wavelength_um", ignore_index=True)


def _predictions_from(row: pd.Series, predictions) -> list[tuple[str, str, float, float, float]]:
    """Normalise ``predictions`` to (label, target key, pred, lo, hi) tuples in uJy."""
    out = []
    if predictions is None:
        # Use the output columns the row already carries (a predict_catalog result).
        for key in TARGETS:
            cols = output_columns(key)
            if cols["pred"] not in row.index:
                continue
            status = row.get(cols["status"], STATUS_OK)
            if isinstance(status, str) and status == STATUS_UPPER_LIMIT:
                hi = _num(row, cols["hi"])
                if hi > 0:
                    out.append((f"{TARGETS[key].band} predicted upper limit", key, np.nan,
                                np.nan, hi))
                continue
            if isinstance(status, str) and status != STATUS_OK:
                continue
            p = _num(row, cols["pred"])
            if p > 0:
                out.append((f"{TARGETS[key].band} predicted", key, p,
                            _num(row, cols["lo"]), _num(row, cols["hi"])))
        return out
    if isinstance(predictions, pd.Series | pd.DataFrame):
        return _predictions_from(_as_row(predictions), None)
    if not isinstance(predictions, Mapping):
        raise TypeError(
            "predictions must be None, a row with the output columns, or a mapping "
            f"'target[:label]' -> (pred, lo, hi) in uJy; got {type(predictions).__name__}"
        )
    for name, val in predictions.items():
        key, _, label = str(name).partition(":")
        t = get_target(key)
        vals = np.atleast_1d(np.asarray(val, dtype=float))
        if vals.size not in (1, 3):
            raise ValueError(
                f"predictions[{name!r}] must be a flux or (pred, lo, hi) in uJy; got {val!r}"
            )
        p, lo, hi = (vals[0], np.nan, np.nan) if vals.size == 1 else vals
        if p > 0:
            out.append((label or f"{t.band} predicted", t.key, p, lo, hi))
        elif not np.isfinite(p) and hi > 0:  # (nan, nan, hi): an upper limit
            out.append((label or f"{t.band} predicted upper limit", t.key, np.nan, np.nan, hi))
    return out


def plot_sed(
    row,
    *,
    predictions=None,
    unit: str = "mJy",
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Draw the SED of one source: Gaia, 2MASS, WISE, IRAC, MIPS and the predicted fluxes.

    Parameters
    ----------
    row : Series, one-row DataFrame or mapping
        A catalogue row with SEIP columns (uJy); ``objid`` (if present) goes in the title.
    predictions : None, Series or mapping, optional
        ``None`` draws the output columns the row carries (``m1_f_pred``, ``m1_f_pred_lo``,
        ``m1_f_pred_hi``... with status ``ok``; with status ``upper_limit``, an arrow down from
        ``m1_f_pred_hi``). A mapping ``"mips1"`` or ``"mips1:<label>"`` -> ``(pred, lo, hi)``
        (uJy) draws several models' predictions; ``(nan, nan, hi)`` is an upper limit.
    unit : {"uJy", "mJy", "Jy"}
        Display unit of flux density.
    title : str, optional
        Defaults to the source identifier.
    ax : matplotlib Axes, optional

    Returns
    -------
    Axes
        Flux density against wavelength on log-log axes. Observed points of each instrument
        are one errorbar container whose data line has ``gid`` = the instrument; predictions
        have ``gid="predicted"``.
    """
    check_unit(unit)
    r = _as_row(row)
    scale = UNIT_SCALE[unit]
    table = sed_table(r)
    preds = _predictions_from(r, predictions)
    if table.empty and not preds:
        raise ValueError(
            f"source {_ident(r)} has no positive flux in any band of schema.BANDS "
            f"({[b.column for b in BANDS.values()]}) and no prediction: nothing to draw"
        )
    with style_context():
        ax = new_axes(ax, figsize=(7.2, 4.4))
        for inst, part in table.groupby("instrument", sort=False):
            st = INSTRUMENT_STYLE[inst]
            f = part["flux_ujy"].to_numpy() / scale
            e = part["error_ujy"].fillna(0).to_numpy() / scale
            ul = part["upper_limit"].to_numpy()
            det = ~ul
            if det.any():
                eb = ax.errorbar(part["wavelength_um"][det], f[det],
                                 yerr=np.minimum(e[det], f[det] * 0.999), fmt=st["marker"],
                                 color=st["color"], ms=6, mfc="white" if inst == "Gaia" else None,
                                 capsize=2, label=inst, zorder=3)
                eb.lines[0].set_gid(inst)
            if ul.any():
                eb = ax.errorbar(part["wavelength_um"][ul], f[ul], yerr=f[ul] * 0.4, uplims=True,
                                 fmt=st["marker"], mfc="none", color=st["color"], ms=6,
                                 label=f"{inst} 95% upper limit", zorder=3)
                eb.lines[0].set_gid(f"{inst}_upper_limit")
        for i, (label, key, p, lo, hi) in enumerate(preds):
            wl = BANDS[TARGETS[key].band].wavelength_um
            # Shifted a little in wavelength so an observed point of the same band (and other
            # models' predictions) stay visible next to the prediction.
            wl = wl * (1.08 + 0.06 * i)
            yerr = None
            if np.isfinite(lo) and np.isfinite(hi):
                yerr = np.array([[max(p - lo, 0.0)], [max(hi - p, 0.0)]]) / scale
            # One colour per predicted band (red MIPS1, orange IRAC4), or per model if several.
            color = (_PRED_COLORS.get(key, COLORS["predicted"]) if len(preds) <= 2
                     else f"C{i + 3}")
            if not np.isfinite(p):
                # Only an upper limit was issued (status upper_limit): an arrow down from it.
                eb = ax.errorbar([wl], [hi / scale], yerr=[[0.4 * hi / scale], [0.0]],
                                 uplims=True, fmt="*", ms=11, mfc="none", color=color,
                                 mec=color, capsize=3, label=label, zorder=4)
                eb.lines[0].set_gid("predicted_upper_limit")
                continue
            eb = ax.errorbar([wl], [p / scale], yerr=yerr, fmt="*", ms=11, color=color,
                             mec="k", mew=0.5, capsize=3, label=label, zorder=4)
            eb.lines[0].set_gid("predicted")
        ax.set_xscale("log")
        ax.set_yscale("log")
        # Room above and below so the brightest and faintest markers are not cut in half.
        ax.margins(y=0.12)
        ax.set_xlabel("Wavelength [$\\mu$m]")
        ax.set_ylabel(f"Flux density $F_\\nu$ [{unit_tex(unit)}]")
        ax.set_xlim(0.4, 35)
        ax.set_xticks([0.5, 1, 2, 5, 10, 20, 30], ["0.5", "1", "2", "5", "10", "20", "30"])
        ax.tick_params(axis="x", which="minor", labelbottom=False)
        readable_log_ticks(ax, "y")
        # Outside the axes: an SED has points in every corner, a legend inside would cover some.
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, borderaxespad=0)
        ident = _ident(r)
        ax.set_title(title if title is not None else (f"{ID_COLUMN} {ident}" if ident != "<row>"
                                                      else "SED"))
    return ax


def pick_sed_sources(
    predictions: pd.DataFrame,
    *,
    target: str = "mips1",
    n: int = 4,
    random_state=None,
) -> pd.Index:
    """Choose ``n`` representative sources for SED figures.

    Takes rows with an ``ok`` prediction for ``target``, half of them with an observed Spitzer
    flux (so the prediction can be compared with the truth) and half without (what the tool is
    for), spread over the predicted flux range (quantiles), ties broken with ``random_state``.

    Parameters
    ----------
    predictions : DataFrame
        A ``predict_catalog`` result (the output columns of ``target`` must be there).
    target : {"mips1", "irac4"}
    n : int
    random_state : int, Generator or None

    Returns
    -------
    Index
        Index labels of the chosen rows (fewer than ``n`` if fewer rows qualify).
    """
    t = get_target(target)
    cols = output_columns(t)
    for c in (cols["pred"], cols["status"]):
        if c not in predictions.columns:
            raise ValueError(
                f"predictions must have the output column {c!r} of target {t.key!r}; it has not"
            )
    rng = np.random.default_rng(random_state)
    ok = predictions[cols["status"]].astype(str) == STATUS_OK
    obs = pd.to_numeric(predictions.get(t.column), errors="coerce") if t.column in predictions \
        else pd.Series(np.nan, index=predictions.index)
    labelled = ok & (obs > 0)
    groups = [predictions.index[labelled], predictions.index[ok & ~labelled]]
    want = [n - n // 2, n // 2]
    if len(groups[1]) == 0:
        want = [n, 0]
    elif len(groups[0]) == 0:
        want = [0, n]
    chosen: list = []
    for idx, k in zip(groups, want, strict=True):
        if k == 0 or len(idx) == 0:
            continue
        pred = pd.to_numeric(predictions.loc[idx, cols["pred"]], errors="coerce")
        order = pred.sort_values().index
        # Quantile positions spread the picks over the flux range; jitter avoids always the
        # same extreme rows.
        pos = np.linspace(0.1, 0.9, k) if k > 1 else np.array([0.5])
        pos = np.clip(pos + rng.uniform(-0.05, 0.05, k), 0, 1)
        picks = np.unique((pos * (len(order) - 1)).round().astype(int))
        chosen.extend(order[picks])
    return pd.Index(chosen)

