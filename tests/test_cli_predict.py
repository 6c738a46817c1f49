"""`wise2spitzer predict`: every row out, in order, with a reason; user errors on one line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from wise2spitzer.cli import main
from wise2spitzer.schema import STATUSES, VALUE_STATUSES, output_columns, ujy_to_mag

OUT = list(output_columns("mips1").values())


@pytest.fixture(scope="module")
def sim(sim_small):
    """The shared simulated catalogue (read-only)."""
    return sim_small


@pytest.fixture(scope="module")
def model_file(mips1_model_file):
    """The shared MIPS1 predictor saved as a skops file."""
    return mips1_model_file


@pytest.fixture
def awkward(sim):
    """Rows that must each come out with a reason: NaN, zero, negative, far outside, limits."""
    df = sim.iloc[:40].copy().reset_index(drop=True)
    df.loc[0, "wise3"] = np.nan  # not measured
    df.loc[1, "wise4"] = 0.0  # SEIP's "not measured"
    df.loc[2, "wise1"] = -5.0  # impossible flux
    df.loc[3, ["wise1", "wise2", "wise3", "wise4"]] = [1e9, 1.0, 1e9, 1.0]  # far outside hull
    df.loc[4, "wise2rchi2"] = np.inf
    df.loc[5, "dwise4"] = np.nan  # W4 is a 95% upper limit (SEIP convention): still usable
    # The model is the clean sample's: every row clean but row 6, which it must not answer.
    df["cc_flags"], df["ext_flg"] = "0000", 0
    df.loc[6, "cc_flags"] = "00d0"
    return df


def _run(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_every_row_out_in_order_with_a_reason(awkward, model_file, tmp_path, capsys):
    awkward.to_csv(tmp_path / "in.csv", index=False)
    code, out, err = _run(capsys, "predict", "--model", model_file, tmp_path / "in.csv",
                          tmp_path / "out.parquet", "--chunksize", 7, "--no-progress")
    assert code == 0, err
    got = pd.read_parquet(tmp_path / "out.parquet")
    assert got["objid"].tolist() == awkward["objid"].tolist()
    assert list(got.columns) == list(awkward.columns) + OUT
    status = got[OUT[3]]
    assert set(status) <= set(STATUSES)
    assert status[:5].tolist() == [
        "missing_feature", "missing_feature", "bad_value", "outside_domain", "bad_value"
    ]
    assert status[5] in ("ok", "extrapolated", "outside_domain")
    assert status[6] == "outside_sample"
    no_pred = got[OUT[0]].isna()
    valued = status.isin(VALUE_STATUSES)
    assert (~valued[no_pred]).all() and valued[~no_pred].all()
    assert (status == "ok").sum() > 0
    assert f"{len(awkward)} of {len(awkward)} rows written" in out
    counts = dict(kv.split("=") for kv in out.splitlines()[-1].split(": ")[1].split(", "))
    assert sum(map(int, counts.values())) == len(awkward)


def test_missing_column_stops_before_writing_and_names_the_fix(awkward, model_file, tmp_path,
                                                               capsys):
    # Deliberate change: a table no model of the file can use used to give exit 0 and every
    # row 'missing_feature'; now nothing is written and the error names the column and fix.
    awkward.drop(columns=["wise3rchi2"]).to_parquet(tmp_path / "in.parquet")
    code, _out, err = _run(capsys, "predict", "-m", model_file, tmp_path / "in.parquet",
                           tmp_path / "out.csv")
    assert code == 2
    assert "wise3rchi2" in err and "--feature-set" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out.csv").exists()


def test_warnings_are_one_line_without_source(awkward, model_file, tmp_path, capsys):
    import warnings

    # A clean-sample model without the cc_flags column: rows are predicted as outside_sample,
    # with a warning.
    awkward.drop(columns=["cc_flags"]).to_parquet(tmp_path / "in.parquet")
    shown = []

    def show(message, category, filename, lineno, file=None, line=None):
        shown.append(warnings.formatwarning(message, category, filename, lineno, line))

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = show
        code, _out, err = _run(capsys, "predict", "-m", model_file, tmp_path / "in.parquet",
                               tmp_path / "out.csv")
    assert code == 0, err
    text = [w for w in shown if "cc_flags" in w]
    assert text and all(w.startswith("wise2spitzer: warning: the table lacks") for w in text)
    assert all(w.count("\n") == 1 for w in text)  # no source line, no file path
    assert warnings.formatwarning.__name__ != "_one_line_warning"  # restored after the run


def test_default_threads_give_the_single_thread_numbers(sim, model_file, tmp_path, capsys,
                                                        monkeypatch):
    from wise2spitzer.cli import predict_cmd

    monkeypatch.setattr(predict_cmd, "_default_threads", lambda engine: 3)
    sim.iloc[:2000].to_parquet(tmp_path / "in.parquet")
    outs = {}
    for name, extra in (("default", []), ("one", ["--threads", "1"])):
        code, _out, err = _run(capsys, "predict", "-m", model_file, tmp_path / "in.parquet",
                               tmp_path / f"{name}.parquet", *extra)
        assert code == 0, err
        outs[name] = pd.read_parquet(tmp_path / f"{name}.parquet")
    a, b = outs["default"], outs["one"]
    assert (a[OUT[3]] == b[OUT[3]]).all() and a[OUT[3]].isin(["ok", "upper_limit"]).sum() > 100
    for col in OUT[:3]:
        np.testing.assert_allclose(a[col], b[col], rtol=1e-10, equal_nan=True)


def test_allwise_input(sim, model_file, tmp_path, capsys):
    rows = sim.iloc[:300]
    aw = pd.DataFrame({"designation": rows["objid"].astype(str).to_numpy()})
    for i in range(1, 5):
        flux = rows[f"wise{i}"].to_numpy(dtype=float)
        aw[f"w{i}mpro"] = ujy_to_mag(flux, f"W{i}")
        aw[f"w{i}sigmpro"] = 1.0857 * rows[f"dwise{i}"].to_numpy(dtype=float) / flux
        for a, s in (("rchi2", "rchi2"), ("m", "m"), ("nm", "nm")):
            aw[f"w{i}{a}"] = rows[f"wise{i}{s}"].to_numpy()
    # AllWISE carries the flags of the clean sample the model was trained on.
    aw["cc_flags"] = rows["cc_flags"].to_numpy()
    aw["ext_flg"] = rows["ext_flg"].to_numpy()
    aw.to_csv(tmp_path / "allwise.csv", index=False)
    code, _out, err = _run(capsys, "predict", "-m", model_file, tmp_path / "allwise.csv",
                          tmp_path / "out.fits", "--allwise", "--chunksize", 100)
    assert code == 0, err
    from wise2spitzer.catalog import read_catalog

    got = read_catalog(tmp_path / "out.fits")
    assert got["designation"].tolist() == aw["designation"].tolist()
    assert got[OUT[3]].isin(["ok", "upper_limit"]).sum() > 10


@pytest.mark.parametrize(
    "setup, pattern",
    [
        ("garbage_model", r"is not a wise2spitzer model file"),
        ("missing_model", r"No such model file|No such file or directory"),
        ("missing_input", r"No such file or directory: .*nope\.csv"),
        ("bad_input", r"cannot read csv input"),
        ("bad_format", r"cannot tell the format of output"),
        ("bad_engine", r"engine must be one of \['local', 'dask'\]; got 'spark'"),
        ("bad_chunksize", r"chunksize must be a positive integer; got -3"),
    ],
)
def test_user_errors_are_one_stderr_line_exit_2(model_file, tmp_path, capsys, setup, pattern):
    good = tmp_path / "in.csv"
    pd.DataFrame({"wise1": [1.0], "wise4": [1.0]}).to_csv(good, index=False)
    args = ["predict", "-m", model_file, good, tmp_path / "out.csv"]
    if setup == "garbage_model":
        (tmp_path / "bad.skops").write_bytes(b"not a zip file")
        args[2] = tmp_path / "bad.skops"
    elif setup == "missing_model":
        args[2] = tmp_path / "none.skops"
    elif setup == "missing_input":
        args[3] = tmp_path / "nope.csv"
    elif setup == "bad_input":
        (tmp_path / "bad.csv").write_text('a,b\n1,"2\n')
        args[3] = tmp_path / "bad.csv"
    elif setup == "bad_format":
        args[4] = tmp_path / "out.xyz"
    elif setup == "bad_engine":
        args += ["--engine", "spark"]
    elif setup == "bad_chunksize":
        args += ["--chunksize", "-3"]
    code, _out, err = _run(capsys, *args)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("wise2spitzer: error: ")
    import re

    assert re.search(pattern, lines[0]), lines[0]
    assert not (tmp_path / "out.csv").exists()
