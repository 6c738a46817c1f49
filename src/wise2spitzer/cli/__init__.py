"""Command-line interface: a thin layer over the library.

``main(argv)`` runs the CLI in-process (the tests call it directly). Errors caused by the user
(:class:`~wise2spitzer.errors.Wise2SpitzerError`, a missing file, an interrupted run) are
printed on one line on stderr with exit status 2, never as a traceback.
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


def _fail(message: str) -> int:
    typer.echo(f"wise2spitzer: error: {message}", err=True)
    return EXIT_USAGE


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
        return code if isinstance(code, int) else (0 if code is None else _fail(str(code)))
    except Wise2SpitzerError as exc:
        return _fail(str(exc))
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        return _fail(f"{exc.strerror}: {exc.filename}")
    except KeyboardInterrupt:
        return _fail("interrupted")
    return 0

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
