"""The ``reproduce`` study: the paper's analysis end to end, written as a report.

:func:`reproduce` loads a catalogue (the embedded simulation by default), counts the samples
(the paper's Fig. 2 flow), scores ET, LR and the raw WISE estimate for MIPS1 and IRAC4 on the
clean and unclean samples (:func:`wise2spitzer.evaluation.evaluate`, the Table 2 equivalent),
measures the coverage of every interval method, fits and saves the predictors, predicts every
input row and draws the figures (paper Figs. 5-10 and the interval coverage). Everything goes
into one directory with a ``report.md`` and a self-contained ``report.html`` that say what the
data was and what the numbers mean.

:func:`quality_cut_analysis` is the paper's Appendix A on its own (``wise2spitzer cuts``).
"""

from __future__ import annotations

import base64
import functools
import html
import json
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from . import plots
from .errors import CatalogError, ModelError, Wise2SpitzerError
from .evaluation import STUDY_PRESETS, cap_labelled, study_preset
from .schema import ID_COLUMN, STATUS_OK, WISE_FLUX_COLUMNS, get_target, output_columns

__all__ = [
    "REPRODUCE_PRESETS",
    "ReproduceResult",
    "plot_quality_cuts",
    "quality_cut_analysis",
    "quality_cut_table",
    "reproduce",
    "sample_flow",
]

Progress = Callable[[str], None] | None

#: The presets of ``reproduce``; the same table drives ``wise2spitzer evaluate`` so both
#: print the same numbers for the same preset and seed (see
#: :data:`wise2spitzer.evaluation.STUDY_PRESETS`).
REPRODUCE_PRESETS = STUDY_PRESETS
#: Overrides of ``quick=True`` (tests, smoke runs): small forests, few folds, no search.
_QUICK = {"tuning": "none", "cv": 3, "lc_cv": 2, "lc_sizes": (0.5, 1.0), "interval_cv": None,
          "regressor_params": {"n_estimators": 20, "boruta_max_iter": 10, "conformal_cv": 3}}
_CONFIDENCES = (0.68, 0.9, 0.95)
#: Folds of the interval-coverage study (pooled out-of-fold intervals).
_INTERVAL_CV = 5
#: Numbers of the paper (Fonseca-Bonilla et al. 2024, Sect. 2 and Fig. 2) for comparison.
_PAPER_COUNTS = {("all rows", ""): 26068, ("clean", ""): 9231,
                 ("unclean", "mips1 labelled"): 2592, ("clean", "mips1 labelled"): 1096,
                 ("clean", "mips1 unlabelled inside hull"): 4348}


@dataclass
class ReproduceResult:
    """What :func:`reproduce` wrote and the main tables (also on disk)."""

    out: Path
    data: str
    simulated: bool
    samples: list[str]
    counts: pd.DataFrame
    metrics: pd.DataFrame
    coverage: pd.DataFrame
    files: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0


# ----------------------------------------------------------------------------- helpers
def _num(s) -> pd.Series:
    return pd.to_numeric(s, errors="coerce").astype(float)


def _positive(df: pd.DataFrame, col: str) -> pd.Series:
    if col not in df.columns:
        return pd.Series(False, index=df.index)
    v = _num(df[col])
    return (v > 0) & np.isfinite(v)


def _has_clean_columns(df: pd.DataFrame) -> bool:
    return {"cc_flags", "ext_flg"} <= set(df.columns)


def _snr_column(df: pd.DataFrame, band: int) -> pd.Series:
    """``w#snr`` if present, else ``wise#/dwise#`` (NaN where the error is missing)."""
    col = f"w{band}snr"
    if col in df.columns:
        return _num(df[col])
    f, e = f"wise{band}", f"dwise{band}"
    if f in df.columns and e in df.columns:
        with np.errstate(divide="ignore", invalid="ignore"):
            return (_num(df[f]) / _num(df[e])).where(_num(df[e]) > 0)
    return pd.Series(np.nan, index=df.index)


def _domain_mask(df: pd.DataFrame, train_rows: pd.Series) -> pd.Series:
    """Rows of ``df`` inside the hull of ``train_rows`` (log W1..W4), False if it can't be built."""
    from .domain import ConvexHullDomain

    fluxes = df[list(WISE_FLUX_COLUMNS)].apply(pd.to_numeric, errors="coerce")
    ok = (fluxes > 0).all(axis=1) & train_rows
    if ok.sum() < len(WISE_FLUX_COLUMNS) + 1:
        return pd.Series(False, index=df.index)
    try:
        dom = ConvexHullDomain(columns=WISE_FLUX_COLUMNS).fit(fluxes[ok])
        return pd.Series(np.asarray(dom.contains(fluxes), bool), index=df.index)
    except (Wise2SpitzerError, ValueError) as exc:  # degenerate hull (e.g. tiny sample)
        raise ModelError(f"could not build the applicability domain: {exc}") from exc


def _samples_for(df: pd.DataFrame) -> list[str]:
    return ["unclean", "clean"] if _has_clean_columns(df) else ["all"]


def _sample_mask(df: pd.DataFrame, sample: str) -> pd.Series:
    from .samples import clean_mask, unclean_mask

    if sample == "clean":
        return clean_mask(df).astype(bool)
    if sample == "unclean":
        return unclean_mask(df).astype(bool)
    return pd.Series(True, index=df.index)


# ------------------------------------------------------------------------- sample flow
def sample_flow(df: pd.DataFrame, *, targets: Sequence[str] = ("mips1", "irac4")) -> pd.DataFrame:
    """The paper's Fig. 2 flow: rows -> clean -> labelled / unlabelled -> inside the hull.

    Parameters
    ----------
    df : DataFrame
        Catalogue in SEIP conventions.
    targets : sequence of {"mips1", "irac4"}

    Returns
    -------
    DataFrame
        Columns ``sample``, ``step`` and ``n``: one row for the whole catalogue, one per sample
        and, per sample and target, the labelled rows (target measured), the unlabelled rows and
        the unlabelled rows inside the convex hull of the labelled ones in log W1..W4 (the rows
        the model can predict).
    """
    from .samples import labelled_mask

    rows = [{"sample": "all rows", "step": "", "n": len(df)}]
    for sample in _samples_for(df):
        m = _sample_mask(df, sample)
        if sample != "all":
            rows.append({"sample": sample, "step": "", "n": int(m.sum())})
        for t in (get_target(x) for x in targets):
            if t.column not in df.columns:
                continue
            lab = labelled_mask(df, t).astype(bool) & m
            unl = m & ~lab
            rows.append({"sample": sample, "step": f"{t.key} labelled", "n": int(lab.sum())})
            rows.append({"sample": sample, "step": f"{t.key} unlabelled", "n": int(unl.sum())})
            try:
                inside = _domain_mask(df, lab)
                n_in = int((unl & inside).sum())
            except ModelError:
                n_in = 0
            rows.append({"sample": sample, "step": f"{t.key} unlabelled inside hull", "n": n_in})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------- quality cuts
