"""The Typer application object; command modules register themselves on it.

Help is made to read well in an 80-column terminal by :class:`ReadableGroup`, the group class of
``app`` and of its sub-groups: a flag (``--resume``, ``--x/--no-x``, ``--help``) shows no
``<bool>`` value placeholder, a repeatable option shows ``<str>`` rather than
``<list[str]>``, and the paragraphs of a command's help are re-flowed, so a line never breaks
where the source code happened to break it.
"""

from __future__ import annotations

import re
from typing import Any

import typer
from typer.core import TyperGroup

__all__ = ["ReadableGroup", "app", "readable_help"]

_LIST_TYPE = re.compile(r"<list\[(?P<item>.+)\]>")


def _reflow(text: str | None) -> str | None:
    """Join the lines of every paragraph of ``text`` (a ``\\b`` paragraph is kept verbatim)."""
    if not text:
        return text
    paragraphs = text.strip("\n").split("\n\n")
    flowed = [
        p if p.lstrip().startswith("\b") else " ".join(line.strip() for line in p.splitlines())
        for p in paragraphs
    ]
    return "\n\n".join(p.strip() if not p.lstrip().startswith("\b") else p for p in flowed)


def _readable_params(params, ctx: Any) -> None:
    for param in params:
        # Typer's own parameter classes are duck-typed: they are not click's.
        if getattr(param, "param_type_name", None) != "option" or param.metavar is not None:
            continue
        if getattr(param, "is_flag", False):
            param.metavar = ""  # a flag takes no value: nothing to show
        elif getattr(param, "multiple", False) and hasattr(param, "display_type_rich"):
            match = _LIST_TYPE.fullmatch(param.display_type_rich(ctx) or "")
            if match:
                param.metavar = f"<{match['item'].lower()}>"  # the help says it repeats
        if param.help:
            param.help = _reflow(param.help)


def readable_help(command: Any, ctx: Any) -> Any:
    """Make ``command``'s help read well at 80 columns (in place; returns ``command``).

    Parameters
    ----------
    command : Any
        A command or group of the CLI.
    ctx : Any
        The context the command is looked up in (it decides the help option's names).
    """
    if getattr(command, "_wise2spitzer_readable", False):
        return command
    command.help = _reflow(command.help)
    command.short_help = _reflow(command.short_help)
    params = list(command.params)
    help_option = command.get_help_option(ctx)
    if help_option is not None:
        params.append(help_option)
    _readable_params(params, ctx)
    command._wise2spitzer_readable = True
    return command


class ReadableGroup(TyperGroup):
    """A Typer group whose commands' help reads well at 80 columns (see :func:`readable_help`)."""

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        """The command ``cmd_name``, its help made readable."""
        command = super().get_command(ctx, cmd_name)
        return None if command is None else readable_help(command, ctx)

    def get_params(self, ctx: Any) -> list[Any]:
        """The group's own options (``--version``, ``--help``), without value placeholders."""
        readable_help(self, ctx)
        return super().get_params(ctx)


app = typer.Typer(
    name="wise2spitzer",
    cls=ReadableGroup,
    help=(
        "Spitzer-quality mid-infrared fluxes (MIPS1 24 um, IRAC4 8 um) predicted from WISE "
        "photometry (method of Fonseca-Bonilla et al. 2024, A&A 691, A271)."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from .. import __version__

        typer.echo(f"wise2spitzer {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Spitzer-quality mid-infrared fluxes predicted from WISE photometry."""
