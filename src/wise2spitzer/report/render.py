"""``report.md`` and the self-contained ``report.html`` of the study.

:func:`render_report` turns the study's results into a list of blocks (headings, paragraphs,
list items, tables, figures), one function per section; :mod:`.markup` renders the blocks
from the jinja2 templates as Markdown and as HTML (figures embedded as base64 PNG, so the
page needs no other file), every table formatted by the kind of each column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..features import FEATURE_SETS
from ..samples import CLEAN, SNR_THRESHOLDS
from ..schema import get_target, output_columns
from . import tables
from .markup import render_html, render_markdown

if TYPE_CHECKING:
    from .pipeline import ReproduceResult

__all__ = ["ReportInputs", "feature_set_text", "findings", "form_findings", "render_report",
           "to_html", "to_markdown"]

Block = tuple

_TITLE = "wise2spitzer: reproduction of Fonseca-Bonilla et al. (2024, A&A 691, A271)"


@dataclass
class ReportInputs:
    """Everything the report shows besides :class:`ReproduceResult`'s tables.

    Attributes
    ----------
    result : ReproduceResult
    predicted : DataFrame
        Every input row with the prediction columns of the targets in ``used``.
    used : dict
        Target key -> sample of the model that predicted it.
    data_text, note : str
        What the data is (:func:`~wise2spitzer.report.data.describe_data`).
    figs : list of (Path, str)
        Figure PNGs and their captions, in report order.
    kind, preset : str
    quick : bool
    settings : dict
        :func:`wise2spitzer.study.study_settings` of the run.
    random_state : int or None
    quality : dict
        Target key -> :func:`~.tables.quality_cut_table`.
    snr_table : DataFrame or None
        :func:`~.tables.snr_bin_table`.
    forms : DataFrame
        Scores of both target forms (empty when not compared).
    paper_features : DataFrame
        Scores of ET and LR with the paper's 16 features (empty when the models use them).
    excess : DataFrame
        False-excess rates per interval method (empty without a ground truth).
    excess_note : str
        Why ``excess`` is empty, if it is.
    """

    result: ReproduceResult
    predicted: pd.DataFrame
    used: dict[str, str]
    data_text: str
    note: str
    figs: list[tuple[Path, str]]
    kind: str
    preset: str
    quick: bool
    settings: dict[str, Any]
    random_state: Any
    quality: dict[str, pd.DataFrame] = field(default_factory=dict)
    snr_table: pd.DataFrame | None = None
    forms: pd.DataFrame = field(default_factory=pd.DataFrame)
    paper_features: pd.DataFrame = field(default_factory=pd.DataFrame)
    excess: pd.DataFrame = field(default_factory=pd.DataFrame)
    excess_note: str = ""

    @property
    def tag(self) -> str:
        """Prefix of every caption and table paragraph ("Simulated data. " or "")."""
        return "Simulated data. " if self.result.simulated else ""


# -------------------------------------------------------------------------- findings
def findings(metrics: pd.DataFrame, coverage: pd.DataFrame, *, simulated: bool) -> list[str]:
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
        out.extend(_coverage_findings(coverage, pre))
    return out


def _coverage_findings(coverage: pd.DataFrame, pre: str) -> list[str]:
    out = []
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


def form_findings(forms: pd.DataFrame) -> list[str]:
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


# -------------------------------------------------------------------------- sections
def _intro(r: ReportInputs) -> list[Block]:
    res = r.result
    blocks: list[Block] = [("h1", _TITLE + (" — SIMULATED DATA" if res.simulated else ""))]
    blocks.append(("p", r.data_text))
    form = str(res.metrics["form"].iloc[0]) if "form" in res.metrics else "paper"
    learns = ("log10 of the Spitzer flux (the paper's form)" if form == "paper" else
              "log10 of the Spitzer flux over its WISE counterpart (form 'ratio', the "
              "package default; the paper's log-flux form is compared below)")
    blocks.append(("p", (
        "The method: learn the WISE -> Spitzer relation (MIPS1 24 um from W4 and the other WISE "
        "bands, IRAC4 8 um from W3...) on sources observed by both, with ExtraTrees learning "
        f"{learns} after a Yeo-Johnson transform and Boruta feature selection, and predict "
        "Spitzer-quality fluxes with intervals for WISE-only sources inside the convex hull "
        "of the training rows in log W1..W4. " + feature_set_text(res.metrics))))
    return blocks


def feature_set_text(metrics: pd.DataFrame) -> str:
    """The feature set(s) the models were offered, named and counted, against the paper's."""
    if "feature_set" not in metrics or metrics.empty:
        return ""
    paper = FEATURE_SETS["paper"]
    parts = []
    for name in dict.fromkeys(metrics["feature_set"].astype(str)):
        cols = FEATURE_SETS.get(name, ())
        extra = [c for c in cols if c not in paper]
        parts.append(f"'{name}' ({len(cols)} features" + (
            f": the paper's {len(paper)} plus {', '.join(extra)})" if extra and
            set(paper) <= set(cols) else ")"))
    same = set(metrics["feature_set"].astype(str)) == {"paper"}
    return ("Boruta chooses among the feature set " + " and ".join(parts) + (
        ", the paper's." if same else
        f"; this is not the paper's set of {len(paper)} (WISE fluxes, rchi2, m and nm per "
        "band), which Table 2 scores in rows of its own."))


