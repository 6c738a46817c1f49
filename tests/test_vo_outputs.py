"""VO-grade outputs: units, UCDs and descriptions per column, provenance in standard places,
valid VOTable and FITS, in every format, for whole-file writes and streamed predictions."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import warnings

import numpy as np
import pandas as pd
import pytest
from astropy.io import fits
from astropy.io.votable import parse
from astropy.io.votable.ucd import check_ucd
from astropy.table import Table

from wise2spitzer.batch import predict_file
from wise2spitzer.catalog import read_catalog, resolve_format, write_catalog
from wise2spitzer.catalog.vo import (
    FITS_KEYWORDS,
    column_meta,
    fits_keyword,
    known_columns,
    meta_key_from_fits,
    output_date,
)
from wise2spitzer.errors import CatalogError

ENDINGS = [".csv", ".ecsv", ".fits", ".vot", ".parquet", ".fits.gz", ".vot.gz", ".ecsv.gz"]
ASTROPY_FORMAT = {".vot": "votable", ".vot.gz": "votable", ".ecsv.gz": "ascii.ecsv"}
MYSTERY = {"unit": "km / s", "ucd": "phys.veloc", "description": "a passed-through column"}


def _astropy_read(path, ending):
    """Table.read of an output with no warning at all (a warning is a defect here)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return Table.read(path, format=ASTROPY_FORMAT.get(ending))


@pytest.fixture
def frame():
    df = pd.DataFrame(
        {
            "objid": [1, 2, 3],
            "ra": [10.0, 11.0, 12.0],
            "dec": [-5.0, -6.0, -7.0],
            "wise4": [9000.0, np.nan, 1.2e4],
            "m1_f_pred": [1.0, 2.0, np.nan],
            "m1_f_pred_lo": [0.5, 1.0, np.nan],
            "m1_f_pred_hi": [2.0, 3.0, np.nan],
            "m1_pred_status": ["ok", "ok", "missing_feature"],
            "cc_flags": ["0000", None, "00D0"],
            "mystery": [1.5, 2.5, 3.5],
        }
    )
    df["cc_flags"] = df["cc_flags"].astype("str")
    df.attrs["columns"] = {"mystery": dict(MYSTERY)}
    return df


# ------------------------------------------------------------------ the column table
def test_every_assigned_ucd_is_valid_ucd1plus():
    table = known_columns()
    assert len(table) > 60
    for name, info in table.items():
        assert info.ucd, name
        assert check_ucd(info.ucd, check_controlled_vocabulary=True), (name, info.ucd)
        assert info.description, name


def test_ucds_follow_irsa_seip_conventions():
    assert column_meta("m1_f_psf").ucd == "phot.flux.density;em.IR.15-30um"
    assert column_meta("m1_df_psf").ucd == "stat.error;phot.flux.density;em.IR.15-30um"
    assert column_meta("i4_f_ap1").ucd == "phot.flux.density;em.IR.8-15um"
    assert column_meta("wise1").ucd == "phot.flux.density;em.IR.3-4um"
    assert column_meta("wise2").ucd == "phot.flux.density;em.IR.4-8um"
    assert column_meta("wise3").ucd == "phot.flux.density;em.IR.8-15um"
    assert column_meta("wise4").ucd == "phot.flux.density;em.IR.15-30um"
    assert column_meta("ra") == ("deg", "pos.eq.ra;meta.main", "right ascension (ICRS)")
    assert column_meta("dec").unit == "deg" and column_meta("dec").ucd == "pos.eq.dec;meta.main"
    assert column_meta("m1_f_pred_lo").ucd.endswith(";stat.min")
    assert column_meta("i4_f_pred_hi").ucd == "phot.flux.density;em.IR.8-15um;stat.max"
    assert column_meta("m1_pred_status").ucd == "meta.code.qual"
    assert column_meta("m1_pred_model").ucd == "meta.id"
    assert column_meta("not_a_column") is None


def test_fits_keywords_are_standard_and_read_back():
    for key, keyword in FITS_KEYWORDS.items():
        assert re.fullmatch(r"[A-Z0-9_-]{1,8}", keyword), keyword
        assert meta_key_from_fits(keyword) == key
    assert fits_keyword("seed") == "SEED"
    assert fits_keyword("members_table") == "HIERARCH MEMBERS_TABLE"
    assert meta_key_from_fits("MEMBERS_TABLE") == "members_table"


