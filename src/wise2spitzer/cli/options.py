"""Checks of command-line values made before any work starts, each failing in one line.

A bad option must be refused in the first second of a command, not after minutes of training
or prediction; every check raises :class:`~wise2spitzer.errors.Wise2SpitzerError` subclasses
that the CLI prints as ``wise2spitzer: error: ...`` (exit status 2).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import CatalogError, ModelError

__all__ = ["check_at_least", "check_output_dir", "check_output_file"]


def check_at_least(option: str, value: int | None, minimum: int = 1) -> None:
    """Refuse an integer option below ``minimum`` (None means "not given" and passes)."""
    if value is not None and value < minimum:
        raise ModelError(f"{option} must be an integer >= {minimum}; got {value}")


def _file_ancestor(path: Path) -> Path | None:
    for parent in path.parents:
        if parent.exists():
            return parent if not parent.is_dir() else None
    return None


def check_output_file(option: str, path: Path) -> None:
    """An output file: not an existing directory, and no part of its folder is a file."""
    if path.is_dir():
        raise CatalogError(f"{option} {str(path)!r} is a directory; give a file name")
    blocker = _file_ancestor(path)
    if blocker is not None:
        raise CatalogError(f"{option} {str(path)!r} cannot be written: {str(blocker)!r} is a "
                           "file, not a directory")


def check_output_dir(option: str, path: Path) -> None:
    """An output directory: not an existing file, and no part of its path is a file."""
    if path.exists() and not path.is_dir():
        raise CatalogError(f"{option} {str(path)!r} is a file; give a directory")
    blocker = _file_ancestor(path)
    if blocker is not None:
        raise CatalogError(f"{option} {str(path)!r} cannot be created: {str(blocker)!r} is a "
                           "file, not a directory")
