"""One run per output: an exclusive lock held while a command writes a destination.

Two runs writing the same output (or the same checkpoint folder) would mix their rows. A run
takes :func:`output_lock` on its destination before it creates anything next to it; a second
run to the same path is refused at once with a clear line. The lock is an advisory
``fcntl.flock`` on a small ``.<name>.lock`` file beside the destination: the operating system
releases it when the process ends, however it ends (``kill -9`` included), so a stale lock file
never blocks a later run.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from .errors import Wise2SpitzerError

__all__ = ["OutputLockedError", "lock_path", "output_lock"]


class OutputLockedError(Wise2SpitzerError, RuntimeError):
    """Another run holds the lock on the same output."""


def lock_path(destination: str | os.PathLike) -> Path:
    """The lock file of ``destination``: ``.<name>.lock`` in the same folder."""
    dest = Path(destination)
    return dest.with_name(f".{dest.name}.lock")


@contextlib.contextmanager
def output_lock(destination: str | os.PathLike) -> Iterator[Path]:
    """Hold an exclusive lock on ``destination`` for the duration of the block.

    Parameters
    ----------
    destination : path
        The output the run will write. Its folder must exist.

    Yields
    ------
    Path
        The lock file.

    Raises
    ------
    OutputLockedError
        If another process holds the lock (it names the process id written in the lock file).
    """
    path = lock_path(destination)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no advisory locks, run unguarded
        yield path
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise OutputLockedError(
                f"another wise2spitzer run (pid {holder}) is writing {destination}; wait for it "
                "to finish or choose another output path"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        try:
            yield path
        finally:
            # Unlink while still holding the lock, so no other run can have locked this inode.
            with contextlib.suppress(OSError):
                path.unlink()
    finally:
        os.close(fd)
