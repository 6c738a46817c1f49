"""Tables the CLI prints, laid out to fit the terminal instead of being cut.

A rich table wider than the console shrinks its columns and cuts cells with ``…``; a number
cut that way is wrong, not just ugly. :func:`fitted_tables` keeps every cell whole: when the
table is too wide it is split into several tables of the same rows, each repeating the key
columns (the model, the split...), so every value is printed in full at any width from
80 columns up.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

__all__ = ["fitted_tables", "print_table"]


def _table(title: str | None, headers: Sequence[str], rows: Sequence[Sequence[str]],
           left: set[str], *, caption: str | None = None) -> Table:
    table = Table(title=title, caption=caption)
    for h in headers:
        table.add_column(h, justify="left" if h in left else "right", no_wrap=True)
    for row in rows:
        table.add_row(*row)
    return table


def _fits(console: Console, table: Table) -> bool:
    # Measured without the console's limit: the natural width, before any shrinking.
    wide = console.options.update_width(1_000_000)
    return console.measure(table, options=wide).maximum <= console.width


def fitted_tables(
    console: Console,
    title: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    keys: int = 1,
    left: Sequence[str] = (),
    caption: str | None = None,
) -> list[Table]:
    """One table, or several side by side in meaning, each no wider than the console.

    Parameters
    ----------
    console : rich.console.Console
        Decides the width.
    title : str
        Title of the first table (the next ones say "continued").
    headers : sequence of str
        Column names; the first ``keys`` are repeated in every table.
    rows : sequence of sequence of str
        Cells (a cell may hold several lines, e.g. a value and its spread below it).
    keys : int, default 1
        How many leading columns identify a row.
    left : sequence of str
        Columns aligned left (the others, numbers, align right).
    caption : str, optional
        Printed under the last table.

    Returns
    -------
    list of rich.table.Table
        Tables whose natural width fits the console, unless a single value column with the
        keys is already wider (then that table is returned whole and the terminal wraps it).
    """
    left_set = set(left)
    key_idx = list(range(keys))
    groups: list[list[int]] = []
    current: list[int] = []
    for j in range(keys, len(headers)):
        trial = current + [j]
        cols = key_idx + trial
        table = _table(None, [headers[c] for c in cols], [[r[c] for c in cols] for r in rows],
                       left_set)
        if current and not _fits(console, table):
            groups.append(current)
            current = [j]
        else:
            current = trial
    if current or not groups:
        groups.append(current)
    tables = []
    for i, group in enumerate(groups):
        cols = key_idx + group
        name = title if i == 0 else f"{title} (continued)"
        tables.append(_table(name, [headers[c] for c in cols], [[r[c] for c in cols] for r in rows],
                             left_set, caption=caption if i == len(groups) - 1 else None))
    return tables


def print_table(console: Console, title: str, headers: Sequence[str],
                rows: Sequence[Sequence[str]], **kwargs) -> None:
    """Print :func:`fitted_tables` (``kwargs`` as there), one after the other."""
    for table in fitted_tables(console, title, headers, rows, **kwargs):
        console.print(table)
