"""The Python API takes astropy Tables: units honoured, the same kind returned, unit slips warned.

``SpitzerPredictor.fit`` / ``predict_catalog`` / ``predict`` / ``predict_interval`` and
``PredictorBundle.fit`` / ``predict_catalog`` take a DataFrame (uJy) or an astropy Table (any
flux-density unit, magnitudes refused) and answer in the kind they were given.
"""

from __future__ import annotations

import warnings

import astropy.units as u
import numpy as np
import pandas as pd
import pytest
from astropy.coordinates import SkyCoord
from astropy.table import MaskedColumn, QTable, Table

import wise2spitzer
from wise2spitzer.bundle import PredictorBundle
from wise2spitzer.errors import CatalogError
from wise2spitzer.predictor import SpitzerPredictor
from wise2spitzer.schema import (
    STATUS_UPPER_LIMIT,
    VALUE_STATUSES,
    WISE_FLUX_COLUMNS,
    output_columns,
)
from wise2spitzer.tables import as_frame, check_flux_scale, is_table, to_table

from conftest import RANDOM_STATE

WISE = list(WISE_FLUX_COLUMNS)
IRAC4 = output_columns("irac4")
#: The part of the unit warning's message that names the likely cause.
UNIT_HINT = "Are the fluxes in another unit"


def _table(df: pd.DataFrame, unit=None, *, kind=Table, columns=WISE):
    """``df`` (uJy) as an astropy table whose ``columns`` are in ``unit`` (None: unitless)."""
    table = kind(Table.from_pandas(df, index=False))
    for c in columns:
        if unit is not None:
            table[c] = (np.asarray(df[c], dtype=float) * u.uJy).to(unit)
    table.meta["survey"] = "simulated"
    return table


def _unit_warnings(record) -> list[str]:
    return [str(w.message) for w in record if UNIT_HINT in str(w.message)]


def _values(out, name) -> np.ndarray:
    """A column of a DataFrame or Table as floats, NaN where masked."""
    col = out[name]
    if is_table(out):
        return np.asarray(col.filled(np.nan) if hasattr(col, "filled") else col, dtype=float)
    return col.to_numpy(dtype=float)


@pytest.fixture(scope="module")
def sim_rows(sim_small):
    """The simulated rows of one population: every row in the clean sample or not."""
    return sim_small.head(1500).copy()


@pytest.fixture(scope="module")
def expected(irac4_predictor, sim_rows):
    out = irac4_predictor.predict_catalog(sim_rows)
    assert (out[IRAC4["status"]] == "ok").sum() > 50  # the comparisons below compare values
    return out


# ----------------------------------------------------------------- the demand
def test_table_in_mjy_equals_the_same_table_in_ujy(irac4_predictor, sim_rows):
    in_mjy = irac4_predictor.predict_catalog(_table(sim_rows, u.mJy))
    in_ujy = irac4_predictor.predict_catalog(_table(sim_rows, u.uJy))
    assert isinstance(in_mjy, Table) and isinstance(in_ujy, Table)
    for name in ("pred", "lo", "hi"):
        np.testing.assert_allclose(_values(in_mjy, IRAC4[name]), _values(in_ujy, IRAC4[name]),
                                   rtol=1e-12, equal_nan=True)
    assert list(in_mjy[IRAC4["status"]]) == list(in_ujy[IRAC4["status"]])
    assert (np.asarray(in_mjy[IRAC4["status"]]) == "ok").sum() > 50


@pytest.mark.parametrize("unit", [u.Jy, u.mJy, u.uJy, u.nJy, None,
                                  u.erg / u.s / u.cm**2 / u.Hz])
def test_every_flux_density_unit_gives_the_dataframe_answer(irac4_predictor, sim_rows,
                                                            expected, unit):
    out = irac4_predictor.predict_catalog(_table(sim_rows, unit))
    for name in ("pred", "lo", "hi"):
        np.testing.assert_allclose(_values(out, IRAC4[name]), _values(expected, IRAC4[name]),
                                   rtol=1e-9, equal_nan=True)
    assert list(out[IRAC4["status"]]) == expected[IRAC4["status"]].tolist()


def test_errors_and_targets_in_other_units_are_converted_too(sim_rows):
    table = _table(sim_rows, u.Jy, columns=["wise1", "dwise1", "m1_f_psf", "i4_f_ap1"])
    frame = as_frame(table)
    for c in ("wise1", "dwise1", "m1_f_psf", "i4_f_ap1"):
        np.testing.assert_allclose(frame[c], sim_rows[c].to_numpy(), rtol=1e-12)


