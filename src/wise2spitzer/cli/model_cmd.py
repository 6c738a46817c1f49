"""``wise2spitzer train`` and ``wise2spitzer evaluate``: thin wrappers over the library.

``train`` fits a :class:`~wise2spitzer.predictor.SpitzerPredictor` and saves it (skops);
``evaluate`` prints the ET / LR / raw WISE table of :func:`~wise2spitzer.evaluation.evaluate`
(the same numbers the ``reproduce`` report writes to ``metrics.csv``) and writes it as CSV.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import typer
from rich.console import Console

from ..detection import check_margin, describe_limit
from ..errors import ModelError
from ..samples import ALL, CLEAN, CLEAN_FLAG_COLUMNS, SAMPLES, UNCLEAN, has_clean_flags
from ..schema import get_target
from .app import app
from .options import check_at_least, check_output_file
from .tables import print_table

__all__ = ["evaluate", "resolve_sample", "train"]

#: Help of the --sample option of train and evaluate.
_SAMPLE_HELP = (f"{', '.join(SAMPLES[:-1])} or {SAMPLES[-1]} (default: {CLEAN} if the table "
                f"has {' and '.join(CLEAN_FLAG_COLUMNS)}).")
_FEATURE_SET_HELP = "Default: richest available."
_FORM_HELP = ("ratio (default: learn the correction to the WISE counterpart) or paper "
              "(log flux).")


def _console() -> Console:
    # The terminal's width (COLUMNS when piped, else 80): every table fits it (cli.tables).
    return Console(highlight=False)


def _target(value: str):
    try:
        return get_target(value)
    except ValueError as exc:
        raise ModelError(f"--target: {exc}") from exc


def resolve_sample(df: pd.DataFrame, sample: str | None, console: Console | None = None) -> str:
    """The sample to use: ``sample`` if given, else "clean" when the table has the quality
    flags that define it (``ext_flg``, ``cc_flags``) and "all" otherwise, with a note."""
    if sample is not None:
        return sample
    if has_clean_flags(df):
        return CLEAN
    if console is not None:
        console.print(
            f"note: the table has no {list(CLEAN_FLAG_COLUMNS)} columns, so there is no "
            f"clean/unclean split; using every row (sample {ALL!r})"
        )
    return ALL


def _regressor_options(n_estimators: int | None, select_features: bool) -> dict:
    extra: dict = {"select_features": select_features}
    if n_estimators is not None:
        extra["n_estimators"] = n_estimators
    return extra


@contextmanager
def _status(console: Console, text: str):
    """A rich spinner whose text each long library step updates."""
    with console.status(text) as status:
        yield lambda message: status.update(f"{text}: {message}")


def _load(data: str, random_state: int, console: Console, *targets) -> pd.DataFrame:
    from ..catalog import load_data
    from ..schema import WISE_FLUX_COLUMNS

    # Checking the columns every model needs here lets the error name the file.
    required = (*WISE_FLUX_COLUMNS, *(t.column for t in targets)) if targets else ()
    with console.status(f"loading {data}"):
        return load_data(data, random_state=random_state, required=required)


def _fmt(value, digits: int = 4) -> str:
    if isinstance(value, float):
        return "" if value != value else f"{value:.{digits}f}"  # NaN: no value, not "nan"
    if value is None:
        return ""
    return str(value)


def _print_metrics(console: Console, table: pd.DataFrame, title: str) -> None:
    """The metrics table; a cross-validated value has its spread over the folds below it."""
    cols = ["model", "split", "n_train", "n_test", "r2", "mae", "rmse", "mape", "mape_linear"]
    cols += [c for c in ("coverage", "width_dex") if c in table.columns]
    rows = []
    for _, row in table.iterrows():
        cells = []
        for c in cols:
            v = row[c]
            std = row.get(f"{c}_std") if row["split"] == "cv" else None
            if std is not None and std == std and v == v:
                cells.append(f"{v:.4f}\n± {std:.4f}")
            else:
                cells.append(_fmt(v))
        rows.append(cells)
    caption = "cv: mean over the folds, ± their standard deviation" if (
        table["split"] == "cv").any() else None
    print_table(console, title, cols, rows, keys=2, left=("model", "split"), caption=caption)


@app.command()
def train(
    data: str = typer.Option(..., "--data", help="Catalogue file or embedded dataset name."),
    target: list[str] = typer.Option(
        ..., "--target",
        help="mips1 or irac4; repeat it (--target mips1 --target irac4) for a bundle."),
    out: Path = typer.Option(..., "--out", help="Model file to write (skops)."),
    sample: list[str] | None = typer.Option(
        None, "--sample",
        help=_SAMPLE_HELP + " Repeat it (--sample clean --sample unclean) for a bundle."),
    bundle: bool = typer.Option(
        False, "--bundle",
        help="One file with a model per target and sample (default samples: clean and "
             "unclean); predict answers each row with the model of its sample."),
    preset: str = typer.Option("fast", "--preset", help="Tuning: fast, paper or none."),
    feature_set: str | None = typer.Option(None, "--feature-set", help=_FEATURE_SET_HELP),
    form: str | None = typer.Option(None, "--form", help=_FORM_HELP),
    interval_method: str = typer.Option(
        "conformal", "--interval-method", show_default=False,
        help="conformal (the default), tree_sem, qrf or all; qrf needs the qrf extra "
             "installed. predict --method can use only the methods a model was trained with."),
    n_estimators: int | None = typer.Option(None, "--n-estimators", help="Trees in the forest."),
    select_features: bool = typer.Option(
        True, "--select-features/--no-select-features",
        help="Boruta feature selection (the paper's) or every feature of the set."),
    extrapolate: bool = typer.Option(
        False, "--extrapolate",
        help="Also give values, with status extrapolated and their own calibrated interval, "
             "to rows just outside the training hull. For samples whose sources all lie "
             "above the Spitzer detection limit of the training rows."),
    detection_margin: float | None = typer.Option(
        None, "--floor-margin", show_default=False, metavar="<x>",
        help="Rows whose lower bound falls below this many times the training sample's "
             "detection floor get only an upper limit (status upper_limit). Default: the "
             "margin measured for the band (mips1 5, irac4 1); 0 turns it off."),
    random_state: int = typer.Option(0, "--random-state", help="Seed of every random step."),
    n_jobs: int = typer.Option(1, "--n-jobs", help="Parallel jobs."),
) -> None:
    """Train a predictor (or a bundle of them) on the labelled rows of a catalogue; save it."""
    from ..bundle import PredictorBundle
    from ..predictor import SpitzerPredictor

    console = _console()
    targets = list(dict.fromkeys(_target(t).key for t in target))
    check_at_least("--n-jobs", n_jobs)
    check_at_least("--n-estimators", n_estimators)
    if detection_margin is not None:
        try:
            check_margin(detection_margin)  # the library's rule, before loading any data
        except ValueError:
            raise ModelError(f"--floor-margin must be a number >= 0; got {detection_margin}"
                             ) from None
    check_output_file("--out", out)
    df = _load(data, random_state, console, *[_target(t) for t in targets])
    samples = _train_samples(df, sample, bundle or len(targets) > 1, console)
    extra = _regressor_options(n_estimators, select_features)
    fit = {"feature_set": feature_set, "form": form, "preset": preset,
           "interval_method": interval_method, "random_state": random_state,
           "n_jobs": n_jobs, "extrapolate": extrapolate,
           "detection_margin": detection_margin, **extra}
    label = " and ".join(targets)
    with _status(console, f"training {label} on {data}") as progress:
        models = []
        for t in targets:
            for s in samples:
                progress(f"{t}, {s} sample")
                models.append(SpitzerPredictor().fit(df, target=t, sample=s, progress=progress,
                                                     **fit))
        if len(models) == 1 and not bundle:
            models[0].save(out)
        else:
            PredictorBundle(models).save(out)
    for model in models:
        _print_card(console, model)
    kind = "model" if len(models) == 1 and not bundle else f"bundle of {len(models)} models"
    console.print(f"{kind} written to {out}")


def _train_samples(df: pd.DataFrame, sample: list[str] | None, bundle: bool,
                   console: Console) -> list[str]:
    """Samples to train: as given, else both samples for a bundle, else the default one."""
    if sample:
        return list(dict.fromkeys(sample))
    if bundle and has_clean_flags(df):
        return [CLEAN, UNCLEAN]
    return [resolve_sample(df, None, console)]


def _print_card(console: Console, model) -> None:
    card = model.card
    console.print(f"trained {model.target.label} on {card['n_train']} labelled "
                  f"{model.sample!r} rows (feature set {card['feature_set']!r})")
    console.print(f"  features kept: {', '.join(card['features_selected'] or card['features'])}")
    m = card.get("test_metrics") or {}
    if m:
        console.print("  test split: " + ", ".join(f"{k}={v:.4f}" for k, v in m.items()))
    if getattr(model, "detection_margin", None):
        console.print(f"  upper limits: {describe_limit(model)}")
    cov = card.get("interval_coverage")
    if cov:
        console.print(f"  {card['interval_method']} interval at {cov['confidence']}: "
                      f"coverage {cov['coverage']:.3f} on {cov['n']} test rows")


def _issued_step(console: Console, df: pd.DataFrame, t, *, cv: int, random_state: int,
                 n_jobs: int, feature_set: str, form: str | None, params: dict) -> pd.DataFrame:
    """Coverage where predict issues values: every population of a k-fold held-out bundle."""
    from ..coverage import heldout_predictions, issued_coverage
    from ..samples import study_samples

    samples = study_samples(df)
    with _status(console, f"{cv}-fold coverage of the issued values") as progress:
        pooled = heldout_predictions(df, target=t, samples=samples, cv=cv,
                                     random_state=random_state, n_jobs=n_jobs,
                                     feature_set=feature_set, form=form, progress=progress,
                                     **params)
    table = issued_coverage(pooled, t)
    headers = ["population", "group", "n", "coverage", "95% CI", "width_dex",
               "in 0.93-0.97", "real miss"]
    rows = []
    for r in table.itertuples(index=False):
        verdict = {True: "yes", False: "NO", None: "n < 100"}[r.within_tolerance]
        beyond = {True: "no", False: "YES", None: ""}[r.consistent]
        ci = "" if r.coverage_lo95 != r.coverage_lo95 else (
            f"{r.coverage_lo95:.3f}-{r.coverage_hi95:.3f}")
        rows.append([r.population, r.group, str(r.n), _fmt(r.coverage, 3), ci,
                     _fmt(r.width_dex, 3), verdict, beyond])
    print_table(console, f"95% coverage where values are issued ({cv} folds, every labelled "
                f"row held out once; each row answered by the model of its sample: "
                f"{', '.join(samples)})", headers, rows, keys=2, left=("population", "group"),
                caption="95% CI: binomial (Wilson) interval of the coverage; real miss: "
                        "that interval lies outside 0.93-0.97. upper_limit rows promise one "
                        "side: observed <= limit for at least 97.5% (yes from 0.955)")
    return table


def _print_coverage(console: Console, cov, cv: int) -> None:
    """Coverage against the observed flux: overall and per quartile of observed flux."""
    obs = cov[cov["reference"] == "observed"]
    bins = [b for b in obs["bin"].unique() if b != "all"]
    headers = ["method", "level", "coverage", *bins, "width_dex"]
    rows = []
    for (method, conf), g in obs.groupby(["method", "confidence"], sort=False):
        by_bin = g.set_index("bin")["coverage"]
        overall = g[g["bin"] == "all"].iloc[0]
        rows.append([str(method), f"{conf:.2f}", f"{overall['coverage']:.3f}",
                     *[f"{by_bin[b]:.3f}" for b in bins], f"{overall['width_dex']:.3f}"])
    print_table(console, f"Cross-validated interval coverage ({cv} folds, "
                f"{int(cov['n_heldout'].iloc[0])} rows held out once; quartiles of observed "
                "flux, Q1 faintest; level: confidence level)", headers, rows, keys=2,
                left=("method",))


@app.command()
def evaluate(
    data: str = typer.Option(..., "--data", help="Catalogue file or embedded dataset name."),
    target: str = typer.Option(..., "--target", help="mips1 or irac4."),
    sample: str | None = typer.Option(None, "--sample", help=_SAMPLE_HELP),
    cv: int | None = typer.Option(
        None, "--cv", help="Cross-validation folds (default: the preset's, fast 5, paper 10)."),
    preset: str = typer.Option(
        "fast", "--preset",
        help="Study preset, the same as reproduce's: fast (successive-halving search, at most "
             "3000 labelled rows), paper (1000 x 10-fold search, every row) or none."),
    feature_set: str | None = typer.Option(None, "--feature-set", help=_FEATURE_SET_HELP),
    form: str | None = typer.Option(None, "--form", help=_FORM_HELP),
    intervals: bool = typer.Option(
        False, "--intervals",
        help="Also measure cross-validated interval coverage (tree_sem, conformal, qrf)."),
    n_estimators: int | None = typer.Option(None, "--n-estimators", help="Trees in the forest."),
    select_features: bool = typer.Option(
        True, "--select-features/--no-select-features",
        help="Boruta feature selection (the paper's) or every feature of the set."),
    random_state: int = typer.Option(0, "--random-state", help="Seed of every random step."),
    n_jobs: int = typer.Option(1, "--n-jobs", help="Parallel jobs."),
    out: Path | None = typer.Option(None, "--out", help="Write the metrics table as CSV."),
) -> None:
    """Score ET, LR and the raw WISE estimate (cross-validation and test split)."""
    from ..study import cap_step, evaluate_step, intervals_step, model_params, study_settings

    check_at_least("--n-jobs", n_jobs)
    check_at_least("--n-estimators", n_estimators)
    check_at_least("--cv", cv, 2)
    if out is not None:
        check_output_file("--out", out)
    console = _console()
    t = _target(target)
    settings = study_settings(preset, cv=cv)
    cv = settings["cv"]
    df = _load(data, random_state, console, t)
    sample = resolve_sample(df, sample, console)
    # The steps of wise2spitzer.study.run_evaluation, one at a time so each result is
    # printed as soon as it is known.
    df, cap_note = cap_step(df, target=t, settings=settings, random_state=random_state)
    if cap_note:
        console.print(f"note: {cap_note}")
    extra = {**settings["regressor_params"],
             **_regressor_options(n_estimators, select_features)}
    with _status(console, f"evaluating {t.key} on {data}") as progress:
        table = evaluate_step(df, target=t, sample=sample, settings=settings,
                              random_state=random_state, interval=intervals,
                              feature_set=feature_set, form=form, n_jobs=n_jobs,
                              progress=progress, **extra)
    feature_set = table["feature_set"].iloc[0]
    _print_metrics(console, table, f"{t.label}, sample {sample!r}, feature set "
                   f"{feature_set!r}: R2/MAE/RMSE/MAPE on log10 flux")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(out, index=False)
        console.print(f"metrics written to {out}")
    if intervals:
        # The model whose intervals are measured is the one scored above: the search ran
        # once inside evaluate and its choice (trees, leaves, features) is reused per fold.
        with _status(console, f"{cv}-fold interval coverage") as progress:
            cov = intervals_step(df, target=t, sample=sample, metrics=table,
                                 regressor_params=extra, cv=cv, form=form,
                                 random_state=random_state, n_jobs=n_jobs, progress=progress)
        _print_coverage(console, cov, cv)
        if out is not None:
            cov_path = out.with_name(out.stem + "_coverage.csv")
            cov.to_csv(cov_path, index=False)
            console.print(f"coverage written to {cov_path}")
        issued = _issued_step(console, df, t, cv=cv, random_state=random_state, n_jobs=n_jobs,
                              feature_set=table["feature_set"].iloc[0], form=form,
                              params=model_params(table, regressor_params=extra))
        if out is not None:
            issued_path = out.with_name(out.stem + "_issued_coverage.csv")
            issued.to_csv(issued_path, index=False)
            console.print(f"coverage where values are issued written to {issued_path}")
