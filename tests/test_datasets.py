"""Embedded datasets: the simulated SEIP catalogue (calibration to the paper) and Upper Sco."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

import wise2spitzer.datasets as ds
from wise2spitzer.datasets import DATASETS, load, load_upper_sco, simulate_seip
from wise2spitzer.errors import CatalogError
from wise2spitzer.schema import PAPER_FEATURES

from conftest import RANDOM_STATE

# Numbers of the paper (Fonseca-Bonilla et al. 2024).
PAPER_UNCLEAN, PAPER_CLEAN = 26068, 9231
PAPER_MIPS_UNCLEAN, PAPER_MIPS_CLEAN = 2592, 1096
PAPER_W4SNR_BINS = (0.32, 0.10, 0.32, 0.26)  # <2, 2-3, 3-10, >10 in clean MIPS1-labelled rows
MIPS_OVER_W4 = 7.17 / 8.363  # Vega zero-point ratios
IRAC4_OVER_W3 = 64.9 / 31.674

CONTRACT_COLUMNS = (
    ["objid", "ra", "dec", "glon", "glat", "cluster", "membership_prob"]
    + ["gaia_g", "gaia_bp", "gaia_rp", "gaia_g_err", "gaia_bp_err", "gaia_rp_err"]
    + ["j", "h", "k", "dj", "dh", "dk"]
    + [f"wise{i}" for i in range(1, 5)]
    + [f"dwise{i}" for i in range(1, 5)]
    + [f"w{i}snr" for i in range(1, 5)]
    + list(PAPER_FEATURES)
    + ["cc_flags", "ext_flg"]
    + [f"i{i}_f_ap1" for i in range(1, 5)]
    + [f"i{i}_df_ap1" for i in range(1, 5)]
    + ["m1_f_psf", "m1_df_psf", "m1_snr", "true_i4_f_ap1", "true_m1_f_psf"]
    + [f"true_wise{i}" for i in range(1, 5)]
    + ["teff", "distance_pc", "has_disk"]
)


@pytest.fixture(scope="module")
def sim(sim_full) -> pd.DataFrame:
    """The embedded ``load("simulated")`` catalogue, calibrated at its seed (read-only)."""
    return sim_full


def _clean(df):
    return (df["ext_flg"] == 0) & (df["cc_flags"] == "0000")


def test_every_public_name_imports():
    for name in ds.__all__:
        assert getattr(ds, name) is not None
    assert set(DATASETS) == {"simulated", "upper-sco"}


# --- simulate_seip: structure ---------------------------------------------------------------


def test_simulation_has_the_contract_columns(sim):
    assert len(sim) == PAPER_UNCLEAN
    missing = [c for c in CONTRACT_COLUMNS if c not in sim.columns]
    assert missing == []
    assert sim["objid"].is_unique
    assert pd.api.types.is_integer_dtype(sim["objid"])
    assert pd.api.types.is_integer_dtype(sim["ext_flg"])
    assert (sim["cc_flags"].str.len() == 4).all()
    assert set("".join(sim["cc_flags"])) <= set("0DPHOdpho")


def test_every_row_has_a_positive_w4_and_true_fluxes(sim):
    assert (sim["wise4"] > 0).all()
    for col in ["true_wise1", "true_wise2", "true_wise3", "true_wise4"]:
        assert (np.isfinite(sim[col]) & (sim[col] > 0)).all(), col
    for col in ["true_i4_f_ap1", "true_m1_f_psf"]:
        assert (np.isfinite(sim[col]) & (sim[col] > 0)).all(), col
    assert sim["teff"].between(3000, 12000).all()
    assert sim["distance_pc"].between(90, 4100).all()


def test_simulation_is_deterministic_for_a_seed():
    a = simulate_seip(1500, random_state=7)
    b = simulate_seip(1500, random_state=7)
    c = simulate_seip(1500, random_state=8)
    pd.testing.assert_frame_equal(a, b)
    assert len(a) == 1500
    assert not np.allclose(a["wise1"].to_numpy(), c["wise1"].to_numpy())


def test_simulation_default_size_is_fast():
    t0 = time.perf_counter()
    simulate_seip(random_state=RANDOM_STATE)
    # Well under a second on a free core; generous for shared CI machines.
    assert time.perf_counter() - t0 < 5.0


@pytest.mark.parametrize("bad", [0, -5, 2.5, "100", True])
def test_simulation_rejects_bad_sizes(bad):
    with pytest.raises(ValueError, match="n_rows must be a positive integer"):
        simulate_seip(bad)


def test_wise_upper_limits_follow_seip(sim):
    for i in range(1, 5):
        lim = sim[f"w{i}snr"] < 2
        # Below SNR 2 the value is a 95% upper limit: positive, no error, the SNR kept.
        assert sim.loc[lim, f"dwise{i}"].isna().all()
        assert (sim.loc[lim, f"wise{i}"] > 0).all()
        assert sim.loc[~lim, f"dwise{i}"].notna().all()
        np.testing.assert_allclose(
            sim.loc[~lim, f"wise{i}"] / sim.loc[~lim, f"dwise{i}"], sim.loc[~lim, f"w{i}snr"]
        )
    assert (sim["w4snr"] < 2).mean() > 0.3  # W4 is mostly an upper limit, as in the paper


def test_mips1_only_reported_above_10_sigma(sim):
    m = sim["m1_f_psf"].notna()
    assert (sim.loc[m, "m1_snr"] >= 10).all()
    assert sim.loc[~m, ["m1_df_psf", "m1_snr"]].isna().all().all()
    # SEIP's m1_df_psf underestimates the error; flux / snr is the honest one.
    honest = sim.loc[m, "m1_f_psf"] / sim.loc[m, "m1_snr"]
    assert (sim.loc[m, "m1_df_psf"] < honest).all()


def test_vega_like_photospheres_follow_the_zero_point_ratios(sim):
    hot = sim[(sim["teff"] > 9000) & ~sim["has_disk"].astype(bool)]
    assert len(hot) > 100
    r_m = (hot["true_m1_f_psf"] / hot["true_wise4"]).median()
    r_i = (hot["true_i4_f_ap1"] / hot["true_wise3"]).median()
    assert r_m == pytest.approx(MIPS_OVER_W4, rel=0.03)
    assert r_i == pytest.approx(IRAC4_OVER_W3, rel=0.03)


# --- simulate_seip: calibration to the paper (Fonseca-Bonilla et al. 2024) ------------------


def test_clean_and_labelled_counts_match_the_paper(sim):
    clean = _clean(sim)
    mips = sim["m1_f_psf"] > 0
    irac = sim["i4_f_ap1"] > 0
    assert clean.sum() == pytest.approx(PAPER_CLEAN, rel=0.05)
    assert mips.sum() == pytest.approx(PAPER_MIPS_UNCLEAN, rel=0.10)
    assert (mips & clean).sum() == pytest.approx(PAPER_MIPS_CLEAN, rel=0.15)
    # About a third of rows lack IRAC4; many more IRAC4 than MIPS1 labels.
    assert 0.60 <= irac.mean() <= 0.80
    assert irac.sum() > 5 * mips.sum()
    # Labelled MIPS1 rows are slightly more often clean than the catalogue as a whole.
    assert (mips & clean).sum() / clean.sum() > (mips & ~clean).sum() / (~clean).sum()


def test_w4snr_fractions_of_clean_mips1_rows(sim):
    snr = sim.loc[_clean(sim) & (sim["m1_f_psf"] > 0), "w4snr"]
    counts, _ = np.histogram(snr, bins=[-np.inf, 2, 3, 10, np.inf])
    fractions = counts / counts.sum()
    np.testing.assert_allclose(fractions, PAPER_W4SNR_BINS, atol=0.07)


def test_wise_overestimates_spitzer_only_at_faint_fluxes(sim):
    m = sim[sim["m1_f_psf"] > 0]
    ratio = m["wise4"] * MIPS_OVER_W4 / m["m1_f_psf"]
    faint, bright = ratio[m["m1_f_psf"] < 5000], ratio[m["m1_f_psf"] > 20000]
    assert faint.median() > 1.3
    assert 5.0 < faint.quantile(0.99) < 50.0  # "up to ~10x"
    assert abs(bright.median() - 1.0) < 0.12
    i = sim[sim["i4_f_ap1"] > 0]
    ratio = i["wise3"] * IRAC4_OVER_W3 / i["i4_f_ap1"]
    faint, bright = ratio[i["i4_f_ap1"] < 1000], ratio[i["i4_f_ap1"] > 5000]
    assert faint.median() > 2.0
    assert 5.0 < faint.quantile(0.95) < 50.0
    assert abs(bright.median() - 1.0) < 0.12


def test_clean_rows_are_less_contaminated(sim):
    clean = _clean(sim)
    for band in (3, 4):
        det = sim[f"w{band}snr"] >= 2
        dev = np.abs(np.log10(sim[f"wise{band}"] / sim[f"true_wise{band}"]))
        assert dev[clean & det].median() < 0.8 * dev[~clean & det].median()
        frac = sim[f"contam_wise{band}"] / sim[f"dwise{band}"]
        assert frac[clean & det].median() < frac[~clean & det].median()


def test_quality_columns_carry_information(sim):
    # rchi2 grows with the contamination relative to the noise.
    q = sim["contam_wise4"] / (sim["wise4"] / sim["w4snr"]).where(sim["w4snr"] >= 2)
    rho = pd.Series(sim["wise4rchi2"]).corr(q, method="spearman")
    assert rho > 0.3
    # nm counts frames with a detection among the m covering the source.
    for i in range(1, 5):
        assert (sim[f"wise{i}nm"] <= sim[f"wise{i}m"]).all()
        assert (sim[f"wise{i}m"] >= 1).all()
    frac = sim["wise4nm"] / sim["wise4m"]
    assert frac[sim["w4snr"] > 10].median() > 0.5 > frac[sim["w4snr"] < 2].median()
    # ext_flg 1 follows the AllWISE rule (rchi2 > 3 in some band).
    rchi2_max = sim[[f"wise{i}rchi2" for i in range(1, 5)]].max(axis=1)
    assert (rchi2_max[sim["ext_flg"] == 1] > 3).all()
    assert (rchi2_max[sim["ext_flg"] == 0] <= 3).all()


# --- load -----------------------------------------------------------------------------------


def test_load_simulated_returns_an_independent_copy(sim):
    a = load("simulated")
    a.loc[0, "wise1"] = -1.0
    b = load("Simulated")
    assert b.loc[0, "wise1"] > 0
    pd.testing.assert_frame_equal(b, sim)


def test_load_simulated_other_seed():
    a = load("simulated", random_state=5)
    assert len(a) == PAPER_UNCLEAN
    assert not np.allclose(a["wise1"].to_numpy()[:50], load("simulated")["wise1"].to_numpy()[:50])


def test_load_upper_sco_by_name():
    assert len(load("upper-sco")) == 863
    assert len(load("UPPER_SCO")) == 863


def test_load_unknown_name():
    with pytest.raises(CatalogError, match=r"dataset name must be one of .*simulated.*got 'nope'"):
        load("nope")


# --- load_upper_sco -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def usco(upper_sco) -> pd.DataFrame:
    """The shared Upper Sco table (read-only)."""
    return upper_sco


def test_upper_sco_columns_and_pairs(usco):
    assert len(usco) == 863
    assert usco["objid"].is_unique
    for col in ["ra", "dec", "quality", "disk_type", "spectral_type", "m1_f_psf", "i4_f_ap1"]:
        assert col in usco.columns
    w = usco[[f"wise{i}" for i in range(1, 5)]].gt(0).all(axis=1)
    assert ((usco["wise4"] > 0) & (usco["m1_f_psf"] > 0)).sum() >= 180
    assert (w & (usco["i4_f_ap1"] > 0)).sum() >= 140
    assert usco["ra"].between(200, 260).mean() > 0.99
    assert usco["dec"].between(-35, -10).mean() > 0.99


def test_upper_sco_conversion_by_hand(usco):
    # Published row: 2MASS J15351610-2544030 (HD 138813): [8.0] 7.16, [24] 4.08, W4 4.23
    # (e 0.02), W1 7.14; RA 15 35 16.1054, Dec -25 44 03.006 (SIMBAD).
    row = usco.set_index("objid").loc["2MASS J15351610-2544030"]
    w4 = 8.363e6 * 10 ** (-0.4 * 4.23)
    assert row["wise4"] == pytest.approx(w4, rel=1e-9)
    assert row["dwise4"] == pytest.approx(w4 * np.log(10) / 2.5 * 0.02, rel=1e-9)
    assert row["m1_f_psf"] == pytest.approx(7.17e6 * 10 ** (-0.4 * 4.08), rel=1e-9)
    assert row["i4_f_ap1"] == pytest.approx(64.9e6 * 10 ** (-0.4 * 7.16), rel=1e-9)
    assert row["wise1"] == pytest.approx(309.540e6 * 10 ** (-0.4 * 7.14), rel=1e-9)
    assert row["ra"] == pytest.approx((15 + 35 / 60 + 16.1054 / 3600) * 15, abs=1e-6)
    assert row["dec"] == pytest.approx(-(25 + 44 / 60 + 3.006 / 3600), abs=1e-6)
    assert row["disk_type"] == "debris/ev trans"
    assert row["spectral_type"] == "A0V"
    assert row["quality"] == "good"


def test_upper_sco_quality_joins_the_flags(usco):
    row = usco.set_index("objid").loc["2MASS J15350863-2532397"]  # W3 false, W4 nodet, 24 out
    assert row["quality"] == "W3:false;W4:nodet;24:out"
    assert np.isnan(row["wise4"]) and np.isnan(row["m1_f_psf"])
    irac = load_upper_sco(target="irac4").set_index("objid").loc["2MASS J15350863-2532397"]
    assert irac["quality"] == "W3:false;W4:nodet;8.0:out"


def test_upper_sco_return_x_y():
    X, y = load_upper_sco(return_X_y=True)
    assert list(X.columns) == ["wise1", "wise2", "wise3", "wise4"]
    assert len(X) == len(y) >= 180
    assert (X > 0).all().all() and (y > 0).all()
    X4, y4 = load_upper_sco(return_X_y=True, target="irac4", as_frame=False)
    assert isinstance(X4, np.ndarray) and X4.shape == (len(y4), 4) and len(y4) >= 140
    bunch = load_upper_sco(as_frame=False)
    assert bunch.data.shape == (len(y), 4)
    assert bunch.target_names == ["m1_f_psf"]
    assert "Luhman" in bunch.DESCR


def test_upper_sco_bad_target():
    with pytest.raises(CatalogError, match=r"target must be one of .*'mips1'.*got 'w4'"):
        load_upper_sco(target="w4")
