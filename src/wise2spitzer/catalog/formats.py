"""The one table of catalogue formats: which file endings select which format, and gzip.

Every path that reads or writes a catalogue (:func:`~wise2spitzer.catalog.read_catalog`,
:func:`~wise2spitzer.catalog.write_catalog`, the streaming reader of
:mod:`wise2spitzer.catalog.streaming` and :func:`wise2spitzer.batch.predict_file`) resolves its
format with :func:`resolve_format`, so an ending means the same thing everywhere.

A ``.gz`` ending is honoured for reading and writing: CSV, ECSV, FITS and VOTable files may be
gzip-compressed (``.csv.gz``, ``.ecsv.gz``, ``.fits.gz``, ``.vot.gz``, ...). Parquet compresses
its columns itself and is never gzipped whole; ``x.parquet.gz`` is an error.
"""

from __future__ import annotations

import gzip
import io
import os
from pathlib import Path
from typing import IO, NamedTuple

from ..errors import CatalogError

__all__ = [
    "COMPRESSED_SUFFIX",
    "COMPRESSIBLE_FORMATS",
    "ENDING_FORMATS",
    "FORMATS",
    "FORMAT_ALIASES",
    "FormatSpec",
    "allowed_endings",
    "infer_format",
    "open_input",
    "open_output",
    "resolve_format",
    "text_stream",
]

#: The gzip ending, honoured for the formats in :data:`COMPRESSIBLE_FORMATS`.
COMPRESSED_SUFFIX = ".gz"
#: Formats whose files may be gzip-compressed as a whole (astropy and pyarrow read them
#: decompressing on the fly; the writers compress through :func:`open_output`).
COMPRESSIBLE_FORMATS: frozenset[str] = frozenset(["csv", "ecsv", "fits", "votable"])
_BASE_ENDINGS: dict[str, tuple[str, ...]] = {
    "csv": (".csv",),
    "ecsv": (".ecsv",),
    "fits": (".fits", ".fit", ".fts"),
    "votable": (".vot", ".votable", ".xml"),
    "parquet": (".parquet", ".pq"),
}
#: Supported formats and every file-name ending that selects them (compressed ones included).
FORMATS: dict[str, tuple[str, ...]] = {
    fmt: endings
    + (tuple(e + COMPRESSED_SUFFIX for e in endings) if fmt in COMPRESSIBLE_FORMATS else ())
    for fmt, endings in _BASE_ENDINGS.items()
}
#: The same table by ending (``".fits.gz" -> "fits"``), for code that looks endings up.
ENDING_FORMATS: dict[str, str] = {e: fmt for fmt, endings in FORMATS.items() for e in endings}
#: Other names accepted for ``format=``.
FORMAT_ALIASES: dict[str, str] = {
    "vot": "votable",
    "xml": "votable",
    "fit": "fits",
    "fts": "fits",
    "pq": "parquet",
}
# zlib's default level: level 9 costs several times the time for a few percent of size.
_GZIP_LEVEL = 6


class FormatSpec(NamedTuple):
    """How a path is read or written.

    Attributes
    ----------
    name : str
        Canonical format (a key of :data:`FORMATS`).
    compressed : bool
        The file is (to be) gzip-compressed.
    ending : str
        The ending of the path that selected the format (``".fits.gz"``), or the format's
        usual ending when ``format=`` was given for a name without one. Temporary files keep
        it, so that every library sees the same kind of file.
    """

    name: str
    compressed: bool
    ending: str


def allowed_endings() -> str:
    """The supported endings per format, as error messages show them."""
    plain = ", ".join(f"{f} ({'/'.join(e)})" for f, e in _BASE_ENDINGS.items())
    gz = ", ".join(f for f in _BASE_ENDINGS if f in COMPRESSIBLE_FORMATS)
    return f"{plain}; {gz} also gzip-compressed (ending + {COMPRESSED_SUFFIX!r})"


def _role(what: str | None) -> str:
    return f"{what} " if what else ""


def _canonical(format: str, path: str, what: str | None) -> str:
    key = str(format).strip().lower().lstrip(".")
    key = FORMAT_ALIASES.get(key, key)
    if key not in FORMATS:
        raise CatalogError(
            f"format must be one of {sorted(FORMATS)}; got {format!r} (for {_role(what)}{path!r})"
        )
    return key


