"""The Typer application object; command modules register themselves on it."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="wise2spitzer",
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
