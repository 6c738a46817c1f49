"""Command-line interface: a thin layer over the library.

``main(argv)`` runs the CLI in-process (the tests call it directly). Errors caused by the user
(:class:`~wise2spitzer.errors.Wise2SpitzerError`, a missing or unwritable file) are printed
on one line on stderr with exit status 2, never as a traceback. An interrupted run (Ctrl-C)
prints ``wise2spitzer: interrupted`` and exits with status 130 (128 + SIGINT), as shells do.
"""

from __future__ import annotations

import sys
import warnings

import typer

from ..errors import Wise2SpitzerError

# Importing the command modules registers their commands on ``app``.
from . import datasets_cmd, fetch_cmd, model_cmd, predict_cmd, reproduce_cmd  # noqa: F401
from .app import app

__all__ = ["app", "main"]

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def _fail(message: str) -> int:
    typer.echo(f"wise2spitzer: error: {message}", err=True)
    return EXIT_USAGE


def _interrupted(exc: BaseException) -> bool:
    """Whether ``exc`` was caused by a KeyboardInterrupt (Typer turns one into exit 130)."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, KeyboardInterrupt):
            return True
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return False


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    # A warning is for the user: its message, not the library line that raised it.
    return f"wise2spitzer: warning: {message}\n"


def main(argv: list[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``) and return the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    previous = warnings.formatwarning
    warnings.formatwarning = _one_line_warning
    try:
        return _run(args)
    finally:
        warnings.formatwarning = previous


def _run(args: list[str]) -> int:
    try:
        # Standalone mode lets Click print usage errors itself (exit status 2) and turns
        # --help/--version into a clean exit; our own errors propagate to here.
        app(args=args, prog_name="wise2spitzer", standalone_mode=True)
    except SystemExit as exc:
        code = exc.code
        if code == EXIT_INTERRUPTED and _interrupted(exc):
            # Typer ends a KeyboardInterrupt as a silent exit 130: say what happened.
            typer.echo("wise2spitzer: interrupted", err=True)
            return EXIT_INTERRUPTED
        return code if isinstance(code, int) else (0 if code is None else _fail(str(code)))
    except Wise2SpitzerError as exc:
        return _fail(str(exc))
    except OSError as exc:  # a missing, unreadable or unwritable file, a full disk
        if exc.filename is None:
            return _fail(exc.strerror or str(exc))
        return _fail(f"{exc.strerror or exc}: {exc.filename}")
    except KeyboardInterrupt:
        typer.echo("wise2spitzer: interrupted", err=True)
        return EXIT_INTERRUPTED
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
