"""The real Upper Scorpius WISE + Spitzer photometry of Luhman & Mamajek (2012), SEIP-style."""

from __future__ import annotations

import re
from importlib import resources

import numpy as np
import pandas as pd

from ..errors import CatalogError
from ..schema import BANDS, WISE_FLUX_COLUMNS, get_target, mag_err_to_ujy, mag_to_ujy

__all__ = ["UPPER_SCO_CITATION", "load_upper_sco"]

UPPER_SCO_CITATION = (
    "Luhman K. L. & Mamajek E. E. 2012, ApJ 758, 31, 'The Disk Population of the Upper "
    "Scorpius Association' (Table 1; VizieR J/ApJ/758/31), via the BrownDwarf/ApJdataFrames "
    "repository (MIT licence); positions from SIMBAD."
)

_DATA_FILE = "tbl1_plusSimbad.csv"

# Published magnitude column -> schema band. Every band here becomes an SEIP flux column.
_MAG_COLUMNS: dict[str, str] = {
    "3.6mag": "IRAC1",
    "4.5mag": "IRAC2",
    "5.8mag": "IRAC3",
    "8.0mag": "IRAC4",
    "24mag": "MIPS1",
    "W1mag": "W1",
    "W2mag": "W2",
    "W3mag": "W3",
    "W4mag": "W4",
}
# Short band labels used in the ``quality`` strings ("W4:nodet;24:out").
_FLAG_LABEL = {b: m.removesuffix("mag") for m, b in _MAG_COLUMNS.items()}

# A 2MASS designation "2MASS Jhhmmss.ss+ddmmss.s" carries the J2000 position to ~0.1 arcsec.
_TWOMASS = re.compile(r"J(\d{2})(\d{2})(\d{2}\.\d+)([+-])(\d{2})(\d{2})(\d{2}\.?\d*)")


def _read_table() -> pd.DataFrame:
    with resources.files("wise2spitzer.datasets").joinpath("data", _DATA_FILE).open("rb") as fh:
        return pd.read_csv(fh)