def test_date_is_iso_and_honours_source_date_epoch(monkeypatch):
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", output_date())
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert output_date() == "2023-11-14"


# ------------------------------------------------------------------ write_catalog
@pytest.mark.parametrize("ending", ENDINGS)
def test_every_format_describes_its_columns(tmp_path, frame, ending):
    path = tmp_path / f"cat{ending}"
    write_catalog(frame, path, meta={"interval_method": "conformal"})
    back = read_catalog(path)
    pd.testing.assert_frame_equal(back, frame, check_exact=True)
    cols = back.attrs["columns"]
    mine = column_meta("m1_f_pred")
    assert cols["m1_f_pred"] == {"unit": "uJy", "ucd": mine.ucd, "description": mine.description}
    assert cols["ra"]["unit"] == "deg" and cols["ra"]["ucd"] == "pos.eq.ra;meta.main"
    assert cols["mystery"]["ucd"] == "phys.veloc"
    assert cols["mystery"]["unit"].replace(" ", "") == "km/s"
    meta = back.attrs["meta"]
    assert meta["origin"] == "wise2spitzer" and meta["date"] == output_date()
    assert meta["creator"].startswith("wise2spitzer ") and meta["interval_method"] == "conformal"
    if ending == ".csv":  # plain CSV has nowhere for them: the sidecar holds them
        side = json.loads((tmp_path / "cat.csv.meta.json").read_text())
        assert side["columns"]["m1_f_pred"]["ucd"] == mine.ucd
        return
    table = _astropy_read(path, ending)
    col = table["m1_f_pred"]
    assert str(col.unit) == "uJy" and col.meta["ucd"] == mine.ucd
    assert " ".join(col.description.split()) == mine.description
    assert table["mystery"].meta["ucd"] == "phys.veloc"
    assert " ".join(table["mystery"].description.split()) == MYSTERY["description"]


@pytest.mark.parametrize("ending", [".vot", ".vot.gz"])
def test_votable_validates_and_carries_info_and_coosys(tmp_path, frame, ending):
    path = tmp_path / f"cat{ending}"
    write_catalog(frame, path, meta={"model_sha256": "ab" * 32, "interval_confidence": 0.9},
                  name="predictions")
    vot = parse(str(path), verify="exception")
    resource = vot.resources[0]
    infos = {i.name: i.value for i in resource.infos}
    assert infos["origin"] == "wise2spitzer" and infos["model_sha256"] == "ab" * 32
    assert infos["creator"].startswith("wise2spitzer") and infos["date"] == output_date()
    table = resource.tables[0]
    assert table.name == "predictions"
    assert table.get_field_by_id_or_name("interval_confidence").value == 0.9
    fields = {f.name: f for f in table.fields}
    assert fields["m1_f_pred"].ucd == column_meta("m1_f_pred").ucd
    assert str(fields["m1_f_pred"].unit) == "uJy"
    assert resource.coordinate_systems[0].system == "ICRS"
    assert fields["ra"].ref == resource.coordinate_systems[0].ID


@pytest.mark.parametrize("ending", [".fits", ".fits.gz"])
def test_fits_header_is_standard_and_verifies(tmp_path, frame, ending):
    path = tmp_path / f"cat{ending}"
    meta = {"model_sha256": "ab" * 32, "interval_method": "conformal",
            "members_table": "J/A+A/673/A114/members", "long": "y" * 150}
    write_catalog(frame, path, meta=meta, name="predictions")
    with fits.open(path) as hdul:
        hdul.verify("exception")
        header = hdul[1].header
        assert header["EXTNAME"] == "PREDICTIONS" and header["ORIGIN"] == "wise2spitzer"
        assert header["DATE"] == output_date() and header["CREATOR"].startswith("wise2spitzer")
        assert header["MODELSHA"] == "ab" * 32 and header["INTMETH"] == "conformal"
        assert header["MEMBERS_TABLE"] == "J/A+A/673/A114/members"  # upper-case HIERARCH
        assert "CONTINUE" not in header  # no long-string convention
        assert all(k == k.upper() for k in header if k)
        n = list(frame.columns).index("m1_f_pred") + 1
        assert header[f"TUNIT{n}"] == "uJy" and header[f"TUCD{n}"] == column_meta("m1_f_pred").ucd
    assert read_catalog(path).attrs["meta"]["long"] == "y" * 150  # kept in a COMMENT
    if shutil.which("fitsverify") is None:
        pytest.skip("fitsverify is not installed")
    out = subprocess.run(["fitsverify", str(path)], capture_output=True, text=True).stdout
    assert "0 warning(s) and 0 error(s)" in out, out


