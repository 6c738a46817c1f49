"""Archive details checked against the services' public schemas, on the local TAP service.

The VizieR URL (https), members and cluster properties from one Hunt & Reffert catalogue,
AllWISE's ``ph_qual`` (only ``U`` is an upper limit), SEIP's integer sentinels, and urllib3's
``Retry`` on the session pyvo uses. ``tests/data/tap`` holds one row of each case.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pyvo")  # the archive extra; installed in the test environment

from astropy.io.votable import parse_single_table

from wise2spitzer import irsa
from wise2spitzer.catalog.surveys import from_allwise, limit_mask
from wise2spitzer.cli import main
from wise2spitzer.errors import FetchError
from wise2spitzer.irsa.service import RETRY_STATUSES, request_deadline

sys.path.insert(0, str(Path(__file__).parent))
from tapserver import DATA, TapServer, answer, clear_proxies, make_conf


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    clear_proxies(monkeypatch)


@pytest.fixture
def server():
    with TapServer(slow_seconds=0.6, lifetime=50) as srv:
        yield srv




# ------------------------------------------------------------------------------------------
# (a) VizieR over https: a redirected POST loses its upload
# ------------------------------------------------------------------------------------------


def test_vizier_is_reached_over_https(capsys):
    assert irsa.VIZIER_TAP_URL == "https://tapvizier.cds.unistra.fr/TAPVizieR/tap"
    assert irsa.Conf().vizier_url.startswith("https://")
    assert main(["fetch", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "https://tapvizier.cds.unistra.fr/TAPVizieR/tap/sync" in out
    assert "http://tapvizier" not in out


def test_a_redirected_post_arrives_without_its_query_and_upload(server):
    """Why the URL must be the final one: the client follows a 302 with a bare GET."""
    server.faults = ["redirect"]
    pos = pd.DataFrame({"ra": [56.1], "dec": [32.1]})
    with pytest.raises(FetchError, match="rejected the SEIP chunk 1/1"):
        irsa.fetch_seip(pos, conf=make_conf(server, retries=0))
    first, second = server.requests
    assert first["uploads"] == {"members": 1} and "slphotdr4" in first["QUERY"]
    assert second["QUERY"] == "" and second["uploads"] == {} and second["REQUEST"] is None


# ------------------------------------------------------------------------------------------
# (b) Members and cluster properties from one catalogue (Hunt & Reffert 2024)
# ------------------------------------------------------------------------------------------


def test_members_and_clusters_come_from_the_same_catalogue(server):
    assert irsa.MEMBERS_TABLE == "J/A+A/686/A42/members"
    assert irsa.MEMBERS_TABLE.rsplit("/", 1)[0] == irsa.CLUSTERS_TABLE.rsplit("/", 1)[0]
    df = irsa.fetch_members(conf=make_conf(server))
    sent = [r["QUERY"] for r in server.requests]
    assert all('"J/A+A/686/A42/' in q for q in sent) and len(sent) == 4
    # Every member's cluster is in the cluster table: no member without its properties.
    assert df["cluster_type"].notna().all() and np.isfinite(df["cluster_dist_pc"]).all()
    # --cluster accepts every cluster the member table names.
    for name in sorted(set(df["cluster"])):
        one = irsa.fetch_members(clusters=name, conf=make_conf(server))
        assert set(one["cluster"]) == {name} and len(one) > 0


def test_the_2023_member_table_is_not_queried(server, capsys):
    """The fixture service knows only the 2024 tables, as the pipeline now asks for."""
    with pytest.raises(Exception, match="does not exist"):
        answer('SELECT recno FROM "J/A+A/673/A114/members"', {})
    rc = main(["fetch", "--dry-run"])
    out = capsys.readouterr().out
    assert rc == 0 and "673/A114" not in out
    assert 'FROM "J/A+A/686/A42/members"' in out and 'FROM "J/A+A/686/A42/clusters"' in out


# ------------------------------------------------------------------------------------------
# (c) AllWISE ph_qual: only U is an upper limit
# ------------------------------------------------------------------------------------------


def _allwise_rows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "w4mpro": [6.0, 6.0, 6.0, 6.0, 6.0],
            "w4sigmpro": [np.nan, np.nan, 0.05, np.nan, np.nan],
            "w4snr": [1.5, 8.0, 20.0, 8.0, 1.5],
            "ph_qual": ["AAAU", "AAAZ", "AAAA", None, None],
        }
    )


def test_from_allwise_keeps_z_magnitudes_as_measurements():
    rows = _allwise_rows()
    out = from_allwise(rows)
    flux = out["wise4"].to_numpy(float)
    err = out["dwise4"].to_numpy(float)
    assert np.isfinite(flux).all() and np.allclose(flux, flux[0])
    # U: a limit (no error, SEIP's convention); Z: a measurement, error from the SNR.
    assert np.isnan(err[0])
    assert err[1] == pytest.approx(flux[1] / 8.0)
    assert err[2] == pytest.approx(flux[2] * np.log(10) / 2.5 * 0.05)
    # Without ph_qual, a null w4sigmpro is a limit only when the SNR is below 2.
    assert err[3] == pytest.approx(flux[3] / 8.0) and np.isnan(err[4])
    assert limit_mask(rows, 4).tolist() == [True, False, False, False, True]
    assert out["ph_qual"].tolist() == rows["ph_qual"].tolist()  # original columns kept


def test_without_ph_qual_and_snr_a_null_error_is_still_a_limit():
    out = from_allwise(pd.DataFrame({"w4mpro": [6.0], "w4sigmpro": [np.nan]}))
    assert np.isnan(out["dwise4"].iloc[0]) and np.isfinite(out["wise4"].iloc[0])


def test_fetch_fills_a_z_band_as_a_measurement_and_a_u_band_as_a_limit(server):
    aw = parse_single_table(str(DATA / "allwise_p3as_psd.xml")).to_table()
    quals = [str(q)[3] for q in aw["ph_qual"]]
    assert quals.count("Z") == 1 and np.ma.is_masked(aw["w4sigmpro"][quals.index("Z")])

    df = irsa.fetch_sample(conf=make_conf(server))
    filled = df[df["wise_phot_source"] == "allwise"]
    assert len(filled) == 1
    w4, dw4 = float(filled["wise4"].iloc[0]), float(filled["dwise4"].iloc[0])
    assert np.isfinite(w4) and dw4 == pytest.approx(w4 / 8.0)
    assert str(filled["ph_qual"].iloc[0])[3] == "Z"  # AllWISE's flags travel with the row

    members = answer('SELECT recno, RA_ICRS, DE_ICRS FROM "J/A+A/686/A42/members"', {})
    r90 = members[members["recno"] == 90]  # no SEIP source; AllWISE W4 is an upper limit
    pos = pd.DataFrame({"ra": np.asarray(r90["RA_ICRS"]), "dec": np.asarray(r90["DE_ICRS"])})
    row = irsa.fetch_positions(pos, conf=make_conf(server)).iloc[0]
    assert row["wise_phot_source"] == "allwise"
    assert np.isfinite(float(row["wise4"])) and np.isnan(float(row["dwise4"]))


# ------------------------------------------------------------------------------------------
# (d) SEIP integer sentinels become missing values
# ------------------------------------------------------------------------------------------


def test_seip_sentinels_become_missing(server):
    seip = parse_single_table(str(DATA / "slphotdr4.xml")).to_table()
    planted = {"wise4nm": -9999, "nbands": -9, "m1_fluxtype": -99}
    where = {c: int(np.flatnonzero(np.asarray(seip[c]) == v)[0]) for c, v in planted.items()}
    pos = pd.DataFrame({"ra": np.asarray(seip["ra"]), "dec": np.asarray(seip["dec"])})

    out = irsa.fetch_seip(pos, conf=make_conf(server)).set_index("objid")
    assert out.index.is_unique and len(out) == len(seip)
    for col, i in where.items():
        objid = str(seip["objid"][i])
        assert pd.isna(out.loc[objid, col]), col
        assert str(out[col].dtype) == "Int64"
        # Every other cell is the service's value (a real null stays null).
        expected = pd.Series(
            [None if np.ma.is_masked(v) else int(v) for v in seip[col]],
            index=[str(o) for o in seip["objid"]],
            dtype="Int64",
        ).drop(index=objid)
        got = out[col].drop(index=objid).reindex(expected.index)
        pd.testing.assert_series_equal(got, expected, check_names=False)
        assert not got.isin(irsa.SEIP_SENTINELS).any()
    # Not a sentinel: left alone, in a column not listed as integer.
    assert (out["wise4"].dropna() > 0).all()


def test_null_sentinels_leaves_other_columns_and_values():
    df = pd.DataFrame({"wise1m": [-9, 0, 7], "wise1": [-9.0, 1.0, 2.0]})
    out = irsa.null_sentinels(df)
    assert out["wise1m"].isna().tolist() == [True, False, False]
    assert out["wise1"].tolist() == [-9.0, 1.0, 2.0]
    assert df["wise1m"].tolist() == [-9, 0, 7]  # a copy


# ------------------------------------------------------------------------------------------
# Retries: urllib3's Retry on the session pyvo uses
# ------------------------------------------------------------------------------------------


def test_the_session_retries_with_urllib3(server):
    from urllib3.util import Retry

    cfg = make_conf(server, retries=3)
    arch = irsa.Archive(cfg)
    arch.service(cfg.irsa_url)  # creates the session handed to pyvo
    retry = arch._session.get_adapter(cfg.irsa_url).max_retries
    assert isinstance(retry, Retry)
    assert retry.total == 3 and {"GET", "POST"} <= set(retry.allowed_methods)
    assert set(retry.status_forcelist) == set(RETRY_STATUSES) >= {429, 500, 503}
    assert request_deadline(cfg.replace(retries=0)) == cfg.timeout
    assert request_deadline(cfg) > 3 * 2 * cfg.timeout


def test_a_trickling_answer_is_cut_at_the_timeout_even_with_retries_left(server):
    """Retries before the answer share a larger budget; the answer itself has --timeout."""
    import time

    server.faults = ["trickle"]
    cfg = make_conf(server, timeout=0.5, retries=3)
    assert request_deadline(cfg) > 3.0
    t0 = time.perf_counter()
    with pytest.raises(FetchError, match=r"no complete answer within 0.5 s"):
        irsa.fetch_members(conf=cfg)
    assert time.perf_counter() - t0 < 2.5
    assert len(server.requests) == 1  # an answer cut mid-way is not sent again


def test_every_attempt_is_counted(server):
    server.faults = ["500", "500", "ok"]
    arch = irsa.Archive(make_conf(server, retries=2))
    df = irsa.fetch_members(archive=arch)
    assert len(df) == 12
    assert arch.n_requests == len(server.requests) == 1 + 2 + 3
    assert server.requests[0]["QUERY"] == server.requests[2]["QUERY"]
