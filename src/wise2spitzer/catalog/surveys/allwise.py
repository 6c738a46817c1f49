"""The AllWISE Source Catalog (IRSA ``allwise_p3as_psd``) as model input.

AllWISE gives Vega profile-fit magnitudes (``w#mpro``) where SEIP gives flux densities in uJy
(``wise#``). This adapter holds the one conversion, used both when an AllWISE table is the
input of a prediction (:func:`from_allwise`, via the survey registry) and when the archive
fetch fills SEIP rows without a WISE association
(:func:`wise2spitzer.irsa.merge_allwise`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ...errors import CatalogError
from ...schema import BANDS, mag_err_to_ujy, mag_to_ujy
from .base import SurveyAdapter

__all__ = [
    "ALLWISE",
    "ALLWISE_COLUMN_MAP",
    "MAG_COLUMNS",
    "AllWiseAdapter",
    "from_allwise",
    "is_allwise",
    "limit_mask",
]

#: How each AllWISE Source Catalog column (``allwise_p3as_psd``) becomes a SEIP column.
#: ``w#mpro`` (Vega profile-fit magnitude) -> ``wise#`` in uJy with the WISE zero points of
#: :data:`~wise2spitzer.schema.BANDS`; ``w#sigmpro`` -> ``dwise#`` (uJy, propagated from the
#: magnitude error). AllWISE leaves ``w#sigmpro`` null when ``w#mpro`` is a 95% brightness upper
#: limit (SNR < 2), which is exactly SEIP's convention (the limit in ``wise#``, no error), so
#: upper limits stay recognisable. ``w#rchi2`` -> ``wise#rchi2``, ``w#m`` (frames with a
#: profile-fit measurement) -> ``wise#m``, ``w#nm`` (frames with an SNR >= 3 detection) ->
#: ``wise#nm``; ``w#snr``, ``cc_flags``, ``ext_flg``, ``ph_qual``, ``ra``, ``dec`` and
#: ``designation`` keep their names. ``ph_qual`` decides which magnitudes are limits: only
#: ``U``; a ``Z`` magnitude also has a null ``w#sigmpro`` but is a measurement, whose error is
#: then ``wise# / w#snr`` (:func:`limit_mask`).
ALLWISE_COLUMN_MAP: dict[str, str] = {
    **{f"w{i}mpro": f"wise{i}" for i in range(1, 5)},
    **{f"w{i}sigmpro": f"dwise{i}" for i in range(1, 5)},
    **{f"w{i}snr": f"w{i}snr" for i in range(1, 5)},
    **{f"w{i}rchi2": f"wise{i}rchi2" for i in range(1, 5)},
    **{f"w{i}m": f"wise{i}m" for i in range(1, 5)},
    **{f"w{i}nm": f"wise{i}nm" for i in range(1, 5)},
    "cc_flags": "cc_flags",
    "ext_flg": "ext_flg",
    "ph_qual": "ph_qual",
    "ra": "ra",
    "dec": "dec",
    "designation": "designation",
}
#: The AllWISE magnitude columns (``w1mpro..w4mpro``): their presence identifies the survey.
MAG_COLUMNS: tuple[str, ...] = tuple(f"w{i}mpro" for i in range(1, 5))


def _numbers(s: pd.Series, name: str, errors: str) -> np.ndarray:
    """A magnitude column as floats (NaN where null); text raises or becomes NaN."""
    if errors == "coerce":
        return pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    try:
        return pd.to_numeric(s, errors="raise").to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise CatalogError(
            f"AllWISE column {name!r} must be numeric (Vega magnitudes); got dtype {s.dtype}"
        ) from exc


def limit_mask(df: pd.DataFrame, band: int) -> np.ndarray:
    """True where AllWISE's ``w{band}mpro`` is a 95% brightness upper limit.

    With ``ph_qual`` (one letter per band), exactly the rows whose letter is ``U``: AllWISE
    also leaves ``w#sigmpro`` null for ``Z``, whose magnitude is a measurement. Without it (or
    where it is null), a null ``w#sigmpro`` marks a limit unless ``w#snr`` is at least 2 (``U``
    means SNR < 2).

    Examples
    --------
    >>> t = pd.DataFrame({"ph_qual": ["AAUZ", None], "w4sigmpro": [None, None],
    ...                   "w4snr": [5.0, 1.2]})
    >>> limit_mask(t, 3).tolist(), limit_mask(t, 4).tolist()
    ([True, False], [False, True])
    """
    n = len(df)
    sig_col, snr_col = f"w{band}sigmpro", f"w{band}snr"
    sig = (
        pd.to_numeric(df[sig_col], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        if sig_col in df.columns
        else np.full(n, np.nan)
    )
    snr = (
        pd.to_numeric(df[snr_col], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        if snr_col in df.columns
        else np.full(n, np.nan)
    )
    guess = ~np.isfinite(sig) & ~(snr >= 2) & (sig_col in df.columns)
    if "ph_qual" not in df.columns:
        return guess
    letters = np.array(
        [
            q[band - 1].upper() if isinstance(q, str) and len(q) >= band else ""
            for q in df["ph_qual"].to_numpy(dtype=object)
        ]
    )
    return np.where(letters == "", guess, letters == "U")


def _flux_errors(df: pd.DataFrame, band: int, flux: np.ndarray, sig: np.ndarray) -> np.ndarray:
    """``dwise#`` in uJy: from ``w#sigmpro``; NaN for a limit; ``flux / w#snr`` for a
    measurement AllWISE gives no magnitude error for (``ph_qual`` ``Z``)."""
    err = mag_err_to_ujy(flux, sig)
    limit = limit_mask(df, band)
    snr_col = f"w{band}snr"
    if snr_col in df.columns:
        snr = pd.to_numeric(df[snr_col], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            from_snr = np.where(snr > 0, flux / snr, np.nan)
        err = np.where(~np.isfinite(sig) & ~limit, from_snr, err)
    return np.where(limit, np.nan, err)


class AllWiseAdapter(SurveyAdapter):
    """AllWISE magnitudes and quality columns -> SEIP fluxes (uJy) and quality columns."""

    name = "allwise"
    column_map = ALLWISE_COLUMN_MAP
    signature = MAG_COLUMNS

    def seip_columns(self, df: pd.DataFrame, *, errors: str = "raise") -> dict[str, Any]:
        """The SEIP columns of AllWISE rows: ``{seip_name: values}``.

        Parameters
        ----------
        df : DataFrame
            AllWISE columns (:data:`ALLWISE_COLUMN_MAP` names), at least one ``w#mpro``.
        errors : {"raise", "coerce"}, default "raise"
            ``"raise"``: a non-numeric magnitude column is an error and the quality columns
            are copied as they are (a user's table). ``"coerce"``: text becomes NaN and every
            converted column is float (archive rows that fill gaps in numeric columns).

        Returns
        -------
        dict
            ``wise1, dwise1, ..., wise4, dwise4`` (for the bands present; ``dwise#`` only
            with ``w#sigmpro``), then ``wise#rchi2``, ``wise#m``, ``wise#nm``. A null
            magnitude gives a NaN flux (not measured); a 95% upper limit keeps a NaN error,
            as in SEIP (see :func:`limit_mask` for which magnitudes are limits).

        Raises
        ------
        CatalogError
            No ``w#mpro`` column, or (``errors="raise"``) a magnitude column that is not
            numeric.
        """
        if errors not in ("raise", "coerce"):
            raise CatalogError(f"errors must be one of ['raise', 'coerce']; got {errors!r}")
        present = [c for c in MAG_COLUMNS if c in df.columns]
        if not present:
            raise CatalogError(
                f"an AllWISE table needs at least one of the columns {list(MAG_COLUMNS)} "
                f"(Vega magnitudes); got columns {list(df.columns)[:20]}"
            )
        new: dict[str, Any] = {}
        for i in range(1, 5):
            mag_col, sig_col = f"w{i}mpro", f"w{i}sigmpro"
            if mag_col not in df.columns:
                continue
            flux = mag_to_ujy(_numbers(df[mag_col], mag_col, errors), BANDS[f"W{i}"])
            new[f"wise{i}"] = flux
            if sig_col in df.columns:
                sig = _numbers(df[sig_col], sig_col, errors)
                new[f"dwise{i}"] = _flux_errors(df, i, flux, sig)
        for src, dst in ALLWISE_COLUMN_MAP.items():
            renamed = dst != src and src not in MAG_COLUMNS and not src.endswith("sigmpro")
            if renamed and src in df.columns:
                if errors == "coerce":
                    new[dst] = _numbers(df[src], src, errors)
                else:
                    new[dst] = df[src].to_numpy()
        return new


#: The registered AllWISE adapter.
ALLWISE = AllWiseAdapter()


def is_allwise(df: pd.DataFrame) -> bool:
    """True when ``df`` has AllWISE magnitudes (``w#mpro``) and no SEIP fluxes (``wise#``)."""
    return ALLWISE.detect(df)


def from_allwise(df: pd.DataFrame) -> pd.DataFrame:
    """Translate an AllWISE Source Catalog table to SEIP columns (see :data:`ALLWISE_COLUMN_MAP`).

    Parameters
    ----------
    df : DataFrame
        AllWISE rows with at least one of ``w1mpro..w4mpro``. Missing AllWISE columns are simply
        not produced, so the predictor reports ``missing_feature`` for the rows that need them.

    Returns
    -------
    DataFrame
        A copy of ``df`` (same index and order, original columns kept) with ``wise1..4`` and
        ``dwise1..4`` in uJy and the quality columns under their SEIP names. A null magnitude
        gives a NaN flux (not measured); a 95% upper limit (``ph_qual`` ``U``) keeps a NaN
        error, as in SEIP; a ``Z`` magnitude is a measurement (see :func:`limit_mask`).

    Raises
    ------
    CatalogError
        If none of ``w1mpro..w4mpro`` is present or a magnitude column is not numeric.

    Examples
    --------
    >>> import pandas as pd
    >>> seip = from_allwise(pd.DataFrame({"w4mpro": [0.0], "w4sigmpro": [0.1]}))
    >>> round(float(seip["wise4"].iloc[0]))
    8363000
    """
    return ALLWISE.to_seip(df)
