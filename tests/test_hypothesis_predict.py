"""Property-based tests of SpitzerPredictor.predict_catalog and of the `predict` CLI.

Random tables with random damage (NaN, negative, inf, text, 1e300 in ``wise#rchi2`` and
``wise#nm``, missing columns, empty tables, duplicated index): rows in == rows out, order
kept, no damaged row ``ok``, deterministic output, no traceback (exit 0, or 2 with one stderr
line). Examples: 30 for predict_catalog, 20 for the fast path, 8 for the CLI (two runs each).
"""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wise2spitzer.batch import FastPredictor
from wise2spitzer.cli import main

STATUS = "i4_pred_status"
DAMAGE = ["nan", "negative", "inf", "text", "huge"]


@pytest.fixture(scope="module")
def sim():
    from wise2spitzer.datasets import simulate_seip

    return simulate_seip(3000, random_state=0)


@pytest.fixture(scope="module")
def predictor(sim):
    from wise2spitzer.predictor import SpitzerPredictor

    return SpitzerPredictor().fit(
        sim, target="irac4", sample="unclean", preset="none", random_state=0, n_estimators=10
    )


@pytest.fixture(scope="module")
def model_file(predictor, tmp_path_factory):
    path = tmp_path_factory.mktemp("hyp") / "irac4.skops"
    predictor.save(path)
    return str(path)


@st.composite
def damaged_tables(draw, columns):
    """(table, damaged row mask, dropped columns) drawn from the simulated rows."""
    n = draw(st.integers(0, 40))
    start = draw(st.integers(0, 2900))
    n_damage = draw(st.integers(0, min(n, 8)))
    hits = draw(
        st.lists(
            st.tuples(st.integers(0, max(n - 1, 0)), st.sampled_from(columns),
                      st.sampled_from(DAMAGE)),
            min_size=n_damage, max_size=n_damage,
        )
    )
    drop = draw(st.lists(st.sampled_from(columns), max_size=2, unique=True))
    duplicate_index = draw(st.booleans())
    return n, start, hits, drop, duplicate_index


def _build(base: pd.DataFrame, spec, columns) -> tuple[pd.DataFrame, np.ndarray]:
    n, start, hits, drop, duplicate_index = spec
    df = base.iloc[start : start + n].copy()
    n = len(df)
    damaged = np.zeros(n, dtype=bool)
    for row, col, kind in hits:
        if n == 0:
            break
        if kind == "huge" and not col.endswith(("rchi2", "nm")):
            continue
        if kind == "text":
            df[col] = df[col].astype(object)
        elif df[col].dtype.kind in "iub":
            df[col] = df[col].astype(float)
        value = {"nan": np.nan, "negative": -5.0, "inf": np.inf, "text": "abc",
                 "huge": 1e300}[kind]
        df.iloc[row, df.columns.get_loc(col)] = value
        damaged[row] = True
    df = df.drop(columns=drop)
    if drop:
        damaged[:] = True  # a missing needed column: no row can be ok
    if duplicate_index and n:
        df.index = [0] * n
    return df, damaged


def _check_frame(df: pd.DataFrame, out: pd.DataFrame, damaged: np.ndarray) -> None:
    assert len(out) == len(df)
    assert out.index.equals(df.index)
    assert list(out.columns[: len(df.columns)]) == list(df.columns)
    assert not (out[STATUS].to_numpy()[damaged] == "ok").any()
    ok = out[STATUS].to_numpy() == "ok"
    assert np.isfinite(out["i4_f_pred"].to_numpy()[ok]).all()


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_predict_catalog_never_fails_on_damaged_rows(predictor, sim, data):
    columns = list(predictor.input_columns)
    spec = data.draw(damaged_tables(columns))
    df, damaged = _build(sim, spec, columns)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = predictor.predict_catalog(df)
        again = predictor.predict_catalog(df)
    _check_frame(df, out, damaged)
    pd.testing.assert_frame_equal(out, again)  # deterministic


@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_fast_path_agrees_on_damaged_rows(predictor, sim, data):
    columns = list(predictor.input_columns)
    df, damaged = _build(sim, data.draw(damaged_tables(columns)), columns)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = predictor.predict_catalog(df)
        fast = FastPredictor(predictor).predict_catalog(df)
    _check_frame(df, fast, damaged)
    assert (fast[STATUS].to_numpy() == plain[STATUS].to_numpy()).all()


@pytest.mark.parametrize("col", ["wise1rchi2", "wise2rchi2", "wise3rchi2", "wise4rchi2",
                                 "wise1nm", "wise2nm", "wise3nm", "wise4nm"])
def test_1e300_in_a_quality_column_does_not_fail_the_frame(predictor, sim, col):
    df = sim.iloc[:200].copy()
    df[col] = df[col].astype(float)
    df.iloc[5, df.columns.get_loc(col)] = 1e300
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = predictor.predict_catalog(df)
    ref = predictor.predict_catalog(sim.iloc[:200])
    others = np.arange(200) != 5
    assert (out[STATUS].to_numpy()[others] == ref[STATUS].to_numpy()[others]).all()
    assert out[STATUS].iloc[5] != "ok"


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_predict_cli_is_total(predictor, sim, model_file, tmp_path_factory, data):
    columns = list(predictor.input_columns)
    df, damaged = _build(sim, data.draw(damaged_tables(columns)), columns)
    folder = tmp_path_factory.mktemp("cli")
    src = folder / "in.csv"
    df.to_csv(src, index=False)
    outs = []
    for name in ("a.csv", "b.csv"):
        out = folder / name
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(["predict", "-m", model_file, str(src), str(out), "--chunksize", "7",
                         "--no-progress"])
        text = err.getvalue()
        assert "Traceback" not in text
        lines = [ln for ln in text.strip().splitlines() if not ln.startswith("wise2spitzer: warn")]
        if code == 2:
            assert len(lines) == 1 and lines[0].startswith("wise2spitzer: error: ")
            assert not out.exists()
            return
        assert code == 0 and lines == [], text
        outs.append(out.read_bytes())
        got = pd.read_csv(out, dtype=str, keep_default_na=False)
        assert len(got) == len(df)
        if len(df):
            assert got["objid"].tolist() == df["objid"].astype(str).tolist()
            assert not (got[STATUS].to_numpy()[damaged] == "ok").any()
    assert outs[0] == outs[1]