# ------------------------------------------------------------------------- the answer
def test_a_table_is_answered_by_a_table_keeping_the_input(irac4_predictor, sim_rows):
    table = _table(sim_rows, u.mJy)
    table["wise1"].description = "W1 flux density"
    before = table.copy()
    out = irac4_predictor.predict_catalog(table)
    assert type(out) is Table and len(out) == len(table)
    # The input columns come back as given (unit, values, description) and so does meta.
    assert out.colnames[: len(table.colnames)] == table.colnames
    assert out["wise1"].unit == u.mJy and out["wise1"].description == "W1 flux density"
    np.testing.assert_array_equal(out["wise1"], table["wise1"])
    assert out.meta == {"survey": "simulated"}
    # New flux columns in uJy, masked exactly where no value was issued.
    # (an upper limit keeps only the upper bound).
    status = np.asarray(out[IRAC4["status"]])
    no_value = ~np.isin(status, VALUE_STATUSES)
    no_bound = no_value & (status != STATUS_UPPER_LIMIT)
    for name, masked in (("pred", no_value), ("lo", no_value), ("hi", no_bound)):
        col = out[IRAC4[name]]
        assert isinstance(col, MaskedColumn) and col.unit == u.uJy
        np.testing.assert_array_equal(np.asarray(col.mask), masked)
    assert out[IRAC4["status"]].description
    assert out[IRAC4["status"]].dtype.kind == "U"
    # The caller's table is not changed.
    assert table.colnames == before.colnames and table.meta == before.meta
    np.testing.assert_array_equal(table["wise4"], before["wise4"])


def test_a_qtable_is_answered_by_a_qtable(irac4_predictor, sim_rows, expected):
    out = irac4_predictor.predict_catalog(_table(sim_rows, u.mJy, kind=QTable))
    assert type(out) is QTable
    pred = out[IRAC4["pred"]]
    assert pred.unit == u.uJy
    ok = expected[IRAC4["status"]].to_numpy() == "ok"
    np.testing.assert_allclose(np.asarray(pred[ok].value), expected.loc[ok, IRAC4["pred"]],
                               rtol=1e-9)


def test_a_dataframe_is_answered_by_a_dataframe_with_its_index(irac4_predictor, sim_rows):
    df = sim_rows.set_index(pd.Index(np.arange(len(sim_rows)) * 7 + 3))
    out = irac4_predictor.predict_catalog(df)
    assert type(out) is pd.DataFrame
    assert out.index.equals(df.index)
    assert list(out.columns) == list(df.columns) + list(IRAC4.values())


def test_columns_pandas_cannot_hold_are_kept_in_the_answer(irac4_predictor, sim_rows,
                                                          expected):
    table = _table(sim_rows)
    table["coord"] = SkyCoord(sim_rows["ra"].to_numpy() * u.deg,
                              sim_rows["dec"].to_numpy() * u.deg)
    table["vector"] = np.zeros((len(table), 3))
    out = irac4_predictor.predict_catalog(table)
    assert isinstance(out["coord"], SkyCoord) and out["vector"].shape == (len(table), 3)
    np.testing.assert_allclose(_values(out, IRAC4["pred"]), _values(expected, IRAC4["pred"]),
                               equal_nan=True)


def test_a_model_column_in_an_unsupported_form_is_refused():
    table = QTable({"wise1": [1.0, 2.0], "ra": SkyCoord([1, 2] * u.deg, [3, 4] * u.deg)})
    with pytest.raises(CatalogError, match=r"column 'ra' must hold one number.*SkyCoord"):
        as_frame(table)


def test_masked_and_byte_values_keep_their_rows(irac4_predictor, sim_rows, expected):
    table = _table(sim_rows)
    table["wise2"] = MaskedColumn(table["wise2"], mask=np.arange(len(table)) < 5)
    table["cc_flags"] = np.char.encode(np.asarray(sim_rows["cc_flags"], dtype=str))
    out = irac4_predictor.predict_catalog(table)
    status = np.asarray(out[IRAC4["status"]])
    assert len(out) == len(table)
    assert set(status[:5]) == {"missing_feature"}
    assert list(status[5:]) == expected[IRAC4["status"]].tolist()[5:]
    assert table["cc_flags"].dtype.kind == "S"  # the caller's bytes were not decoded in place


