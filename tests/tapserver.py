"""A small TAP service on 127.0.0.1 for offline tests of wise2spitzer.irsa.

It speaks the part of TAP that pyvo's ``TAPService.run_sync`` uses: ``POST {base}/sync`` with
``REQUEST=doQuery``, ``LANG=ADQL``, ``QUERY``, ``MAXREC`` and ``UPLOAD=name,param:name`` with the
uploaded VOTable as a multipart file part (pyvo 1.9.1 ``TAPQuery.submit``; no capabilities are
fetched because the session has no ``update_from_capabilities``). Answers are computed from the
recorded-style VOTables in ``tests/data/tap`` by evaluating the few ADQL shapes wise2spitzer
sends (keyset-paginated member pages, the cluster list, positional cross-matches of an upload):
an unknown table or column gets a QUERY_STATUS ERROR, like a real service.

Failure injection (``server.faults``: one action consumed per request): ``"slow"`` waits longer
than the client timeout before answering, ``"trickle"`` sends the answer one byte every
``trickle_seconds`` (each wait shorter than the client timeout, the whole far longer),
``"500"`` answers HTTP 500, ``"redirect"`` answers ``302 Found`` to the same address (as a
service moved from http to https does), ``"ok"`` answers normally.
``server.row_limit`` truncates results with QUERY_STATUS OVERFLOW. ``server.requests`` records
every request. The server listens on loopback only and stops itself after ``lifetime`` seconds.
"""

from __future__ import annotations

import email.parser
import email.policy
import io
import re
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io.votable import from_table, parse_single_table
from astropy.io.votable.tree import Info, Resource, VOTableFile
from astropy.table import Table

DATA = Path(__file__).parent / "data" / "tap"

#: Table name in the ADQL -> fixture file.
TABLES = {
    "J/A+A/686/A42/members": "hr_members.xml",
    "J/A+A/686/A42/clusters": "hr_clusters.xml",
    "slphotdr4": "slphotdr4.xml",
    "allwise_p3as_psd": "allwise_p3as_psd.xml",
}


class QueryError(Exception):
    """The query cannot be answered (unknown table/column, unsupported shape)."""


def _load(name: str) -> Table:
    if name not in TABLES:
        raise QueryError(f"table {name!r} does not exist")
    return parse_single_table(str(DATA / TABLES[name])).to_table()


def _pick(table: Table, columns: list[str]) -> Table:
    lower = {c.lower(): c for c in table.colnames}
    missing = [c for c in columns if c.lower() not in lower]
    if missing:
        raise QueryError(f"column(s) {missing} not found")
    return table[[lower[c.lower()] for c in columns]]


def answer(query: str, uploads: dict[str, Table]) -> Table:
    """Evaluate one of the ADQL shapes wise2spitzer sends against the fixtures."""
    q = " ".join(query.split())
    m_sel = re.match(
        r"SELECT (?:TOP (\d+) )?(.+?) FROM (.+?)(?: WHERE (.+?))?(?: ORDER BY (\w+))?$",
        q,
        re.IGNORECASE,
    )
    if not m_sel:
        raise QueryError(f"unsupported query: {q[:80]}")
    top, select, source, where, order = m_sel.groups()
    items = [s.strip() for s in select.split(",")]
    if "TAP_UPLOAD." in source.upper():
        m_src = re.match(r"(\w+) AS (\w+), TAP_UPLOAD\.(\w+) AS (\w+)$", source, re.IGNORECASE)
        if not m_src:
            raise QueryError(f"unsupported FROM clause: {source}")
        table_name, alias, upload_name, ualias = m_src.groups()
        if upload_name not in uploads:
            raise QueryError(f"upload {upload_name!r} not sent")
        cat = _load(table_name)
        up = uploads[upload_name]
        m_circ = re.search(
            rf"CONTAINS\(POINT\('ICRS', {alias}\.ra, {alias}\.dec\), CIRCLE\('ICRS', "
            rf"{ualias}\.(\w+), {ualias}\.(\w+), ([0-9.eE+-]+)\)\) = 1",
            where or "",
        )
        if not m_circ:
            raise QueryError(f"unsupported WHERE clause: {where}")
        ra_u, dec_u, radius = m_circ.groups()
        c_up = SkyCoord(np.asarray(up[ra_u], float) * u.deg, np.asarray(up[dec_u], float) * u.deg)
        c_cat = SkyCoord(
            np.asarray(cat["ra"], float) * u.deg, np.asarray(cat["dec"], float) * u.deg
        )
        i_up, i_cat, _, _ = c_cat.search_around_sky(c_up, float(radius) * u.deg)
        out = Table()
        for item in items:
            a, col = item.split(".")
            src, rows = (up, i_up) if a == ualias else (cat, i_cat)
            if a not in (alias, ualias):
                raise QueryError(f"unknown alias in {item}")
            out[col] = _pick(src, [col])[col][rows]
        return out
    m_tab = re.match(r'"(.+)"$', source.strip())
    if not m_tab:
        raise QueryError(f"unsupported FROM clause: {source}")
    table = _load(m_tab.group(1))
    keep = np.ones(len(table), bool)
    for cond in re.split(r" AND ", where or "", flags=re.IGNORECASE):
        cond = cond.strip()
        if not cond:
            continue
        if m := re.match(r"(\w+) (>=|>) ([0-9.eE+-]+)$", cond):
            col, op, val = m.groups()
            x = np.asarray(_pick(table, [col])[col], float)
            keep &= x >= float(val) if op == ">=" else x > float(val)
        elif m := re.match(r"Name IN \((.+)\)$", cond):
            names = [n.strip().strip("'") for n in m.group(1).split(",")]
            keep &= np.isin(np.asarray(table["Name"], str), names)
        else:
            raise QueryError(f"unsupported condition: {cond}")
    table = table[keep]
    if order:
        table.sort(order)
    if top:
        table = table[: int(top)]
    return _pick(table, items)


