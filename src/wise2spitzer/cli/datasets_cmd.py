"""Commands registered on the CLI app (filled in by the module owner)."""

from .app import app  # noqa: F401
