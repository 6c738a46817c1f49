"""One format table for every path, gzip honoured on read and write, one atomic writer."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest
from astropy.table import Table

from wise2spitzer import batch, catalog
from wise2spitzer.catalog import (
    FORMATS,
    atomic_output,
    infer_format,
    iter_chunks,
    read_catalog,
    resolve_format,
    write_catalog,
)
from wise2spitzer.catalog.streaming import count_rows, stream_format
from wise2spitzer.errors import CatalogError

RANDOM_STATE = 0
GZIP_MAGIC = b"\x1f\x8b"
COMPRESSED = [".csv.gz", ".ecsv.gz", ".fits.gz", ".vot.gz"]


@pytest.fixture(scope="module")
def predictor():
    from wise2spitzer import SpitzerPredictor, simulate_seip

    return SpitzerPredictor().fit(
        simulate_seip(1500, random_state=RANDOM_STATE),
        target="irac4",
        sample="unclean",
        preset="none",
        random_state=RANDOM_STATE,
        n_estimators=10,
    )


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(RANDOM_STATE)
    n = 50
    flags = np.array(["0000"] * n, dtype=object)
    flags[[1, 2]] = ["h0d0", None]
    return pd.DataFrame(
        {
            "objid": np.arange(n, dtype=np.int64),
            "wise4": rng.uniform(6000.0, 60000.0, n),
            "w4snr": rng.uniform(2, 50, n),
            "cc_flags": pd.array(flags, dtype="str"),
        }
    )


# ------------------------------------------------------------------ the one table
def test_every_ending_resolves_through_the_one_table():
    for fmt, endings in FORMATS.items():
        for ending in endings:
            spec = resolve_format(f"cat{ending.upper()}")
            assert (spec.name, spec.compressed) == (fmt, ending.endswith(".gz")), ending
            assert spec.ending == ending
            # the streaming reader and predict_file resolve the same way
            assert stream_format(f"cat{ending}").name == fmt
            assert infer_format(f"cat{ending}") == fmt
    assert ".fts" in FORMATS["fits"] and ".csv.gz" in FORMATS["csv"]


def test_batch_and_catalog_agree_on_formats():
    assert batch.FORMATS == catalog.ENDING_FORMATS
    for ending, fmt in batch.FORMATS.items():
        assert infer_format(f"x{ending}") == fmt
    assert batch.iter_chunks is catalog.iter_chunks and batch.count_rows is catalog.count_rows


def test_explicit_format_and_gzip_on_other_names():
    assert resolve_format("x.dat", format="FITS") == ("fits", False, ".fits")
    assert resolve_format("x.dat.gz", format="vot") == ("votable", True, ".vot.gz")
    with pytest.raises(CatalogError, match=r"format must be one of .*got 'hdf5'"):
        resolve_format("x.h5", format="hdf5")


@pytest.mark.parametrize("name", ["x.parquet.gz", "x.pq.gz"])
def test_parquet_cannot_be_gzipped(tmp_path, frame, name):
    pattern = r"parquet files cannot be gzip-compressed \(ending '\.p.*\.gz'\).*\.csv\.gz"
    with pytest.raises(CatalogError, match=pattern):
        write_catalog(frame, tmp_path / name)
    with pytest.raises(CatalogError, match=pattern):
        resolve_format(name)
    with pytest.raises(CatalogError, match=pattern):
        write_catalog(frame, tmp_path / "x.gz", format="parquet")
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ write_catalog
@pytest.mark.parametrize("ending", COMPRESSED)
def test_write_catalog_gzip_is_real_and_reads_back_equal(tmp_path, frame, ending):
    plain, packed = tmp_path / f"c{ending[:-3]}", tmp_path / f"c{ending}"
    meta = {"note": "gzip", "n": 3}
    write_catalog(frame, plain, meta=meta)
    write_catalog(frame, packed, meta=meta)
    assert packed.read_bytes()[:2] == GZIP_MAGIC
    assert gzip.decompress(packed.read_bytes()) == plain.read_bytes()
    back = read_catalog(packed)
    pd.testing.assert_frame_equal(back, frame, check_exact=True)
    assert back.attrs["meta"] == read_catalog(plain).attrs["meta"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_gzipped_inputs_stream_like_plain_ones(tmp_path, frame):
    for ending in (".csv.gz", ".fits.gz", ".ecsv.gz"):
        path = tmp_path / f"in{ending}"
        write_catalog(frame, path)
        chunks = list(iter_chunks(path, chunksize=20))
        assert [len(c) for c in chunks] == [20, 20, 10]
        got = pd.concat(chunks, ignore_index=True)
        assert got["objid"].tolist() == frame["objid"].tolist()
        assert got["cc_flags"].iloc[0] == "0000"  # codes stay text
        np.testing.assert_array_equal(got["wise4"].to_numpy(), frame["wise4"].to_numpy())
    assert count_rows(tmp_path / "in.fits.gz") == len(frame)


# ------------------------------------------------------------------ units: one rule
@pytest.mark.parametrize("ending", [".fits", ".fits.gz"])
def test_streamed_fits_chunks_use_the_catalogue_unit_rule(tmp_path, ending):
    table = Table({"objid": [1, 2, 3], "wise4": [1.5, 3.0, 4.5], "other_flux": [1.0, 2.0, 3.0]})
    table["wise4"].unit = "mJy"
    table["other_flux"].unit = "Jy"  # not a flux column of the models: left alone
    path = tmp_path / f"u{ending}"
    table.write(path)
    whole = read_catalog(path)
    streamed = pd.concat(iter_chunks(path, chunksize=2), ignore_index=True)
    np.testing.assert_allclose(streamed["wise4"], [1500.0, 3000.0, 4500.0])
    np.testing.assert_array_equal(streamed["wise4"], whole["wise4"])
    np.testing.assert_array_equal(streamed["other_flux"], whole["other_flux"])

    table["wise4"].unit = "mag"
    table.write(path, overwrite=True)
    for read in (read_catalog, lambda p: list(iter_chunks(p))):
        with pytest.raises(CatalogError, match=r"column 'wise4' has unit 'mag'.*magnitude"):
            read(path)


# ------------------------------------------------------------------ predict_file
@pytest.mark.parametrize("fmt", ["csv", "fits"])
def test_predict_file_writes_real_gzip(predictor, tmp_path, fmt):
    from wise2spitzer import simulate_seip

    src = tmp_path / "in.parquet"
    simulate_seip(600, random_state=1).to_parquet(src)
    plain = batch.predict_file(predictor, src, tmp_path / f"out.{fmt}", chunksize=250)
    packed = batch.predict_file(predictor, src, tmp_path / f"out.{fmt}.gz", chunksize=250)
    assert plain.rows_out == packed.rows_out == 600
    raw = (tmp_path / f"out.{fmt}.gz").read_bytes()
    assert raw[:2] == GZIP_MAGIC
    assert gzip.decompress(raw) == (tmp_path / f"out.{fmt}").read_bytes()
    got, ref = read_catalog(tmp_path / f"out.{fmt}.gz"), read_catalog(tmp_path / f"out.{fmt}")
    pd.testing.assert_frame_equal(got, ref, check_exact=True)
    assert (got["i4_pred_status"] == "ok").sum() > 0
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_predict_file_refuses_gzipped_parquet(predictor, tmp_path):
    src = tmp_path / "in.csv"
    pd.DataFrame({"wise4": [1.0]}).to_csv(src, index=False)
    with pytest.raises(CatalogError, match=r"cannot use output .*out\.parquet\.gz"):
        batch.predict_file(predictor, src, tmp_path / "out.parquet.gz")
    with pytest.raises(CatalogError, match="cannot tell the format of output"):
        batch.predict_file(predictor, src, tmp_path / "out.gz")


# ------------------------------------------------------------------ the atomic writer
def test_atomic_output_replaces_only_on_success(tmp_path):
    dest = tmp_path / "table.fits.gz"
    dest.write_bytes(b"old content")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_output(dest) as tmp:
            assert tmp.parent == tmp_path and tmp.name.endswith(".fits.gz")
            tmp.write_bytes(b"half written")
            raise RuntimeError("boom")
    assert dest.read_bytes() == b"old content"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.fits.gz"]

    with pytest.raises(KeyboardInterrupt):
        with atomic_output(dest) as tmp:
            raise KeyboardInterrupt
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.fits.gz"]

    with atomic_output(dest) as tmp:
        tmp.write_bytes(b"new content")
    assert dest.read_bytes() == b"new content"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.fits.gz"]


@pytest.mark.parametrize("ending", [".fits", ".csv.gz"])
def test_failed_write_keeps_the_existing_catalogue(tmp_path, frame, ending):
    dest = tmp_path / f"cat{ending}"
    write_catalog(frame, dest, meta={"version": 1})
    before = dest.read_bytes()
    side = tmp_path / f"cat{ending}.meta.json"
    side_before = side.read_bytes() if side.exists() else None
    # FITS and CSV writers both fail on this column (FITS cannot hold non-ASCII text, and
    # a number too large for a 64-bit integer breaks the Arrow conversion).
    bad = frame.assign(cc_flags="ü") if ending == ".fits" else frame.assign(objid=[2**70] * 50)
    with pytest.raises(CatalogError, match=r"cannot write .*cat\."):
        write_catalog(bad, dest, meta={"version": 2})
    assert dest.read_bytes() == before
    if side_before is not None:
        assert side.read_bytes() == side_before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    assert read_catalog(dest).attrs["meta"]["version"] == 1


def test_gzip_output_has_no_name_and_no_time_in_its_header(tmp_path):
    """Written under a random temporary name, the same table still gives the same bytes."""
    import pandas as pd

    from wise2spitzer.catalog import write_catalog

    df = pd.DataFrame({"wise1": [1.0, 2.0], "objid": [1, 2]})
    a = write_catalog(df, tmp_path / "a.csv.gz").read_bytes()
    b = write_catalog(df, tmp_path / "b.csv.gz").read_bytes()
    assert a == b
    flags = a[3]
    assert a[:2] == b"\x1f\x8b" and not flags & 0x08  # FNAME flag not set
    assert a[4:8] == b"\x00\x00\x00\x00"  # MTIME 0
