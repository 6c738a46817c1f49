"""A model saved by an earlier release loads and predicts what it predicted then."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from wise2spitzer.datasets import simulate_seip
from wise2spitzer.predictor import SpitzerPredictor

DATA = Path(__file__).parent / "data" / "models"


def test_model_saved_by_commit_ef43175_predicts_the_same():
    # Saved by commit ef43175 (before the package was split into subpackages) with
    # SpitzerPredictor().fit(simulate_seip(1500, random_state=0), target="irac4",
    # sample="unclean", preset="none", random_state=0, n_estimators=5, test_size=None);
    # the expected output is that commit's predict_catalog of the first 200 rows.
    p = SpitzerPredictor.load(DATA / "irac4_ef43175.skops")
    df = simulate_seip(1500, random_state=0).iloc[:200]
    expected = pd.read_parquet(DATA / "irac4_ef43175_pred.parquet")
    got = p.predict_catalog(df)[list(expected.columns)].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected, check_exact=True, check_dtype=False)
