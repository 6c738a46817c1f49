"""Cross-matching uploaded positions: upload in chunks, keep the nearest match per row."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .queries import UPLOAD_DEC, UPLOAD_RA, UPLOAD_UID
from .service import Archive, result_frame

__all__ = ["crossmatch", "nearest", "upload_table"]


def upload_table(uid, ra, dec):
    """The astropy Table uploaded with a cross-match (row id, RA and Dec in degrees)."""
    from astropy.table import Table

    return Table(
        {
            UPLOAD_UID: np.asarray(uid, dtype=np.int64),
            UPLOAD_RA: np.asarray(ra, dtype=float),
            UPLOAD_DEC: np.asarray(dec, dtype=float),
        }
    )


def crossmatch(
    arch: Archive,
    *,
    url: str,
    adql: str,
    upload_name: str,
    uid,
    ra,
    dec,
    step: str,
) -> pd.DataFrame:
    """Upload positions in chunks, run ``adql`` for each, return every match with its uid."""
    n = len(uid)
    size = arch.conf.chunk_size
    frames = []
    n_chunks = max(1, -(-n // size))
    for k in range(n_chunks):
        sl = slice(k * size, (k + 1) * size)
        table = upload_table(uid[sl], ra[sl], dec[sl])
        if len(table) == 0:
            continue
        t = arch.run(
            url,
            adql,
            uploads={upload_name: table},
            maxrec=arch.conf.maxrec,
            label=f"{step} chunk {k + 1}/{n_chunks}",
        )
        frames.append(result_frame(t))
    if not frames:
        return pd.DataFrame(columns=[UPLOAD_UID])
    return pd.concat(frames, ignore_index=True)


def nearest(matches: pd.DataFrame, ra_in, dec_in, *, ra_col: str, dec_col: str) -> pd.DataFrame:
    """Keep the nearest match per uploaded row; add its separation in arcsec."""
    from astropy.coordinates import SkyCoord

    if len(matches) == 0:
        out = matches.copy()
        out["sep_arcsec"] = pd.Series(dtype=float)
        return out
    uid = matches[UPLOAD_UID].to_numpy(np.int64)
    c_in = SkyCoord(np.asarray(ra_in)[uid], np.asarray(dec_in)[uid], unit="deg")
    c_m = SkyCoord(matches[ra_col].to_numpy(float), matches[dec_col].to_numpy(float), unit="deg")
    out = matches.copy()
    out["sep_arcsec"] = c_in.separation(c_m).arcsec
    out = out.sort_values([UPLOAD_UID, "sep_arcsec"], kind="stable")
    return out.drop_duplicates(UPLOAD_UID, keep="first").reset_index(drop=True)
