"""SEIP's "no value" sentinels: integer columns that hold -9, -99 or -9999 instead of a null."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from .config import SEIP_INTEGER_COLUMNS, SEIP_SENTINELS

__all__ = ["null_sentinels"]


def null_sentinels(
    df: pd.DataFrame,
    columns: Iterable[str] = SEIP_INTEGER_COLUMNS,
    *,
    sentinels: Iterable[int] = SEIP_SENTINELS,
) -> pd.DataFrame:
    """A copy of ``df`` whose ``columns`` hold missing values (``pd.NA``) instead of sentinels.

    Each column present is made a nullable integer (``Int64``); a value that is not a whole
    number is left as it is (the column then stays numeric). Columns not in ``df`` are skipped.

    Parameters
    ----------
    df : DataFrame
        SEIP rows, e.g. the result of the SEIP cross-match.
    columns : iterable of str, default :data:`~wise2spitzer.irsa.config.SEIP_INTEGER_COLUMNS`
        The integer columns to clean.
    sentinels : iterable of int, default :data:`~wise2spitzer.irsa.config.SEIP_SENTINELS`
        Values meaning "no value".

    Examples
    --------
    >>> out = null_sentinels(pd.DataFrame({"wise4nm": [12, -9999, -9], "x": [-9, 1, 2]}))
    >>> out["wise4nm"].tolist(), out["x"].tolist()
    ([12, <NA>, <NA>], [-9, 1, 2])
    """
    out = df.copy()
    bad = list(sentinels)
    for name in columns:
        if name not in out.columns:
            continue
        values = pd.to_numeric(out[name], errors="coerce")
        values = values.mask(values.isin(bad))
        whole = values.dropna()
        if np.all(np.asarray(whole, dtype=float) == np.round(np.asarray(whole, dtype=float))):
            values = values.astype("Int64")
        out[name] = values
    return out
