"""Streaming prediction of a catalogue file: :func:`predict_file` and its steps.

A run is a sequence of named steps, each refusing what it cannot do before anything is
created:

1. :func:`check_request` validates every option and path (no file is touched);
2. the output is locked (:func:`~wise2spitzer.locking.output_lock`) so a second run to the
   same output is refused at once, and temporary files a killed run left for this output
   are removed;
3. :func:`open_input` counts the rows and reads the first chunk, so an unreadable input
   fails before the checkpoint folder exists;
4. the checkpoint is opened (:func:`~wise2spitzer.batch.checkpoint.open_checkpoint`: with
   ``resume`` the verified parts of an earlier run are reused);
5. the remaining chunks are predicted and written as parts (:func:`run_chunks`);
6. the parts are assembled into the output (:func:`~wise2spitzer.batch.assembly.assemble`)
   and the checkpoint removed.

A failure leaves no temporary file, never touches an existing output, and keeps the
checkpoint only when it holds finished chunks (for ``resume``).
"""

from __future__ import annotations

import itertools
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..catalog.atomic import remove_stale_temps
from ..catalog.formats import FormatSpec
from ..catalog.metadata import sidecar_path
from ..catalog.streaming import check_chunksize, count_rows, iter_chunks, stream_format
from ..errors import CatalogError, ModelError, Wise2SpitzerError
from ..locking import output_lock
from .assembly import assemble, provenance
from .checkpoint import (
    CHECKPOINT_VERSION,
    checkpoint_dir,
    input_fingerprint,
    model_fingerprint,
    open_checkpoint,
    part_path,
    write_part,
)
from .chunk import predict_chunk
from .distributed import DaskExecutor
from .fast import FastPredictor, check_method
from .progress import PredictionSummary, Progress

__all__ = [
    "ENGINES",
    "LocalExecutor",
    "Request",
    "check_request",
    "open_input",
    "predict_file",
    "run_chunks",
]

ENGINES: tuple[str, ...] = ("local", "dask")


class LocalExecutor:
    """Chunks predicted in this process, in order.

    Parameters
    ----------
    predictor : object
        The predictor applied to every chunk.
    kwargs : dict
        Keyword arguments of :func:`~wise2spitzer.batch.predict_chunk`.
    """

    def __init__(self, predictor, kwargs) -> None:
        self.predictor, self.kwargs = predictor, kwargs

    def map(self, jobs: Iterator[tuple[int, pd.DataFrame]]):
        """Yield ``(index, result)`` for every ``(index, chunk)`` of ``jobs``."""
        for i, chunk in jobs:
            yield i, predict_chunk(self.predictor, chunk, **self.kwargs)

    def close(self) -> None:
        """Nothing to release."""


@dataclass(frozen=True)
class Request:
    """A validated :func:`predict_file` request: paths, formats and options."""

    input: Path
    output: Path
    input_format: str
    output_spec: FormatSpec
    chunksize: int


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ModelError(f"{name} must be a positive integer; got {value!r}")
    return int(value)


def _check_paths(input: Path, output: Path) -> None:
    if not input.exists():
        raise FileNotFoundError(2, "No such file or directory", str(input))
    if not output.parent.exists():
        raise FileNotFoundError(2, "No such file or directory", str(output.parent))
    if not output.parent.is_dir():
        raise CatalogError(
            f"output {str(output)!r}: {str(output.parent)!r} is not a directory"
        )
    if output.is_dir():
        raise CatalogError(f"output {str(output)!r} is a directory; give a file name to write to")
    if output.resolve() == input.resolve():
        raise CatalogError(f"output {str(output)!r} must differ from the input")


