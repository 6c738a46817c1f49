"""Archive access (wise2spitzer.irsa, `wise2spitzer fetch`) against a local TAP service.

Everything runs offline: a real pyvo client talks to ``tests/tapserver.py`` on 127.0.0.1, which
answers from the recorded-style VOTables in ``tests/data/tap``.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pyvo")  # the archive extra; installed in the test environment

from pyvo.dal.exceptions import DALOverflowWarning

from wise2spitzer import irsa
from wise2spitzer.catalog import read_catalog, write_catalog
from wise2spitzer.cli import main
from wise2spitzer.errors import CatalogError, FetchError
from wise2spitzer.schema import BANDS, WISE_QUALITY_COLUMNS

sys.path.insert(0, str(Path(__file__).parent))
from tapserver import TapServer, answer, clear_proxies, make_conf

# Members in tests/data/tap/hr_members.xml with Prob >= 0.5, and those with a SEIP source.
N_MEMBERS = 12
N_MATCHED = 11
N_CLUSTERS_QUERIES = 1


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    clear_proxies(monkeypatch)


@pytest.fixture
def server():
    with TapServer(slow_seconds=0.6, lifetime=50) as srv:
        yield srv




def dead_url() -> str:
    """A loopback URL on which nothing listens (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/tap"


# ------------------------------------------------------------------------------------------
# ADQL (documented table and column names)
# ------------------------------------------------------------------------------------------


def test_members_query_filters_probability_and_normalises_cluster_names():
    adql = irsa.members_query(min_prob=0.7, clusters=["IC 348", "O'Bri"], after_recno=40)
    assert 'FROM "J/A+A/686/A42/members"' in adql
    assert "SELECT TOP 200000 recno, Name, GaiaDR3, Prob, RA_ICRS, DE_ICRS, Gmag" in adql
    assert "Prob >= 0.7 AND recno > 40" in adql
    assert "Name IN ('IC_348', 'O''Bri')" in adql
    assert adql.endswith("ORDER BY recno")


def test_seip_query_selects_every_column_the_pipeline_needs():
    adql = irsa.seip_query(upload="members", radius_arcsec=2.0)
    assert "FROM slphotdr4 AS s, TAP_UPLOAD.members AS u" in adql
    assert (
        "CONTAINS(POINT('ICRS', s.ra, s.dec), CIRCLE('ICRS', u.ra_in, u.dec_in, 0.0005555556)) = 1"
        in " ".join(adql.split())
    )
    selected = set(" ".join(adql.split()).split(" FROM ")[0].replace(",", " ").split())
    needed = {"objid", "ra", "dec", "m1_snr", "wise_cc_flags", "wise_ext_flg", "wise_ra"}
    for band in BANDS.values():
        if band.instrument != "Gaia":
            needed |= {band.column, band.error_column}
    needed |= set(WISE_QUALITY_COLUMNS)
    assert {f"s.{c}" for c in needed} <= selected


def test_allwise_query_selects_flags_and_snr():
    adql = " ".join(irsa.allwise_query(radius_arcsec=1.0).split())
    assert "FROM allwise_p3as_psd AS a, TAP_UPLOAD.counterparts AS u" in adql
    for col in ("designation", "cc_flags", "ext_flg", "w1snr", "w2snr", "w3snr", "w4snr"):
        assert f"a.{col}," in adql
    assert "CIRCLE('ICRS', u.ra_in, u.dec_in, 0.0002777778)) = 1" in adql


def test_fixture_server_rejects_undocumented_columns():
    # The fixtures carry the documented names: a misspelt column cannot slip through.
    with pytest.raises(Exception, match="not found"):
        answer('SELECT Name, Probability FROM "J/A+A/686/A42/members"', {})


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"chunk_size": 0}, "chunk_size must be a positive integer; got 0"),
        ({"timeout": -1.0}, "timeout must be a positive number; got -1.0"),
        ({"retries": -1}, r"retries must be an integer >= 0; got -1"),
        ({"backoff": -0.5}, "backoff and max_backoff must be >= 0"),
    ],
)
def test_conf_rejects_bad_values(changes, match):
    with pytest.raises(ValueError, match=match):
        irsa.conf.replace(**changes)


