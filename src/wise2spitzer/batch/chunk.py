"""Applying a predictor to one chunk of rows: the unit of work of every batch path."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..catalog.surveys import detect_survey, get_survey
from ..errors import ModelError
from .fast import FastPredictor, output_names

__all__ = ["predict_chunk"]


def predict_chunk(
    predictor: Any,
    df: pd.DataFrame,
    *,
    confidence: float = 0.95,
    method: str | None = None,
    allwise: bool | None = None,
) -> pd.DataFrame:
    """Apply ``predictor`` to one chunk: ``df`` with the predictor's output columns appended.

    Parameters
    ----------
    predictor : object
        Anything with ``predict_catalog(df, *, confidence, method) -> DataFrame`` returning the
        input rows, in order, with new columns appended (:class:`SpitzerPredictor`,
        :class:`FastPredictor`).
    df : DataFrame
        The rows, SEIP or AllWISE columns.
    confidence, method
        Passed to ``predict_catalog``.
    allwise : bool or None
        Translate AllWISE columns with :func:`from_allwise` first (False: use ``df`` as it
        is); None asks the survey registry which adapter the table needs
        (:func:`~wise2spitzer.catalog.surveys.detect_survey`: AllWISE or any registered
        survey; SEIP tables and unknown ones are used as they are).

    Returns
    -------
    DataFrame
        The original columns of ``df`` (AllWISE input stays AllWISE) plus the appended columns;
        same index and order. Output columns the input already has (e.g. ``m1_f_pred`` and
        ``m1_pred_status`` of an earlier prediction) are replaced in place by the new values,
        on the fast and the plain path alike.
    """
    if allwise is None:
        survey = detect_survey(df)
    else:
        survey = get_survey("allwise") if allwise else None
    features = survey.to_seip(df) if survey is not None else df
    if isinstance(predictor, FastPredictor):
        added = predictor.predict_columns(features, confidence=confidence, method=method)
    else:
        result = predictor.predict_catalog(features, confidence=confidence, method=method)
        if len(result) != len(df):
            raise ModelError(
                f"predictor.predict_catalog returned {len(result)} rows for {len(df)} input "
                "rows; every input row must come out once"
            )
        # The output columns are replaced when the input already has them (a catalogue
        # predicted before), exactly as on the fast path: never stale values from the input.
        names = set(output_names(predictor) or ())
        added = {
            c: result[c].to_numpy()
            for c in result.columns
            if c not in features.columns or c in names
        }
    # A shallow copy is enough: with copy-on-write the caller's frame is never modified.
    out = df.copy(deep=False)
    for col, values in added.items():
        out[col] = values
    return out