def check_request(
    predictor: Any,
    input: str | os.PathLike,
    output: str | os.PathLike,
    *,
    chunksize: Any,
    engine: Any,
    n_workers: Any,
    n_jobs: Any,
    confidence: Any,
    method: str | None,
    input_format: str | None = None,
    output_format: str | None = None,
) -> Request:
    """Validate every option and path of a :func:`predict_file` call, touching no file.

    Returns
    -------
    Request
        The paths, the input format name, the output format and the chunk size.

    Raises
    ------
    ModelError
        ``engine`` not in :data:`ENGINES`; ``chunksize``, ``n_workers`` or ``n_jobs`` not a
        positive integer; ``confidence`` not in (0, 1); ``method`` not fitted in the model.
    CatalogError
        Unknown input or output format, an output that is a directory or the input itself,
        an output folder that is not a directory.
    FileNotFoundError
        Missing input or output folder.
    """
    input, output = Path(input), Path(output)
    if engine not in ENGINES:
        raise ModelError(f"engine must be one of {list(ENGINES)}; got {engine!r}")
    chunksize = check_chunksize(chunksize)
    _positive_int("n_workers", n_workers)
    _positive_int("n_jobs", n_jobs)
    if (
        isinstance(confidence, bool)
        or not isinstance(confidence, (int, float, np.floating, np.integer))
        or not 0 < confidence < 1
    ):
        raise ModelError(f"confidence must lie in (0, 1); got {confidence!r}")
    check_method(predictor, method)
    _check_paths(input, output)
    in_fmt = stream_format(input, input_format, what="input").name
    out_spec = stream_format(output, output_format, what="output")
    return Request(input, output, in_fmt, out_spec, chunksize)


def _guarded(chunks: Iterator[pd.DataFrame], what: str) -> Iterator[pd.DataFrame]:
    """The chunks of ``chunks``; a reader failure of any type becomes a CatalogError."""
    while True:
        try:
            chunk = next(chunks)
        except StopIteration:
            return
        except (Wise2SpitzerError, FileNotFoundError):
            raise
        except Exception as exc:  # noqa: BLE001 - any reader failure is one clear line
            raise CatalogError(f"cannot read {what}: {type(exc).__name__}: {exc}") from exc
        yield chunk


def open_input(
    request: Request,
) -> tuple[int | None, Iterator[pd.DataFrame], dict[str, dict[str, str]]]:
    """Count the input's rows and read its first chunk, before anything is created.

    Returns
    -------
    total : int or None
        Rows from the metadata (Parquet, FITS), None for the other formats.
    chunks : iterator of DataFrame
        Every chunk, the first one included.
    columns : dict
        What the input says about its columns (``{name: {"unit", "ucd", "description"}}``),
        passed on to the output for the columns the tool does not describe itself.

    Raises
    ------
    CatalogError
        If the input cannot be read (garbage, truncated, another format under its ending,
        duplicated columns...).
    """
    what = f"{request.input_format} input {str(request.input)!r}"
    try:
        total = count_rows(request.input, format=request.input_format)
    except (Wise2SpitzerError, FileNotFoundError):
        raise
    except Exception as exc:  # noqa: BLE001 - any reader failure is one clear line
        raise CatalogError(f"cannot read {what}: {type(exc).__name__}: {exc}") from exc
    chunks = _guarded(
        iter_chunks(request.input, chunksize=request.chunksize, format=request.input_format),
        what,
    )
    first = next(chunks, None)
    if first is None:
        return total, iter(()), {}
    dup = sorted({str(c) for c in first.columns if list(first.columns).count(c) > 1})
    if dup:
        raise CatalogError(f"{what} has duplicated column names {dup}; rename them first")
    return total, itertools.chain([first], chunks), dict(first.attrs.get("columns") or {})


