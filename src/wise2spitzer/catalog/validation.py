"""Validate a catalogue: required columns, numbers where numbers belong, uJy not magnitudes.

:func:`validate_catalog` is the one check every loaded table goes through
(:func:`~wise2spitzer.catalog.load_data`); :func:`measured` is the SEIP rule for "this flux was
measured" (finite and strictly positive).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from ..errors import CatalogError
from ..schema import BANDS
from .columns import MAG_CHECK_COLUMNS, NULL_TOKENS, NUMERIC_COLUMNS
from .metadata import clean_meta_value

__all__ = ["is_null_token", "measured", "to_numeric_column", "validate_catalog"]


def measured(series: Any) -> np.ndarray:
    """Boolean mask of measured fluxes: finite and strictly positive.

    A flux that is 0, negative or NaN means "not measured" (SEIP convention); it is not an
    error, the predictor gives such rows a status instead.

    Examples
    --------
    >>> measured([1.0, 0.0, -2.0, float("nan"), 5.0]).tolist()
    [True, False, False, False, True]
    """
    values = pd.to_numeric(pd.Series(np.asarray(series, dtype=object).ravel()), errors="coerce")
    arr = values.to_numpy(dtype=float, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        return np.isfinite(arr) & (arr > 0)


def is_null_token(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip().lower() in NULL_TOKENS


def to_numeric_column(series: pd.Series, *, source: str, column: str) -> pd.Series:
    """Convert an object/str column to float, naming the first offending value and row."""
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.astype(float)
    nulls = series.map(is_null_token).astype(bool)
    cleaned = series.where(~nulls, np.nan)
    if pd.api.types.is_string_dtype(cleaned.dtype) or cleaned.dtype == object:
        cleaned = cleaned.map(lambda v: v.strip() if isinstance(v, str) else v)
    converted = pd.to_numeric(cleaned.astype(object), errors="coerce")
    bad = converted.isna() & ~nulls
    if bad.any():
        row = bad.idxmax()
        shown_row = clean_meta_value(row)
        raise CatalogError(
            f"{source}: column {column!r} must be numeric but row index {shown_row!r} holds "
            f"{series.loc[row]!r} ({int(bad.sum())} non-numeric value(s) in total)"
        )
    return converted.astype(float)


def validate_catalog(
    df: pd.DataFrame,
    *,
    required: Iterable[str] = (),
    source: str = "<table>",
    id_column: str | None = None,
) -> pd.DataFrame:
    """Check a catalogue and return a copy with numeric columns converted.

    Parameters
    ----------
    df : pandas.DataFrame
        The catalogue (SEIP column names, fluxes in uJy).
    required : iterable of str
        Columns that must be present.
    source : str
        How the table is named in error messages (a file name, ``"upper-sco"``...).
    id_column : str, optional
        Column whose values must be unique (e.g. ``"objid"``); not checked when None.

    Returns
    -------
    pandas.DataFrame
        A copy; known numeric columns (:data:`NUMERIC_COLUMNS`) held as text are converted to
        float (null tokens such as ``""``, ``"nan"``, ``"null"``, ``"--"`` become NaN).

    Raises
    ------
    CatalogError
        Missing required columns (lists them and some present ones), text in a numeric
        column (names the column, an offending value and its row), a WISE/Spitzer flux
        column that looks like Vega magnitudes, duplicated ids (names an example).

    Notes
    -----
    A 0, negative or NaN flux is "not measured", not an error (see :func:`measured`). The
    magnitude check flags a flux column whose finite positive values are all below 30 with a
    median between 3 and 20: typical WISE/Spitzer magnitudes, impossible uJy fluxes for
    sources those surveys detect.
    """
    if not isinstance(df, pd.DataFrame):
        raise CatalogError(f"{source}: expected a pandas DataFrame; got {type(df).__name__}")
    required = [required] if isinstance(required, str) else list(required)
    if id_column is not None and id_column not in required:
        required.append(id_column)
    missing = [c for c in required if c not in df.columns]
    if missing:
        present = [str(c) for c in df.columns]
        shown = present[:8] + (["..."] if len(present) > 8 else [])
        raise CatalogError(
            f"{source}: missing required column(s) {missing}; present columns "
            f"({len(present)}): {shown}"
        )
    out = df.copy()
    for column in out.columns:
        if column not in NUMERIC_COLUMNS:
            continue
        series = out[column]
        if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(
            series.dtype
        ):
            continue
        out[column] = to_numeric_column(series, source=source, column=column)

    for column in MAG_CHECK_COLUMNS:
        if column not in out.columns:
            continue
        values = out[column].to_numpy(dtype=float, na_value=np.nan)
        positive = values[np.isfinite(values) & (values > 0)]
        if positive.size and positive.max() < 30 and 3 <= np.median(positive) <= 20:
            band = next(b.name for b in BANDS.values() if b.column == column)
            raise CatalogError(
                f"{source}: column {column!r} looks like Vega magnitudes (median "
                f"{np.median(positive):.2f}, all values below 30) but flux densities in uJy "
                f"are expected; convert with wise2spitzer.mag_to_ujy(mag, {band!r})"
            )

    if id_column is not None:
        ids = out[id_column]
        dup = ids[ids.duplicated(keep=False) & ids.notna()]
        if len(dup):
            example = clean_meta_value(dup.iloc[0])
            rows = [clean_meta_value(r) for r in dup.index[dup == example][:3]]
            raise CatalogError(
                f"{source}: id column {id_column!r} has duplicated values, e.g. {example!r} "
                f"at rows {rows} ({dup.nunique()} duplicated id(s) in total)"
            )
    out.attrs = dict(df.attrs)
    return out
