"""One unit rule and one row-count rule for every reader, whole-file or streamed."""

from __future__ import annotations

import astropy.units as u
import pandas as pd
import pytest
from astropy.table import Table

from wise2spitzer.catalog import iter_chunks, read_catalog, write_catalog
from wise2spitzer.errors import CatalogError

FLUX = ["wise1", "wise2", "wise3", "wise4"]


@pytest.fixture
def frame():
    return pd.DataFrame({"objid": [1, 2, 3], **{c: [1000.0, 2000.0, 3000.0] for c in FLUX}})


@pytest.mark.parametrize("ending", ["parquet", "fits", "ecsv", "vot"])
def test_astropy_units_are_honoured_streamed_and_whole(frame, tmp_path, ending):
    t = Table.from_pandas(frame)
    for c in FLUX:
        t[c] = t[c] / 1000.0
        t[c].unit = u.mJy
    path = tmp_path / f"mjy.{ending}"
    t.write(path, overwrite=True, **({"format": "votable"} if ending == "vot" else {}))
    whole = read_catalog(path)
    streamed = pd.concat(list(iter_chunks(path, chunksize=2)), ignore_index=True)
    for got in (whole, streamed):
        assert got["wise1"].tolist() == pytest.approx([1000.0, 2000.0, 3000.0])


def test_a_csv_shorter_than_its_sidecar_is_refused_when_streamed(frame, tmp_path):
    path = write_catalog(frame, tmp_path / "t.csv")
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-1]))
    with pytest.raises(CatalogError, match="has 2 rows but its sidecar .* records 3"):
        list(iter_chunks(path, chunksize=2))
    with pytest.raises(CatalogError, match="has 2 rows but its sidecar .* records 3"):
        read_catalog(path)
