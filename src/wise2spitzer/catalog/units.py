"""The one rule for units of flux columns: flux densities become uJy, magnitudes are refused.

Used by every reader: :func:`~wise2spitzer.catalog.read_catalog` for whole files and the
streaming reader (:func:`~wise2spitzer.catalog.streaming.iter_chunks`) for every chunk. Only
the columns of :data:`~wise2spitzer.catalog.columns.FLUX_COLUMNS` are converted; a unit on any
other column is left alone.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import pandas as pd

from ..errors import CatalogError
from .columns import FLUX_COLUMNS

__all__ = ["apply_flux_factors", "apply_units", "flux_factors", "flux_unit_factor"]


def flux_unit_factor(unit: Any, *, path: str | os.PathLike, column: str) -> float | None:
    """Multiplicative factor from ``unit`` to uJy; None when there is no unit.

    Parameters
    ----------
    unit : astropy unit, str or None
        The column's unit (an astropy unit or its text, e.g. ``"mJy"``).
    path : str or path-like
        The file, for messages.
    column : str
        The column, for messages.

    Raises
    ------
    CatalogError
        A magnitude unit (convert magnitudes with :func:`wise2spitzer.mag_to_ujy` first), an
        unknown unit or a unit that is not a flux density.

    Examples
    --------
    >>> flux_unit_factor("mJy", path="x.fits", column="wise4")
    1000.0
    """
    import astropy.units as u

    if unit is None:
        return None
    if not isinstance(unit, u.UnitBase | u.FunctionUnitBase):
        text = str(unit).strip()
        if not text:
            return None
        unit = u.Unit(text, parse_strict="silent")
    text = str(unit)
    where = f"{str(path)!r}: column {column!r} has unit {text!r}"
    if isinstance(unit, u.FunctionUnitBase) or "mag" in text.lower():
        raise CatalogError(
            f"{where} (a magnitude) but a flux density is expected; convert magnitudes to uJy "
            f"first (wise2spitzer.mag_to_ujy)"
        )
    if isinstance(unit, u.UnrecognizedUnit):
        raise CatalogError(
            f"{where}, which is not a known unit; expected a flux density such as uJy, mJy or Jy"
        )
    if unit == u.dimensionless_unscaled:
        return None
    try:
        return float(unit.to(u.uJy))
    except u.UnitConversionError:
        raise CatalogError(
            f"{where}, which is not a flux density; expected uJy, mJy, Jy or another unit "
            f"convertible to uJy"
        ) from None


def flux_factors(units: Mapping[str, Any], *, path: str | os.PathLike) -> dict[str, float]:
    """Factors to uJy of the flux columns in ``units`` (column -> unit) that need converting.

    Columns outside :data:`FLUX_COLUMNS`, without a unit or already in uJy are left out, so an
    empty result means nothing to convert. Checking the units once per file lets a streaming
    reader fail before its first chunk and convert each chunk with a multiplication.
    """
    factors: dict[str, float] = {}
    for column, unit in units.items():
        if column not in FLUX_COLUMNS:
            continue
        factor = flux_unit_factor(unit, path=path, column=column)
        if factor is not None and factor != 1.0:
            factors[column] = factor
    return factors


def apply_flux_factors(df: pd.DataFrame, factors: Mapping[str, float]) -> pd.DataFrame:
    """Multiply the columns of ``df`` named in ``factors`` (in place; returns ``df``)."""
    for column, factor in factors.items():
        if column in df.columns:
            values = pd.to_numeric(df[column], errors="coerce")
            df[column] = values.astype(float) * factor
    return df


def apply_units(
    df: pd.DataFrame, units: Mapping[str, Any], *, path: str | os.PathLike
) -> pd.DataFrame:
    """Convert the flux columns of ``df`` that carry a flux-density unit to uJy.

    ``units`` maps column names to units (astropy units or text). Returns ``df``, changed in
    place.

    Raises
    ------
    CatalogError
        As :func:`flux_unit_factor`, for a flux column present in ``df``.
    """
    present = {c: unit for c, unit in units.items() if c in df.columns}
    return apply_flux_factors(df, flux_factors(present, path=path))