def _votable_bytes(table: Table | None, status: str, message: str = "") -> bytes:
    if table is None:
        vot = VOTableFile()
        res = Resource()
        res.type = "results"
        vot.resources.append(res)
    else:
        vot = from_table(table)
        res = vot.resources[0]
        res.type = "results"
    info = Info(name="QUERY_STATUS", value="ERROR" if status == "ERROR" else "OK")
    if message:
        info.content = message
    res.infos.insert(0, info)
    if status == "OVERFLOW":
        # DALI: the OVERFLOW INFO follows the table; pyvo reads the last QUERY_STATUS.
        res.infos.append(Info(name="QUERY_STATUS", value="OVERFLOW"))
    buf = io.BytesIO()
    vot.to_xml(buf)
    return buf.getvalue()


class TapServer:
    """Run the fake TAP service in a background thread (use as a context manager)."""

    def __init__(self, *, slow_seconds: float = 0.6, lifetime: float = 60.0) -> None:
        self.faults: list[str] = []
        self.requests: list[dict] = []
        self.row_limit: int | None = None
        self.slow_seconds = slow_seconds
        self.trickle_seconds = 0.05
        self.lifetime = lifetime
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._timer = threading.Timer(lifetime, self.stop)
        self._timer.daemon = True

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/tap"

    def start(self) -> TapServer:
        self._thread.start()
        self._timer.start()
        return self

    def stop(self) -> None:
        self._timer.cancel()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def queries(self, contains: str = "") -> list[dict]:
        """Recorded /sync requests whose ADQL contains ``contains``."""
        return [r for r in self.requests if contains in r.get("QUERY", "")]

    def _next_fault(self) -> str:
        with self._lock:
            return self.faults.pop(0) if self.faults else "ok"

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def _send(self, code: int, body: bytes, ctype="application/x-votable+xml"):
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    if getattr(self, "trickle", False):
                        # Bounded: at most 200 bytes, then the rest at once.
                        for i in range(min(len(body), 200)):
                            self.wfile.write(body[i : i + 1])
                            self.wfile.flush()
                            time.sleep(server.trickle_seconds)
                        body = body[200:]
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def do_GET(self):
                parsed = urllib.parse.urlsplit(self.path)
                params = {k: v[0] for k, v in urllib.parse.parse_qs(parsed.query).items()}
                self._dispatch(parsed.path, params, {})

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                ctype = self.headers.get("Content-Type", "")
                params, files = {}, {}
                if ctype.startswith("multipart/form-data"):
                    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                        f"Content-Type: {ctype}\r\n\r\n".encode() + body
                    )
                    for part in msg.iter_parts():
                        name = part.get_param("name", header="content-disposition")
                        payload = part.get_payload(decode=True)
                        if part.get_filename() is not None:
                            files[name] = payload
                        else:
                            params[name] = payload.decode()
                else:
                    params = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode()).items()}
                self._dispatch(urllib.parse.urlsplit(self.path).path, params, files)

            def _dispatch(self, path: str, params: dict, files: dict):
                if not path.endswith("/sync"):
                    self._send(404, b"not found", "text/plain")
                    return
                uploads = {}
                for spec in filter(None, params.get("UPLOAD", "").split(";")):
                    name, _, ref = spec.partition(",")
                    key = ref.removeprefix("param:")
                    uploads[name] = parse_single_table(io.BytesIO(files[key])).to_table()
                record = {
                    "QUERY": params.get("QUERY", ""),
                    "MAXREC": params.get("MAXREC"),
                    "REQUEST": params.get("REQUEST"),
                    "LANG": params.get("LANG"),
                    "uploads": {k: len(v) for k, v in uploads.items()},
                    "upload_columns": {k: list(v.colnames) for k, v in uploads.items()},
                }
                fault = server._next_fault()
                record["fault"] = fault
                with server._lock:
                    server.requests.append(record)
                if fault == "slow":
                    time.sleep(server.slow_seconds)
                self.trickle = fault == "trickle"
                if fault == "500":
                    self._send(500, b"internal error", "text/plain")
                    return
                if fault == "redirect":
                    self.send_response(302)
                    self.send_header("Location", path)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if params.get("REQUEST") != "doQuery" or params.get("LANG") != "ADQL":
                    self._send(400, _votable_bytes(None, "ERROR", "REQUEST/LANG missing"))
                    return
                try:
                    table = answer(params.get("QUERY", ""), uploads)
                except QueryError as exc:
                    self._send(400, _votable_bytes(None, "ERROR", str(exc)))
                    return
                status = "OK"
                limits = [int(params["MAXREC"])] if params.get("MAXREC") else []
                if server.row_limit is not None:
                    limits.append(server.row_limit)
                if limits and len(table) > min(limits):
                    table = table[: min(limits)]
                    status = "OVERFLOW"
                self._send(200, _votable_bytes(table, status))

        return Handler


def make_conf(srv, **changes):
    """An archive ``Conf`` pointing at ``srv`` with short timeouts, pages and chunks."""
    from wise2spitzer import irsa

    base = {
        "vizier_url": srv.url,
        "irsa_url": srv.url,
        "timeout": 2.0,
        "retries": 2,
        "backoff": 0.01,
        "max_backoff": 0.05,
        "page_size": 5,
        "chunk_size": 4,
    }
    base.update(changes)
    return irsa.Conf(**base)


def clear_proxies(monkeypatch) -> None:
    """A proxy configured in the environment must not capture loopback requests."""
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
