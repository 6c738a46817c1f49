"""Which columns of ``X`` a :class:`~wise2spitzer.model.FluxRegressor` uses, and how.

The ``features`` subset, the WISE counterpart column of ``form="ratio"`` and its log10
offset, resolved from names (DataFrame input) or positions (array input).
"""

from __future__ import annotations

from numbers import Integral

import numpy as np

from ..errors import ModelError

__all__ = ["counterpart_log", "input_names", "resolve_counterpart", "resolve_features"]


def resolve_counterpart(counterpart, form: str, n_features: int, names) -> int | None:
    """Position of the counterpart column for ``form="ratio"`` (None for other forms).

    ``names`` are the column names of ``X`` (None for an array input).
    """
    if form != "ratio":
        return None
    cp = counterpart
    if cp is None:
        raise ModelError(
            "form='ratio' needs counterpart: the column of X with the WISE counterpart "
            "flux, by name ('wise4' for MIPS1, 'wise3' for IRAC4) or by position; got None"
        )
    if isinstance(cp, (Integral, np.integer)) and not isinstance(cp, bool):
        if not 0 <= int(cp) < n_features:
            raise ModelError(
                f"counterpart index must be in [0, {n_features - 1}] for X with "
                f"{n_features} columns; got {cp}"
            )
        return int(cp)
    if isinstance(cp, str):
        if names is None:
            raise ModelError(
                f"counterpart={cp!r} is a column name but X has no column names; pass a "
                "DataFrame or give the counterpart's position as an int"
            )
        matches = np.flatnonzero(np.asarray(names) == cp)
        if len(matches) == 0:
            raise ModelError(f"counterpart column {cp!r} is not in X; columns: {list(names)}")
        return int(matches[0])
    raise ModelError(f"counterpart must be a column name, an int position or None; got {cp!r}")


def input_names(n_features: int, names) -> np.ndarray:
    """Column names of ``X`` (``x0, x1...`` for an array input) as an object array."""
    if names is None:
        names = [f"x{i}" for i in range(n_features)]
    return np.asarray(names, dtype=object)


def resolve_features(features, n_features: int, names) -> np.ndarray:
    """Boolean mask over the columns of X from the ``features`` parameter (None = all)."""
    mask = np.zeros(n_features, dtype=bool)
    if features is None:
        mask[:] = True
        return mask
    wanted = [features] if isinstance(features, (str, Integral)) else features
    for f in wanted:
        if isinstance(f, str):
            if names is None or f not in names:
                where = "X has no column names" if names is None else f"columns: {list(names)}"
                raise ModelError(f"features: column {f!r} is not in X ({where})")
            mask[int(np.flatnonzero(np.asarray(names) == f)[0])] = True
        elif isinstance(f, (Integral, np.integer)) and 0 <= int(f) < n_features:
            mask[int(f)] = True
        else:
            raise ModelError(
                f"features must list column names or positions in [0, "
                f"{n_features - 1}]; got {f!r}"
            )
    if not mask.any():
        raise ModelError(f"features must name at least one column; got {features!r}")
    return mask


def counterpart_log(X: np.ndarray, index: int | None, counterpart, *, training: bool
                    ) -> np.ndarray:
    """log10 of the counterpart column ``index`` of ``X`` (zeros when ``index`` is None).

    Rows with a counterpart <= 0 get NaN, or, when ``training``, raise (``counterpart`` is
    the parameter as given, for the message).
    """
    if index is None:
        return np.zeros(len(X))
    cp = X[:, index]
    bad = ~(cp > 0)
    if training and bad.any():
        raise ModelError(
            f"form='ratio' needs the counterpart column {counterpart!r} > 0 in every "
            f"training row; {int(bad.sum())} of {len(cp)} rows are <= 0"
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(bad, np.nan, np.log10(np.where(bad, 1.0, cp)))