def _meaning(r: ReportInputs) -> list[Block]:
    res = r.result
    blocks: list[Block] = [("h2", "What it means")]
    for f in findings(res.metrics, res.coverage, simulated=res.simulated):
        blocks.append(("li", f))
    pre = "On this simulated catalogue, " if res.simulated else ""
    for f in form_findings(r.forms):
        blocks.append(("li", pre + (f[0].lower() + f[1:] if pre and f[:2] != f[:2].upper()
                                    else f)))
    lowest = f"SNR >= {SNR_THRESHOLDS[0]:g}"
    for tk, table in r.quality.items():
        rows = table[table["cut"].str.contains(lowest, regex=False)]
        base = table[~table["n_predictable"].isna()]
        if len(rows) and len(base):
            row, b = rows.iloc[0], base.iloc[0]
            text = (f"{pre}a plain '{row['cut']}' cut keeps {int(row['n_kept']):,} rows with a "
                    f"{get_target(tk).counterpart_band} flux; the {get_target(tk).band} model "
                    f"predicts {int(b['n_predictable']):,} rows of the {b['cut']} sample "
                    "(those inside its applicability domain, whatever their WISE SNR).")
            blocks.append(("li", text[0].upper() + text[1:]))
    for n in res.notes:
        blocks.append(("li", f"Note: {n.rstrip('.')}."))
    return blocks


def _samples(r: ReportInputs) -> list[Block]:
    res = r.result
    return [
        ("h2", "Samples (paper Fig. 2)" + r.note),
        ("p", (
            f"{r.tag}Rows at each step: all rows -> "
            + ("unclean (every row with W4) -> clean (cc_flags = '0000' and ext_flg = 0) -> "
               if CLEAN in res.samples else "sample 'all' (no clean/unclean flags) -> ")
            + "labelled (Spitzer flux measured) / unlabelled -> unlabelled inside the convex "
              "hull of the model's training rows (the paper's domain; those whose interval "
              "reaches the detection floor get an upper limit instead of a value).")),
        ("table", tables.flow_table(res.counts, simulated=res.simulated,
                                    n_rows=int(res.counts["n"].iloc[0]))),
        *[("p", f"{r.tag}{n}.") for n in res.notes if "preset trains and scores" in n],
    ]


