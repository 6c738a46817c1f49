"""Applicability domain: the convex hull of the labelled rows in log10 W1..W4.

Fonseca-Bonilla et al. (2024) only predict Spitzer fluxes for sources whose WISE photometry
lies inside the convex hull of the training sources; outside it the forest would extrapolate
(a tree forest returns the value of the nearest leaf, whatever the distance).

Membership uses the hull's facet equations (``scipy.spatial.ConvexHull.equations``): a point
``x`` is inside when ``A @ x + b <= tol`` for every facet. This is exact up to ``tol`` on the
facets themselves. ``scipy.spatial.Delaunay.find_simplex`` is deliberately not used: it can
miss points that lie on or very near a facet (scipy issues 21279 and 23328).

:class:`FastHull` is the same test with less work per row (a float32 screen with a float64
recheck of the doubtful rows), used by the batch prediction path; both live here so the hull
test has one home.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial import ConvexHull, QhullError
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from .errors import ModelError
from .schema import WISE_FLUX_COLUMNS

__all__ = ["ConvexHullDomain", "FastHull", "log_fluxes"]

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
        return self.log_distance(log_fluxes(X, list(self.columns)))

    def log_distance(self, logx: np.ndarray, *, scale=None) -> np.ndarray:
        """Largest signed facet distance of log10 fluxes ``logx`` (NaN for invalid rows).

        Parameters
        ----------
        logx : ndarray of shape (n_rows, n_columns)
            log10 fluxes.
        scale : array-like of shape (n_columns,), optional
            Unit of each axis: with it the distance is measured in the space where each
            log10 flux is divided by its ``scale`` (each facet distance divided by
            ``||a * scale||``); without it, in dex.
        """
        check_is_fitted(self, "equations_")
        out = np.full(len(logx), np.nan)
        valid = np.flatnonzero(np.isfinite(logx).all(axis=1))
        normals = self.equations_[:, :-1].T
        offsets = self.equations_[:, -1]
        norm = None
        if scale is not None:
            norm = np.linalg.norm(normals.T * np.asarray(scale, dtype=float), axis=1)
        step = _chunk_rows(len(offsets))
        for start in range(0, len(valid), step):
            idx = valid[start : start + step]
            dist = logx[idx] @ normals + offsets
            out[idx] = (dist if norm is None else dist / norm).max(axis=1)
        return out


class FastHull:
    """The same membership test as a fitted ``ConvexHullDomain``, with less work per row.

    ``ConvexHullDomain.contains`` evaluates every facet for every row inside the bounding box.
    Here two things cut that work, without changing any decision:

    * Most catalogue rows lie outside the hull and violate one of a few facets, so rows are
      first screened against a small set of facets chosen (greedily, on the first rows seen)
      to reject the most rows; only the survivors get the full test, in cache-sized blocks.
    * Facet distances are computed in float32 (half the memory traffic of float64). A row is
      decided from them only when its largest distance is further from ``tol`` than a bound
      on the float32 rounding error; the few rows within that margin are recomputed in
      float64 exactly as the domain does.

    The decision for a row is the domain's own: every facet ``a . log10(F) + b <= tol``.

    Parameters
    ----------
    domain : ConvexHullDomain
        A fitted domain (``columns``, ``tol``, ``equations_``, ``bounds_``).
    n_screen : int, default 24
        Facets in the screening set.
    """

    _BLOCK_ROWS = 4096

    def __init__(self, domain: Any, *, n_screen: int = 24) -> None:
        self.domain = domain
        self.columns = list(domain.columns)
        self.tol = float(domain.tol)
        self.normals = np.ascontiguousarray(domain.equations_[:, :-1].T)
        self.offsets = np.ascontiguousarray(domain.equations_[:, -1])
        self.normals32 = self.normals.astype(np.float32)
        self.offsets32 = self.offsets.astype(np.float32)
        # Rows reaching the facet test lie within the bounding box, so |x| <= xmax. Casting x,
        # a and b to float32 and summing d + 1 products errs by at most about
        # (d + 3) * 2**-24 * (sum|a| |x| + |b|) per facet; the margin is 16 times that.
        lo, hi = (np.asarray(v, dtype=float) for v in domain.bounds_)
        xmax = float(np.max(np.abs(np.concatenate([lo, hi])))) + 1.0
        scale = np.abs(self.normals).sum(axis=0) * xmax + np.abs(self.offsets)
        dim = self.normals.shape[0]
        self.margin = float(16 * (dim + 3) * 2.0**-24 * scale.max()) if len(scale) else 0.0
        self.n_screen = int(n_screen)
        self.screen: np.ndarray | None = None

    def log_distance(self, logx: np.ndarray, *, scale=None) -> np.ndarray:
        """The wrapped domain's :meth:`ConvexHullDomain.log_distance`."""
        return self.domain.log_distance(logx, scale=scale)

    def _learn_screen(self, pts: np.ndarray) -> None:
        sample = pts[: 20_000]
        violated = (sample @ self.normals + self.offsets) > self.tol
        chosen: list[int] = []
        alive = np.ones(len(sample), dtype=bool)
        for _ in range(min(self.n_screen, violated.shape[1])):
            gain = violated[alive].sum(axis=0)
            j = int(np.argmax(gain))
            if gain[j] == 0:
                break
            chosen.append(j)
            alive &= ~violated[:, j]
        self.screen = np.asarray(chosen, dtype=int)

    def _largest(self, pts32: np.ndarray, normals: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """Largest float32 facet distance of each row, in blocks."""
        out = np.empty(len(pts32), dtype=np.float32)
        for start in range(0, len(pts32), self._BLOCK_ROWS):
            sl = slice(start, start + self._BLOCK_ROWS)
            dist = pts32[sl] @ normals
            dist += offsets
            out[sl] = dist.max(axis=1)
        return out

    def contains(self, X) -> np.ndarray:
        """Whether each row of ``X`` (fluxes in uJy) lies inside the hull (as the domain).

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_rows, n_columns)

        Returns
        -------
        ndarray of bool, shape (n_rows,)
        """
        logx = log_fluxes(X, self.columns)
        lo, hi = self.domain.bounds_
        tol = self.tol
        inside = np.isfinite(logx).all(axis=1)
        inside &= ((logx >= lo - tol) & (logx <= hi + tol)).all(axis=1)
        idx = np.flatnonzero(inside)
        if len(idx) == 0:
            return inside
        pts = logx[idx]
        if self.screen is None:
            self._learn_screen(pts)
        pts32 = pts.astype(np.float32)
        # Rejected only when certainly outside; doubtful rows go on to the full test.
        keep = np.ones(len(idx), dtype=bool)
        if len(self.screen):
            far = self._largest(
                pts32, self.normals32[:, self.screen], self.offsets32[self.screen]
            )
            keep = far <= tol + self.margin
        survivors = np.flatnonzero(keep)
        largest = self._largest(pts32[survivors], self.normals32, self.offsets32)
        keep[survivors] = largest <= tol
        doubtful = survivors[np.abs(largest.astype(float) - tol) <= self.margin]
        for start in range(0, len(doubtful), self._BLOCK_ROWS):
            rows = doubtful[start : start + self._BLOCK_ROWS]
            dist = pts[rows] @ self.normals
            dist += self.offsets
            keep[rows] = (dist <= tol).all(axis=1)
        inside[idx] = keep
        return inside
