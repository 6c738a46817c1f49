"""Read, write and validate photometric catalogues.

Every table that enters wise2spitzer goes through this module: a file in one of five formats
(CSV, ECSV, FITS, VOTable, Parquet), or one of the embedded datasets. Reading returns a
:class:`pandas.DataFrame` in the SEIP conventions of :mod:`wise2spitzer.schema` (flux densities
in uJy); every failure raises :class:`~wise2spitzer.errors.CatalogError` with a one-line
message that names the file and, where relevant, the column.

Conventions
-----------
- Masked values become NaN; byte strings are decoded to ``str``; multidimensional (array)
  columns are rejected because no model feature can use them.
- Flux columns (every :data:`~wise2spitzer.schema.BANDS` flux or error column, their
  ``true_`` noise-free copies and the prediction columns) are converted to uJy when the file
  gives them a flux-density unit (mJy, Jy, nJy, ...). A magnitude unit in a flux column is an
  error: the caller must convert magnitudes explicitly (:func:`wise2spitzer.mag_to_ujy`).
- Table metadata read from the file is returned in ``df.attrs["meta"]`` (a dict) and written
  from ``meta=`` by :func:`write_catalog`: FITS header keywords (``HIERARCH`` cards, or a
  ``COMMENT wise2spitzer-meta {...}`` line for values FITS cannot hold), ECSV and VOTable
  metadata (VOTable ``PARAM`` elements), Parquet schema metadata (key ``wise2spitzer.meta``,
  JSON). CSV has no header for it, so a JSON sidecar ``<file>.meta.json`` holds the metadata,
  the column dtypes (so that string columns such as ``cc_flags = '0000'`` stay strings) and the
  units; a CSV without a sidecar is read with type inference, ``cc_flags`` always as a string.
- :func:`read_catalog` reads the whole table into memory. Catalogues too large for that are
  streamed chunk by chunk by :mod:`wise2spitzer.batch`, which does not go through here.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import re
import secrets
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import CatalogError
from .schema import BANDS, ID_COLUMN, TARGETS, output_columns

__all__ = [
    "EMBEDDED_DATASETS",
    "FLUX_COLUMNS",
    "FORMATS",
    "NUMERIC_COLUMNS",
    "STRING_COLUMNS",
    "csv_sidecar",
    "embedded_name",
    "infer_format",
    "load_data",
    "measured",
    "read_catalog",
    "validate_catalog",
    "write_catalog",
]

#: Supported formats and the file name endings that select them.
FORMATS: dict[str, tuple[str, ...]] = {
    "csv": (".csv", ".csv.gz"),
    "ecsv": (".ecsv",),
    "fits": (".fits", ".fit", ".fits.gz", ".fit.gz"),
    "votable": (".vot", ".votable", ".xml"),
    "parquet": (".parquet", ".pq"),
}
_FORMAT_ALIASES = {"vot": "votable", "xml": "votable", "fit": "fits", "pq": "parquet"}

#: Names accepted by :func:`load_data` besides file paths.
EMBEDDED_DATASETS: tuple[str, ...] = ("simulated", "upper-sco")

_TARGET_PRED_COLUMNS = tuple(output_columns(t)[k] for t in TARGETS for k in ("pred", "lo", "hi"))
#: Columns that hold flux densities (uJy): band fluxes and errors, their noise-free ``true_``
#: copies and the predicted fluxes and interval bounds.
FLUX_COLUMNS: frozenset[str] = frozenset(
    [b.column for b in BANDS.values()]
    + [b.error_column for b in BANDS.values()]
    + [f"true_{b.column}" for b in BANDS.values()]
    + list(_TARGET_PRED_COLUMNS)
)
#: Known SEIP / AllWISE columns that must be numeric; text in them is an error.
NUMERIC_COLUMNS: frozenset[str] = FLUX_COLUMNS | frozenset(
    [f"wise{i}{q}" for i in range(1, 5) for q in ("rchi2", "m", "nm")]
    + [f"w{i}snr" for i in range(1, 5)]
    + [t.snr_column for t in TARGETS.values()]
    + ["ra", "dec", "glon", "glat", "ext_flg", "membership_prob"]
)
#: Columns that are always strings even when every value looks like a number.
STRING_COLUMNS: frozenset[str] = frozenset(["cc_flags"])
# The magnitude heuristic only looks at the WISE and Spitzer bands: catalogues often carry
# Gaia/2MASS magnitudes legitimately, and only WISE/Spitzer fluxes feed the model.
_MAG_CHECK_COLUMNS = tuple(
    b.column for b in BANDS.values() if b.instrument in ("WISE", "IRAC", "MIPS")
)
_NULL_TOKENS = frozenset(["", "nan", "null", "none", "na", "n/a", "--", "-", "masked"])
_SIDECAR_SUFFIX = ".meta.json"
_SIDECAR_KIND = "wise2spitzer-csv-sidecar"
_PARQUET_META_KEY = b"wise2spitzer.meta"
_FITS_COMMENT_TAG = "wise2spitzer-meta "


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------
def _one_line(exc: BaseException | str, limit: int = 240) -> str:
    """Squash an exception message onto one short line (the CLI prints one line)."""
    text = str(exc) if not isinstance(exc, BaseException) else (str(exc) or type(exc).__name__)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _allowed_endings() -> str:
    return ", ".join(f"{f} ({'/'.join(e)})" for f, e in FORMATS.items())


def infer_format(path: str | os.PathLike, *, format: str | None = None) -> str:
    """Return the canonical format name for ``path`` (or the explicit ``format``).

    Raises
    ------
    CatalogError
        If ``format`` is not one of :data:`FORMATS` or the file ending is not recognised.
    """
    if format is not None:
        key = str(format).strip().lower().lstrip(".")
        key = _FORMAT_ALIASES.get(key, key)
        if key not in FORMATS:
            raise CatalogError(
                f"format must be one of {sorted(FORMATS)}; got {format!r} (for {str(path)!r})"
            )
        return key
    name = Path(path).name.lower()
    for fmt, endings in FORMATS.items():
        if name.endswith(endings):
            return fmt
    raise CatalogError(
        f"cannot tell the format of {str(path)!r} from its name: allowed endings are "
        f"{_allowed_endings()}; or give the format explicitly (one of {sorted(FORMATS)})"
    )


def _sidecar_path(path: Path) -> Path:
    return path.with_name(path.name + _SIDECAR_SUFFIX)


def _flux_unit_factor(unit: Any, *, path: Path, column: str) -> float | None:
    """Multiplicative factor to uJy for a column unit; None when there is no unit."""
    import astropy.units as u

    if unit is None:
        return None
    if not isinstance(unit, u.UnitBase | u.FunctionUnitBase):
        text = str(unit).strip()
        if not text:
            return None
        unit = u.Unit(text, parse_strict="silent")
    text = str(unit)
    if isinstance(unit, u.FunctionUnitBase) or "mag" in text.lower():
        raise CatalogError(
            f"{str(path)!r}: column {column!r} has unit {text!r} (a magnitude) but a flux "
            f"density is expected; convert magnitudes to uJy first (wise2spitzer.mag_to_ujy)"
        )
    if isinstance(unit, u.UnrecognizedUnit):
        raise CatalogError(
            f"{str(path)!r}: column {column!r} has unit {text!r}, which is not a known unit; "
            f"expected a flux density such as uJy, mJy or Jy"
        )
    if unit == u.dimensionless_unscaled:
        return None
    try:
        return float(unit.to(u.uJy))
    except u.UnitConversionError:
        raise CatalogError(
            f"{str(path)!r}: column {column!r} has unit {text!r}, which is not a flux "
            f"density; expected uJy, mJy, Jy or another unit convertible to uJy"
        ) from None


def _apply_units(df: pd.DataFrame, units: Mapping[str, Any], *, path: Path) -> pd.DataFrame:
    """Convert flux columns with a flux-density unit to uJy (magnitudes are an error)."""
    for column, unit in units.items():
        if column not in FLUX_COLUMNS or column not in df.columns:
            continue
        factor = _flux_unit_factor(unit, path=path, column=column)
        if factor is not None and factor != 1.0:
            values = pd.to_numeric(df[column], errors="coerce")
            df[column] = values.astype(float) * factor
    return df


def _native(arr: np.ndarray) -> np.ndarray:
    # FITS data are big-endian; pandas needs native byte order for many operations.
    if arr.dtype.byteorder not in ("=", "|") and arr.dtype.byteorder != (
        "<" if np.little_endian else ">"
    ):
        return arr.astype(arr.dtype.newbyteorder("="))
    return arr


def _table_to_frame(table: Any, *, path: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Turn an astropy Table into a DataFrame (masked -> NaN, bytes decoded) and its units."""
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
        raw = np.asarray(col.data.data if hasattr(col.data, "mask") else col.data)
        raw = _native(raw)
        kind = raw.dtype.kind
        if kind in "iuf" or kind == "c":
            if mask.any():
                values = raw.astype(float)
                values[mask] = np.nan
            else:
                values = raw
            data[name] = values
        elif kind == "b":
            if mask.any():
                values = raw.astype(object)
                values[mask] = np.nan
            else:
                values = raw
            data[name] = values
        elif kind in "US":
            values = raw.astype(str).astype(object)
            values[mask] = np.nan
            data[name] = pd.array(values, dtype="str")
        else:  # object columns (e.g. VOTable variable-length char) stay as they are
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
            data[name] = values
    return pd.DataFrame(data), units


