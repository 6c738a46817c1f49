"""Error-message helpers: the command line prints every user error on one line."""

from __future__ import annotations

__all__ = ["one_line"]


def one_line(exc: BaseException | str, limit: int = 240) -> str:
    """Squash an exception (or a text) onto one line of at most ``limit`` characters.

    Examples
    --------
    >>> one_line("a\\n   b")
    'a b'
    >>> one_line(ValueError())
    'ValueError'
    """
    text = str(exc) if not isinstance(exc, BaseException) else (str(exc) or type(exc).__name__)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
