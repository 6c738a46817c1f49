"""``wise2spitzer predict``: append Spitzer predictions to every row of a catalogue file."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from ..detection import describe_limit
from ..errors import ModelError, Wise2SpitzerError
from ..schema import output_columns
from .app import app

__all__ = ["check_method", "describe_model", "load_model", "missing_columns", "predict"]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_model(path: Path, *, bundle: bool = True):
    """Load a saved model file (a predictor, or a bundle when ``bundle``), errors as ModelError."""
    from ..modelfile import load_model as load_any
    from ..modelfile import load_predictor

    if not path.exists():
        raise FileNotFoundError(2, "No such file or directory", str(path))
    try:
        return load_any(path) if bundle else load_predictor(path)
    except (Wise2SpitzerError, FileNotFoundError):
        raise
    except Exception as exc:  # any unreadable file must end as one line, not a traceback
        raise ModelError(
            f"--model {str(path)!r} is not a saved wise2spitzer model "
            f"({type(exc).__name__}: {exc}); create one with `wise2spitzer train`"
        ) from exc


def _members(model) -> list:
    return list(getattr(model, "members", [model]))


def check_method(model, method: str | None, path: Path) -> None:
    """Refuse ``--method`` when a model in ``path`` was not trained with it, saying the fix."""
    if method is None:
        return
    from ..model.intervals import interval_method_names

    known = interval_method_names()
    if method not in known:
        raise ModelError(f"--method must be one of {list(known)}; got {method!r}")
    for member in _members(model):
        fitted = list(getattr(member.regressor, "interval_methods_", ()))
        if method not in fitted:
            extra = " (needs the qrf extra: pip install 'wise2spitzer[qrf]')" if (
                method == "qrf") else ""
            raise ModelError(
                f"--method {method}: the {member.target.key} model ({member.sample} sample) in "
                f"{str(path)!r} was trained with {fitted} only; train one with "
                f"`wise2spitzer train ... --interval-method {method}`{extra}, or use --method "
                f"{fitted[0]}")


def _input_columns(path: Path, allwise: bool) -> list[str] | None:
    """Columns of the input as the model sees them (after the survey adapter), or None."""
    from ..catalog import iter_chunks
    from ..catalog.surveys import detect_survey, get_survey

    try:
        first = next(iter(iter_chunks(path, chunksize=1000)), None)
        if first is None:
            return None
        survey = get_survey("allwise") if allwise else detect_survey(first)
        return list((survey.to_seip(first) if survey is not None else first).columns)
    except (Wise2SpitzerError, ValueError, KeyError, TypeError):
        return None  # predict_file reports what is wrong with the file itself


def missing_columns(model, columns: list[str]) -> dict[str, list[str]]:
    """``{"<target> (<sample>)": [absent columns]}`` for each model member lacking some."""
    out = {}
    for member in _members(model):
        absent = [c for c in member.input_columns if c not in columns]
        if absent:
            out[f"{member.target.key} ({member.sample} sample)"] = absent
    return out


def _columns_fix(model, path: Path, columns: list[str]) -> str:
    from ..features import available_feature_set

    try:
        import pandas as pd

        richest = available_feature_set(pd.DataFrame(columns=columns))
        hint = f"train a model on a feature set this table serves (--feature-set {richest})"
    except Wise2SpitzerError:
        hint = "the table lacks even the WISE fluxes wise1..wise4"
    return (f"fix: {hint}; or, for an AllWISE table (w1mpro...), pass --allwise; "
            f"`wise2spitzer describe-model {path}` lists what the model needs")


def _check_columns(model, input: Path, model_path: Path, allwise: bool) -> None:
    """Exit 2 before any work when no model of the file can use the input's columns."""
    columns = _input_columns(input, allwise)
    if columns is None:
        return
    absent = missing_columns(model, columns)
    if not absent:
        return
    detail = "; ".join(f"the {k} model lacks {v}" for k, v in absent.items())
    if len(absent) == len(_members(model)):
        raise ModelError(f"{str(input)!r} lacks columns every row would need, so no row could "
                         f"be predicted: {detail}. {_columns_fix(model, model_path, columns)}")
    typer.echo(f"note: {detail}; those rows get status 'missing_feature'. "
               f"{_columns_fix(model, model_path, columns)}", err=True)


