"""Assembling the output of a streamed prediction from its checkpoint parts.

The parts are concatenated in chunk order into the output through one atomic write, so a
partial output never looks finished. Every part is conformed to one output schema first
(:func:`output_schema`): a column has the type a read of the whole input would give it,
whichever chunk its values came in (text in a flux column that appears only in a later CSV
chunk makes the column text in every chunk instead of failing the run). The output's metadata
(:func:`provenance`, completed by :func:`~wise2spitzer.catalog.vo.standard_meta`) says what
produced it, and every column carries its unit, UCD and description
(:func:`~wise2spitzer.catalog.vo.columns_meta`: ours for known columns, the input's for the
others) in every format, Parquet included (astropy's ``table_meta_yaml`` header).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

from ..catalog.arrowmeta import describe_schema, length_metadata, string_lengths
from ..catalog.atomic import atomic_output, atomic_write_json
from ..catalog.columns import FLUX_COLUMNS
from ..catalog.formats import FormatSpec, open_output, text_stream
from ..catalog.metadata import csv_sidecar, sidecar_path
from ..catalog.vo import ColumnMeta, columns_meta, standard_meta
from ..errors import CatalogError
from ..schema import STATUSES
from .checkpoint import part_path, read_part, write_failure
from .fast import output_names
from .progress import PredictionSummary

__all__ = [
    "assemble",
    "conform",
    "count_statuses",
    "output_schema",
    "provenance",
    "status_totals",
]


def provenance(
    predictor: Any, *, confidence: float, method: str | None, model_hash: str | None = None
) -> dict[str, Any]:
    """What produced a prediction file: written into its metadata (header, schema, sidecar).

    Holds the creator, the model's target, sample and feature set, the interval method
    actually used (the model's default when ``method`` is None), its confidence and, for
    the conformal interval, how the tails were calibrated, and the model fingerprint.
    """
    from .. import __version__

    p = getattr(predictor, "predictor", predictor)  # a FastPredictor wraps the predictor
    reg = getattr(p, "regressor", None)
    chosen = method if method is not None else getattr(reg, "interval_method_", None)
    target = getattr(p, "target", None)
    meta: dict[str, Any] = {
        "creator": f"wise2spitzer {__version__} predict",
        "target": getattr(target, "key", None),
        "target_column": getattr(target, "column", None),
        "model_sample": getattr(p, "sample", None),
        "feature_set": getattr(p, "feature_set", None),
        "interval_method": chosen,
        "interval_confidence": float(confidence),
        "flux_unit": "uJy",
        "model_sha256": model_hash,
    }
    if chosen == "conformal" and reg is not None:
        meta["conformal_tails"] = getattr(reg, "conformal_tails", "symmetric")
        meta["conformal_score"] = getattr(reg, "conformal_score_", None)
    members = getattr(predictor, "members", None)
    if members:  # a bundle: which models answer, band by band
        meta["target"] = ",".join(dict.fromkeys(m.target.key for m in members))
        meta["target_column"] = ",".join(dict.fromkeys(m.target.column for m in members))
        meta["model_sample"] = "; ".join(
            f"{t}: {','.join(m.sample for m in members if m.target.key == t)}"
            for t in dict.fromkeys(m.target.key for m in members))
        meta["feature_set"] = ",".join(dict.fromkeys(m.feature_set for m in members))
        if method is None:
            meta["interval_method"] = ",".join(
                dict.fromkeys(m.regressor.interval_method_ for m in members))
    return meta


# --------------------------------------------------------------------------------------------
# Status counts
# --------------------------------------------------------------------------------------------
def count_statuses(table, counts: dict[str, Counter]) -> None:
    """Add the rows per value of every ``*_pred_status`` column of an Arrow table to ``counts``."""
    import pyarrow.compute as pc

    for name in table.column_names:
        if name.endswith("_pred_status"):
            tally = pc.value_counts(table.column(name)).to_pylist()
            counts.setdefault(name, Counter()).update(
                {str(d["values"]): int(d["counts"]) for d in tally}
            )


def status_totals(summary_or_df) -> dict[str, int]:
    """Total rows per status over every status column (for reports)."""
    if isinstance(summary_or_df, PredictionSummary):
        counts = summary_or_df.status_counts
    else:
        import pyarrow as pa

        df = summary_or_df
        status = [c for c in df.columns if str(c).endswith("_pred_status")]
        c: dict[str, Counter] = {}
        count_statuses(pa.table({str(k): df[k].astype(str).to_numpy() for k in status}), c)
        counts = {k: dict(v) for k, v in c.items()}
    totals: Counter = Counter()
    for per in counts.values():
        totals.update(per)
    return {s: totals.get(s, 0) for s in STATUSES} | {
        s: n for s, n in totals.items() if s not in STATUSES
    }


# --------------------------------------------------------------------------------------------
# One schema for every part
# --------------------------------------------------------------------------------------------
def _common_type(types: list):
    """The type of a column whose parts have ``types``: numbers widen, else text."""
    import pyarrow as pa

    kinds = list(dict.fromkeys(t for t in types if not pa.types.is_null(t)))
    if not kinds:
        return pa.null()
    if len(kinds) == 1:
        return kinds[0]
    if all(pa.types.is_integer(t) for t in kinds):
        return pa.int64()
    if all(pa.types.is_integer(t) or pa.types.is_floating(t) for t in kinds):
        return pa.float64()
    if any(pa.types.is_large_string(t) for t in kinds):
        return pa.large_string()
    return pa.string()


def output_schema(schemas: list):
    """One schema for parts with the ``schemas`` given, in chunk order.

    When every part has the same schema it is the first part's. Otherwise each column gets
    the type of its values in every part: integers and floats widen to float64, a column
    holding text in any part (or types that do not mix) becomes text, and all-null parts
    take the others' type. The result does not depend on where the chunks were cut.

    Raises
    ------
    CatalogError
        If a part has other columns than the first.
    """
    import pyarrow as pa

    first = schemas[0]
    for i, schema in enumerate(schemas):
        if schema.names != first.names:
            raise CatalogError(
                f"chunk {i} has columns {schema.names} but the first chunk had {first.names}"
            )
    if all(s.equals(first) for s in schemas[1:]):
        return first
    fields = [
        pa.field(name, _common_type([s.field(j).type for s in schemas]))
        for j, name in enumerate(first.names)
    ]
    # pandas' own metadata would describe the first part's dtypes, not these.
    meta = {k: v for k, v in (first.metadata or {}).items() if k != b"pandas"}
    return pa.schema(fields, metadata=meta or None)


def conform(table, schema, i: int):
    """Cast part ``i`` to the output ``schema`` (see :func:`output_schema`)."""
    if table.schema.equals(schema):
        return table
    try:
        return table.cast(schema)
    except Exception as exc:  # pyarrow raises several unrelated types for a failed cast
        raise CatalogError(
            f"chunk {i} has column types that do not match the other chunks ({exc})"
        ) from exc


def _read(ckpt: Path, i: int):
    import pyarrow as pa

    try:
        return read_part(ckpt, i)
    except (OSError, pa.ArrowInvalid) as exc:
        raise CatalogError(
            f"checkpoint part {str(part_path(ckpt, i))!r} cannot be read ({exc}); run again "
            "with --resume to predict its chunk again"
        ) from exc


def _parts(ckpt: Path, n_chunks: int, schema):
    for i in range(n_chunks):
        yield conform(_read(ckpt, i), schema, i)


# --------------------------------------------------------------------------------------------
# Writing the output, one function per kind of format
# --------------------------------------------------------------------------------------------
def _repetitive(column) -> bool:
    """Whether a text column repeats its values enough for dictionary encoding."""
    import pyarrow.compute as pc

    n = len(column)
    return n == 0 or pc.count_distinct(column).as_py() <= n // 4


def _write_parquet(tmp: Path, parts, schema, meta: dict, counts, info, lengths) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer = None
    rows = 0
    try:
        for table in parts:
            if writer is None:
                # Dictionary encoding pays off for codes and statuses only: on float columns
                # and unique names (designations) it costs several times the write time for
                # a larger file.
                text = [
                    f.name
                    for f in schema
                    if (pa.types.is_string(f.type) or pa.types.is_large_string(f.type))
                    and _repetitive(table.column(f.name))
                ]
                # Units, UCDs, descriptions and provenance where astropy's Table.read (and
                # read_catalog) find them.
                described = length_metadata(describe_schema(schema, info, meta), lengths)
                writer = pq.ParquetWriter(tmp, described, use_dictionary=text or False)
            writer.write_table(table.cast(described))
            rows += table.num_rows
            count_statuses(table, counts)
    finally:
        if writer is not None:
            writer.close()
    return rows


def _write_empty_parquet(tmp: Path, predictor, meta: dict) -> None:
    """An empty input still gives a valid, empty (described) file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = output_names(predictor) or []
    table = pa.table({n: pa.array([], pa.string()) for n in names})
    info = columns_meta(names)
    pq.write_table(table.cast(describe_schema(table.schema, info, meta)), tmp)


def _write_csv(tmp: Path, output: Path, spec: FormatSpec, parts, meta: dict, counts, info) -> int:
    columns = pd.DataFrame()  # the first part's columns and dtypes, for the sidecar
    rows = 0
    with text_stream(open_output(tmp, compressed=spec.compressed)) as fh:
        for i, table in enumerate(parts):
            count_statuses(table, counts)
            df = table.to_pandas()
            df.to_csv(fh, header=(i == 0), index=False)
            rows += len(df)
            if i == 0:
                columns = df.iloc[:0]
    # The sidecar first: a finished-looking CSV never pairs with a stale sidecar.
    atomic_write_json(
        sidecar_path(output), csv_sidecar(columns, rows, meta, column_meta=info)
    )
    return rows


def _write_whole(output: Path, spec: FormatSpec, parts, meta: dict, counts, given) -> int:
    """FITS, VOTable and ECSV are not appendable: the whole table is built once here."""
    from ..catalog import write_catalog

    frames = []
    for table in parts:
        count_statuses(table, counts)
        frames.append(table.to_pandas())
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    # write_catalog writes atomically itself and names ``output`` in its messages.
    write_catalog(
        df, output, format=spec.name, overwrite=True, meta=meta, columns=given,
        name="predictions",
    )
    return len(df)


def _column_info(schema, given: dict | None) -> dict[str, ColumnMeta]:
    """Unit, UCD and description of every output column (flux columns in uJy)."""
    import pyarrow as pa

    flux = [
        f.name
        for f in schema
        if f.name in FLUX_COLUMNS and (pa.types.is_integer(f.type) or pa.types.is_floating(f.type))
    ]
    return columns_meta(schema.names, given, flux=flux)


def assemble(
    ckpt: Path,
    n_chunks: int,
    output: Path,
    out_spec: FormatSpec,
    summary: PredictionSummary,
    predictor: Any,
    meta: dict | None = None,
    columns: dict | None = None,
) -> None:
    """Concatenate the parts, in order, into ``output`` through one atomic write.

    ``meta`` is the provenance (:func:`provenance`); ``columns`` what the input said about its
    columns (``{name: {"unit", "ucd", "description"}}``), kept for the columns the tool does
    not describe itself. Sets ``summary.rows_out`` and ``summary.status_counts``.

    Raises
    ------
    CatalogError
        A part that cannot be read, parts whose columns differ, or a failed write (disk full,
        file-size limit: "could not write ...: No space left on device"); the temporary file
        is removed and an existing ``output`` is left untouched.
    """
    counts: dict[str, Counter] = {}
    schemas = [_read(ckpt, i).schema for i in range(n_chunks)]
    schema = output_schema(schemas) if schemas else None
    parts = _parts(ckpt, n_chunks, schema)
    try:
        if out_spec.name not in ("parquet", "csv"):
            rows = _write_whole(output, out_spec, parts, dict(meta or {}), counts, columns)
        else:
            full_meta = standard_meta(meta)
            # The temporary file keeps the output's ending (.csv.gz): gzip is honoured.
            with atomic_output(output, ending=out_spec.ending) as tmp:
                if schema is None:
                    rows = 0
                    if out_spec.name == "parquet":
                        _write_empty_parquet(tmp, predictor, full_meta)
                    else:
                        rows = _write_csv(tmp, output, out_spec, parts, full_meta, counts, {})
                elif out_spec.name == "parquet":
                    lengths: dict[str, int] = {}
                    for table in _parts(ckpt, n_chunks, schema):
                        string_lengths(table, lengths)  # astropy needs each text length
                    info = _column_info(schema, columns)
                    rows = _write_parquet(tmp, parts, schema, full_meta, counts, info, lengths)
                else:
                    info = _column_info(schema, columns)
                    rows = _write_csv(tmp, output, out_spec, parts, full_meta, counts, info)
    except OSError as exc:
        raise write_failure(output, exc) from exc
    summary.rows_out = rows
    summary.status_counts = {k: dict(v) for k, v in counts.items()}
