"""Survey adapters: how a table of another survey becomes the SEIP columns the models read.

An adapter knows three things about its survey: how to recognise one of its tables
(:meth:`SurveyAdapter.detect`), which of its columns become which SEIP columns
(:attr:`SurveyAdapter.column_map`) and how values are converted on the way
(:meth:`SurveyAdapter.seip_columns`, e.g. Vega magnitudes to uJy). The registry
(:func:`register_survey`, :func:`get_survey`, :func:`detect_survey`) is what the prediction
paths consult, so a new input survey needs one adapter file and one registry entry, nothing
else.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from ...errors import CatalogError
from ...schema import WISE_FLUX_COLUMNS
from ..columns import FLUX_COLUMNS
from ..units import flux_unit_factor

__all__ = [
    "SurveyAdapter",
    "detect_survey",
    "get_survey",
    "register_survey",
    "survey_names",
    "unregister_survey",
]


class SurveyAdapter:
    """Base class of the survey adapters (subclass it, then :func:`register_survey`).

    Attributes
    ----------
    name : str
        The registry key (lower case, e.g. ``"allwise"``).
    column_map : dict of str -> str
        Survey column -> SEIP column (:mod:`wise2spitzer.schema` names).
    signature : tuple of str
        Columns whose presence identifies a table of the survey (any one is enough), unless
        the table already has SEIP WISE fluxes (``wise1..4``): such a table is SEIP.
    flux_unit : str or None
        Unit of the survey's flux columns (those mapped onto SEIP flux columns), e.g.
        ``"mJy"``; converted to uJy with the package's one unit rule. None: already uJy.

    Notes
    -----
    The default :meth:`seip_columns` copies the mapped columns, scaling fluxes by
    ``flux_unit``; an adapter whose survey needs more (magnitudes, quality codes) overrides it.
    :meth:`to_seip` then adds those columns to the table, keeping the original ones.
    """

    name: ClassVar[str] = ""
    column_map: ClassVar[Mapping[str, str]] = {}
    signature: ClassVar[tuple[str, ...]] = ()
    flux_unit: ClassVar[str | None] = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    def detect(self, df: pd.DataFrame) -> bool:
        """True when ``df`` looks like a table of this survey (see :attr:`signature`)."""
        cols = set(df.columns)
        return any(c in cols for c in self.signature) and not any(
            c in cols for c in WISE_FLUX_COLUMNS
        )

    def seip_columns(self, df: pd.DataFrame) -> dict[str, Any]:
        """The SEIP columns this survey's table provides: ``{seip_name: values}``.

        Default: every :attr:`column_map` column present in ``df`` under its SEIP name,
        flux columns multiplied by the factor of :attr:`flux_unit` to uJy.
        """
        new: dict[str, Any] = {}
        for src, dst in self.column_map.items():
            if src not in df.columns or dst == src:
                continue
            values = df[src].to_numpy()
            if self.flux_unit is not None and dst in FLUX_COLUMNS:
                where = f"<{self.name} table>"
                factor = flux_unit_factor(self.flux_unit, path=where, column=src)
                values = pd.to_numeric(df[src], errors="coerce").to_numpy(
                    dtype=float, na_value=np.nan
                )
                values = values * factor if factor is not None else values
            new[dst] = values
        return new

    def to_seip(self, df: pd.DataFrame) -> pd.DataFrame:
        """A copy of ``df`` (same index and order, original columns kept) plus SEIP columns."""
        new = self.seip_columns(df)
        if any(name in df.columns for name in new):
            # Rare (a table with both conventions): overwrite in place, keeping positions.
            out = df.copy()
            for name, values in new.items():
                out[name] = values
            return out
        # One concatenation instead of a column insertion per new column (a quarter of the
        # per-chunk overhead of the streaming path).
        return pd.concat([df, pd.DataFrame(new, index=df.index)], axis=1)


_REGISTRY: dict[str, SurveyAdapter] = {}


def register_survey(adapter: SurveyAdapter, *, replace: bool = False) -> SurveyAdapter:
    """Add ``adapter`` to the registry (detection tries adapters in registration order).

    Parameters
    ----------
    adapter : SurveyAdapter
        An instance with a non-empty ``name``.
    replace : bool, default False
        Replace an adapter registered under the same name (keeping its place in the order).

    Returns
    -------
    SurveyAdapter
        ``adapter``, so that a module can register at import: ``ADAPTER = register_survey(...)``.

    Raises
    ------
    CatalogError
        ``adapter`` is not a SurveyAdapter, has no name, or the name is taken and
        ``replace`` is False.
    """
    if not isinstance(adapter, SurveyAdapter):
        raise CatalogError(
            f"adapter must be a SurveyAdapter instance; got {type(adapter).__name__}"
        )
    key = str(adapter.name).strip().lower()
    if not key:
        raise CatalogError(f"adapter {adapter!r} must have a non-empty name")
    if key in _REGISTRY and not replace:
        raise CatalogError(
            f"a survey adapter named {key!r} is already registered ({_REGISTRY[key]!r}); "
            "pass replace=True to replace it"
        )
    _REGISTRY[key] = adapter
    return adapter


def unregister_survey(name: str) -> SurveyAdapter:
    """Remove the adapter registered as ``name`` and return it (see :func:`get_survey`)."""
    adapter = get_survey(name)
    del _REGISTRY[str(name).strip().lower()]
    return adapter


def survey_names() -> tuple[str, ...]:
    """Registered survey names, in detection order."""
    return tuple(_REGISTRY)


def get_survey(name: str) -> SurveyAdapter:
    """The adapter registered as ``name`` (case-insensitive).

    Raises
    ------
    CatalogError
        Unknown name (lists the registered ones).
    """
    key = str(name).strip().lower()
    if key not in _REGISTRY:
        raise CatalogError(f"survey must be one of {list(_REGISTRY)}; got {name!r}")
    return _REGISTRY[key]


def detect_survey(df: pd.DataFrame) -> SurveyAdapter | None:
    """The first registered adapter whose :meth:`~SurveyAdapter.detect` accepts ``df``.

    None when no adapter recognises the table (it is then used as it is).
    """
    for adapter in _REGISTRY.values():
        if adapter.detect(df):
            return adapter
    return None