def quality_cut_table(
    df: pd.DataFrame, *, target: str = "mips1", predictable: pd.Series | None = None
) -> pd.DataFrame:
    """Rows each plain WISE quality cut keeps, against the rows the model can predict.

    The cuts (paper Appendix A) start from the unclean rows, then the clean ones, then clean
    rows with the counterpart's SNR (``w4snr`` for MIPS1, ``w3snr`` for IRAC4) >= 2, 3, 10.

    Parameters
    ----------
    df : DataFrame
    target : {"mips1", "irac4"}
    predictable : boolean Series, optional
        Rows the model can predict (status ``ok``). Default: rows inside the convex hull of
        the labelled clean rows (or of all labelled rows without clean flags).

    Returns
    -------
    DataFrame
        ``cut``, ``n_kept``, ``n_labelled`` (target measured), ``n_predictable`` (kept rows the
        model can predict) and ``fraction_kept`` (of the first row).
    """
    from .samples import labelled_mask

    t = get_target(target)
    band = int(t.counterpart[-1])
    snr = _snr_column(df, band)
    lab = labelled_mask(df, t).astype(bool) if t.column in df.columns else \
        pd.Series(False, index=df.index)
    has_counterpart = _positive(df, t.counterpart)
    if _has_clean_columns(df):
        base = [("unclean", _sample_mask(df, "unclean")), ("clean", _sample_mask(df, "clean"))]
    else:
        base = [("all", pd.Series(True, index=df.index))]
    last_name, last = base[-1]
    cuts = list(base)
    for thr in (2, 3, 10):
        with np.errstate(invalid="ignore"):
            cuts.append((f"{last_name}, {t.counterpart_band} SNR >= {thr}", last & (snr >= thr)))
    if predictable is None:
        try:
            predictable = _domain_mask(df, lab & last)
        except ModelError:
            predictable = pd.Series(False, index=df.index)
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
    from .samples import labelled_mask

    t = get_target(target)
    table = quality_cut_table(df, target=t) if table is None else table
    band = int(t.counterpart[-1])
    d = df.copy()
    snr_col = f"w{band}snr"
    d[snr_col] = _snr_column(df, band)
    lab = labelled_mask(d, t).astype(bool) if t.column in d.columns else \
        pd.Series(False, index=d.index)
    if _has_clean_columns(d):
        clean = _sample_mask(d, "clean")
        panels = [("unclean", _sample_mask(d, "unclean")), ("clean", clean)]
        last = ("clean", clean)
    else:
        panels = [("all rows", pd.Series(True, index=d.index))]
        last = panels[0]
    with np.errstate(invalid="ignore"):
        panels.append((f"{last[0]}, {t.counterpart_band} SNR >= 2", last[1] & (d[snr_col] >= 2)))
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
                  f"{t.band} model can predict")
        fig.suptitle(f"WISE quality cuts for {t.band}{data_note}", fontsize=12)
    return fig


