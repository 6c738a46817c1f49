"""Read catalogues too large for memory chunk by chunk, and count their rows cheaply.

Parquet (a file, a directory of parts or a HATS catalogue) is read by row batches, FITS through
a memory map in row slices (gzipped FITS is decompressed on the fly) and CSV by pandas chunks,
so memory stays bounded; VOTable and ECSV are read whole by
:func:`~wise2spitzer.catalog.read_catalog` (their parsers are not streaming) and then sliced.
Every chunk follows the same rules as a whole-file read: the format table of
:mod:`wise2spitzer.catalog.formats`, the text columns of
:func:`~wise2spitzer.catalog.metadata.text_columns` and the flux-unit rule of
:mod:`wise2spitzer.catalog.units` (checked once per file, applied to every chunk).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import CatalogError, ModelError
from .arrowmeta import schema_columns
from .columns import FLUX_COLUMNS
from .formats import FormatSpec, resolve_format
from .metadata import (
    check_sidecar_rows,
    load_sidecar,
    sidecar_columns,
    sidecar_units,
    text_columns,
)
from .readers import (
    parquet_units,
    read_catalog,
    read_fits_table,
    refuse_truncated_fits,
    table_columns,
)
from .units import apply_flux_factors, flux_factors

__all__ = [
    "check_chunksize",
    "count_rows",
    "fits_chunk",
    "fits_table_hdu",
    "hats_product",
    "iter_chunks",
    "parquet_files",
    "stream_format",
]


def stream_format(
    path: str | os.PathLike, format: str | None = None, *, what: str = "input"
) -> FormatSpec:
    """The format of a streamed input or output: a directory is Parquet (parts or HATS).

    Otherwise as :func:`~wise2spitzer.catalog.formats.resolve_format`, with ``what`` naming
    the file's role in messages.
    """
    path = Path(os.fspath(path))
    if format is None and path.is_dir():
        return FormatSpec("parquet", False, "")
    return resolve_format(path, format=format, what=what)


def check_chunksize(chunksize: Any) -> int:
    """``chunksize`` as a positive int.

    Raises
    ------
    ModelError
        If it is not a positive integer (names the value received).
    """
    if isinstance(chunksize, bool) or not isinstance(chunksize, (int, np.integer)):
        raise ModelError(f"chunksize must be a positive integer; got {chunksize!r}")
    if chunksize < 1:
        raise ModelError(f"chunksize must be a positive integer; got {chunksize!r}")
    return int(chunksize)


def hats_product(root: Path) -> str | None:
    """``dataproduct_type`` of a HATS catalogue (object, margin, index, association...)."""
    for name in ("hats.properties", "properties"):
        f = root / name
        if f.is_file():
            for line in f.read_text(errors="replace").splitlines():
                key, _, value = line.partition("=")
                if key.strip() == "dataproduct_type":
                    return value.strip()
    return None


def _pixel_order(path: Path):
    """Sort key of Parquet parts: HEALPix parts by order then pixel number, not as strings."""

    def key(p: Path) -> tuple:
        rel = p.relative_to(path)
        return tuple(
            (0, int(s.split("=")[1].split(".")[0]), s)
            if "=" in s and s.split("=")[1].split(".")[0].isdigit()
            else (1, 0, s)
            for s in rel.parts
        )

    return key


def parquet_files(path: Path) -> list[Path]:
    """The data files of a Parquet file, a directory of parts or a HATS catalogue, in order.

    Raises
    ------
    CatalogError
        A directory without Parquet data files, or a HATS collection without an object
        catalogue.
    """
    path = Path(path)
    if not path.is_dir():
        return [path]
    # HATS catalogues keep their rows under <catalogue>/dataset; the catalogue root also holds
    # Parquet files that are not rows (per-partition statistics), and a collection holds
    # margin caches that repeat rows near pixel edges: only the object catalogues are read.
    hats_roots = sorted(
        {p.parent for name in ("hats.properties", "properties") for p in path.rglob(name)}
    )
    datasets = [
        r / "dataset"
        for r in hats_roots
        if (r / "dataset").is_dir() and hats_product(r) in ("object", "source", "catalog", None)
    ]
    if hats_roots:
        if not datasets:
            raise CatalogError(f"input {str(path)!r} holds no HATS object catalogue")
        return [f for d in datasets for f in parquet_files(d)]
    files = [
        p
        for p in path.rglob("*.parquet")
        if not any(part.startswith(("_", ".")) for part in p.relative_to(path).parts)
    ]
    if not files:
        raise CatalogError(f"input directory {str(path)!r} holds no .parquet data files")
    return sorted(files, key=_pixel_order(path))


def fits_table_hdu(hdul, path: Path):
    """The first table extension of an open FITS file.

    Raises
    ------
    CatalogError
        If the file has no table extension.
    """
    from astropy.io import fits

    for hdu in hdul:
        if isinstance(hdu, (fits.BinTableHDU, fits.TableHDU)):
            return hdu
    raise CatalogError(f"FITS input {str(path)!r} has no table extension")


def count_rows(path: str | os.PathLike, *, format: str | None = None) -> int | None:
    """Number of rows of a Parquet or FITS input read from its metadata (None for the others)."""
    path = Path(path)
    fmt = stream_format(path, format).name
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return sum(pq.ParquetFile(p).metadata.num_rows for p in parquet_files(path))
    if fmt == "fits":
        from astropy.io import fits

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with fits.open(path, memmap=True) as hdul:
                n = int(fits_table_hdu(hdul, path).header["NAXIS2"])
        refuse_truncated_fits(path, caught)
        return n
    return None


def fits_chunk(table, start: int, stop: int, *, factors: dict[str, float]) -> pd.DataFrame:
    """Rows ``start:stop`` of an astropy Table as pandas, flux columns scaled by ``factors``.

    ``factors`` comes from :func:`~wise2spitzer.catalog.units.flux_factors` on the table's
    units (checked once per file).
    """
    sub = table[start:stop]
    # FITS strings are bytes; the rest of the package (cc_flags == "0000") expects str.
    sub.convert_bytestring_to_unicode()
    df = sub.to_pandas().reset_index(drop=True)
    return apply_flux_factors(df, factors)


def _described(df: pd.DataFrame, columns: dict, units: dict) -> pd.DataFrame:
    """``df`` with ``attrs["columns"]`` (unit, UCD, description per column), as
    :func:`~wise2spitzer.catalog.read_catalog` gives it; converted flux columns say uJy."""
    columns = {k: dict(v) for k, v in columns.items()}
    for column in FLUX_COLUMNS & set(columns) & set(units):
        columns[column]["unit"] = "uJy"
    df.attrs["columns"] = columns
    return df


def _parquet_chunks(path: Path, chunksize: int) -> Iterator[pd.DataFrame]:
    import pyarrow.parquet as pq

    for part in parquet_files(path):
        pf = pq.ParquetFile(part)
        units = parquet_units(pf.schema_arrow)
        factors = flux_factors(units, path=part)
        columns = schema_columns(pf.schema_arrow)
        for batch in pf.iter_batches(batch_size=chunksize):
            yield _described(apply_flux_factors(batch.to_pandas(), factors), columns, units)


def _csv_chunks(path: Path, spec: FormatSpec, chunksize: int) -> Iterator[pd.DataFrame]:
    # Codes and the sidecar's text columns stay text (cc_flags "0000" is not the number 0).
    sidecar = load_sidecar(path)
    units = sidecar_units(sidecar)
    factors = flux_factors(units, path=path)
    columns = sidecar_columns(sidecar)
    compression = "gzip" if spec.compressed else None
    header = pd.read_csv(path, nrows=0, compression=compression).columns
    dtype = {c: "str" for c in text_columns(sidecar) if c in header}
    n_rows = 0
    with pd.read_csv(path, chunksize=chunksize, dtype=dtype, compression=compression) as reader:
        for chunk in reader:
            n_rows += len(chunk)
            chunk = apply_flux_factors(chunk.reset_index(drop=True), factors)
            yield _described(chunk, columns, units)
    check_sidecar_rows(path, sidecar, n_rows)


def _fits_chunks(path: Path, chunksize: int) -> Iterator[pd.DataFrame]:
    table = read_fits_table(path, memmap=True)
    units = {name: table[name].unit for name in table.colnames if table[name].unit is not None}
    factors = flux_factors(units, path=path)
    columns = table_columns(table)
    for start in range(0, len(table), chunksize):
        chunk = fits_chunk(table, start, start + chunksize, factors=factors)
        yield _described(chunk, columns, units)
    del table


def iter_chunks(
    path: str | os.PathLike,
    *,
    chunksize: int = 100_000,
    format: str | None = None,
) -> Iterator[pd.DataFrame]:
    """Yield the rows of a catalogue file in order, at most ``chunksize`` rows at a time.

    Parquet (a file, a directory of parts or a HATS catalogue) is read by row batches, FITS
    through a memory map in row slices and CSV by pandas chunks, so memory stays bounded;
    VOTable and ECSV are parsed whole (their readers are not streaming) and then sliced.
    The chunking is deterministic for a given file and ``chunksize`` (resuming relies on it).
    Flux columns with a flux-density unit come out in uJy, as from
    :func:`~wise2spitzer.catalog.read_catalog`, and every chunk's ``attrs["columns"]`` holds
    the unit, UCD and description the file gives each column.

    Raises
    ------
    CatalogError
        Unknown format, an unreadable file, a magnitude or non-flux unit on a flux column.
    FileNotFoundError
        If ``path`` does not exist.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(2, "No such file or directory", str(path))
    chunksize = check_chunksize(chunksize)
    spec = stream_format(path, format)
    try:
        if spec.name == "parquet":
            yield from _parquet_chunks(path, chunksize)
        elif spec.name == "csv":
            yield from _csv_chunks(path, spec, chunksize)
        elif spec.name == "fits":
            yield from _fits_chunks(path, chunksize)
        else:
            df = read_catalog(path, format=spec.name)
            columns = df.attrs.get("columns", {})
            for start in range(0, len(df), chunksize):
                chunk = df.iloc[start : start + chunksize].reset_index(drop=True)
                yield _described(chunk, columns, {})
    except (CatalogError, FileNotFoundError):
        raise
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise CatalogError(f"cannot read {spec.name} input {str(path)!r}: {exc}") from exc
