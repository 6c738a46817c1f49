"""Column and table metadata of Parquet files, in the form astropy reads back.

astropy's Parquet reader (``Table.read(path)``) takes units, descriptions, column ``meta``
(the UCD) and table ``meta`` from a YAML header in the schema metadata key
``table_meta_yaml``, and the length of text columns from ``table::len::<column>``. The whole-file
writer (:func:`~wise2spitzer.catalog.write_catalog`) and the streamed prediction output
(:mod:`wise2spitzer.batch.assembly`) both write Arrow data through pyarrow (nulls stay nulls,
pandas dtypes are kept) and attach that header with :func:`describe_schema`, built with
astropy's public :func:`astropy.table.meta.get_yaml_from_table`. Each field also carries
``unit``, ``ucd`` and ``description`` in its own Arrow metadata, for Arrow-native tools.

Reading (:func:`schema_columns`, :func:`schema_meta`) accepts that header, the per-field keys
and the JSON key ``wise2spitzer.meta`` of files written by earlier versions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..errors import CatalogError
from .metadata import PARQUET_META_KEY
from .vo import ColumnMeta

__all__ = [
    "ASTROPY_YAML_KEY",
    "astropy_header",
    "describe_schema",
    "length_metadata",
    "schema_columns",
    "schema_meta",
    "string_lengths",
]

#: Schema-metadata key of astropy's YAML header.
ASTROPY_YAML_KEY = b"table_meta_yaml"
_LEN_PREFIX = "table::len::"


def _is_text(t) -> bool:
    import pyarrow as pa

    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _template(schema, columns: Mapping[str, ColumnMeta], meta: Mapping[str, Any]):
    """A zero-row astropy Table with the schema's columns, their metadata and ``meta``."""
    import numpy as np
    import pyarrow as pa
    from astropy.table import Column, Table

    table = Table(meta=dict(meta))
    for field in schema:
        if _is_text(field.type) or pa.types.is_null(field.type):
            dtype = np.dtype("U1")
        else:
            try:
                dtype = np.dtype(field.type.to_pandas_dtype())
            except (NotImplementedError, TypeError):
                dtype = np.dtype(object)
        col = Column(np.zeros(0, dtype=dtype), name=field.name)
        info = columns.get(field.name) or ColumnMeta()
        if info.unit:
            col.unit = info.unit
        if info.description:
            col.description = info.description
        if info.ucd:
            col.meta["ucd"] = info.ucd
        table.add_column(col)
    return table


def describe_schema(schema, columns: Mapping[str, ColumnMeta], meta: Mapping[str, Any]):
    """``schema`` with units, UCDs, descriptions and table ``meta`` attached.

    Each field gets Arrow metadata ``unit``/``ucd``/``description``; the schema gets
    astropy's YAML header (key :data:`ASTROPY_YAML_KEY`), so ``astropy.table.Table.read``
    shows them. Text-column lengths are added with :func:`length_metadata`.
    """
    import warnings

    import pyarrow as pa
    from astropy.table.meta import get_yaml_from_table

    fields = []
    for field in schema:
        info = columns.get(field.name) or ColumnMeta()
        extra = {k: v for k, v in info._asdict().items() if v}
        fmeta = dict(field.metadata or {})
        fmeta.update({k.encode(): str(v).encode() for k, v in extra.items()})
        fields.append(field.with_metadata(fmeta or None))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unknown units of passed-through columns
        header = "\n".join(get_yaml_from_table(_template(schema, columns, meta)))
    schema_meta = {
        k: v for k, v in (schema.metadata or {}).items() if k not in (PARQUET_META_KEY,)
    }
    schema_meta[ASTROPY_YAML_KEY] = header.encode("utf-8")
    return pa.schema(fields, metadata=schema_meta)


def string_lengths(table, lengths: dict[str, int] | None = None) -> dict[str, int]:
    """Longest value (characters) of every text column of an Arrow table, merged into
    ``lengths`` (at least 1, as astropy needs)."""
    import pyarrow.compute as pc

    lengths = {} if lengths is None else lengths
    for name, col in zip(table.column_names, table.columns, strict=True):
        if _is_text(col.type):
            longest = pc.max(pc.utf8_length(col)).as_py() or 0
            lengths[name] = max(lengths.get(name, 1), int(longest), 1)
    return lengths


def length_metadata(schema, lengths: Mapping[str, int]):
    """``schema`` with astropy's ``table::len::<column>`` key for every text column."""
    extra = {
        f"{_LEN_PREFIX}{f.name}".encode(): str(int(lengths.get(f.name, 1))).encode()
        for f in schema
        if _is_text(f.type)
    }
    return schema.with_metadata({**(schema.metadata or {}), **extra})


def astropy_header(schema) -> dict | None:
    """astropy's YAML header of a Parquet schema (``datatype`` and ``meta``), or None.

    Raises
    ------
    CatalogError
        If the header is there but cannot be parsed.
    """
    raw = (schema.metadata or {}).get(ASTROPY_YAML_KEY)
    if not raw:
        return None
    from astropy.table.meta import get_header_from_yaml

    try:
        header = get_header_from_yaml(raw.decode("utf-8", "replace").split("\n"))
    except Exception as exc:  # noqa: BLE001 - a damaged header is the file's fault
        raise CatalogError(f"astropy's metadata of a Parquet file is unreadable: {exc}") from None
    return header if isinstance(header, dict) else None


def schema_columns(schema) -> dict[str, dict[str, str]]:
    """``{column: {"unit", "ucd", "description"}}`` of a Parquet schema (empty ones left out).

    astropy's header first, then each field's own ``unit``/``ucd``/``description`` keys.
    """
    out: dict[str, dict[str, str]] = {}
    header = astropy_header(schema) or {}
    for col in header.get("datatype", []) or []:
        if not isinstance(col, Mapping) or not isinstance(col.get("name"), str):
            continue
        cmeta = col.get("meta") if isinstance(col.get("meta"), Mapping) else {}
        entry = {
            "unit": col.get("unit"),
            "ucd": cmeta.get("ucd"),
            "description": col.get("description"),
        }
        entry = {k: str(v) for k, v in entry.items() if v}
        if entry:
            out[col["name"]] = entry
    for field in schema:
        fmeta = field.metadata or {}
        for key in ("unit", "ucd", "description"):
            if key.encode() in fmeta:
                value = fmeta[key.encode()].decode("utf-8", "replace")
                out.setdefault(field.name, {})[key] = value
    return out


def schema_meta(schema) -> dict[str, Any]:
    """Table metadata of a Parquet schema: astropy's header, else the older JSON key."""
    header = astropy_header(schema)
    if header is not None and isinstance(header.get("meta"), Mapping):
        return {
            str(k): v for k, v in header["meta"].items() if not str(k).startswith("__")
        }
    raw = (schema.metadata or {}).get(PARQUET_META_KEY)
    if raw:
        try:
            return dict(json.loads(raw))
        except (ValueError, TypeError):
            return {}
    return {}
