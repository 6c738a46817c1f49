"""The tables of the study: sample flow, quality cuts and what the report shows.

:func:`sample_flow` (paper Fig. 2) and :func:`quality_cut_table` (Appendix A) count rows; the
inside-the-hull and predictable counts come from the predictor's own applicability domain
(:func:`predictable_rows`), so they say what ``predict`` decides. The other functions reshape
the study's tables (metrics, coverage, statuses) for the report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..errors import Wise2SpitzerError
from ..samples import (
    ALL,
    CLEAN,
    SNR_BINS,
    SNR_THRESHOLDS,
    UNCLEAN,
    counterpart_snr,
    labelled_mask,
    quality_cut_counts,
    sample_mask,
    snr_bin_label,
    snr_column,
    study_samples,
)
from ..schema import STATUS_OK, WISE_FLUX_COLUMNS, get_target, output_columns
from ..study import training_domain

__all__ = [
    "PAPER_COUNTS",
    "PAPER_FULL_ROWS",
    "PAPER_W4SNR_FRACTIONS",
    "coverage_table",
    "flow_table",
    "metrics_table",
    "n_folds",
    "numeric",
    "predictable_rows",
    "quality_cut_table",
    "quartile_table",
    "sample_flow",
    "snr_bin_table",
    "status_table",
]

#: Rows of the paper's catalogue (Fonseca-Bonilla et al. 2024, Sect. 2): its unclean sample.
PAPER_FULL_ROWS = 26068
#: Numbers of the paper (Sect. 2 and Fig. 2) for comparison: (sample, step) -> rows.
PAPER_COUNTS: dict[tuple[str, str], int] = {
    ("all rows", ""): PAPER_FULL_ROWS, (CLEAN, ""): 9231,
    (UNCLEAN, "mips1 labelled"): 2592, (CLEAN, "mips1 labelled"): 1096,
    (CLEAN, "mips1 unlabelled inside hull"): 4348}
#: Fractions of the labelled clean MIPS1 rows per W4 SNR bin in the paper (Appendix A), one
#: per bin of :data:`wise2spitzer.samples.SNR_BINS`.
PAPER_W4SNR_FRACTIONS: tuple[float, ...] = (0.32, 0.10, 0.32, 0.26)


def numeric(values) -> pd.Series:
    """``values`` as floats (NaN where not a number)."""
    return pd.to_numeric(values, errors="coerce").astype(float)


def _positive(df: pd.DataFrame, col: str) -> pd.Series:
    if col not in df.columns:
        return pd.Series(False, index=df.index)
    v = numeric(df[col])
    return (v > 0) & np.isfinite(v)


def predictable_rows(df: pd.DataFrame, *, target, sample: str, predictor=None,
                     valued: bool = False) -> pd.Series:
    """Rows of ``df`` the model of ``target`` trained on ``sample`` can predict.

    Parameters
    ----------
    df : DataFrame
    target : {"mips1", "irac4"}
    sample : {"clean", "unclean", "all"}
    predictor : SpitzerPredictor, optional
        The fitted model: the rows its ``row_status`` is ``ok`` (inside its domain, every
        feature measured: the paper's "inside the hull"), exactly what ``predict`` decides
        before computing values. Without it, the rows inside the hull such a model would be
        trained on (:func:`wise2spitzer.study.training_domain`); none if that hull cannot
        be built.
    valued : bool, default False
        With ``predictor``: the rows its ``predict_catalog`` gives a value (status ``ok``),
        that is also not turned into an upper limit by the detection floor.

    Returns
    -------
    Series of bool, index of ``df``
    """
    if predictor is not None:
        if valued:
            status = predictor.predict_catalog(df)[output_columns(predictor.target)["status"]]
        else:
            status = pd.Series(predictor.row_status(df))
        return pd.Series(np.asarray(status.astype(str) == STATUS_OK, bool), index=df.index)
    try:
        domain = training_domain(df, target=target, sample=sample)
    except Wise2SpitzerError:  # too few or degenerate training rows: no model, nothing inside
        return pd.Series(False, index=df.index)
    return pd.Series(np.asarray(domain.contains(df[list(WISE_FLUX_COLUMNS)]), bool),
                     index=df.index)


def sample_flow(
    df: pd.DataFrame,
    *,
    targets: Sequence[str] = ("mips1", "irac4"),
    predictors: Mapping[tuple[str, str], Any] | None = None,
) -> pd.DataFrame:
    """The paper's Fig. 2 flow: rows -> clean -> labelled / unlabelled -> inside the hull.

    Parameters
    ----------
    df : DataFrame
        Catalogue in SEIP conventions.
    targets : sequence of {"mips1", "irac4"}
    predictors : mapping of (target key, sample) -> SpitzerPredictor, optional
        Fitted models; the inside-hull rows of a target and sample are those its model can
        predict (:func:`predictable_rows`). A missing model is replaced by the hull it would
        be trained on.

    Returns
    -------
    DataFrame
        Columns ``sample``, ``step`` and ``n``: one row for the whole catalogue, one per sample
        and, per sample and target, the labelled rows (target measured), the unlabelled rows and
        the unlabelled rows inside the model's applicability domain (the rows it can predict).
    """
    predictors = predictors or {}
    rows = [{"sample": "all rows", "step": "", "n": len(df)}]
    for sample in study_samples(df):
        m = sample_mask(df, sample).astype(bool)
        if sample != ALL:
            rows.append({"sample": sample, "step": "", "n": int(m.sum())})
        for t in (get_target(x) for x in targets):
            if t.column not in df.columns:
                continue
            lab = labelled_mask(df, t).astype(bool) & m
            unl = m & ~lab
            inside = predictable_rows(df, target=t, sample=sample,
                                      predictor=predictors.get((t.key, sample)))
            rows.append({"sample": sample, "step": f"{t.key} labelled", "n": int(lab.sum())})
            rows.append({"sample": sample, "step": f"{t.key} unlabelled", "n": int(unl.sum())})
            rows.append({"sample": sample, "step": f"{t.key} unlabelled inside hull",
                         "n": int((unl & inside).sum())})
    return pd.DataFrame(rows)


def quality_cut_table(
    df: pd.DataFrame, *, target: str = "mips1", predictable: pd.Series | None = None
) -> pd.DataFrame:
    """Rows each plain WISE quality cut keeps, against the rows the model can predict.

    The cuts (paper Appendix A) start from the unclean rows, then the clean ones, then clean
    rows with the counterpart's SNR (``w4snr`` for MIPS1, ``w3snr`` for IRAC4) >= each of
    :data:`wise2spitzer.samples.SNR_THRESHOLDS` (2, 3, 10).

    Parameters
    ----------
    df : DataFrame
    target : {"mips1", "irac4"}
    predictable : boolean Series, optional
        Rows the model can predict (status ``ok``). Default: rows inside the hull a model of
        the clean sample (or of sample "all" without clean flags) would be trained on
        (:func:`predictable_rows`).

    Returns
    -------
    DataFrame
        ``cut``, ``n_kept``, ``n_labelled`` (target measured), ``n_predictable`` (kept rows the
        model can predict) and ``fraction_kept`` (of the first row).
    """
    t = get_target(target)
    snr = counterpart_snr(df, t)
    lab = labelled_mask(df, t).astype(bool) if t.column in df.columns else \
        pd.Series(False, index=df.index)
    has_counterpart = _positive(df, t.counterpart)
    base = [(s, sample_mask(df, s).astype(bool)) for s in study_samples(df)]
    last_name, last = base[-1]
    cuts = list(base)
    for thr in SNR_THRESHOLDS:
        with np.errstate(invalid="ignore"):
            cuts.append((f"{last_name}, {t.counterpart_band} SNR >= {thr:g}", last & (snr >= thr)))
    if predictable is None:
        predictable = predictable_rows(df, target=t, sample=last_name)
    predictable = pd.Series(np.asarray(predictable, bool), index=df.index)
    rows = []
    for name, m in cuts:
        m = m & has_counterpart
        rows.append({"cut": name, "n_kept": int(m.sum()), "n_labelled": int((m & lab).sum()),
                     "n_predictable": int((m & predictable & last).sum())})
    out = pd.DataFrame(rows)
    out["fraction_kept"] = out["n_kept"] / max(int(out["n_kept"].iloc[0]), 1)
    # The model only predicts rows of the sample it was trained on; outside it the number is
    # not meaningful, so it is left blank rather than shown as 0.
    out.loc[out.index[: len(base) - 1], "n_predictable"] = np.nan
    return out


def snr_bin_table(df: pd.DataFrame) -> pd.DataFrame | None:
    """:func:`~wise2spitzer.samples.quality_cut_counts` of MIPS1 with the paper's W4 SNR
    fractions beside it (None when the table cannot make the cuts)."""
    try:
        t = quality_cut_counts(df, "mips1").reset_index()
    except (Wise2SpitzerError, KeyError, ValueError):
        return None
    col = snr_column("mips1")
    paper = {f"{CLEAN} & {snr_bin_label(lo, hi, col)}": f
             for (lo, hi), f in zip(SNR_BINS, PAPER_W4SNR_FRACTIONS, strict=True)}
    t["paper fraction_of_clean"] = [paper.get(str(c), np.nan) for c in t[t.columns[0]]]
    # A fraction of the clean rows is meaningless for a row that is not a subset of them
    # (the unclean sample holds more rows than the clean one): left blank, not > 100%.
    if "fraction_of_clean" in t:
        not_clean = ~t[t.columns[0]].astype(str).str.startswith(CLEAN)
        t.loc[not_clean, "fraction_of_clean"] = np.nan
    return t


def metrics_table(metrics: pd.DataFrame) -> pd.DataFrame:
    """Paper Table 2 equivalent: cv mean +/- std and test scores per target/sample/model."""
    rows = []
    for (tk, s, model), g in metrics.groupby(["target", "sample", "model"], sort=False):
        cv = g[g["split"] == "cv"].iloc[0] if (g["split"] == "cv").any() else None
        te = g[g["split"] == "test"].iloc[0] if (g["split"] == "test").any() else None
        row = {"target": get_target(tk).band, "sample": s, "model": model}
        if "feature_set" in g and model != "raw WISE":
            row["features"] = str(g["feature_set"].iloc[0])
        elif "feature_set" in g:
            row["features"] = "-"
        if cv is not None:
            row["R2 cv"] = f"{cv['r2']:.3f} ± {cv.get('r2_std', np.nan):.3f}"
            row["MAE cv (dex)"] = f"{cv['mae']:.3f} ± {cv.get('mae_std', np.nan):.3f}"
        if te is not None:
            row.update({"R2 test": te["r2"], "MAE test (dex)": te["mae"],
                        "RMSE test (dex)": te["rmse"], "MAPE log10 test": te["mape"],
                        "MAPE flux test": te["mape_linear"], "n train": int(te["n_train"]),
                        "n test": int(te["n_test"])})
        rows.append(row)
    return pd.DataFrame(rows)


def coverage_table(coverage: pd.DataFrame) -> pd.DataFrame:
    """Coverage and width per target, sample, method and reference at every confidence."""
    allbin = coverage[coverage["bin"] == "all"]
    rows = []
    for (tk, s, m, ref), g in allbin.groupby(["target", "sample", "method", "reference"],
                                           sort=False):
        row = {"target": get_target(tk).band, "sample": s, "method": m, "scored against": ref,
               "n held out": int(g["n"].iloc[0])}
        for _, r in g.sort_values("confidence").iterrows():
            row[f"{r['confidence']:.0%} nominal"] = (
                f"{r['coverage']:.1%} (width {r['width_dex']:.2f} dex)")
        rows.append(row)
    return pd.DataFrame(rows)


def n_folds(coverage: pd.DataFrame) -> str:
    """The folds of the coverage study as text (``"5"``, ``"3/5"``; ``"k"`` if unknown)."""
    folds = coverage["n_folds"].dropna().unique() if "n_folds" in coverage else []
    return "/".join(str(int(f)) for f in sorted(folds)) or "k"


def quartile_table(coverage: pd.DataFrame, *, confidence: float = 0.95) -> pd.DataFrame:
    """Coverage at ``confidence`` per quartile of the reference flux (one column per bin)."""
    part = coverage[np.isclose(coverage["confidence"], confidence) & (coverage["bin"] != "all")]
    rows = []
    for (tk, s, m, ref), g in part.groupby(["target", "sample", "method", "reference"],
                                         sort=False):
        row = {"target": get_target(tk).band, "sample": s, "method": m, "scored against": ref}
        for _, r in g.iterrows():
            row[str(r["bin"])] = f"{r['coverage']:.1%}"
        rows.append(row)
    return pd.DataFrame(rows)


def status_table(predicted: pd.DataFrame, *, used: dict[str, str]) -> pd.DataFrame:
    """Rows per prediction status, for each target predicted (``used``: target -> sample)."""
    rows = []
    for tk, s in used.items():
        col = output_columns(tk)["status"]
        vc = predicted[col].astype(str).value_counts()
        rows.append({"target": get_target(tk).band, "model sample": s,
                     **{k: int(v) for k, v in vc.items()}})
    # A status one target lacks is 0 rows of it; counts stay integers.
    table = pd.DataFrame(rows)
    counts = [c for c in table.columns if c not in ("target", "model sample")]
    table[counts] = table[counts].fillna(0).astype(int)
    return table


def flow_table(counts: pd.DataFrame, *, simulated: bool, n_rows: int) -> pd.DataFrame:
    """:func:`sample_flow` for the report, with the paper's counts beside a full simulation."""
    t = counts.copy()
    t["step"] = t["step"].replace("", "rows")
    if simulated and n_rows == PAPER_FULL_ROWS:
        t["paper (real SEIP)"] = pd.array([
            PAPER_COUNTS.get((s, "" if st == "rows" else st), None)
            for s, st in zip(t["sample"], t["step"], strict=True)], dtype="Int64")
        # The unclean sample of the paper is the whole catalogue.
        t.loc[(t["sample"] == UNCLEAN) & (t["step"] == "rows"), "paper (real SEIP)"] = \
            PAPER_FULL_ROWS
    return t
