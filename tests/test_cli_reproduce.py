"""The reproduce, sed and cuts commands, run in-process through ``cli.main``."""

from __future__ import annotations

import pandas as pd
import pytest

from wise2spitzer.catalog import write_catalog
from wise2spitzer.cli import main

from conftest import RANDOM_STATE

# Options both `reproduce` and `evaluate` take, so their numbers must agree.
SHARED = ["--preset", "none", "--cv", "3", "--n-estimators", "15", "--no-select-features",
          "--random-state", str(RANDOM_STATE), "--n-jobs", "1"]


@pytest.fixture(scope="module")
def catalogue_csv(sim_head, tmp_path_factory):
    """The first rows of the shared simulated catalogue as a CSV file (with its sidecar)."""
    path = tmp_path_factory.mktemp("data") / "cat.csv"
    write_catalog(sim_head, path)
    return path


@pytest.fixture(scope="module")
def reproduced(catalogue_csv, tmp_path_factory):
    """One quick `reproduce` run (tens of seconds): every test that uses it is marked slow."""
    out = tmp_path_factory.mktemp("repro")
    # --quick only adds settings that leave the point predictions alone (Boruta rounds, which
    # --no-select-features switches off, and conformal folds), so the scores must still equal
    # those of `evaluate` with the shared options.
    code = main(["reproduce", "--data", str(catalogue_csv), "--target", "mips1", "--no-pdf",
                 "--quick", "--out", str(out), *SHARED])
    assert code == 0
    return out


@pytest.mark.slow
def test_reproduce_writes_report_and_predictions_in_input_format(reproduced, catalogue_csv):
    for name in ("metrics.csv", "report.md", "report.html", "predictions.parquet",
                 "predictions.csv", "models/mips1_clean.skops", "models/mips1_clean.json"):
        assert (reproduced / name).exists(), name
    assert not list((reproduced / "figures").glob("*.pdf"))  # --no-pdf
    n_in = len(pd.read_csv(catalogue_csv))
    back = pd.read_csv(reproduced / "predictions.csv")
    assert len(back) == n_in and "m1_pred_status" in back.columns
    assert "i4_pred_status" not in back.columns  # only --target mips1 was asked for
    md = (reproduced / "report.md").read_text()
    assert "SIMULATED DATA" in md  # a simulation read from a file is still labelled
    forms = pd.read_csv(reproduced / "form_comparison.csv")
    assert set(forms["form"]) == {"paper", "ratio"} and set(forms["model"]) == {"ET", "LR"}
    assert "Target form: log flux (paper) or log(Spitzer / WISE)" in md


@pytest.mark.slow
def test_metrics_equal_the_numbers_evaluate_prints(reproduced, catalogue_csv, tmp_path, capsys):
    capsys.readouterr()
    for sample in ("clean", "unclean"):
        csv = tmp_path / f"{sample}.csv"
        assert main(["evaluate", "--data", str(catalogue_csv), "--target", "mips1",
                     "--sample", sample, "--out", str(csv), *SHARED]) == 0
        printed = capsys.readouterr().out
        mine = pd.read_csv(reproduced / "metrics.csv")
        mine = mine[(mine["target"] == "mips1") & (mine["sample"] == sample)]
        theirs = pd.read_csv(csv)
        cols = ["model", "split", "n_train", "n_test", "mae", "rmse", "r2", "mape",
                "mape_linear"]
        pd.testing.assert_frame_equal(mine[cols].reset_index(drop=True),
                                      theirs[cols].reset_index(drop=True))
        for _, row in mine[mine["split"] == "test"].iterrows():
            for c in ("r2", "mae", "rmse"):
                assert f"{row[c]:.4f}" in printed, (sample, row["model"], c)


def test_reproduce_rejects_bad_options(tmp_path, capsys):
    assert main(["reproduce", "--preset", "slow", "--out", str(tmp_path)]) == 2
    assert "preset must be one of" in capsys.readouterr().err
    assert main(["reproduce", "--target", "w4", "--out", str(tmp_path)]) == 2
    assert "--target: target must be one of" in capsys.readouterr().err
    assert main(["reproduce", "--data", str(tmp_path / "nope.csv"), "--out",
                 str(tmp_path)]) == 2
    assert "not found" in capsys.readouterr().err


@pytest.mark.slow
def test_sed_command_with_a_saved_model(reproduced, catalogue_csv, tmp_path, capsys):
    pred = pd.read_csv(reproduced / "predictions.csv")
    source = str(pred.loc[pred["m1_pred_status"] == "ok", "objid"].iloc[0])
    out = tmp_path / "sed.png"
    assert main(["sed", "--data", str(catalogue_csv), "--source", source, "--model",
                 str(reproduced / "models" / "mips1_clean.skops"), "--out", str(out)]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"
    assert f"objid {source}" in capsys.readouterr().out
    # Without --model the prediction columns already in the table are drawn.
    assert main(["sed", "--data", str(reproduced / "predictions.csv"), "--source", source,
                 "--out", str(tmp_path / "sed2.pdf")]) == 0
    assert (tmp_path / "sed2.pdf").read_bytes()[:4] == b"%PDF"


def test_sed_command_errors(catalogue_csv, tmp_path, capsys):
    assert main(["sed", "--data", str(catalogue_csv), "--source", "no-such-id",
                 "--out", str(tmp_path / "s.png")]) == 2
    assert "--source 'no-such-id': no row" in capsys.readouterr().err
    assert main(["sed", "--data", str(catalogue_csv), "--source", "1",
                 "--out", str(tmp_path / "s.jpg")]) == 2
    assert "--out must end in .png, .pdf or .svg" in capsys.readouterr().err


def test_cuts_command(catalogue_csv, tmp_path, capsys):
    assert main(["cuts", "--data", str(catalogue_csv), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "quality_cuts_mips1.csv").exists()
    assert (tmp_path / "fig10_quality_cuts_mips1.png").exists()
    printed = capsys.readouterr().out
    table = pd.read_csv(tmp_path / "quality_cuts_mips1.csv")
    assert "clean, W4 SNR >= 2" in printed and f"{table['n_kept'].iloc[0]}" in printed
