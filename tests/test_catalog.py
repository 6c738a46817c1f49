"""Tests of catalogue reading, writing, validation and data loading."""

from __future__ import annotations

import os
import re

import numpy as np
import pandas as pd
import pytest
from astropy.table import Table

from wise2spitzer.catalog import (
    EMBEDDED_DATASETS,
    FORMATS,
    infer_format,
    load_data,
    measured,
    read_catalog,
    validate_catalog,
    write_catalog,
)
from wise2spitzer.errors import CatalogError, Wise2SpitzerError

from conftest import RANDOM_STATE

ENDINGS = [".csv", ".csv.gz", ".ecsv", ".fits", ".fits.gz", ".vot", ".parquet"]


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """A small SEIP-like table with every dtype the formats must carry."""
    rng = np.random.default_rng(RANDOM_STATE)
    n = 40
    wise4 = rng.uniform(6000.0, 60000.0, n)
    wise4[[3, 7]] = np.nan
    wise4[5] = 0.0  # not measured, not an error
    flags = np.array(["0000"] * n, dtype=object)
    flags[[1, 2]] = ["h0d0", "00D0"]
    flags[4] = None
    return pd.DataFrame(
        {
            "objid": np.arange(1000, 1000 + n, dtype=np.int64),
            "ra": rng.uniform(0, 360, n),
            "wise4": wise4,
            "dwise4": wise4 * 0.05,
            "w4snr": rng.uniform(1, 30, n).astype(np.float32),
            "cc_flags": pd.array(flags, dtype="str"),
            "ext_flg": rng.integers(0, 3, n).astype(np.int16),
            "has_disk": rng.random(n) < 0.3,
            "cluster": pd.array([f"Cl_{i % 4}" for i in range(n)], dtype="str"),
        }
    )


META = {
    "dataset": "simulated",
    "random_state": 7,
    "a_long_key_name": "a value with spaces",
    "simulated": True,
    "scale": 1.5,
}


@pytest.mark.parametrize("ending", ENDINGS)
def test_round_trip_every_format(tmp_path, frame, ending):
    path = tmp_path / f"cat{ending}"
    write_catalog(frame, path, meta=META)
    back = read_catalog(path)

    assert list(back.columns) == list(frame.columns)
    assert len(back) == len(frame)
    for column in frame.columns:
        assert back[column].dtype == frame[column].dtype, column
    # cc_flags like '0000' must stay strings, and the missing one stays missing
    assert back["cc_flags"].iloc[0] == "0000"
    assert back["cc_flags"].iloc[2] == "00D0"
    assert pd.isna(back["cc_flags"].iloc[4])
    pd.testing.assert_frame_equal(back, frame, check_exact=True)
    for key, value in META.items():
        assert back.attrs["meta"][key] == value, key
    # no temporary files left behind
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_meta_key_case_and_non_ascii_in_fits(tmp_path, frame):
    # FITS keywords are upper case and case-insensitive: every key comes back in lower
    # case, next to the provenance every output carries (origin, date, creator).
    from astropy.io import fits

    meta = {"Dataset": "x", "SHORT": 1, "note": "ünïcode", "long": "y" * 150, "none": None}
    path = tmp_path / "cat.fits"
    write_catalog(frame, path, meta=meta)
    back = read_catalog(path).attrs["meta"]
    assert {k: back[k.lower()] for k in meta} == meta
    assert back["origin"] == "wise2spitzer" and back["creator"].startswith("wise2spitzer")
    header = fits.getheader(path, 1)
    assert header["DATASET"] == "x" and header["SHORT"] == 1 and header["ORIGIN"] == "wise2spitzer"
    assert all(k == k.upper() for k in header if k)


@pytest.mark.parametrize("ending", [".ecsv", ".fits", ".vot", ".parquet", ".csv"])
def test_flux_columns_carry_ujy_unit(tmp_path, frame, ending):
    path = tmp_path / f"cat{ending}"
    write_catalog(frame, path)
    if ending == ".csv":
        import json

        side = json.loads((tmp_path / "cat.csv.meta.json").read_text())
        units = {c: i.get("unit") for c, i in side["columns"].items()}
    elif ending == ".parquet":
        import pyarrow.parquet as pq

        units = {
            f.name: (f.metadata or {}).get(b"unit", b"").decode() or None
            for f in pq.read_schema(path)
        }
    else:
        table = Table.read(path)
        units = {c: (str(table[c].unit) if table[c].unit else None) for c in table.colnames}
    assert units["wise4"] == "uJy" and units["dwise4"] == "uJy"
    assert units["objid"] is None and units["w4snr"] is None