def _clean_meta_value(value: Any) -> Any:
    from astropy.io import fits

    if isinstance(value, fits.Undefined):
        return None
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


# --------------------------------------------------------------------------------------
# readers (each returns frame, units, meta)
# --------------------------------------------------------------------------------------
def _bad_csv_line(path: Path) -> str:
    """Locate the first row whose field count differs from the header (error path only)."""
    import gzip

    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rt", newline="", encoding="utf-8", errors="replace") as fh:
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


def _read_csv(path: Path) -> tuple[pd.DataFrame, dict[str, Any], dict[str, Any]]:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    with open(path, "rb") as fh:
        head = fh.read(16)
    if head.startswith(b"# %ECSV"):
        # ECSV is a CSV with a YAML header; astropy reads its types and units exactly.
        return _read_ecsv(path)

    sidecar = _load_sidecar(path)
    columns_info = sidecar.get("columns", {}) if sidecar else {}
    string_columns = set(STRING_COLUMNS) | {
        c
        for c, info in columns_info.items()
        if str(info.get("dtype", "")) in ("str", "object", "category")
    }
    column_types: dict[str, Any] = {c: pa.string() for c in string_columns}
    for _ in range(200):
        try:
            table = pacsv.read_csv(
                path,
                convert_options=pacsv.ConvertOptions(
                    column_types=column_types, strings_can_be_null=True
                ),
            )
            break
        except pa.ArrowInvalid as exc:
            # Type inference only sees the first block: a later text value in a numeric
            # column fails conversion. Re-read that column as text; validation then names
            # the offending row.
            match = re.search(r"In CSV column #(\d+): CSV conversion error", str(exc))
            if match is None:
                raise CatalogError(
                    f"cannot read {str(path)!r} as CSV: {_one_line(exc)}{_bad_csv_line(path)}"
                ) from None
            column_types[_csv_header(path)[int(match.group(1))]] = pa.string()
    else:  # pragma: no cover - every column re-read as text ends the loop long before
        raise CatalogError(f"cannot read {str(path)!r} as CSV: too many type conversions")
    names = table.column_names
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise CatalogError(f"{str(path)!r}: duplicated column names {dup}")
    n_rows = sidecar.get("n_rows") if sidecar else None
    if isinstance(n_rows, int) and n_rows != table.num_rows:
        # A CSV cut at a line end parses cleanly; the row count written alongside it is the
        # only way to tell.
        raise CatalogError(
            f"{str(path)!r} has {table.num_rows} rows but its sidecar "
            f"{_sidecar_path(path).name!r} records {n_rows}: the file is truncated or was "
            f"changed after writing (delete the sidecar if the change is intended)"
        )
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
    units = {c: info["unit"] for c, info in columns_info.items() if info.get("unit")}
    meta = dict(sidecar.get("meta", {})) if sidecar else {}
    return df, units, meta


