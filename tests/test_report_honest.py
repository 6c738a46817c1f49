"""An honest report: what each figure and table shows did not see its own answer.

One quick ``reproduce`` run (marked slow) with a labelled-row cap, the paper's target form
(``form="paper"``, which used to crash the form comparison) and the IRAC4 unclean evaluation
made to fail, so the progress count is checked on the failure path too.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wise2spitzer.errors import ModelError
from wise2spitzer.modelfile import load_predictor
from wise2spitzer.report import honest, pipeline, reproduce
from wise2spitzer.samples import labelled_mask
from wise2spitzer.schema import output_columns
from wise2spitzer.study import capped_counts, training_domain
from wise2spitzer.training import training_table

from conftest import RANDOM_STATE

CAP = 50


@pytest.fixture(scope="module")
def honest_run(tmp_path_factory, sim_head):
    mp = pytest.MonkeyPatch()
    calls, messages = [], []
    real_eval, real_settings = pipeline.evaluate_step, pipeline.study_settings

    def evaluate_step(df, **kw):
        calls.append(kw)
        if kw["target"].key == "irac4" and kw["sample"] == "unclean":
            raise ModelError("made to fail by the test")
        return real_eval(df, **kw)

    def study_settings(*a, **kw):
        return {**real_settings(*a, **kw), "max_labelled": CAP}

    mp.setattr(pipeline, "evaluate_step", evaluate_step)
    mp.setattr(pipeline, "study_settings", study_settings)
    out = tmp_path_factory.mktemp("honest")
    try:
        res = reproduce(sim_head, out=out, preset="none", quick=True, random_state=RANDOM_STATE,
                        n_jobs=1, formats=("png",), dpi=50, n_sed=4, form="paper",
                        progress=messages.append)
    finally:
        mp.undo()
    return res, calls, messages


@pytest.mark.slow
def test_progress_counts_every_step_once_even_after_a_failure(honest_run):
    res, _, messages = honest_run
    steps = [tuple(map(int, re.match(r"\[(\d+)/(\d+)\]", m).groups())) for m in messages]
    numbers = list(dict.fromkeys(k for k, _ in steps))
    total = steps[0][1]
    assert all(n == total for _, n in steps)
    assert numbers[-1] == total
    assert any("IRAC4 unclean: not evaluated" in n for n in res.notes)


@pytest.mark.slow
def test_hull_uses_every_labelled_row_and_cap_note_gives_sample_counts(honest_run, sim_head):
    res, _, _ = honest_run
    p = load_predictor(res.out / "models" / "mips1_clean.skops")
    full = training_domain(sim_head, target="mips1", sample="clean", feature_set=p.feature_set)
    n_all = len(training_table(sim_head, target="mips1", sample="clean",
                               feature_set=p.feature_set)[0])
    assert p.domain.n_points_ == full.n_points_ == n_all
    assert p.card["reproduce"]["n_labelled_used"] < n_all
    assert p.card["reproduce"]["domain_rows"] == n_all
    np.testing.assert_array_equal(p.domain.equations_, full.equations_)
    note = next(n for n in res.notes if n.startswith("MIPS1: the fast preset"))
    capped = pipeline.cap_step(sim_head, target="mips1", settings={"max_labelled": CAP},
                               random_state=RANDOM_STATE)[0]
    for r in capped_counts(sim_head, capped, target="mips1",
                           samples=["unclean", "clean"]).itertuples():
        assert f"{r.sample} {r.n_used:,} of {r.n_labelled:,}" in note
    md = (res.out / "report.md").read_text()
    assert note.split(";")[0] in md


@pytest.mark.slow
def test_each_target_form_selects_and_tunes_on_its_own(honest_run):
    res, calls, _ = honest_run
    forms = [c for c in calls if c["target"].key == "mips1" and c["sample"] == "clean"
             and c.get("feature_set") != "paper"]
    assert [c["form"] for c in forms] == ["paper", "ratio"]
    main, other = forms
    assert "features" not in other and "select_features" not in other
    assert other["settings"]["tuning"] == main["settings"]["tuning"]
    fc = pd.read_csv(res.out / "form_comparison.csv")
    assert set(fc["form"]) == {"paper", "ratio"}


@pytest.mark.slow
def test_table2_scores_the_papers_16_features(honest_run):
    res, _, _ = honest_run
    pf = pd.read_csv(res.out / "paper_features.csv")
    assert set(pf["feature_set"]) == {"paper"} and set(pf["model"]) == {"ET", "LR"}
    assert set(res.metrics["feature_set"]) == {"paper+colours"}
    md = (res.out / "report.md").read_text()
    assert "| MIPS1 | clean | ET (paper's 16) | paper |" in md
    assert "'paper+colours' (19 features: the paper's 16 plus w1_w2, w2_w3, w3_w4)" in md


@pytest.mark.slow
def test_learning_curves_for_both_samples(honest_run):
    res, _, _ = honest_run
    lc = pd.read_csv(res.out / "learning_curves.csv")
    assert set(lc.loc[lc["target"] == "mips1", "sample"]) == {"clean", "unclean"}


@pytest.mark.slow
def test_false_excess_rates_per_method_and_issued(honest_run):
    res, _, _ = honest_run
    fe = pd.read_csv(res.out / "false_excess.csv")
    assert {"tree_sem", "conformal", "issued (default)"} <= set(fe["method"])
    # The issued rows of this small run can all be upper limits (no value, nothing to flag).
    assert (fe.loc[fe["method"] != "issued (default)", "n_no_disk"] > 0).all()
    with np.errstate(invalid="ignore"):
        expected = fe["n_flagged"] / fe["n_no_disk"]
    np.testing.assert_allclose(fe["false_excess_rate"], expected)
    assert "False infrared excesses" in (res.out / "report.md").read_text()


@pytest.mark.slow
def test_sed_caption_says_where_the_predictions_come_from(honest_run):
    res, _, _ = honest_run
    md = (res.out / "report.md").read_text()
    caption = next(line for line in md.splitlines() if "paper Fig. 8" in line
                   and line.startswith("*Figure"))
    assert "No drawn prediction saw its own Spitzer flux" in caption
    assert "Simulated data." in caption


def test_sed_frame_never_shows_a_value_fitted_on_its_own_row(sim_head):
    df = sim_head
    cols = output_columns("mips1")
    predicted = df.copy()
    predicted[cols["pred"]], predicted[cols["lo"]], predicted[cols["hi"]] = 1.0, 0.5, 2.0
    predicted[cols["status"]] = "ok"
    lab = labelled_mask(df, "mips1").to_numpy()
    lab_idx = df.index[lab]
    held = predicted.loc[lab_idx[: len(lab_idx) // 2]].copy()
    held[cols["pred"]] = 7.0
    frame = honest.sed_frame(predicted, {"mips1": held}, tkeys=["mips1"], sample="clean")
    origin = frame[honest.origin_column("mips1")]
    inside = frame.index.intersection(held.index)
    assert (frame.loc[inside, cols["pred"]] == 7.0).all()
    not_held = frame.index.intersection(lab_idx).difference(held.index)
    assert len(not_held) and (frame.loc[not_held, cols["status"]] == honest.NOT_HELD_OUT).all()
    assert frame.loc[not_held, cols["pred"]].isna().all()
    unl = frame.index.difference(lab_idx)
    assert (frame.loc[unl, cols["pred"]] == 1.0).all()
    assert set(origin[unl]) == {honest.ORIGIN_UNLABELLED}
    assert set(origin[frame.index.intersection(lab_idx)]) == {honest.ORIGIN_HELD_OUT}
    assert set(frame["cc_flags"].astype(str)) == {"0000"}


@pytest.mark.slow
def test_upper_sco_seds_are_real_members_and_no_excess_rate_is_invented(tmp_path):
    res = reproduce("upper-sco", out=tmp_path, quick=True, targets=("mips1",), n_jobs=1,
                    formats=("png",), dpi=50, n_sed=2, random_state=RANDOM_STATE,
                    compare_forms=False)
    md = (tmp_path / "report.md").read_text()
    assert "cannot be measured on these data" in md
    assert not (tmp_path / "false_excess.csv").exists()
    caption = next(line for line in md.splitlines() if "paper Fig. 8" in line
                   and line.startswith("*Figure"))
    assert "(real Upper Sco members)" in caption and "Simulated" not in caption
    assert res.simulated is False


def test_sed_command_draws_every_band_of_a_bundle_and_says_simulated(
        mips1_predictor, irac4_predictor, sim_small, tmp_path, capsys):
    from wise2spitzer.bundle import PredictorBundle
    from wise2spitzer.catalog import write_catalog
    from wise2spitzer.cli import main
    from wise2spitzer.cli.reproduce_cmd import _model_predictions

    path = PredictorBundle([mips1_predictor, irac4_predictor]).save(tmp_path / "b.skops")
    both = PredictorBundle([mips1_predictor, irac4_predictor]).predict_catalog(sim_small)
    ok = ((both["m1_pred_status"] == "ok") & (both["i4_pred_status"] == "ok"))
    source = both.loc[ok, "objid"].iloc[0]
    preds = _model_predictions(Path(path), sim_small[sim_small["objid"] == source])
    assert sorted(k.split(":")[0] for k in preds) == ["irac4", "mips1"]
    assert all("clean model" in k for k in preds)
    csv = tmp_path / "sim.csv"
    write_catalog(sim_small, csv)
    out = tmp_path / "sed.png"
    assert main(["sed", "--data", str(csv), "--source", str(source), "--model", str(path),
                 "--out", str(out)]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"
    assert f"objid {source} (simulated data) written" in capsys.readouterr().out
