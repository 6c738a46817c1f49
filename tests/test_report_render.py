"""The report's templates: numbers formatted by kind, numeric columns right-aligned, escaping."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from wise2spitzer.report import tables
from wise2spitzer.report.markup import column_kind, format_table, render_html, render_markdown


def _png(path):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(1, 1))
    fig.add_subplot().plot([0, 1], [0, 1])
    fig.savefig(path)
    return path


@pytest.fixture()
def table():
    return pd.DataFrame({
        "sample": ["unclean", "clean"],
        "n": [5544.0, 1063.0],           # counts that arrive as floats (e.g. after a NaN fill)
        "n_predictable": [np.nan, 812.0],
        "fraction_kept": [1.0, 0.19174],
        "coverage": [0.951, 0.9],
        "r2": [0.91234, 0.8],
        "R2 cv": ["0.912 ± 0.010", "0.800 ± 0.020"],
    })


def test_columns_are_formatted_by_kind(table):
    kinds = {c: column_kind(c, table[c]) for c in table.columns}
    assert kinds == {"sample": "text", "n": "count", "n_predictable": "count",
                     "fraction_kept": "fraction", "coverage": "fraction", "r2": "number",
                     "R2 cv": "text"}
    ft = format_table(table)
    assert ft.rows[0] == ["unclean", "5,544", "", "100.0%", "95.1%", "0.912", "0.912 ± 0.010"]
    assert ft.rows[1][1:5] == ["1,063", "812", "19.2%", "90.0%"]
    # Numbers, and text that reads as a number, align right; names align left.
    assert ft.align == ["left", "right", "right", "right", "right", "right", "right"]


def test_a_column_of_non_whole_numbers_named_n_is_not_a_count():
    assert column_kind("n", pd.Series([1.5, 2.0])) == "number"
    assert column_kind("n", pd.Series([1, 2])) == "count"
    assert column_kind("ok", pd.Series([3.0, 0.0])) == "count"


def test_html_escapes_text_and_right_aligns_numbers(tmp_path, table):
    blocks = [("h1", "A <title>"),
              ("p", "**SIMULATED DATA.** see `metrics.csv` <script>alert(1)</script>"),
              ("li", "one & two"), ("table", table),
              ("figure", _png(tmp_path / "f.png"), "Figure 1. caption <b>")]
    page = render_html(blocks, title="t <x>")
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<strong>SIMULATED DATA.</strong>" in page and "<code>metrics.csv</code>" in page
    assert "one &amp; two" in page and "<title>t &lt;x&gt;</title>" in page
    assert "A &lt;title&gt;" in page and "caption &lt;b&gt;" in page
    assert 'class="banner"' in page
    cells = re.findall(r'<td class="(num|text)">([^<]*)</td>', page)
    assert ("num", "5,544") in cells and ("text", "unclean") in cells
    assert ("num", "95.1%") in cells
    assert re.search(r'src="data:image/png;base64,[A-Za-z0-9+/=]{100,}"', page)


def test_markdown_has_alignment_row_and_relative_figure(tmp_path, table):
    (tmp_path / "figures").mkdir()
    png = _png(tmp_path / "figures" / "f.png")
    md = render_markdown([("h2", "Scores"), ("table", table), ("li", "a"), ("li", "b"),
                          ("figure", png, "Figure 1. x|y")], out=tmp_path)
    lines = md.splitlines()
    head = lines.index("| sample | n | n_predictable | fraction_kept | coverage | r2 | R2 cv |")
    assert lines[head + 1] == "|:---|---:|---:|---:|---:|---:|---:|"
    assert lines[head + 2].startswith("| unclean | 5,544 |  | 100.0% |")
    assert "- a\n- b" in md
    assert "](figures/f.png)" in md and "*Figure 1. x|y*" in md


def test_status_table_counts_stay_integers():
    predicted = pd.DataFrame({"m1_pred_status": ["ok", "ok", "outside_domain"],
                              "i4_pred_status": ["ok", "bad_value", "ok"]})
    t = tables.status_table(predicted, used={"mips1": "clean", "irac4": "clean"})
    counts = t.drop(columns=["target", "model sample"])
    assert all(pd.api.types.is_integer_dtype(counts[c]) for c in counts)
    assert format_table(t).rows[0][2:] == ["2", "1", "0"]


def test_snr_table_leaves_fraction_of_clean_blank_for_the_unclean_row(sim_head):
    t = tables.snr_bin_table(sim_head)
    first = t.columns[0]
    unclean = t[t[first] == "unclean"]
    assert len(unclean) == 1 and unclean["fraction_of_clean"].isna().all()
    clean = t[t[first].astype(str).str.startswith("clean")]
    assert (clean["fraction_of_clean"] <= 1.0 + 1e-12).all()
    assert np.isclose(clean.loc[clean[first] == "clean", "fraction_of_clean"], 1.0).all()
