"""Tests of ``wise2spitzer datasets describe|export``, run in-process through ``main(argv)``."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from wise2spitzer.catalog import read_catalog, write_catalog
from wise2spitzer.cli import main

from conftest import RANDOM_STATE


def _seip_like(n: int = 30, *, seed: int = RANDOM_STATE) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"objid": np.arange(n, dtype=np.int64)})
    for i, scale in zip(range(1, 5), (2e4, 1.5e4, 2e4, 3e4), strict=True):
        df[f"wise{i}"] = rng.uniform(0.2, 2.0, n) * scale
        df[f"w{i}snr"] = rng.uniform(1, 40, n)
    df["cc_flags"] = pd.array(["0000"] * (n - 3) + ["h000", "0d00", "0000"], dtype="str")
    df["ext_flg"] = np.r_[np.zeros(n - 2, int), 1, 0]
    df["m1_f_psf"] = np.where(rng.random(n) < 0.3, df["wise4"] * 0.8, np.nan)
    df["i4_f_ap1"] = np.where(rng.random(n) < 0.7, df["wise3"] * 0.9, np.nan)
    return df


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("wise2spitzer: error: ")
    return lines[0]


@pytest.mark.parametrize("fmt", ["csv", "ecsv", "fits", "votable", "parquet"])
def test_export_a_file_to_every_format(tmp_path, capsys, fmt):
    src = tmp_path / "in.parquet"
    df = _seip_like()
    write_catalog(df, src)
    out = tmp_path / "out.table"
    assert main(["datasets", "export", str(src), str(out), "--format", fmt]) == 0
    assert f"wrote 30 rows x {df.shape[1]} columns" in capsys.readouterr().out
    back = read_catalog(out, format=fmt)
    pd.testing.assert_frame_equal(back, df)
    assert back.attrs["meta"]["dataset"] == "in.parquet"
    assert back.attrs["meta"]["flux_unit"] == "uJy"


def test_export_format_from_the_ending_and_no_overwrite(tmp_path, capsys):
    src = tmp_path / "in.csv"
    write_catalog(_seip_like(), src)
    out = tmp_path / "out.fits"
    assert main(["datasets", "export", str(src), str(out)]) == 0
    assert len(read_catalog(out)) == 30
    assert main(["datasets", "export", str(src), str(out), "--no-overwrite"]) == 2
    assert "out.fits' already exists" in _one_error_line(capsys)
    assert main(["datasets", "export", str(src), str(tmp_path / "out.xlsx")]) == 2
    line = _one_error_line(capsys)
    assert "out.xlsx" in line and "parquet" in line and "votable" in line


def test_unknown_dataset_name(capsys):
    assert main(["datasets", "describe", "simulatd"]) == 2
    line = _one_error_line(capsys)
    assert "'simulatd'" in line and "simulated" in line and "upper-sco" in line
    assert main(["datasets", "export", "nope", "x.csv"]) == 2
    assert "'nope'" in _one_error_line(capsys)


def test_truncated_fits_gives_one_line_naming_the_file(tmp_path, capsys):
    path = tmp_path / "cut.fits"
    write_catalog(pd.concat([_seip_like()] * 20, ignore_index=True).assign(objid=range(600)), path)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) - 2000])
    for command in ("describe", "export"):
        argv = ["datasets", command, str(path)] + (
            [str(tmp_path / "o.csv")] * (command == "export")
        )
        assert main(argv) == 2
        line = _one_error_line(capsys)
        assert str(path) in line and "FITS" in line
    assert not (tmp_path / "o.csv").exists()


def test_ragged_csv_gives_one_line_naming_the_file_and_line(tmp_path, capsys):
    path = tmp_path / "ragged.csv"
    path.write_text("objid,wise1,wise2,wise3,wise4\n1,1,2,3,4\n2,1,2,3\n")
    assert main(["datasets", "export", str(path), str(tmp_path / "o.parquet")]) == 2
    line = _one_error_line(capsys)
    assert "ragged.csv" in line and "line 3" in line


def test_text_in_flux_column_names_file_column_value_and_row(tmp_path, capsys):
    df = _seip_like().astype({"wise3": object})
    df.loc[7, "wise3"] = "n/a?"
    path = tmp_path / "text.csv"
    df.to_csv(path, index=False)
    assert main(["datasets", "describe", str(path)]) == 2
    line = _one_error_line(capsys)
    assert "text.csv" in line and "'wise3'" in line and "'n/a?'" in line and "row index 7" in line


def test_missing_column_names_file_and_column(tmp_path, capsys):
    path = tmp_path / "nowise2.ecsv"
    write_catalog(_seip_like().drop(columns=["wise2"]), path)
    assert main(["datasets", "describe", str(path)]) == 2
    line = _one_error_line(capsys)
    assert "nowise2.ecsv" in line and "['wise2']" in line and "present columns" in line


def test_magnitudes_in_flux_column(tmp_path, capsys):
    df = _seip_like()
    df["wise4"] = np.linspace(4.0, 9.0, len(df))
    path = tmp_path / "mags.parquet"
    write_catalog(df, path)
    assert main(["datasets", "export", str(path), str(tmp_path / "o.csv")]) == 2
    line = _one_error_line(capsys)
    assert "mags.parquet" in line and "'wise4'" in line and "magnitudes" in line


# ----------------------------------------------------------- commands on real modules
def _require(module: str, name: str):
    mod = pytest.importorskip(module)
    if not hasattr(mod, name):
        pytest.skip(f"{module}.{name} not written yet")
    return mod


def _assert_counts_printed(out: str, df: pd.DataFrame) -> None:
    """Every (sample, target) row of samples.sample_counts is a line of the printed table."""
    from wise2spitzer.samples import sample_counts

    counts = sample_counts(df)
    targets = [c[: -len("_labelled")] for c in counts.columns if c.endswith("_labelled")]
    assert targets, counts.columns
    for sample, row in counts.iterrows():
        for target in targets:
            cells = [sample, int(row["total"]), target]
            cells += [int(row[f"{target}_labelled"]), int(row[f"{target}_unlabelled"])]
            pattern = r"\W+".join(re.escape(str(c)) for c in cells)
            assert re.search(rf"\W{pattern}\W", out), (cells, out)


def test_describe_a_file_prints_counts(tmp_path, capsys):
    _require("wise2spitzer.samples", "sample_counts")
    path = tmp_path / "mine.fits"
    df = _seip_like()
    write_catalog(df, path)
    assert main(["datasets", "describe", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Rows: 30" in out and "wise4" in out and "simulated" not in out.lower()
    _assert_counts_printed(out, df)


def test_describe_simulated_says_simulated(capsys, sim_full):
    _require("wise2spitzer.samples", "sample_counts")
    _require("wise2spitzer.datasets", "load")

    assert main(["datasets", "describe"]) == 0
    out = capsys.readouterr().out
    assert "SIMULATED" in out and "simulated" in out
    df = sim_full  # the default dataset of the command: load("simulated")
    assert f"Rows: {len(df)}" in out
    _assert_counts_printed(out, df)


def test_describe_and_export_upper_sco(tmp_path, capsys, upper_sco):
    _require("wise2spitzer.samples", "sample_counts")
    _require("wise2spitzer.datasets", "load")
    assert main(["datasets", "describe", "upper-sco"]) == 0
    out = capsys.readouterr().out
    assert "Luhman" in out and "SIMULATED" not in out

    _assert_counts_printed(out, upper_sco)
    out_path = tmp_path / "usco.vot"
    assert main(["datasets", "export", "upper-sco", str(out_path)]) == 0
    pd.testing.assert_frame_equal(read_catalog(out_path), upper_sco)


def test_export_simulated_with_random_state(tmp_path, capsys):
    _require("wise2spitzer.datasets", "load")
    from wise2spitzer.datasets import load

    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    assert main(["datasets", "export", "simulated", str(a), "--random-state", "1"]) == 0
    assert "SIMULATED" in capsys.readouterr().out
    assert main(["datasets", "export", "simulated", str(b), "--random-state", "2"]) == 0
    da, db = read_catalog(a), read_catalog(b)
    pd.testing.assert_frame_equal(da, load("simulated", random_state=1), check_exact=True)
    assert not da["wise4"].equals(db["wise4"])
    assert da.attrs["meta"]["simulated"] is True and da.attrs["meta"]["random_state"] == 1
    # the exported file is still described as simulated
    _require("wise2spitzer.samples", "sample_counts")
    assert main(["datasets", "describe", str(a)]) == 0
    out = capsys.readouterr().out
    assert "SIMULATED data" in out and "(SIMULATED)" in out
    _assert_counts_printed(out, da)
