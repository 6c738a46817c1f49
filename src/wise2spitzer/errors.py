"""Exceptions raised by wise2spitzer.

Every error a user can cause derives from :class:`Wise2SpitzerError`; the command-line
interface prints its message on one line and exits with status 2 instead of a traceback.
"""

from __future__ import annotations

__all__ = ["CatalogError", "FetchError", "ModelError", "Wise2SpitzerError"]


class Wise2SpitzerError(Exception):
    """Base class for errors caused by input, configuration or the environment."""


class CatalogError(Wise2SpitzerError, ValueError):
    """A catalogue could not be read, written or validated (names the file and column)."""


class ModelError(Wise2SpitzerError, ValueError):
    """A model could not be trained, loaded or applied (names the parameter and value)."""


class FetchError(Wise2SpitzerError, RuntimeError):
    """An archive query failed (offline, timeout after retries, service error)."""
