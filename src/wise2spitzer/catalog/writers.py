"""Write a catalogue atomically in any supported format, gzip-compressed when asked.

:func:`write_catalog` resolves the format and compression of the destination once
(:func:`~wise2spitzer.catalog.formats.resolve_format`), writes through the one atomic writer
(:func:`~wise2spitzer.catalog.atomic.atomic_output`) and opens the data stream with
:func:`~wise2spitzer.catalog.formats.open_output`, so ``x.csv.gz`` and ``x.fits.gz`` are real
gzip files. Flux columns carry the unit uJy where the format has units; table metadata go in
the format's own place (see :mod:`wise2spitzer.catalog.metadata`).
"""

from __future__ import annotations

import json
import os
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import CatalogError
from .atomic import atomic_output, atomic_write_json
from .columns import flux_columns_in
from .formats import open_output, resolve_format, text_stream
from .messages import one_line
from .metadata import FITS_COMMENT_TAG, PARQUET_META_KEY, check_meta, csv_sidecar, sidecar_path

__all__ = ["normalise_column", "to_astropy", "write_catalog"]

_FITS_KEY = re.compile(r"^[A-Z0-9_-]{1,8}$")
_FITS_RESERVED = re.compile(
    r"^(SIMPLE|BITPIX|NAXIS\d*|EXTEND|XTENSION|PCOUNT|GCOUNT|TFIELDS|T[A-Z]+\d+|END|COMMENT|"
    r"HISTORY|EXTNAME)$"
)


def normalise_column(series: pd.Series, *, path: str | os.PathLike) -> pd.Series:
    """Give an object column one type: text (``str`` dtype) or numbers; reject the rest.

    Raises
    ------
    CatalogError
        A column holding arrays, or mixing value types (names the file and column).
    """
    if series.dtype != object:
        return series
    values = series.dropna()
    values = values.map(lambda v: v.decode("utf-8", "replace") if isinstance(v, bytes) else v)
    kinds = {type(v) for v in values}
    if any(issubclass(k, list | tuple | np.ndarray | dict | set) for k in kinds):
        raise CatalogError(
            f"cannot write {str(path)!r}: column {series.name!r} holds arrays; only scalar "
            f"columns are supported"
        )
    if not kinds or all(issubclass(k, str) for k in kinds):
        # All-missing object columns become text: it is the only type every format can hold.
        return series.map(
            lambda v: v.decode("utf-8", "replace") if isinstance(v, bytes) else v
        ).astype("str")
    if all(issubclass(k, bool | np.bool_ | int | float | np.number) for k in kinds):
        return pd.to_numeric(series, errors="raise")
    shown = sorted(k.__name__ for k in kinds)
    raise CatalogError(
        f"cannot write {str(path)!r}: column {series.name!r} mixes value types {shown}; "
        f"convert it to one type (e.g. df[{series.name!r}].astype(str)) first"
    )


def to_astropy(df: pd.DataFrame, meta: Mapping[str, Any]):
    """The frame as an astropy Table: flux columns in uJy, text columns masked where missing."""
    import astropy.units as u
    from astropy.table import Column, MaskedColumn, Table

    table = Table()
    for name in df.columns:
        series = df[name]
        if pd.api.types.is_string_dtype(series.dtype):
            # Built by hand: astropy cannot type an all-missing text column from pandas.
            mask = series.isna().to_numpy()
            data = np.array(series.fillna("").astype(object).tolist() or [""], dtype=str)
            data = data[: len(series)]
            if data.dtype.itemsize == 0:
                data = data.astype("U1")
            table[name] = MaskedColumn(data, mask=mask) if mask.any() else Column(data)
        else:
            table[name] = Table.from_pandas(df[[name]])[name]
    for column in flux_columns_in(df):
        table[column].unit = u.uJy
    table.meta.update(meta)
    return table


# --------------------------------------------------------------------------------------
# one writer per format: (frame, temporary path, final path, meta, compressed)
# --------------------------------------------------------------------------------------
def _write_csv(df: pd.DataFrame, tmp: Path, final: Path, meta: dict, compressed: bool) -> None:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    # pyarrow writes several times faster than DataFrame.to_csv, with floats that read back
    # bit for bit; missing values are empty fields.
    table = pa.Table.from_pandas(df, preserve_index=False)
    options = pacsv.WriteOptions(quoting_style="needed")
    with open_output(tmp, compressed=compressed) as fh:
        pacsv.write_csv(table, fh, write_options=options)
    # The sidecar is in place before the CSV: a finished-looking CSV never pairs with a
    # stale sidecar.
    atomic_write_json(sidecar_path(final), csv_sidecar(df, len(df), meta))


def _write_ecsv(df: pd.DataFrame, tmp: Path, final: Path, meta: dict, compressed: bool) -> None:
    with text_stream(open_output(tmp, compressed=compressed)) as fh:
        to_astropy(df, meta).write(fh, format="ascii.ecsv")


def _fits_header(hdu: Any, meta: dict[str, Any]) -> None:
    """Put ``meta`` in a FITS header: plain or HIERARCH keywords, else a JSON COMMENT line."""
    from astropy.io import fits

    leftovers: dict[str, Any] = {}
    for key, value in meta.items():
        ascii_ok = all(
            32 <= ord(ch) < 127 for ch in key + (value if isinstance(value, str) else "")
        )
        if not ascii_ok or "=" in key or _FITS_RESERVED.match(key.upper()):
            leftovers[key] = value
            continue
        # Plain 8-character upper-case keys stay standard; anything else is a HIERARCH
        # card, which keeps the key's case on reading.
        card_key = key if _FITS_KEY.match(key) else f"HIERARCH {key}"
        try:
            hdu.header[card_key] = fits.card.UNDEFINED if value is None else value
        except (ValueError, KeyError):
            leftovers[key] = value
    for key, value in leftovers.items():
        hdu.header.add_comment(FITS_COMMENT_TAG + json.dumps({key: value}))


