"""Which catalogue columns hold fluxes, numbers or text: the column rules every reader shares."""

from __future__ import annotations

import pandas as pd

from ..schema import BANDS, TARGETS, output_columns

__all__ = [
    "FLUX_COLUMNS",
    "MAG_CHECK_COLUMNS",
    "NULL_TOKENS",
    "NUMERIC_COLUMNS",
    "STRING_COLUMNS",
    "flux_columns_in",
]

_TARGET_PRED_COLUMNS = tuple(output_columns(t)[k] for t in TARGETS for k in ("pred", "lo", "hi"))
#: Columns that hold flux densities (uJy): band fluxes and errors, their noise-free ``true_``
#: copies and the predicted fluxes and interval bounds.
FLUX_COLUMNS: frozenset[str] = frozenset(
    [b.column for b in BANDS.values()]
    + [b.error_column for b in BANDS.values()]
    + [f"true_{b.column}" for b in BANDS.values()]
    + list(_TARGET_PRED_COLUMNS)
)
#: Known SEIP / AllWISE columns that must be numeric; text in them is an error.
NUMERIC_COLUMNS: frozenset[str] = FLUX_COLUMNS | frozenset(
    [f"wise{i}{q}" for i in range(1, 5) for q in ("rchi2", "m", "nm")]
    + [f"w{i}snr" for i in range(1, 5)]
    + [t.snr_column for t in TARGETS.values()]
    + ["ra", "dec", "glon", "glat", "ext_flg", "membership_prob"]
)
#: Columns that are always read as text even when every value looks like a number: codes such
#: as the AllWISE ``cc_flags = '0000'`` or ``moon_lev`` would lose their leading zeros as
#: numbers, and identifiers (``designation``) are names, not quantities. Every reader (whole
#: files and streamed chunks) uses this one list.
STRING_COLUMNS: frozenset[str] = frozenset(["cc_flags", "designation", "ph_qual", "moon_lev"])
#: Flux columns checked for Vega magnitudes by validation. Only the WISE and Spitzer bands:
#: catalogues often carry Gaia/2MASS magnitudes legitimately, and only WISE/Spitzer fluxes feed
#: the model.
MAG_CHECK_COLUMNS: tuple[str, ...] = tuple(
    b.column for b in BANDS.values() if b.instrument in ("WISE", "IRAC", "MIPS")
)
#: Text values that mean "no value" in a numeric column (compared stripped, case-insensitive).
NULL_TOKENS: frozenset[str] = frozenset(
    ["", "nan", "null", "none", "na", "n/a", "--", "-", "masked"]
)


def flux_columns_in(df: pd.DataFrame) -> list[str]:
    """The numeric columns of ``df`` that hold flux densities (written with the unit uJy)."""
    return [c for c in df.columns if c in FLUX_COLUMNS and pd.api.types.is_numeric_dtype(df[c])]
