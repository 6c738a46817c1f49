"""What a batch run did (:class:`PredictionSummary`) and how far it is (:class:`Progress`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["PredictionSummary", "Progress"]


@dataclass
class PredictionSummary:
    """What :func:`predict_file` did.

    Attributes
    ----------
    output : Path
        The finished output file.
    rows_in, rows_out : int
        Rows read and rows written (always equal on success).
    chunks, chunks_reused : int
        Chunks in the input and chunks taken from a checkpoint instead of being predicted.
    status_counts : dict
        ``{status_column: {status: count}}``; for each column the counts sum to ``rows_out``.
    seconds : float
        Wall time of the call.
    """

    output: Path
    rows_in: int = 0
    rows_out: int = 0
    chunks: int = 0
    chunks_reused: int = 0
    status_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def rows_per_second(self) -> float:
        """Rows written per second of wall time."""
        return self.rows_out / self.seconds if self.seconds > 0 else float("nan")

    def to_dict(self) -> dict:
        """The summary as plain JSON-able types."""
        return {
            "output": str(self.output),
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "chunks": self.chunks,
            "chunks_reused": self.chunks_reused,
            "status_counts": self.status_counts,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows_per_second, 1),
        }


class Progress:
    """A rich progress bar (rows, rows/s, ETA) on stderr, or nothing.

    Parameters
    ----------
    enabled : bool
        Show the bar; when False every method does nothing.
    total : int or None
        Rows expected (None: unknown, e.g. CSV input).
    description : str
        Text left of the bar.
    """

    def __init__(self, enabled: bool, total: int | None, description: str) -> None:
        self.bar = None
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("rows"),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self.task = self.bar.add_task(description, total=total, rate="")
        # The bar appears with the first finished chunk: nothing sits stalled at 0 on screen
        # while a Dask cluster starts (it prints its own line) or the first chunk is read.
        self.started = False

    def advance(self, n: int) -> None:
        """Count ``n`` more rows done."""
        if self.bar is not None:
            if not self.started:
                self.bar.start()
                self.started = True
            speed = self.bar.tasks[0].speed
            rate = f"{speed:,.0f} rows/s" if speed else ""
            self.bar.update(self.task, advance=n, rate=rate)

    def close(self) -> None:
        """Stop the bar (it stays on screen)."""
        if self.bar is not None and self.started:
            self.bar.stop()
