"""The extrapolation zone: values just outside the training hull, with their own calibration."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from wise2spitzer.batch import FastPredictor
from wise2spitzer.coverage import distance_curve, heldout_predictions, issued_coverage
from wise2spitzer.domain import ConvexHullDomain, log_fluxes
from wise2spitzer.errors import ModelError
from wise2spitzer.extrapolation import ExtrapolationZone, standardised_distance
from wise2spitzer.model.intervals import conformal_quantiles, score_quantiles
from wise2spitzer.predictor import SpitzerPredictor
from wise2spitzer.schema import (
    STATUS_EXTRAPOLATED,
    STATUS_OK,
    STATUS_OUTSIDE_DOMAIN,
    WISE_FLUX_COLUMNS,
    output_columns,
)

from conftest import RANDOM_STATE

OUT = output_columns("mips1")


def _cloud(n, rng):
    return rng.normal(2.0, 0.3, size=(n, 4))


def test_standardised_distance_matches_scaled_hull():
    rng = np.random.default_rng(RANDOM_STATE)
    pts = _cloud(300, rng)
    scale = np.array([0.5, 1.0, 2.0, 4.0])
    dom = ConvexHullDomain().fit(10.0**pts)
    probe = _cloud(200, rng) * 1.6 - 1.2
    d = standardised_distance(dom, probe, scale)
    # The same hull built directly in the standardised space gives the same facet distances.
    dom_z = ConvexHullDomain().fit(10.0 ** (pts / scale))
    assert np.allclose(d, dom_z.distance(10.0 ** (probe / scale)), atol=1e-9)
    assert ((d <= 1e-9) == dom.contains(10.0**probe)).all()


def test_zone_is_empty_with_too_few_outside_rows():
    rng = np.random.default_rng(RANDOM_STATE)
    pts = _cloud(60, rng)
    folds = np.arange(60) % 5
    zone = ExtrapolationZone(min_rows=1000).fit(pts, folds, rng.normal(size=60))
    assert not zone.active and zone.max_distance_ == 0.0
    dom = ConvexHullDomain().fit(10.0**pts)
    assert not zone.within(dom, pts + 0.05).any()
    with pytest.raises(ModelError, match="empty"):
        zone.quantiles(0.95)


def test_zone_refuses_inconsistent_rows():
    with pytest.raises(ModelError, match="same rows"):
        ExtrapolationZone().fit(np.zeros((10, 4)), np.zeros(9), np.zeros(10))


def test_zone_edge_rejects_a_tail_where_coverage_breaks():
    """Scores that grow with distance: the edge stops before the uncovered far rows."""
    rng = np.random.default_rng(RANDOM_STATE)
    pts = _cloud(3000, rng)
    folds = rng.integers(0, 5, size=3000)
    probe = ExtrapolationZone(min_rows=40).fit(pts, folds, rng.normal(size=3000))
    d = probe.heldout_distance_
    assert probe.active and probe.level_ == 1.0  # well-behaved scores: the whole range
    far = d > np.nanquantile(d[d > 0], 0.85)
    scores = rng.normal(size=3000)
    scores[far] *= 8.0  # the farthest 15% of the outside rows: errors blow up
    zone = ExtrapolationZone(min_rows=40).fit(pts, folds, scores)
    # Calibrated on all outside rows, the far third would be covered at about 85%: the
    # edge moves in until the blown-up rows are left out.
    assert zone.active and zone.max_distance_ < np.nanquantile(d[d > 0], 0.85)
    assert zone.level_ <= 0.8


def test_score_quantiles_is_the_conformal_rule():
    """One rule: the zone's quantiles are the Mondrian bins' rule on one group."""
    import math
    from types import SimpleNamespace

    rng = np.random.default_rng(RANDOM_STATE)
    s = np.sort(rng.standard_t(3, size=301))
    reg = SimpleNamespace(conformity_scores_=[s], conformal_tails="separate")
    rank = math.ceil(302 * 0.975)
    expected = (-s[301 - rank], s[rank - 1])
    assert tuple(conformal_quantiles(reg, 0.95)[0]) == pytest.approx(expected)
    assert score_quantiles(s, 0.95) == pytest.approx(expected)
    sym = score_quantiles(s, 0.9, tails="symmetric")
    assert sym[0] == sym[1] == np.sort(np.abs(s))[math.ceil(302 * 0.9) - 1]


@pytest.fixture(scope="module")
def usco_model(upper_sco):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return SpitzerPredictor().fit(upper_sco, target="mips1", sample="all", preset="none",
                                      test_size=None, random_state=RANDOM_STATE,
                                      extrapolate=True)


def _shifted(upper_sco, factor):
    """Upper Sco rows with W4 scaled: pushes rows out of the hull by a known amount."""
    df = upper_sco.copy()
    df["wise4"] = pd.to_numeric(df["wise4"], errors="coerce") * factor
    return df


def test_predictor_issues_extrapolated_values(usco_model, upper_sco):
    zone = usco_model.extrapolation
    assert zone is not None and zone.active and zone.n_outside_ >= zone.min_rows
    df = pd.concat([_shifted(upper_sco, f) for f in (1.0, 1.3, 2.0, 30.0)], ignore_index=True)
    out = usco_model.predict_catalog(df)
    status = out[OUT["status"]].to_numpy()
    near = status == STATUS_EXTRAPOLATED
    assert near.any() and (status == STATUS_OUTSIDE_DOMAIN).any()
    d = zone.distance(usco_model.domain, log_fluxes(df[list(WISE_FLUX_COLUMNS)]))
    assert (d[near] > 0).all() and (d[near] <= zone.max_distance_).all()
    assert (d[status == STATUS_OUTSIDE_DOMAIN] > zone.max_distance_).all()
    pred, lo, hi = (out[OUT[k]].to_numpy() for k in ("pred", "lo", "hi"))
    valued = np.isin(status, [STATUS_OK, STATUS_EXTRAPOLATED])
    assert np.isfinite(pred[valued]).all() and (lo[valued] < pred[valued]).all()
    assert (pred[valued] < hi[valued]).all() and np.isnan(pred[~valued]).all()
    # The zone's own calibration: its interval differs from the in-hull one for those rows.
    X = out.loc[near]
    from wise2spitzer.features import build_features

    feats = build_features(X[usco_model.input_columns], usco_model.feature_set)
    hull_iv = usco_model.regressor.predict_interval(feats[usco_model.features])
    assert not np.allclose(hull_iv[:, 1], hi[near])


def test_other_interval_methods_do_not_extrapolate(upper_sco):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = SpitzerPredictor().fit(upper_sco, target="mips1", sample="all", preset="none",
                                   test_size=None, random_state=RANDOM_STATE,
                                   interval_method="all", extrapolate=True,
                                   detection_margin=0)  # about the zone, not the floor
        df = _shifted(upper_sco, 1.3)
        conf = p.predict_catalog(df)[OUT["status"]]
        sem = p.predict_catalog(df, method="tree_sem")[OUT["status"]]
    assert (conf == STATUS_EXTRAPOLATED).any()
    assert not (sem == STATUS_EXTRAPOLATED).any()
    assert ((sem == STATUS_OUTSIDE_DOMAIN) == conf.isin([STATUS_OUTSIDE_DOMAIN,
                                                        STATUS_EXTRAPOLATED])).all()


def test_fast_path_agrees_on_extrapolated_rows(usco_model, upper_sco):
    df = pd.concat([_shifted(upper_sco, f) for f in (1.0, 1.3, 2.0)], ignore_index=True)
    plain = usco_model.predict_catalog(df)
    fast = FastPredictor(usco_model, n_jobs=2).predict_catalog(df)
    assert (plain[OUT["status"]] == fast[OUT["status"]]).all()
    assert (plain[OUT["status"]] == STATUS_EXTRAPOLATED).any()
    for k in ("pred", "lo", "hi"):
        np.testing.assert_allclose(fast[OUT[k]], plain[OUT[k]], rtol=1e-6)


def test_zone_survives_the_model_file(usco_model, upper_sco, tmp_path):
    path = usco_model.save(tmp_path / "m.skops")
    loaded = SpitzerPredictor.load(path)
    assert loaded.extrapolation.max_distance_ == usco_model.extrapolation.max_distance_
    df = _shifted(upper_sco, 1.3)
    pd.testing.assert_frame_equal(loaded.predict_catalog(df), usco_model.predict_catalog(df))


def test_a_tampered_zone_is_refused(usco_model, tmp_path):
    import copy

    from wise2spitzer.modelfile import validate_predictor

    bad = copy.deepcopy(usco_model)
    bad.extrapolation.max_distance_ = float("nan")
    with pytest.raises(ModelError, match="max_distance_"):
        validate_predictor(bad)
    bad = copy.deepcopy(usco_model)
    bad.extrapolation.scale_ = np.ones(3)
    with pytest.raises(ModelError, match="scale_"):
        validate_predictor(bad)


def test_model_without_zone_still_predicts(usco_model, upper_sco):
    """Files saved before the zone existed hold no ``extrapolation``: no row is extrapolated."""
    import copy

    old = copy.copy(usco_model)
    del old.extrapolation
    out = old.predict_catalog(_shifted(upper_sco, 1.3))
    assert not (out[OUT["status"]] == STATUS_EXTRAPOLATED).any()


@pytest.mark.slow
def test_upper_sco_kfold_coverage_per_status(upper_sco):
    """Held-out Upper Sco rows: >= 90% get a value, each status group covered.

    With the detection floor rule off: every row here is a Spitzer detection, which is what
    the margin 0 declares (``docs/detection.md``); test_detection.py measures the rule.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        held = heldout_predictions(upper_sco, target="mips1", samples=["all"], cv=5,
                                   random_state=RANDOM_STATE, diagnostics=True,
                                   extrapolate=True, detection_margin=0)
    status = held[OUT["status"]]
    usable = status != "missing_feature"
    valued = status.isin([STATUS_OK, STATUS_EXTRAPOLATED])
    assert valued.sum() / usable.sum() >= 0.9
    assert (status == STATUS_EXTRAPOLATED).sum() >= 20
    cov = issued_coverage(held, "mips1").set_index(["population", "group"])
    for group in (STATUS_OK, STATUS_EXTRAPOLATED):
        assert 0.85 <= cov.loc[("status", group), "coverage"] <= 1.0
    curve = distance_curve(held, "mips1")
    assert curve["n"].sum() == usable.sum()
    assert curve.loc[0, "distance"] == "inside" and curve.loc[0, "issued_fraction"] == 1.0