@pytest.mark.parametrize("ending", [".ecsv", ".fits", ".vot", ".parquet"])
@pytest.mark.parametrize(("unit", "factor"), [("mJy", 1e3), ("Jy", 1e6), ("nJy", 1e-3)])
def test_flux_units_converted_to_ujy(tmp_path, ending, unit, factor):
    table = Table({"objid": [1, 2], "wise4": [1.5, 3.0], "ra": [10.0, 20.0]})
    table["wise4"].unit = unit
    table["ra"].unit = "deg"  # not a flux column: left alone
    path = tmp_path / f"cat{ending}"
    table.write(path, format={".vot": "votable"}.get(ending))
    back = read_catalog(path)
    np.testing.assert_allclose(back["wise4"], np.array([1.5, 3.0]) * factor)
    np.testing.assert_allclose(back["ra"], [10.0, 20.0])


@pytest.mark.parametrize(
    ("ending", "unit"),
    [
        (".ecsv", "mag"),
        (".fits", "mag"),
        (".vot", "mag"),
        (".ecsv", "mag(AB)"),
        (".vot", "mag(AB)"),
    ],
)
def test_magnitude_unit_in_flux_column_is_an_error(tmp_path, ending, unit):
    table = Table({"objid": [1, 2], "dwise3": [0.1, 0.2]})
    table["dwise3"].unit = unit
    path = tmp_path / f"cat{ending}"
    table.write(path, format={".vot": "votable"}.get(ending))
    with pytest.raises(CatalogError, match=r"cat\..*column 'dwise3'.*magnitude"):
        read_catalog(path)


def test_non_flux_unit_in_flux_column_is_an_error(tmp_path):
    table = Table({"wise2": [1.0, 2.0]})
    table["wise2"].unit = "ct"
    table.write(tmp_path / "c.ecsv")
    with pytest.raises(CatalogError, match=r"c\.ecsv.*'wise2'.*'ct'.*not a flux density"):
        read_catalog(tmp_path / "c.ecsv")


def test_masked_values_become_nan_and_bytes_are_decoded(tmp_path):
    table = Table(
        {
            "wise1": np.ma.array([1e4, 2e4, 3e4], mask=[False, True, False]),
            "w1snr": np.ma.array([5, 6, 7], mask=[False, False, True]),
            "name": np.array([b"a", b"bb", b"c"]),
        }
    )
    table.write(tmp_path / "m.fits")
    back = read_catalog(tmp_path / "m.fits")
    assert np.isnan(back["wise1"].iloc[1]) and back["wise1"].iloc[0] == 1e4
    assert np.isnan(back["w1snr"].iloc[2]) and back["w1snr"].iloc[0] == 5
    assert back["name"].tolist() == ["a", "bb", "c"]
    assert all(isinstance(v, str) for v in back["name"])


@pytest.mark.parametrize("ending", [".fits", ".ecsv", ".parquet"])
def test_multidimensional_column_rejected(tmp_path, ending):
    Table({"objid": [1, 2], "sed": np.ones((2, 3))}).write(tmp_path / f"md{ending}")
    with pytest.raises(CatalogError, match=r"md\..*column 'sed' is multidimensional"):
        read_catalog(tmp_path / f"md{ending}")


def test_missing_file_and_unknown_extension(tmp_path):
    with pytest.raises(CatalogError, match=r"not found: '.*nope\.fits'"):
        read_catalog(tmp_path / "nope.fits")
    (tmp_path / "cat.txt").write_text("a,b\n1,2\n")
    with pytest.raises(CatalogError, match=r"cat\.txt.*allowed endings.*csv.*parquet"):
        read_catalog(tmp_path / "cat.txt")
    with pytest.raises(CatalogError, match=r"format must be one of .*got 'hdf5'"):
        read_catalog(tmp_path / "cat.txt", format="hdf5")
    # an explicit format overrides the ending
    assert read_catalog(tmp_path / "cat.txt", format="csv")["b"].tolist() == [2]


def test_infer_format_covers_every_documented_ending():
    for fmt, endings in FORMATS.items():
        for ending in endings:
            assert infer_format(f"x{ending.upper()}") == fmt
    assert infer_format("x.dat", format=".VOT") == "votable"


def _truncate(path, fraction):
    raw = path.read_bytes()
    path.write_bytes(raw[: int(len(raw) * fraction)])


