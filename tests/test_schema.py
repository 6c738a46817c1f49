import importlib

import numpy as np
import pytest

import wise2spitzer
from wise2spitzer import schema


def test_every_public_name_imports():
    for name in wise2spitzer.__all__:
        assert getattr(wise2spitzer, name) is not None, name


@pytest.mark.parametrize(
    "module",
    ["schema", "errors", "catalog", "datasets", "samples", "features", "domain", "selection",
     "model", "tuning", "predictor", "evaluation", "excess", "batch", "irsa", "plots", "sed",
     "report"],
)
def test_module_all_names_exist(module):
    mod = importlib.import_module(f"wise2spitzer.{module}")
    for name in getattr(mod, "__all__", []):
        assert hasattr(mod, name), f"wise2spitzer.{module}.__all__ lists missing name {name!r}"


def test_band_table_matches_design():
    # SEIP column names, band wavelengths and Vega zero points.
    assert schema.BANDS["W4"].column == "wise4"
    assert schema.BANDS["W4"].zero_point_jy == pytest.approx(8.363)
    assert schema.BANDS["MIPS1"].column == "m1_f_psf"
    assert schema.BANDS["MIPS1"].error_column == "m1_df_psf"
    assert schema.BANDS["IRAC4"].wavelength_um == pytest.approx(7.87)
    assert schema.BANDS["IRAC4"].zero_point_jy == pytest.approx(64.9)
    assert schema.BANDS["Ks"].column == "k"
    assert len(schema.PAPER_FEATURES) == 16
    assert schema.PAPER_FEATURES[:4] == ("wise1", "wise2", "wise3", "wise4")
    assert "wise3nm" in schema.PAPER_FEATURES and "wise1rchi2" in schema.PAPER_FEATURES


def test_mag_flux_round_trip_and_hand_values():
    # 0 mag is the zero point; 5 mag is 100x fainter.
    assert schema.mag_to_ujy(0.0, "W1") == pytest.approx(309.540e6)
    assert schema.mag_to_ujy(5.0, "MIPS1") == pytest.approx(7.17e6 / 100)
    mags = np.array([3.2, 8.0, 12.5])
    back = schema.ujy_to_mag(schema.mag_to_ujy(mags, "W3"), "W3")
    np.testing.assert_allclose(back, mags, atol=1e-12)
    assert np.isnan(schema.ujy_to_mag(np.array([0.0, -5.0]), "W3")).all()
    # 0.1 mag error is ~9.2 % in flux
    assert schema.mag_err_to_ujy(1000.0, 0.1) == pytest.approx(92.1034, rel=1e-4)


def test_targets_and_output_columns():
    t = schema.get_target("mips1")
    assert (t.column, t.counterpart, t.prefix) == ("m1_f_psf", "wise4", "m1")
    assert schema.get_target("i4_f_ap1").key == "irac4"
    assert schema.output_columns("irac4") == {
        "pred": "i4_f_pred",
        "lo": "i4_f_pred_lo",
        "hi": "i4_f_pred_hi",
        "status": "i4_pred_status",
    }
    assert schema.output_columns(t)["status"] == "m1_pred_status"


def test_bad_target_and_band_name_what_was_received():
    with pytest.raises(ValueError, match=r"target must be one of .*got 'w5'"):
        schema.get_target("w5")
    with pytest.raises(ValueError, match=r"band must be one of .*got 'K5'"):
        schema.mag_to_ujy(1.0, "K5")
