"""``wise2spitzer fetch``: build a catalogue from VizieR and IRSA (or print the queries)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import typer

from ..errors import CatalogError, FetchError
from .app import app
from .options import check_output_file

__all__ = ["FetchProgress", "fetch"]


class FetchProgress:
    """Shows a fetch request by request on stderr (rich): a spinner while a request runs (on a
    terminal) and one line per finished query, member page or upload chunk.

    Parameters
    ----------
    console : rich.console.Console, optional
        Where to write (default: a new console on stderr).
    """

    def __init__(self, console=None) -> None:
        from rich.console import Console

        self.console = console or Console(stderr=True, highlight=False, soft_wrap=True)
        self._status = None

    @contextlib.contextmanager
    def running(self, text: str):
        """Show a spinner with ``text`` while the block runs; events update it."""
        with self.console.status(text) as status:
            self._status = status
            try:
                yield self
            finally:
                self._status = None

    def __call__(self, event) -> None:
        """Report one :class:`~wise2spitzer.irsa.service.RequestEvent`."""
        upload = f"{event.n_uploaded} positions uploaded, " if event.n_uploaded else ""
        if not event.done:
            if self._status is not None:
                self._status.update(f"{event.label}: {upload}waiting for the answer")
            return
        where = "from the cache" if event.cached else f"{event.seconds:.1f} s"
        if event.attempts > 1:
            where += f", {event.attempts} attempts"
        self.console.print(f"{event.label}: {upload}{event.n_rows} rows ({where})", markup=False)


@app.command("fetch")
def fetch(
    output: Path | None = typer.Argument(
        None,
        help="Output catalogue (.parquet, .fits, .vot, .ecsv, .csv); not needed with --dry-run.",
    ),
    positions: Path | None = typer.Option(
        None,
        "--positions",
        help="Your own positions (any catalogue format) instead of the Hunt & Reffert members.",
    ),
    ra_column: str | None = typer.Option(
        None,
        "--ra-column",
        help="RA column of --positions (default: detected, any case: ra, RA_ICRS, RAJ2000...).",
    ),
    dec_column: str | None = typer.Option(None, "--dec-column", help="Dec column of --positions."),
    cluster: list[str] | None = typer.Option(
        None,
        "--cluster",
        help="Only this cluster (repeatable; 'IC 348' or 'IC_348'). Default: all clusters.",
    ),
    min_prob: float = typer.Option(0.5, "--min-prob", help="Minimum membership probability."),
    radius: float = typer.Option(2.0, "--radius", help="Cross-match radius in arcsec."),
    chunk_size: int = typer.Option(5000, "--chunk-size", help="Rows per uploaded table."),
    page_size: int = typer.Option(200_000, "--page-size", help="Rows per member-query page."),
    timeout: float = typer.Option(
        300.0,
        "--timeout",
        help="Seconds to wait for a response, and for a whole answer (each retry adds twice "
        "this).",
    ),
    retries: int = typer.Option(4, "--retries", help="Retries after a transient failure."),
    backoff: float = typer.Option(
        2.0,
        "--backoff",
        help="Seconds before the second retry (the first is immediate; doubles after).",
    ),
    cache_dir: Path | None = typer.Option(
        None,
        "--cache-dir",
        help="Where finished chunks are kept so an interrupted fetch "
        "resumes (default: ~/.cache/wise2spitzer/tap).",
    ),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not read or write the cache."),
    vizier_url: str | None = typer.Option(None, "--vizier-url", help="VizieR TAP base URL."),
    irsa_url: str | None = typer.Option(None, "--irsa-url", help="IRSA TAP base URL."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print the ADQL and uploads that would be sent; send nothing."
    ),
    quiet: bool = typer.Option(
        False,
        "--quiet",
        "-q",
        help="Print no progress (by default each query, member page and upload chunk is "
        "reported on stderr as it finishes).",
    ),
) -> None:
    """Fetch the paper's sample (Hunt & Reffert members x SEIP x AllWISE) or your positions.

    Without --positions: cluster members with Prob >= --min-prob (all clusters, or --cluster),
    matched to the SEIP Source List and AllWISE within --radius. With --positions: SEIP and
    AllWISE photometry for every row of that file, ready for `wise2spitzer predict`.
    """
    from .. import irsa

    cfg = _config(
        radius=radius,
        chunk_size=chunk_size,
        page_size=page_size,
        timeout=timeout,
        retries=retries,
        backoff=backoff,
        cache_dir=None if no_cache else (cache_dir or irsa.default_cache_dir()),
        vizier_url=vizier_url,
        irsa_url=irsa_url,
    )
    _check_usage(output, positions, cluster, ra_column, dec_column, dry_run=dry_run)
    progress = None if quiet or dry_run else FetchProgress()
    running = progress.running("fetching") if progress else contextlib.nullcontext()
    common = {"conf": cfg, "output": output, "dry_run": dry_run, "progress": progress}
    try:
        with running:
            if positions is not None:
                result = irsa.fetch_positions(
                    positions, ra_column=ra_column, dec_column=dec_column, **common
                )
            else:
                result = irsa.fetch_sample(min_prob=min_prob, clusters=cluster or None, **common)
    except ValueError as exc:
        if isinstance(exc, CatalogError):
            raise
        raise typer.BadParameter(str(exc)) from None
    if dry_run:
        typer.echo(irsa.format_queries(result), nl=False)
        return
    meta = result.attrs.get("provenance", {})
    typer.echo(
        f"{len(result)} rows written to {output} ({meta.get('n_requests_sent', 0)} requests "
        f"sent, {meta.get('n_chunks_from_cache', 0)} chunks from the cache)"
    )


def _config(
    *, radius, chunk_size, page_size, timeout, retries, backoff, cache_dir, vizier_url, irsa_url
):
    """The archive configuration from the options (a bad value is a usage error)."""
    from .. import irsa

    changes = {
        "match_radius_arcsec": radius,
        "chunk_size": chunk_size,
        "page_size": page_size,
        "timeout": timeout,
        "retries": retries,
        "backoff": backoff,
        "cache_dir": cache_dir,
    }
    if vizier_url:
        changes["vizier_url"] = vizier_url
    if irsa_url:
        changes["irsa_url"] = irsa_url
    try:
        return irsa.conf.replace(**changes)
    except ValueError as exc:  # one line naming the setting, like every other bad option
        raise FetchError(f"bad fetch option: {exc}") from None


def _check_usage(output, positions, cluster, ra_column, dec_column, *, dry_run: bool) -> None:
    """Options that do not go together."""
    if output is None and not dry_run:
        raise typer.BadParameter("give an OUTPUT file (or --dry-run to only print the queries)")
    if output is not None:
        from ..catalog.formats import resolve_format

        check_output_file("OUTPUT", Path(output))
        resolve_format(output)  # an unknown ending is refused before any request
    if positions is not None and cluster:
        raise typer.BadParameter(
            "--cluster selects Hunt & Reffert members; drop it with --positions"
        )
    if positions is None and (ra_column or dec_column):
        raise CatalogError("--ra-column/--dec-column apply to --positions only")