def test_parquet_is_astropy_readable_with_nulls_in_text(tmp_path, frame):
    path = tmp_path / "cat.parquet"
    write_catalog(frame, path, meta={"seed": 3})
    table = _astropy_read(path, ".parquet")
    assert table.meta["seed"] == 3 and table.meta["origin"] == "wise2spitzer"
    assert list(table["cc_flags"][[0, 2]]) == ["0000", "00D0"]
    assert str(table["wise4"].unit) == "uJy" and str(table["ra"].unit) == "deg"
    import pyarrow.parquet as pq

    assert b"wise2spitzer.meta" not in (pq.read_schema(path).metadata or {})


def test_old_parquet_with_the_private_key_is_still_read(tmp_path, frame):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    fields = [f.with_metadata({b"unit": b"mJy"}) if f.name == "wise4" else f
              for f in table.schema]
    schema = pa.schema(fields, metadata={**table.schema.metadata,
                                         b"wise2spitzer.meta": b'{"creator": "old"}'})
    pq.write_table(table.cast(schema), tmp_path / "old.parquet")
    back = read_catalog(tmp_path / "old.parquet")
    assert back.attrs["meta"] == {"creator": "old"}
    assert back["wise4"].iloc[0] == pytest.approx(9000.0 * 1000)  # mJy -> uJy still applied
    assert back.attrs["columns"]["wise4"]["unit"] == "uJy"


def test_known_columns_override_the_input_description_but_not_its_other_units(tmp_path, frame):
    frame.attrs["columns"] = {"ra": {"unit": "rad", "description": "someone else's"},
                              "wise4": {"unit": "mJy"}}
    path = tmp_path / "cat.ecsv"
    write_catalog(frame, path)
    cols = read_catalog(path).attrs["columns"]
    assert cols["ra"]["unit"] == "rad" and cols["ra"]["description"] == "right ascension (ICRS)"
    assert cols["wise4"]["unit"] == "uJy"  # flux values are always uJy in a frame


def test_unknown_ending_lists_the_endings_without_asking_for_format_equals():
    with pytest.raises(CatalogError) as err:
        resolve_format("out.txt", what="output")
    message = str(err.value)
    assert "output 'out.txt'" in message and ".parquet" in message and ".fits.gz" not in message
    assert "'.gz'" in message and "format=" not in message and "--format" not in message


# ------------------------------------------------------------------ streamed predictions
@pytest.mark.parametrize("ending", [".parquet", ".csv", ".fits", ".vot", ".ecsv", ".csv.gz"])
def test_predict_file_outputs_describe_predictions(sim_small, mips1_predictor, tmp_path, ending):
    src = tmp_path / "in.parquet"
    data = sim_small.iloc[:300].assign(mystery=np.arange(300.0))
    data.attrs["columns"] = {"mystery": dict(MYSTERY)}
    write_catalog(data, src)
    out = tmp_path / f"out{ending}"
    predict_file(mips1_predictor, src, out, chunksize=120, confidence=0.9)
    back = read_catalog(out)
    cols, meta = back.attrs["columns"], back.attrs["meta"]
    for name in ("m1_f_pred", "m1_f_pred_lo", "m1_f_pred_hi", "m1_pred_status", "wise4", "ra"):
        mine = column_meta(name)
        assert cols[name]["ucd"] == mine.ucd and cols[name]["description"] == mine.description
        assert cols[name].get("unit") == mine.unit, name
    assert cols["mystery"]["ucd"] == "phys.veloc"  # passed through from the input
    assert meta["origin"] == "wise2spitzer" and meta["date"] == output_date()
    assert meta["interval_confidence"] == 0.9 and len(meta["model_sha256"]) == 64
    if ending.startswith(".csv"):
        return
    table = _astropy_read(out, ending)
    assert str(table["m1_f_pred"].unit) == "uJy"
    assert table["m1_f_pred"].meta["ucd"] == column_meta("m1_f_pred").ucd
    assert table["m1_f_pred"].description
    if ending == ".vot":
        parse(str(out), verify="exception")
    if ending == ".fits":
        with fits.open(out) as hdul:
            hdul.verify("exception")
            assert hdul[1].name == "PREDICTIONS"