@pytest.mark.parametrize(
    ("ending", "pattern"),
    [
        (".fits", r"as FITS.*truncated|as FITS.*malformed"),
        (".fits.gz", r"as FITS"),
        (".ecsv", r"as ECSV"),
        (".vot", r"as VOTABLE"),
        (".parquet", r"as PARQUET.*magic bytes"),
    ],
)
@pytest.mark.parametrize("fraction", [0.3, 0.97])
def test_truncated_files_raise(tmp_path, frame, ending, pattern, fraction):
    big = pd.concat([frame] * 10, ignore_index=True).assign(objid=np.arange(400))
    path = tmp_path / f"cut{ending}"
    write_catalog(big, path)
    _truncate(path, fraction)
    with pytest.raises(CatalogError, match=rf"cannot read '.*cut{re.escape(ending)}' {pattern}"):
        read_catalog(path)


def test_truncated_csv_detected_through_sidecar(tmp_path, frame):
    path = tmp_path / "cut.csv"
    write_catalog(frame, path)
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-5]))  # cut cleanly at a line end
    with pytest.raises(CatalogError, match=r"cut\.csv' has 35 rows but its sidecar .* 40"):
        read_catalog(path)


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("objid,wise4\n1,2\n3\n4,5\n", r"Expected 2 columns, got 1.*line 3"),
        ("objid,wise4\n1,2\n3,4,5\n4,5\n", r"Expected 2 columns, got 3.*line 3"),
        ("", r"Empty CSV"),
    ],
)
def test_ragged_or_empty_csv(tmp_path, text, pattern):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(CatalogError, match=rf"cannot read '.*bad\.csv' as CSV: .*{pattern}"):
        read_catalog(path)


def test_header_only_table_is_empty(tmp_path):
    (tmp_path / "h.csv").write_text("objid,wise4\n")
    with pytest.raises(CatalogError, match=r"h\.csv': the table is empty"):
        read_catalog(tmp_path / "h.csv")
    Table({"wise4": np.zeros(0)}).write(tmp_path / "h.fits")
    with pytest.raises(CatalogError, match=r"h\.fits': the table is empty"):
        read_catalog(tmp_path / "h.fits")


def test_broken_votable_and_corrupt_parquet(tmp_path):
    (tmp_path / "b.vot").write_text(
        '<VOTABLE><RESOURCE><TABLE><FIELD name="wise4" datatype="double"/>'
        "<DATA><TABLEDATA><TR><TD>1</TD></TR>"
    )
    with pytest.raises(CatalogError, match=r"cannot read '.*b\.vot' as VOTABLE"):
        read_catalog(tmp_path / "b.vot")
    (tmp_path / "none.xml").write_text('<?xml version="1.0"?><VOTABLE><RESOURCE/></VOTABLE>')
    with pytest.raises(CatalogError, match=r"none\.xml': the VOTable contains no TABLE"):
        read_catalog(tmp_path / "none.xml")
    (tmp_path / "c.parquet").write_bytes(b"PAR1" + os.urandom(300))
    with pytest.raises(CatalogError, match=r"cannot read '.*c\.parquet' as PARQUET"):
        read_catalog(tmp_path / "c.parquet")


def test_csv_without_sidecar_keeps_cc_flags_as_text(tmp_path):
    path = tmp_path / "plain.csv"
    path.write_text("objid,cc_flags,wise4\n1,0000,9000\n2,0010,\n")
    df = read_catalog(path)
    assert df["cc_flags"].tolist() == ["0000", "0010"]
    assert df["objid"].dtype == np.int64
    assert np.isnan(df["wise4"].iloc[1])


def test_csv_with_ecsv_header_read_as_ecsv(tmp_path):
    table = Table({"wise4": [1.0, 2.0]})
    table["wise4"].unit = "mJy"
    table.write(tmp_path / "e.csv", format="ascii.ecsv")
    assert read_catalog(tmp_path / "e.csv")["wise4"].tolist() == [1000.0, 2000.0]


def test_text_late_in_large_csv_is_kept_for_validation(tmp_path):
    # pyarrow infers types from the first block only; a late text value must not crash
    n = 120_000
    path = tmp_path / "late.csv"
    pd.DataFrame({"objid": np.arange(n), "wise4": np.full(n, 9000.0)}).to_csv(path, index=False)
    with open(path, "a") as fh:
        fh.write(f"{n},oops\n")
    df = read_catalog(path)
    with pytest.raises(CatalogError, match=rf"column 'wise4' .*row index {n} holds 'oops'"):
        validate_catalog(df, source="late.csv")


