"""Extension point: a new target band is one entry of ``schema.TARGETS``.

IRAC3 (5.8 um, ``i3_f_ap1``, WISE counterpart W2) is added for the duration of a test; fitting,
predicting through a predictor, a bundle and a saved model file then work with no other change.
"""

from __future__ import annotations

import numpy as np
import pytest

from wise2spitzer import schema
from wise2spitzer.bundle import PredictorBundle
from wise2spitzer.datasets import simulate_seip
from wise2spitzer.predictor import SpitzerPredictor

SEED = 0


@pytest.fixture
def irac3(monkeypatch):
    entry = schema.Target("irac3", "IRAC3", "i3", "wise2", "W2", "i3_snr")
    monkeypatch.setitem(schema.TARGETS, "irac3", entry)
    return entry


def test_a_new_target_band_is_one_registry_entry(irac3, tmp_path):
    df = simulate_seip(2000, random_state=SEED)
    assert schema.output_columns("irac3")["pred"] == "i3_f_pred"
    p = SpitzerPredictor().fit(df, target="irac3", sample="unclean", preset="none",
                               random_state=SEED, n_estimators=10, test_size=None)
    out = p.predict_catalog(df.iloc[:300])
    ok = out["i3_pred_status"] == "ok"
    assert ok.mean() > 0.5
    pred, obs = out.loc[ok, "i3_f_pred"], df.iloc[:300].loc[ok, "i3_f_ap1"]
    good = obs > 0
    # The model learned something: log error well below the spread of the band itself.
    err = np.abs(np.log10(pred[good] / obs[good])).median()
    assert err < 0.5 * np.log10(obs[good]).std()
    loaded = SpitzerPredictor.load(p.save(tmp_path / "i3.skops"))
    assert loaded.target.key == "irac3"
    b = PredictorBundle([p, SpitzerPredictor().fit(df, target="mips1", sample="unclean",
                                                   preset="none", random_state=SEED,
                                                   n_estimators=5, test_size=None)])
    both = b.predict_catalog(df.iloc[:50])
    assert {"i3_f_pred", "i3_pred_model", "m1_f_pred", "m1_pred_model"} <= set(both.columns)