def _scores(r: ReportInputs) -> list[Block]:
    blocks: list[Block] = [("h2", "Scores (paper Table 2)" + r.note)]
    blocks.append(("p", (
        f"{r.tag}Labelled rows of each sample split 80/20; {r.settings['cv']}-fold "
        "cross-validation on the 80% (mean ± std over folds) and one fit scored on the 20% it "
        "never saw. Scores on log10 flux (MAE, RMSE in dex; MAPE of log10 flux as a fraction, "
        "the paper's convention) and MAPE of the flux itself. 'raw WISE' is the counterpart "
        "WISE flux rescaled by the ratio of Vega zero points. Full table: metrics.csv.")))
    metrics = r.result.metrics
    if not r.paper_features.empty:
        blocks.append(("p", (
            f"{r.tag}The models use the feature set named in the 'features' column; the rows "
            "'ET (paper's 16)' and 'LR (paper's 16)' score the same rows, folds, seed and "
            "search with the paper's 16 features instead. Full table: paper_features.csv.")))
        pf = r.paper_features.copy()
        pf["model"] = pf["model"] + " (paper's 16)"
        metrics = pd.concat([metrics, pf], ignore_index=True)
    blocks.append(("table", tables.metrics_table(metrics)))
    if r.forms.empty:
        return blocks
    blocks.append(("h2", "Target form: log flux (paper) or log(Spitzer / WISE)" + r.note))
    blocks.append(("p", (
        f"{r.tag}The same rows, folds and seed with the two target forms of the regressor, "
        "each with its own Boruta selection and hyper-parameter search (the preset's): "
        "'paper' learns log10 of the Spitzer flux, as Fonseca-Bonilla et al. (2024); "
        "'ratio' learns log10 of the Spitzer flux over its WISE counterpart (W4 for "
        "MIPS1, W3 for IRAC4), i.e. the correction to WISE. Full table: "
        "form_comparison.csv.")))
    ft = r.forms.copy()
    ft["target"] = [get_target(x).band for x in ft["target"]]
    cols = ["target", "sample", "form", "model", "split", "n_train", "r2", "r2_std", "mae",
            "rmse"]
    blocks.append(("table", ft[[c for c in cols if c in ft.columns]]))
    return blocks


def _intervals(r: ReportInputs) -> list[Block]:
    coverage = r.result.coverage
    if coverage.empty:
        return []
    return [
        ("h2", "Prediction intervals" + r.note),
        ("p", (
            f"{r.tag}Empirical coverage (fraction of held-out rows inside the interval) and "
            "mean width in dex, per method and nominal confidence. Intervals are out of fold: "
            + ("each row of one 20% split is predicted by a model fitted on the other 80%"
               if tables.n_folds(coverage) == "1" else
               "every labelled row is predicted once by a model that did not see it "
               f"({tables.n_folds(coverage)}-fold cross-validation, folds pooled)")
            + ". Every confidence and bin: interval_coverage.csv.")),
        ("table", tables.coverage_table(coverage)),
        ("p", (
            f"{r.tag}Coverage of the 95% intervals per quartile of the reference flux (Q1 "
            "faintest): faint sources are where a wrong interval makes a false infrared "
            "excess.")),
        ("table", tables.quartile_table(coverage)),
        *_issued(r),
        *_excess(r),
    ]


def _excess(r: ReportInputs) -> list[Block]:
    head: list[Block] = [("h3", "False infrared excesses" + r.note)]
    if r.excess.empty:
        return head + [("p", r.excess_note)] if r.excess_note else []
    t = r.excess.copy()
    t["target"] = [get_target(x).band for x in t["target"]]
    # Readable headers that can wrap, so the table fits a narrow window.
    names = {"n_no_disk": "n no disk", "n_flagged": "n flagged",
             "false_excess_rate": "false excess rate", "expected_rate": "expected rate",
             "n_disk": "n disk", "disk_flagged_rate": "disk flag rate"}
    cols = ["target", "sample", "method", "held out", "reference", *names]
    return head + [
        ("p", (
            f"{r.tag}A source is flagged as having a mid-infrared excess when its measured "
            "Spitzer flux lies above the upper end of the 95% interval of its prediction "
            "(`excess.flag_excess`, also `wise2spitzer predict --excess`). The simulation knows "
            "which stars have no dust (has_disk False), so every flag on them is false; a "
            "calibrated interval flags about 2.5% of them. Per interval method: a model fitted "
            "on 80% of the labelled rows flags the 20% it did not see; 'issued (default)': the "
            "intervals `predict` issues, on the pooled k-fold held-out predictions of the "
            "study's models. 'truth': the noise-free flux instead of the measured one. "
            "disk flag rate: real disks found by the same flag. Table: false_excess.csv.")),
        ("table", t[[c for c in cols if c in t.columns]].rename(columns=names)),
    ]


