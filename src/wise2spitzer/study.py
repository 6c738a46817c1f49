"""The steps every study runs: settings, cap, evaluate, interval coverage, training domain.

``wise2spitzer evaluate`` and ``reproduce`` (:func:`wise2spitzer.report.reproduce`) score a
target on a sample through these same functions, so they print the same numbers for the same
preset and seed:

1. :func:`study_settings` reads the preset (:data:`~wise2spitzer.evaluation.STUDY_PRESETS`,
   plus :data:`QUICK_SETTINGS` for smoke runs);
2. :func:`cap_step` keeps at most the preset's number of labelled rows (seeded);
3. :func:`evaluate_step` scores ET, LR and the raw WISE estimate
   (:func:`~wise2spitzer.evaluation.evaluate`; the hyper-parameter search runs there, once);
4. :func:`intervals_step` measures the coverage of every interval method with the model the
   previous step scored (:func:`model_params`: the search's choice is reused, not redone).

:func:`run_evaluation` chains the four for one target and sample. :func:`training_domain` is
the convex hull a :class:`~wise2spitzer.predictor.SpitzerPredictor` trained on a sample uses,
for counts made without a fitted model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .schema import WISE_FLUX_COLUMNS, get_target

__all__ = [
    "CONFIDENCES",
    "INTERVAL_CV",
    "QUICK_SETTINGS",
    "EvaluationRun",
    "cap_step",
    "cap_note",
    "capped_counts",
    "evaluate_step",
    "intervals_step",
    "model_params",
    "run_evaluation",
    "study_settings",
    "training_domain",
]

Progress = Callable[[str], None] | None

#: Overrides of ``quick=True`` (tests, smoke runs): small forests, few folds, no search.
QUICK_SETTINGS: dict[str, Any] = {
    "tuning": "none", "cv": 3, "lc_cv": 2, "lc_sizes": (0.5, 1.0), "interval_cv": None,
    "regressor_params": {"n_estimators": 20, "boruta_max_iter": 10, "conformal_cv": 3},
}
#: Nominal confidences whose interval coverage a study measures.
CONFIDENCES: tuple[float, ...] = (0.68, 0.9, 0.95)
#: Folds of the report's interval-coverage study (pooled out-of-fold intervals).
INTERVAL_CV = 5
#: Regressor parameters the library calls set themselves; a study never passes them on.
_LIBRARY_SET = frozenset(
    {"random_state", "n_jobs", "counterpart", "interval_method", "form", "estimator"})


def study_settings(preset: str, *, quick: bool = False, cv: int | None = None) -> dict[str, Any]:
    """The settings of a study: a copy of the preset, with the quick and ``cv`` overrides.

    Parameters
    ----------
    preset : {"fast", "paper", "none"}
        A key of :data:`~wise2spitzer.evaluation.STUDY_PRESETS`.
    quick : bool, default False
        Apply :data:`QUICK_SETTINGS` (no search, 3 folds, 20-tree forests).
    cv : int, optional
        Folds of the evaluation instead of the preset's.

    Returns
    -------
    dict
        The preset's keys (``tuning``, ``cv``, ``lc_cv``, ``lc_sizes``, ``max_labelled``,
        ``regressor_params``) and ``interval_cv`` (folds of the report's coverage study,
        :data:`INTERVAL_CV`; None: one 80/20 split).

    Raises
    ------
    ModelError
        If ``preset`` is not one of the presets (the message names them).
    """
    from .evaluation import study_preset

    settings = study_preset(preset)
    settings.setdefault("interval_cv", INTERVAL_CV)
    if quick:
        settings.update(QUICK_SETTINGS)
    if cv is not None:
        settings["cv"] = cv
    return settings


def cap_step(df: pd.DataFrame, *, target, settings: dict[str, Any], random_state
             ) -> tuple[pd.DataFrame, str | None]:
    """Keep at most ``settings["max_labelled"]`` labelled rows of ``target`` (seeded).

    Returns
    -------
    df : DataFrame
        The table, without the dropped labelled rows.
    note : str or None
        What was dropped, or None when nothing was.
    """
    from .evaluation import cap_labelled

    return cap_labelled(df, get_target(target), settings.get("max_labelled"), random_state)


def capped_counts(df: pd.DataFrame, capped: pd.DataFrame, *, target, samples: Sequence[str]
                  ) -> pd.DataFrame:
    """Training rows of each sample before and after :func:`cap_step`.

    Parameters
    ----------
    df, capped : DataFrame
        The catalogue and what :func:`cap_step` kept of it.
    target : {"mips1", "irac4"}
    samples : sequence of str

    Returns
    -------
    DataFrame
        ``sample``, ``n_used`` (training rows of ``capped``: labelled rows of the sample with
        every feature measured) and ``n_labelled`` (the same rows of ``df``).
    """
    from .errors import Wise2SpitzerError
    from .training import training_table

    def n_rows(table: pd.DataFrame, sample: str) -> int:
        try:
            return len(training_table(table, target=target, sample=sample)[0])
        except Wise2SpitzerError:  # the sample or its columns are absent: no training row
            return 0

    return pd.DataFrame([{"sample": s, "n_used": n_rows(capped, s), "n_labelled": n_rows(df, s)}
                         for s in samples])


def cap_note(counts: pd.DataFrame, *, target, cap: int) -> str:
    """The cap in words, with the true count of each sample (:func:`capped_counts`)."""
    parts = [f"{r.sample} {r.n_used:,} of {r.n_labelled:,}" for r in counts.itertuples()]
    return (f"{get_target(target).band}: the fast preset trains and scores on a seeded random "
            f"subset of at most {cap:,} labelled rows ({'; '.join(parts)} training rows per "
            "sample; --preset paper uses all of them); each model's applicability domain (the "
            "convex hull) is still built from every labelled row of its sample")


def evaluate_step(
    df: pd.DataFrame,
    *,
    target,
    sample: str,
    settings: dict[str, Any],
    random_state,
    n_jobs: int | None = 1,
    interval: bool = False,
    feature_set: str | None = None,
    form: str | None = None,
    progress: Progress = None,
    **regressor_params: Any,
) -> pd.DataFrame:
    """Score ET, LR and the raw WISE estimate with the settings' folds and search.

    Calls :func:`wise2spitzer.evaluation.evaluate` with ``cv=settings["cv"]`` and
    ``preset=settings["tuning"]``; ``regressor_params`` go to every regressor (pass the
    settings' ``regressor_params`` merged with the caller's options).

    Returns
    -------
    DataFrame
        The table of :func:`~wise2spitzer.evaluation.evaluate`; ``attrs["tuned_params"]``
        holds what the search chose.
    """
    from . import evaluation

    return evaluation.evaluate(df, target=target, sample=sample, cv=settings["cv"],
                               preset=settings["tuning"], random_state=random_state,
                               interval=interval, feature_set=feature_set, form=form,
                               n_jobs=n_jobs, progress=progress, **regressor_params)


def model_params(metrics: pd.DataFrame, *, regressor_params: dict[str, Any]) -> dict[str, Any]:
    """Parameters of the model :func:`evaluate_step` scored, to pass to the later steps.

    ``regressor_params`` overridden by the search's choice (``metrics.attrs["tuned_params"]``),
    without the parameters the library calls set themselves (seed, jobs, target form, WISE
    counterpart, interval method, estimator), so they cannot clash.
    """
    tuned = metrics.attrs.get("tuned_params", {})
    return {k: v for k, v in {**regressor_params, **tuned}.items() if k not in _LIBRARY_SET}


def intervals_step(
    df: pd.DataFrame,
    *,
    target,
    sample: str,
    metrics: pd.DataFrame,
    regressor_params: dict[str, Any],
    cv: int | None,
    random_state,
    n_jobs: int | None = 1,
    confidences: Sequence[float] = CONFIDENCES,
    truth: bool = False,
    form: str | None = None,
    progress: Progress = None,
) -> pd.DataFrame:
    """Coverage of every interval method for the model :func:`evaluate_step` scored.

    The search ran once inside the evaluation; its choice and the feature set of ``metrics``
    are reused here (``preset="none"``), so the intervals measured are those of the scored
    model.

    Parameters
    ----------
    metrics : DataFrame
        What :func:`evaluate_step` returned for this target and sample.
    regressor_params : dict
        What was passed to :func:`evaluate_step`.
    cv : int or None
        Folds (every labelled row held out once, folds pooled); None: one 80/20 split.
    confidences : sequence of float
    truth : bool
        Also score against the noise-free simulated flux.

    Returns
    -------
    DataFrame
        The table of :func:`~wise2spitzer.evaluation.evaluate_intervals`.
    """
    from . import evaluation

    return evaluation.evaluate_intervals(
        df, target=target, sample=sample, confidences=confidences, truth=truth, cv=cv,
        preset="none", feature_set=str(metrics["feature_set"].iloc[0]), form=form,
        random_state=random_state, n_jobs=n_jobs, progress=progress,
        **model_params(metrics, regressor_params=regressor_params))


@dataclass
class EvaluationRun:
    """What :func:`run_evaluation` measured.

    Attributes
    ----------
    metrics : DataFrame
        Scores of ET, LR and the raw WISE estimate (:func:`evaluate_step`).
    coverage : DataFrame or None
        Interval coverage (:func:`intervals_step`), None unless asked for.
    note : str or None
        What :func:`cap_step` dropped.
    settings : dict
        The settings used (:func:`study_settings`).
    """

    metrics: pd.DataFrame
    coverage: pd.DataFrame | None
    note: str | None
    settings: dict[str, Any]


def run_evaluation(
    df: pd.DataFrame,
    *,
    target,
    sample: str,
    preset: str = "fast",
    cv: int | None = None,
    intervals: bool = False,
    feature_set: str | None = None,
    form: str | None = None,
    random_state=0,
    n_jobs: int | None = 1,
    progress: Progress = None,
    **regressor_params: Any,
) -> EvaluationRun:
    """Cap, evaluate and (optionally) measure interval coverage: ``wise2spitzer evaluate``.

    Parameters
    ----------
    df : DataFrame
        Catalogue in SEIP conventions.
    target : {"mips1", "irac4"}
    sample : {"clean", "unclean", "all"}
    preset : {"fast", "paper", "none"}, default "fast"
    cv : int, optional
        Folds of the evaluation and of the coverage (default: the preset's).
    intervals : bool, default False
        Also score the ET interval on the test split and measure the cross-validated
        coverage of every interval method.
    feature_set, form : str, optional
    random_state : int or None, default 0
    n_jobs : int, default 1
    progress : callable, optional
    **regressor_params
        Extra :class:`~wise2spitzer.model.FluxRegressor` parameters; they win over the
        preset's.

    Returns
    -------
    EvaluationRun
    """
    settings = study_settings(preset, cv=cv)
    params = {**settings["regressor_params"], **regressor_params}
    df, note = cap_step(df, target=target, settings=settings, random_state=random_state)
    metrics = evaluate_step(df, target=target, sample=sample, settings=settings,
                            random_state=random_state, n_jobs=n_jobs, interval=intervals,
                            feature_set=feature_set, form=form, progress=progress, **params)
    coverage = None
    if intervals:
        coverage = intervals_step(df, target=target, sample=sample, metrics=metrics,
                                  regressor_params=params, cv=settings["cv"], form=form,
                                  random_state=random_state, n_jobs=n_jobs, progress=progress)
    return EvaluationRun(metrics=metrics, coverage=coverage, note=note, settings=settings)


def training_domain(df: pd.DataFrame, *, target, sample: str, feature_set: str | None = None):
    """The convex hull a predictor trained on ``sample`` of ``df`` would use.

    Fitted, as :meth:`~wise2spitzer.predictor.SpitzerPredictor.fit` does, on the log W1..W4
    fluxes of the training rows (:func:`~wise2spitzer.evaluation.training_table`: labelled
    rows of the sample with every feature measured).

    Returns
    -------
    ConvexHullDomain

    Raises
    ------
    ModelError
        If no training row is left or the hull cannot be built (too few or degenerate rows).
    """
    from .domain import ConvexHullDomain
    from .evaluation import training_table

    X, _, _ = training_table(df, target=target, sample=sample, feature_set=feature_set)
    return ConvexHullDomain(columns=WISE_FLUX_COLUMNS).fit(
        df.loc[X.index, list(WISE_FLUX_COLUMNS)].apply(pd.to_numeric))
