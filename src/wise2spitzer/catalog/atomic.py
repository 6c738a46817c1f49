"""Atomic file output: a file is either absent, its old version, or complete.

Every file the package writes (catalogues, CSV sidecars, prediction outputs and checkpoint
parts, checkpoint manifests, the archive cache) goes through :func:`atomic_output`: the data
are written to a hidden temporary file next to the destination, which is moved into place with
:func:`os.replace` only when writing succeeded; on any error (or an interrupt) the temporary
file is removed and an existing destination is left untouched.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import CatalogError
from .formats import ENDING_FORMATS

__all__ = [
    "atomic_output",
    "atomic_write_json",
    "atomic_write_text",
    "remove_stale_temps",
    "reserve_temp",
    "stale_temps",
]


def _default_ending(path: Path) -> str:
    name = path.name.lower()
    known = [e for e in ENDING_FORMATS if name.endswith(e)]
    return path.name[-len(max(known, key=len)) :] if known else path.suffix


def reserve_temp(path: str | os.PathLike, ending: str | None = None) -> Path:
    """Create a hidden, empty temporary file next to ``path`` and return its path.

    The name ends with ``ending`` (default: the catalogue ending of ``path``, e.g.
    ``.fits.gz``, else its last suffix), so libraries that look at the name see the same kind
    of file. ``os.open`` with mode 0o666 lets the umask decide the permissions, as for any new
    file (``tempfile.mkstemp`` would leave a finished catalogue private to its owner).

    Raises
    ------
    FileNotFoundError
        If the directory of ``path`` does not exist.
    CatalogError
        If no free temporary name was found.
    """
    path = Path(os.fspath(path))
    ending = _default_ending(path) if ending is None else ending
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp{ending}")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return tmp
    raise CatalogError(f"cannot create a temporary file next to {str(path)!r}")


def stale_temps(path: str | os.PathLike) -> list[Path]:
    """Temporary files :func:`reserve_temp` made for ``path`` that still exist.

    Only names of the form ``.<name>.<12 hex digits>.tmp<ending>`` next to ``path`` match: a
    run killed with ``kill -9`` (no ``finally`` runs) leaves such a file behind. Call it only
    while no other process writes ``path`` (e.g. under :func:`wise2spitzer.locking.output_lock`).
    """
    path = Path(os.fspath(path))
    if not path.parent.is_dir():
        return []
    pattern = re.compile(rf"\.{re.escape(path.name)}\.[0-9a-f]{{12}}\.tmp.*", re.DOTALL)
    with os.scandir(path.parent) as entries:
        return sorted(
            Path(e.path)
            for e in entries
            if pattern.fullmatch(e.name) and e.is_file(follow_symlinks=False)
        )


def remove_stale_temps(path: str | os.PathLike) -> list[Path]:
    """Remove the files of :func:`stale_temps` and return them."""
    removed = []
    for tmp in stale_temps(path):
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
            removed.append(tmp)
    return removed


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, *, ending: str | None = None) -> Iterator[Path]:
    """Context manager yielding a temporary path that replaces ``path`` when the block succeeds.

    Parameters
    ----------
    path : str or path-like
        The destination.
    ending : str, optional
        Ending of the temporary name (see :func:`reserve_temp`).

    Yields
    ------
    pathlib.Path
        An empty temporary file in the destination's directory; write the content there.

    Notes
    -----
    Nested blocks are replaced innermost first: ``with atomic_output(data) as t,
    atomic_output(sidecar) as s:`` moves the sidecar into place before the data file.

    Examples
    --------
    >>> import os, tempfile
    >>> dest = os.path.join(tempfile.mkdtemp(), "notes.txt")
    >>> with atomic_output(dest) as tmp:
    ...     _ = tmp.write_text("done")
    >>> open(dest).read()
    'done'
    """
    tmp = reserve_temp(path, ending)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()  # gone already after a successful replace


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def atomic_write_json(
    path: str | os.PathLike, obj: Any, *, indent: int | None = 1, sort_keys: bool = False
) -> None:
    """Write ``obj`` as JSON to ``path`` atomically (``indent``/``sort_keys`` as in json)."""
    atomic_write_text(path, json.dumps(obj, indent=indent, sort_keys=sort_keys))