def _csv_header(path: Path) -> list[str]:
    import gzip

    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rt", newline="", encoding="utf-8", errors="replace") as fh:
        return next(csv.reader(fh), [])


def _load_sidecar(path: Path) -> dict[str, Any] | None:
    side = _sidecar_path(path)
    if not side.is_file():
        return None
    try:
        content = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CatalogError(
            f"cannot read the metadata sidecar {str(side)!r} of {str(path)!r}: {_one_line(exc)}"
        ) from None
    if not isinstance(content, dict) or content.get("kind") != _SIDECAR_KIND:
        return None  # someone else's JSON file; not ours to interpret
    return content


def _read_ecsv(path: Path) -> tuple[pd.DataFrame, dict[str, Any], dict[str, Any]]:
    from astropy.table import Table

    table = Table.read(path, format="ascii.ecsv")
    df, units = _table_to_frame(table, path=path)
    meta = {str(k): _clean_meta_value(v) for k, v in table.meta.items()}
    return df, units, meta


def _read_fits(path: Path) -> tuple[pd.DataFrame, dict[str, Any], dict[str, Any]]:
    from astropy.table import Table

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = Table.read(path, format="fits")
    for w in caught:
        # astropy only warns when the data stop short of what the header announces.
        if "truncated" in str(w.message).lower():
            raise CatalogError(f"cannot read {str(path)!r} as FITS: {_one_line(w.message)}")
    df, units = _table_to_frame(table, path=path)
    meta: dict[str, Any] = {}
    for key, value in table.meta.items():
        if key in ("COMMENT", "HISTORY", "comments"):
            for line in value if isinstance(value, list) else [value]:
                line = str(line)
                if line.startswith(_FITS_COMMENT_TAG):
                    with contextlib.suppress(ValueError):  # not ours after all
                        meta.update(json.loads(line[len(_FITS_COMMENT_TAG) :]))
            continue
        if key in ("EXTNAME",):
            continue
        meta[str(key)] = _clean_meta_value(value)
    return df, units, meta