def test_predict_and_predict_interval_answer_in_kind(irac4_predictor, sim_rows, expected):
    flux = irac4_predictor.predict(sim_rows)
    assert isinstance(flux, pd.Series) and flux.name == IRAC4["pred"]
    iv = irac4_predictor.predict_interval(_table(sim_rows, u.mJy), confidence=0.95)
    assert isinstance(iv, Table) and iv.colnames == [IRAC4["lo"], IRAC4["hi"]]
    np.testing.assert_allclose(_values(iv, IRAC4["lo"]), _values(expected, IRAC4["lo"]),
                               rtol=1e-9, equal_nan=True)
    col = irac4_predictor.predict(_table(sim_rows, u.Jy))
    assert col.unit == u.uJy
    np.testing.assert_allclose(col.filled(np.nan), flux.to_numpy(), rtol=1e-9, equal_nan=True)
    narrow = irac4_predictor.predict_interval(sim_rows, confidence=0.5)
    wide = iv.to_pandas()
    n_lo, n_hi = (narrow[IRAC4[k]].to_numpy(dtype=float) for k in ("lo", "hi"))
    w_lo, w_hi = (wide[IRAC4[k]].to_numpy(dtype=float) for k in ("lo", "hi"))
    # A narrower interval has a higher lower bound, so fewer rows are upper limits: compare
    # the rows both levels give two bounds.
    both = np.isfinite(n_lo) & np.isfinite(w_lo)
    assert both.sum() > 100
    assert ((n_hi - n_lo)[both] < (w_hi - w_lo)[both]).all()


# -------------------------------------------------------------------- refusals
@pytest.mark.parametrize("unit", [u.mag, u.ABmag, u.STmag, u.dex(u.Jy)])
def test_magnitudes_are_refused_naming_column_and_unit(irac4_predictor, sim_rows, unit):
    table = _table(sim_rows)
    table["wise3"] = np.full(len(table), 9.5) * unit
    with pytest.raises(CatalogError, match=r"column 'wise3' has unit '.*mag|dex.*'"
                       r".*flux density is expected"):
        irac4_predictor.predict_catalog(table)


def test_a_unit_that_is_not_a_flux_density_is_refused(sim_rows):
    table = _table(sim_rows)
    table["dwise4"].unit = u.m
    with pytest.raises(CatalogError, match=r"column 'dwise4' has unit 'm'.*not a flux density"):
        as_frame(table)


@pytest.mark.parametrize("data", [[1, 2, 3], np.zeros((3, 4)), {"wise1": [1.0]}])
def test_a_catalogue_of_another_kind_is_refused_by_name(irac4_predictor, data):
    with pytest.raises(CatalogError, match=r"df must be a pandas DataFrame or an astropy "
                                           rf"Table; got {type(data).__name__}"):
        irac4_predictor.predict_catalog(data)


# ---------------------------------------------------------- a DataFrame in mJy
@pytest.mark.parametrize("factor", [1e-3, 1e-6])
def test_a_dataframe_in_mjy_or_jy_warns_of_the_unit(irac4_predictor, sim_rows, factor):
    df = sim_rows.assign(**{c: sim_rows[c] * factor for c in WISE})
    with pytest.warns(UserWarning, match=UNIT_HINT) as record:
        out = irac4_predictor.predict_catalog(df)
    assert (out[IRAC4["status"]] == "ok").sum() == 0
    message = _unit_warnings(record)[0]
    assert "below" in message and "mJy or Jy" in message and "astropy Table" in message


def test_no_unit_warning_on_the_simulated_catalogue_or_upper_sco(irac4_predictor, sim_full,
                                                                 upper_sco):
    for df in (sim_full, upper_sco):
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            irac4_predictor.predict_catalog(df)
        assert _unit_warnings(record) == []


def test_no_unit_warning_for_a_model_trained_on_upper_sco(upper_sco):
    p = SpitzerPredictor().fit(upper_sco, target="mips1", sample="unclean", preset="none",
                               n_estimators=10, conformal_cv=2, select_features=False,
                               test_size=None, random_state=RANDOM_STATE)
    for factor, fires in ((1.0, False), (1e-3, True)):
        df = upper_sco.assign(**{c: upper_sco[c] * factor for c in WISE})
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            p.predict_catalog(df)
        assert bool(_unit_warnings(record)) is fires


def test_check_flux_scale_needs_every_band_on_one_side(irac4_predictor, sim_rows):
    domain = irac4_predictor.domain
    shifted = sim_rows.assign(**{c: sim_rows[c] * 1e-3 for c in WISE[:3]})  # W4 untouched
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_flux_scale(shifted, domain) is False
        assert check_flux_scale(sim_rows.head(0), domain) is False
        assert check_flux_scale(sim_rows.drop(columns="wise4"), domain) is False
    with pytest.warns(UserWarning, match="above"):
        assert check_flux_scale(sim_rows.assign(**{c: sim_rows[c] * 1e8 for c in WISE}),
                                domain) is True


