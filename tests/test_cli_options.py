"""Bad options and output paths are refused before any work, in one line, nothing created."""

from __future__ import annotations

import pytest

from wise2spitzer.cli import main


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--data", "simulated", "--target", "mips1", "--out", "{file}/m.skops"],
         "'{file}' is a file, not a directory"),
        (["train", "--data", "simulated", "--target", "mips1", "--out", "{dir}"],
         "is a directory; give a file name"),
        (["train", "--data", "simulated", "--target", "mips1", "--out", "m.skops",
          "--n-jobs", "0"], "--n-jobs must be an integer >= 1; got 0"),
        (["train", "--data", "simulated", "--target", "mips1", "--out", "m.skops",
          "--n-estimators", "0"], "--n-estimators must be an integer >= 1; got 0"),
        (["evaluate", "--data", "simulated", "--target", "mips1", "--out", "{file}/m.csv"],
         "'{file}' is a file, not a directory"),
        (["evaluate", "--data", "simulated", "--target", "mips1", "--n-jobs", "0"],
         "--n-jobs must be an integer >= 1; got 0"),
        (["evaluate", "--data", "simulated", "--target", "mips1", "--cv", "1"],
         "--cv must be an integer >= 2; got 1"),
        (["reproduce", "--quick", "--out", "{file}/x"], "'{file}' is a file, not a directory"),
        (["reproduce", "--quick", "--out", "{file}"], "is a file; give a directory"),
        (["reproduce", "--quick", "--n-rows", "-5", "--out", "r"],
         "--n-rows must be an integer >= 1; got -5"),
        (["reproduce", "--quick", "--n-rows", "0", "--out", "r"],
         "--n-rows must be an integer >= 1; got 0"),
        (["reproduce", "--quick", "--n-estimators", "0", "--out", "r"],
         "--n-estimators must be an integer >= 1; got 0"),
        (["reproduce", "--quick", "--n-jobs", "0", "--out", "r"],
         "--n-jobs must be an integer >= 1; got 0"),
        (["cuts", "--data", "simulated", "--out", "{file}/c"],
         "'{file}' is a file, not a directory"),
    ],
)
def test_bad_option_is_refused_first(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("x")
    (tmp_path / "adir").mkdir()
    fill = {"file": "afile", "dir": "adir"}
    before = sorted(p.name for p in tmp_path.iterdir())
    rc = main([a.format(**fill) for a in args])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.count("\n") == 1 and message.format(**fill) in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before
