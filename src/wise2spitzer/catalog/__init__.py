"""Read, write, stream and validate photometric catalogues.

Every table that enters wise2spitzer goes through this package: a file in one of five formats
(CSV, ECSV, FITS, VOTable, Parquet; the first four also gzip-compressed), one of the embedded
datasets, or a table of another survey (AllWISE) translated by a survey adapter. Reading returns
a :class:`pandas.DataFrame` in the SEIP conventions of :mod:`wise2spitzer.schema` (flux
densities in uJy); every failure raises :class:`~wise2spitzer.errors.CatalogError` with a
one-line message that names the file and, where relevant, the column.

One rule, one home:

- :mod:`~wise2spitzer.catalog.formats`: the format table (file endings, ``.gz``) and
  :func:`resolve_format`, used by every reader and writer, streaming included;
- :mod:`~wise2spitzer.catalog.columns`: flux, numeric and text columns;
- :mod:`~wise2spitzer.catalog.units`: flux units -> uJy, magnitudes refused;
- :mod:`~wise2spitzer.catalog.readers` / :mod:`~wise2spitzer.catalog.writers`: whole files;
- :mod:`~wise2spitzer.catalog.streaming`: chunked reading (:func:`iter_chunks`,
  :func:`count_rows`);
- :mod:`~wise2spitzer.catalog.atomic`: the one atomic writer (:func:`atomic_output`);
- :mod:`~wise2spitzer.catalog.metadata`: table metadata and the CSV sidecar;
- :mod:`~wise2spitzer.catalog.validation`: :func:`validate_catalog`, :func:`measured`;
- :mod:`~wise2spitzer.catalog.embedded`: :func:`load_data` and the embedded dataset names;
- :mod:`~wise2spitzer.catalog.surveys`: survey adapters and their registry.

Conventions
-----------
- Masked values become NaN; byte strings are decoded to ``str``; multidimensional (array)
  columns are rejected because no model feature can use them.
- Flux columns (every :data:`~wise2spitzer.schema.BANDS` flux or error column, their
  ``true_`` noise-free copies and the prediction columns) are converted to uJy when the file
  gives them a flux-density unit (mJy, Jy, nJy, ...). A magnitude unit in a flux column is an
  error: the caller must convert magnitudes explicitly (:func:`wise2spitzer.mag_to_ujy`).
- Table metadata read from the file is returned in ``df.attrs["meta"]`` (a dict) and written
  from ``meta=`` by :func:`write_catalog`, with ``origin``, ``date`` and ``creator`` added:
  FITS header keywords (upper case, ``HIERARCH`` for long keys, or a
  ``COMMENT wise2spitzer-meta {...}`` line for values FITS cannot hold; read back in lower
  case), ECSV metadata, VOTable ``INFO`` (text) and ``PARAM`` (numbers) elements, astropy's
  Parquet table metadata. CSV has no header for it, so a JSON sidecar ``<file>.meta.json``
  holds the metadata, the column dtypes (so that string columns such as ``cc_flags = '0000'``
  stay strings), units, UCDs and descriptions; a CSV without a sidecar is read with type
  inference, the columns of :data:`STRING_COLUMNS` always as strings.
- Every written column carries a unit, a UCD and a description where the format holds them
  (:mod:`~wise2spitzer.catalog.vo`: ours for known columns, the input's for the others, kept
  in ``df.attrs["columns"]`` by the readers); ``docs/outputs.md`` lists them.
- :func:`read_catalog` reads the whole table into memory; :func:`iter_chunks` streams
  catalogues too large for that, with the same rules.
"""

from __future__ import annotations

from .atomic import atomic_output, atomic_write_json, atomic_write_text
from .columns import FLUX_COLUMNS, NUMERIC_COLUMNS, STRING_COLUMNS
from .embedded import EMBEDDED_DATASETS, embedded_name, load_data
from .formats import (
    COMPRESSIBLE_FORMATS,
    ENDING_FORMATS,
    FORMATS,
    FormatSpec,
    infer_format,
    resolve_format,
)
from .metadata import csv_sidecar
from .readers import read_catalog
from .streaming import count_rows, iter_chunks
from .surveys import (
    SurveyAdapter,
    detect_survey,
    get_survey,
    register_survey,
    survey_names,
    unregister_survey,
)
from .units import apply_units, flux_unit_factor
from .validation import measured, validate_catalog
from .vo import ColumnMeta, column_meta, known_columns
from .writers import write_catalog

__all__ = [
    "COMPRESSIBLE_FORMATS",
    "EMBEDDED_DATASETS",
    "ENDING_FORMATS",
    "FLUX_COLUMNS",
    "FORMATS",
    "NUMERIC_COLUMNS",
    "STRING_COLUMNS",
    "ColumnMeta",
    "FormatSpec",
    "SurveyAdapter",
    "apply_units",
    "atomic_output",
    "atomic_write_json",
    "atomic_write_text",
    "column_meta",
    "count_rows",
    "csv_sidecar",
    "detect_survey",
    "embedded_name",
    "flux_unit_factor",
    "get_survey",
    "infer_format",
    "iter_chunks",
    "known_columns",
    "load_data",
    "measured",
    "read_catalog",
    "register_survey",
    "resolve_format",
    "survey_names",
    "unregister_survey",
    "validate_catalog",
    "write_catalog",
]
