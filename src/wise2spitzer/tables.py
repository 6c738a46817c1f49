"""Astropy tables in and out of the Python API, and a check for fluxes in the wrong unit.

The public methods that take a catalogue (``SpitzerPredictor.fit`` / ``predict_catalog`` /
``predict`` / ``predict_interval``, ``PredictorBundle.fit`` / ``predict_catalog``) take a
:class:`pandas.DataFrame` or an :class:`astropy.table.Table` (or ``QTable``) and answer in
the same kind:

* a Table's flux columns (:data:`~wise2spitzer.catalog.FLUX_COLUMNS`: ``wise1..4``, their
  errors, the Spitzer columns...) with a flux-density unit (Jy, mJy, uJy, nJy, ...) are
  converted to uJy by the rule every file reader uses (:mod:`wise2spitzer.catalog.units`); a
  magnitude or other non-flux unit is refused with a :class:`~wise2spitzer.errors.CatalogError`
  naming the column and the unit; a flux column without a unit is taken as uJy;
* the answer to a Table is a copy of it (every column, unit, description and the table
  ``meta`` kept; columns pandas cannot hold, such as ``SkyCoord``, included) with the output
  columns added: fluxes in uJy, masked where there is no prediction;
* a DataFrame carries no units, so its fluxes must already be in uJy. When the W1..W4 fluxes
  of a table lie orders of magnitude away from everything a model was trained on (the typical
  sign of mJy or Jy given as uJy), :func:`check_flux_scale` warns instead of letting every row
  silently come out ``outside_domain``.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from .catalog.columns import FLUX_COLUMNS, NUMERIC_COLUMNS, STRING_COLUMNS
from .catalog.readers import table_to_frame
from .catalog.units import apply_units
from .errors import CatalogError
from .schema import TARGETS, WISE_FLUX_COLUMNS, output_columns

__all__ = [
    "FLUX_SCALE_MARGIN_DEX",
    "as_frame",
    "check_flux_scale",
    "is_table",
    "like_input",
    "to_table",
]

#: How far (dex) beyond the training range the median of every WISE band must lie before
#: :func:`check_flux_scale` warns. 0: the median of each of W1..W4 outside the whole training
#: range, on the same side, so more than half the rows are outside the domain in every band.
#: Measured (docs/tutorial.md, "Units"): fluxes in mJy or Jy fired it for models trained on
#: the simulated catalogue and on Upper Sco, on both tables (0.05-5.8 dex beyond the range);
#: the same tables in uJy stayed inside (0.2-2.7 dex from the nearest edge) and did not.
FLUX_SCALE_MARGIN_DEX = 0.0

#: Name of an astropy table in messages.
_SOURCE = "astropy Table"

_DESCRIPTIONS = {
    **{output_columns(t)[k]: f"predicted {t.band} flux density{what}"
       for t in TARGETS.values()
       for k, what in (("pred", ""), ("lo", ", interval lower bound"),
                       ("hi", ", interval upper bound"))},
    **{output_columns(t)["status"]: f"why {t.band} has a prediction (ok) or not"
       for t in TARGETS.values()},
    **{f"{t.prefix}_pred_model": f"sample of the model that answered for {t.band}"
       for t in TARGETS.values()},
}


def is_table(data: Any) -> bool:
    """Whether ``data`` is an astropy Table (or QTable), without importing astropy.

    Examples
    --------
    >>> import pandas as pd
    >>> is_table(pd.DataFrame({"wise1": [1.0]}))
    False
    >>> from astropy.table import Table
    >>> is_table(Table({"wise1": [1.0]}))
    True
    """
    module = sys.modules.get("astropy.table")
    return module is not None and isinstance(data, module.Table)


def _frame_columns(table: Any) -> list[str]:
    """Columns of ``table`` a DataFrame can hold: plain one-dimensional columns.

    Other columns (``SkyCoord``, ``Time``, vectors per row) are left out of the working frame
    (they stay in the answer, which is a copy of the input table), unless they are catalogue
    columns a model may read, which must be plain numbers or text.
    """
    from astropy.table import Column

    keep = []
    for name in table.colnames:
        col = table[name]
        if isinstance(col, Column) and col.ndim == 1:
            keep.append(name)
        elif name in NUMERIC_COLUMNS or name in STRING_COLUMNS:
            raise CatalogError(
                f"{_SOURCE}: column {name!r} must hold one number or text per row; got "
                f"{type(col).__name__} with shape per row {tuple(col.shape[1:])}"
            )
    return keep


def as_frame(data: Any, *, name: str = "df") -> pd.DataFrame:
    """A catalogue as a DataFrame in SEIP conventions (flux columns in uJy).

    Parameters
    ----------
    data : pandas.DataFrame or astropy.table.Table
        A DataFrame is returned as it is (no copy; its fluxes must be in uJy). A Table (or
        QTable) is converted: flux columns with a flux-density unit become uJy, masked
        values become NaN, byte strings are decoded, the table ``meta`` goes into
        ``attrs["meta"]`` and columns pandas cannot hold (``SkyCoord``, ``Time``, vectors)
        are left out. The Table itself is not changed.
    name : str, default "df"
        The parameter's name, for messages.

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    CatalogError
        ``data`` is neither a DataFrame nor a Table, or a flux column has a magnitude, an
        unknown unit or one that is not a flux density (names the column and its unit).

    Examples
    --------
    >>> import astropy.units as u
    >>> from astropy.table import QTable
    >>> t = QTable({"objid": [1, 2], "wise4": [9.0, 12.5] * u.mJy})
    >>> as_frame(t)["wise4"].tolist()
    [9000.0, 12500.0]
    >>> as_frame(QTable({"wise4": [5.2] * u.mag}))
    Traceback (most recent call last):
    ...
    wise2spitzer.errors.CatalogError: 'astropy Table': column 'wise4' has unit 'mag' (a ...
    """
    if isinstance(data, pd.DataFrame):
        return data
    if not is_table(data):
        raise CatalogError(
            f"{name} must be a pandas DataFrame or an astropy Table; got {type(data).__name__}"
        )
    from astropy.table import Table

    plain = Table(data, copy=False)  # a QTable's quantities become columns with units
    # A new table of the same column objects: decoding bytes replaces its columns, not the
    # caller's.
    keep = _frame_columns(plain)
    if not keep:
        frame = pd.DataFrame(index=pd.RangeIndex(len(plain)))
    else:
        frame, units = table_to_frame(Table([plain[c] for c in keep], copy=False), path=_SOURCE)
        frame = apply_units(frame, units, path=_SOURCE)
    frame.attrs["meta"] = dict(data.meta)
    return frame


def _column(values: pd.Series, name: str):
    """One output column as an astropy column: uJy and masked for fluxes, text for labels."""
    from astropy.table import Column, MaskedColumn

    description = _DESCRIPTIONS.get(name)
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values):
        arr = values.to_numpy(dtype=float, na_value=np.nan)
        unit = "uJy" if name in FLUX_COLUMNS else None
        return MaskedColumn(arr, name=name, mask=~np.isfinite(arr), unit=unit,
                            description=description)
    # A fixed-width text column (not objects), so the answer writes to FITS, VOTable, ECSV.
    text = np.array([str(v) for v in values.astype(object).where(values.notna(), "")],
                    dtype=str)
    return Column(text, name=name, description=description)


def to_table(df: pd.DataFrame, *, like: Any = None, columns: Iterable[str] | None = None):
    """A DataFrame in SEIP conventions as an astropy Table, flux columns in uJy.

    Parameters
    ----------
    df : pandas.DataFrame
        Flux columns in uJy (what :func:`as_frame` and the predictors return).
    like : astropy.table.Table, optional
        The table ``df`` was made from, with as many rows: the result is a copy of it
        (same class, columns, units, descriptions and ``meta``) with ``columns`` of ``df``
        added or replaced. Without it, every column of ``df`` is converted.
    columns : iterable of str, optional
        With ``like``: the columns of ``df`` to add (default: those ``like`` lacks).

    Returns
    -------
    astropy.table.Table
        Float flux columns carry the unit uJy; NaN becomes a masked value.

    Examples
    --------
    >>> import pandas as pd
    >>> t = to_table(pd.DataFrame({"objid": [1, 2], "m1_f_pred": [850.0, float("nan")]}))
    >>> t["m1_f_pred"].unit, t["m1_f_pred"].mask.tolist()
    (Unit("uJy"), [False, True])
    """
    from astropy.table import Table

    if like is None:
        result = Table(meta=dict(df.attrs.get("meta", {})))
        names = list(df.columns)
    else:
        if len(like) != len(df):
            raise CatalogError(f"like has {len(like)} rows but df has {len(df)}")
        result = like.copy(copy_data=True)
        names = [c for c in df.columns if c not in like.colnames] if columns is None \
            else list(columns)
    for name in names:
        result[name] = _column(df[name], name)
    return result


def like_input(result: pd.DataFrame, data: Any, *, columns: Iterable[str]):
    """``result`` in the kind of the input ``data``: itself for a DataFrame, else a Table.

    For a Table input the answer is a copy of ``data`` with ``columns`` of ``result`` added
    (see :func:`to_table`).
    """
    if not is_table(data):
        return result
    return to_table(result, like=data, columns=columns)


def check_flux_scale(df: pd.DataFrame, domain: Any, *, model: str = "the model",
                     stacklevel: int = 3) -> bool:
    """Warn when the W1..W4 fluxes of ``df`` look like another unit than uJy.

    A plain DataFrame carries no units. If, among its rows with all four WISE fluxes
    measured, the median flux of every band lies outside the whole range the model was
    trained on (``domain.bounds_``, log10 uJy; by more than :data:`FLUX_SCALE_MARGIN_DEX`),
    on the same side, most rows come out ``outside_domain`` for a reason the statuses cannot
    tell: a table in mJy or Jy read as uJy is the usual cause.

    Parameters
    ----------
    df : pandas.DataFrame
        The catalogue, as the model reads it.
    domain : ConvexHullDomain
        The model's applicability domain (fitted).
    model : str
        How the model is named in the message.
    stacklevel : int
        Passed to :func:`warnings.warn`.

    Returns
    -------
    bool
        Whether it warned.

    Warns
    -----
    UserWarning
        Names the bands' median and the training range, and the likely cause.
    """
    bounds = getattr(domain, "bounds_", None)
    cols = list(WISE_FLUX_COLUMNS)
    if bounds is None or len(df) == 0 or not set(cols) <= set(df.columns):
        return False
    values = df[cols].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        rows = np.all(np.isfinite(values) & (values > 0), axis=1)
        if not rows.any():
            return False
        med = np.median(np.log10(values[rows]), axis=0)
    lo, hi = np.asarray(bounds, dtype=float)
    below, above = lo - med, med - hi
    if np.all(below > FLUX_SCALE_MARGIN_DEX):
        side, gap, hint = "below", below.min(), "mJy or Jy given as uJy"
    elif np.all(above > FLUX_SCALE_MARGIN_DEX):
        side, gap, hint = "above", above.min(), "nJy given as uJy"
    else:
        return False
    shown = ", ".join(f"{c} {10 ** m:.3g}" for c, m in zip(cols, med, strict=True))
    trained = ", ".join(f"{c} {10 ** a:.3g}-{10 ** b:.3g}" for c, a, b in
                        zip(cols, lo, hi, strict=True))
    warnings.warn(
        f"the median W1..W4 fluxes of the table, read as uJy ({shown}), lie {gap:.2g} dex or "
        f"more {side} the range {model} was trained on ({trained} uJy), so most rows will be "
        f"outside the domain. Are the fluxes in another unit ({hint})? A DataFrame carries "
        "no units and is read as uJy: convert it, or pass an astropy Table with units",
        UserWarning,
        stacklevel=stacklevel,
    )
    return True
