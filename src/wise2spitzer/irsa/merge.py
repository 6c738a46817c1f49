"""Merging AllWISE counterparts into SEIP rows (steps 2-3 of the archive fetch).

AllWISE contributes its flags and SNR (the paper's clean sample uses AllWISE's ``cc_flags``
and ``ext_flg``) and fills the WISE photometry of rows SEIP has no WISE association for. The
magnitude -> uJy conversion and the column mapping are the AllWISE survey adapter's
(:mod:`wise2spitzer.catalog.surveys.allwise`), shared with AllWISE input to ``predict``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..catalog.surveys.allwise import ALLWISE
from .config import ALLWISE_COLUMNS, WISE_BANDS

__all__ = ["merge_allwise"]


def merge_allwise(df: pd.DataFrame, aw: pd.DataFrame) -> pd.DataFrame:
    """Add AllWISE flags/SNR; fill SEIP WISE columns where SEIP has none (converted to uJy).

    Parameters
    ----------
    df : DataFrame
        One row per source, SEIP columns where SEIP has a match (``wise1..4``, ...).
    aw : DataFrame
        :func:`~wise2spitzer.irsa.fetch_allwise` output: ``input_index`` (row of ``df``) and
        ``allwise_``-prefixed AllWISE columns.

    Returns
    -------
    DataFrame
        A copy of ``df`` with ``allwise_designation``, ``allwise_sep_arcsec``, ``w#snr``,
        ``cc_flags``, ``ph_qual``, ``ext_flg`` (AllWISE's, else SEIP's ``wise_cc_flags``,
        ``wise_ph_qual``, ``wise_ext_flg``),
        the WISE photometry and quality columns (SEIP's, AllWISE's converted by
        :class:`~wise2spitzer.catalog.surveys.allwise.AllWiseAdapter` where SEIP has none) and
        ``wise_phot_source`` (``seip``, ``allwise`` or empty).
    """
    out = df.copy()
    aw = aw.set_index("input_index")
    idx = np.arange(len(out))

    def col(name: str) -> pd.Series:
        s = aw[name] if name in aw.columns else pd.Series(dtype=float)
        return s.reindex(idx).reset_index(drop=True)

    out["allwise_designation"] = col("allwise_designation").astype(object)
    out["allwise_sep_arcsec"] = col("allwise_sep_arcsec").astype(float)
    for i in WISE_BANDS:
        out[f"w{i}snr"] = pd.to_numeric(col(f"allwise_w{i}snr"), errors="coerce").astype(float)

    # cc_flags / ph_qual / ext_flg: AllWISE first (the paper's clean sample uses AllWISE's),
    # SEIP's wise_cc_flags / wise_ph_qual / wise_ext_flg where AllWISE has no counterpart.
    for name, seip_name in (("cc_flags", "wise_cc_flags"), ("ph_qual", "wise_ph_qual")):
        aw_flags = col(f"allwise_{name}").astype(object)
        seip_flags = out[seip_name] if seip_name in out else pd.Series([None] * len(out))
        out[name] = aw_flags.where(
            aw_flags.notna(), seip_flags.reset_index(drop=True).astype(object)
        )
    ext = pd.to_numeric(col("allwise_ext_flg"), errors="coerce")
    seip_ext = pd.to_numeric(
        out["wise_ext_flg"] if "wise_ext_flg" in out else pd.Series([np.nan] * len(out)),
        errors="coerce",
    ).reset_index(drop=True)
    out["ext_flg"] = ext.where(ext.notna(), seip_ext).astype("Int64")

    # Photometry and quality: SEIP's values, AllWISE's where SEIP has no WISE association.
    has_seip = np.zeros(len(out), bool)
    for i in WISE_BANDS:
        if f"wise{i}" in out:
            has_seip |= np.isfinite(pd.to_numeric(out[f"wise{i}"], errors="coerce").to_numpy(float))
    source = np.where(has_seip, "seip", "").astype(object)
    # The AllWISE row matched to each output row (NaN where none), converted to SEIP columns
    # by the AllWISE adapter: the same conversion as an AllWISE table given to predict.
    rows = pd.DataFrame({c: col(f"allwise_{c}") for c in ALLWISE_COLUMNS})
    converted = ALLWISE.seip_columns(rows, errors="coerce")
    for i in WISE_BANDS:
        for name in (f"wise{i}", f"dwise{i}", f"wise{i}rchi2", f"wise{i}m", f"wise{i}nm"):
            values = np.asarray(converted[name], dtype=float)
            current = (
                pd.to_numeric(out[name], errors="coerce").to_numpy(float)
                if name in out
                else np.full(len(out), np.nan)
            )
            take = ~np.isfinite(current) & np.isfinite(values)
            if name == f"wise{i}":
                source[take & (source == "")] = "allwise"
            out[name] = np.where(take, values, current)
    out["wise_phot_source"] = source
    return out