def _read_votable(path: Path) -> tuple[pd.DataFrame, dict[str, Any], dict[str, Any]]:
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
    df, units = _table_to_frame(table, path=path)
    for column in df.columns:
        # VOTable has no null for text: an empty string is how a masked value is written.
        if pd.api.types.is_string_dtype(df[column].dtype):
            df[column] = df[column].where(df[column] != "", np.nan)
    meta = {str(p.name): _clean_meta_value(p.value) for p in vtable.params}
    return df, units, meta


def _read_parquet(path: Path) -> tuple[pd.DataFrame, dict[str, Any], dict[str, Any]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    raw_meta = schema.metadata or {}
    if b"table_meta_yaml" in raw_meta:
        # Written by astropy: it stores units and meta in its own YAML header.
        from astropy.table import Table

        table = Table.read(path, format="parquet")
        df, units = _table_to_frame(table, path=path)
        meta = {str(k): _clean_meta_value(v) for k, v in table.meta.items()}
        return df, units, meta
    for field in schema:
        if pa.types.is_nested(field.type):
            raise CatalogError(
                f"{str(path)!r}: column {field.name!r} is multidimensional (type "
                f"{field.type}); only scalar columns are supported"
            )
    table = pq.read_table(path)
    df = table.to_pandas()
    if not isinstance(df.index, pd.RangeIndex):
        # A pandas-written index (e.g. objid) is data: give it back as a column.
        named = any(n is not None for n in df.index.names)
        df = df.reset_index(drop=not named)
    units = {}
    for field in schema:
        fmeta = field.metadata or {}
        if b"unit" in fmeta:
            units[field.name] = fmeta[b"unit"].decode("utf-8", "replace")
    meta = {}
    if _PARQUET_META_KEY in raw_meta:
        try:
            meta = dict(json.loads(raw_meta[_PARQUET_META_KEY]))
        except (ValueError, TypeError):
            meta = {}
    return df, units, meta


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
        The file. Its ending selects the format unless ``format`` is given: ``.csv``
        (``.csv.gz``), ``.ecsv``, ``.fits``/``.fit``/``.fits.gz``, ``.vot``/``.votable``/``.xml``,
        ``.parquet``/``.pq``.
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
    The whole table is read at once; very large catalogues are processed chunk by chunk by
    :mod:`wise2spitzer.batch` instead.

    Examples
    --------
    >>> import pandas as pd, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "cat.csv")
    >>> _ = write_catalog(pd.DataFrame({"objid": [1, 2], "wise4": [9000.0, 12000.0]}), path)
    >>> read_catalog(path)["wise4"].tolist()
    [9000.0, 12000.0]
    """
    path = Path(os.fspath(path))
    fmt = infer_format(path, format=format)
    if not path.exists():
        raise CatalogError(f"catalogue file not found: {str(path)!r}")
    if path.is_dir():
        raise CatalogError(f"{str(path)!r} is a directory, not a catalogue file")
    try:
        df, units, meta = _READERS[fmt](path)
    except CatalogError:
        raise
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - every reader failure becomes one clear line
        raise CatalogError(
            f"cannot read {str(path)!r} as {fmt.upper()} (malformed or truncated file?): "
            f"{_one_line(exc)}"
        ) from None
    if df.shape[1] == 0:
        raise CatalogError(f"{str(path)!r}: the table has no columns")
    if len(df) == 0:
        raise CatalogError(f"{str(path)!r}: the table is empty (no rows)")
    df = _apply_units(df, units, path=path)
    df.attrs["meta"] = meta
    return df


# --------------------------------------------------------------------------------------
# writers
# --------------------------------------------------------------------------------------
def _check_meta(meta: Mapping[str, Any] | None) -> dict[str, Any]:
    if meta is None:
        return {}
    if not isinstance(meta, Mapping):
        raise CatalogError(f"meta must be a dict of str -> scalar; got {type(meta).__name__}")
    out: dict[str, Any] = {}
    for key, value in meta.items():
        if not isinstance(key, str) or not key:
            raise CatalogError(f"meta keys must be non-empty strings; got {key!r}")
        value = _clean_meta_value(value)
        if value is not None and not isinstance(value, str | bool | int | float):
            raise CatalogError(
                f"meta[{key!r}] must be a str, int, float, bool or None; got {type(value).__name__}"
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise CatalogError(f"meta[{key!r}] must be finite; got {value!r}")
        out[key] = value
    return out


def _flux_columns_in(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if c in FLUX_COLUMNS and pd.api.types.is_numeric_dtype(df[c])]


def _normalise_column(series: pd.Series, *, path: Path) -> pd.Series:
    """Give object columns one type: text (``str`` dtype) or numbers; reject the rest."""
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


def _to_astropy(df: pd.DataFrame, meta: Mapping[str, Any]):
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
    for column in _flux_columns_in(df):
        table[column].unit = u.uJy
    table.meta.update(meta)
    return table


def csv_sidecar(columns: pd.DataFrame, n_rows: int, meta: Mapping[str, Any] | None) -> dict:
    """Content of the ``<file>.meta.json`` sidecar of a CSV catalogue.

    Parameters
    ----------
    columns : DataFrame
        Rows of the table (any number, even 0): only its columns and dtypes are used.
    n_rows : int
        Rows in the CSV file.
    meta : dict, optional
        Metadata as for :func:`write_catalog`.
    """
    flux = set(_flux_columns_in(columns))
    cols = {}
    for c in columns.columns:
        dtype = columns[c].dtype
        kind = "str" if pd.api.types.is_string_dtype(dtype) else str(dtype)
        cols[str(c)] = {"dtype": kind, **({"unit": "uJy"} if c in flux else {})}
    return {
        "kind": _SIDECAR_KIND,
        "version": 1,
        "n_rows": int(n_rows),
        "meta": _check_meta(meta),
        "columns": cols,
    }


def _write_csv(df: pd.DataFrame, tmp: Path, final: Path, meta: dict[str, Any]) -> list:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    # pyarrow writes several times faster than DataFrame.to_csv, with floats that read back
    # bit for bit; missing values are empty fields.
    table = pa.Table.from_pandas(df, preserve_index=False)
    options = pacsv.WriteOptions(quoting_style="needed")
    if tmp.name.lower().endswith(".gz"):
        with pa.CompressedOutputStream(str(tmp), "gzip") as stream:
            pacsv.write_csv(table, stream, write_options=options)
    else:
        pacsv.write_csv(table, str(tmp), write_options=options)
    side_tmp = tmp.with_name(tmp.name + _SIDECAR_SUFFIX)
    side_tmp.write_text(json.dumps(csv_sidecar(df, len(df), meta), indent=1), encoding="utf-8")
    # The sidecar is replaced first: a finished-looking CSV never pairs with a stale sidecar.
    return [(side_tmp, _sidecar_path(final))]


def _write_ecsv(df: pd.DataFrame, tmp: Path, final: Path, meta: dict[str, Any]) -> list:
    _to_astropy(df, meta).write(tmp, format="ascii.ecsv", overwrite=True)
    return []


_FITS_KEY = re.compile(r"^[A-Z0-9_-]{1,8}$")
_FITS_RESERVED = re.compile(
    r"^(SIMPLE|BITPIX|NAXIS\d*|EXTEND|XTENSION|PCOUNT|GCOUNT|TFIELDS|T[A-Z]+\d+|END|COMMENT|"
    r"HISTORY|EXTNAME)$"
)


def _write_fits(df: pd.DataFrame, tmp: Path, final: Path, meta: dict[str, Any]) -> list:
    from astropy.io import fits

    hdu = fits.table_to_hdu(_to_astropy(df, {}))
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
        hdu.header.add_comment(_FITS_COMMENT_TAG + json.dumps({key: value}))
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(tmp, overwrite=True)
    return []


def _write_votable(df: pd.DataFrame, tmp: Path, final: Path, meta: dict[str, Any]) -> list:
    from astropy.io.votable import from_table, writeto
    from astropy.io.votable.tree import Param

    votable = from_table(_to_astropy(df, {}))
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
    writeto(votable, str(tmp))
    return []


def _write_parquet(df: pd.DataFrame, tmp: Path, final: Path, meta: dict[str, Any]) -> list:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=False)
    flux = set(_flux_columns_in(df))
    fields = [
        f.with_metadata({**(f.metadata or {}), b"unit": b"uJy"}) if f.name in flux else f
        for f in table.schema
    ]
    schema_meta = dict(table.schema.metadata or {})
    schema_meta[_PARQUET_META_KEY] = json.dumps(meta).encode("utf-8")
    table = table.cast(pa.schema(fields, metadata=schema_meta))
    pq.write_table(table, tmp)
    return []


_WRITERS = {
    "csv": _write_csv,
    "ecsv": _write_ecsv,
    "fits": _write_fits,
    "votable": _write_votable,
    "parquet": _write_parquet,
}


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
        Destination; its ending selects the format unless ``format`` is given.
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
    into place with :func:`os.replace`, so an interrupted write never leaves a file that looks
    complete. Flux columns carry the unit uJy where the format has units (the CSV sidecar
    records it too).

    Raises
    ------
    CatalogError
        Unknown format, existing file with ``overwrite=False``, invalid ``meta``, a
        multidimensional column or any writer failure (the message names the file).
    """
    if not isinstance(df, pd.DataFrame):
        raise CatalogError(f"df must be a pandas DataFrame; got {type(df).__name__}")
    path = Path(os.fspath(path))
    fmt = infer_format(path, format=format)
    clean_meta = _check_meta(meta)
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
        out[column] = _normalise_column(out[column], path=path)
    # Keep the final ending on the temporary name: astropy and pandas pick compression
    # (.fits.gz, .csv.gz) from it.
    endings = [e for e in FORMATS[fmt] if path.name.lower().endswith(e)]
    ending = max(endings, key=len) if endings else FORMATS[fmt][0]
    tmp = _reserve_temp(path, ending)
    extra: list = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # HIERARCH notices etc. are expected, not news
            extra = _WRITERS[fmt](out, tmp, path, clean_meta)
        for src, dst in [*extra, (tmp, path)]:
            os.replace(src, dst)
    except CatalogError:
        raise
    except Exception as exc:  # noqa: BLE001 - a writer failure becomes one clear line
        raise CatalogError(
            f"cannot write {str(path)!r} as {fmt.upper()}: {_one_line(exc)}"
        ) from None
    finally:
        for leftover in [tmp] + [src for src, _ in extra]:
            if leftover.exists():
                leftover.unlink()
        side_tmp = tmp.with_name(tmp.name + _SIDECAR_SUFFIX)
        if side_tmp.exists():
            side_tmp.unlink()
    return path