def _write_fits(df: pd.DataFrame, tmp: Path, final: Path, meta: dict, compressed: bool) -> None:
    from astropy.io import fits

    hdu = fits.table_to_hdu(to_astropy(df, {}))
    _fits_header(hdu, meta)
    with open_output(tmp, compressed=compressed) as fh:
        fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(fh)


def _write_votable(df: pd.DataFrame, tmp: Path, final: Path, meta: dict, compressed: bool) -> None:
    from astropy.io.votable import from_table, writeto
    from astropy.io.votable.tree import Param

    votable = from_table(to_astropy(df, {}))
    vtable = votable.get_first_table()
    for key, value in meta.items():
        if isinstance(value, bool):
            param = Param(votable, name=key, datatype="boolean", value=value)
        elif isinstance(value, int):
            param = Param(votable, name=key, datatype="long", value=value)
        elif isinstance(value, float):
            param = Param(votable, name=key, datatype="double", value=value)
        else:
            param = Param(
                votable,
                name=key,
                datatype="unicodeChar",
                arraysize="*",
                value="" if value is None else value,
            )
        vtable.params.append(param)
    with open_output(tmp, compressed=compressed) as fh:
        writeto(votable, fh)


def _write_parquet(df: pd.DataFrame, tmp: Path, final: Path, meta: dict, compressed: bool) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=False)
    flux = set(flux_columns_in(df))
    fields = [
        f.with_metadata({**(f.metadata or {}), b"unit": b"uJy"}) if f.name in flux else f
        for f in table.schema
    ]
    schema_meta = dict(table.schema.metadata or {})
    schema_meta[PARQUET_META_KEY] = json.dumps(meta).encode("utf-8")
    table = table.cast(pa.schema(fields, metadata=schema_meta))
    pq.write_table(table, tmp)


_WRITERS = {
    "csv": _write_csv,
    "ecsv": _write_ecsv,
    "fits": _write_fits,
    "votable": _write_votable,
    "parquet": _write_parquet,
}


def _prepare(df: pd.DataFrame, path: Path, overwrite: bool) -> pd.DataFrame:
    """Check the destination and the frame; return the frame as it is written."""
    if path.exists() and not overwrite:
        raise CatalogError(f"{str(path)!r} already exists (pass overwrite=True to replace it)")
    if path.is_dir():
        raise CatalogError(f"{str(path)!r} is a directory; give a file name to write to")
    if not path.parent.exists():
        raise CatalogError(f"cannot write {str(path)!r}: directory {str(path.parent)!r} not found")
    names = [str(c) for c in df.columns]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise CatalogError(f"cannot write {str(path)!r}: duplicated column names {dup}")
    out = df.reset_index(drop=True)
    out.columns = names
    for column in out.columns:
        out[column] = normalise_column(out[column], path=path)
    return out


def write_catalog(
    df: pd.DataFrame,
    path: str | os.PathLike,
    *,
    format: str | None = None,
    meta: Mapping[str, Any] | None = None,
    overwrite: bool = True,
) -> Path:
    """Write a catalogue atomically in any of the supported formats.

    Parameters
    ----------
    df : pandas.DataFrame
        The table; its index is not written (reset it first to keep it).
    path : str or path-like
        Destination; its ending selects the format unless ``format`` is given. A final
        ``.gz`` (``x.csv.gz``, ``x.fits.gz``, ``x.ecsv.gz``, ``x.vot.gz``) writes a
        gzip-compressed file; Parquet cannot be gzipped.
    format : {"csv", "ecsv", "fits", "votable", "parquet"}, optional
        Explicit format.
    meta : dict of str -> str, int, float, bool or None, optional
        Stored as FITS header keywords, ECSV/VOTable metadata, Parquet schema metadata or, for
        CSV, in the sidecar ``<path>.meta.json`` (which also records dtypes and units).
    overwrite : bool, default True
        If False, an existing ``path`` raises :class:`CatalogError`.

    Returns
    -------
    pathlib.Path
        The written file.

    Notes
    -----
    The table is written to a hidden temporary file in the destination directory and moved
    into place with :func:`os.replace` (:func:`~wise2spitzer.catalog.atomic.atomic_output`),
    so an interrupted write never leaves a file that looks complete and an existing file is
    only replaced by a complete one. Flux columns carry the unit uJy where the format has
    units (the CSV sidecar records it too).

    Raises
    ------
    CatalogError
        Unknown format, existing file with ``overwrite=False``, invalid ``meta``, a
        multidimensional column or any writer failure (the message names the file).
    """
    path = Path(os.fspath(path))
    if not isinstance(df, pd.DataFrame):
        raise CatalogError(f"df must be a pandas DataFrame; got {type(df).__name__}")
    spec = resolve_format(path, format=format)
    clean_meta = check_meta(meta)
    out = _prepare(df, path, overwrite)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # HIERARCH notices etc. are expected, not news
            with atomic_output(path, ending=spec.ending) as tmp:
                _WRITERS[spec.name](out, tmp, path, clean_meta, spec.compressed)
    except CatalogError:
        raise
    except Exception as exc:  # noqa: BLE001 - a writer failure becomes one clear line
        raise CatalogError(
            f"cannot write {str(path)!r} as {spec.name.upper()}: {one_line(exc)}"
        ) from None
    return path
