"""Positions tables: find their RA/Dec columns, check the coordinates, pick where to match."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import CatalogError

__all__ = [
    "RADEC_CANDIDATES",
    "find_radec_columns",
    "positions_arrays",
    "read_positions",
    "wise_positions",
]

#: Column pairs recognised as RA/Dec in a positions file (compared case-insensitively).
RADEC_CANDIDATES: tuple[tuple[str, str], ...] = (
    ("ra", "dec"),
    ("ra_icrs", "de_icrs"),
    ("raj2000", "dej2000"),
    ("radeg", "dedeg"),
    ("ra_deg", "dec_deg"),
    ("_raj2000", "_dej2000"),
)


def find_radec_columns(
    df: pd.DataFrame, *, ra_column: str | None = None, dec_column: str | None = None
) -> tuple[str, str]:
    """Find the RA/Dec columns of a positions table (case-insensitive; see RADEC_CANDIDATES).

    Raises
    ------
    CatalogError
        Naming the columns tried and the columns present.
    """
    lower = {str(c).lower(): c for c in df.columns}
    if ra_column is not None or dec_column is not None:
        if ra_column is None or dec_column is None:
            raise CatalogError("positions: give both ra_column and dec_column, or neither")
        found = []
        for c in (ra_column, dec_column):
            if c in df.columns:
                found.append(c)
            elif c.lower() in lower:
                found.append(lower[c.lower()])
            else:
                raise CatalogError(
                    f"positions: column {c!r} not found; columns are {list(df.columns)}"
                )
        return found[0], found[1]
    for ra, dec in RADEC_CANDIDATES:
        if ra in lower and dec in lower:
            return lower[ra], lower[dec]
    tried = ", ".join(f"{r}/{d}" for r, d in RADEC_CANDIDATES)
    raise CatalogError(
        f"positions: no RA/Dec columns found (tried {tried}, any case); columns are "
        f"{list(df.columns)}; name them with --ra-column/--dec-column"
    )


def read_positions(
    path: str | Path, *, ra_column: str | None = None, dec_column: str | None = None
) -> tuple[pd.DataFrame, str, str]:
    """Read a positions file (any catalogue format) and find its RA/Dec columns."""
    from ..catalog import read_catalog

    df = read_catalog(path)
    ra, dec = find_radec_columns(df, ra_column=ra_column, dec_column=dec_column)
    return df, ra, dec


def positions_arrays(df: pd.DataFrame, ra_column: str, dec_column: str):
    """RA (wrapped to [0, 360)) and Dec arrays of a positions table, in degrees.

    Raises
    ------
    CatalogError
        A missing column, or rows without a valid position (names the first such row).
    """
    for c in (ra_column, dec_column):
        if c not in df.columns:
            raise CatalogError(f"positions: column {c!r} not found; columns are {list(df.columns)}")
    ra = pd.to_numeric(df[ra_column], errors="coerce").to_numpy(float)
    dec = pd.to_numeric(df[dec_column], errors="coerce").to_numpy(float)
    bad = ~np.isfinite(ra) | ~np.isfinite(dec) | (dec < -90) | (dec > 90)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise CatalogError(
            f"positions: {int(bad.sum())} rows have no valid position in columns "
            f"{ra_column!r}/{dec_column!r} (degrees, -90 <= dec <= 90); first is row {i}: "
            f"{df[ra_column].iloc[i]}, {df[dec_column].iloc[i]}"
        )
    return ra % 360.0, dec


def wise_positions(df: pd.DataFrame) -> pd.DataFrame:
    """Where to look for AllWISE: SEIP's WISE position when it has one, else ``ra``/``dec``."""
    ra = pd.to_numeric(df.get("wise_ra"), errors="coerce") if "wise_ra" in df else None
    dec = pd.to_numeric(df.get("wise_dec"), errors="coerce") if "wise_dec" in df else None
    base_ra = pd.to_numeric(df["ra"], errors="coerce").to_numpy(float)
    base_dec = pd.to_numeric(df["dec"], errors="coerce").to_numpy(float)
    if ra is not None and dec is not None:
        ok = np.isfinite(ra.to_numpy(float)) & np.isfinite(dec.to_numpy(float))
        base_ra = np.where(ok, ra.to_numpy(float), base_ra)
        base_dec = np.where(ok, dec.to_numpy(float), base_dec)
    return pd.DataFrame({"ra": base_ra, "dec": base_dec})