def _not_compressible(fmt: str, path: str, ending: str, what: str | None) -> CatalogError:
    compressed = sorted(e for e in ENDING_FORMATS if e.endswith(COMPRESSED_SUFFIX))
    return CatalogError(
        f"cannot use {_role(what)}{path!r}: {fmt} files cannot be gzip-compressed (ending "
        f"{ending!r}); compressed endings allowed are {', '.join(compressed)}"
        + ("; Parquet compresses its columns itself: drop the '.gz'" if fmt == "parquet" else "")
    )


def resolve_format(
    path: str | os.PathLike, *, format: str | None = None, what: str | None = None
) -> FormatSpec:
    """Map a path (and an optional explicit ``format``) to its format and compression.

    Parameters
    ----------
    path : str or path-like
        The file; its ending selects the format unless ``format`` is given. A final ``.gz``
        means gzip compression, also with an explicit ``format``.
    format : str, optional
        Explicit format: a key of :data:`FORMATS` or an alias (``vot``, ``fit``, ``pq``...),
        case and a leading dot ignored.
    what : str, optional
        The role of the file in messages (``"input"``, ``"output"``).

    Returns
    -------
    FormatSpec

    Raises
    ------
    CatalogError
        Unknown ``format``, an ending that selects no format, or a gzip ending on a format
        that cannot be compressed (Parquet). The message lists the allowed values.

    Examples
    --------
    >>> resolve_format("stars.fits.gz")
    FormatSpec(name='fits', compressed=True, ending='.fits.gz')
    >>> resolve_format("stars.dat", format="CSV")
    FormatSpec(name='csv', compressed=False, ending='.csv')
    """
    shown = str(path)
    name = Path(os.fspath(path)).name.lower()
    compressed = name.endswith(COMPRESSED_SUFFIX)
    if format is not None:
        fmt = _canonical(format, shown, what)
        matching = [e for e in FORMATS[fmt] if name.endswith(e)]
        ending = max(matching, key=len) if matching else FORMATS[fmt][0]
        if compressed and not ending.endswith(COMPRESSED_SUFFIX):
            ending += COMPRESSED_SUFFIX
    else:
        matching = [e for e in ENDING_FORMATS if name.endswith(e)]
        if not matching:
            base = name[: -len(COMPRESSED_SUFFIX)] if compressed else ""
            inner = [e for e in ENDING_FORMATS if base and base.endswith(e)]
            if inner:
                ending = max(inner, key=len)
                raise _not_compressible(
                    ENDING_FORMATS[ending], shown, ending + COMPRESSED_SUFFIX, what
                )
            raise CatalogError(
                f"cannot tell the format of {_role(what)}{shown!r} from its name; use a name "
                f"with one of the allowed endings: {allowed_endings()} (Python callers may "
                f"name the format instead: one of {sorted(FORMATS)})"
            )
        ending = max(matching, key=len)
        fmt = ENDING_FORMATS[ending]
    if compressed and fmt not in COMPRESSIBLE_FORMATS:
        raise _not_compressible(fmt, shown, ending, what)
    return FormatSpec(fmt, compressed, ending)


def infer_format(path: str | os.PathLike, *, format: str | None = None) -> str:
    """Return the canonical format name for ``path`` (or the explicit ``format``).

    The format part of :func:`resolve_format`.

    Raises
    ------
    CatalogError
        If ``format`` is not one of :data:`FORMATS` or the file ending is not recognised.
    """
    return resolve_format(path, format=format).name


def open_output(path: str | os.PathLike, *, compressed: bool) -> IO[bytes]:
    """Open ``path`` for writing bytes, through gzip when ``compressed``.

    The gzip header carries no time stamp, so the same table gives the same bytes.
    """
    if compressed:
        return _GzipOutput(path)
    return open(path, "wb")


class _GzipOutput(gzip.GzipFile):
    """A gzip file whose header holds neither a time stamp nor a file name.

    Outputs are written under a temporary name that is renamed at the end; a name in the
    header would be that random temporary name, so the same table would not give the same
    bytes (and ``gunzip -N`` would restore the temporary name).
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self._raw = open(path, "wb")  # closed by close()
        super().__init__(filename="", mode="wb", compresslevel=_GZIP_LEVEL,
                         fileobj=self._raw, mtime=0)

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._raw.close()


def open_input(path: str | os.PathLike, *, compressed: bool) -> IO[bytes]:
    """Open ``path`` for reading bytes, decompressing when ``compressed``."""
    return gzip.open(path, "rb") if compressed else open(path, "rb")


def text_stream(raw: IO[bytes], *, errors: str = "strict") -> io.TextIOWrapper:
    """UTF-8 text on top of a byte stream (universal newlines off, as CSV needs)."""
    return io.TextIOWrapper(raw, encoding="utf-8", errors=errors, newline="")