def _issued(r: ReportInputs) -> list[Block]:
    issued = r.result.issued
    if issued.empty:
        return []
    t = issued.copy()
    t["target"] = [get_target(x).band for x in t["target"]]
    t["in 0.93-0.97"] = t["within_tolerance"].map({True: "yes", False: "NO"}).fillna(
        "n < 100")
    if "coverage_lo95" in t.columns:
        t["95% interval"] = [
            "" if lo != lo else f"{100 * lo:.1f}-{100 * hi:.1f}%"
            for lo, hi in zip(t["coverage_lo95"], t["coverage_hi95"], strict=True)]
        t["miss beyond chance"] = t["consistent"].map({True: "no", False: "YES"}).fillna("")
    return [
        ("p", (
            f"{r.tag}Coverage of the 95% intervals where `predict` issues values: every "
            "labelled row held out once (folds pooled) and answered as `predict` would, by "
            "the model of its sample (clean rows by the clean model, other rows by the "
            "unclean model), per population that receives a value. A verdict needs 100 rows. "
            "The 95% interval is the binomial (Wilson) interval of the coverage: a population "
            "of a few hundred rows that is calibrated exactly still falls outside 0.93-0.97 "
            "about one time in ten, so 'miss beyond chance' says whether that interval lies "
            "entirely outside the band. upper_limit rows promise one side: the observed flux "
            "at or below the limit for at least 97.5%. "
            "Table: issued_coverage.csv.")),
        ("table", t[[c for c in ("target", "population", "group", "n", "coverage",
                                 "95% interval", "width_dex", "in 0.93-0.97",
                                 "miss beyond chance") if c in t.columns]]),
        *_distance(r),
        *_unlabelled(r),
    ]


def _unlabelled(r: ReportInputs) -> list[Block]:
    table = r.result.unlabelled
    if table.empty:
        return []
    t = table.copy()
    t["target"] = [get_target(x).band for x in t["target"]]
    names = {"coverage_truth": "coverage of the true flux",
             "median_pred_over_truth": "median predicted / true",
             "median_truth_ujy": "median true flux (uJy)"}
    return [
        ("h3", "Never-labelled rows: a limit of the method" + r.note),
        ("p", (
            f"{r.tag}Every coverage above is measured on labelled rows: sources whose Spitzer "
            "flux was measured, which SEIP reports only above a detection threshold. Most "
            "rows a user predicts were never labelled, and many are fainter than anything the "
            "models were trained on; their WISE photometry, confusion-biased high at the faint "
            "end, looks like that of brighter labelled sources. Only the simulation knows "
            "their flux: below, the rows of predictions.parquet with no Spitzer flux, "
            "against their noise-free simulated flux. A row whose interval reaches down to "
            "the detection floor of its model's training rows (the margin times their 1% "
            "faintest flux) gets status upper_limit and only an upper bound: the last row "
            "per band gives the fraction of those whose true flux lies at or below it "
            "(promised: at least 97.5%). The rows that keep a value are those the training "
            "sample can vouch for; a coverage far below 95% there would mean the margin is "
            "too small for this catalogue (train --floor-margin). "
            "Table: unlabelled_truth_coverage.csv.")),
        ("table", t.rename(columns=names)),
    ]


def _distance(r: ReportInputs) -> list[Block]:
    curve = r.result.distance
    if curve.empty:
        return []
    t = curve.copy()
    t["target"] = [get_target(x).band for x in t["target"]]
    names = {"d_median": "median distance", "mae_dex": "median |error| (dex)",
             "coverage_hull": "coverage, in-hull calibration", "n_issued": "n issued",
             "coverage_issued": "coverage issued", "issued_fraction": "issued fraction"}
    return [
        ("h3", "Beyond the training hull" + r.note),
        ("p", (
            f"{r.tag}The paper predicts only inside the convex hull of the training rows' "
            "log10 W1..W4. The study fits its models with an extrapolation zone, to measure "
            "it (`train` fits one only with --extrapolate): a row outside the hull but within "
            "the zone gets a value with status 'extrapolated' and an interval calibrated on "
            "held-out rows "
            "that fell outside their own fold's hull (the zone's edge is chosen on those rows: "
            "the largest of the 100%, 90%, ..., 50% quantiles of their distances at which the "
            "farthest third, calibrated on the nearer two thirds, shows no evidence of "
            "coverage below 90%; one-sided binomial test at 5%). Rows beyond the edge stay "
            "outside_domain. Below: the same pooled held-out rows as above, binned by their "
            "distance outside the hull of the model that answered them (standardised log "
            "flux: each log10 W band divided by its spread in the training rows). "
            "Table: distance_curve.csv.")),
        ("table", t[["target", "distance", "n", *names]].rename(columns=names)),
    ]