def test_write_is_atomic_and_honours_overwrite(tmp_path, frame, monkeypatch):
    path = tmp_path / "out.parquet"
    write_catalog(frame, path)
    before = path.read_bytes()
    with pytest.raises(CatalogError, match=r"out\.parquet' already exists"):
        write_catalog(frame, path, overwrite=False)

    import pyarrow.parquet as pq

    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", explode)
    with pytest.raises(CatalogError, match=r"cannot write '.*out\.parquet' as PARQUET: disk full"):
        write_catalog(frame.head(3), path)
    assert path.read_bytes() == before  # the old file is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.parquet"]


def test_written_files_get_normal_permissions(tmp_path, frame):
    path = tmp_path / "perm.fits"
    write_catalog(frame, path)
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


@pytest.mark.parametrize(
    ("meta", "pattern"),
    [
        ({"k": [1, 2]}, r"meta\['k'\] must be a str, int, float, bool or None; got list"),
        ({1: "x"}, r"meta keys must be non-empty strings; got 1"),
        ({"k": float("nan")}, r"meta\['k'\] must be finite"),
        ("x", r"meta must be a dict"),
    ],
)
def test_bad_meta(tmp_path, frame, meta, pattern):
    with pytest.raises(CatalogError, match=pattern):
        write_catalog(frame, tmp_path / "m.ecsv", meta=meta)


def test_write_rejects_array_cells_and_missing_directory(tmp_path):
    df = pd.DataFrame({"a": [np.ones(2), np.ones(2)]})
    with pytest.raises(CatalogError, match=r"column 'a' holds arrays"):
        write_catalog(df, tmp_path / "a.fits")
    with pytest.raises(CatalogError, match=r"directory '.*nowhere' not found"):
        write_catalog(pd.DataFrame({"a": [1]}), tmp_path / "nowhere" / "a.csv")


# ---------------------------------------------------------------- validation
def test_validate_missing_columns_lists_missing_and_present():
    df = pd.DataFrame({"objid": [1], "wise1": [1e4], "wise2": [1e4]})
    with pytest.raises(
        CatalogError,
        match=r"^cat\.fits: missing required column\(s\) \['wise3', 'wise4'\]; "
        r"present columns \(3\): \['objid', 'wise1', 'wise2'\]$",
    ):
        validate_catalog(df, required=["wise1", "wise3", "wise4"], source="cat.fits")


def test_validate_text_in_numeric_column_names_value_and_row():
    df = pd.DataFrame({"objid": [1, 2, 3], "wise3": ["1e4", "nan", "abc"]})
    with pytest.raises(
        CatalogError, match=r"t\.csv: column 'wise3' must be numeric but row index 2 holds 'abc'"
    ):
        validate_catalog(df, source="t.csv")


def test_validate_converts_numeric_text_and_keeps_strings():
    df = pd.DataFrame(
        {
            "wise4": pd.array(["1e4", " 2.5e4 ", "", None, "--"], dtype="str"),
            "w4snr": ["3", "4", "5", "6", "7"],
            "cc_flags": pd.array(["0000"] * 5, dtype="str"),
            "note": ["1", "2", "3", "4", "5"],  # unknown column: left as it is
        }
    )
    out = validate_catalog(df)
    assert out["wise4"].dtype == float and out["w4snr"].dtype == float
    np.testing.assert_array_equal(out["wise4"], [1e4, 2.5e4, np.nan, np.nan, np.nan])
    assert out["cc_flags"].tolist() == ["0000"] * 5
    assert out["note"].tolist() == df["note"].tolist()
    assert df["wise4"].dtype != float  # input not modified


def test_validate_flags_magnitudes_in_flux_columns():
    mags = pd.DataFrame({"wise4": [8.1, 7.5, 9.2, np.nan, 6.0], "wise1": [1e4] * 5})
    with pytest.raises(
        CatalogError,
        match=r"s: column 'wise4' looks like Vega magnitudes .*mag_to_ujy\(mag, 'W4'\)",
    ):
        validate_catalog(mags, source="s")
    # Real uJy fluxes, including faint and unmeasured ones, pass
    fluxes = pd.DataFrame({"wise4": [8000.0, 25.0, 0.0, -3.0, np.nan], "m1_f_psf": [50.0] * 5})
    validate_catalog(fluxes)
    # Gaia magnitudes are common in member lists and not checked
    validate_catalog(pd.DataFrame({"gaia_g": [12.0, 13.0, 15.0]}))