def quality_cut_analysis(
    df: pd.DataFrame,
    *,
    out: str | Path,
    target: str = "mips1",
    predictable: pd.Series | None = None,
    data_note: str = "",
    formats: Sequence[str] = ("png",),
) -> dict[str, Path]:
    """Run the quality-cut analysis alone: write ``quality_cuts_<target>.csv`` and the figure.

    Returns
    -------
    dict
        ``"csv"`` and one entry per figure format, mapping to the written paths.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t = get_target(target)
    if t.counterpart not in df.columns:
        raise CatalogError(
            f"the quality-cut analysis of {t.key} needs column {t.counterpart!r}; the table "
            f"has {len(df.columns)} columns without it"
        )
    table = quality_cut_table(df, target=t, predictable=predictable)
    csv = out / f"quality_cuts_{t.key}.csv"
    table.to_csv(csv, index=False)
    fig = plot_quality_cuts(df, target=t, table=table, data_note=data_note)
    paths = plots.save_figure(fig, out / f"fig10_quality_cuts_{t.key}", formats=formats)
    return {"csv": csv, **{p.suffix.lstrip("."): p for p in paths}}


# ------------------------------------------------------------------------ reproduce
class _Steps:
    """Numbered progress messages ("[3/14] MIPS1 clean: ...") sent to ``progress``."""

    def __init__(self, progress: Progress, total: int):
        self.progress, self.total, self.k, self.t0 = progress, total, 0, time.perf_counter()
        self.current = ""

    def __call__(self, text: str) -> None:
        self.k += 1
        self.current = text
        if self.progress:
            self.progress(f"[{self.k}/{self.total}] {text}")

    def sub(self, text: str) -> None:
        # Sub-steps of a library call (folds, tuning) keep the step number.
        if self.progress:
            self.progress(f"[{self.k}/{self.total}] {self.current}: {text}")


def _load(data, n_rows: int | None, random_state) -> tuple[pd.DataFrame, str, str | None]:
    """Return (table, kind, input format); kind is simulated / upper-sco / file / frame."""
    from .catalog import embedded_name, infer_format, load_data

    if isinstance(data, pd.DataFrame):
        df = data.copy()
        kind = "simulated" if "true_m1_f_psf" in df.columns else "frame"
        fmt = None
    else:
        key = embedded_name(str(data)) if isinstance(data, str) else None
        if key == "simulated" and n_rows:
            from .datasets import simulate_seip

            return simulate_seip(n_rows, random_state=random_state), "simulated", None
        df = load_data(data, random_state=random_state)
        kind, fmt = (key, None) if key else ("file", infer_format(data))
        if kind == "file" and "true_m1_f_psf" in df.columns:
            kind = "simulated-file"
    if n_rows and n_rows < len(df):
        df = df.sample(n=n_rows, random_state=random_state).sort_index()
    return df, kind, fmt


def _describe_data(kind: str, data, df: pd.DataFrame, random_state) -> tuple[str, str, bool]:
    """(paragraph for the report, suffix for figure titles, simulated?)."""
    n = f"{len(df):,} rows"
    if kind in ("simulated", "simulated-file"):
        src = ("the embedded simulation `wise2spitzer.datasets.simulate_seip` "
               f"(seed {random_state})" if kind == "simulated" else f"the file `{data}`, "
               "which holds a simulation made by `wise2spitzer.datasets.simulate_seip`")
        text = (f"**SIMULATED DATA.** Every number and figure in this report comes from {src}, "
                f"{n}: a physical, seeded simulation of the SEIP x open-cluster-members "
                "catalogue (blackbody photospheres, warm-dust excesses, WISE confusion and "
                "Eddington bias, SEIP upper limits and quality flags). It is built to reproduce "
                "the sample sizes and failure modes of the paper, not the sky: the scores test "
                "the method and the software, they are not measurements of real sources.")
        return text, " (simulated data)", True
    if kind == "upper-sco":
        text = ("**Real data.** Upper Scorpius members with Spitzer and WISE photometry "
                f"(Luhman & Mamajek 2012, ApJ 758, 31; embedded in the package), {n}. The table "
                "has no allWISE cc_flags/ext_flg, so there is no clean/unclean split: every "
                "study runs on sample \"all\", whose quality selection is the published one "
                "(the authors left out WISE and Spitzer magnitudes they flagged as blended, "
                "saturated, false or extended). The sample is small, so scores carry large "
                "uncertainties.")
        return text, " (Upper Sco, real data)", False
    what = f"the catalogue file `{data}`" if kind == "file" else "a table given in memory"
    text = (f"Data: {what}, {n}. It was not generated by the package's simulator, so the "
            "numbers are those of this catalogue.")
    return text, "", False


def _rel_unc_spitzer(df: pd.DataFrame, target) -> pd.Series:
    t = get_target(target)
    f = _num(df[t.column])
    # m1_df_psf underestimates the MIPS1 error; flux / SNR is the better 1-sigma (SEIP notes).
    if t.snr_column in df.columns:
        return 1.0 / _num(df[t.snr_column])
    if t.error_column in df.columns:
        return _num(df[t.error_column]) / f
    return pd.Series(np.nan, index=df.index)


def _tuned(regressor, target, *, random_state, n_jobs) -> dict[str, Any]:
    """Parameters of ``regressor`` that differ from a default one, to pass to other calls.

    Parameters the library calls set themselves (target form, counterpart, seed, jobs,
    interval method) are left out so they cannot clash.
    """
    from .evaluation import make_regressor

    default = make_regressor(target, random_state=random_state, n_jobs=n_jobs).get_params(
        deep=False)
    skip = {"random_state", "n_jobs", "counterpart", "interval_method", "form", "estimator"}
    return {k: v for k, v in regressor.get_params(deep=False).items()
            if k not in skip and (k not in default or _differs(default[k], v))}


def _differs(a, b) -> bool:
    try:
        return bool(a != b)
    except (TypeError, ValueError):
        return a is not b


def _reproduce(
    data="simulated",
    *,
    out: str | Path = "wise2spitzer-results",
    preset: str = "fast",
    random_state: int | None = 0,
    n_rows: int | None = None,
    quick: bool = False,
    cv: int | None = None,
    targets: Sequence[str] = ("mips1", "irac4"),
    samples: Sequence[str] | None = None,
    n_jobs: int | None = 2,
    formats: Sequence[str] = ("png", "pdf"),
    dpi: int = 200,
    n_sed: int = 4,
    compare_forms: bool = True,
    progress: Progress = None,
    _caught: list | None = None,
    **regressor_params: Any,
) -> ReproduceResult:
    """Run the paper's study for MIPS1 and IRAC4 and write the report into ``out``.

    Parameters
    ----------
    data : str, path or DataFrame, default "simulated"
        ``"simulated"`` (embedded simulation), ``"upper-sco"`` (real Upper Sco table), a
        catalogue file, or a DataFrame in SEIP conventions.
    out : path, default "wise2spitzer-results"
        Directory to write (created; existing files of the same names are replaced).
    preset : {"fast", "paper", "none"}, default "fast"
        See :data:`REPRODUCE_PRESETS`: "fast" runs in a few minutes on 2 cores, "paper" the
        full hyper-parameter search and 10 folds, "none" the default hyper-parameters.
    random_state : int or None, default 0
        Seeds the simulation, the splits, the searches and the forests.
    n_rows : int, optional
        Simulate (or subsample) this many rows instead of the full catalogue.
    quick : bool, default False
        Smoke-test mode: no search, 3 folds, 20-tree forests (``regressor_params`` win).
    cv : int, optional
        Folds of :func:`~wise2spitzer.evaluation.evaluate` (default: the preset's).
    targets : sequence of {"mips1", "irac4"}
    samples : sequence of {"clean", "unclean", "all"}, optional
        Default: unclean and clean when the table has cc_flags/ext_flg, else "all".
    n_jobs : int, default 2
        Parallel jobs of the library calls.
    formats : sequence of str, default ("png", "pdf")
        Figure formats (the report embeds the PNG).
    dpi : int, default 200
        Resolution of the PNG figures.
    n_sed : int, default 4
        Number of sources with an SED figure.
    compare_forms : bool, default True
        Also score the other target form of :class:`~wise2spitzer.model.FluxRegressor`
        ("paper": log flux; "ratio": log of Spitzer / WISE counterpart) on the main sample
        (``form_comparison.csv`` and a table in the report).
    progress : callable, optional
        Called with one line per step (the CLI prints them).
    **regressor_params
        Extra :class:`~wise2spitzer.model.FluxRegressor` parameters for every model.

    Returns
    -------
    ReproduceResult

    Raises
    ------
    ModelError
        On an unknown preset or when no target/sample can be evaluated.
    CatalogError
        If the data cannot be loaded.
    """
    from sklearn.base import clone
    from sklearn.model_selection import train_test_split

    from .catalog import write_catalog
    from .evaluation import (
        evaluate,
        evaluate_intervals,
        learning_curve,
        raw_wise_estimate,
        regression_metrics,
        training_table,
    )
    from .predictor import SpitzerPredictor

    t_start = time.perf_counter()
    cfg = study_preset(preset)
    if quick:
        cfg.update(_QUICK)
    if cv is not None:
        cfg["cv"] = cv
    params = {**cfg.get("regressor_params", {}), **regressor_params}
    tkeys = [get_target(t).key for t in targets]
    out = Path(out)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    (out / "models").mkdir(parents=True, exist_ok=True)

    df, kind, in_format = _load(data, n_rows, random_state)
    sample_list = list(samples) if samples else _samples_for(df)
    primary = "clean" if "clean" in sample_list else sample_list[-1]
    n_steps = 2 + len(tkeys) * (3 * len(sample_list) + 2 + bool(compare_forms)) + 5
    step = _Steps(progress, n_steps)
    step(f"loaded {len(df):,} rows ({kind})")
    data_text, note, simulated = _describe_data(kind, data, df, random_state)
    notes: list[str] = []

    step("counting samples (paper Fig. 2)")
    counts = sample_flow(df, targets=tkeys)
    files: dict[str, Path] = {}

    metrics_parts, cov_parts, lc_parts, form_parts = [], [], [], []
    test_preds: dict[tuple[str, str], dict[str, Any]] = {}
    importances: dict[tuple[str, str], tuple[pd.Series, list[str]]] = {}
    predictors: dict[tuple[str, str], Any] = {}
    for tk in tkeys:
        t = get_target(tk)
        df_t, cap_note = cap_labelled(df, t, cfg.get("max_labelled"), random_state)
        if cap_note:
            notes.append(cap_note + "; predictions still cover every input row")
        for s in sample_list:
            name = f"{t.band} {s}"
            step(f"{name}: evaluate ET, LR, raw WISE (cv={cfg['cv']}, tuning {cfg['tuning']!r})")
            try:
                m = evaluate(df_t, target=t, sample=s, cv=cfg["cv"], preset=cfg["tuning"],
                             random_state=random_state, n_jobs=n_jobs, progress=step.sub,
                             **params)
            except (ModelError, CatalogError) as exc:
                notes.append(f"{name}: not evaluated ({exc})")
                step.k += 2 + 2 * (s == primary)
                continue
            metrics_parts.append(m)
            # The search ran once, on this sample's 80% train split, inside evaluate; the
            # final model and the other studies reuse what it chose (the paper likewise
            # refits the best configuration on all labelled rows).
            tuned = dict(m.attrs.get("tuned_params", {}))

            step(f"{name}: fit the final model, predict the test split")
            # test_size=None: the test-split scoring is done here once (same split and clone
            # as SpitzerPredictor.fit would use) and the figures reuse its predictions.
            pred = SpitzerPredictor().fit(df_t, target=t, sample=s, preset="none",
                                          random_state=random_state, n_jobs=n_jobs,
                                          test_size=None, progress=step.sub,
                                          **{**params, **tuned})
            X, y, _ = training_table(df_t, target=t, sample=s, feature_set=pred.feature_set)
            X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2,
                                                      random_state=random_state)
            model = clone(pred.regressor).fit(X_tr, y_tr)
            yhat = model.predict(X_te)
            iv95 = model.predict_interval(X_te, confidence=0.95)
            rows = df_t.loc[X_te.index]
            test_preds[(tk, s)] = {
                "observed": y_te.to_numpy(),
                "predicted": yhat,
                "interval": iv95,
                "interval68": model.predict_interval(X_te, confidence=0.68),
                "raw_wise": raw_wise_estimate(rows, t).to_numpy(),
                "wise": _num(rows[t.counterpart]).to_numpy(),
                "wise_rel": (_num(rows[f"d{t.counterpart}"]) / _num(rows[t.counterpart])
                             ).to_numpy() if f"d{t.counterpart}" in rows else None,
                "spitzer_rel": _rel_unc_spitzer(rows, t).to_numpy(),
            }
            cover = (y_te.to_numpy() >= iv95[:, 0]) & (y_te.to_numpy() <= iv95[:, 1])
            pred.card.update({
                "test_metrics": regression_metrics(y_te, yhat), "test_size": 0.2,
                "interval_coverage": {"confidence": 0.95, "coverage": float(cover.mean()),
                                      "n": len(y_te)},
                "reproduce": {"preset": preset, "quick": quick, "data": kind,
                              "n_labelled_used": len(X),
                              "max_labelled": cfg.get("max_labelled")},
            })
            predictors[(tk, s)] = pred
            step(f"{name}: save the model and its card")
            mpath = pred.save(out / "models" / f"{tk}_{s}.skops")
            (out / "models" / f"{tk}_{s}.json").write_text(
                json.dumps(pred.card, indent=2, default=str), encoding="utf-8")
            files[f"model {tk} {s}"] = mpath
            reg = pred.regressor
            importances[(tk, s)] = (
                pd.Series(np.asarray(reg.feature_importances_, float),
                          index=[str(f) for f in reg.selected_features_]),
                list(pred.features),
            )
            if s != primary:
                continue
            tuned = _tuned(reg, t, random_state=random_state, n_jobs=n_jobs)

            if compare_forms:
                # DESIGN section 6: the paper's target (log flux) against learning the
                # correction to the WISE counterpart (log ratio); same rows, folds and seed.
                form_now = str(m["form"].iloc[0])
                other = "ratio" if form_now == "paper" else "paper"
                step(f"{name}: evaluate the other target form ({other!r})")
                try:
                    # Same hyper-parameters and features as the default form: only the
                    # target changes.
                    m2 = evaluate(df_t, target=t, sample=s, cv=cfg["cv"], preset="none",
                                  random_state=random_state, n_jobs=n_jobs, form=other,
                                  progress=step.sub, **{**params, **tuned})
                    form_parts.append(m[m["model"] != "raw WISE"])
                    form_parts.append(m2[m2["model"] != "raw WISE"])
                except (ModelError, CatalogError) as exc:
                    notes.append(f"{name}: form {other!r} not evaluated ({exc})")

            step(f"{name}: learning curve (cv={cfg['lc_cv']})")
            lc = learning_curve(df_t, target=t, sample=s, train_sizes=cfg["lc_sizes"],
                                cv=cfg["lc_cv"], feature_set=pred.feature_set,
                                random_state=random_state, n_jobs=n_jobs, **tuned)
            lc.insert(0, "sample", s)
            lc.insert(0, "target", tk)
            lc_parts.append(lc)

            step(f"{name}: coverage of the interval methods")
            truth = simulated and f"true_{t.column}" in df_t.columns
            cov = evaluate_intervals(
                df_t, target=t, sample=s, confidences=_CONFIDENCES, truth=truth,
                # k-fold: every labelled row is held out once and the folds are pooled, so
                # each flux quartile has a quarter of all rows, not of one 20% split.
                cv=cfg.get("interval_cv", _INTERVAL_CV), preset="none",
                feature_set=pred.feature_set,
                random_state=random_state, n_jobs=n_jobs, progress=step.sub, **tuned)
            cov_parts.append(cov)
    if not metrics_parts:
        raise ModelError(
            f"no target/sample could be evaluated on {kind} data: " + "; ".join(notes)
        )
    metrics = pd.concat(metrics_parts, ignore_index=True)
    coverage = pd.concat(cov_parts, ignore_index=True) if cov_parts else pd.DataFrame()
    curves = pd.concat(lc_parts, ignore_index=True) if lc_parts else pd.DataFrame()
    metrics.to_csv(out / "metrics.csv", index=False)
    files["metrics"] = out / "metrics.csv"
    counts.to_csv(out / "sample_counts.csv", index=False)
    files["sample counts"] = out / "sample_counts.csv"
    if not coverage.empty:
        coverage.to_csv(out / "interval_coverage.csv", index=False)
        files["interval coverage"] = out / "interval_coverage.csv"
    forms = pd.concat(form_parts, ignore_index=True) if form_parts else pd.DataFrame()
    if not forms.empty:
        forms.to_csv(out / "form_comparison.csv", index=False)
        files["form comparison"] = out / "form_comparison.csv"
    if not curves.empty:
        curves.to_csv(out / "learning_curves.csv", index=False)
        files["learning curves"] = out / "learning_curves.csv"

    step(f"predicting every input row ({primary}-sample models)")
    predicted = df
    used = {}
    for tk in tkeys:
        p = predictors.get((tk, primary))
        if p is not None:
            predicted = p.predict_catalog(predicted)
            used[tk] = primary
    meta = _meta(kind, data, used, predictors)
    pq = write_catalog(predicted, out / "predictions.parquet", meta=meta)
    files["predictions"] = Path(pq) if pq else out / "predictions.parquet"
    if in_format and in_format != "parquet":
        ext = Path(str(data)).suffix or f".{in_format}"
        p2 = out / f"predictions{ext}"
        write_catalog(predicted, p2, format=in_format, meta=meta)
        files[f"predictions ({in_format})"] = p2

    step("drawing figures")
    figs = _draw_figures(out / "figures", test_preds=test_preds, importances=importances,
                         curves=curves, coverage=coverage, note=note, formats=formats, dpi=dpi)
    step("quality-cut analysis (paper Appendix A)")
    qc = {}
    for tk in tkeys:
        t = get_target(tk)
        if t.counterpart not in df.columns or t.column not in df.columns:
            continue
        p = predictors.get((tk, primary))
        predictable = None
        if p is not None:
            predictable = pd.Series(p.row_status(df) == STATUS_OK, index=df.index)
        table = quality_cut_table(df, target=t, predictable=predictable)
        table.to_csv(out / f"quality_cuts_{tk}.csv", index=False)
        files[f"quality cuts {tk}"] = out / f"quality_cuts_{tk}.csv"
        fig = plot_quality_cuts(df, target=t, table=table, data_note=note)
        path = plots.save_figure(fig, out / "figures" / f"fig10_quality_cuts_{tk}",
                                 formats=formats, dpi=dpi)[0]
        qc[tk] = table
        figs.append((path, _qc_caption(t, table, kind)))
    snr_table = _snr_bin_table(df) if "mips1" in tkeys and "clean" in sample_list else None
    step(f"drawing {n_sed} SEDs")
    sed_path = _draw_seds(predicted, out / "figures", tkeys=list(used), n=n_sed, note=note,
                          formats=formats, dpi=dpi, random_state=random_state)
    if sed_path is not None:
        figs.append((sed_path, ("Spectral energy distributions (paper Fig. 8) of representative "
                     "sources with predictions: Gaia, 2MASS, WISE, IRAC and MIPS photometry "
                     "where measured (open WISE diamonds with arrows are SEIP 95% upper limits) "
                     "and the predicted MIPS1/IRAC4 fluxes (red stars, 95% interval bars, drawn "
                     "slightly to the right of the band's wavelength). Sources with an observed "
                     "Spitzer flux show how close the prediction comes.")))
    elapsed = time.perf_counter() - t_start
    notes.extend(_warning_notes(_caught or []))
    res = ReproduceResult(out=out, data=str(data) if not isinstance(data, pd.DataFrame) else
                          "<DataFrame>", simulated=simulated, samples=sample_list, counts=counts,
                          metrics=metrics, coverage=coverage, files=files, notes=notes,
                          elapsed_s=elapsed)
    step("writing report.md and report.html")
    md, page = _render_report(res, predicted=predicted, used=used, data_text=data_text,
                              note=note, figs=figs, kind=kind, preset=preset, quick=quick,
                              cfg=cfg, random_state=random_state, quality=qc,
                              snr_table=snr_table, forms=forms)
    (out / "report.md").write_text(md, encoding="utf-8")
    (out / "report.html").write_text(page, encoding="utf-8")
    files["report.md"] = out / "report.md"
    files["report.html"] = out / "report.html"
    res.elapsed_s = time.perf_counter() - t_start
    return res


@functools.wraps(_reproduce)
def reproduce(*args, **kwargs) -> ReproduceResult:
    # Warnings of the many fits (e.g. Boruta confirming no feature on a small fold) would
    # flood the terminal; they are counted and reported in the report's notes instead.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        return _reproduce(*args, _caught=caught, **kwargs)


def _warning_notes(caught: list) -> list[str]:
    """One note per warning category: how many times, and the first message."""
    groups: dict[str, list[str]] = {}
    for w in caught:
        groups.setdefault(w.category.__name__, []).append(str(w.message))
    return [f"{len(msgs)} {name} during the run, e.g. \"{msgs[0][:200]}\""
            for name, msgs in groups.items()]


def _meta(kind: str, data, used: dict[str, str], predictors=None) -> dict[str, Any]:
    from . import __version__
    from .batch import provenance

    meta = {"creator": f"wise2spitzer {__version__} reproduce", "data": str(kind),
            "source": str(data) if not isinstance(data, pd.DataFrame) else "<DataFrame>",
            "models": json.dumps(used), "flux_unit": "uJy"}
    # What the interval columns are, per target (the models' default method at 95%).
    for tk, s in used.items():
        p = (predictors or {}).get((tk, s))
        if p is None:
            continue
        prov = provenance(p, confidence=0.95, method=None)
        for key in ("interval_method", "interval_confidence", "conformal_tails"):
            if key in prov:
                meta[f"{tk}_{key}"] = prov[key]
    return meta


# -------------------------------------------------------------------------- figures
def _grid(n: int, *, panel: tuple[float, float]) -> tuple[Figure, list]:
    ncols = min(n, 2)
    nrows = int(np.ceil(n / ncols))
    fig = Figure(figsize=(panel[0] * ncols, panel[1] * nrows))
    axes = [fig.add_subplot(nrows, ncols, i + 1) for i in range(n)]
    return fig, axes


def _draw_figures(
    fdir: Path,
    *,
    test_preds: dict,
    importances: dict,
    curves: pd.DataFrame,
    coverage: pd.DataFrame,
    note: str,
    formats: Sequence[str],
    dpi: int = 200,
) -> list[tuple[Path, str]]:
    """Draw Figs. 5, 6, 7, 9 and the coverage figure; return (png path, caption) pairs."""
    figs: list[tuple[Path, str]] = []
    keys = list(test_preds)
    if keys:
        with plots.style_context():
            fig, axes = _grid(len(keys), panel=(5.4, 5.4))
            for ax, (tk, s) in zip(axes, keys):
                d = test_preds[(tk, s)]
                t = get_target(tk)
                plots.plot_predicted_vs_observed(
                    d["observed"], d["predicted"], wise=d["raw_wise"], interval=d["interval"],
                    target=tk, ax=ax, title=f"{t.band}, {s} sample, test split (n={len(d['observed'])})")
            fig.suptitle(f"Observed Spitzer vs predicted and raw WISE fluxes{note}", fontsize=12)
        path = plots.save_figure(fig, fdir / "fig5_observed_vs_predicted", formats=formats, dpi=dpi)[0]
        figs.append((path, (
            "Observed Spitzer flux of the held-out 20% (test split) against the model's "
            "prediction (red, bars: 95% interval of the default method) and against the raw "
            "WISE estimate (blue: W4 for MIPS1, W3 for IRAC4, rescaled by the ratio of Vega "
            "zero points); dashed: 1:1 (paper Fig. 5). Points above the line at the faint end "
            "are WISE fluxes biased high by confusion.")))

        for tk in dict.fromkeys(k[0] for k in keys):
            s = "clean" if (tk, "clean") in test_preds else next(k[1] for k in keys if k[0] == tk)
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
            path = plots.save_figure(fig, fdir / f"fig6_relative_uncertainty_{tk}",
                                     formats=formats, dpi=dpi)[0]
            figs.append((path, (
                f"Relative 1-sigma uncertainty against flux for {t.band} ({s} sample, test "
                "split; paper Fig. 6): predicted (half-width of the 68% interval over the "
                f"prediction), Spitzer (1/SNR, or error/flux without an SNR column) and "
                f"WISE {t.counterpart_band} (error/flux; SEIP upper limits have no error and "
                "are left out); the side panels are histograms.")))

    if not curves.empty:
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
        path = plots.save_figure(fig, fdir / "fig7_learning_curves", formats=formats, dpi=dpi)[0]
        figs.append((path, (
            "Learning curves (paper Fig. 7): R2 and MAPE of log10 flux against the number of "
            "training rows, on the training folds (train) and the held-out folds (validation), "
            "shaded: 1 std over folds. Where the validation curve is still rising, more "
            "labelled rows would help.")))

    if importances:
        with plots.style_context():
            n_feat = max(len(c) for _, c in importances.values())
            fig, axes = _grid(len(importances), panel=(5.6, 1.0 + 0.3 * n_feat))
            for ax, ((tk, s), (imp, cand)) in zip(axes, importances.items()):
                plots.plot_feature_importances(imp, candidates=cand, ax=ax,
                                               title=f"{get_target(tk).band}, {s} sample")
            fig.suptitle(f"Feature importances of the selected features{note}", fontsize=12)
        path = plots.save_figure(fig, fdir / "fig9_feature_importances", formats=formats, dpi=dpi)[0]
        figs.append((path, (
            "Feature importances of the final ET models (paper Fig. 9; impurity importance, "
            "summing to 1 over the features Boruta kept). Features offered to Boruta but "
            "rejected are listed in grey at the bottom of each panel.")))

    if not coverage.empty:
        allbin = coverage[coverage["bin"] == "all"].copy()
        groups = list(dict.fromkeys(zip(allbin["target"], allbin["sample"])))
        with plots.style_context():
            fig, axes = _grid(len(groups), panel=(5.0, 5.0))
            for ax, (tk, s) in zip(axes, groups):
                part = allbin[(allbin["target"] == tk) & (allbin["sample"] == s)]
                plots.plot_interval_coverage(part, nominal="confidence", empirical="coverage",
                                             group="reference" if part["reference"].nunique() > 1
                                             else None,
                                             title=f"{get_target(tk).band}, {s} sample", ax=ax)
                handles = dict(zip(*reversed(ax.get_legend_handles_labels())))
                ax.get_legend().remove()
            # One legend for all panels, below them, so no curve is hidden behind it.
            fig.legend(list(handles.values()), list(handles.keys()), loc="outside lower center",
                       ncols=4, fontsize=9)
            fig.suptitle(f"Coverage of the prediction intervals{note}", fontsize=12)
        path = plots.save_figure(fig, fdir / "fig_interval_coverage", formats=formats, dpi=dpi)[0]
        figs.append((path, (
            "Empirical coverage of the prediction intervals on held-out rows against the "
            "nominal confidence, per method: tree_sem is the paper's interval (mean of trees "
            "+/- z std/sqrt(n_trees)), conformal the calibrated default, qrf quantile "
            "regression forests; dotted: ideal."
            + (" Dashed ('truth'): scored against the noise-free simulated flux instead of "
               "the observed one." if (coverage["reference"] == "truth").any() else ""))))
    return figs


def _draw_seds(predicted: pd.DataFrame, fdir: Path, *, tkeys: list[str], n: int, note: str,
               formats: Sequence[str], dpi: int, random_state) -> Path | None:
    from .sed import pick_sed_sources, plot_sed

    if not tkeys or n <= 0:
        return None
    idx = pick_sed_sources(predicted, target=tkeys[0], n=n, random_state=random_state)
    if len(idx) == 0:
        return None
    with plots.style_context():
        fig, axes = _grid(len(idx), panel=(5.6, 4.4))
        handles: dict[str, Any] = {}
        for ax, i in zip(axes, idx):
            row = predicted.loc[i]
            t0 = get_target(tkeys[0])
            measured = pd.notna(row.get(t0.column)) and _num(pd.Series([row.get(t0.column)])
                                                            ).iloc[0] > 0
            ident = row.get(ID_COLUMN, i)
            plot_sed(row, ax=ax, title=f"{ID_COLUMN} {ident} ({t0.band} "
                     f"{'observed' if measured else 'not observed'})")
            for h, lab in zip(*ax.get_legend_handles_labels()):
                handles.setdefault(lab, h)
            ax.get_legend().remove()
        fig.legend(list(handles.values()), list(handles.keys()), loc="outside lower center",
                   ncols=min(len(handles), 5), fontsize=9)
        fig.suptitle(f"SEDs of representative sources{note}", fontsize=12)
    return plots.save_figure(fig, fdir / "fig8_seds", formats=formats, dpi=dpi)[0]


def _qc_caption(t, table: pd.DataFrame, kind: str) -> str:
    txt = (f"WISE quality cuts for {t.band} (paper Fig. 10, Appendix A). Top: WISE "
           f"{t.counterpart_band} against the observed {t.band} flux of labelled rows, coloured "
           f"by {t.counterpart_band} SNR bin (grey: SEIP 95% upper limits). Bottom: rows with a "
           f"{t.counterpart_band} flux kept by each cut (blue) and, of those, the rows the "
           f"model can predict (red: inside the applicability domain with every feature).")
    if len(table) >= 3:
        r = table.iloc[-3]  # the SNR >= 2 cut
        first = table.iloc[len(table) - 4] if len(table) >= 4 else table.iloc[0]
        pred_n = first["n_predictable"]
        if pd.notna(pred_n):
            txt += (f" A plain '{r['cut']}' cut keeps {int(r['n_kept']):,} rows; the model "
                    f"predicts {int(pred_n):,} rows of the {first['cut']} sample, including "
                    "faint sources the cut throws away.")
    return txt


# --------------------------------------------------------------------------- report
def _fmt(v: Any, digits: int = 3) -> str:
    if v is None or v is pd.NA:
        return ""
    if isinstance(v, float | np.floating):
        return "" if not np.isfinite(v) else f"{v:.{digits}f}"
    if isinstance(v, int | np.integer):
        return f"{int(v):,}"
    return "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)


def _md_table(df: pd.DataFrame) -> str:
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(_fmt(v).replace("|", "\\|") for v in row) + " |")
    return "\n".join(lines)


def _html_table(df: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in row) + "</tr>"
        for row in df.itertuples(index=False)
    )
    return (f"<div class='scroll'><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody>"
            "</table></div>")


def _table2(metrics: pd.DataFrame) -> pd.DataFrame:
    """Paper Table 2 equivalent: cv mean +/- std and test scores per target/sample/model."""
    rows = []
    for (tk, s, model), g in metrics.groupby(["target", "sample", "model"], sort=False):
        cv = g[g["split"] == "cv"].iloc[0] if (g["split"] == "cv").any() else None
        te = g[g["split"] == "test"].iloc[0] if (g["split"] == "test").any() else None
        row = {"target": get_target(tk).band, "sample": s, "model": model}
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


def _coverage_table(coverage: pd.DataFrame) -> pd.DataFrame:
    allbin = coverage[coverage["bin"] == "all"]
    rows = []
    for (tk, s, m, ref), g in allbin.groupby(["target", "sample", "method", "reference"],
                                           sort=False):
        row = {"target": get_target(tk).band, "sample": s, "method": m, "scored against": ref,
               "n held out": int(g["n"].iloc[0])}
        for _, r in g.sort_values("confidence").iterrows():
            row[f"{r['confidence']:.0%} nominal"] = (
                f"{r['coverage']:.3f} (width {r['width_dex']:.2f} dex)")
        rows.append(row)
    return pd.DataFrame(rows)


def _n_folds(coverage: pd.DataFrame) -> str:
    folds = coverage["n_folds"].dropna().unique() if "n_folds" in coverage else []
    return "/".join(str(int(f)) for f in sorted(folds)) or "k"


def _quartile_table(coverage: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    part = coverage[np.isclose(coverage["confidence"], confidence) & (coverage["bin"] != "all")]
    rows = []
    for (tk, s, m, ref), g in part.groupby(["target", "sample", "method", "reference"],
                                         sort=False):
        row = {"target": get_target(tk).band, "sample": s, "method": m, "scored against": ref}
        for _, r in g.iterrows():
            row[str(r["bin"])] = f"{r['coverage']:.3f}"
        rows.append(row)
    return pd.DataFrame(rows)


def _status_table(predicted: pd.DataFrame, used: dict[str, str]) -> pd.DataFrame:
    rows = []
    for tk, s in used.items():
        col = output_columns(tk)["status"]
        vc = predicted[col].astype(str).value_counts()
        rows.append({"target": get_target(tk).band, "model sample": s,
                     **{k: int(v) for k, v in vc.items()}})
    return pd.DataFrame(rows).fillna(0)


def _flow_table(counts: pd.DataFrame, *, simulated: bool, n_rows: int) -> pd.DataFrame:
    t = counts.copy()
    t["step"] = t["step"].replace("", "rows")
    if simulated and n_rows == 26068:
        t["paper (real SEIP)"] = pd.array([
            _PAPER_COUNTS.get((s, "" if st == "rows" else st), None)
            for s, st in zip(t["sample"], t["step"])], dtype="Int64")
        # The unclean sample of the paper is the whole catalogue.
        t.loc[(t["sample"] == "unclean") & (t["step"] == "rows"), "paper (real SEIP)"] = 26068
    return t


def _form_findings(forms: pd.DataFrame) -> list[str]:
    """One sentence per target: the cross-validated R2 of ET with each target form."""
    out = []
    if forms.empty:
        return out
    et = forms[(forms["model"] == "ET") & (forms["split"] == "cv")]
    for (tk, s), g in et.groupby(["target", "sample"], sort=False):
        by = g.set_index("form")
        if not {"paper", "ratio"} <= set(by.index):
            continue
        p, r = by.loc["paper"], by.loc["ratio"]
        diff, spread = r["r2"] - p["r2"], max(p["r2_std"], r["r2_std"])
        verdict = ("comparable (within the fold-to-fold spread)" if abs(diff) <= spread else
                   "the ratio form is better" if diff > 0 else "the paper's form is better")
        out.append(f"{get_target(tk).band} ({s}): ET learning log flux (paper) reaches "
                   f"R2 = {p['r2']:.3f} ± {p['r2_std']:.3f} (cv), learning log(Spitzer / WISE) "
                   f"{r['r2']:.3f} ± {r['r2_std']:.3f}: {verdict}.")
    return out


def _snr_bin_table(df: pd.DataFrame) -> pd.DataFrame | None:
    """samples.quality_cut_counts for MIPS1 with the paper's W4 SNR fractions beside it."""
    from .samples import quality_cut_counts

    try:
        t = quality_cut_counts(df, "mips1").reset_index()
    except (Wise2SpitzerError, KeyError, ValueError):
        return None
    paper = {"clean & w4snr < 2": 0.32, "clean & 2 <= w4snr < 3": 0.10,
             "clean & 3 <= w4snr < 10": 0.32, "clean & w4snr >= 10": 0.26}
    t["paper fraction_of_clean"] = [paper.get(str(c), np.nan) for c in t[t.columns[0]]]
    return t


def _findings(metrics: pd.DataFrame, coverage: pd.DataFrame, simulated: bool) -> list[str]:
    """Plain-language statements read off the tables (no number is invented here)."""
    out = []
    pre = "On this simulated catalogue, " if simulated else ""
    for (tk, s), g in metrics.groupby(["target", "sample"], sort=False):
        cv = g[g["split"] == "cv"].set_index("model")
        te = g[g["split"] == "test"].set_index("model")
        if not {"ET", "raw WISE"} <= set(cv.index) & set(te.index):
            continue
        band = get_target(tk).band

        def r2(model, cv=cv, te=te):
            return (f"R2 = {cv.loc[model, 'r2']:.3f} ± {cv.loc[model, 'r2_std']:.3f} (cv), "
                    f"{te.loc[model, 'r2']:.3f} (test)")

        # The verdict uses the cross-validated mean, steadier than one test split; a
        # difference within the fold-to-fold spread is called comparable.
        diff = cv.loc["ET", "r2"] - cv.loc["raw WISE", "r2"]
        spread = max(cv.loc["ET", "r2_std"], cv.loc["raw WISE", "r2_std"])
        verdict = ("comparable to" if abs(diff) <= spread else
                   "better than" if diff > 0 else "worse than")
        txt = (f"{pre}{band}, {s} sample ({int(te.loc['ET', 'n_train'])} training / "
               f"{int(te.loc['ET', 'n_test'])} test rows): ET {r2('ET')}, MAE "
               f"{te.loc['ET', 'mae']:.3f} dex (test), is {verdict} the raw WISE estimate "
               f"({r2('raw WISE')}, MAE {te.loc['raw WISE', 'mae']:.3f} dex)")
        if "LR" in cv.index:
            txt += f"; linear model {r2('LR')}"
        out.append(txt + ".")
    if not coverage.empty:
        c = coverage[(coverage["bin"] == "all") & (coverage["reference"] == "observed")
                     & np.isclose(coverage["confidence"], 0.95)]
        for m, g in c.groupby("method", sort=False):
            lo, hi = g["coverage"].min(), g["coverage"].max()
            rng = f"{lo:.3f}" if np.isclose(lo, hi) else f"{lo:.3f}-{hi:.3f}"
            verdict = ("close to nominal" if lo >= 0.90 and hi <= 0.99 else
                       "far below nominal: do not trust these intervals" if hi < 0.8 else
                       "below nominal" if lo < 0.90 else "above nominal (conservative)")
            q = coverage[(coverage["bin"] != "all") & (coverage["reference"] == "observed")
                         & np.isclose(coverage["confidence"], 0.95)
                         & (coverage["method"] == m)]["coverage"]
            by_q = (f"; per quartile of observed flux {q.min():.3f}-{q.max():.3f}"
                    if len(q) else "")
            out.append(f"{pre}95% intervals of method '{m}' cover {rng} of held-out rows "
                       f"({verdict}){by_q}.")
    return out


def _render_report(res: ReproduceResult, *, predicted, used, data_text, note, figs, kind,
                   preset, quick, cfg, random_state, quality, snr_table, forms
                   ) -> tuple[str, str]:
    from . import __version__

    sim = res.simulated
    title = "wise2spitzer: reproduction of Fonseca-Bonilla et al. (2024, A&A 691, A271)"
    tag = "Simulated data. " if sim else ""
    blocks: list[tuple] = [("h1", title + (" — SIMULATED DATA" if sim else ""))]
    blocks.append(("p", data_text))
    form = str(res.metrics["form"].iloc[0]) if "form" in res.metrics else "paper"
    learns = ("log10 of the Spitzer flux (the paper's form)" if form == "paper" else
              "log10 of the Spitzer flux over its WISE counterpart (form 'ratio', the "
              "package default; the paper's log-flux form is compared below)")
    blocks.append(("p", (
        "The method: learn the WISE -> Spitzer relation (MIPS1 24 um from W4 and the other WISE "
        "bands, IRAC4 8 um from W3...) on sources observed by both, with ExtraTrees learning "
        f"{learns} after a Yeo-Johnson transform and Boruta feature selection, and predict "
        "Spitzer-quality fluxes with intervals for WISE-only sources inside the convex hull "
        "of the training rows in log W1..W4.")))
    blocks.append(("h2", "What it means"))
    for f in _findings(res.metrics, res.coverage, sim):
        blocks.append(("li", f))
    pre = "On this simulated catalogue, " if sim else ""
    for f in _form_findings(forms):
        blocks.append(("li", pre + (f[0].lower() + f[1:] if pre and f[:2] != f[:2].upper()
                                    else f)))
    for tk, table in quality.items():
        rows = table[table["cut"].str.contains("SNR >= 2", regex=False)]
        base = table[~table["n_predictable"].isna()]
        if len(rows) and len(base):
            r, b = rows.iloc[0], base.iloc[0]
            text = (f"{pre}a plain '{r['cut']}' cut keeps {int(r['n_kept']):,} rows with a "
                    f"{get_target(tk).counterpart_band} flux; the {get_target(tk).band} model "
                    f"predicts {int(b['n_predictable']):,} rows of the {b['cut']} sample "
                    "(those inside its applicability domain, whatever their WISE SNR).")
            blocks.append(("li", text[0].upper() + text[1:]))
    for n in res.notes:
        blocks.append(("li", f"Note: {n.rstrip('.')}."))
    blocks.append(("h2", "Samples (paper Fig. 2)" + note))
    blocks.append(("p", (
        f"{tag}Rows at each step: all rows -> "
        + ("unclean (every row with W4) -> clean (cc_flags = '0000' and ext_flg = 0) -> "
           if "clean" in res.samples else "sample 'all' (no clean/unclean flags) -> ")
        + "labelled (Spitzer flux measured) / unlabelled -> unlabelled inside the convex hull "
          "of the labelled rows (the rows the model can predict).")))
    blocks.append(("table", _flow_table(res.counts, simulated=sim,
                                        n_rows=int(res.counts["n"].iloc[0]))))
    blocks.append(("h2", "Scores (paper Table 2)" + note))
    blocks.append(("p", (
        f"{tag}Labelled rows of each sample split 80/20; {cfg['cv']}-fold cross-validation on "
        "the 80% (mean ± std over folds) and one fit scored on the 20% it never saw. Scores "
        "on log10 flux (MAE, RMSE in dex; MAPE of log10 flux as a fraction, the paper's "
        "convention) and MAPE of the flux itself. 'raw WISE' is the counterpart WISE flux "
        "rescaled by the ratio of Vega zero points. Full table: metrics.csv.")))
    blocks.append(("table", _table2(res.metrics)))
    if not forms.empty:
        blocks.append(("h2", "Target form: log flux (paper) or log(Spitzer / WISE)" + note))
        blocks.append(("p", (
            f"{tag}The same rows, folds and seed with the two target forms of the regressor: "
            "'paper' learns log10 of the Spitzer flux, as Fonseca-Bonilla et al. (2024); "
            "'ratio' learns log10 of the Spitzer flux over its WISE counterpart (W4 for "
            "MIPS1, W3 for IRAC4), i.e. the correction to WISE. Full table: "
            "form_comparison.csv.")))
        ft = forms.copy()
        ft["target"] = [get_target(x).band for x in ft["target"]]
        cols = ["target", "sample", "form", "model", "split", "r2", "r2_std", "mae", "rmse"]
        blocks.append(("table", ft[[c for c in cols if c in ft.columns]]))
    if not res.coverage.empty:
        blocks.append(("h2", "Prediction intervals" + note))
        blocks.append(("p", (
            f"{tag}Empirical coverage (fraction of held-out rows inside the interval) and mean "
            "width in dex, per method and nominal confidence. Intervals are out of fold: "
            "every labelled row is predicted once by a model that did not see it "
            f"({_n_folds(res.coverage)}-fold cross-validation, folds pooled). Every "
            "confidence and bin: interval_coverage.csv.")))
        blocks.append(("table", _coverage_table(res.coverage)))
        blocks.append(("p", (
            f"{tag}Coverage of the 95% intervals per quartile of the reference flux (Q1 "
            "faintest): faint sources are where a wrong interval makes a false infrared "
            "excess.")))
        blocks.append(("table", _quartile_table(res.coverage)))
    if used:
        blocks.append(("h2", "Predictions" + note))
        blocks.append(("p", (
            f"{tag}Every input row is in predictions.parquet with "
            + ", ".join(f"{c}" for tk in used for c in output_columns(tk).values())
            + " appended (uJy; 95% conformal interval). Status of the rows:")))
        blocks.append(("table", _status_table(predicted, used)))
    blocks.append(("h2", "Figures" + note))
    for i, (path, caption) in enumerate(figs, start=1):
        blocks.append(("figure", path, f"Figure {i}. {tag}{caption}"))
    for tk, table in quality.items():
        blocks.append(("h3", f"Quality cuts, {get_target(tk).band}" + note))
        blocks.append(("p", (f"{tag}n_kept: rows with a {get_target(tk).counterpart_band} flux "
                       "that pass the cut; n_labelled: of those, rows with the Spitzer flux; "
                       "n_predictable: of those, rows the clean-sample model predicts.")))
        blocks.append(("table", table))
    if snr_table is not None:
        blocks.append(("h3", "W4 SNR of the labelled clean MIPS1 rows" + note))
        blocks.append(("p", (f"{tag}Fractions of the labelled clean MIPS1 rows per W4 SNR bin "
                       "(samples.quality_cut_counts), next to the paper's (Appendix A).")))
        blocks.append(("table", snr_table))
    blocks.append(("h2", "Run"))
    blocks.append(("p", (
        f"wise2spitzer {__version__}; data {res.data!r} ({kind}); preset {preset!r}"
        f"{' (quick)' if quick else ''}: hyper-parameter search {cfg['tuning']!r}, "
        f"{cfg['cv']}-fold CV, learning curves {cfg['lc_cv']}-fold; random_state "
        f"{random_state}; samples {res.samples}; wall time {res.elapsed_s:.0f} s.")))
    blocks.append(("p", (
        "metrics.csv holds exactly what `wise2spitzer evaluate --data ... --target ... "
        f"--sample ... --preset {preset} --random-state {random_state}` prints for each "
        "target and sample (both read the same preset table, "
        "`wise2spitzer.evaluation.STUDY_PRESETS`)"
        + (" when run with --quick's settings, which the CLI does not expose" if quick else "")
        + ".")))
    blocks.append(("p", "Files: " + ", ".join(
        str(p.relative_to(res.out)) for p in res.files.values()
        if p.is_relative_to(res.out))))

    md = _to_markdown(blocks, res.out)
    page = _to_html(blocks, title + (" (simulated data)" if sim else ""))
    return md, page


def _to_markdown(blocks, out: Path) -> str:
    parts = []
    for b in blocks:
        kind = b[0]
        if kind == "h1":
            parts.append(f"# {b[1]}")
        elif kind == "h2":
            parts.append(f"## {b[1]}")
        elif kind == "h3":
            parts.append(f"### {b[1]}")
        elif kind == "p":
            parts.append(b[1])
        elif kind == "li":
            parts.append(f"- {b[1]}")
        elif kind == "table":
            parts.append(_md_table(b[1]))
        elif kind == "figure":
            rel = b[1].relative_to(out).as_posix() if b[1].is_relative_to(out) else str(b[1])
            parts.append(f"![{b[2][:60]}]({rel})\n\n*{b[2]}*")
    return "\n\n".join(parts).replace("\n\n- ", "\n- ") + "\n"


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1280px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0;font-size:.88em}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:right;white-space:nowrap}
th{background:#f3f3f3}td:first-child,td:nth-child(2),td:nth-child(3){text-align:left}
figure{margin:1.2em 0}figure img{max-width:min(100%,900px);height:auto;border:1px solid #eee}
.scroll{overflow-x:auto}
figcaption{font-size:.9em;color:#444}
.banner{background:#fff3cd;border:1px solid #e0c36a;padding:.6em .8em}
"""


def _to_html(blocks, title: str) -> str:
    parts = [(f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
             f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>")]
    in_list = False
    for b in blocks:
        kind = b[0]
        if kind != "li" and in_list:
            parts.append("</ul>")
            in_list = False
        if kind in ("h1", "h2", "h3"):
            parts.append(f"<{kind}>{html.escape(b[1])}</{kind}>")
        elif kind == "p":
            text = html.escape(b[1])
            text = _bold(text)
            cls = " class='banner'" if "SIMULATED DATA." in b[1] else ""
            parts.append(f"<p{cls}>{text}</p>")
        elif kind == "li":
            if not in_list:
                parts.append("<ul>")
                in_list = True
            parts.append(f"<li>{html.escape(b[1])}</li>")
        elif kind == "table":
            parts.append(_html_table(b[1]))
        elif kind == "figure":
            data = base64.b64encode(Path(b[1]).read_bytes()).decode("ascii")
            parts.append(f"<figure><img alt='{html.escape(b[2][:80])}' "
                         f"src='data:image/png;base64,{data}'>"
                         f"<figcaption>{html.escape(b[2])}</figcaption></figure>")
    if in_list:
        parts.append("</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _bold(text: str) -> str:
    # The data paragraph marks its first words **bold** (Markdown); render them in HTML too.
    while text.count("**") >= 2:
        text = text.replace("**", "<strong>", 1).replace("**", "</strong>", 1)
    return text.replace("`", "")