def _reserve_temp(path: Path, ending: str) -> Path:
    """Create a hidden, empty temporary file next to ``path`` that keeps its ending.

    ``os.open`` with mode 0o666 lets the umask decide the permissions, as for any new file
    (``tempfile.mkstemp`` would leave the finished catalogue private to its owner).
    """
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp{ending}")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return tmp
    raise CatalogError(f"cannot create a temporary file next to {str(path)!r}")


# --------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------
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


def _is_null_token(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip().lower() in _NULL_TOKENS


def _to_numeric_column(series: pd.Series, *, source: str, column: str) -> pd.Series:
    """Convert an object/str column to float, naming the first offending value and row."""
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.astype(float)
    nulls = series.map(_is_null_token).astype(bool)
    cleaned = series.where(~nulls, np.nan)
    if pd.api.types.is_string_dtype(cleaned.dtype) or cleaned.dtype == object:
        cleaned = cleaned.map(lambda v: v.strip() if isinstance(v, str) else v)
    converted = pd.to_numeric(cleaned.astype(object), errors="coerce")
    bad = converted.isna() & ~nulls
    if bad.any():
        row = bad.idxmax()
        shown_row = _clean_meta_value(row)
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
        out[column] = _to_numeric_column(series, source=source, column=column)

    for column in _MAG_CHECK_COLUMNS:
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
            example = _clean_meta_value(dup.iloc[0])
            rows = [_clean_meta_value(r) for r in dup.index[dup == example][:3]]
            raise CatalogError(
                f"{source}: id column {id_column!r} has duplicated values, e.g. {example!r} "
                f"at rows {rows} ({dup.nunique()} duplicated id(s) in total)"
            )
    out.attrs = dict(df.attrs)
    return out


# --------------------------------------------------------------------------------------
# data loading
# --------------------------------------------------------------------------------------
def embedded_name(spec: Any) -> str | None:
    """The embedded dataset ``spec`` names (``"simulated"``, ``"upper-sco"``), else None.

    Case, ``_`` for ``-`` and a few aliases (``usco``, ``simulation``) are accepted.

    Examples
    --------
    >>> embedded_name("Upper_Sco"), embedded_name("my.fits")
    ('upper-sco', None)
    """
    if not isinstance(spec, str):
        return None
    key = spec.strip().lower().replace("_", "-")
    aliases = {"usco": "upper-sco", "upper-scorpius": "upper-sco", "simulation": "simulated"}
    key = aliases.get(key, key)
    return key if key in EMBEDDED_DATASETS else None


# Older name, kept for callers inside the package.


def load_data(
    spec: str | os.PathLike,
    *,
    random_state: int | None = 0,
    required: Iterable[str] = (),
) -> pd.DataFrame:
    """Load an embedded dataset by name or read and validate a catalogue file.

    Parameters
    ----------
    spec : str or path-like
        ``"simulated"``, ``"upper-sco"`` (see :mod:`wise2spitzer.datasets`) or a file path in
        any format :func:`read_catalog` reads.
    random_state : int, optional
        Seed of the simulated dataset (ignored for files and real data).
    required : iterable of str
        Columns a file must have (checked by :func:`validate_catalog`).

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    CatalogError
        Unknown name that is not an existing file (lists the embedded names), or any read or
        validation error of the file.
    """
    if isinstance(spec, str):
        key = embedded_name(spec)
        if key is not None and os.path.sep not in spec:
            from .datasets import load

            df = load(key, random_state=random_state)
            required = list(required)
            if required:
                df = validate_catalog(df, required=required, source=key)
            return df
    path = Path(os.fspath(spec))
    if not path.exists():
        looks_like_file = path.suffix != "" or os.path.sep in str(spec)
        what = "catalogue file not found" if looks_like_file else "unknown dataset"
        raise CatalogError(
            f"{what}: {str(spec)!r}; give a catalogue file or one of the embedded datasets "
            f"{list(EMBEDDED_DATASETS)}"
        )
    df = read_catalog(path)
    id_column = ID_COLUMN if ID_COLUMN in df.columns else None
    return validate_catalog(df, required=required, source=repr(str(path)), id_column=id_column)
