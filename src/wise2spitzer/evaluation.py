"""Scores of the WISE -> Spitzer regression: metrics, cross-validation, learning curves and
the coverage of prediction intervals.

The numbers follow Fonseca-Bonilla et al. (2024, A&A 691, A271): the labelled rows of a
sample are split 80/20; the model is cross-validated (k-fold) on the 80% and scored once on
the 20% it never saw. Three estimates are compared on the same rows:

``ET``
    :class:`~wise2spitzer.model.FluxRegressor` with ExtraTrees (the paper's model).
``LR``
    the same pipeline with a linear regression in place of the forest.
``raw WISE``
    the WISE counterpart flux rescaled by the ratio of Vega zero points (W4 for MIPS1, W3 for
    IRAC4), i.e. what one gets without any model.

Every fitted step (transforms, Boruta selection, forest, interval calibration) is refitted
inside each fold on a fresh clone, so no fold sees its own held-out rows. One exception, made
for time: with a tuning preset, :func:`~wise2spitzer.tuning.tune` selects the features once
on the 80% train part and the search's choice (features included) is then fixed for the cv
folds, which makes the cv rows slightly optimistic; the test rows are not affected.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import (
    make_scorer,
    mean_absolute_error,
    mean_absolute_percentage_error,
    r2_score,
    root_mean_squared_error,
)
from sklearn.model_selection import KFold, train_test_split

from .errors import ModelError
from .model import INTERVAL_METHODS, interval_method_names
from .schema import BANDS, Target, get_target
from .training import (
    DEFAULT_FORM,
    Progress,
    interval_stats,
    intervals_or_none,
    make_regressor,
    training_table,
    tuned_params,
)
from .tuning import NO_TUNING

__all__ = [
    "DEFAULT_FORM",
    "INTERVAL_METHODS",
    "METRICS",
    "MODELS",
    "STUDY_PRESETS",
    "TABLE_INTERVAL_METHODS",
    "cap_labelled",
    "check_interval_methods",
    "evaluate",
    "evaluate_intervals",
    "interval_coverage",
    "learning_curve",
    "make_regressor",
    "raw_wise_estimate",
    "regression_metrics",
    "study_preset",
    "table_interval_methods",
    "training_table",
    "tuned_params",
]

#: Metric columns of :func:`evaluate` (each cv row also has ``<metric>_std``).
METRICS: tuple[str, ...] = ("mae", "rmse", "r2", "mape", "mape_linear")
#: Model labels of :func:`evaluate`, in table order.
MODELS: tuple[str, ...] = ("ET", "LR", "raw WISE")
# The paper's interval comes first in the coverage tables.
_PAPER_INTERVAL = "tree_sem"


def table_interval_methods(names: Sequence[str] | None = None) -> tuple[str, ...]:
    """Interval methods in the order tables list them: the paper's ``tree_sem`` first.

    The others follow in the order of ``names`` (default: every registered method, in
    registry order, :func:`wise2spitzer.model.interval_method_names`).
    """
    names = interval_method_names() if names is None else tuple(names)
    return tuple(m for m in names if m == _PAPER_INTERVAL) + tuple(
        m for m in names if m != _PAPER_INTERVAL
    )


def _installed(method: str) -> bool:
    # The qrf method needs the optional quantile-forest package (the "qrf" extra).
    return method != "qrf" or importlib.util.find_spec("quantile_forest") is not None


#: The built-in interval methods in table order: what :func:`evaluate_intervals` and
#: :func:`wise2spitzer.excess.false_excess_rate` score by default (qrf only when the
#: quantile-forest package is installed).
TABLE_INTERVAL_METHODS: tuple[str, ...] = table_interval_methods(
    tuple(m for m in INTERVAL_METHODS if _installed(m)))


def check_interval_methods(methods: Sequence[str]) -> None:
    """Raise :class:`ModelError` unless every entry of ``methods`` is a registered method."""
    known = table_interval_methods()
    bad = [m for m in methods if m not in known]
    if bad:
        raise ModelError(f"methods must be among {list(known)}; got {bad}")


#: What a study preset (``wise2spitzer evaluate`` and ``reproduce``) runs, so that both give
#: the same numbers for the same name and seed. ``tuning`` is the preset of
#: :func:`wise2spitzer.tuning.tune` (run once per target and sample, on the 80% train split);
#: ``cv`` the default folds; ``lc_cv``/``lc_sizes`` the learning curves of ``reproduce``;
#: ``max_labelled`` caps the labelled rows per target (a seeded random subset, see
#: :func:`cap_labelled`; None = all); ``regressor_params`` go to every
#: :class:`~wise2spitzer.model.FluxRegressor`. "fast" is sized for a few minutes on 2 cores:
#: successive-halving search, 20 Boruta rounds, at most 3,000 labelled
#: rows per target (IRAC4 has ~18,000 in the full simulation). "paper" is the paper's
#: protocol: 1000 configurations x 10 folds, every row. "none" keeps the default
#: hyper-parameters (500 trees) and every row.
STUDY_PRESETS: dict[str, dict[str, Any]] = {
    "fast": {"tuning": "fast", "cv": 5, "lc_cv": 3, "lc_sizes": (0.1, 0.25, 0.5, 1.0),
             "max_labelled": 3000,
             "regressor_params": {"boruta_max_iter": 20}},
    "paper": {"tuning": "paper", "cv": 10, "lc_cv": 5, "lc_sizes": (0.1, 0.25, 0.5, 0.75, 1.0),
              "max_labelled": None, "regressor_params": {}},
    "none": {"tuning": "none", "cv": 5, "lc_cv": 3, "lc_sizes": (0.1, 0.25, 0.5, 1.0),
             "max_labelled": None, "regressor_params": {}},
}


def study_preset(preset: str) -> dict[str, Any]:
    """A copy of :data:`STUDY_PRESETS` ``[preset]`` (``ModelError`` naming the allowed ones)."""
    if preset not in STUDY_PRESETS:
        raise ModelError(f"preset must be one of {list(STUDY_PRESETS)}; got {preset!r}")
    cfg = dict(STUDY_PRESETS[preset])
    cfg["regressor_params"] = dict(cfg["regressor_params"])
    return cfg


def cap_labelled(df: pd.DataFrame, target, cap: int | None, random_state
                 ) -> tuple[pd.DataFrame, str | None]:
    """Drop labelled rows of ``target`` beyond a seeded random ``cap`` (None: keep all).

    Returns the (possibly) reduced frame and a sentence saying what was dropped, or None.
    """
    from .samples import labelled_mask

    t = get_target(target)
    if not cap or t.column not in df.columns:
        return df, None
    lab = labelled_mask(df, t).astype(bool).to_numpy()
    n = int(lab.sum())
    if n <= cap:
        return df, None
    rng = np.random.default_rng(random_state)
    drop = rng.choice(np.flatnonzero(lab), size=n - cap, replace=False)
    keep = np.ones(len(df), bool)
    keep[drop] = False
    return df[keep], (f"{t.band}: the fast preset trains and scores on a random {cap:,} of the "
                      f"{n:,} labelled rows (seeded; --preset paper uses all of them)")


def _log10_positive(values, name: str) -> np.ndarray:
    v = np.asarray(values, dtype=float).ravel()
    bad = ~(np.isfinite(v) & (v > 0))
    if bad.any():
        raise ModelError(
            f"{name} must hold finite fluxes > 0 (uJy) to be scored on log10 flux; "
            f"got {int(bad.sum())} value(s) that are not"
        )
    return np.log10(v)


def regression_metrics(y_true, y_pred) -> dict[str, float]:
    """Scores of predicted fluxes against measured ones, as the paper reports them.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,)
        Measured and predicted flux densities in uJy (finite and > 0).

    Returns
    -------
    dict
        ``mae``, ``rmse`` (dex), ``r2`` and ``mape`` computed on ``log10`` of the fluxes, as
        in Fonseca-Bonilla et al. (2024). Note that ``mape`` is therefore the mean absolute
        percentage error *of the log10 values* (a fraction, scikit-learn's convention), which
        is much smaller than the error on the fluxes themselves; ``mape_linear`` is the mean
        absolute percentage error of the linear fluxes (a fraction too).

    Raises
    ------
    ModelError
        If the arrays differ in length, are empty or hold a flux that is not finite and > 0.

    Examples
    --------
    >>> m = regression_metrics([100.0, 1000.0], [100.0, 1000.0])
    >>> m["r2"], m["mae"], m["mape_linear"]
    (1.0, 0.0, 0.0)
    """
    t = _log10_positive(y_true, "y_true")
    p = _log10_positive(y_pred, "y_pred")
    if t.shape != p.shape or t.size == 0:
        raise ModelError(
            f"y_true and y_pred must be non-empty and of equal length; got {t.size} and {p.size}"
        )
    lin_t, lin_p = 10.0**t, 10.0**p
    return {
        "mae": float(mean_absolute_error(t, p)),
        "rmse": float(root_mean_squared_error(t, p)),
        "r2": float(r2_score(t, p)) if t.size > 1 else float("nan"),
        "mape": float(mean_absolute_percentage_error(t, p)),
        "mape_linear": float(mean_absolute_percentage_error(lin_t, lin_p)),
    }


def raw_wise_estimate(df: pd.DataFrame, target: str | Target) -> pd.Series:
    """The Spitzer flux one would adopt from WISE alone: the counterpart band rescaled.

    MIPS1 = W4 x 7.17 / 8.363 and IRAC4 = W3 x 64.9 / 31.674 (ratio of the Vega zero points in
    :data:`~wise2spitzer.schema.BANDS`), so that a source of the same magnitude in both bands
    gets the same flux. NaN where the counterpart flux is not positive (not measured).

    Raises
    ------
    ModelError
        If the counterpart column is missing.
    """
    t = get_target(target)
    if t.counterpart not in df.columns:
        raise ModelError(
            f"the raw WISE estimate of {t.key} needs column {t.counterpart!r}; the table lacks it"
        )
    ratio = BANDS[t.band].zero_point_jy / BANDS[t.counterpart_band].zero_point_jy
    flux = pd.to_numeric(df[t.counterpart], errors="coerce").astype(float)
    return (flux.where(flux > 0) * ratio).rename(f"{t.prefix}_f_raw_wise")


def evaluate(
    df: pd.DataFrame,
    *,
    target: str | Target,
    sample: str = "clean",
    cv: int = 10,
    preset: str = "fast",
    random_state=0,
    interval: bool = False,
    feature_set: str | None = None,
    form: str | None = None,
    test_size: float = 0.2,
    n_jobs: int | None = 1,
    progress: Progress = None,
    **regressor_params: Any,
) -> pd.DataFrame:
    """Cross-validated and held-out scores of ET, LR and the raw WISE estimate.

    The labelled rows of ``sample`` (every feature measured) are split into 80% train and 20%
    test (``random_state``). Hyper-parameters are tuned once on the train part (``preset``);
    then ``cv``-fold cross-validation (``KFold(cv, shuffle=True, random_state)``) runs on the
    train part with a fresh clone of the full regressor per fold, and the ``test`` rows come
    from one fit on the whole train part scored on the 20%.

    Parameters
    ----------
    df : pandas.DataFrame
        Catalogue in SEIP conventions.
    target : {"mips1", "irac4"}
    sample : {"clean", "unclean", "all"}, default "clean"
    cv : int, default 10
        Number of folds (>= 2).
    preset : {"fast", "paper", "none"}, default "fast"
        Hyper-parameter search of :func:`~wise2spitzer.tuning.tune` ("none": defaults).
    random_state : int or None, default 0
        Seeds the split, the folds, the search and the forests.
    interval : bool, default False
        Add ``coverage`` and ``width_dex`` of the ET prediction interval (its default method
        and confidence) on the held-out rows.
    feature_set, form : str, optional
        Passed to :func:`training_table` and the regressor (``form=None``:
        :data:`DEFAULT_FORM`).
    test_size : float, default 0.2
    n_jobs : int, default 1
    progress : callable, optional
        Called with a short description before each long step (the CLI shows it).
    **regressor_params
        Extra :class:`~wise2spitzer.model.FluxRegressor` parameters (e.g. ``n_estimators``).

    Returns
    -------
    pandas.DataFrame
        One row per (split, model): columns ``target, sample, model, split, n_train, n_test,
        mae, rmse, r2, mape, mape_linear``, ``<metric>_std`` (spread over folds, NaN for the
        test rows), then ``feature_set``, ``form`` (and ``coverage``, ``width_dex``).
        ``attrs["tuned_params"]`` holds the hyper-parameters the search chose (``{}`` for
        preset "none").

    Raises
    ------
    ModelError
        On a bad ``cv``/``preset`` or too few rows.
    """
    t = get_target(target)
    if not isinstance(cv, (int, np.integer)) or cv < 2:
        raise ModelError(f"cv must be an integer >= 2; got {cv!r}")
    X, y, feature_set = training_table(df, target=t, sample=sample, feature_set=feature_set)
    if len(X) < 2 * cv:
        raise ModelError(
            f"{len(X)} labelled rows in sample {sample!r} for {t.key!r} are too few for "
            f"cv={cv} folds plus a test split"
        )
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=test_size, random_state=random_state
    )
    et, lr, tuned = _evaluated_models(
        t, X_tr, y_tr, form=form, preset=preset, interval=interval, random_state=random_state,
        n_jobs=n_jobs, progress=progress, regressor_params=regressor_params)
    raw_all = raw_wise_estimate(df.loc[X.index], t)
    models = {"ET": et, "LR": lr}
    base = {"target": t.key, "sample": sample}
    rows = _cv_rows(models, raw_all, X_tr, y_tr, cv=cv, random_state=random_state,
                    progress=progress, base=base)
    if progress:
        progress(f"test split: fit on {len(X_tr)} rows, score on {len(X_te)}")
    rows += _test_rows(models, raw_all, X_tr, y_tr, X_te, y_te, interval=interval, base=base)
    out = pd.DataFrame(rows)
    out["feature_set"] = feature_set
    out["form"] = et.get_params().get("form")
    # The hyper-parameters the search chose on the train split, so that callers (the final
    # refit, the report) reuse them instead of searching again.
    out.attrs["tuned_params"] = dict(tuned)
    if interval:
        for c in ("coverage", "width_dex"):
            if c not in out.columns:
                out[c] = np.nan
    return out


def _evaluated_models(t: Target, X_tr, y_tr, *, form, preset, interval: bool, random_state,
                      n_jobs, progress: Progress, regressor_params: dict[str, Any]):
    """The ET (tuned on the train split) and LR regressors :func:`evaluate` scores."""
    # The cv scores need point predictions only, and "tree_sem" is the interval that costs no
    # extra fit; the conformal calibration (several more forests) is paid only when asked.
    et_params = {"interval_method": "conformal" if interval else "tree_sem", **regressor_params}
    et = make_regressor(t, form=form, random_state=random_state, n_jobs=n_jobs, **et_params)
    tuned = tuned_params(X_tr, y_tr, base=et, preset=preset, random_state=random_state,
                         n_jobs=n_jobs, progress=progress)
    et.set_params(**tuned)
    # The linear model only has the conformal interval, always calibrated when fitted; with
    # no interval wanted, the fewest calibration folds keep that cost down (the point
    # predictions do not depend on it).
    lr_params = {**({} if interval else {"conformal_cv": 2}), **_linear_params(regressor_params)}
    lr = make_regressor(t, estimator="linear", form=form, random_state=random_state,
                        n_jobs=n_jobs, **lr_params)
    return et, lr, tuned


def _cv_rows(models: dict, raw_all: pd.Series, X_tr, y_tr, *, cv: int, random_state,
             progress: Progress, base: dict) -> list[dict]:
    """One row per model of :data:`MODELS`: mean and spread of the ``cv``-fold scores."""
    fold_scores: dict[str, list[dict[str, float]]] = {m: [] for m in MODELS}
    folds = KFold(n_splits=cv, shuffle=True, random_state=random_state)
    n_fold_train = []
    for k, (a, b) in enumerate(folds.split(X_tr), start=1):
        if progress:
            progress(f"cross-validation fold {k}/{cv}")
        n_fold_train.append(len(a))
        for name, model in models.items():
            fitted = clone(model).fit(X_tr.iloc[a], y_tr.iloc[a])
            fold_scores[name].append(
                regression_metrics(y_tr.iloc[b], fitted.predict(X_tr.iloc[b]))
            )
        fold_scores["raw WISE"].append(
            regression_metrics(y_tr.iloc[b], raw_all.loc[X_tr.index[b]])
        )
    rows = []
    for name in MODELS:
        s = pd.DataFrame(fold_scores[name])
        row = {**base, "model": name, "split": "cv",
               "n_train": 0 if name == "raw WISE" else int(np.mean(n_fold_train)),
               "n_test": round(len(X_tr) / cv)}
        row.update({m: float(s[m].mean()) for m in METRICS})
        row.update({f"{m}_std": float(s[m].std(ddof=1)) for m in METRICS})
        rows.append(row)
    return rows


def _test_rows(models: dict, raw_all: pd.Series, X_tr, y_tr, X_te, y_te, *, interval: bool,
               base: dict) -> list[dict]:
    """One row per model: fitted on the train split, scored on the test split."""
    rows = []
    for name in MODELS:
        extra = {}
        if name == "raw WISE":
            pred = raw_all.loc[X_te.index]
        else:
            fitted = clone(models[name]).fit(X_tr, y_tr)
            pred = fitted.predict(X_te)
            if interval and name == "ET":
                cov, width = interval_stats(y_te, fitted.predict_interval(X_te))
                extra = {"coverage": cov, "width_dex": width}
        row = {**base, "model": name, "split": "test",
               "n_train": 0 if name == "raw WISE" else len(X_tr), "n_test": len(X_te)}
        row.update(regression_metrics(y_te, pred))
        row.update({f"{m}_std": float("nan") for m in METRICS})
        row.update(extra)
        rows.append(row)
    return rows


def _linear_params(regressor_params: dict[str, Any]) -> dict[str, Any]:
    # Forest-only knobs make no sense for the linear baseline; the rest (form, selection,
    # interval method) is shared so both models see the same pipeline.
    forest = {"n_estimators", "max_depth", "min_samples_split", "min_samples_leaf",
              "max_features", "interval_method"}
    return {k: v for k, v in regressor_params.items() if k not in forest}


def learning_curve(
    df: pd.DataFrame,
    *,
    target: str | Target,
    sample: str = "clean",
    train_sizes: Sequence[float] = (0.1, 0.25, 0.5, 0.75, 1.0),
    cv: int = 5,
    feature_set: str | None = None,
    form: str | None = None,
    random_state=0,
    n_jobs: int | None = 1,
    **regressor_params: Any,
) -> pd.DataFrame:
    """R2 and MAPE (on log10 flux) of ET against the number of training rows.

    Uses :func:`sklearn.model_selection.learning_curve` with ``KFold(cv, shuffle=True,
    random_state)`` on the labelled rows of ``sample``.

    Returns
    -------
    pandas.DataFrame
        Columns ``n_train``, ``split`` ("train"/"validation"), ``r2``, ``r2_std``, ``mape``,
        ``mape_std``.
    """
    from sklearn.model_selection import learning_curve as sk_learning_curve

    X, y, _ = training_table(df, target=target, sample=sample, feature_set=feature_set)
    # Scores need point predictions only: "tree_sem" is the interval with no calibration fits.
    est = make_regressor(target, form=form, random_state=random_state, n_jobs=1,
                         **{"interval_method": "tree_sem", **regressor_params})
    folds = KFold(n_splits=cv, shuffle=True, random_state=random_state)
    scorers = {
        "r2": make_scorer(lambda a, b: r2_score(np.log10(a), np.log10(b))),
        "mape": make_scorer(
            lambda a, b: mean_absolute_percentage_error(np.log10(a), np.log10(b))
        ),
    }
    results = {}
    for name, scorer in scorers.items():
        # learning_curve scores one metric at a time; the same folds make the runs comparable.
        sizes, train, valid = sk_learning_curve(
            est, X, y, train_sizes=np.asarray(train_sizes), cv=folds, scoring=scorer,
            n_jobs=n_jobs,
        )
        results[name] = (sizes, train, valid)
    rows = []
    sizes = results["r2"][0]
    for i, n in enumerate(sizes):
        for split, j in (("train", 1), ("validation", 2)):
            rows.append({
                "n_train": int(n), "split": split,
                "r2": float(results["r2"][j][i].mean()), "r2_std": float(results["r2"][j][i].std()),
                "mape": float(results["mape"][j][i].mean()),
                "mape_std": float(results["mape"][j][i].std()),
            })
    return pd.DataFrame(rows)


def interval_coverage(
    y_true,
    intervals,
    *,
    method: str = "",
    confidence: float = float("nan"),
    flux_bins: str | Sequence[float] = "quartiles",
    reference: str = "observed",
) -> pd.DataFrame:
    """Empirical coverage and width of prediction intervals, overall and per flux bin.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Fluxes the intervals should contain (uJy).
    intervals : array-like of shape (n, 2)
        Lower and upper bounds (uJy).
    method, confidence : labels copied into the table.
    flux_bins : "quartiles" or sequence of float, default "quartiles"
        Bin edges in uJy of ``y_true``; "quartiles" splits at its quartiles.
    reference : str, default "observed"
        What ``y_true`` is ("observed" Spitzer flux or noise-free "truth"), copied as a label.

    Returns
    -------
    pandas.DataFrame
        Rows ``bin`` = "all" then one per flux bin, with ``method, confidence, reference, bin,
        flux_lo, flux_hi, n, coverage, width_dex`` (mean of log10(hi/lo)).

    Raises
    ------
    ModelError
        On shapes that do not match.

    Examples
    --------
    >>> t = interval_coverage([1.0, 2.0, 3.0, 4.0], [[0.5, 1.5], [1, 3], [3.5, 4], [3, 5]])
    >>> float(t.loc[t["bin"] == "all", "coverage"].iloc[0])
    0.75
    """
    y = np.asarray(y_true, dtype=float).ravel()
    iv = np.asarray(intervals, dtype=float)
    if iv.ndim != 2 or iv.shape != (y.size, 2):
        raise ModelError(
            f"intervals must have shape (n, 2) with n = len(y_true) = {y.size}; got {iv.shape}"
        )
    if isinstance(flux_bins, str):
        if flux_bins != "quartiles":
            raise ModelError(f"flux_bins must be 'quartiles' or bin edges; got {flux_bins!r}")
        edges = np.quantile(y, [0.0, 0.25, 0.5, 0.75, 1.0]) if y.size else np.zeros(5)
    else:
        edges = np.asarray(flux_bins, dtype=float)
    base = {"method": method, "confidence": confidence, "reference": reference}

    def row(label, mask, lo, hi):
        n = int(mask.sum())
        cov, width = interval_stats(y[mask], iv[mask]) if n else (float("nan"), float("nan"))
        return {**base, "bin": label, "flux_lo": lo, "flux_hi": hi, "n": n,
                "coverage": cov, "width_dex": width}

    rows = [row("all", np.ones(y.size, bool), float(np.min(y, initial=np.nan)),
                float(np.max(y, initial=np.nan)))]
    # Bin index of each flux; the top edge is closed so the brightest row is counted.
    idx = np.clip(np.searchsorted(edges, y, side="right") - 1, 0, len(edges) - 2)
    inside = (y >= edges[0]) & (y <= edges[-1])
    for k in range(len(edges) - 1):
        rows.append(row(f"Q{k + 1}" if isinstance(flux_bins, str) else f"bin{k + 1}",
                        inside & (idx == k), float(edges[k]), float(edges[k + 1])))
    return pd.DataFrame(rows)


def _intervals_for(fitted, X, method: str, confidence: float, refit: Callable[[str], Any]):
    """Intervals of ``method``; refit with ``interval_method=method`` if the fit lacks it."""
    iv = intervals_or_none(fitted, X, method=method, confidence=confidence)
    if iv is not None:
        return fitted, iv
    other = refit(method)
    return other, other.predict_interval(X, confidence=confidence, method=method)


def evaluate_intervals(
    df: pd.DataFrame,
    *,
    target: str | Target,
    sample: str = "clean",
    methods: Sequence[str] = TABLE_INTERVAL_METHODS,
    confidences: Sequence[float] = (0.68, 0.9, 0.95),
    truth: bool = False,
    cv: int | None = None,
    test_size: float = 0.2,
    preset: str = "none",
    feature_set: str | None = None,
    form: str | None = None,
    random_state=0,
    n_jobs: int | None = 1,
    flux_bins: str | Sequence[float] = "quartiles",
    progress: Progress = None,
    **regressor_params: Any,
) -> pd.DataFrame:
    """Coverage of each interval method on rows the model did not see.

    With ``cv=None`` the model is fitted on 80% of the labelled rows of ``sample`` and the
    intervals are checked on the other 20%; with an integer ``cv`` every row is held out once
    (``KFold(cv, shuffle=True, random_state)``) and the out-of-fold intervals are pooled,
    which suits small catalogues such as Upper Sco.

    Parameters
    ----------
    methods : sequence of str, default :data:`TABLE_INTERVAL_METHODS`
        Registered interval methods ("tree_sem", "conformal", "qrf" built in).
    confidences : sequence of float in (0, 1)
    truth : bool, default False
        Also score against the noise-free ``true_<target column>`` of a simulated catalogue
        (``reference`` = "truth"); the observed Spitzer flux is always scored
        (``reference`` = "observed").
    Other parameters as in :func:`evaluate`.

    Returns
    -------
    pandas.DataFrame
        :func:`interval_coverage` rows for every method, confidence and reference, plus
        ``target``, ``sample``, ``n_heldout`` and ``n_folds`` (1 for the 80/20 split)
        columns.

    Raises
    ------
    ModelError
        On an unknown method, a confidence outside (0, 1), or ``truth=True`` without the
        ``true_`` column.
    """
    t = get_target(target)
    check_interval_methods(methods)
    if not all(0 < c < 1 for c in confidences):
        raise ModelError(f"confidences must lie in (0, 1); got {list(confidences)}")
    true_col = f"true_{t.column}"
    if truth and true_col not in df.columns:
        raise ModelError(
            f"truth=True needs the noise-free column {true_col!r} of a simulated catalogue; "
            "the table lacks it"
        )
    X, y, feature_set = training_table(df, target=t, sample=sample, feature_set=feature_set)
    splits = _interval_splits(len(X), cv=cv, test_size=test_size, random_state=random_state)
    # "all" fits every interval method in one go (one forest shared by all of them).
    base = make_regressor(t, form=form, random_state=random_state, n_jobs=n_jobs,
                          interval_method="all" if len(methods) > 1 else methods[0],
                          **regressor_params)
    if preset != NO_TUNING:
        first = splits[0][0]
        base.set_params(**tuned_params(X.iloc[first], y.iloc[first], base=base, preset=preset,
                                       random_state=random_state, n_jobs=n_jobs,
                                       progress=progress))
    held, bounds = _held_out_bounds(base, X, y, splits, methods=methods,
                                    confidences=confidences, progress=progress)
    refs = {"observed": y.to_numpy()[held]}
    if truth:
        refs["truth"] = pd.to_numeric(df.loc[X.index[held], true_col]).to_numpy(dtype=float)
    tables = []
    for (m, c), iv in bounds.items():
        for ref, values in refs.items():
            tables.append(interval_coverage(values, iv, method=m, confidence=c,
                                            flux_bins=flux_bins, reference=ref))
    out = pd.concat(tables, ignore_index=True)
    out.insert(0, "sample", sample)
    out.insert(0, "target", t.key)
    out["n_heldout"] = len(held)
    out["n_folds"] = cv if cv is not None else 1
    return out


def _interval_splits(n: int, *, cv: int | None, test_size: float, random_state) -> list:
    """(train, held-out) positions: one 80/20 split (``cv=None``) or ``cv`` shuffled folds."""
    if cv is None:
        idx = np.arange(n)
        a, b = train_test_split(idx, test_size=test_size, random_state=random_state)
        return [(a, b)]
    if not isinstance(cv, (int, np.integer)) or cv < 2:
        raise ModelError(f"cv must be None or an integer >= 2; got {cv!r}")
    return list(KFold(n_splits=cv, shuffle=True, random_state=random_state).split(np.arange(n)))


def _held_out_bounds(base, X, y, splits, *, methods, confidences, progress: Progress):
    """Held-out positions (folds in order) and each (method, confidence)'s bounds on them."""
    held = np.concatenate([b for _, b in splits])
    bounds = {(m, c): np.empty((len(held), 2)) for m in methods for c in confidences}
    pos = 0
    for k, (a, b) in enumerate(splits, start=1):
        if progress:
            progress(f"interval fold {k}/{len(splits)}: fit on {len(a)} rows")
        fits: dict[str, Any] = {}

        def refit(method, a=a, fits=fits):
            # Only reached if the base fit lacks ``method`` (e.g. a custom interval_method).
            if method not in fits:
                fits[method] = clone(base).set_params(interval_method=method).fit(
                    X.iloc[a], y.iloc[a])
            return fits[method]

        fitted = clone(base).fit(X.iloc[a], y.iloc[a])
        for m in methods:
            for c in confidences:
                _, iv = _intervals_for(fits.get(m, fitted), X.iloc[b], m, c, refit)
                bounds[(m, c)][pos:pos + len(b)] = iv
        pos += len(b)
    return held, bounds