def test_bad_probability_and_empty_cluster_list():
    with pytest.raises(ValueError, match=r"min_prob must be .* \[0, 1\]; got 1.5"):
        irsa.fetch_sample(min_prob=1.5, dry_run=True)
    with pytest.raises(ValueError, match="clusters must name at least one cluster"):
        irsa.members_query(clusters=[" "])


@pytest.mark.parametrize(
    "columns, expected",
    [
        (["RA", "Dec", "x"], ("RA", "Dec")),
        (["name", "ra_icrs", "DE_ICRS"], ("ra_icrs", "DE_ICRS")),
        (["RAJ2000", "DEJ2000"], ("RAJ2000", "DEJ2000")),
    ],
)
def test_find_radec_columns_is_case_insensitive(columns, expected):
    df = pd.DataFrame([[1.0] * len(columns)], columns=columns)
    assert irsa.find_radec_columns(df) == expected


def test_find_radec_columns_errors_name_the_columns():
    df = pd.DataFrame({"alpha": [1.0], "delta": [2.0]})
    with pytest.raises(CatalogError, match=r"no RA/Dec columns found .*\['alpha', 'delta'\]"):
        irsa.find_radec_columns(df)
    assert irsa.find_radec_columns(df, ra_column="ALPHA", dec_column="delta") == ("alpha", "delta")
    with pytest.raises(CatalogError, match="column 'beta' not found"):
        irsa.find_radec_columns(df, ra_column="alpha", dec_column="beta")


# ------------------------------------------------------------------------------------------
# The whole fetch against the local service
# ------------------------------------------------------------------------------------------


def test_fetch_sample_end_to_end(server, tmp_path):
    cfg = make_conf(server)
    out = tmp_path / "sample.parquet"
    df = irsa.fetch_sample(conf=cfg, output=out)

    assert len(df) == N_MATCHED
    assert df["objid"].is_unique
    assert (df["membership_prob"] >= 0.5).all()
    assert (df["seip_sep_arcsec"] < 2.0).all()
    # Member recno 20 has two SEIP sources within 2": the nearer one (< 1.9") is kept.
    row = df.loc[df["hr_recno"] == 20].iloc[0]
    assert row["seip_sep_arcsec"] < 1.5
    # The SEIP source without a WISE association gets AllWISE photometry in SEIP's columns.
    assert (df["wise_phot_source"] == "allwise").sum() == 1
    assert (df["wise_phot_source"] == "seip").sum() == N_MATCHED - 1
    assert np.isfinite(df[["wise1", "wise2", "wise3", "wise4"]].to_numpy(float)).all()
    assert df["cc_flags"].str.len().eq(4).all()
    assert set(df["ext_flg"].astype(int)) <= {0, 1}
    assert np.isfinite(df[["w1snr", "w2snr", "w3snr", "w4snr"]].to_numpy(float)).all()
    assert set(df["cluster_dist_pc"].round(1)) == {315.2, 135.4, 838.0}
    assert {"glon", "glat", "gaia_g"} <= set(df.columns)

    # What was sent: TAP sync requests, uploads chunked, ADQL as built by the library.
    sent = server.requests
    assert all(r["REQUEST"] == "doQuery" and r["LANG"] == "ADQL" for r in sent)
    seip = server.queries("FROM slphotdr4 AS s, TAP_UPLOAD.members AS u")
    assert [r["uploads"]["members"] for r in seip] == [4, 4, 4]
    assert seip[0]["QUERY"] == irsa.seip_query(upload="members", radius_arcsec=2.0)
    assert seip[0]["upload_columns"]["members"] == ["uid", "ra_in", "dec_in"]
    aw = server.queries("FROM allwise_p3as_psd AS a, TAP_UPLOAD.counterparts AS u")
    assert sum(r["uploads"]["counterparts"] for r in aw) == N_MATCHED
    pages = server.queries('FROM "J/A+A/686/A42/members"')
    assert len(pages) == 3  # 12 members, pages of 5

    meta = df.attrs["provenance"]
    assert meta["n_members"] == N_MEMBERS and meta["n_rows"] == N_MATCHED
    assert meta["n_requests_sent"] == len(sent)
    assert meta["irsa_tap"] == server.url and meta["truncated_results"] == "none"
    assert "TAP_UPLOAD.members" in meta["query_3"]

    back = read_catalog(out)
    assert len(back) == N_MATCHED
    assert back.attrs["meta"]["n_rows"] == N_MATCHED
    assert back.attrs["meta"]["members_table"] == "J/A+A/686/A42/members"


