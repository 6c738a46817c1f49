"""Interval coverage measured where values are issued, population by population.

A coverage figure is a promise only for the rows it was measured on. :func:`issued_coverage`
takes predictions (the output of ``predict_catalog`` of a predictor or a bundle) for rows whose
Spitzer flux is known but was never seen by the model (held-out folds, or a catalogue the model
was not trained on) and measures coverage and width for every population that received a
value: every row with a value, clean and non-clean rows, each quartile of the observed flux,
each counterpart signal-to-noise bin of the paper (Appendix A), each status that carries a
value, and each model of a bundle.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from .samples import (
    CLEAN_FLAG_COLUMNS,
    clean_mask,
    counterpart_snr,
    snr_bin_label,
    snr_bin_mask,
    snr_column,
)
from .samples import SNR_BINS as _BINS
from .schema import STATUS_UPPER_LIMIT, get_target, output_columns

__all__ = [
    "DISTANCE_EDGES",
    "MIN_POPULATION",
    "distance_curve",
    "heldout_predictions",
    "issued_coverage",
    "population_masks",
    "unlabelled_truth_coverage",
]

#: Populations smaller than this are reported but not judged against the nominal level.
MIN_POPULATION = 100


def population_masks(df: pd.DataFrame, target, *, issued: np.ndarray,
                     predicted: pd.DataFrame | None = None) -> dict[tuple[str, str], np.ndarray]:
    """Boolean masks (over ``df``'s rows) of every population among the ``issued`` rows.

    Keys are ``(population, group)``, e.g. ``("sample", "non-clean")`` or
    ``("observed flux", "Q1")``.
    """
    t = get_target(target)
    masks: dict[tuple[str, str], np.ndarray] = {("all issued", "all"): issued.copy()}
    if all(c in df.columns for c in CLEAN_FLAG_COLUMNS):
        clean = clean_mask(df).to_numpy(dtype=bool)
        masks[("sample", "clean")] = issued & clean
        masks[("sample", "non-clean")] = issued & ~clean
    flux = pd.to_numeric(df[t.column], errors="coerce").to_numpy(dtype=float)
    if issued.any():
        edges = np.quantile(flux[issued], [0.25, 0.5, 0.75])
        q = np.digitize(flux, edges)
        for i in range(4):
            masks[("observed flux", f"Q{i + 1}")] = issued & (q == i)
    snr = counterpart_snr(df, t).to_numpy(dtype=float)
    for lo, hi in _BINS:
        # SEIP keeps no error (so no SNR) for its upper limits: they are the lowest bin.
        label = snr_bin_label(lo, hi, snr_column(t))
        masks[("counterpart SNR", label)] = issued & snr_bin_mask(snr, lo, hi,
                                                                  missing_in_lowest=True)
    if predicted is not None:
        cols = output_columns(t)
        status = predicted[cols["status"]].astype(str).to_numpy()
        for s in sorted(set(status[issued])):
            masks[("status", s)] = issued & (status == s)
        model = f"{t.prefix}_pred_model"
        if model in predicted.columns:
            which = predicted[model].astype(str).to_numpy()
            for m in sorted(set(which[issued])):
                masks[("model", m)] = issued & (which == m)
    return masks


def issued_coverage(predicted: pd.DataFrame, target, *, truth: pd.DataFrame | None = None,
                    confidence: float = 0.95, tolerance: float = 0.02,
                    min_rows: int = MIN_POPULATION) -> pd.DataFrame:
    """Coverage of the issued intervals per population, against the observed Spitzer flux.

    Parameters
    ----------
    predicted : pandas.DataFrame
        ``predict_catalog`` output (a bundle's or a single predictor's) for rows the model
        never saw; must hold the target column (observed flux) unless ``truth`` does.
    target : {"mips1", "irac4"}
    truth : pandas.DataFrame, optional
        Rows aligned with ``predicted`` holding the target column and quality columns
        (default: ``predicted`` itself).
    confidence : float
        Nominal level of the intervals (for the verdict column).
    tolerance : float
        ``ok`` when coverage is within ``confidence +- tolerance`` (0.93-0.97 at 95%).
    min_rows : int
        Populations with fewer held-out rows get no verdict (``None``).

    Returns
    -------
    pandas.DataFrame
        Columns ``population``, ``group``, ``n``, ``coverage``, ``coverage_lo95``,
        ``coverage_hi95`` (the 95% Wilson interval of the coverage: a population of a few
        hundred rows that is calibrated exactly still lands outside 0.93-0.97 about one time
        in ten), ``width_dex``, ``within_tolerance`` (the coverage itself lies within
        ``confidence +- tolerance``) and ``consistent`` (the Wilson interval reaches that band:
        no evidence of a miss); both verdicts None below ``min_rows``.
    """
    t = get_target(target)
    df = predicted if truth is None else truth
    cols = output_columns(t)
    obs = pd.to_numeric(df[t.column], errors="coerce").to_numpy(dtype=float)
    lo = predicted[cols["lo"]].to_numpy(dtype=float)
    hi = predicted[cols["hi"]].to_numpy(dtype=float)
    issued = np.isfinite(lo) & np.isfinite(hi) & np.isfinite(obs) & (obs > 0)
    covered = (obs >= lo) & (obs <= hi)
    with np.errstate(divide="ignore", invalid="ignore"):
        width = np.log10(hi / lo)
    band = (confidence - tolerance - 1e-12, confidence + tolerance + 1e-12)
    rows = []
    for (population, group), m in population_masks(df, t, issued=issued,
                                                   predicted=predicted).items():
        n = int(m.sum())
        k = int(covered[m].sum())
        cov = k / n if n else np.nan
        ci_lo, ci_hi = _wilson(k, n)
        small = n < min_rows
        rows.append({"population": population, "group": group, "n": n, "coverage": cov,
                     "coverage_lo95": ci_lo, "coverage_hi95": ci_hi,
                     "width_dex": float(np.nanmean(width[m])) if n else np.nan,
                     "within_tolerance": None if small else bool(band[0] <= cov <= band[1]),
                     "consistent": None if small else bool(ci_lo <= band[1]
                                                           and ci_hi >= band[0])})
    if cols["status"] in predicted.columns:
        # Upper limits promise one side only: the observed flux is at most hi, at the upper
        # tail's level (0.975 for a 95% interval) or more.
        limit = (predicted[cols["status"]].astype(str).to_numpy() == STATUS_UPPER_LIMIT)
        limit &= np.isfinite(hi) & np.isfinite(obs) & (obs > 0)
        n = int(limit.sum())
        if n:
            k = int((obs[limit] <= hi[limit]).sum())
            ci_lo, ci_hi = _wilson(k, n)
            floor = (1 + confidence) / 2 - tolerance - 1e-12
            small = n < min_rows
            rows.append({"population": "status", "group": f"{STATUS_UPPER_LIMIT} (obs <= hi)",
                         "n": n, "coverage": k / n, "coverage_lo95": ci_lo,
                         "coverage_hi95": ci_hi, "width_dex": np.nan,
                         "within_tolerance": None if small else bool(k / n >= floor),
                         "consistent": None if small else bool(ci_hi >= floor)})
    return pd.DataFrame(rows)


def _wilson(k: int, n: int) -> tuple[float, float]:
    """95% Wilson score interval of ``k`` successes in ``n`` trials (NaN for n = 0)."""
    if n == 0:
        return np.nan, np.nan
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return float(ci.low), float(ci.high)


def heldout_predictions(df: pd.DataFrame, *, target, samples, cv: int = 5, random_state=0,
                        progress=None, diagnostics: bool = False,
                        **fit_params) -> pd.DataFrame:
    """Pooled k-fold predictions of a bundle for every labelled row, each held out once.

    The labelled rows of ``target`` (any sample) are split in ``cv`` folds; for each fold a
    :class:`~wise2spitzer.bundle.PredictorBundle` of ``samples`` is fitted on the catalogue
    without the fold's rows (hull included) and predicts them. The result, fed to
    :func:`issued_coverage`, measures coverage where values are issued.

    Parameters
    ----------
    df : pandas.DataFrame
        Catalogue in SEIP conventions.
    target : {"mips1", "irac4"}
    samples : sequence of str
        The bundle's samples (e.g. ``["clean", "unclean"]``).
    cv : int
        Folds (>= 2).
    random_state : int or None
        Seeds the folds and every fit.
    diagnostics : bool, default False
        Also add, from the model that answered each row, ``<p>_hull_distance`` (standardised
        distance outside its training hull, <= 0 inside; see
        :mod:`wise2spitzer.extrapolation`), ``<p>_f_pred_any`` (the model's value, issued
        or not) and ``<p>_f_pred_lo_hull`` / ``<p>_f_pred_hi_hull`` (the interval the
        in-hull calibration would give), for every row with a value or ``outside_domain``:
        what :func:`distance_curve` measures.
    **fit_params
        Passed to every ``SpitzerPredictor.fit`` (``preset="none"`` and ``test_size=None``
        unless given).

    Returns
    -------
    pandas.DataFrame
        The labelled rows (index kept) with the bundle's output columns for ``target``.
    """
    from sklearn.model_selection import KFold

    from .bundle import PredictorBundle
    from .errors import ModelError
    from .samples import labelled_mask

    t = get_target(target)
    if not isinstance(cv, int) or cv < 2:
        raise ModelError(f"cv must be an integer >= 2; got {cv!r}")
    fit_params = {"preset": "none", "test_size": None, **fit_params}
    labelled = np.flatnonzero(labelled_mask(df, t).to_numpy())
    parts = []
    folds = KFold(cv, shuffle=True, random_state=random_state).split(labelled)
    for k, (_, test) in enumerate(folds):
        if progress:
            progress(f"held-out fold {k + 1}/{cv}")
        held = df.index[labelled[test]]
        bundle = PredictorBundle.fit(df.drop(index=held), targets=[t.key], samples=samples,
                                     random_state=random_state, **fit_params)
        part = bundle.predict_catalog(df.loc[held])
        if diagnostics:
            part = _add_diagnostics(bundle, part, t)
        parts.append(part)
    return pd.concat(parts).loc[df.index[labelled]]


def _add_diagnostics(bundle, part: pd.DataFrame, t) -> pd.DataFrame:
    """Distance to the answering model's hull and its in-hull interval, for every row."""
    from .domain import log_fluxes
    from .extrapolation import standardised_distance
    from .features import build_features
    from .schema import STATUS_OUTSIDE_DOMAIN, VALUE_STATUSES, WISE_FLUX_COLUMNS

    cols = output_columns(t)
    n = len(part)
    dist, lo, hi = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    value = np.full(n, np.nan)
    status = part[cols["status"]].astype(str).to_numpy()
    choice = bundle.route(part, t)
    for i, member in enumerate(bundle.members_for(t)):
        p = bundle.answering(member)  # calibrated for the rows it answers
        rows = np.flatnonzero(choice == i)
        logw = log_fluxes(part.iloc[rows][list(WISE_FLUX_COLUMNS)].apply(pd.to_numeric,
                                                                         errors="coerce"))
        zone = getattr(p, "extrapolation", None)
        scale = zone.scale_ if zone is not None else np.ones(logw.shape[1])
        dist[rows] = standardised_distance(p.domain, logw, scale)
        usable = rows[np.isin(status[rows], (*VALUE_STATUSES, STATUS_UPPER_LIMIT,
                                                  STATUS_OUTSIDE_DOMAIN))]
        if len(usable):
            raw = part.iloc[usable][p.input_columns].apply(pd.to_numeric, errors="coerce")
            X = build_features(raw, p.feature_set)[p.features]
            value[usable] = p.regressor.predict(X)
            iv = p.regressor.predict_interval(X, method="conformal")
            lo[usable], hi[usable] = iv[:, 0], iv[:, 1]
    return part.assign(**{f"{t.prefix}_hull_distance": dist,
                          f"{t.prefix}_f_pred_any": value,
                          f"{t.prefix}_f_pred_lo_hull": lo,
                          f"{t.prefix}_f_pred_hi_hull": hi})


#: Edges (standardised log-flux units) of the distance bins of :func:`distance_curve`.
DISTANCE_EDGES: tuple[float, ...] = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0)


