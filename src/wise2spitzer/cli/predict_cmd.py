"""``wise2spitzer predict``: append Spitzer predictions to every row of a catalogue file."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from ..errors import ModelError, Wise2SpitzerError
from .app import app

__all__ = ["load_model", "predict"]


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
        help="Interval method (tree_sem, conformal, qrf); default: the model's.")] = None,
    allwise: Annotated[bool, typer.Option(
        "--allwise",
        help="The input has AllWISE columns (w1mpro...); detected if absent.")] = False,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Reuse the finished chunks of an interrupted run.")] = False,
    progress: Annotated[bool | None, typer.Option(
        "--progress/--no-progress",
        help="Progress bar on stderr (default: if a terminal).")] = None,
) -> None:
    """Predict MIPS1/IRAC4 fluxes for every row of INPUT and write them to OUTPUT.

    Every input row is written once, in order, with the four columns of the model appended.

    The output appears only when complete; an interrupted run continues with --resume.
    """
    from ..batch import predict_file

    predictor = load_model(model)
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
        n_jobs=_default_threads(engine) if threads is None else threads,
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