def test_named_cluster_and_unknown_cluster(server):
    cfg = make_conf(server)
    df = irsa.fetch_members(clusters=["IC 348"], conf=cfg)
    assert set(df["cluster"]) == {"IC_348"} and len(df) == 4
    assert "Name IN ('IC_348')" in server.requests[-1]["QUERY"]
    with pytest.raises(FetchError, match=r"clusters \['IC_349'\] are not in J/A\+A/686/A42"):
        irsa.fetch_members(clusters="IC 349", conf=cfg)


def test_truncated_result_warns_and_keyset_pagination_loses_no_member(server):
    server.row_limit = 4  # the 4 clusters fit; pages of 5 members and chunks of 4 do not
    cfg = make_conf(server)
    with pytest.warns(DALOverflowWarning) as record:
        df = irsa.fetch_sample(conf=cfg)
    messages = [str(w.message) for w in record]
    assert messages[0].startswith(f"SEIP chunk 1/3: result truncated by {server.url} at 4 rows")
    assert "(QUERY_STATUS OVERFLOW); matches may be missing - lower --chunk-size" in messages[0]
    assert not any("member page" in m or "cluster" in m for m in messages)
    meta = df.attrs["provenance"]
    # Member pages were cut to 2 rows, but paging on recno still returned all 12 members.
    assert meta["n_members"] == N_MEMBERS
    assert "SEIP chunk 1/3" in meta["truncated_results"]
    assert meta["n_seip_matches"] < N_MATCHED  # what truncation costs, and why it warns


def test_timeout_then_successful_retry(server):
    cfg = make_conf(server, timeout=0.2)
    server.faults = ["slow"]
    arch = irsa.Archive(cfg)
    df = irsa.fetch_members(archive=arch)
    assert len(df) == N_MEMBERS
    assert server.requests[0]["fault"] == "slow"
    assert server.requests[1]["QUERY"] == server.requests[0]["QUERY"]  # the same query again
    assert arch.n_requests == len(server.requests) == N_CLUSTERS_QUERIES + 3 + 1

    server.faults = ["slow", "slow"]
    with pytest.raises(
        FetchError, match=r"^cannot reach .*: no (response|complete answer) within 0.2 s after 2 "
    ):
        irsa.fetch_members(conf=cfg.replace(retries=1))


def test_server_error_is_retried_then_reported(server):
    cfg = make_conf(server, retries=1)
    server.faults = ["500", "ok"]
    assert len(irsa.fetch_members(conf=cfg)) == N_MEMBERS
    server.faults = ["500", "500"]
    with pytest.raises(FetchError, match=r"failed on the cluster query after 2 attempts: HTTP 500"):
        irsa.fetch_members(conf=cfg)


def test_rejected_query_is_not_retried(server):
    cfg = make_conf(server, seip_table="slphotdr99")
    pos = pd.DataFrame({"ra": [56.1], "dec": [32.1]})
    with pytest.raises(FetchError, match=r"rejected the SEIP chunk 1/1: table 'slphotdr99'"):
        irsa.fetch_seip(pos, conf=cfg)
    assert len(server.requests) == 1


def test_resumed_run_does_not_repeat_finished_chunks(server, tmp_path):
    cfg = make_conf(server, cache_dir=tmp_path / "cache", retries=0)
    # 1 cluster query + 3 member pages + SEIP chunk 1 succeed, then SEIP chunk 2 fails.
    server.faults = ["ok"] * 5 + ["500"]
    with pytest.raises(FetchError, match="SEIP chunk 2/3"):
        irsa.fetch_sample(conf=cfg)
    first = [r["QUERY"] for r in server.requests[:5]]
    n_first = len(server.requests)

    arch = irsa.Archive(cfg)
    df = irsa.fetch_sample(archive=arch)
    second = server.requests[n_first:]
    assert len(df) == N_MATCHED
    assert arch.n_cached == 5
    # Only SEIP chunks 2-3 and the AllWISE chunks were sent again.
    assert len(second) == 2 + 3
    assert not any('"J/A+A/' in r["QUERY"] for r in second)
    assert all(q not in [r["QUERY"] for r in second] or "slphotdr4" in q for q in first)

    # A third run is served entirely from the cache, with identical rows.
    arch3 = irsa.Archive(cfg)
    again = irsa.fetch_sample(archive=arch3)
    assert arch3.n_requests == 0 and len(server.requests) == n_first + len(second)
    pd.testing.assert_frame_equal(again, df)


