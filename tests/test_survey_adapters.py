"""Survey adapters: a registered adapter is all a new input survey needs; AllWISE once."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from wise2spitzer import batch, irsa
from wise2spitzer.catalog.surveys import (
    ALLWISE,
    SurveyAdapter,
    detect_survey,
    from_allwise,
    get_survey,
    register_survey,
    survey_names,
    unregister_survey,
)
from wise2spitzer.errors import CatalogError
from wise2spitzer.schema import WISE_FLUX_COLUMNS, WISE_QUALITY_COLUMNS, output_columns, ujy_to_mag

RANDOM_STATE = 0
OUT = list(output_columns("irac4").values())


class ToyAdapter(SurveyAdapter):
    """A survey giving WISE-like fluxes in mJy under its own names."""

    name = "toysurvey"
    column_map = {
        **{f"flux_w{i}_mjy": f"wise{i}" for i in range(1, 5)},
        **{f"chi2_w{i}": f"wise{i}rchi2" for i in range(1, 5)},
        **{f"nframes_w{i}": f"wise{i}m" for i in range(1, 5)},
        **{f"ndet_w{i}": f"wise{i}nm" for i in range(1, 5)},
    }
    signature = ("flux_w4_mjy",)
    flux_unit = "mJy"


@pytest.fixture(scope="module")
def sim() -> pd.DataFrame:
    from wise2spitzer import simulate_seip

    return simulate_seip(1500, random_state=RANDOM_STATE)


@pytest.fixture(scope="module")
def predictor(sim):
    from wise2spitzer import SpitzerPredictor

    return SpitzerPredictor().fit(
        sim,
        target="irac4",
        sample="unclean",
        preset="none",
        random_state=RANDOM_STATE,
        n_estimators=10,
    )


@pytest.fixture
def toy():
    adapter = register_survey(ToyAdapter())
    yield adapter
    unregister_survey("toysurvey")


def _to_toy(df: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({"name": df["objid"].astype(str)})
    inverse = {seip: toy for toy, seip in ToyAdapter.column_map.items()}
    for seip, toy_name in inverse.items():
        values = df[seip].to_numpy(dtype=float)
        out[toy_name] = values / 1000.0 if seip in WISE_FLUX_COLUMNS else values  # uJy -> mJy
    return out


def _to_allwise(df: pd.DataFrame) -> pd.DataFrame:
    """SEIP rows as the AllWISE catalogue holds them (some null and upper-limit magnitudes)."""
    aw = pd.DataFrame({"designation": df["objid"].astype(str), "ra": df["ra"], "dec": df["dec"]})
    for i in range(1, 5):
        flux = df[f"wise{i}"].to_numpy(dtype=float)
        aw[f"w{i}mpro"] = ujy_to_mag(flux, f"W{i}")
        aw[f"w{i}sigmpro"] = 2.5 / np.log(10) * df[f"dwise{i}"].to_numpy(dtype=float) / flux
        aw[f"w{i}snr"] = df[f"w{i}snr"]
        aw[f"w{i}rchi2"] = df[f"wise{i}rchi2"]
        aw[f"w{i}m"] = df[f"wise{i}m"]
        aw[f"w{i}nm"] = df[f"wise{i}nm"]
    aw["cc_flags"] = df["cc_flags"]
    aw["ext_flg"] = df["ext_flg"]
    aw.loc[aw.index[::7], "w1mpro"] = np.nan  # not measured
    aw.loc[aw.index[1::5], "w3sigmpro"] = np.nan  # upper limit: no error
    # ph_qual "U" marks the limits (a null error alone is not one: "Z" has none either).
    letters = [
        np.where(aw[f"w{i}mpro"].isna(), "X", np.where(aw[f"w{i}sigmpro"].isna(), "U", "A"))
        for i in range(1, 5)
    ]
    aw["ph_qual"] = ["".join(q) for q in zip(*letters, strict=True)]
    return aw.reset_index(drop=True)


def _log_diff(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    assert np.array_equal(np.isnan(a), np.isnan(b))
    ok = ~np.isnan(a)
    return float(np.max(np.abs(np.log10(a[ok]) - np.log10(b[ok])), initial=0.0))


# ------------------------------------------------------------------ registry
def test_builtin_surveys_and_registry_errors():
    assert survey_names()[:2] == ("seip", "allwise")
    assert get_survey("AllWISE") is ALLWISE
    with pytest.raises(CatalogError, match=r"survey must be one of \['seip', 'allwise'.*got 'x'"):
        get_survey("x")
    with pytest.raises(CatalogError, match="'allwise' is already registered"):
        register_survey(type(ALLWISE)())
    with pytest.raises(CatalogError, match="adapter must be a SurveyAdapter instance; got dict"):
        register_survey({})
    seip = pd.DataFrame({"wise4": [1.0], "w4mpro": [5.0]})
    assert detect_survey(seip).name == "seip"  # SEIP columns present: never converted again
    assert detect_survey(pd.DataFrame({"w4mpro": [5.0]})) is ALLWISE
    assert detect_survey(pd.DataFrame({"foo": [1.0]})) is None


def test_batch_re_exports_the_allwise_adapter():
    assert batch.from_allwise is from_allwise
    assert batch.is_allwise(pd.DataFrame({"w2mpro": [1.0]}))
    assert batch.ALLWISE_COLUMN_MAP is ALLWISE.column_map


# ------------------------------------------------------------------ a new survey
def test_a_registered_toy_survey_is_detected_and_converted(sim, toy):
    rows = sim.iloc[:50].reset_index(drop=True)
    table = _to_toy(rows)
    assert detect_survey(table) is toy
    seip = toy.to_seip(table)
    assert list(seip.columns[: table.shape[1]]) == list(table.columns)  # originals kept
    for i in range(1, 5):
        np.testing.assert_allclose(seip[f"wise{i}"], rows[f"wise{i}"], rtol=1e-12)
    for column in WISE_QUALITY_COLUMNS:
        np.testing.assert_array_equal(seip[column].to_numpy(float), rows[column].to_numpy(float))


def test_toy_survey_predicts_through_the_streaming_path(sim, predictor, toy, tmp_path):
    rows = sim.iloc[:600].reset_index(drop=True)
    expected = predictor.predict_catalog(rows)
    table = _to_toy(rows)
    table.to_parquet(tmp_path / "toy.parquet")
    summary = batch.predict_file(
        predictor, tmp_path / "toy.parquet", tmp_path / "out.parquet", chunksize=250
    )
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert summary.rows_out == len(rows)
    assert list(out.columns) == list(table.columns) + OUT  # the survey's columns + predictions
    np.testing.assert_array_equal(out[OUT[3]].to_numpy(), expected[OUT[3]].to_numpy())
    assert (out[OUT[3]] == "ok").sum() > 20
    for column in OUT[:3]:
        assert _log_diff(out[column], expected[column]) < 1e-6


def test_without_the_adapter_the_toy_table_is_not_understood(predictor, sim):
    table = _to_toy(sim.iloc[:20])
    assert detect_survey(table) is None
    with pytest.warns(UserWarning, match="every row gets status 'missing_feature'"):
        out = batch.predict_chunk(predictor, table)
    assert set(out[OUT[3]]) == {"missing_feature"}


# ------------------------------------------------------------------ AllWISE: one conversion
def test_allwise_conversion_is_the_same_for_predict_and_the_archive_merge(sim):
    rows = sim.iloc[:200].reset_index(drop=True)
    aw = _to_allwise(rows)
    via_predict = from_allwise(aw)

    # The archive merge: rows without any SEIP WISE photometry get AllWISE's, converted.
    matches = aw.rename(columns={c: f"allwise_{c}" for c in aw.columns})
    matches.insert(0, "input_index", np.arange(len(aw)))
    matches["allwise_sep_arcsec"] = 0.1
    base = pd.DataFrame({"objid": rows["objid"], "ra": rows["ra"], "dec": rows["dec"]})
    via_merge = irsa.merge_allwise(base, matches)

    assert (via_merge["wise_phot_source"] == "allwise").all()
    columns = [f"{p}{i}" for i in range(1, 5) for p in ("wise", "dwise")] + list(
        WISE_QUALITY_COLUMNS
    )
    for column in columns:
        np.testing.assert_array_equal(
            via_merge[column].to_numpy(float), np.asarray(via_predict[column], dtype=float)
        )
    assert np.isnan(via_predict["wise1"].iloc[0]) and np.isnan(via_predict["dwise3"].iloc[1])