# --------------------------------------------------------------------- training
def test_fit_on_a_table_equals_fit_on_the_dataframe(sim_rows):
    params = dict(target="irac4", sample="unclean", preset="none", n_estimators=10,
                  conformal_cv=2, select_features=False, test_size=None,
                  random_state=RANDOM_STATE)
    from_frame = SpitzerPredictor().fit(sim_rows, **params)
    expected = from_frame.predict(sim_rows)
    assert expected.notna().sum() > 100
    for unit in (None, u.uJy):
        from_table = SpitzerPredictor().fit(_table(sim_rows, unit), **params)
        assert from_table.card["training_data_sha256"] == from_frame.card["training_data_sha256"]
        np.testing.assert_array_equal(from_table.predict(sim_rows), expected)


def test_fit_on_a_table_in_mjy_trains_on_the_same_rows_and_values(sim_rows):
    """mJy -> uJy multiplies by 1000: the training table equals the DataFrame's to rounding.

    (Not the fitted forest bit for bit: the Yeo-Johnson search and the forest react to
    last-bit differences of their input.)
    """
    from wise2spitzer.training import training_table

    X, y, _ = training_table(sim_rows, target="irac4", sample="unclean", feature_set=None)
    Xt, yt, _ = training_table(as_frame(_table(sim_rows, u.mJy)), target="irac4",
                               sample="unclean", feature_set=None)
    assert len(X) > 100 and list(Xt.index) == list(X.index)
    np.testing.assert_allclose(Xt.to_numpy(dtype=float), X.to_numpy(dtype=float), rtol=1e-12)
    np.testing.assert_allclose(yt.to_numpy(), y.to_numpy(), rtol=1e-12)


def test_a_bundle_takes_and_returns_tables(sim_rows):
    bundle = PredictorBundle.fit(_table(sim_rows, u.Jy), targets=["irac4"],
                                 samples=["clean", "unclean"], preset="none", n_estimators=10,
                                 conformal_cv=2, select_features=False, test_size=None,
                                 random_state=RANDOM_STATE)
    expected = bundle.predict_catalog(sim_rows)
    out = bundle.predict_catalog(_table(sim_rows, u.mJy))
    assert type(out) is Table
    assert out.colnames[-len(bundle.output_names()):] == bundle.output_names()
    assert list(out["i4_pred_model"]) == expected["i4_pred_model"].tolist()
    assert set(out["i4_pred_model"]) == {"clean", "unclean"}
    assert out[IRAC4["pred"]].unit == u.uJy
    np.testing.assert_allclose(_values(out, IRAC4["pred"]), _values(expected, IRAC4["pred"]),
                               rtol=1e-9, equal_nan=True)


# ------------------------------------------------------------------ conversions
def test_to_table_round_trips_through_as_frame(sim_rows):
    table = to_table(sim_rows)
    assert table["wise1"].unit == u.uJy and table["ra"].unit is None
    back = as_frame(table)
    np.testing.assert_allclose(back["wise4"], sim_rows["wise4"].to_numpy())
    assert back["cc_flags"].tolist() == sim_rows["cc_flags"].tolist()
    with pytest.raises(CatalogError, match="like has 3 rows but df has"):
        to_table(sim_rows, like=table[:3])


def test_the_package_exports_the_entry_points():
    from wise2spitzer.batch import predict_file

    assert wise2spitzer.predict_file is predict_file
    assert wise2spitzer.PredictorBundle is PredictorBundle
    assert wise2spitzer.as_frame is as_frame and wise2spitzer.to_table is to_table
    for name in ("predict_file", "PredictorBundle", "as_frame", "to_table"):
        assert name in wise2spitzer.__all__ and name in dir(wise2spitzer)


@pytest.mark.parametrize(("ending", "fmt"), [("fits", "fits"), ("ecsv", "ascii.ecsv"),
                                           ("xml", "votable")])
def test_the_answer_writes_and_reads_back(irac4_predictor, sim_rows, tmp_path, ending, fmt):
    """An answered Table goes to a file astropy writes and wise2spitzer reads, units and all."""
    from wise2spitzer.catalog import read_catalog

    table = _table(sim_rows.head(300), u.mJy)
    out = irac4_predictor.predict_catalog(table)
    path = tmp_path / f"predicted.{ending}"
    out.write(path, format=fmt, overwrite=True)
    back = read_catalog(path)
    expected = irac4_predictor.predict_catalog(sim_rows.head(300))
    assert (expected[IRAC4["status"]] == "ok").sum() > 10
    assert back[IRAC4["status"]].tolist() == expected[IRAC4["status"]].tolist()
    np.testing.assert_allclose(back[IRAC4["pred"]], expected[IRAC4["pred"]], rtol=1e-9,
                               equal_nan=True)
    np.testing.assert_allclose(back["wise1"], sim_rows["wise1"].head(300), rtol=1e-12)
