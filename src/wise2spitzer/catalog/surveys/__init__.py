"""Input surveys: adapters that turn another survey's table into SEIP columns, and a registry.

Built in: ``seip`` (the models' own columns, no conversion) and ``allwise`` (Vega magnitudes
-> uJy). The prediction paths (:func:`wise2spitzer.batch.predict_chunk` and everything that
streams through it) ask :func:`detect_survey` which adapter a table needs, so adding an input
survey is one new module here plus one entry in :data:`BUILTIN_SURVEYS` (or a
:func:`register_survey` call in user code); see ``docs/extending.md``.
"""

from __future__ import annotations

from .allwise import (
    ALLWISE,
    ALLWISE_COLUMN_MAP,
    MAG_COLUMNS,
    AllWiseAdapter,
    from_allwise,
    is_allwise,
    limit_mask,
)
from .base import (
    SurveyAdapter,
    detect_survey,
    get_survey,
    register_survey,
    survey_names,
    unregister_survey,
)
from .seip import SEIP, SeipAdapter

__all__ = [
    "ALLWISE",
    "ALLWISE_COLUMN_MAP",
    "BUILTIN_SURVEYS",
    "MAG_COLUMNS",
    "SEIP",
    "AllWiseAdapter",
    "SeipAdapter",
    "SurveyAdapter",
    "detect_survey",
    "from_allwise",
    "get_survey",
    "is_allwise",
    "limit_mask",
    "register_survey",
    "survey_names",
    "unregister_survey",
]

#: The registry entries of the built-in surveys, in detection order (SEIP first: a table that
#: already has SEIP columns is never converted).
BUILTIN_SURVEYS: tuple[SurveyAdapter, ...] = (SEIP, ALLWISE)

for _adapter in BUILTIN_SURVEYS:
    register_survey(_adapter, replace=True)
del _adapter