def test_offline_raises_one_line_fetch_error():
    url = dead_url()
    cfg = irsa.Conf(vizier_url=url, irsa_url=url, retries=1, backoff=0.01, timeout=1.0)
    with pytest.raises(FetchError) as info:
        irsa.fetch_sample(conf=cfg)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(f"cannot reach {url}: ")
    assert msg.endswith("; check your connection or use --dry-run")
    assert "refused" in msg.lower()


def test_dry_run_sends_nothing(server):
    cfg = make_conf(server)
    queries = irsa.fetch_sample(conf=cfg, dry_run=True)
    assert [q.step for q in queries] == [
        "cluster properties",
        "cluster members",
        "SEIP Source List cross-match",
        "AllWISE counterparts",
    ]
    assert queries[2].uploads[0] == irsa.Upload("members", ("uid", "ra_in", "dec_in"), None)
    assert server.requests == []


def test_fetch_positions_keeps_every_input_row(server, tmp_path):
    members = answer('SELECT recno, RA_ICRS, DE_ICRS FROM "J/A+A/686/A42/members"', {})
    pick = members[np.isin(members["recno"], [10, 70, 90])]  # SEIP, SEIP w/o WISE, no SEIP
    pos = pd.DataFrame(
        {
            "name": ["a", "b", "c", "far"],
            "RAJ2000": [*np.asarray(pick["RA_ICRS"]), 10.0],
            "DEJ2000": [*np.asarray(pick["DE_ICRS"]), -40.0],
            "objid": [1, 2, 3, 4],  # a column SEIP also has: kept as objid_input
        }
    )
    cfg = make_conf(server)
    df = irsa.fetch_positions(pos, conf=cfg)
    assert list(df["name"]) == ["a", "b", "c", "far"]
    assert list(df["objid_input"]) == [1, 2, 3, 4]
    assert list(df["wise_phot_source"]) == ["seip", "allwise", "allwise", ""]
    assert df["objid"].notna().tolist() == [True, True, False, False]
    assert np.isfinite(df.loc[:2, "wise4"].to_numpy(float)).all()
    assert np.isnan(float(df.loc[3, "wise4"]))
    np.testing.assert_allclose(df.loc[3, ["ra", "dec"]].to_numpy(float), [10.0, -40.0])
    assert [r["uploads"] for r in server.queries("TAP_UPLOAD.positions")] == [{"positions": 4}]

    queries = irsa.fetch_positions(pos, conf=cfg.replace(chunk_size=3), dry_run=True)
    assert queries[0].uploads[0].n_rows == 4
    assert "2 chunks" in queries[0].note


def test_positions_with_bad_coordinates_name_the_row(tmp_path):
    pos = pd.DataFrame({"ra": [10.0, 11.0], "dec": [5.0, 95.0]})
    with pytest.raises(CatalogError, match=r"1 rows have no valid position .* row 1: 11.0, 95.0"):
        irsa.fetch_positions(pos, dry_run=True)


# ------------------------------------------------------------------------------------------
# Command line
# ------------------------------------------------------------------------------------------


def test_cli_offline_prints_one_line_and_returns_2(tmp_path, capsys):
    url = dead_url()
    rc = main(
        [
            "fetch",
            str(tmp_path / "out.parquet"),
            "--vizier-url",
            url,
            "--irsa-url",
            url,
            "--retries",
            "0",
            "--no-cache",
        ]
    )
    err = capsys.readouterr().err
    assert rc == 2
    assert err.count("\n") == 1
    assert err.startswith(f"wise2spitzer: error: cannot reach {url}: ")
    assert err.rstrip().endswith("check your connection or use --dry-run")
    assert not (tmp_path / "out.parquet").exists()