def run_chunks(
    executor: Any,
    chunks: Iterator[pd.DataFrame],
    *,
    ckpt: Path,
    done: dict[int, int],
    summary: PredictionSummary,
    bar: Progress,
    on_chunk: Callable[[int, pd.DataFrame], None] | None = None,
) -> int:
    """Predict the chunks not already ``done`` and write each as a checkpoint part.

    A part is reused only when its verified record has the chunk's row count. Returns the
    number of chunks; ``summary.rows_in``, ``chunks`` and ``chunks_reused`` are updated.
    """
    rows_per_chunk: dict[int, int] = {}

    def jobs() -> Iterator[tuple[int, pd.DataFrame]]:
        for i, chunk in enumerate(chunks):
            rows_per_chunk[i] = len(chunk)
            summary.chunks += 1
            if done.get(i) == len(chunk):
                summary.chunks_reused += 1
                bar.advance(len(chunk))
                continue
            yield i, chunk

    for i, result in executor.map(jobs()):
        if len(result) != rows_per_chunk[i]:
            raise ModelError(f"chunk {i} came back with {len(result)} rows for {rows_per_chunk[i]}")
        write_part(result, ckpt, i)
        bar.advance(len(result))
        if on_chunk is not None:
            on_chunk(i, result)
    summary.rows_in = sum(rows_per_chunk.values())
    n_chunks = len(rows_per_chunk)
    missing = [i for i in range(n_chunks) if not part_path(ckpt, i).exists()]
    if missing:  # pragma: no cover - every chunk above was written or already done
        raise CatalogError(f"checkpoint {str(ckpt)!r} lacks chunks {missing[:10]}")
    return n_chunks


def _drop_if_unfinished(ckpt: Path) -> None:
    """Remove a checkpoint without one finished chunk: nothing in it is worth resuming."""
    if ckpt.is_dir() and not any(ckpt.glob("part-*.json")):
        shutil.rmtree(ckpt, ignore_errors=True)


def _remove_leftovers(output: Path) -> None:
    """Temporary files of this output (and of its CSV sidecar) left by a killed run."""
    remove_stale_temps(output)
    remove_stale_temps(sidecar_path(output))


