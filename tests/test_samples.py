"""Samples of the paper: unclean / clean, labelled / unlabelled, WISE quality cuts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from wise2spitzer import samples
from wise2spitzer.errors import CatalogError
from wise2spitzer.samples import (
    clean_mask,
    labelled_mask,
    quality_cut_counts,
    sample_counts,
    select_sample,
    unclean_mask,
)


@pytest.fixture
def table() -> pd.DataFrame:
    # Rows: 10 clean+labelled, 11 clean unlabelled, 12 flagged, 13 extended, 14 no W4,
    # 15 W4 = 0, 16 clean, MIPS1 = 0 (not measured).
    return pd.DataFrame(
        {
            "wise4": [5.0, 3.0, 4.0, 2.0, np.nan, 0.0, 9.0],
            "ext_flg": [0, 0, 0, 1, 0, 0, 0],
            "cc_flags": ["0000", "0000", "00d0", "0000", "0000", "0000", "0000"],
            "m1_f_psf": [100.0, np.nan, 50.0, 20.0, 30.0, 10.0, 0.0],
            "i4_f_ap1": [1.0, 2.0, np.nan, 3.0, 4.0, -1.0, 5.0],
            "w4snr": [1.0, 2.5, 5.0, 20.0, np.nan, 0.5, 12.0],
            "w3snr": [3.0, 1.0, 2.0, 50.0, 4.0, 0.1, 10.0],
        },
        index=[10, 11, 12, 13, 14, 15, 16],
    )


def test_every_public_name_imports():
    for name in samples.__all__:
        assert getattr(samples, name) is not None


def test_unclean_needs_a_positive_finite_w4(table):
    assert unclean_mask(table).tolist() == [True, True, True, True, False, False, True]
    text = pd.DataFrame({"wise4": ["1.5", "abc", "-2", "inf"]})
    assert unclean_mask(text).tolist() == [True, False, False, False]


def test_clean_mask(table):
    assert clean_mask(table).tolist() == [True, True, False, False, False, False, True]
    assert clean_mask(table).index.tolist() == table.index.tolist()


@pytest.mark.parametrize(
    "flags",
    [
        ["0000", "0000", "00d0", "0000"],
        [b"0000", b"0000", b"00d0", b"0000"],
        [" 0000", "0000 ", "00d0", "0000"],
        [0, 0, 10, 0],  # a reader parsed '0000' as 0 and '0010' as 10
        [0.0, 0.0, np.nan, 0.0],
    ],
)
def test_clean_mask_normalises_cc_flags(flags):
    df = pd.DataFrame({"wise4": [1.0, 1.0, 1.0, 1.0], "ext_flg": [0, 0, 0, 1], "cc_flags": flags})
    assert clean_mask(df).tolist() == [True, True, False, False]


def test_clean_mask_mixed_object_flags():
    df = pd.DataFrame(
        {
            "wise4": [1.0] * 5,
            "ext_flg": ["0", 0, 0, 0, 0],
            "cc_flags": [b"0000", 0, None, "H000", 7],
        }
    )
    assert clean_mask(df).tolist() == [True, True, False, False, False]


@pytest.mark.parametrize("drop", ["ext_flg", "cc_flags", "wise4"])
def test_clean_mask_missing_column(table, drop):
    with pytest.raises(CatalogError, match=rf"clean sample needs column\(s\) \['{drop}'\]"):
        clean_mask(table.drop(columns=drop))


def test_select_sample_keeps_the_index(table):
    assert select_sample(table, "clean").index.tolist() == [10, 11, 16]
    assert select_sample(table, "unclean").index.tolist() == [10, 11, 12, 13, 16]
    assert select_sample(table, "ALL").index.tolist() == table.index.tolist()


def test_select_sample_bad_value(table):
    with pytest.raises(CatalogError, match=r"sample must be one of \['clean', 'unclean', 'all'\]"):
        select_sample(table, "dirty")
    with pytest.raises(ValueError, match="got 'dirty'"):
        select_sample(table, "dirty")


def test_labelled_mask(table):
    assert labelled_mask(table, "mips1").tolist() == [True, False, True, True, True, True, False]
    assert labelled_mask(table, "irac4").tolist() == [True, True, False, True, True, False, True]


def test_labelled_mask_errors(table):
    with pytest.raises(CatalogError, match=r"target must be one of .*got 'w4'"):
        labelled_mask(table, "w4")
    with pytest.raises(CatalogError, match=r"needs column\(s\) \['m1_f_psf'\]"):
        labelled_mask(table.drop(columns="m1_f_psf"), "mips1")


def test_sample_counts(table):
    counts = sample_counts(table)
    assert counts.index.tolist() == ["all", "unclean", "clean"]
    assert counts.loc["clean"].to_dict() == {
        "total": 3,
        "mips1_labelled": 1,
        "mips1_unlabelled": 2,
        "irac4_labelled": 3,
        "irac4_unlabelled": 0,
    }
    assert counts.loc["unclean", "mips1_labelled"] == 3
    assert (counts["mips1_labelled"] + counts["mips1_unlabelled"] == counts["total"]).all()


def test_sample_counts_adapts_to_the_columns(table):
    wise_only = table.drop(columns=["m1_f_psf", "i4_f_ap1", "ext_flg"])
    counts = sample_counts(wise_only)
    assert counts.index.tolist() == ["all", "unclean"]
    assert counts.columns.tolist() == ["total"]
    with pytest.raises(CatalogError, match=r"needs column\(s\) \['m1_f_psf'\]"):
        sample_counts(wise_only, targets=["mips1"])
    with pytest.raises(CatalogError, match=r"clean sample needs column\(s\) \['ext_flg'\]"):
        sample_counts(wise_only, samples=["clean"])
    with pytest.raises(CatalogError, match=r"sample must be one of .*got 'some'"):
        sample_counts(table, samples=["some"])


def test_quality_cut_counts_by_hand(table):
    cuts = quality_cut_counts(table, "mips1")
    # Labelled clean MIPS1 rows: only row 10 (w4snr 1.0); unclean labelled: 10, 12, 13.
    assert cuts["n_labelled"].to_dict() == {
        "unclean": 3,
        "clean": 1,
        "clean & w4snr >= 2": 0,
        "clean & w4snr < 2": 1,
        "clean & 2 <= w4snr < 3": 0,
        "clean & 3 <= w4snr < 10": 0,
        "clean & w4snr >= 10": 0,
    }
    assert cuts.loc["clean", "fraction_of_unclean"] == pytest.approx(1 / 3)
    assert cuts.loc["clean & w4snr < 2", "fraction_of_clean"] == 1.0
    irac = quality_cut_counts(table, "irac4")
    # IRAC4 uses W3's snr: clean labelled rows 10 (3.0), 11 (1.0), 16 (10.0).
    assert irac.loc["clean & w3snr >= 2", "n_labelled"] == 2
    assert irac.loc["clean & 3 <= w3snr < 10", "n_labelled"] == 1
    assert irac.loc["clean & w3snr >= 10", "n_labelled"] == 1


def test_quality_cut_counts_on_the_simulation(sim_full):
    df = sim_full
    for target, snr in (("mips1", "w4snr"), ("irac4", "w3snr")):
        cuts = quality_cut_counts(df, target)["n_labelled"]
        bins = [c for c in cuts.index if c.startswith("clean &") and not c.endswith(">= 2")]
        assert cuts[bins].sum() == cuts["clean"]
        assert cuts[f"clean & {snr} >= 2"] == cuts["clean"] - cuts[f"clean & {snr} < 2"]
        assert cuts["unclean"] == labelled_mask(df, target).sum()
        # A plain WISE SNR cut throws away a large share of the labelled rows.
        assert cuts[f"clean & {snr} >= 2"] < 0.9 * cuts["clean"]


def test_quality_cut_counts_missing_snr(table):
    with pytest.raises(
        CatalogError, match=r"quality cuts for 'mips1' needs column\(s\) \['w4snr'\]"
    ):
        quality_cut_counts(table.drop(columns="w4snr"), "mips1")
    with pytest.raises(CatalogError, match="target must be one of"):
        quality_cut_counts(table, "mips2")
