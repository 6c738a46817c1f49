"""Table metadata and the JSON sidecar of CSV catalogues.

Metadata travel in each format's own place (FITS header, ECSV/VOTable metadata, Parquet schema
key :data:`PARQUET_META_KEY`); CSV has no header for it, so ``<file>.meta.json``
(:func:`csv_sidecar`) holds the metadata, the column dtypes (so that text columns such as
``cc_flags = '0000'`` stay text), the units and the row count (so that a truncated CSV is
caught). Both the whole-file reader and the streaming reader take the text columns of a CSV
from :func:`text_columns`.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import CatalogError
from .columns import STRING_COLUMNS, flux_columns_in
from .messages import one_line

__all__ = [
    "FITS_COMMENT_TAG",
    "PARQUET_META_KEY",
    "SIDECAR_KIND",
    "SIDECAR_SUFFIX",
    "check_meta",
    "check_sidecar_rows",
    "clean_meta_value",
    "csv_sidecar",
    "load_sidecar",
    "sidecar_columns",
    "sidecar_path",
    "sidecar_units",
    "text_columns",
]

#: Ending added to a CSV file's name for its sidecar.
SIDECAR_SUFFIX = ".meta.json"
#: ``kind`` of our sidecars (a JSON file of someone else's is ignored).
SIDECAR_KIND = "wise2spitzer-csv-sidecar"
#: Parquet schema-metadata key of the table metadata (JSON).
PARQUET_META_KEY = b"wise2spitzer.meta"
#: Prefix of the FITS COMMENT line holding metadata FITS keywords cannot hold (JSON).
FITS_COMMENT_TAG = "wise2spitzer-meta "
# Sidecar dtypes that mean "read this column as text".
_TEXT_DTYPES = ("str", "object", "category")


def clean_meta_value(value: Any) -> Any:
    """A metadata (or index) value as a plain Python scalar (FITS undefined -> None)."""
    from astropy.io import fits

    if isinstance(value, fits.Undefined):
        return None
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def check_meta(meta: Mapping[str, Any] | None) -> dict[str, Any]:
    """Validate ``meta=`` of a writer: non-empty str keys, finite scalar (or None) values.

    Raises
    ------
    CatalogError
        Naming the offending key and the type received.
    """
    if meta is None:
        return {}
    if not isinstance(meta, Mapping):
        raise CatalogError(f"meta must be a dict of str -> scalar; got {type(meta).__name__}")
    out: dict[str, Any] = {}
    for key, value in meta.items():
        if not isinstance(key, str) or not key:
            raise CatalogError(f"meta keys must be non-empty strings; got {key!r}")
        value = clean_meta_value(value)
        if value is not None and not isinstance(value, str | bool | int | float):
            raise CatalogError(
                f"meta[{key!r}] must be a str, int, float, bool or None; got {type(value).__name__}"
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise CatalogError(f"meta[{key!r}] must be finite; got {value!r}")
        out[key] = value
    return out


def sidecar_path(path: str | os.PathLike) -> Path:
    """The sidecar of a CSV file: ``<file>.meta.json`` next to it."""
    path = Path(os.fspath(path))
    return path.with_name(path.name + SIDECAR_SUFFIX)


def load_sidecar(path: str | os.PathLike) -> dict[str, Any] | None:
    """The sidecar content of the CSV file ``path``; None when it has none (or not ours).

    Raises
    ------
    CatalogError
        If the sidecar exists but cannot be read or parsed.
    """
    side = sidecar_path(path)
    if not side.is_file():
        return None
    try:
        content = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CatalogError(
            f"cannot read the metadata sidecar {str(side)!r} of {str(path)!r}: {one_line(exc)}"
        ) from None
    if not isinstance(content, dict) or content.get("kind") != SIDECAR_KIND:
        return None  # someone else's JSON file; not ours to interpret
    return content


def text_columns(sidecar: Mapping[str, Any] | None) -> set[str]:
    """Columns of a CSV to read as text: :data:`STRING_COLUMNS` plus the sidecar's text ones."""
    info = (sidecar or {}).get("columns", {})
    if not isinstance(info, Mapping):
        info = {}
    return set(STRING_COLUMNS) | {
        str(c)
        for c, v in info.items()
        if isinstance(v, Mapping) and str(v.get("dtype", "")) in _TEXT_DTYPES
    }


def sidecar_units(sidecar: Mapping[str, Any] | None) -> dict[str, Any]:
    """``{column: unit}`` recorded in a CSV sidecar (columns without a unit left out)."""
    info = (sidecar or {}).get("columns", {})
    return {c: v["unit"] for c, v in info.items() if isinstance(v, Mapping) and v.get("unit")}


def sidecar_columns(sidecar: Mapping[str, Any] | None) -> dict[str, dict[str, str]]:
    """``{column: {"unit", "ucd", "description"}}`` recorded in a CSV sidecar."""
    info = (sidecar or {}).get("columns", {})
    info = info if isinstance(info, Mapping) else {}
    out = {}
    for c, v in info.items():
        if isinstance(v, Mapping):
            entry = {k: str(v[k]) for k in ("unit", "ucd", "description") if v.get(k)}
            if entry:
                out[str(c)] = entry
    return out


def csv_sidecar(
    columns: pd.DataFrame,
    n_rows: int,
    meta: Mapping[str, Any] | None,
    *,
    column_meta: Mapping[str, Any] | None = None,
) -> dict:
    """Content of the ``<file>.meta.json`` sidecar of a CSV catalogue.

    Parameters
    ----------
    columns : DataFrame
        Rows of the table (any number, even 0): only its columns and dtypes are used.
    n_rows : int
        Rows in the CSV file.
    meta : dict, optional
        Metadata as for :func:`~wise2spitzer.catalog.write_catalog`.
    column_meta : dict of str -> ColumnMeta, optional
        Unit, UCD and description per column
        (:func:`~wise2spitzer.catalog.vo.columns_meta`); by default flux columns get uJy.
    """
    flux = set(flux_columns_in(columns))
    cols = {}
    for c in columns.columns:
        dtype = columns[c].dtype
        kind = "str" if pd.api.types.is_string_dtype(dtype) else str(dtype)
        entry: dict[str, Any] = {"dtype": kind}
        if column_meta is not None and c in column_meta:
            entry.update({k: v for k, v in column_meta[c]._asdict().items() if v})
        elif c in flux:
            entry["unit"] = "uJy"
        cols[str(c)] = entry
    return {
        "kind": SIDECAR_KIND,
        "version": 1,
        "n_rows": int(n_rows),
        "meta": check_meta(meta),
        "columns": cols,
    }


def check_sidecar_rows(path: Path, sidecar: Mapping[str, Any] | None, n_rows: int) -> None:
    """Refuse a CSV whose row count differs from the one its sidecar recorded.

    A CSV cut at a line end parses cleanly; the row count written alongside it is the only
    way to tell, for whole-file and streamed reads alike.
    """
    expected = sidecar.get("n_rows") if sidecar else None
    if isinstance(expected, int) and expected != n_rows:
        raise CatalogError(
            f"{str(path)!r} has {n_rows} rows but its sidecar {sidecar_path(path).name!r} "
            f"records {expected}: the file is truncated or was changed after writing (delete "
            "the sidecar if the change is intended)"
        )