def predict_file(
    predictor: Any,
    input: str | os.PathLike,
    output: str | os.PathLike,
    *,
    chunksize: int = 100_000,
    engine: str = "local",
    scheduler: str | None = None,
    n_workers: int = 2,
    confidence: float = 0.95,
    method: str | None = None,
    allwise: bool | None = None,
    resume: bool = False,
    input_format: str | None = None,
    output_format: str | None = None,
    progress: bool = False,
    fast: bool = True,
    n_jobs: int = 1,
    model_hash: str | None = None,
    on_chunk: Callable[[int, pd.DataFrame], None] | None = None,
) -> PredictionSummary:
    """Predict every row of a catalogue file, streaming, atomically and resumably.

    Parameters
    ----------
    predictor : SpitzerPredictor
        A fitted predictor (anything with ``predict_catalog``; it must pickle for
        ``engine="dask"`` and for the checkpoint key).
    input, output : path
        Input catalogue (Parquet file/directory/HATS catalogue, FITS, CSV, VOTable, ECSV) and
        output file (Parquet, CSV, FITS, VOTable, ECSV by extension; all but Parquet may be
        gzip-compressed, e.g. ``out.fits.gz``). The output is created under a temporary name
        and renamed when complete. Output columns the input already has (an earlier
        prediction's ``m1_f_pred``...) are replaced by the new values.
    chunksize : int
        Rows per chunk; memory is a few times ``chunksize`` rows, whatever the input size.
    engine : {"local", "dask"}
        Predict chunks in this process, or on a Dask cluster (``scheduler`` address, or a
        ``distributed.LocalCluster`` of ``n_workers`` processes).
    confidence, method
        Interval confidence level and method, passed to ``predict_catalog``.
    allwise : bool or None
        The input has AllWISE columns (:func:`from_allwise`); None detects it per chunk.
    resume : bool
        Reuse the finished chunks of an earlier interrupted run with the same input, model and
        options (the sidecar directory ``.<output name>.parts``); each reused part is checked
        against the size and SHA-256 recorded when it was written, and a damaged one is
        predicted again. Without it an old checkpoint is discarded and every chunk predicted.
    input_format, output_format : str, optional
        Override the format read from the extension.
    progress : bool
        Show a progress bar (rows, rows/s, ETA) on stderr.
    fast : bool, default True
        Use :class:`FastPredictor` when the predictor supports it (same values to rounding).
    n_jobs : int, default 1
        Threads per process walking the trees on the fast path.
    model_hash : str, optional
        Fingerprint of the model (e.g. the SHA-256 of its file); computed from the pickled
        predictor when not given.
    on_chunk : callable, optional
        ``on_chunk(index, result)`` called after each chunk is safely on disk (progress hooks,
        tests that simulate a crash).

    Returns
    -------
    PredictionSummary
        Rows in and out, chunks predicted and reused, counts per status, wall time.

    Raises
    ------
    OutputLockedError
        Another run is writing the same output.
    CatalogError
        Unreadable input, unknown format, an output path that is a directory or the input,
        parts with other columns, a failed write ("could not write ...: No space left on
        device").
    ModelError
        Bad ``engine``, ``chunksize``, ``n_workers``, ``n_jobs``, ``confidence``, ``method``
        or scheduler; a predictor that drops rows.
    FileNotFoundError
        Missing input or output folder.
    """
    t0 = time.perf_counter()
    request = check_request(
        predictor, input, output, chunksize=chunksize, engine=engine, n_workers=n_workers,
        n_jobs=n_jobs, confidence=confidence, method=method, input_format=input_format,
        output_format=output_format,
    )
    kwargs = {"confidence": confidence, "method": method, "allwise": allwise}
    model_hash = model_hash or model_fingerprint(predictor)
    if fast and FastPredictor.supports(predictor):
        predictor = FastPredictor(predictor, n_jobs=n_jobs)
    elif fast and hasattr(predictor, "fast"):  # a bundle: its members on the fast path
        predictor = predictor.fast(n_jobs=n_jobs)
    key = {
        "version": CHECKPOINT_VERSION,
        "input": input_fingerprint(request.input),
        "model": model_hash,
        "chunksize": request.chunksize,
        "input_format": request.input_format,
        "options": {k: (None if v is None else str(v)) for k, v in kwargs.items()},
    }
    with output_lock(request.output):
        _remove_leftovers(request.output)
        total, chunks, columns = open_input(request)
        summary = PredictionSummary(output=request.output)
        ckpt = checkpoint_dir(request.output)
        done = open_checkpoint(ckpt, key, resume=resume)
        try:
            bar = Progress(progress, total, f"predict {request.input.name}")
            executor = _executor(engine, predictor, kwargs, scheduler, n_workers)
            try:
                n_chunks = run_chunks(
                    executor, chunks, ckpt=ckpt, done=done, summary=summary, bar=bar,
                    on_chunk=on_chunk,
                )
            finally:
                bar.close()
                executor.close()
            meta = provenance(
                predictor, confidence=confidence, method=method, model_hash=model_hash
            )
            assemble(ckpt, n_chunks, request.output, request.output_spec, summary, predictor,
                     meta, columns)
        except BaseException:
            _drop_if_unfinished(ckpt)
            raise
        if summary.rows_out != summary.rows_in:  # pragma: no cover - guarded chunk by chunk
            raise CatalogError(
                f"wrote {summary.rows_out} rows for {summary.rows_in} input rows to "
                f"{str(request.output)!r}"
            )
        shutil.rmtree(ckpt, ignore_errors=True)
    summary.seconds = time.perf_counter() - t0
    return summary


def _executor(engine: str, predictor: Any, kwargs: dict, scheduler, n_workers: int):
    if engine == "local":
        return LocalExecutor(predictor, kwargs)
    return DaskExecutor(predictor, kwargs, scheduler=scheduler, n_workers=n_workers)