def _targets(model) -> list:
    return list({m.target.key: m.target for m in _members(model)}.values())


def _check_excess(model, input: Path) -> None:
    columns = _input_columns(input, False) or []
    if not any(t.column in columns for t in _targets(model)):
        wanted = [t.column for t in _targets(model)]
        raise ModelError(f"--excess needs the observed Spitzer flux column(s) {wanted} in "
                         f"{str(input)!r}; none is there")


def add_excess(output: Path, model, *, confidence: float) -> list[str]:
    """Add ``<p>_excess`` and ``<p>_excess_sigma`` to the predicted file ``output``.

    Uses :func:`~wise2spitzer.excess.flag_excess` and
    :func:`~wise2spitzer.excess.excess_significance`; the prediction's 1-sigma error in dex
    is the interval's half-width in dex divided by the normal quantile of ``confidence``.
    Returns one summary line per band.
    """
    import numpy as np
    from scipy.stats import norm

    from ..catalog import read_catalog, write_catalog
    from ..excess import excess_significance, flag_excess

    df = read_catalog(output)
    z = norm.ppf(0.5 + confidence / 2)
    lines = []
    for t in _targets(model):
        if t.column not in df.columns:
            continue
        cols = output_columns(t)
        obs = _numeric(df[t.column])
        err = _numeric(df[t.error_column]) if t.error_column in df.columns else (
            np.full(len(df), np.nan))
        pred, lo, hi = (df[cols[k]].to_numpy(dtype=float) for k in ("pred", "lo", "hi"))
        with np.errstate(invalid="ignore", divide="ignore"):
            sigma_dex = (np.log10(hi) - np.log10(lo)) / (2 * z)
        df[f"{t.prefix}_excess"] = flag_excess(obs, pred, lo, hi, observed_err=err)
        df[f"{t.prefix}_excess_sigma"] = excess_significance(obs, pred, err, sigma_dex)
        n_obs = int(np.sum((obs > 0) & np.isfinite(pred)))
        lines.append(f"{t.prefix}_excess: {int(df[f'{t.prefix}_excess'].sum())} of {n_obs} rows "
                     f"with an observed {t.column} and a prediction lie above the interval")
    write_catalog(df, output, meta=df.attrs.get("meta"))
    return lines


def _numeric(values):
    """``values`` as floats (text or null -> NaN)."""
    import pandas as pd

    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=float("nan"))