def test_the_zone_is_opt_in(upper_sco, tmp_path):
    """By default (Python and CLI) a model has no zone; train --extrapolate fits one."""
    from wise2spitzer.cli import main

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = SpitzerPredictor().fit(upper_sco, target="mips1", sample="all", preset="none",
                                       test_size=None, random_state=RANDOM_STATE,
                                       n_estimators=30)
    assert plain.extrapolation is None and "extrapolation" not in plain.card
    assert not (plain.predict_catalog(_shifted(upper_sco, 1.3))[OUT["status"]]
                == STATUS_EXTRAPOLATED).any()
    path = tmp_path / "m.skops"
    assert main(["train", "--data", "upper-sco", "--target", "mips1", "--preset", "none",
                 "--n-estimators", "30", "--extrapolate", "--out", str(path)]) == 0
    loaded = SpitzerPredictor.load(path)
    assert loaded.zone is not None and loaded.card["extrapolation"]["max_distance"] > 0


def test_unlabelled_truth_coverage_counts_only_never_labelled_rows():
    from wise2spitzer.coverage import unlabelled_truth_coverage

    frame = pd.DataFrame({
        "m1_f_psf": [np.nan, np.nan, np.nan, 500.0, np.nan],
        "true_m1_f_psf": [100.0, 100.0, 1000.0, 500.0, 100.0],
        OUT["pred"]: [120.0, 900.0, 1000.0, 500.0, np.nan],
        OUT["lo"]: [80.0, 600.0, 700.0, 400.0, np.nan],
        OUT["hi"]: [150.0, 1200.0, 1400.0, 600.0, np.nan],
        OUT["status"]: ["ok", "ok", "extrapolated", "ok", "outside_domain"],
    })
    got = unlabelled_truth_coverage(frame, "mips1").set_index("status")
    assert got.loc["ok", "n"] == 2 and got.loc["ok", "coverage_truth"] == 0.5
    assert got.loc["ok", "median_pred_over_truth"] == pytest.approx(5.1)
    assert got.loc["extrapolated", "coverage_truth"] == 1.0
    assert got.loc["all with a value", "n"] == 3
    assert unlabelled_truth_coverage(frame.drop(columns="true_m1_f_psf"), "mips1").empty
