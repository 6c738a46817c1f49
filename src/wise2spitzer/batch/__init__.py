"""Chunked, resumable and distributed prediction for catalogues too big for memory.

A fitted :class:`~wise2spitzer.predictor.SpitzerPredictor` (or any object with
``predict_catalog(df, *, confidence=..., method=...) -> DataFrame``) is applied chunk by chunk:

* :func:`predict_file` streams a file (Parquet row batches, FITS memory-mapped row slices, CSV
  chunks; VOTable/ECSV are read whole because their parsers are not streaming), writes every
  finished chunk as a numbered part in a sidecar checkpoint directory, recorded with its size
  and SHA-256, and assembles the output at the end under a temporary name that is renamed
  atomically, so a partial file never looks finished. The checkpoint is keyed by a fingerprint
  of the input, of the model and of the options: a killed run started again with
  ``resume=True`` reuses the verified finished chunks and predicts only the rest, without
  duplicates. One run at a time writes an output (:func:`wise2spitzer.locking.output_lock`).
* ``engine="dask"`` sends the chunks to a Dask cluster (a local one by default) holding one copy
  of the model per worker; :func:`predict_dask` applies the model partition by partition to an
  lsdb (HATS) catalogue or a Dask DataFrame.
* Tables of other surveys are translated into the SEIP columns the models are trained on by
  the survey adapters of :mod:`wise2spitzer.catalog.surveys`, detected chunk by chunk: AllWISE
  itself (Vega magnitudes ``w#mpro``, :func:`from_allwise`, :data:`ALLWISE_COLUMN_MAP`) can be
  the input, and so can any registered survey.
* Reading in chunks and the file formats are :mod:`wise2spitzer.catalog`'s
  (:func:`iter_chunks`, :func:`count_rows`, :data:`FORMATS`), re-exported here.

Every input row comes out once, in input order, with the predictor's output columns appended
(``m1_f_pred, m1_f_pred_lo, m1_f_pred_hi, m1_pred_status`` or the ``i4_`` equivalents).

Modules: :mod:`.chunk` (:func:`predict_chunk`), :mod:`.fast` (:class:`FastPredictor`; its hull
test :class:`~wise2spitzer.domain.FastHull` lives in :mod:`wise2spitzer.domain`),
:mod:`.streaming` (:func:`predict_file` and its steps), :mod:`.checkpoint` (fingerprints,
parts and their records), :mod:`.assembly` (the output, its schema and metadata),
:mod:`.progress` (:class:`PredictionSummary`) and :mod:`.distributed` (Dask, lsdb).
"""

from __future__ import annotations

from ..catalog.formats import ENDING_FORMATS
from ..catalog.streaming import count_rows, iter_chunks
from ..catalog.surveys import ALLWISE_COLUMN_MAP, from_allwise, is_allwise
from ..domain import FastHull
from ..model.lean import LEAN_CANDIDATES, LeanForestResult, lean_forest
from .assembly import provenance, status_totals
from .checkpoint import input_fingerprint, model_fingerprint
from .chunk import predict_chunk
from .distributed import predict_dask
from .fast import FastPredictor
from .progress import PredictionSummary
from .streaming import ENGINES, predict_file

__all__ = [
    "ALLWISE_COLUMN_MAP",
    "ENGINES",
    "FORMATS",
    "LEAN_CANDIDATES",
    "FastHull",
    "FastPredictor",
    "LeanForestResult",
    "PredictionSummary",
    "count_rows",
    "from_allwise",
    "input_fingerprint",
    "is_allwise",
    "iter_chunks",
    "lean_forest",
    "model_fingerprint",
    "predict_chunk",
    "predict_dask",
    "predict_file",
    "provenance",
    "status_totals",
]

#: Input/output format by file-name ending: a view of the one format table
#: (:data:`wise2spitzer.catalog.FORMATS`), kept under its old name.
FORMATS: dict[str, str] = ENDING_FORMATS
