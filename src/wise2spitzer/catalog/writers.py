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
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from ..errors import CatalogError
from .arrowmeta import describe_schema, length_metadata, string_lengths
from .atomic import atomic_output, atomic_write_json
from .columns import flux_columns_in
from .formats import open_output, resolve_format, text_stream
from .messages import one_line
from .metadata import FITS_COMMENT_TAG, check_meta, csv_sidecar, sidecar_path
from .vo import ColumnMeta, columns_meta, fits_keyword, standard_meta

__all__ = ["fits_meta", "normalise_column", "to_astropy", "write_catalog"]

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


def to_astropy(
    df: pd.DataFrame, meta: Mapping[str, Any], columns: Mapping[str, ColumnMeta] | None = None
):
    """The frame as an astropy Table, text columns masked where missing.

    Each column carries the unit, description and UCD (``meta["ucd"]``) of ``columns``
    (default: :func:`~wise2spitzer.catalog.vo.columns_meta` of the frame, flux columns in uJy).
    """
    import astropy.units as u
    from astropy.table import Column, MaskedColumn, Table

    if columns is None:
        columns = columns_meta(df.columns, df.attrs.get("columns"), flux=flux_columns_in(df))
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
        info = columns.get(name) or ColumnMeta()
        if info.unit:
            table[name].unit = u.Unit(info.unit, parse_strict="silent")
        if info.description:
            table[name].description = info.description
        if info.ucd:
            table[name].meta["ucd"] = info.ucd
    table.meta.update(meta)
    return table


class _Job(NamedTuple):
    """One write: the frame, where it goes and what it says about itself."""

    df: pd.DataFrame
    tmp: Path
    final: Path
    meta: dict[str, Any]
    compressed: bool
    columns: dict[str, ColumnMeta]
    name: str


# --------------------------------------------------------------------------------------
# one writer per format
# --------------------------------------------------------------------------------------
def _write_csv(job: _Job) -> None:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    # pyarrow writes several times faster than DataFrame.to_csv, with floats that read back
    # bit for bit; missing values are empty fields.
    table = pa.Table.from_pandas(job.df, preserve_index=False)
    options = pacsv.WriteOptions(quoting_style="needed")
    with open_output(job.tmp, compressed=job.compressed) as fh:
        pacsv.write_csv(table, fh, write_options=options)
    # The sidecar is in place before the CSV: a finished-looking CSV never pairs with a
    # stale sidecar.
    atomic_write_json(
        sidecar_path(job.final), csv_sidecar(job.df, len(job.df), job.meta, column_meta=job.columns)
    )


def _write_ecsv(job: _Job) -> None:
    with text_stream(open_output(job.tmp, compressed=job.compressed)) as fh:
        to_astropy(job.df, job.meta, job.columns).write(fh, format="ascii.ecsv")


def _fits_value_fits(key: str, value: Any) -> bool:
    """Whether ``key = value`` fits on one 80-character card (no long-string CONTINUE)."""
    from astropy.io import fits

    if isinstance(value, str) and len(value) > 68:
        return False
    try:
        card = fits.Card(key, fits.card.UNDEFINED if value is None else value)
        return len(card.image) <= 80
    except (ValueError, KeyError):
        return False


def fits_meta(meta: Mapping[str, Any]) -> dict[str, Any]:
    """``meta`` as FITS header cards: ``{keyword: value}``, plus ``"comments"`` lines.

    Keys of :data:`~wise2spitzer.catalog.vo.FITS_KEYWORDS` take their 8-character keyword,
    other short keys are upper-cased and long ones become upper-case ``HIERARCH`` keywords
    (:func:`~wise2spitzer.catalog.vo.fits_keyword`). A value that does not fit on one card
    (no long-string ``CONTINUE``), is not ASCII, or whose key FITS reserves goes in a
    ``COMMENT wise2spitzer-meta {json}`` line instead (cut into cards; the reader joins them).
    """
    from astropy.io import fits

    cards: dict[str, Any] = {}
    comments: list[str] = []
    for key, value in meta.items():
        keyword = fits_keyword(key)
        bare = keyword.removeprefix("HIERARCH ")
        ascii_ok = all(
            32 <= ord(ch) < 127 for ch in key + (value if isinstance(value, str) else "")
        )
        if (
            not ascii_ok
            or "=" in key
            or " " in bare
            or _FITS_RESERVED.match(bare)
            or not _fits_value_fits(keyword, value)
        ):
            comments.append(FITS_COMMENT_TAG + json.dumps({key: value}))
            continue
        cards[keyword] = fits.card.UNDEFINED if value is None else value
    if comments:
        cards["comments"] = comments
    return cards


