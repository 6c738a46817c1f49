"""Read a whole catalogue file into a DataFrame in SEIP conventions (fluxes in uJy).

One reader per format returns ``(frame, units, meta)``; :func:`read_catalog` picks it with
:func:`~wise2spitzer.catalog.formats.resolve_format`, converts the flux columns with the one
unit rule (:mod:`wise2spitzer.catalog.units`) and turns every failure into a one-line
:class:`~wise2spitzer.errors.CatalogError` naming the file. Masked values become NaN, byte
strings are decoded to ``str`` and multidimensional (array) columns are rejected, because no
model feature can use them.
"""

from __future__ import annotations

import csv
import json
import os
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import CatalogError
from .arrowmeta import astropy_header, schema_columns, schema_meta
from .columns import FLUX_COLUMNS
from .formats import FormatSpec, open_input, resolve_format, text_stream
from .messages import one_line
from .metadata import (
    FITS_COMMENT_TAG,
    check_sidecar_rows,
    clean_meta_value,
    load_sidecar,
    sidecar_columns,
    sidecar_units,
    text_columns,
)
from .units import apply_units
from .vo import meta_key_from_fits

__all__ = [
    "parquet_units",
    "read_catalog",
    "read_fits_table",
    "refuse_truncated_fits",
    "table_columns",
    "table_to_frame",
]

_Read = tuple[pd.DataFrame, dict[str, Any], dict[str, Any]]
_TUCD = re.compile(r"^TUCD(\d+)$", re.IGNORECASE)


def _native(arr: np.ndarray) -> np.ndarray:
    # FITS data are big-endian; pandas needs native byte order for many operations.
    if arr.dtype.byteorder not in ("=", "|") and arr.dtype.byteorder != (
        "<" if np.little_endian else ">"
    ):
        return arr.astype(arr.dtype.newbyteorder("="))
    return arr


def _column_values(raw: np.ndarray, mask: np.ndarray, *, path: Path, name: str):
    """One astropy column as values pandas takes (masked -> NaN, text decoded)."""
    kind = raw.dtype.kind
    if kind in "iufc" or kind == "b":
        if not mask.any():
            return raw
        values = raw.astype(float if kind != "b" else object)
        values[mask] = np.nan
        return values
    if kind in "US":
        values = raw.astype(str).astype(object)
        values[mask] = np.nan
        return pd.array(values, dtype="str")
    # object columns (e.g. VOTable variable-length char) stay as they are
    values = raw.astype(object)
    if any(isinstance(v, np.ndarray | list | tuple) for v in values[:100]):
        raise CatalogError(
            f"{str(path)!r}: column {name!r} holds arrays (variable-length); only "
            f"scalar columns are supported"
        )
    values = np.array(
        [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in values],
        dtype=object,
    )
    values[mask] = np.nan
    return values


def table_to_frame(table: Any, *, path: str | os.PathLike) -> tuple[pd.DataFrame, dict]:
    """Turn an astropy Table into a DataFrame (masked -> NaN, bytes decoded) and its units.

    Returns
    -------
    (pandas.DataFrame, dict)
        The frame and ``{column: unit}`` for the columns that have a unit.

    Raises
    ------
    CatalogError
        A multidimensional or variable-length array column (names the file and column).
    """
    path = Path(os.fspath(path))
    table.convert_bytestring_to_unicode()
    data: dict[str, Any] = {}
    units: dict[str, Any] = {}
    for name in table.colnames:
        col = table[name]
        if col.ndim > 1:
            raise CatalogError(
                f"{str(path)!r}: column {name!r} is multidimensional (shape per row "
                f"{tuple(col.shape[1:])}); only scalar columns are supported"
            )
        if col.unit is not None:
            units[name] = col.unit
        mask = np.asarray(getattr(col, "mask", np.zeros(len(col), bool)), dtype=bool)
        if mask.shape != (len(col),):
            mask = np.zeros(len(col), bool)
        raw = _native(np.asarray(col.data.data if hasattr(col.data, "mask") else col.data))
        data[name] = _column_values(raw, mask, path=path, name=name)
    return pd.DataFrame(data), units