def test_cli_dry_run_paper_sample(capsys):
    rc = main(["fetch", "--dry-run"])
    out = capsys.readouterr().out
    assert rc == 0
    assert 'FROM "J/A+A/686/A42/members"\nWHERE Prob >= 0.5 AND recno > 0' in out
    assert "UPLOAD members: TAP_UPLOAD.members, rows known at run time, columns uid" in out
    assert "https://irsa.ipac.caltech.edu/TAP/sync" in out
    assert "FROM allwise_p3as_psd AS a, TAP_UPLOAD.counterparts AS u" in out


def test_cli_positions_file_to_catalogue(server, tmp_path, capsys):
    members = answer('SELECT recno, RA_ICRS, DE_ICRS FROM "J/A+A/686/A42/members"', {})
    pos = pd.DataFrame(
        {
            "RA_ICRS": np.asarray(members["RA_ICRS"])[:3],
            "de_icrs": np.asarray(members["DE_ICRS"])[:3],
        }
    )
    src = tmp_path / "ic348.csv"
    write_catalog(pos, src)
    out = tmp_path / "ic348_seip.ecsv"
    rc = main(
        [
            "fetch",
            str(out),
            "--positions",
            str(src),
            "--vizier-url",
            server.url,
            "--irsa-url",
            server.url,
            "--cache-dir",
            str(tmp_path / "cache"),
            "--timeout",
            "5",
        ]
    )
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert captured.out.startswith(f"3 rows written to {out}")
    back = read_catalog(out)
    assert len(back) == 3 and back["wise4"].notna().all()
    assert back.attrs["meta"]["positions_columns"] == "RA_ICRS,de_icrs"


def test_cli_usage_errors(tmp_path, capsys):
    assert main(["fetch"]) == 2
    assert "give an OUTPUT file" in capsys.readouterr().err
    assert main(["fetch", "--dry-run", "--chunk-size", "0"]) == 2
    assert "chunk_size must be a positive integer; got 0" in capsys.readouterr().err
    rc = main(["fetch", "--dry-run", "--positions", str(tmp_path / "missing.csv")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "missing.csv" in err


@pytest.mark.parametrize("ending", [".fits", ".vot", ".csv"])
def test_output_formats_keep_rows_flags_and_provenance(server, tmp_path, ending):
    members = answer('SELECT recno, RA_ICRS, DE_ICRS FROM "J/A+A/686/A42/members"', {})
    pos = pd.DataFrame(
        {"ra": np.asarray(members["RA_ICRS"]), "dec": np.asarray(members["DE_ICRS"])}
    )
    out = tmp_path / f"cat{ending}"
    df = irsa.fetch_positions(pos, conf=make_conf(server), output=out)
    back = read_catalog(out)
    assert len(back) == len(df) == len(pos)
    assert back["cc_flags"].fillna("").tolist() == df["cc_flags"].fillna("").tolist()
    np.testing.assert_allclose(back["wise4"].to_numpy(float), df["wise4"].to_numpy(float))
    assert back.attrs["meta"]["n_rows"] == len(pos)
    assert back.attrs["meta"]["irsa_tap"] == server.url


def test_a_trickling_answer_is_cut_at_the_whole_request_deadline(server):
    """One byte every 0.05 s never trips a per-read timeout of 0.5 s; the deadline does."""
    import time

    server.faults = ["trickle"]
    cfg = make_conf(server, timeout=0.5, retries=0)
    t0 = time.perf_counter()
    with pytest.raises(FetchError, match=r"no complete answer within 0.5 s"):
        irsa.fetch_members(conf=cfg)
    assert time.perf_counter() - t0 < 3.0


def test_radius_and_output_are_checked_before_any_request(server, tmp_path, capsys):
    with pytest.raises(ValueError, match="match_radius_arcsec must be at most 60 arcsec"):
        irsa.Conf(match_radius_arcsec=1e300)
    from wise2spitzer.cli import main

    (tmp_path / "afile").write_text("x")
    n = len(server.requests)
    for args, message in [
        (["--radius", "1e300", str(tmp_path / "o.parquet")], "at most 60 arcsec"),
        ([str(tmp_path / "afile" / "o.parquet")], "is a file, not a directory"),
        ([str(tmp_path / "o.xyz")], "cannot tell the format"),
    ]:
        rc = main(["fetch", "--vizier-url", server.url, "--irsa-url", server.url, *args])
        err = capsys.readouterr().err
        assert rc == 2 and message in err and err.count("\n") == 1, err
    assert len(server.requests) == n
