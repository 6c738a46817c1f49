"""Tests of wise2spitzer.features."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from wise2spitzer.errors import CatalogError
from wise2spitzer.features import (
    COLOUR_COLUMNS,
    FEATURE_SETS,
    available_feature_set,
    build_features,
)
from wise2spitzer.schema import PAPER_FEATURES, WISE_FLUX_COLUMNS

from conftest import RANDOM_STATE


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    rng = np.random.default_rng(RANDOM_STATE)
    n = 6
    df = pd.DataFrame({c: rng.uniform(1.0, 100.0, n) for c in PAPER_FEATURES})
    df["wise1"] = [100.0, 10.0, 0.0, -5.0, np.nan, 1000.0]
    df["wise2"] = [10.0, 10.0, 10.0, 10.0, 10.0, 1.0]
    df["objid"] = np.arange(n)
    return df.set_index(pd.Index(np.arange(10, 10 + n)))


def test_feature_set_names_and_columns():
    assert set(FEATURE_SETS) == {"paper", "paper+colours", "flux", "flux+colours"}
    assert FEATURE_SETS["paper"] == tuple(PAPER_FEATURES)
    assert len(FEATURE_SETS["paper"]) == 16
    assert FEATURE_SETS["flux"] == tuple(WISE_FLUX_COLUMNS)
    assert FEATURE_SETS["flux+colours"][-3:] == COLOUR_COLUMNS


@pytest.mark.parametrize("name", list(FEATURE_SETS))
def test_build_features_shape_order_index(table, name):
    out = build_features(table, name)
    assert list(out.columns) == list(FEATURE_SETS[name])
    assert out.index.equals(table.index)
    assert all(out.dtypes == np.float64)


def test_paper_features_are_raw_values(table):
    out = build_features(table, "paper")
    np.testing.assert_array_equal(out["wise3rchi2"].to_numpy(), table["wise3rchi2"].to_numpy())
    # Raw values are not cleaned: non-positive fluxes stay as they are.
    assert out["wise1"].iloc[3] == -5.0


def test_colours_are_log_ratios_nan_where_not_positive(table):
    out = build_features(table, "flux+colours")
    ok = [0, 1, 5]
    expected = np.log10(table["wise1"].iloc[ok] / table["wise2"].iloc[ok])
    np.testing.assert_allclose(out["w1_w2"].iloc[ok], expected)
    assert out["w1_w2"].iloc[[2, 3, 4]].isna().all()
    np.testing.assert_allclose(out["w3_w4"], np.log10(table["wise3"] / table["wise4"]), rtol=1e-12)


def test_missing_columns_are_named(table):
    with pytest.raises(CatalogError, match=r"needs columns \['wise2rchi2', 'wise4nm'\]"):
        build_features(table.drop(columns=["wise2rchi2", "wise4nm"]), "paper")
    with pytest.raises(CatalogError, match=r"\['wise4'\]"):
        build_features(table.drop(columns=["wise4"]), "flux+colours")


def test_unknown_feature_set():
    with pytest.raises(CatalogError, match=r"feature_set must be one of .*'magic'"):
        build_features(pd.DataFrame(), "magic")


def test_non_numeric_column_raises(table):
    bad = table.copy()
    bad["wise2m"] = bad["wise2m"].astype(str)
    bad.loc[bad.index[0], "wise2m"] = "many"
    with pytest.raises(CatalogError, match="wise2m.*numeric"):
        build_features(bad, "paper")


def test_available_feature_set(table):
    assert available_feature_set(table) == "paper+colours"
    assert available_feature_set(table, colours=False) == "paper"
    flux_only = table[list(WISE_FLUX_COLUMNS)]
    assert available_feature_set(flux_only) == "flux+colours"
    assert available_feature_set(flux_only, colours=False) == "flux"
    with pytest.raises(CatalogError, match=r"missing \['wise3'\]"):
        available_feature_set(table.drop(columns=["wise3"]))