def _positions(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """ICRS ra, dec in degrees from the SIMBAD sexagesimal strings (2MASS name as fallback)."""
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    ra_str = table["RA"].astype("object")
    dec_str = table["DEC"].astype("object")
    missing = ra_str.isna() | dec_str.isna()
    # SIMBAD did not resolve every name; the 2MASS designation gives the position instead.
    for i in np.flatnonzero(missing.to_numpy()):
        m = _TWOMASS.search(str(table["Name"].iloc[i]))
        if m is not None:
            ra_str.iloc[i] = f"{m[1]} {m[2]} {m[3]}"
            dec_str.iloc[i] = f"{m[4]}{m[5]} {m[6]} {m[7]}"
    ok = ra_str.notna() & dec_str.notna()
    ra = np.full(len(table), np.nan)
    dec = np.full(len(table), np.nan)
    c = SkyCoord(
        ra_str[ok].to_numpy(str), dec_str[ok].to_numpy(str), unit=(u.hourangle, u.deg), frame="icrs"
    )
    ra[ok.to_numpy()] = c.ra.deg
    dec[ok.to_numpy()] = c.dec.deg
    return ra, dec


def _quality(table: pd.DataFrame, bands: list[str]) -> pd.Series:
    """``"good"`` where none of ``bands`` carries a published flag, else ``"W4:nodet;24:out"``."""
    parts = []
    for band in bands:
        mag_col = next(m for m, b in _MAG_COLUMNS.items() if b == band)
        flag = table[f"f_{mag_col}"].astype("object")
        parts.append(flag.where(flag.isna(), _FLAG_LABEL[band] + ":" + flag.astype(str)))
    joined = pd.concat(parts, axis=1).apply(
        lambda r: ";".join(v for v in r if isinstance(v, str)), axis=1
    )
    return joined.mask(joined == "", "good").astype("str")


def _frame(table: pd.DataFrame, target) -> pd.DataFrame:
    ra, dec = _positions(table)
    out: dict[str, object] = {
        "objid": table["Name"].astype("str"),
        "ra": ra,
        "dec": dec,
        "other_names": table["OtherNames"].astype("str"),
        "spectral_type": table["Adopt"].astype("str"),
        "disk_type": table["DiskType"].fillna("none").astype("str"),
    }
    for mag_col, band in _MAG_COLUMNS.items():
        b = BANDS[band]
        mag = pd.to_numeric(table[mag_col], errors="coerce").to_numpy(float)
        flux = mag_to_ujy(mag, band)
        err = mag_err_to_ujy(
            flux, pd.to_numeric(table[f"e_{mag_col}"], errors="coerce").to_numpy(float)
        )
        out[b.column] = flux
        out[b.error_column] = err
    # Signal-to-noise of the WISE photometry, as AllWISE's w#snr, from the magnitude errors.
    for i, col in enumerate(WISE_FLUX_COLUMNS, start=1):
        with np.errstate(divide="ignore", invalid="ignore"):
            out[f"w{i}snr"] = out[col] / out[f"dwise{i}"]
    out["m1_snr"] = out["m1_f_psf"] / out["m1_df_psf"]
    for mag_col, band in _MAG_COLUMNS.items():
        out[f"flag_{BANDS[band].column}"] = table[f"f_{mag_col}"].astype("str")
    t = get_target(target)
    out["quality"] = _quality(table, ["W1", "W2", "W3", "W4", t.band])
    return pd.DataFrame(out)


def load_upper_sco(*, return_X_y: bool = False, as_frame: bool = True, target: str = "mips1"):
    """Load the real Upper Scorpius WISE + Spitzer photometry in SEIP conventions.

    863 members of Upper Sco with IRAC, MIPS 24 um and WISE (All-Sky release) magnitudes
    published by Luhman & Mamajek (2012), converted to flux densities in uJy with the Vega
    zero points of :data:`wise2spitzer.schema.BANDS`. There are 204 rows with both W4 and
    MIPS1 and 143 with W1..W4 and IRAC4: real pairs to check a model trained on SEIP.

    Parameters
    ----------
    return_X_y : bool, default False
        If True, return ``(X, y)``: ``X`` = ``wise1..wise4`` of the rows that have the target
        and all four WISE fluxes, ``y`` = the target flux (uJy).
    as_frame : bool, default True
        With ``return_X_y``, ``X`` and ``y`` are a DataFrame and a Series (else ndarrays).
        Without it, ``as_frame=False`` returns a :class:`sklearn.utils.Bunch` (``data``,
        ``target``, ``feature_names``, ``target_names``, ``frame=None``, ``DESCR``).
    target : {"mips1", "irac4"}, default "mips1"
        The Spitzer band used for ``return_X_y`` and for the ``quality`` column.

    Returns
    -------
    pandas.DataFrame or tuple or Bunch
        The frame has ``objid`` (2MASS designation), ``ra``, ``dec`` (ICRS degrees, from
        SIMBAD), ``other_names``, ``spectral_type`` (adopted), ``disk_type`` (``"none"`` when
        no disc was classified), ``i1..i4_f_ap1``, ``m1_f_psf``, ``wise1..4`` with their error
        columns (uJy; NaN where no magnitude is published), ``w1snr..w4snr`` and ``m1_snr``
        (from the magnitude errors), ``flag_<column>`` (the published flags: ``out``,
        ``nodet``, ``bl``, ``sat``, ``false``...) and ``quality``: ``"good"`` when W1..W4 and
        the target band carry no flag, else the flags joined (``"W4:nodet;24:out"``).

    Raises
    ------
    CatalogError
        If ``target`` is not ``"mips1"`` or ``"irac4"``.

    Notes
    -----
    CITATION: Luhman K. L. & Mamajek E. E. 2012, ApJ 758, 31 (Table 1, VizieR J/ApJ/758/31),
    copied unchanged from the BrownDwarf/ApJdataFrames repository (MIT licence), with SIMBAD
    positions; see ``datasets/data/SOURCE.md``. Cite the paper when you use these data.
    The Spitzer photometry is the authors' own (IRAC aperture, MIPS PSF fitting), not SEIP's,
    and the WISE magnitudes come from the All-Sky release; there are no AllWISE quality
    columns, so the "clean" sample cannot be formed.

    Examples
    --------
    >>> from wise2spitzer.datasets import load_upper_sco
    >>> X, y = load_upper_sco(return_X_y=True)
    >>> list(X.columns), len(X) >= 180
    (['wise1', 'wise2', 'wise3', 'wise4'], True)
    """
    try:
        t = get_target(target)
    except ValueError as exc:
        raise CatalogError(f"load_upper_sco: {exc}") from None
    df = _frame(_read_table(), t)
    if not return_X_y and as_frame:
        return df
    features = list(WISE_FLUX_COLUMNS)
    rows = (df[features + [t.column]] > 0).all(axis=1)
    X, y = df.loc[rows, features], df.loc[rows, t.column]
    if return_X_y:
        return (X, y) if as_frame else (X.to_numpy(float), y.to_numpy(float))
    from sklearn.utils import Bunch

    return Bunch(
        data=X.to_numpy(float),
        target=y.to_numpy(float),
        feature_names=features,
        target_names=[t.column],
        frame=None,
        DESCR=f"Upper Sco WISE -> {t.label} pairs. Source: {UPPER_SCO_CITATION}",
    )