def distance_curve(heldout: pd.DataFrame, target, *, edges=DISTANCE_EDGES,
                   confidence: float = 0.95) -> pd.DataFrame:
    """Error and coverage of held-out rows against their distance outside the training hull.

    Parameters
    ----------
    heldout : pandas.DataFrame
        :func:`heldout_predictions` output with ``diagnostics=True``.
    target : {"mips1", "irac4"}
    edges : sequence of float
        Bin edges of the distance outside the hull; a first bin holds the rows inside.

    Returns
    -------
    pandas.DataFrame
        One row per distance bin (``inside``, then ``(a, b]``, the last open): ``n`` rows
        with a value or ``outside_domain``, ``d_median``, ``mae_dex`` (median absolute
        error of log10 flux, issued or not), ``coverage_hull`` (the in-hull calibration's interval),
        ``n_issued`` and ``coverage_issued`` (the interval the tool issued: the zone's for
        ``extrapolated`` rows) and ``issued_fraction``.
    """
    t = get_target(target)
    cols = output_columns(t)
    d = heldout[f"{t.prefix}_hull_distance"].to_numpy(dtype=float)
    obs = pd.to_numeric(heldout[t.column], errors="coerce").to_numpy(dtype=float)
    pred = heldout[f"{t.prefix}_f_pred_any"].to_numpy(dtype=float)
    lo_h = heldout[f"{t.prefix}_f_pred_lo_hull"].to_numpy(dtype=float)
    hi_h = heldout[f"{t.prefix}_f_pred_hi_hull"].to_numpy(dtype=float)
    lo, hi = heldout[cols["lo"]].to_numpy(dtype=float), heldout[cols["hi"]].to_numpy(dtype=float)
    usable = np.isfinite(lo_h) & np.isfinite(obs) & (obs > 0) & np.isfinite(d)
    issued = usable & np.isfinite(lo)
    with np.errstate(divide="ignore", invalid="ignore"):
        err = np.abs(np.log10(pred) - np.log10(obs))
    edges = list(edges)
    bins = [("inside", usable & (d <= edges[0]))]
    for a, b in zip(edges, [*edges[1:], np.inf], strict=True):
        label = f"({a:g}, {b:g}]" if np.isfinite(b) else f"> {a:g}"
        bins.append((label, usable & (d > a) & (d <= b)))
    rows = []
    for label, m in bins:
        mi = m & issued
        rows.append({
            "distance": label,
            "n": int(m.sum()),
            "d_median": float(np.median(d[m])) if m.any() else np.nan,
            "mae_dex": float(np.median(err[m])) if m.any() else np.nan,
            "coverage_hull": float(((obs >= lo_h) & (obs <= hi_h))[m].mean()) if m.any()
            else np.nan,
            "n_issued": int(mi.sum()),
            "coverage_issued": float(((obs >= lo) & (obs <= hi))[mi].mean()) if mi.any()
            else np.nan,
            "issued_fraction": float(mi.sum() / m.sum()) if m.any() else np.nan,
        })
    return pd.DataFrame(rows)


