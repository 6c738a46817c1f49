"""The checkpoint of a streamed prediction: finished chunks kept beside the output.

A run of :func:`~wise2spitzer.batch.predict_file` writes every finished chunk as a numbered
Arrow IPC part in the hidden folder ``.<output name>.parts`` next to the output:

* ``manifest.json`` holds the key of the run: fingerprints of the input, of the model and
  of the options. A checkpoint of another key is never reused.
* ``part-NNNNNNN.arrow`` holds the rows of chunk ``N`` with the predictions appended, and
  ``part-NNNNNNN.json`` its record: chunk index, rows, size in bytes and SHA-256 of the
  part file, written (atomically) only after the part itself is in place.

On resume a part counts as finished only when its record exists and the part's index, size
and SHA-256 match it; a truncated, damaged or swapped part (or one without a record) is
removed and its chunk predicted again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from ..catalog.atomic import atomic_output, atomic_write_json
from ..errors import CatalogError, ModelError

__all__ = [
    "CHECKPOINT_VERSION",
    "checkpoint_dir",
    "input_fingerprint",
    "model_fingerprint",
    "open_checkpoint",
    "part_path",
    "read_part",
    "record_path",
    "write_part",
    "write_failure",
]

#: Version of the checkpoint layout; a checkpoint of another version is not reused.
CHECKPOINT_VERSION = 2
_HASH_BLOCK = 1 << 22


# --------------------------------------------------------------------------------------------
# Fingerprints
# --------------------------------------------------------------------------------------------
def _file_digest(h, path: Path, *, sample: int = 1 << 20) -> None:
    """Feed size, mtime and the first and last MiB of ``path`` into ``h``.

    Hashing whole inputs of hundreds of GB would cost as much as predicting them; size, mtime
    and both ends catch every ordinary change (a rewrite, an append, a truncation).
    """
    st = path.stat()
    h.update(f"{path.name}|{st.st_size}|{st.st_mtime_ns}|".encode())
    with open(path, "rb") as fh:
        h.update(fh.read(sample))
        if st.st_size > sample:
            fh.seek(max(sample, st.st_size - sample))
            h.update(fh.read(sample))


def input_fingerprint(path: str | os.PathLike) -> str:
    """A hex digest identifying the content of an input file or directory of parts."""
    path = Path(path)
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for p in files:
        _file_digest(h, p)
    return h.hexdigest()


class _HashWriter:
    def __init__(self) -> None:
        self.h = hashlib.sha256()

    def write(self, b) -> int:
        view = memoryview(b)  # protocol 5 hands large arrays over as PickleBuffer
        self.h.update(view)
        return view.nbytes


def model_fingerprint(predictor: Any) -> str:
    """A hex digest of a fitted predictor (its pickled state, streamed into SHA-256)."""
    w = _HashWriter()
    try:
        pickle.dump(predictor, w, protocol=5)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        raise ModelError(
            f"the predictor ({type(predictor).__name__}) cannot be pickled, so it cannot be "
            f"fingerprinted for resuming or sent to Dask workers: {exc}"
        ) from exc
    return w.h.hexdigest()


# --------------------------------------------------------------------------------------------
# Layout
# --------------------------------------------------------------------------------------------
def checkpoint_dir(output: Path) -> Path:
    """The checkpoint folder of ``output``: ``.<name>.parts`` beside it."""
    return output.with_name(f".{output.name}.parts")


def part_path(ckpt: Path, i: int) -> Path:
    """The part file of chunk ``i``."""
    return ckpt / f"part-{i:07d}.arrow"


def record_path(ckpt: Path, i: int) -> Path:
    """The record (index, rows, size, SHA-256) of the part of chunk ``i``."""
    return ckpt / f"part-{i:07d}.json"


def write_failure(path: Path, exc: OSError) -> CatalogError:
    """The one-line error for a failed write of ``path`` (disk full, file-size limit...)."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    return CatalogError(f"could not write {str(path)!r}: {reason}")


def write_part(df: pd.DataFrame, ckpt: Path, i: int) -> None:
    """Write chunk ``i`` as a part and then its record, each atomically.

    The rename at the end of each atomic write is what marks it finished: a kill before it
    leaves only a temporary file, and a part without a record is not reused.

    Raises
    ------
    CatalogError
        If the rows cannot be stored as Arrow (a column mixing numbers and text), or the disk
        refuses the write (full, file-size limit).
    """
    import pyarrow as pa

    try:
        table = pa.Table.from_pandas(df, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise CatalogError(f"chunk {i}: the predicted rows cannot be stored ({exc})") from exc
    # Parts are read once, soon after: uncompressed Arrow IPC costs a fraction of Parquet.
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    data = sink.getvalue()
    record = {
        "index": i,
        "rows": table.num_rows,
        "size": data.size,
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    path = part_path(ckpt, i)
    try:
        with atomic_output(path) as tmp, open(tmp, "wb") as fh:
            fh.write(data)
        atomic_write_json(record_path(ckpt, i), record, indent=None, sort_keys=True)
    except OSError as exc:
        raise write_failure(path, exc) from exc


def read_part(ckpt: Path, i: int):
    """The Arrow table of the part of chunk ``i`` (memory-mapped)."""
    from pyarrow import feather

    return feather.read_table(part_path(ckpt, i), memory_map=True)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_HASH_BLOCK), b""):
            h.update(block)
    return h.hexdigest()


def _verified(ckpt: Path, record_file: Path) -> tuple[int, int] | None:
    """``(index, rows)`` of a part that matches its record, else None."""
    stem = record_file.stem.split("-")
    if len(stem) != 2 or not stem[1].isdigit():
        return None
    i = int(stem[1])
    try:
        record = json.loads(record_file.read_text())
        part = part_path(ckpt, i)
        ok = (
            isinstance(record, dict)
            and record.get("index") == i
            and part.stat().st_size == record.get("size")
            and _sha256(part) == record.get("sha256")
        )
    except (OSError, ValueError):
        return None
    return (i, int(record["rows"])) if ok else None


def open_checkpoint(ckpt: Path, key: dict, *, resume: bool) -> dict[int, int]:
    """Prepare the checkpoint folder; return ``{chunk index: rows}`` of the verified parts.

    With ``resume`` and a manifest of the same ``key``, the parts that match their records
    are kept and every other file of the folder (damaged parts, temporary files of a killed
    run) is removed; otherwise the folder is emptied and a new manifest written.
    """
    manifest = ckpt / "manifest.json"
    if resume and manifest.is_file():
        try:
            old = json.loads(manifest.read_text())
        except (OSError, ValueError):
            old = None
        if old == key:
            done = dict(filter(None, (_verified(ckpt, r) for r in ckpt.glob("part-*.json"))))
            keep = {manifest.name}
            keep |= {part_path(ckpt, i).name for i in done}
            keep |= {record_path(ckpt, i).name for i in done}
            for f in ckpt.iterdir():
                if f.name not in keep:
                    if f.is_dir():
                        shutil.rmtree(f, ignore_errors=True)
                    else:
                        with contextlib.suppress(FileNotFoundError):
                            f.unlink()
            return done
    # A checkpoint of another input, model or options must not leak rows into this output.
    if ckpt.is_dir():
        shutil.rmtree(ckpt)
    elif ckpt.exists():
        ckpt.unlink()
    ckpt.mkdir(parents=True)
    atomic_write_json(manifest, key, sort_keys=True)
    return {}
