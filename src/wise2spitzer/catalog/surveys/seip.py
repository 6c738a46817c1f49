"""The Spitzer Enhanced Imaging Products (SEIP) Source List: the models' own columns."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ...schema import WISE_FLUX_COLUMNS
from .base import SurveyAdapter

__all__ = ["SEIP", "SeipAdapter"]


class SeipAdapter(SurveyAdapter):
    """SEIP tables need no conversion: a table with any ``wise1..4`` column is SEIP.

    Registered first, so that a table already in SEIP columns is never converted again.
    """

    name = "seip"
    column_map = {c: c for c in WISE_FLUX_COLUMNS}
    signature = WISE_FLUX_COLUMNS

    def detect(self, df: pd.DataFrame) -> bool:
        """True when ``df`` has at least one SEIP WISE flux column (``wise1..4``)."""
        cols = set(df.columns)
        return any(c in cols for c in WISE_FLUX_COLUMNS)

    def seip_columns(self, df: pd.DataFrame) -> dict[str, Any]:
        """Nothing to add: the table already has SEIP columns."""
        return {}

    def to_seip(self, df: pd.DataFrame) -> pd.DataFrame:
        """``df`` itself (not a copy): the columns already are SEIP's."""
        return df


#: The registered SEIP adapter.
SEIP = SeipAdapter()