def _default_threads(engine: str) -> int:
    if engine != "local":
        return 1  # the cluster's worker processes are the parallelism
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@app.command("predict")
def predict(
    input: Annotated[Path, typer.Argument(help=(
        "Input catalogue: Parquet (file, directory, HATS), FITS, CSV, VOTable or ECSV; SEIP "
        "or AllWISE columns."))],
    output: Annotated[Path, typer.Argument(help="Output file; format from the extension.")],
    model: Annotated[Path, typer.Option(
        "--model", "-m",
        help="A model or bundle saved by `wise2spitzer train` (or reproduce).")],
    engine: Annotated[str, typer.Option(help="local (this process) or dask (a cluster).")] = (
        "local"
    ),
    scheduler: Annotated[str | None, typer.Option(
        help="Dask scheduler address; default: a local cluster of --workers processes.")] = None,
    workers: Annotated[int, typer.Option(help="Workers of the local Dask cluster.")] = 2,
    chunksize: Annotated[int, typer.Option(
        help="Rows per chunk (memory is bounded by it).")] = 100_000,
    threads: Annotated[int | None, typer.Option(
        help="Threads walking the trees: default all cores for --engine local, 1 per worker "
             "process for --engine dask.")] = None,
    confidence: Annotated[float, typer.Option(help="Confidence level of the interval.")] = 0.95,
    method: Annotated[str | None, typer.Option(
        help="Interval method: one the model was trained with (see describe-model); "
             "default: the model's. For qrf, train with --interval-method qrf (or all) and "
             "the qrf extra installed.")] = None,
    allwise: Annotated[bool, typer.Option(
        "--allwise",
        help="The input has AllWISE columns (w1mpro...); detected if absent.")] = False,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Reuse the finished chunks of an interrupted run.")] = False,
    excess: Annotated[bool, typer.Option(
        "--excess",
        help="Also flag infrared excess where INPUT has the observed Spitzer flux (m1_f_psf, "
             "i4_f_ap1): <p>_excess is True when the observed flux lies above the interval, "
             "<p>_excess_sigma is (observed - predicted) over the combined 1-sigma error "
             "(the interval's half-width in dex taken as a normal one). Reads the output once "
             "more, in memory.")] = False,
    progress: Annotated[bool | None, typer.Option(
        "--progress/--no-progress",
        help="Progress bar on stderr (default: if a terminal).")] = None,
) -> None:
    """Predict MIPS1/IRAC4 fluxes for every row of INPUT and write them to OUTPUT.

    Every input row is written once, in order, with the four columns of the model appended.
    The output appears only when complete; an interrupted run continues with --resume.

    INPUT needs the columns the model was trained on (`wise2spitzer describe-model MODEL`
    lists them). When no model of the file can use INPUT's columns, predict writes nothing
    and exits with status 2, naming the missing columns and the fix.
    """
    from ..batch import predict_file
    from ..batch.streaming import check_request

    predictor = load_model(model)
    n_jobs = _default_threads(engine) if threads is None else threads
    # --method with its fix first, then the options and paths (as predict_file checks them),
    # then what the model needs.
    check_method(predictor, method, model)
    check_request(predictor, input, output, chunksize=chunksize, engine=engine,
                  n_workers=workers, n_jobs=n_jobs, confidence=confidence, method=method,
                  input_format=None, output_format=None)
    _check_columns(predictor, input, model, allwise)
    if excess:
        _check_excess(predictor, input)
    summary = predict_file(
        predictor,
        input,
        output,
        chunksize=chunksize,
        engine=engine,
        scheduler=scheduler,
        n_workers=workers,
        confidence=confidence,
        method=method,
        allwise=True if allwise else None,
        resume=resume,
        progress=sys.stderr.isatty() if progress is None else progress,
        n_jobs=n_jobs,
        model_hash=_sha256(model),
    )
    typer.echo(
        f"{summary.rows_out} of {summary.rows_in} rows written to {output} "
        f"({summary.chunks} chunks, {summary.chunks_reused} resumed, "
        f"{summary.rows_per_second:,.0f} rows/s)"
    )
    for column, counts in summary.status_counts.items():
        parts = ", ".join(f"{k}={v}" for k, v in sorted(counts.items()))
        typer.echo(f"{column}: {parts}")
    if excess:
        for line in add_excess(output, predictor, confidence=confidence):
            typer.echo(line)


@app.command("describe-model")
def describe_model(
    model: Annotated[Path, typer.Argument(help="A model or bundle file saved by train.")],
) -> None:
    """List what a saved model needs and gives: input columns, samples, interval methods."""
    loaded = load_model(model)
    for member in _members(loaded):
        card = member.card or {}
        typer.echo(f"{member.target.key} model, {member.sample} sample, feature set "
                   f"{member.feature_set!r}, trained on {card.get('n_train', '?')} rows")
        typer.echo(f"  needs columns: {', '.join(member.input_columns)}")
        typer.echo(f"  interval methods (--method): "
                   f"{', '.join(getattr(member.regressor, 'interval_methods_', ()))}")
        typer.echo(f"  writes: {', '.join(output_columns(member.target).values())}")
        typer.echo(f"  upper limits: {describe_limit(member)}")
