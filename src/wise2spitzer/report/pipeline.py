"""The ``reproduce`` study as named steps, and the quality-cut analysis on its own.

:func:`reproduce` runs, in order:

1. load the data (:func:`~.data.load_study_data`);
2. per target, cap the labelled rows (:func:`wise2spitzer.study.cap_step`), then per sample:
   evaluate (:func:`wise2spitzer.study.evaluate_step`), fit and save the final predictor and
   predict its test split; on the main sample (clean, or the only one) also score the other
   target form, draw the learning curve and measure the interval coverage
   (:func:`wise2spitzer.study.intervals_step`);
3. count the sample flow with the fitted predictors' domains (:func:`~.tables.sample_flow`)
   and write the tables;
4. predict every input row with the main-sample predictors;
5. draw the figures, the quality cuts (:func:`~.tables.quality_cut_table`) and the SEDs;
6. write ``report.md`` and ``report.html`` (:mod:`.render`).
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import plots
from ..errors import CatalogError, ModelError
from ..features import FEATURE_SETS
from ..samples import CLEAN, study_samples
from ..schema import STATUS_OK, get_target, output_columns
from ..study import (
    CONFIDENCES,
    cap_note,
    cap_step,
    capped_counts,
    evaluate_step,
    intervals_step,
    model_params,
    study_settings,
    training_domain,
)
from . import figures, honest, tables
from .data import describe_data, load_study_data
from .render import ReportInputs, render_report

__all__ = ["ReproduceResult", "quality_cut_analysis", "reproduce"]

Progress = Callable[[str], None] | None
#: The paper's feature set (16 columns), scored beside the models' own set in Table 2.
PAPER_SET = "paper"


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
    issued: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    distance: pd.DataFrame = field(default_factory=pd.DataFrame)
    unlabelled: pd.DataFrame = field(default_factory=pd.DataFrame)


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


@dataclass
class _Options:
    """The arguments of :func:`reproduce`."""

    data: Any
    out: Path
    preset: str
    random_state: Any
    n_rows: int | None
    quick: bool
    cv: int | None
    targets: Sequence[str]
    samples: Sequence[str] | None
    n_jobs: int | None
    formats: Sequence[str]
    dpi: int
    n_sed: int
    compare_forms: bool
    progress: Progress
    regressor_params: dict[str, Any]


@dataclass
class _Study:
    """What the steps of one run share: the options, the data and what was measured."""

    opts: _Options
    settings: dict[str, Any]
    params: dict[str, Any]
    tkeys: list[str]
    df: pd.DataFrame
    kind: str
    in_format: str | None
    samples: list[str]
    primary: str
    step: _Steps
    data_text: str = ""
    note: str = ""
    simulated: bool = False
    notes: list[str] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)
    metrics: list[pd.DataFrame] = field(default_factory=list)
    coverage: list[pd.DataFrame] = field(default_factory=list)
    issued: list[pd.DataFrame] = field(default_factory=list)
    distance: list[pd.DataFrame] = field(default_factory=list)
    unlabelled: list[pd.DataFrame] = field(default_factory=list)
    curves: list[pd.DataFrame] = field(default_factory=list)
    forms: list[pd.DataFrame] = field(default_factory=list)
    test_preds: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    importances: dict[tuple[str, str], tuple[pd.Series, list[str]]] = field(
        default_factory=dict)
    predictors: dict[tuple[str, str], Any] = field(default_factory=dict)
    form: str | None = None
    paper_features: list[pd.DataFrame] = field(default_factory=list)
    excess: list[pd.DataFrame] = field(default_factory=list)
    heldout: dict[str, pd.DataFrame] = field(default_factory=dict)
    heldout_folds: int | None = None
    excess_note: str = ""


def _concat(parts: list[pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


# ------------------------------------------------------------------------- 1. load
def _load_step(opts: _Options) -> _Study:
    settings = study_settings(opts.preset, quick=opts.quick, cv=opts.cv)
    tkeys = [get_target(t).key for t in opts.targets]
    (opts.out / "figures").mkdir(parents=True, exist_ok=True)
    (opts.out / "models").mkdir(parents=True, exist_ok=True)
    df, kind, in_format = load_study_data(opts.data, n_rows=opts.n_rows,
                                          random_state=opts.random_state)
    sample_list = list(opts.samples) if opts.samples else study_samples(df)
    primary = CLEAN if CLEAN in sample_list else sample_list[-1]
    # Per target: 4 steps per sample, the main sample's own steps and the issued coverage.
    n_primary = 4 + bool(opts.compare_forms)
    n_steps = 2 + len(tkeys) * (4 * len(sample_list) + n_primary) + 5
    params = {**settings.get("regressor_params", {}), **opts.regressor_params}
    # The target form is an argument of every library call, never a regressor parameter.
    form = params.pop("form", None)
    st = _Study(opts=opts, settings=settings, params=params, tkeys=tkeys, df=df, kind=kind,
                in_format=in_format, samples=sample_list, primary=primary,
                step=_Steps(opts.progress, n_steps), form=form)
    st.step(f"loaded {len(df):,} rows ({kind})")
    st.data_text, st.note, st.simulated = describe_data(kind, data=opts.data, df=df,
                                                        random_state=opts.random_state)
    return st


# ------------------------------------------------------------ 2. per target and sample
def _study_target(st: _Study, tk: str) -> None:
    t = get_target(tk)
    df_t, capped = cap_step(st.df, target=t, settings=st.settings,
                            random_state=st.opts.random_state)
    if capped:
        counts = capped_counts(st.df, df_t, target=t, samples=st.samples)
        st.notes.append(cap_note(counts, target=t, cap=st.settings["max_labelled"])
                        + "; predictions still cover every input row")
    for s in st.samples:
        _study_sample(st, t, s, df_t)


def _primary_steps(st: _Study) -> int:
    """Steps the main sample adds: forms, paper features, coverage, issued, false excess."""
    return 4 + bool(st.opts.compare_forms)


def _study_sample(st: _Study, t, s: str, df_t: pd.DataFrame) -> None:
    opts, cfg = st.opts, st.settings
    name = f"{t.band} {s}"
    st.step(f"{name}: evaluate ET, LR, raw WISE (cv={cfg['cv']}, tuning {cfg['tuning']!r})")
    try:
        m = evaluate_step(df_t, target=t, sample=s, settings=cfg,
                          random_state=opts.random_state, n_jobs=opts.n_jobs, form=st.form,
                          progress=st.step.sub, **st.params)
    except (ModelError, CatalogError) as exc:
        st.notes.append(f"{name}: not evaluated ({exc})")
        # Fit, save, learning curve and, on the main sample, its own steps are not run.
        st.step.k += 3 + (_primary_steps(st) if s == st.primary else 0)
        return
    st.metrics.append(m)
    st.step(f"{name}: fit the final model, predict the test split")
    pred = _fit_final(st, t, s, df_t, m)
    st.step(f"{name}: save the model and its card")
    _save_model(st, t.key, s, pred)
    # The search ran once, on this sample's 80% train split, inside the evaluation; the later
    # steps reuse what it chose (the paper likewise refits the best configuration).
    fitted = model_params(m, regressor_params=st.params)
    st.step(f"{name}: learning curve (cv={cfg['lc_cv']})")
    _learning_curve(st, t, s, df_t, pred.feature_set, fitted)
    if s != st.primary:
        return
    if opts.compare_forms:
        _compare_forms(st, t, s, df_t, m)
    _paper_features(st, t, s, df_t, m)
    st.step(f"{name}: coverage of the interval methods")
    truth = st.simulated and f"true_{t.column}" in df_t.columns
    st.coverage.append(intervals_step(
        df_t, target=t, sample=s, metrics=m, regressor_params=st.params, form=st.form,
        # k-fold: every labelled row is held out once and the folds are pooled, so each
        # flux quartile has a quarter of all rows, not of one 20% split.
        cv=cfg["interval_cv"], confidences=CONFIDENCES, truth=truth,
        random_state=opts.random_state, n_jobs=opts.n_jobs, progress=st.step.sub))
    _issued_step(st, t, df_t, pred.feature_set, fitted)
    st.step(f"{name}: false-excess rate of the interval methods")
    honest.excess_step(st, t, s, df_t, fitted)


def _issued_step(st: _Study, t, df_t: pd.DataFrame, feature_set: str, fitted: dict) -> None:
    """Coverage where predict issues values: each row answered by the model of its sample.

    The pooled held-out predictions are kept: the SED figure draws them for labelled rows.
    """
    from ..coverage import distance_curve, heldout_predictions, issued_coverage

    cv = st.settings["interval_cv"] or 3
    st.step(f"{t.band}: coverage where values are issued ({cv} folds, "
            f"models of {', '.join(st.samples)})")
    try:
        pooled = heldout_predictions(
            df_t, target=t, samples=st.samples, cv=cv, random_state=st.opts.random_state,
            n_jobs=st.opts.n_jobs, feature_set=feature_set, form=st.form,
            progress=st.step.sub, diagnostics=True, extrapolate=True, **fitted)
    except (ModelError, CatalogError) as exc:
        st.notes.append(f"{t.band}: held-out predictions not made ({exc})")
        return
    st.heldout[t.key] = pooled
    st.heldout_folds = cv
    table = issued_coverage(pooled, t)
    table.insert(0, "target", t.key)
    table.insert(1, "n_folds", cv)
    st.issued.append(table)
    curve = distance_curve(pooled, t)
    curve.insert(0, "target", t.key)
    curve.insert(1, "n_folds", cv)
    st.distance.append(curve)


def _rel_unc_spitzer(df: pd.DataFrame, target) -> pd.Series:
    t = get_target(target)
    f = tables.numeric(df[t.column])
    # m1_df_psf underestimates the MIPS1 error; flux / SNR is the better 1-sigma (SEIP notes).
    if t.snr_column in df.columns:
        return 1.0 / tables.numeric(df[t.snr_column])
    if t.error_column in df.columns:
        return tables.numeric(df[t.error_column]) / f
    return pd.Series(np.nan, index=df.index)


def _fit_final(st: _Study, t, s: str, df_t: pd.DataFrame, m: pd.DataFrame):
    """Fit the predictor on every labelled row; score a clone on the test split once."""
    from sklearn.base import clone
    from sklearn.model_selection import train_test_split

    from ..evaluation import raw_wise_estimate, regression_metrics, training_table
    from ..predictor import SpitzerPredictor

    opts, rs = st.opts, st.opts.random_state
    tuned = dict(m.attrs.get("tuned_params", {}))
    # test_size=None: the test-split scoring is done here once (same split and clone as
    # SpitzerPredictor.fit would use) and the figures reuse its predictions.
    pred = SpitzerPredictor().fit(df_t, target=t, sample=s, preset="none", random_state=rs,
                                  n_jobs=opts.n_jobs, test_size=None, progress=st.step.sub,
                                  form=st.form, extrapolate=True, **{**st.params, **tuned})
    if len(df_t) != len(st.df):
        # The cap thins the training rows, not the applicability domain: the hull is built
        # from every labelled row of the sample, as an uncapped model's would be.
        pred.domain = training_domain(st.df, target=t, sample=s, feature_set=pred.feature_set)
    X, y, _ = training_table(df_t, target=t, sample=s, feature_set=pred.feature_set)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, random_state=rs)
    model = clone(pred.regressor).fit(X_tr, y_tr)
    yhat = model.predict(X_te)
    iv95 = model.predict_interval(X_te, confidence=0.95)
    rows = df_t.loc[X_te.index]
    st.test_preds[(t.key, s)] = {
        "observed": y_te.to_numpy(),
        "predicted": yhat,
        "interval": iv95,
        "interval68": model.predict_interval(X_te, confidence=0.68),
        "raw_wise": raw_wise_estimate(rows, t).to_numpy(),
        "wise": tables.numeric(rows[t.counterpart]).to_numpy(),
        "wise_rel": (tables.numeric(rows[f"d{t.counterpart}"])
                     / tables.numeric(rows[t.counterpart])).to_numpy()
        if f"d{t.counterpart}" in rows else None,
        "spitzer_rel": _rel_unc_spitzer(rows, t).to_numpy(),
    }
    cover = (y_te.to_numpy() >= iv95[:, 0]) & (y_te.to_numpy() <= iv95[:, 1])
    pred.card.update({
        "test_metrics": regression_metrics(y_te, yhat), "test_size": 0.2,
        "interval_coverage": {"confidence": 0.95, "coverage": float(cover.mean()),
                              "n": len(y_te)},
        "reproduce": {"preset": opts.preset, "quick": opts.quick, "data": st.kind,
                      "n_labelled_used": len(X),
                      "max_labelled": st.settings.get("max_labelled"),
                      "domain_rows": int(pred.domain.n_points_)},
    })
    st.predictors[(t.key, s)] = pred
    return pred


def _save_model(st: _Study, tk: str, s: str, pred) -> None:
    out = st.opts.out
    mpath = pred.save(out / "models" / f"{tk}_{s}.skops")
    (out / "models" / f"{tk}_{s}.json").write_text(
        json.dumps(pred.card, indent=2, default=str), encoding="utf-8")
    st.files[f"model {tk} {s}"] = mpath
    reg = pred.regressor
    st.importances[(tk, s)] = (
        pd.Series(np.asarray(reg.feature_importances_, float),
                  index=[str(f) for f in reg.selected_features_]),
        list(pred.features),
    )


def _compare_forms(st: _Study, t, s: str, df_t: pd.DataFrame, m: pd.DataFrame) -> None:
    """Score the other target form with the same rows, folds and seed, tuned on its own.

    The paper's target (log flux) against learning the correction to the WISE counterpart
    (log ratio). Each form runs its own Boruta selection and hyper-parameter search (the
    preset's), so neither is scored with what was chosen for the other.
    """
    opts = st.opts
    form_now = str(m["form"].iloc[0])
    other = "ratio" if form_now == "paper" else "paper"
    st.step(f"{t.band} {s}: evaluate the other target form ({other!r}, its own search)")
    try:
        m2 = evaluate_step(df_t, target=t, sample=s, settings=st.settings,
                           random_state=opts.random_state, n_jobs=opts.n_jobs, form=other,
                           feature_set=str(m["feature_set"].iloc[0]), progress=st.step.sub,
                           **st.params)
        st.forms.append(m[m["model"] != "raw WISE"])
        st.forms.append(m2[m2["model"] != "raw WISE"])
    except (ModelError, CatalogError) as exc:
        st.notes.append(f"{t.band} {s}: form {other!r} not evaluated ({exc})")


def _paper_features(st: _Study, t, s: str, df_t: pd.DataFrame, m: pd.DataFrame) -> None:
    """Score ET and LR with the paper's 16 features when the models use another set."""
    opts = st.opts
    used = str(m["feature_set"].iloc[0])
    st.step(f"{t.band} {s}: evaluate with the paper's {len(FEATURE_SETS[PAPER_SET])} features")
    if used == PAPER_SET:
        return
    try:
        m2 = evaluate_step(df_t, target=t, sample=s, settings=st.settings,
                           random_state=opts.random_state, n_jobs=opts.n_jobs, form=st.form,
                           feature_set=PAPER_SET, progress=st.step.sub, **st.params)
    except (ModelError, CatalogError) as exc:
        st.notes.append(f"{t.band} {s}: the paper's feature set not evaluated ({exc})")
        return
    st.paper_features.append(m2[m2["model"] != "raw WISE"])


def _learning_curve(st: _Study, t, s: str, df_t: pd.DataFrame, feature_set: str,
                    fitted: dict[str, Any]) -> None:
    from ..evaluation import learning_curve

    cfg = st.settings
    try:
        lc = learning_curve(df_t, target=t, sample=s, train_sizes=cfg["lc_sizes"],
                            cv=cfg["lc_cv"], feature_set=feature_set, form=st.form,
                            random_state=st.opts.random_state, n_jobs=st.opts.n_jobs, **fitted)
    except (ModelError, CatalogError) as exc:
        st.notes.append(f"{t.band} {s}: no learning curve ({exc})")
        return
    lc.insert(0, "sample", s)
    lc.insert(0, "target", t.key)
    st.curves.append(lc)


# ------------------------------------------------------------- 3. flow and tables
def _write_tables(st: _Study, counts: pd.DataFrame) -> None:
    out = st.opts.out
    written = [("metrics", "metrics.csv", _concat(st.metrics)),
               ("sample counts", "sample_counts.csv", counts),
               ("interval coverage", "interval_coverage.csv", _concat(st.coverage)),
               ("issued coverage", "issued_coverage.csv", _concat(st.issued)),
               ("distance curve", "distance_curve.csv", _concat(st.distance)),
               ("form comparison", "form_comparison.csv", _concat(st.forms)),
               ("learning curves", "learning_curves.csv", _concat(st.curves)),
               ("paper features", "paper_features.csv", _concat(st.paper_features)),
               ("false excess", "false_excess.csv", _concat(st.excess))]
    for key, name, table in written:
        if key in ("metrics", "sample counts") or not table.empty:
            table.to_csv(out / name, index=False)
            st.files[key] = out / name


# ------------------------------------------------------------------- 4. predict
def _meta(st: _Study, used: dict[str, str]) -> dict[str, Any]:
    from .. import __version__
    from ..batch import provenance

    data = st.opts.data
    meta = {"creator": f"wise2spitzer {__version__} reproduce", "data": str(st.kind),
            "source": str(data) if not isinstance(data, pd.DataFrame) else "<DataFrame>",
            "models": json.dumps(used), "flux_unit": "uJy"}
    # What the interval columns are, per target (the models' default method at 95%).
    for tk, s in used.items():
        p = st.predictors.get((tk, s))
        if p is None:
            continue
        prov = provenance(p, confidence=0.95, method=None)
        for key in ("interval_method", "interval_confidence", "conformal_tails"):
            if key in prov:
                meta[f"{tk}_{key}"] = prov[key]
    return meta


def _predict_step(st: _Study) -> tuple[pd.DataFrame, dict[str, str]]:
    """Predict every input row with the main-sample models; write the predictions."""
    from ..catalog import write_catalog

    st.step(f"predicting every input row ({st.primary}-sample models)")
    out = st.opts.out
    predicted = st.df
    used = {}
    for tk in st.tkeys:
        p = st.predictors.get((tk, st.primary))
        if p is not None:
            predicted = p.predict_catalog(predicted)
            used[tk] = st.primary
    _unlabelled_step(st, predicted, used)
    meta = _meta(st, used)
    pq = write_catalog(predicted, out / "predictions.parquet", meta=meta)
    st.files["predictions"] = Path(pq) if pq else out / "predictions.parquet"
    fmt = st.in_format
    if fmt and fmt != "parquet":
        ext = Path(str(st.opts.data)).suffix or f".{fmt}"
        p2 = out / f"predictions{ext}"
        write_catalog(predicted, p2, format=fmt, meta=meta)
        st.files[f"predictions ({fmt})"] = p2
    return predicted, used


def _unlabelled_step(st: _Study, predicted: pd.DataFrame, used: dict[str, str]) -> None:
    """Simulated data only: the values issued to never-labelled rows against the truth."""
    from ..coverage import unlabelled_truth_coverage

    for tk in used:
        table = unlabelled_truth_coverage(predicted, tk)
        if not table.empty:
            table.insert(0, "target", tk)
            table.insert(1, "sample", used[tk])
            st.unlabelled.append(table)
    if st.unlabelled:
        path = st.opts.out / "unlabelled_truth_coverage.csv"
        _concat(st.unlabelled).to_csv(path, index=False)
        st.files["never-labelled rows against the truth"] = path


# ---------------------------------------------------------------- 5. quality cuts
def _quality_cut_step(st: _Study, figs: list, predicted: pd.DataFrame,
                      used: dict[str, str]) -> dict[str, pd.DataFrame]:
    st.step("quality-cut analysis (paper Appendix A)")
    opts, df, qc = st.opts, st.df, {}
    for tk in st.tkeys:
        t = get_target(tk)
        if t.counterpart not in df.columns or t.column not in df.columns:
            continue
        predictable = None
        if tk in used:
            # The rows the main-sample model gave a value, from the predictions just made
            # (tables.predictable_rows(..., valued=True) would predict them again).
            status = predicted[output_columns(t)["status"]].astype(str).to_numpy()
            predictable = pd.Series(status == STATUS_OK, index=df.index)
        table = tables.quality_cut_table(df, target=t, predictable=predictable)
        table.to_csv(opts.out / f"quality_cuts_{tk}.csv", index=False)
        st.files[f"quality cuts {tk}"] = opts.out / f"quality_cuts_{tk}.csv"
        figs.append(figures.draw_quality_cuts(df, table, opts.out / "figures", target=t,
                                              note=st.note, formats=opts.formats,
                                              dpi=opts.dpi))
        qc[tk] = table
    return qc


def _warning_notes(caught: list) -> list[str]:
    """One note per warning category: how many times, and the first message."""
    groups: dict[str, list[str]] = {}
    for w in caught:
        groups.setdefault(w.category.__name__, []).append(str(w.message))
    return [f"{len(msgs)} {name} during the run, e.g. \"{msgs[0][:200]}\""
            for name, msgs in groups.items()]


# ------------------------------------------------------------------------ the study
def _run_study(opts: _Options, caught: list) -> ReproduceResult:
    t_start = time.perf_counter()
    st = _load_step(opts)
    for tk in st.tkeys:
        _study_target(st, tk)
    if not st.metrics:
        raise ModelError(
            f"no target/sample could be evaluated on {st.kind} data: " + "; ".join(st.notes)
        )
    st.step("counting samples (paper Fig. 2)")
    counts = tables.sample_flow(st.df, targets=st.tkeys, predictors=st.predictors)
    _write_tables(st, counts)
    predicted, used = _predict_step(st)

    st.step("drawing figures")
    fdir, fig_opts = opts.out / "figures", {"formats": opts.formats, "dpi": opts.dpi}
    figs = figures.draw_study_figures(
        fdir, test_preds=st.test_preds, importances=st.importances,
        curves=_concat(st.curves), coverage=_concat(st.coverage), note=st.note, **fig_opts)
    if st.distance:
        zones = {tk: sorted({float(p.extrapolation.max_distance_)
                             for (k, _), p in st.predictors.items()
                             if k == tk and p.zone is not None}) for tk in st.tkeys}
        figs.append(figures.draw_distance_curve(_concat(st.distance), fdir, zones=zones,
                                                note=st.note, **fig_opts))
    qc = _quality_cut_step(st, figs, predicted, used)
    snr_table = (tables.snr_bin_table(st.df) if "mips1" in st.tkeys and CLEAN in st.samples
                 else None)
    st.step(f"drawing {opts.n_sed} SEDs")
    frame = honest.sed_frame(predicted, st.heldout, tkeys=list(used), sample=st.primary)
    sed_path = figures.draw_seds(frame, fdir, tkeys=list(used), n=opts.n_sed, note=st.note,
                                 random_state=opts.random_state, **fig_opts)
    if sed_path is not None:
        real = " (real Upper Sco members)" if st.kind == "upper-sco" else ""
        figs.append((sed_path, honest.sed_caption(tkeys=list(used), sample=st.primary,
                                                  n_folds=st.heldout_folds, real=real)))
    st.notes.extend(_warning_notes(caught))
    data = opts.data
    res = ReproduceResult(
        out=opts.out, data=str(data) if not isinstance(data, pd.DataFrame) else "<DataFrame>",
        simulated=st.simulated, samples=st.samples, counts=counts,
        metrics=_concat(st.metrics), coverage=_concat(st.coverage), files=st.files,
        notes=st.notes, elapsed_s=time.perf_counter() - t_start, issued=_concat(st.issued),
        distance=_concat(st.distance), unlabelled=_concat(st.unlabelled))
    st.step("writing report.md and report.html")
    md, page = render_report(ReportInputs(
        result=res, predicted=predicted, used=used, data_text=st.data_text, note=st.note,
        figs=figs, kind=st.kind, preset=opts.preset, quick=opts.quick, settings=st.settings,
        random_state=opts.random_state, quality=qc, snr_table=snr_table,
        forms=_concat(st.forms), paper_features=_concat(st.paper_features),
        excess=_concat(st.excess), excess_note=st.excess_note))
    for name, text in (("report.md", md), ("report.html", page)):
        (opts.out / name).write_text(text, encoding="utf-8")
        st.files[name] = opts.out / name
    res.elapsed_s = time.perf_counter() - t_start
    return res


def reproduce(
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
    opts = _Options(data=data, out=Path(out), preset=preset, random_state=random_state,
                    n_rows=n_rows, quick=quick, cv=cv, targets=targets, samples=samples,
                    n_jobs=n_jobs, formats=formats, dpi=dpi, n_sed=n_sed,
                    compare_forms=compare_forms, progress=progress,
                    regressor_params=regressor_params)
    # Warnings of the many fits (e.g. Boruta confirming no feature on a small fold) would
    # flood the terminal; they are counted and reported in the report's notes instead.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        return _run_study(opts, caught)


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

    Parameters
    ----------
    df : DataFrame
    out : path
        Directory to write (created).
    target : {"mips1", "irac4"}
    predictable : boolean Series, optional
        Rows the model can predict; see :func:`~.tables.quality_cut_table`.
    data_note : str
        Suffix of the figure title (e.g. " (simulated data)").
    formats : sequence of str

    Returns
    -------
    dict
        ``"csv"`` and one entry per figure format, mapping to the written paths.

    Raises
    ------
    CatalogError
        If the table lacks the target's WISE counterpart column.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t = get_target(target)
    if t.counterpart not in df.columns:
        raise CatalogError(
            f"the quality-cut analysis of {t.key} needs column {t.counterpart!r}; the table "
            f"has {len(df.columns)} columns without it"
        )
    table = tables.quality_cut_table(df, target=t, predictable=predictable)
    csv = out / f"quality_cuts_{t.key}.csv"
    table.to_csv(csv, index=False)
    fig = figures.plot_quality_cuts(df, target=t, table=table, data_note=data_note)
    paths = plots.save_figure(fig, out / f"fig10_quality_cuts_{t.key}", formats=formats)
    return {"csv": csv, **{p.suffix.lstrip("."): p for p in paths}}