def test_zero_negative_nan_flux_are_not_errors_and_measured():
    df = pd.DataFrame({"wise4": [9000.0, 0.0, -1.0, np.nan, np.inf]})
    assert validate_catalog(df)["wise4"].iloc[1] == 0.0
    assert measured(df["wise4"]).tolist() == [True, False, False, False, False]
    assert measured(pd.Series(["1", "x", None])).tolist() == [True, False, False]


def test_validate_duplicated_ids():
    df = pd.DataFrame({"objid": ["a", "b", "b", "c"], "wise4": [1e4] * 4})
    with pytest.raises(
        CatalogError,
        match=r"cat: id column 'objid' has duplicated values, e\.g\. 'b' at rows \[1, 2\]",
    ):
        validate_catalog(df, source="cat", id_column="objid")
    with pytest.raises(CatalogError, match=r"missing required column\(s\) \['srcid'\]"):
        validate_catalog(df, id_column="srcid")


def test_catalog_error_is_user_error():
    assert issubclass(CatalogError, Wise2SpitzerError)


# ---------------------------------------------------------------- load_data
def test_load_data_reads_and_validates_a_file(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text("objid,wise4,w4snr\n1,9000,3\n2,oops,4\n")
    with pytest.raises(CatalogError, match=r"'.*mine\.csv': column 'wise4' must be numeric"):
        load_data(path)
    path.write_text("objid,wise4\n1,9000\n1,8000\n")
    with pytest.raises(CatalogError, match=r"mine\.csv'.*'objid' has duplicated values, e\.g\. 1"):
        load_data(str(path))
    path.write_text("objid,wise4\n1,9000\n2,8000\n")
    assert load_data(path, required=["wise4"])["wise4"].tolist() == [9000.0, 8000.0]
    with pytest.raises(CatalogError, match=r"mine\.csv': missing required column\(s\) \['wise1'\]"):
        load_data(path, required=["wise1"])


def test_load_data_unknown_name_lists_embedded(tmp_path):
    names = re.escape(str(list(EMBEDDED_DATASETS)))
    with pytest.raises(CatalogError, match=rf"unknown dataset: 'simulatd'.*{names}"):
        load_data("simulatd")
    with pytest.raises(CatalogError, match=rf"file not found: '.*x\.fits'.*{names}"):
        load_data(tmp_path / "x.fits")


def test_load_data_embedded_names():
    datasets = pytest.importorskip("wise2spitzer.datasets")
    if not hasattr(datasets, "load"):
        pytest.skip("wise2spitzer.datasets.load not written yet")
    usco = load_data("upper-sco")
    assert len(usco) > 0 and "wise4" in usco.columns
    sim = load_data("simulated", random_state=3)
    pd.testing.assert_frame_equal(sim, load_data("simulated", random_state=3))
    assert sim["objid"].is_unique


@pytest.mark.parametrize("ending", [".csv", ".ecsv", ".fits", ".vot", ".parquet"])
def test_all_missing_and_object_text_columns_round_trip(tmp_path, ending):
    df = pd.DataFrame(
        {
            "objid": [1, 2, 3],
            "empty_text": pd.array([None, None, None], dtype="str"),
            "empty_object": [None, None, None],
            "raw_bytes": [b"x", b"yy", None],
            "numbers": [1, 2.5, None],
        }
    )
    path = tmp_path / f"t{ending}"
    write_catalog(df, path)
    back = read_catalog(path)
    assert back["empty_text"].isna().all() and back["empty_object"].isna().all()
    assert back["raw_bytes"].tolist()[:2] == ["x", "yy"] and pd.isna(back["raw_bytes"].iloc[2])
    np.testing.assert_array_equal(back["numbers"], [1.0, 2.5, np.nan])


def test_mixed_object_column_is_refused(tmp_path):
    with pytest.raises(CatalogError, match=r"column 'o' mixes value types \['int', 'str'\]"):
        write_catalog(pd.DataFrame({"o": ["x", 1]}), tmp_path / "m.parquet")


def test_embedded_name_and_write_returns_path(tmp_path):
    from wise2spitzer.catalog import embedded_name

    assert embedded_name("Upper_Sco") == "upper-sco" and embedded_name(" simulated ") == "simulated"
    assert embedded_name("cat.fits") is None and embedded_name(tmp_path) is None
    path = tmp_path / "w.ecsv"
    assert write_catalog(pd.DataFrame({"a": [1]}), path) == path