def _predictions(r: ReportInputs) -> list[Block]:
    if not r.used:
        return []
    return [
        ("h2", "Predictions" + r.note),
        ("p", (
            f"{r.tag}Every input row is in predictions.parquet with "
            + ", ".join(f"{c}" for tk in r.used for c in output_columns(tk).values())
            + " appended (uJy; 95% conformal interval). Status of the rows:")),
        ("table", tables.status_table(r.predicted, used=r.used)),
    ]


def _figures(r: ReportInputs) -> list[Block]:
    blocks: list[Block] = [("h2", "Figures" + r.note)]
    for i, (path, caption) in enumerate(r.figs, start=1):
        blocks.append(("figure", path, f"Figure {i}. {r.tag}{caption}"))
    for tk, table in r.quality.items():
        blocks.append(("h3", f"Quality cuts, {get_target(tk).band}" + r.note))
        blocks.append(("p", (f"{r.tag}n_kept: rows with a {get_target(tk).counterpart_band} "
                       "flux that pass the cut; n_labelled: of those, rows with the Spitzer "
                       "flux; n_predictable: of those, rows the clean-sample model predicts.")))
        blocks.append(("table", table))
    if r.snr_table is not None:
        blocks.append(("h3", "W4 SNR of the labelled clean MIPS1 rows" + r.note))
        blocks.append(("p", (f"{r.tag}Fractions of the labelled clean MIPS1 rows per W4 SNR "
                       "bin (samples.quality_cut_counts), next to the paper's (Appendix A).")))
        blocks.append(("table", r.snr_table))
    return blocks


def _run(r: ReportInputs) -> list[Block]:
    from .. import __version__

    res, cfg = r.result, r.settings
    return [
        ("h2", "Run"),
        ("p", (
            f"wise2spitzer {__version__}; data {res.data!r} ({r.kind}); preset {r.preset!r}"
            f"{' (quick)' if r.quick else ''}: hyper-parameter search {cfg['tuning']!r}, "
            f"{cfg['cv']}-fold CV, learning curves {cfg['lc_cv']}-fold; random_state "
            f"{r.random_state}; samples {res.samples}; wall time {res.elapsed_s:.0f} s.")),
        ("p", (
            "metrics.csv holds exactly what `wise2spitzer evaluate --data ... --target ... "
            f"--sample ... --preset {r.preset} --random-state {r.random_state}` prints for "
            "each target and sample (both read the same preset table, "
            "`wise2spitzer.evaluation.STUDY_PRESETS`)"
            + (" when run with --quick's settings, which the CLI does not expose"
               if r.quick else "")
            + ".")),
        ("p", "Files: " + ", ".join(
            str(p.relative_to(res.out)) for p in res.files.values()
            if p.is_relative_to(res.out))),
    ]


def render_report(r: ReportInputs) -> tuple[str, str]:
    """The report as (Markdown, self-contained HTML)."""
    blocks: list[Block] = []
    for section in (_intro, _meaning, _samples, _scores, _intervals, _predictions, _figures,
                    _run):
        blocks.extend(section(r))
    title = _TITLE + (" (simulated data)" if r.result.simulated else "")
    return to_markdown(blocks, out=r.result.out), to_html(blocks, title=title)


# ------------------------------------------------------------------------ Markdown / HTML
def to_markdown(blocks: list[Block], *, out: Path) -> str:
    """The blocks as Markdown (template ``report.md.j2``); figure paths relative to ``out``."""
    return render_markdown(blocks, out=out)


def to_html(blocks: list[Block], *, title: str) -> str:
    """The blocks as one HTML page (template ``report.html.j2``), figures embedded."""
    return render_html(blocks, title=title)
