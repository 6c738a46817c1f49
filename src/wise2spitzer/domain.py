"""Applicability domain: the convex hull of the labelled rows in log10 W1..W4.

Fonseca-Bonilla et al. (2024) only predict Spitzer fluxes for sources whose WISE photometry
lies inside the convex hull of the training sources; outside it the forest would extrapolate
(a tree forest returns the value of the nearest leaf, whatever the distance).

Membership uses the hull's facet equations (``scipy.spatial.ConvexHull.equations``): a point
``x`` is inside when ``A @ x + b <= tol`` for every facet. This is exact up to ``tol`` on the
facets themselves. ``scipy.spatial.Delaunay.find_simplex`` is deliberately not used: it can
miss points that lie on or very near a facet (scipy issues 21279 and 23328).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.spatial import ConvexHull, QhullError
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from .errors import ModelError
from .schema import WISE_FLUX_COLUMNS

__all__ = ["ConvexHullDomain", "log_fluxes"]

# Elements per block of the (rows x facets) matrix product (32 MB of float64): large
# enough that the Python loop costs nothing, small enough for any machine.
_CHUNK_ELEMENTS = 4_000_000


def _chunk_rows(n_facets: int) -> int:
    return max(256, _CHUNK_ELEMENTS // max(n_facets, 1))


def log_fluxes(data, columns: Sequence[str] = WISE_FLUX_COLUMNS) -> np.ndarray:
    """log10 of the flux columns as a float array; NaN where a flux is NaN or not positive.

    Parameters
    ----------
    data : pandas.DataFrame or array-like of shape (n_rows, len(columns))
        Fluxes in uJy. A DataFrame must have ``columns``; an array is taken column by column
        in that order.
    columns : sequence of str
        Flux column names.

    Raises
    ------
    ModelError
        If a DataFrame lacks a column or an array has the wrong number of columns.
    """
    columns = list(columns)
    if isinstance(data, pd.DataFrame):
        missing = [c for c in columns if c not in data.columns]
        if missing:
            raise ModelError(f"the domain needs flux columns {columns}; the table lacks {missing}")
        values = np.column_stack(
            [
                pd.to_numeric(data[c], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
                for c in columns
            ]
        )
    else:
        values = np.asarray(data, dtype=float)
        if values.ndim != 2 or values.shape[1] != len(columns):
            raise ModelError(
                f"the domain needs an array of shape (n_rows, {len(columns)}) with columns "
                f"{columns}; got shape {values.shape}"
            )
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(values > 0, np.log10(np.where(values > 0, values, 1.0)), np.nan)


class ConvexHullDomain(BaseEstimator):
    """Convex hull of labelled sources in log10 flux space, with a fast membership test.

    Parameters
    ----------
    columns : sequence of str, default ``("wise1", "wise2", "wise3", "wise4")``
        Flux columns (uJy) spanning the domain; the hull is built on their log10.
    tol : float, default 1e-9
        A point is inside when every facet equation ``A x + b`` is at most ``tol`` (in dex,
        since the facet normals have unit length). Points on a facet are inside.

    Attributes
    ----------
    equations_ : ndarray of shape (n_facets, n_columns + 1)
        Outward unit normals and offsets of the hull facets.
    vertices_ : ndarray of shape (n_vertices, n_columns)
        Hull vertices in log10 flux.
    bounds_ : ndarray of shape (2, n_columns)
        Axis-aligned bounding box (min, max) of the hull, for a cheap pre-check.
    n_points_ : int
        Rows the hull was built from (rows with a NaN or non-positive flux are left out).
    n_dropped_ : int
        Rows left out for a NaN or non-positive flux.
    volume_ : float
        Hull volume in dex**n_columns.

    Notes
    -----
    A hull needs at least ``n_columns + 1`` points that are not all in one hyperplane. For
    fewer or degenerate points :meth:`fit` raises :class:`~wise2spitzer.errors.ModelError`
    rather than joggling the input (Qhull option ``QJ``): a joggled flat hull has almost no
    volume, so it would silently reject nearly every source.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> train = 10 ** rng.uniform(1, 3, size=(200, 4))
    >>> dom = ConvexHullDomain().fit(train)
    >>> dom.contains(np.array([[100.0, 100.0, 100.0, 100.0], [1e5, 10.0, 10.0, 10.0]])).tolist()
    [True, False]
    """

    def __init__(self, *, columns: Sequence[str] = WISE_FLUX_COLUMNS, tol: float = 1e-9):
        self.columns = columns
        self.tol = tol

    def fit(self, X, y=None) -> ConvexHullDomain:
        """Build the hull of the rows of ``X`` (fluxes in uJy) that have all fluxes > 0.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_rows, n_columns)
            Labelled training rows.
        y : ignored

        Raises
        ------
        ModelError
            If ``tol`` is negative or not finite, or fewer than ``n_columns + 1`` valid rows
            remain, or the valid rows lie in a lower-dimensional subspace.
        """
        if not (np.isscalar(self.tol) and np.isfinite(self.tol) and self.tol >= 0):
            raise ModelError(f"tol must be a finite number >= 0; got {self.tol!r}")
        columns = list(self.columns)
        logx = log_fluxes(X, columns)
        valid = np.isfinite(logx).all(axis=1)
        points = logx[valid]
        dim = len(columns)
        if len(points) < dim + 1:
            raise ModelError(
                f"the convex-hull domain in {dim} dimensions ({columns}) needs at least "
                f"{dim + 1} rows with all fluxes > 0; got {len(points)} (of {len(logx)} rows)"
            )
        centred = points - points.mean(axis=0)
        rank = np.linalg.matrix_rank(centred, tol=1e-10 * max(1.0, np.abs(centred).max()))
        if rank < dim:
            raise ModelError(
                f"the convex-hull domain needs rows spanning all {dim} dimensions of log10 "
                f"{columns}; the {len(points)} valid rows span only {rank} (degenerate, e.g. "
                "all on one line or plane)"
            )
        try:
            hull = ConvexHull(points)
        except QhullError as exc:  # pragma: no cover - rank check catches the usual cases
            raise ModelError(f"Qhull could not build the domain hull: {exc}") from exc
        # Triangulated facets repeat the equation of a merged facet; one copy is enough.
        self.equations_ = np.unique(np.round(hull.equations, 12), axis=0)
        self.vertices_ = points[hull.vertices]
        self.bounds_ = np.vstack([points.min(axis=0), points.max(axis=0)])
        self.n_points_ = len(points)
        self.n_dropped_ = int(len(logx) - len(points))
        self.volume_ = float(hull.volume)
        self.n_features_in_ = dim
        return self

    def contains(self, X) -> np.ndarray:
        """Whether each row of ``X`` (fluxes in uJy) lies inside the hull.

        Rows with a NaN or non-positive flux are ``False``. Work is done in blocks of rows,
        and rows outside the bounding box skip the facet test, so millions of rows fit in
        memory.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_rows, n_columns)

        Returns
        -------
        ndarray of bool, shape (n_rows,)
        """
        check_is_fitted(self, "equations_")
        logx = log_fluxes(X, list(self.columns))
        tol = float(self.tol)
        lo, hi = self.bounds_
        inside = np.isfinite(logx).all(axis=1)
        inside &= ((logx >= lo - tol) & (logx <= hi + tol)).all(axis=1)
        candidates = np.flatnonzero(inside)
        normals = np.ascontiguousarray(self.equations_[:, :-1].T)
        offsets = self.equations_[:, -1]
        step = _chunk_rows(len(offsets))
        for start in range(0, len(candidates), step):
            idx = candidates[start : start + step]
            dist = logx[idx] @ normals
            dist += offsets
            inside[idx] = (dist <= tol).all(axis=1)
        return inside

    def distance(self, X) -> np.ndarray:
        """Largest signed facet distance in dex (<= 0 inside, > 0 outside; NaN if invalid).

        Useful to see how far outside the domain a source lies.
        """
        check_is_fitted(self, "equations_")
        logx = log_fluxes(X, list(self.columns))
        out = np.full(len(logx), np.nan)
        valid = np.flatnonzero(np.isfinite(logx).all(axis=1))
        normals = self.equations_[:, :-1].T
        offsets = self.equations_[:, -1]
        step = _chunk_rows(len(offsets))
        for start in range(0, len(valid), step):
            idx = valid[start : start + step]
            out[idx] = (logx[idx] @ normals + offsets).max(axis=1)
        return out
