"""Tests of wise2spitzer.domain: the convex-hull applicability domain."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from wise2spitzer.domain import ConvexHullDomain, log_fluxes
from wise2spitzer.errors import ModelError

from conftest import RANDOM_STATE

COLUMNS = ["wise1", "wise2", "wise3", "wise4"]


def in_hull_lp(points: np.ndarray, x: np.ndarray) -> bool:
    """Independent check: x is a convex combination of the points (LP feasibility)."""
    n = len(points)
    a_eq = np.vstack([points.T, np.ones(n)])
    b_eq = np.append(x, 1.0)
    res = linprog(np.zeros(n), A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
    return res.status == 0


@pytest.fixture(scope="module")
def train_log(random_state) -> np.ndarray:
    rng = np.random.default_rng(random_state)
    return rng.normal(2.0, 0.5, size=(60, 4))


@pytest.fixture(scope="module")
def domain(train_log) -> ConvexHullDomain:
    return ConvexHullDomain().fit(pd.DataFrame(10**train_log, columns=COLUMNS))


def test_vertices_and_centroid_inside(domain, train_log):
    assert domain.contains(10**domain.vertices_).all()
    assert domain.contains(10 ** train_log.mean(axis=0)[None, :]).all()
    assert domain.n_points_ == 60 and domain.n_dropped_ == 0
    assert domain.volume_ > 0


def test_points_on_facets_inside_and_just_outside_along_normals(domain):
    # The centroid of a facet's vertices lies on that facet.
    from scipy.spatial import ConvexHull

    hull = ConvexHull(domain.vertices_)
    on = np.array([hull.points[s].mean(axis=0) for s in hull.simplices])
    normals = hull.equations[:, :-1]
    assert domain.contains(10**on).all()
    outside = on + 1e-6 * normals
    assert not domain.contains(10**outside).any()
    inward = on - 1e-6 * normals
    assert domain.contains(10**inward).all()


def test_random_points_agree_with_linear_programming(domain, train_log, random_state):
    rng = np.random.default_rng(random_state + 1)
    probes = rng.normal(2.0, 0.8, size=(150, 4))
    got = domain.contains(10**probes)
    expected = np.array([in_hull_lp(train_log, p) for p in probes])
    assert got.any() and not got.all()  # the probe set crosses the boundary
    np.testing.assert_array_equal(got, expected)


def test_bad_rows_are_outside(domain, train_log):
    centre = 10 ** train_log.mean(axis=0)
    rows = np.tile(centre, (4, 1))
    rows[0, 0] = np.nan
    rows[1, 1] = 0.0
    rows[2, 3] = -3.0
    assert domain.contains(rows).tolist() == [False, False, False, True]
    dist = domain.distance(rows)
    assert np.isnan(dist[:3]).all() and dist[3] < 0


def test_dataframe_with_extra_columns_and_order(domain, train_log):
    df = pd.DataFrame(10 ** train_log[:5], columns=COLUMNS)[["wise4", "wise2", "wise1", "wise3"]]
    df["other"] = 1.0
    assert domain.contains(df).all()


def test_fit_drops_invalid_rows(train_log):
    data = 10**train_log
    data[:3, 2] = 0.0
    dom = ConvexHullDomain().fit(data)
    assert dom.n_points_ == 57 and dom.n_dropped_ == 3


def test_too_few_points():
    with pytest.raises(ModelError, match=r"at least 5 rows.*got 4"):
        ConvexHullDomain().fit(10 ** np.random.default_rng(RANDOM_STATE).normal(size=(4, 4)))


def test_degenerate_points(random_state):
    rng = np.random.default_rng(random_state)
    flat = rng.normal(size=(30, 4))
    flat[:, 3] = flat[:, 0] + flat[:, 1]  # all points in one hyperplane
    with pytest.raises(ModelError, match=r"span only 3"):
        ConvexHullDomain().fit(10**flat)


def test_bad_inputs(domain):
    with pytest.raises(ModelError, match=r"lacks \['wise4'\]"):
        domain.contains(pd.DataFrame({c: [1.0] for c in COLUMNS[:3]}))
    with pytest.raises(ModelError, match=r"shape \(n_rows, 4\).*\(2, 3\)"):
        domain.contains(np.ones((2, 3)))
    with pytest.raises(ModelError, match="tol must be"):
        ConvexHullDomain(tol=-1.0).fit(np.ones((10, 4)))


def test_tolerance_admits_points_just_outside(train_log):
    dom_tight = ConvexHullDomain().fit(10**train_log)
    dom_loose = ConvexHullDomain(tol=1e-3).fit(10**train_log)
    v = dom_tight.vertices_
    probe = v[0] + 1e-4 * (v[0] - train_log.mean(axis=0)) / np.linalg.norm(
        v[0] - train_log.mean(axis=0)
    )
    assert not dom_tight.contains(10 ** probe[None, :])[0]
    assert dom_loose.contains(10 ** probe[None, :])[0]


def test_many_rows_chunked(domain, train_log, random_state):
    rng = np.random.default_rng(random_state)
    probes = rng.normal(2.0, 0.8, size=(200_000, 4))
    got = domain.contains(10**probes)
    # Same answer as one dense matrix product.
    dense = (probes @ domain.equations_[:, :-1].T + domain.equations_[:, -1] <= 1e-9).all(1)
    np.testing.assert_array_equal(got, dense)


def test_log_fluxes():
    out = log_fluxes(np.array([[10.0, 0.0, -1.0, np.nan]]), COLUMNS)
    assert out[0, 0] == 1.0 and np.isnan(out[0, 1:]).all()
