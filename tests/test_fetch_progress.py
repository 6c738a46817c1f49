"""Progress of ``fetch`` per query, member page and upload chunk, against the local TAP service."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

pytest.importorskip("pyvo")  # the archive extra; installed in the test environment

from wise2spitzer import irsa
from wise2spitzer.cli import main

sys.path.insert(0, str(Path(__file__).parent))
from tapserver import TapServer, clear_proxies, make_conf

LABELS = [
    "cluster query",
    "member page 1",
    "member page 2",
    "member page 3",
    "SEIP chunk 1/3",
    "SEIP chunk 2/3",
    "SEIP chunk 3/3",
    "AllWISE chunk 1/3",
    "AllWISE chunk 2/3",
    "AllWISE chunk 3/3",
]


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    clear_proxies(monkeypatch)


@pytest.fixture
def server():
    with TapServer(lifetime=50) as srv:
        yield srv




def _cli(srv, out, *extra) -> list[str]:
    return [
        "fetch",
        str(out),
        "--vizier-url",
        srv.url,
        "--irsa-url",
        srv.url,
        "--page-size",
        "5",
        "--chunk-size",
        "4",
        "--backoff",
        "0.01",
        *extra,
    ]


def test_each_request_is_reported_before_and_after(server, tmp_path):
    events: list[irsa.RequestEvent] = []
    cfg = make_conf(server, cache_dir=tmp_path / "cache")
    df = irsa.fetch_sample(conf=cfg, progress=events.append)

    assert [e.label for e in events if not e.done] == LABELS
    done = [e for e in events if e.done]
    assert [e.label for e in done] == LABELS
    # Each "done" follows its own "about to send".
    assert all(events[2 * k].label == events[2 * k + 1].label for k in range(len(LABELS)))
    assert [e.n_rows for e in done[1:4]] == [5, 5, 2]  # 12 members in pages of 5
    seip_up = [e.n_uploaded for e in done if e.label.startswith("SEIP")]
    assert seip_up == [4, 4, 4]
    aw_up = [e.n_uploaded for e in done if e.label.startswith("AllWISE")]
    assert sum(aw_up) == len(df)
    assert all(e.attempts == 1 and not e.cached and e.seconds >= 0 for e in done)
    assert sum(e.attempts for e in done) == df.attrs["provenance"]["n_requests_sent"]

    # A second run is read from the cache: reported too, nothing sent.
    again: list[irsa.RequestEvent] = []
    irsa.fetch_sample(conf=cfg, progress=again.append)
    assert [e.label for e in again] == LABELS
    assert all(e.done and e.cached and e.attempts == 0 for e in again)


def test_cli_prints_one_line_per_request_on_stderr(server, tmp_path, capsys):
    server.faults = ["ok", "500"]  # member page 1 needs a retry
    out = tmp_path / "sample.parquet"
    assert main(_cli(server, out, "--no-cache")) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith(f"11 rows written to {out} (11 requests sent")
    lines = captured.err.splitlines()
    assert [line.split(":")[0] for line in lines] == LABELS
    assert re.fullmatch(r"member page 1: 5 rows \(\d+\.\d s, 2 attempts\)", lines[1])
    assert re.fullmatch(r"SEIP chunk 2/3: 4 positions uploaded, \d+ rows \(\d+\.\d s\)", lines[5])


def test_quiet_prints_nothing_on_stderr(server, tmp_path, capsys):
    out = tmp_path / "sample.parquet"
    assert main(_cli(server, out, "--no-cache", "--quiet")) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out.startswith("11 rows written to")
    assert len(server.requests) == len(LABELS)


def test_a_failed_fetch_still_ends_on_one_error_line(server, tmp_path, capsys):
    server.faults = ["ok"] * 4 + ["500"]  # SEIP chunk 1 fails, no retries
    out = tmp_path / "sample.parquet"
    assert main(_cli(server, out, "--no-cache", "--retries", "0")) == 2
    err = capsys.readouterr().err.splitlines()
    assert [line.split(":")[0] for line in err[:-1]] == LABELS[:4]
    assert err[-1].startswith("wise2spitzer: error: ") and "SEIP chunk 1/3" in err[-1]
    assert not out.exists()
