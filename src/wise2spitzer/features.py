"""Model features built from a SEIP-like catalogue.

Four feature sets are defined (:data:`FEATURE_SETS`):

``"paper"``
    The 16 features of Fonseca-Bonilla et al. (2024): the WISE fluxes ``wise1..4`` and the
    per-band quality columns ``wise#rchi2``, ``wise#m``, ``wise#nm``, as raw values (the
    Yeo-Johnson transform and standardisation happen inside :class:`~wise2spitzer.model.
    FluxRegressor`, so that they are learned inside each cross-validation fold).
``"paper+colours"``
    The paper's features plus three WISE colours.
``"flux"``
    ``wise1..4`` only, for catalogues without quality columns (e.g. the Upper Sco table).
``"flux+colours"``
    ``wise1..4`` plus the colours.

The colours are ``log10`` flux ratios ``wise1/wise2``, ``wise2/wise3`` and ``wise3/wise4``
(a magnitude difference up to a factor -2.5 and a zero-point offset), NaN where either
flux is not positive, because a 0 or negative flux means "not measured".
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from .errors import CatalogError
from .schema import PAPER_FEATURES, WISE_FLUX_COLUMNS

__all__ = [
    "COLOUR_COLUMNS",
    "COLOUR_DEFINITIONS",
    "FEATURE_SETS",
    "available_feature_set",
    "build_features",
    "feature_columns",
    "required_columns",
]

#: Colour column -> (numerator flux column, denominator flux column); value log10(num/den).
COLOUR_DEFINITIONS: dict[str, tuple[str, str]] = {
    "w1_w2": ("wise1", "wise2"),
    "w2_w3": ("wise2", "wise3"),
    "w3_w4": ("wise3", "wise4"),
}
COLOUR_COLUMNS: tuple[str, ...] = tuple(COLOUR_DEFINITIONS)

#: Feature set name -> output feature columns, in model order.
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "paper": tuple(PAPER_FEATURES),
    "paper+colours": tuple(PAPER_FEATURES) + COLOUR_COLUMNS,
    "flux": tuple(WISE_FLUX_COLUMNS),
    "flux+colours": tuple(WISE_FLUX_COLUMNS) + COLOUR_COLUMNS,
}

# Richest first: available_feature_set walks this order.
_PREFERENCE: tuple[str, ...] = ("paper+colours", "paper", "flux+colours", "flux")


def _check_set(feature_set: str) -> str:
    if feature_set not in FEATURE_SETS:
        raise CatalogError(f"feature_set must be one of {list(FEATURE_SETS)}; got {feature_set!r}")
    return feature_set


def feature_columns(feature_set: str) -> tuple[str, ...]:
    """Names of the columns :func:`build_features` returns for ``feature_set``."""
    return FEATURE_SETS[_check_set(feature_set)]


def required_columns(feature_set: str) -> tuple[str, ...]:
    """Catalogue columns needed to build ``feature_set`` (colours need only WISE fluxes)."""
    return tuple(c for c in feature_columns(feature_set) if c not in COLOUR_DEFINITIONS)


def _missing(df: pd.DataFrame, columns: Iterable[str]) -> list[str]:
    return [c for c in columns if c not in df.columns]


def build_features(df: pd.DataFrame, feature_set: str = "paper") -> pd.DataFrame:
    """Return the feature table of ``feature_set`` for every row of ``df``.

    Parameters
    ----------
    df : pandas.DataFrame
        Catalogue in SEIP conventions (fluxes in uJy).
    feature_set : {"paper", "paper+colours", "flux", "flux+colours"}, default "paper"
        See :data:`FEATURE_SETS`.

    Returns
    -------
    pandas.DataFrame
        Float64 columns in :data:`FEATURE_SETS` order, same index as ``df``. Raw values are
        kept as they are (missing stays NaN); colours are NaN where a flux is not positive.

    Raises
    ------
    CatalogError
        If ``feature_set`` is unknown or ``df`` lacks a needed column (all missing columns
        are named).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"wise1": [100.0], "wise2": [50.0], "wise3": [10.0], "wise4": [0.0]})
    >>> build_features(df, "flux+colours").round(3).iloc[0].tolist()
    [100.0, 50.0, 10.0, 0.0, 0.301, 0.699, nan]
    """
    columns = feature_columns(feature_set)
    missing = _missing(df, required_columns(feature_set))
    if missing:
        fits = [n for n in _PREFERENCE if not _missing(df, required_columns(n))]
        hint = f"feature sets this table supports: {fits}" if fits else "no feature set fits"
        raise CatalogError(
            f"feature set {feature_set!r} needs columns {missing} that the table lacks; {hint}"
        )
    out = {}
    for col in columns:
        if col in COLOUR_DEFINITIONS:
            num, den = COLOUR_DEFINITIONS[col]
            a = pd.to_numeric(df[num], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            b = pd.to_numeric(df[den], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            ok = (a > 0) & (b > 0)
            with np.errstate(divide="ignore", invalid="ignore"):
                out[col] = np.where(ok, np.log10(np.where(ok, a / b, 1.0)), np.nan)
        else:
            try:
                out[col] = pd.to_numeric(df[col], errors="raise").to_numpy(
                    dtype=float, na_value=np.nan
                )
            except (ValueError, TypeError) as exc:
                raise CatalogError(
                    f"column {col!r} must be numeric for feature set {feature_set!r}; "
                    f"got dtype {df[col].dtype} ({exc})"
                ) from exc
    return pd.DataFrame(out, index=df.index, columns=list(columns))


def available_feature_set(df: pd.DataFrame, *, colours: bool = True) -> str:
    """Name of the richest feature set whose columns ``df`` has.

    Parameters
    ----------
    df : pandas.DataFrame
        Catalogue in SEIP conventions.
    colours : bool, default True
        Whether sets with colours may be chosen.

    Raises
    ------
    CatalogError
        If ``df`` lacks even the four WISE flux columns.

    Examples
    --------
    >>> import pandas as pd
    >>> available_feature_set(pd.DataFrame(columns=["wise1", "wise2", "wise3", "wise4"]))
    'flux+colours'
    """
    for name in _PREFERENCE:
        if not colours and name.endswith("+colours"):
            continue
        if not _missing(df, required_columns(name)):
            return name
    raise CatalogError(
        f"the table needs at least the WISE flux columns {list(WISE_FLUX_COLUMNS)}; "
        f"missing {_missing(df, WISE_FLUX_COLUMNS)}"
    )