def table_columns(table: Any) -> dict[str, dict[str, str]]:
    """``{column: {"unit", "ucd", "description"}}`` of an astropy Table (empty ones left out).

    The UCD is the column's ``meta["ucd"]``, where astropy's VOTable, ECSV, FITS and Parquet
    readers put it.
    """
    out: dict[str, dict[str, str]] = {}
    for name in table.colnames:
        col = table[name]
        cmeta = getattr(col.info, "meta", None) or {}
        entry = {
            "unit": None if col.unit is None else col.unit.to_string(),
            "ucd": cmeta.get("ucd") if isinstance(cmeta, dict) else None,
            "description": None
            if col.info.description is None
            else " ".join(str(col.info.description).split()),
        }
        entry = {k: str(v) for k, v in entry.items() if v}
        if entry:
            out[name] = entry
    return out


# --------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------
def _csv_text(path: Path, compressed: bool):
    """The (decompressed) file as text for csv.reader, undecodable bytes replaced."""
    return text_stream(open_input(path, compressed=compressed), errors="replace")


def _bad_csv_line(path: Path, compressed: bool) -> str:
    """Locate the first row whose field count differs from the header (error path only)."""
    try:
        with _csv_text(path, compressed) as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None:
                return ""
            for row in reader:
                if len(row) != len(header) and row:
                    return f" (line {reader.line_num}: {len(row)} fields, header has {len(header)})"
    except (OSError, csv.Error, EOFError):
        pass
    return ""


def _csv_header(path: Path, compressed: bool) -> list[str]:
    with _csv_text(path, compressed) as fh:
        return next(csv.reader(fh), [])


