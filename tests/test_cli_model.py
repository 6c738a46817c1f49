"""`wise2spitzer train` and `wise2spitzer evaluate`, run in-process through main(argv)."""

from __future__ import annotations

import pandas as pd
import pytest

from wise2spitzer.cli import main
from wise2spitzer.predictor import SpitzerPredictor

from conftest import RANDOM_STATE

FAST = ["--preset", "none", "--n-estimators", "10", "--no-select-features",
        "--feature-set", "flux+colours",
        "--random-state", str(RANDOM_STATE)]


@pytest.fixture(scope="module")
def catalogue(sim_head, tmp_path_factory):
    """The first rows of the shared simulated catalogue as a CSV file."""
    path = tmp_path_factory.mktemp("cat") / "sim.csv"
    sim_head.to_csv(path, index=False)
    return path


def test_train_writes_a_loadable_model(catalogue, tmp_path, capsys):
    out = tmp_path / "irac4.skops"
    code = main(["train", "--data", str(catalogue), "--target", "irac4", "--out", str(out),
                 *FAST])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "labelled 'clean' rows" in text and "features kept:" in text and "r2=" in text
    model = SpitzerPredictor.load(out)
    assert model.target.key == "irac4" and model.card["random_state"] == RANDOM_STATE


def test_evaluate_prints_and_writes_metrics(catalogue, tmp_path, capsys):
    out = tmp_path / "metrics.csv"
    code = main(["evaluate", "--data", str(catalogue), "--target", "irac4", "--cv", "3",
                 "--out", str(out), *FAST])
    text = capsys.readouterr().out
    assert code == 0, text
    for label in ("ET", "LR", "raw WISE"):
        assert label in text
    table = pd.read_csv(out)
    assert list(table["model"]) == ["ET", "LR", "raw WISE"] * 2
    assert set(table["split"]) == {"cv", "test"}


def test_evaluate_without_quality_flags_uses_every_row(catalogue, tmp_path, capsys):
    flux_only = tmp_path / "flux.csv"
    cols = ["objid", "wise1", "wise2", "wise3", "wise4", "i4_f_ap1"]
    pd.read_csv(catalogue, usecols=cols).head(800).to_csv(flux_only, index=False)
    code = main(["evaluate", "--data", str(flux_only), "--target", "irac4", "--cv", "2",
                 "--intervals", *FAST])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "sample 'all'" in text and "no ['ext_flg', 'cc_flags'] columns" in text
    assert "interval coverage" in text and "conformal" in text
    assert "Q1" in text and "Q4" in text  # coverage per quartile of observed flux


def test_evaluate_intervals_measure_the_tuned_model(catalogue, capsys, monkeypatch):
    # The coverage is of the model evaluate scored: the search's choice is passed on.
    import wise2spitzer.evaluation as ev

    seen = {}
    real, real_intervals = ev.evaluate, ev.evaluate_intervals

    def fake_evaluate(*args, **kwargs):
        table = real(*args, **{**kwargs, "preset": "none"})
        table.attrs["tuned_params"] = {"n_estimators": 7, "min_samples_leaf": 2}
        return table

    def fake_intervals(*args, **kwargs):
        seen.update(kwargs)
        return real_intervals(*args, **{**kwargs, "n_estimators": 5})

    monkeypatch.setattr(ev, "evaluate", fake_evaluate)
    monkeypatch.setattr(ev, "evaluate_intervals", fake_intervals)
    code = main(["evaluate", "--data", str(catalogue), "--target", "irac4", "--cv", "2",
                 "--intervals", *FAST])
    assert code == 0, capsys.readouterr().out
    assert seen["n_estimators"] == 7 and seen["min_samples_leaf"] == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--target", "h2o"], "--target: target must be one of"),
        (["--target", "irac4", "--preset", "slow"], "preset must be one of"),
        (["--target", "irac4", "--cv", "1"], "cv must be an integer >= 2"),
    ],
)
def test_evaluate_errors_exit_2(catalogue, capsys, argv, message):
    code = main(["evaluate", "--data", str(catalogue), *argv])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_train_missing_file_exit_2(tmp_path, capsys):
    code = main(["train", "--data", str(tmp_path / "nope.csv"), "--target", "mips1",
                 "--out", str(tmp_path / "m.skops")])
    assert code == 2 and "nope.csv" in capsys.readouterr().err