def _write_fits(job: _Job) -> None:
    table = to_astropy(job.df, {}, job.columns)
    cards = {"EXTNAME": job.name.upper(), **fits_meta(job.meta)}
    for i, name in enumerate(job.df.columns, start=1):
        info = job.columns.get(name) or ColumnMeta()
        if info.ucd and len(info.ucd) <= 68:
            # TUCDn: the UCD for FITS tools that do not read astropy's serialized-column
            # block (where Table.read finds units, descriptions and UCDs).
            cards[f"TUCD{i}"] = info.ucd
    table.meta.update(cards)
    with open_output(job.tmp, compressed=job.compressed) as fh:
        # astropy's own FITS writer keeps column descriptions and meta (the UCD) in its
        # serialized-column COMMENT block, which Table.read restores.
        table.write(fh, format="fits")


def _vot_param(votable: Any, key: str, value: Any):
    from astropy.io.votable.tree import Param

    if isinstance(value, bool):
        return Param(votable, name=key, datatype="boolean", value=value)
    if isinstance(value, int):
        return Param(votable, name=key, datatype="long", value=value)
    return Param(votable, name=key, datatype="double", value=value)


def _write_votable(job: _Job) -> None:
    from astropy.io.votable import from_table, writeto
    from astropy.io.votable.tree import CooSys, Info

    votable = from_table(to_astropy(job.df, {}, job.columns))
    resource = votable.resources[0]
    vtable = resource.tables[0]
    vtable.name = job.name
    for key, value in job.meta.items():
        if value is None or isinstance(value, str):
            # Provenance text: INFO elements of the resource (read back as str).
            resource.infos.append(Info(name=key, value="" if value is None else value))
        else:
            vtable.params.append(_vot_param(votable, key, value))
    names = [f.name for f in vtable.fields]
    if "ra" in names and "dec" in names:
        resource.coordinate_systems.append(CooSys(ID="icrs", system="ICRS"))
        for field in vtable.fields:
            if field.name in ("ra", "dec"):
                field.ref = "icrs"
    with open_output(job.tmp, compressed=job.compressed) as fh:
        writeto(votable, fh)


def _write_parquet(job: _Job) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(job.df, preserve_index=False)
    schema = describe_schema(table.schema, job.columns, job.meta)
    schema = length_metadata(schema, string_lengths(table))
    pq.write_table(table.cast(schema), job.tmp)


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
    columns: Mapping[str, Mapping[str, Any]] | None = None,
    name: str = "catalog",
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
        Table metadata, completed with ``origin``, ``date`` and ``creator``
        (:func:`~wise2spitzer.catalog.vo.standard_meta`). Stored as FITS header keywords
        (upper case, see :func:`~wise2spitzer.catalog.vo.fits_keyword`), ECSV metadata,
        VOTable ``INFO`` (text) and ``PARAM`` (numbers) elements, astropy's Parquet table
        metadata or, for CSV, in the sidecar ``<path>.meta.json``.
    overwrite : bool, default True
        If False, an existing ``path`` raises :class:`CatalogError`.
    columns : dict of str -> dict, optional
        Unit, UCD and description of columns the tool does not know
        (``{name: {"unit": ..., "ucd": ..., "description": ...}}``); default
        ``df.attrs["columns"]``, which :func:`~wise2spitzer.catalog.read_catalog` fills from
        the input file. Known columns always get the tool's own
        (:func:`~wise2spitzer.catalog.vo.column_meta`).
    name : str, default "catalog"
        Name of the table: FITS ``EXTNAME`` (upper case) and VOTable ``TABLE`` name.

    Returns
    -------
    pathlib.Path
        The written file.

    Notes
    -----
    The table is written to a hidden temporary file in the destination directory and moved
    into place with :func:`os.replace` (:func:`~wise2spitzer.catalog.atomic.atomic_output`),
    so an interrupted write never leaves a file that looks complete and an existing file is
    only replaced by a complete one. Every column carries its unit, UCD and description
    where the format can hold them (flux columns in uJy); plain CSV records them in its
    sidecar only, so prefer ECSV for a text format that keeps them (``docs/outputs.md``).

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
    clean_meta = standard_meta(check_meta(meta))
    if not isinstance(name, str) or not name.strip():
        raise CatalogError(f"name must be a non-empty string; got {name!r}")
    given = columns if columns is not None else df.attrs.get("columns")
    out = _prepare(df, path, overwrite)
    info = columns_meta(out.columns, given, flux=flux_columns_in(out))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # HIERARCH notices etc. are expected, not news
            with atomic_output(path, ending=spec.ending) as tmp:
                job = _Job(out, tmp, path, clean_meta, spec.compressed, info, name.strip())
                _WRITERS[spec.name](job)
    except CatalogError:
        raise
    except Exception as exc:  # noqa: BLE001 - a writer failure becomes one clear line
        raise CatalogError(
            f"cannot write {str(path)!r} as {spec.name.upper()}: {one_line(exc)}"
        ) from None
    return path
