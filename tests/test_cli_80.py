"""The CLI at 80 columns: help without value placeholders for flags, tables never cut, and
``predict`` explaining the columns and interval methods a model needs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from wise2spitzer.cli import main
from wise2spitzer.cli.app import app
from wise2spitzer.cli.tables import fitted_tables
from wise2spitzer.datasets import simulate_seip
from wise2spitzer.predictor import SpitzerPredictor
from wise2spitzer.schema import VALUE_STATUSES
from wise2spitzer.selection import BorutaSelector, NoFeatureSelectedWarning

COMMANDS = [[], ["datasets"], ["datasets", "describe"], ["datasets", "export"], ["train"],
            ["evaluate"], ["predict"], ["describe-model"], ["reproduce"], ["sed"], ["cuts"],
            ["fetch"]]


def _lines_fit(text: str, width: int = 80) -> None:
    assert "…" not in text, text
    assert max(len(line) for line in text.splitlines()) <= width, text


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "root")
def test_help_reads_well_at_80_columns(command, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    assert main([*command, "--help"]) == 0
    text = capsys.readouterr().out
    _lines_fit(text)
    assert "<bool>" not in text and "list[" not in text


def test_command_help_paragraphs_are_not_broken_mid_sentence():
    import typer

    group = typer.main.get_command(app)
    ctx = group.make_context("wise2spitzer", ["--help"], resilient_parsing=True)
    seen = 0
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        for paragraph in (command.help or "").split("\n\n"):
            assert "\n" not in paragraph.strip(), (name, paragraph)
        for param in command.params:
            assert "\n" not in (getattr(param, "help", None) or ""), (name, param.name)
        seen += 1
    assert seen >= 9  # every command and group of the CLI


def test_fitted_tables_split_rather_than_cut():
    console = Console(width=80, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    headers = ["model", "split", *[f"metric_{i}" for i in range(10)]]
    rows = [["ET", "cv", *[f"{0.1 * i:.4f}\n± {0.01 * i:.4f}" for i in range(10)]]]
    tables = fitted_tables(console, "scores", headers, rows, keys=2, left=("model", "split"))
    assert len(tables) > 1
    for t in tables:
        console.print(t)
    text = console.export_text()
    _lines_fit(text)
    for i in range(10):  # every value and its spread printed whole
        assert f"{0.1 * i:.4f}" in text and f"± {0.01 * i:.4f}" in text
    assert text.count("ET") == len(tables)  # the key columns repeat in every table


def test_metrics_table_fits_80_columns():
    from wise2spitzer.cli.model_cmd import _print_metrics

    console = Console(width=80, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    base = {"n_train": 98, "n_test": 49, "r2": 0.97374, "mae": 0.0539, "rmse": 0.0822,
            "mape": 0.0135, "mape_linear": 0.1334, "coverage": np.nan, "width_dex": np.nan}
    rows = [{"model": m, "split": "cv", **base, **{f"{k}_std": 0.0115 for k in base}}
            for m in ("ET", "LR", "raw WISE")]
    rows.append({"model": "ET", "split": "test", **base, "coverage": 0.95, "width_dex": 0.3987})
    _print_metrics(console, pd.DataFrame(rows), "MIPS1 24 um, sample 'all': scores")
    text = console.export_text()
    _lines_fit(text)
    assert "0.9737" in text and "± 0.0115" in text and "0.3987" in text and "nan" not in text


def test_describe_upper_sco_fits_and_explains_the_rows_used(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["datasets", "describe", "upper-sco"]) == 0
    text = capsys.readouterr().out
    _lines_fit(text)
    assert "no clean sample" in text
    assert "train/evaluate mips1: 184 of 353 labelled rows" in text


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    df = simulate_seip(3000, random_state=0)
    path = tmp_path_factory.mktemp("m") / "m1.skops"
    SpitzerPredictor().fit(df, target="mips1", sample="unclean", preset="none",
                           n_estimators=20, test_size=None, random_state=0).save(path)
    return path


def test_predict_without_the_model_columns_exits_2_with_the_fix(model_file, tmp_path, capsys):
    df = simulate_seip(200, random_state=1)
    src = tmp_path / "w14.parquet"
    df[["wise1", "wise2", "wise3", "wise4"]].to_parquet(src)
    out = tmp_path / "out.parquet"
    assert main(["predict", "--model", str(model_file), str(src), str(out)]) == 2
    err = capsys.readouterr().err
    assert "wise1rchi2" in err and "--feature-set flux+colours" in err and "--allwise" in err
    assert "describe-model" in err
    assert not out.exists()


def test_describe_model_lists_the_needed_columns(model_file, capsys):
    assert main(["describe-model", str(model_file)]) == 0
    text = capsys.readouterr().out
    assert "needs columns: wise1, wise2, wise3, wise4, wise1rchi2" in text
    assert "interval methods (--method): conformal" in text


def test_method_qrf_on_a_model_without_it_says_how_to_fix(model_file, tmp_path, capsys):
    src = tmp_path / "in.parquet"
    simulate_seip(100, random_state=1).to_parquet(src)
    code = main(["predict", "--model", str(model_file), "--method", "qrf", str(src),
                 str(tmp_path / "o.parquet")])
    err = capsys.readouterr().err
    assert code == 2
    assert "--interval-method qrf" in err and "wise2spitzer[qrf]" in err


def test_predict_excess_adds_flag_and_significance(model_file, tmp_path, capsys):
    from wise2spitzer.excess import flag_excess

    src = tmp_path / "in.parquet"
    simulate_seip(500, random_state=2).to_parquet(src)
    out = tmp_path / "o.parquet"
    assert main(["predict", "--model", str(model_file), "--excess", str(src), str(out)]) == 0
    assert "m1_excess:" in capsys.readouterr().out
    got = pd.read_parquet(out)
    assert len(got) == 500
    expected = flag_excess(got["m1_f_psf"], got["m1_f_pred"], got["m1_f_pred_lo"],
                           got["m1_f_pred_hi"], observed_err=got["m1_df_psf"])
    np.testing.assert_array_equal(got["m1_excess"].to_numpy(dtype=bool), expected)
    ok = got["m1_pred_status"].isin(VALUE_STATUSES) & (got["m1_f_psf"] > 0)
    assert ok.any() and np.isfinite(got.loc[ok, "m1_excess_sigma"]).all()
    assert got.loc[~ok, "m1_excess_sigma"].isna().all() or (~ok).sum() == 0


def test_predict_excess_without_the_observed_column_exits_2(model_file, tmp_path, capsys):
    src = tmp_path / "in.parquet"
    simulate_seip(100, random_state=1).drop(columns=["m1_f_psf"]).to_parquet(src)
    code = main(["predict", "--model", str(model_file), "--excess", str(src),
                 str(tmp_path / "o.parquet")])
    assert code == 2 and "m1_f_psf" in capsys.readouterr().err


def test_progress_bar_waits_for_the_first_chunk():
    from wise2spitzer.batch.progress import Progress

    bar = Progress(True, 10, "predict x")
    assert not bar.started  # nothing drawn (and stalled) before work is done
    bar.advance(5)
    assert bar.started
    bar.close()


def test_boruta_warning_names_the_feature(random_state=0):
    rng = np.random.default_rng(random_state)
    X = rng.normal(size=(200, 4))
    y = rng.normal(size=200)
    names = ["wise1", "wise2", "w2_w3", "w3_w4"]
    with pytest.warns(NoFeatureSelectedWarning) as record:
        sel = BorutaSelector(max_iter=10, random_state=0).fit(X, y, feature_names=names)
    kept = names[int(np.flatnonzero(sel.get_support())[0])]
    assert f"feature {kept!r}" in str(record[0].message)