def _read_csv_table(path: Path, spec: FormatSpec, column_types: dict):
    """The CSV as an Arrow table; text in a column typed numeric is re-read as text."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    for _ in range(200):
        try:
            compression = "gzip" if spec.compressed else None
            with pa.input_stream(str(path), compression=compression) as source:
                return pacsv.read_csv(
                    source,
                    convert_options=pacsv.ConvertOptions(
                        column_types=column_types, strings_can_be_null=True
                    ),
                )
        except pa.ArrowInvalid as exc:
            # Type inference only sees the first block: a later text value in a numeric
            # column fails conversion. Re-read that column as text; validation then names
            # the offending row.
            match = re.search(r"In CSV column #(\d+): CSV conversion error", str(exc))
            if match is None:
                raise CatalogError(
                    f"cannot read {str(path)!r} as CSV: {one_line(exc)}"
                    f"{_bad_csv_line(path, spec.compressed)}"
                ) from None
            header = _csv_header(path, spec.compressed)
            column_types[header[int(match.group(1))]] = pa.string()
    # every column re-read as text ends the loop long before
    raise CatalogError(f"cannot read {str(path)!r} as CSV: too many type conversions")


def _read_csv(path: Path, spec: FormatSpec) -> _Read:
    import pyarrow as pa

    with open_input(path, compressed=spec.compressed) as fh:
        head = fh.read(16)
    if head.startswith(b"# %ECSV"):
        # ECSV is a CSV with a YAML header; astropy reads its types and units exactly.
        return _read_ecsv(path, spec)

    sidecar = load_sidecar(path)
    columns_info = sidecar.get("columns", {}) if sidecar else {}
    table = _read_csv_table(path, spec, {c: pa.string() for c in text_columns(sidecar)})
    names = table.column_names
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise CatalogError(f"{str(path)!r}: duplicated column names {dup}")
    check_sidecar_rows(path, sidecar, table.num_rows)
    df = table.to_pandas()
    for column, info in columns_info.items():
        dtype = info.get("dtype")
        if column not in df.columns or not dtype or dtype in ("str", "object"):
            continue
        try:
            if df[column].isna().any() and np.dtype(dtype).kind in "iub":
                continue  # NaN cannot live in an int/bool column; keep the float values
            df[column] = df[column].astype(dtype)
        except (TypeError, ValueError):
            pass  # the sidecar describes a different file version; keep inferred types
    meta = dict(sidecar.get("meta", {})) if sidecar else {}
    df.attrs["columns"] = sidecar_columns(sidecar)
    return df, sidecar_units(sidecar), meta


# --------------------------------------------------------------------------------------
# astropy formats and Parquet
# --------------------------------------------------------------------------------------
def _read_ecsv(path: Path, spec: FormatSpec) -> _Read:
    from astropy.table import Table

    table = Table.read(path, format="ascii.ecsv")
    df, units = table_to_frame(table, path=path)
    df.attrs["columns"] = table_columns(table)
    meta = {str(k): clean_meta_value(v) for k, v in table.meta.items()}
    return df, units, meta


def refuse_truncated_fits(path: Path, caught: list) -> None:
    """Raise if astropy warned, while opening ``path``, that its data stop short."""
    for w in caught:
        # astropy only warns when the data stop short of what the header announces.
        if "truncated" in str(w.message).lower():
            raise CatalogError(f"cannot read {str(path)!r} as FITS: {one_line(w.message)}")


def read_fits_table(path: Path, **kwargs: Any):
    """``Table.read(path, format="fits")``, refusing a truncated file with one clear error.

    Every FITS read (whole file or streamed) goes through here, so a truncated file gives the
    same error, and astropy's own warning lines are not printed on top of it.
    """
    from astropy.table import Table

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = Table.read(path, format="fits", **kwargs)
    refuse_truncated_fits(path, caught)
    return table


def _comment_meta(lines: list[str]) -> dict[str, Any]:
    """Metadata of ``COMMENT wise2spitzer-meta {json}`` lines (a long one spans cards)."""
    meta: dict[str, Any] = {}
    for i, line in enumerate(lines):
        if not line.startswith(FITS_COMMENT_TAG):
            continue
        text = line[len(FITS_COMMENT_TAG) :]
        for follow in [""] + lines[i + 1 : i + 40]:
            text += follow
            try:
                meta.update(json.loads(text))
                break
            except ValueError:
                continue
    return meta


def _read_fits(path: Path, spec: FormatSpec) -> _Read:
    table = read_fits_table(path)
    df, units = table_to_frame(table, path=path)
    columns = table_columns(table)
    meta: dict[str, Any] = {}
    comments: list[str] = []
    for key, value in table.meta.items():
        if key in ("COMMENT", "HISTORY", "comments"):
            comments += [str(line) for line in (value if isinstance(value, list) else [value])]
            continue
        ucd = _TUCD.match(str(key))
        if ucd:
            # TUCDn: the UCD of column n, for tools that do not read astropy's block.
            n = int(ucd.group(1))
            if 0 < n <= len(table.colnames) and isinstance(value, str):
                columns.setdefault(table.colnames[n - 1], {}).setdefault("ucd", value)
            continue
        if key in ("EXTNAME",):
            continue
        # FITS keywords are case-insensitive: metadata keys come back in lower case.
        meta[meta_key_from_fits(str(key))] = clean_meta_value(value)
    meta.update(_comment_meta(comments))
    df.attrs["columns"] = columns
    return df, units, meta


def _read_votable(path: Path, spec: FormatSpec) -> _Read:
    from astropy.io.votable import parse

    with warnings.catch_warnings():
        # Sloppy but readable VOTables are common (archive output); only hard errors count.
        warnings.simplefilter("ignore")
        votable = parse(str(path))
    try:
        vtable = votable.get_first_table()
    except IndexError:
        raise CatalogError(f"{str(path)!r}: the VOTable contains no TABLE") from None
    table = vtable.to_table(use_names_over_ids=True)
    df, units = table_to_frame(table, path=path)
    for column in df.columns:
        # VOTable has no null for text: an empty string is how a masked value is written.
        if pd.api.types.is_string_dtype(df[column].dtype):
            df[column] = df[column].where(df[column] != "", np.nan)
    df.attrs["columns"] = table_columns(table)
    meta: dict[str, Any] = {}
    for resource in votable.resources:
        # INFO elements hold text provenance; a PARAM holds a typed value.
        meta.update({str(i.name): i.value for i in resource.infos if i.name})
    meta.update({str(p.name): clean_meta_value(p.value) for p in vtable.params})
    return df, units, meta


def parquet_units(schema: Any) -> dict[str, str]:
    """``{column: unit}`` of a Parquet schema: field metadata (key ``unit``), or the YAML
    header astropy writes (``table_meta_yaml``), so every reader honours the same units."""
    units = {}
    raw = (schema.metadata or {}).get(b"table_meta_yaml")
    if raw:
        from astropy.io.misc import yaml

        try:
            header = yaml.load(raw.decode("utf-8", "replace"))
        except Exception as exc:  # noqa: BLE001 - a damaged header is the file's fault
            raise CatalogError(
                f"astropy's metadata of a Parquet file is unreadable: {exc}"
            ) from None
        for col in (header or {}).get("datatype", []) if isinstance(header, dict) else []:
            if isinstance(col, dict) and col.get("unit") and isinstance(col.get("name"), str):
                units[col["name"]] = str(col["unit"])
    for field in schema:
        fmeta = field.metadata or {}
        if b"unit" in fmeta:
            units[field.name] = fmeta[b"unit"].decode("utf-8", "replace")
    return units


def _read_parquet(path: Path, spec: FormatSpec) -> _Read:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    header = astropy_header(schema) or {}
    if "__serialized_columns__" in (header.get("meta") or {}):
        # Written by astropy with mixin or masked columns encoded its own way.
        from astropy.table import Table

        table = Table.read(path, format="parquet")
        df, units = table_to_frame(table, path=path)
        df.attrs["columns"] = table_columns(table)
        meta = {str(k): clean_meta_value(v) for k, v in table.meta.items()}
        return df, units, meta
    for field in schema:
        if pa.types.is_nested(field.type):
            raise CatalogError(
                f"{str(path)!r}: column {field.name!r} is multidimensional (type "
                f"{field.type}); only scalar columns are supported"
            )
    df = pq.read_table(path).to_pandas()
    if not isinstance(df.index, pd.RangeIndex):
        # A pandas-written index (e.g. objid) is data: give it back as a column.
        named = any(n is not None for n in df.index.names)
        df = df.reset_index(drop=not named)
    df.attrs["columns"] = schema_columns(schema)
    return df, parquet_units(schema), schema_meta(schema)


_READERS = {
    "csv": _read_csv,
    "ecsv": _read_ecsv,
    "fits": _read_fits,
    "votable": _read_votable,
    "parquet": _read_parquet,
}


def read_catalog(path: str | os.PathLike, *, format: str | None = None) -> pd.DataFrame:
    """Read a catalogue file into a DataFrame with flux columns in uJy.

    Parameters
    ----------
    path : str or path-like
        The file. Its ending selects the format unless ``format`` is given: ``.csv``,
        ``.ecsv``, ``.fits``/``.fit``/``.fts``, ``.vot``/``.votable``/``.xml``, each also
        gzip-compressed (``.csv.gz``, ``.fits.gz``, ...), and ``.parquet``/``.pq`` (see
        :data:`~wise2spitzer.catalog.FORMATS`).
    format : {"csv", "ecsv", "fits", "votable", "parquet"}, optional
        Explicit format, overriding the file ending.

    Returns
    -------
    pandas.DataFrame
        One row per source, a default RangeIndex; masked values are NaN and flux columns are in
        uJy. The file's table metadata is in ``df.attrs["meta"]``.

    Raises
    ------
    CatalogError
        When the file is missing, of an unknown format, malformed or truncated, empty, has a
        multidimensional column, or a flux column with a magnitude or non-flux unit. The
        message names the file (and the column).

    Notes
    -----
    The whole table is read at once; very large catalogues are read chunk by chunk by
    :func:`~wise2spitzer.catalog.streaming.iter_chunks` instead.

    Examples
    --------
    >>> import pandas as pd, tempfile, os
    >>> from wise2spitzer.catalog import write_catalog
    >>> path = os.path.join(tempfile.mkdtemp(), "cat.csv")
    >>> _ = write_catalog(pd.DataFrame({"objid": [1, 2], "wise4": [9000.0, 12000.0]}), path)
    >>> read_catalog(path)["wise4"].tolist()
    [9000.0, 12000.0]
    """
    path = Path(os.fspath(path))
    spec = resolve_format(path, format=format)
    if not path.exists():
        raise CatalogError(f"catalogue file not found: {str(path)!r}")
    if path.is_dir():
        raise CatalogError(f"{str(path)!r} is a directory, not a catalogue file")
    try:
        df, units, meta = _READERS[spec.name](path, spec)
    except CatalogError:
        raise
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - every reader failure becomes one clear line
        raise CatalogError(
            f"cannot read {str(path)!r} as {spec.name.upper()} (malformed or truncated file?): "
            f"{one_line(exc)}"
        ) from None
    if df.shape[1] == 0:
        raise CatalogError(f"{str(path)!r}: the table has no columns")
    if len(df) == 0:
        raise CatalogError(f"{str(path)!r}: the table is empty (no rows)")
    df = apply_units(df, units, path=path)
    columns = df.attrs.get("columns", {})
    for column in FLUX_COLUMNS & set(columns) & set(units):
        columns[column]["unit"] = "uJy"  # converted by apply_units
    df.attrs["columns"] = columns
    df.attrs["meta"] = meta
    return df