def unlabelled_truth_coverage(predicted: pd.DataFrame, target, *,
                              truth_column: str | None = None) -> pd.DataFrame:
    """Coverage of the values issued to never-labelled rows, against a known true flux.

    The intervals are calibrated on labelled rows (a Spitzer flux was measured). Most rows a
    user predicts were never labelled, and in SEIP a flux is only reported above a detection
    threshold, so the never-labelled rows can be fainter than anything the model was trained
    on. Only a simulation knows their flux (``true_<column>``, noise-free); this measures
    there what no held-out labelled row can show.

    Parameters
    ----------
    predicted : pandas.DataFrame
        ``predict_catalog`` output holding the target column and ``truth_column``.
    target : {"mips1", "irac4"}
    truth_column : str, optional
        Default ``"true_" + target column`` (the simulation's).

    Returns
    -------
    pandas.DataFrame
        Per status carrying a value, and for all of them: ``n`` never-labelled rows with a
        value, ``coverage_truth`` (fraction whose true flux lies in the interval),
        ``median_pred_over_truth`` and ``median_truth_ujy``; a last row for the upper
        limits, whose ``coverage_truth`` is the fraction with the true flux at or below
        the limit; empty without the truth column.
    """
    from .schema import VALUE_STATUSES

    t = get_target(target)
    cols = output_columns(t)
    truth_column = truth_column or f"true_{t.column}"
    if truth_column not in predicted.columns or cols["pred"] not in predicted.columns:
        return pd.DataFrame()
    obs = pd.to_numeric(predicted[t.column], errors="coerce").to_numpy(dtype=float)
    true = pd.to_numeric(predicted[truth_column], errors="coerce").to_numpy(dtype=float)
    pred, lo, hi = (predicted[cols[k]].to_numpy(dtype=float) for k in ("pred", "lo", "hi"))
    status = predicted[cols["status"]].astype(str).to_numpy()
    never = ~(obs > 0) & (true > 0) & np.isfinite(pred)
    rows = []
    groups = [(s, status == s) for s in VALUE_STATUSES]
    groups.append(("all with a value", np.ones_like(never)))
    for name, m in groups:
        m = m & never
        n = int(m.sum())
        rows.append({"status": name, "n": n,
                     "coverage_truth": float(((true >= lo) & (true <= hi))[m].mean()) if n
                     else np.nan,
                     "median_pred_over_truth": float(np.median(pred[m] / true[m])) if n
                     else np.nan,
                     "median_truth_ujy": float(np.median(true[m])) if n else np.nan})
    # Upper limits: the share of true fluxes at or below the limit (one-sided).
    m = ~(obs > 0) & (true > 0) & np.isfinite(hi) & (status == STATUS_UPPER_LIMIT)
    n = int(m.sum())
    rows.append({"status": f"{STATUS_UPPER_LIMIT} (true <= hi)", "n": n,
                 "coverage_truth": float((true[m] <= hi[m]).mean()) if n else np.nan,
                 "median_pred_over_truth": np.nan,
                 "median_truth_ujy": float(np.median(true[m])) if n else np.nan})
    return pd.DataFrame(rows)
