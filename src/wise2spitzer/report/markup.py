"""The report's blocks as Markdown and HTML, rendered from jinja2 templates.

A report is a list of blocks (``("h2", text)``, ``("p", text)``, ``("li", text)``,
``("table", DataFrame)``, ``("figure", png path, caption)``). Tables are formatted by the kind
of each column (:func:`column_kind`): counts as integers with thousands separators, fractions
(coverage, rates, fractions) as percentages, other numbers with three decimals, text as is;
numeric columns are right-aligned. Both outputs come from the templates in
``wise2spitzer/report/templates`` with autoescaping on: the only markup a text may carry is
``**bold**`` and ```code```, turned into tags after escaping.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["COLUMN_KINDS", "FormattedTable", "column_kind", "format_table", "format_value",
           "render_html", "render_markdown"]

#: Kinds of table column and how their values print.
COLUMN_KINDS = ("count", "fraction", "number", "text")

_COUNT_NAMES = re.compile(r"^(n|n_.*|n .*|rows|ok|outside_.*|missing_.*|bad_value|"
                          r"extrapolated|upper_limit|not_held_out|n_kept|n_labelled|n_predictable)$")
_FRACTION_NAMES = re.compile(r"(fraction|coverage|rate)", re.IGNORECASE)
_NUMERIC_TEXT = re.compile(r"^[-+−]?(\d[\d,]*\.?\d*|\.\d+)(e[-+]?\d+)?%?(\s|$)")


def column_kind(name: str, values: pd.Series) -> str:
    """The kind of a column (:data:`COLUMN_KINDS`) from its name and values.

    Integer values, and columns named like counts (``n``, ``n_*``, a status name) holding
    whole numbers, are counts; numeric columns named ``*fraction*``, ``*coverage*`` or
    ``*rate*`` are fractions; other numeric columns are numbers; anything else is text.
    """
    v = values.dropna()
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        return "text"
    if pd.api.types.is_integer_dtype(values):
        return "count"
    whole = bool(len(v)) and bool(np.all(np.isclose(v.to_numpy(float) % 1, 0)))
    if _COUNT_NAMES.match(str(name)) and (whole or not len(v)):
        return "count"
    if _FRACTION_NAMES.search(str(name)):
        return "fraction"
    return "number"


def format_value(v: Any, kind: str) -> str:
    """One cell as text: '' for a missing value, else by ``kind``."""
    if v is None or v is pd.NA or (isinstance(v, float | np.floating) and not np.isfinite(v)):
        return ""
    if kind == "count":
        return f"{int(round(float(v))):,}"
    if kind == "fraction":
        return f"{float(v):.1%}"
    if kind == "number":
        return f"{float(v):.3f}"
    return str(v)


@dataclass
class FormattedTable:
    """A table ready to print: header, rows of text and one alignment per column."""

    header: list[str]
    rows: list[list[str]]
    align: list[str]


def format_table(df: pd.DataFrame) -> FormattedTable:
    """Format every column by its kind; numbers and numeric-looking text align right."""
    header = [str(c) for c in df.columns]
    cols, align = [], []
    for c in df.columns:
        kind = column_kind(c, df[c])
        cells = [format_value(v, kind) for v in df[c]]
        cols.append(cells)
        numeric = kind != "text" or (any(cells) and all(
            _NUMERIC_TEXT.match(x) for x in cells if x))
        align.append("right" if numeric else "left")
    rows = [list(r) for r in zip(*cols, strict=True)] if cols else []
    return FormattedTable(header=header, rows=rows, align=align)


def _inline_html(text: str):
    """Escape ``text``, then render its ``**bold**`` and ```code``` spans."""
    from markupsafe import Markup, escape

    out = str(escape(text))
    out = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", out)
    out = re.sub(r"`(.+?)`", r"<code>\1</code>", out)
    return Markup(out)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _environment():
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(loader=PackageLoader("wise2spitzer.report", "templates"),
                      autoescape=select_autoescape(enabled_extensions=("html", "html.j2"),
                                                   default_for_string=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      keep_trailing_newline=True)
    env.filters["inline"] = _inline_html
    env.filters["md_cell"] = _md_cell
    return env


def _items(blocks: list[tuple], *, out: Path | None, embed: bool) -> list[dict[str, Any]]:
    """Blocks as template items; consecutive list items are grouped into one list."""
    items: list[dict[str, Any]] = []
    for b in blocks:
        kind = b[0]
        if kind == "li":
            if not items or items[-1]["kind"] != "ul":
                items.append({"kind": "ul", "entries": []})
            items[-1]["entries"].append(b[1])
        elif kind == "table":
            items.append({"kind": "table", "table": format_table(b[1])})
        elif kind == "figure":
            path = Path(b[1])
            src = (("data:image/png;base64," + base64.b64encode(path.read_bytes()).decode())
                   if embed else (path.relative_to(out).as_posix()
                                  if out is not None and path.is_relative_to(out)
                                  else path.as_posix()))
            items.append({"kind": "figure", "src": src, "caption": b[2]})
        else:
            items.append({"kind": kind, "text": b[1],
                          "banner": kind == "p" and "SIMULATED DATA." in b[1]})
    return items


def render_markdown(blocks: list[tuple], *, out: Path) -> str:
    """The blocks as Markdown (``report.md.j2``); figure paths relative to ``out``."""
    return _environment().get_template("report.md.j2").render(
        items=_items(blocks, out=out, embed=False))


def render_html(blocks: list[tuple], *, title: str) -> str:
    """The blocks as one self-contained HTML page (``report.html.j2``, figures embedded)."""
    return _environment().get_template("report.html.j2").render(
        title=title, items=_items(blocks, out=None, embed=True))
