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

from .samples import (
    CLEAN_FLAG_COLUMNS,
    clean_mask,
    counterpart_snr,
    snr_bin_label,
    snr_bin_mask,
    snr_column,
)
from .samples import SNR_BINS as _BINS
from .schema import get_target, output_columns

__all__ = ["MIN_POPULATION", "heldout_predictions", "issued_coverage", "population_masks"]

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
        Columns ``population``, ``group``, ``n``, ``coverage``, ``width_dex``,
        ``within_tolerance``.
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
    rows = []
    for (population, group), m in population_masks(df, t, issued=issued,
                                                   predicted=predicted).items():
        n = int(m.sum())
        cov = float(covered[m].mean()) if n else np.nan
        verdict = None if n < min_rows else bool(abs(cov - confidence) <= tolerance + 1e-12)
        rows.append({"population": population, "group": group, "n": n, "coverage": cov,
                     "width_dex": float(np.nanmean(width[m])) if n else np.nan,
                     "within_tolerance": verdict})
    return pd.DataFrame(rows)


def heldout_predictions(df: pd.DataFrame, *, target, samples, cv: int = 5, random_state=0,
                        progress=None, **fit_params) -> pd.DataFrame:
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
        parts.append(bundle.predict_catalog(df.loc[held]))
    return pd.concat(parts).loc[df.index[labelled]]
