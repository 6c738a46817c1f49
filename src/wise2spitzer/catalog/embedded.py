"""Load data by name: an embedded dataset (``"simulated"``, ``"upper-sco"``) or a file."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import CatalogError
from ..schema import ID_COLUMN
from .readers import read_catalog
from .validation import validate_catalog

__all__ = ["EMBEDDED_DATASETS", "embedded_name", "load_data"]

#: Names accepted by :func:`load_data` besides file paths.
EMBEDDED_DATASETS: tuple[str, ...] = ("simulated", "upper-sco")


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
            from ..datasets import load

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
