"""The TAP client: lazy services, timeouts, retries with backoff, overflow warnings, cache.

:class:`Archive` sends every query of a fetch. pyvo and requests are optional (``pip install
wise2spitzer[archive]``) and imported only when a query is actually sent; services are created
at the first request (astroquery's habit). Failures are classified as transient (retried with
exponential backoff) or not (reported at once) and end as one-line
:class:`~wise2spitzer.errors.FetchError` messages; each finished result is cached atomically
under a hash of its query and uploads, so an interrupted fetch resumes without repeating it.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..catalog.atomic import atomic_output
from ..catalog.messages import one_line
from ..errors import FetchError
from .config import Conf, resolve_conf

__all__ = ["Archive", "get_archive", "result_frame"]

# Archive errors carry URLs and service messages: a little more room than catalogue errors.
_REASON_LIMIT = 300


def _one_line(text: str) -> str:
    return one_line(text, limit=_REASON_LIMIT)


def _import_archive_deps():
    try:
        import pyvo  # noqa: F401
        import requests  # noqa: F401
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise FetchError(
            f"archive access needs pyvo and requests ({exc}); "
            "install them with: pip install 'wise2spitzer[archive]'"
        ) from None


def within_deadline(seconds: float, call):
    """``call()``'s result, or :class:`TimeoutError` once ``seconds`` have passed.

    requests' timeout bounds each wait for bytes, so a server that sends one byte a second
    never trips it; the whole request runs in a daemon thread that is abandoned at the
    deadline (its socket closes when the server gives up or the process ends).
    """
    box: dict = {}

    def target() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            box["error"] = exc

    worker = threading.Thread(target=target, name="wise2spitzer-request", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise TimeoutError(f"no complete answer within {seconds:g} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def _make_session(timeout: float):
    """A requests session that applies ``timeout`` to every request pyvo sends."""
    import requests
    from pyvo.utils import http as pyvo_http

    from .. import __version__

    class _TimeoutSession(requests.Session):
        def request(self, method, url, **kwargs):
            if kwargs.get("timeout") is None:
                kwargs["timeout"] = timeout
            return super().request(method, url, **kwargs)

    session = _TimeoutSession()
    session.headers["User-Agent"] = f"wise2spitzer/{__version__} {pyvo_http.USER_AGENT}"
    return session


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and everything it wraps (pyvo's ``cause``, ``__cause__``, ``__context__``)."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop(0)
        if e is None or any(e is s for s in seen):
            continue
        seen.append(e)
        todo.extend([getattr(e, "cause", None), e.__cause__, e.__context__])
        todo.extend(a for a in getattr(e, "args", ()) if isinstance(a, BaseException))
    return seen


def _short_reason(exc: BaseException) -> str:
    """A short, single-line reason such as ``[Errno 111] Connection refused``."""
    text = " ".join(str(e) for e in _causes(exc))
    m = re.search(r"\[Errno -?\d+\][^'\")\]]*", text)
    if m:
        return _one_line(m.group(0).strip().rstrip(","))
    return _one_line(str(exc) or type(exc).__name__)


def _classify(exc: BaseException, timeout: float) -> tuple[bool, str, str]:
    """Return (transient, kind, reason) for a failed request."""
    import requests
    import urllib3
    from pyvo.dal.exceptions import DALQueryError, DALServiceError

    chain = _causes(exc)
    for e in chain:
        if isinstance(e, TimeoutError) and str(e).startswith("no complete answer"):
            return True, "timeout", str(e)  # the whole-request deadline
    # Before the headers a timeout is requests' Timeout; while the body streams in it is
    # urllib3's ReadTimeoutError wrapped in a pyvo DALFormatError. (urllib3's connection-refused
    # error derives from its ConnectTimeoutError, so requests' classes are checked first.)
    for e in chain:
        if isinstance(e, requests.Timeout):
            return True, "timeout", f"no response within {timeout:g} s"
    for e in chain:
        if isinstance(e, requests.ConnectionError):
            return True, "unreachable", _short_reason(e)
    for e in chain:
        if isinstance(e, (urllib3.exceptions.ReadTimeoutError, TimeoutError)):
            return True, "timeout", f"no response within {timeout:g} s"
    if isinstance(exc, DALQueryError):
        return False, "query", _one_line(exc.reason or str(exc))
    if isinstance(exc, DALServiceError):
        code = exc.code
        transient = code is None or code >= 500 or code == 429
        return transient, "service", _one_line(f"HTTP {code}: {exc.reason}" if code else str(exc))
    # A response cut short (DALFormatError wrapping a read error) is worth another try.
    return True, "service", _one_line(f"{type(exc).__name__}: {exc}")


def _table_digest(table) -> str:
    buf = io.StringIO()
    table.write(buf, format="ascii.ecsv")
    return hashlib.sha256(buf.getvalue().encode()).hexdigest()


@dataclass
class Archive:
    """Sends TAP queries with timeouts, retries, overflow warnings and a resumable cache.

    Services are created at the first request; :attr:`n_requests` counts requests actually
    sent, :attr:`n_cached` the chunks read back from the cache.

    Parameters
    ----------
    conf : Conf
        URLs, timeouts, retries and cache directory.
    """

    conf: Conf = field(default_factory=Conf)
    n_requests: int = 0
    n_cached: int = 0
    truncated: list[str] = field(default_factory=list)
    _services: dict[str, Any] = field(default_factory=dict, repr=False)
    _session: Any = field(default=None, repr=False)

    def service(self, url: str):
        """The pyvo ``TAPService`` for ``url``, created on first use."""
        if url not in self._services:
            _import_archive_deps()
            import pyvo

            if self._session is None:
                self._session = _make_session(self.conf.timeout)
            self._services[url] = pyvo.dal.TAPService(url, session=self._session)
        return self._services[url]

    def _cache_path(self, url: str, adql: str, uploads: dict, maxrec: int | None) -> Path | None:
        if self.conf.cache_dir is None:
            return None
        key = json.dumps(
            {
                "url": url,
                "adql": adql,
                "maxrec": maxrec,
                "uploads": {k: _table_digest(v) for k, v in sorted(uploads.items())},
            },
            sort_keys=True,
        )
        digest = hashlib.sha256(key.encode()).hexdigest()
        return Path(self.conf.cache_dir) / f"{digest}.ecsv"

    def run(
        self,
        url: str,
        adql: str,
        *,
        uploads: dict | None = None,
        maxrec: int | None = None,
        label: str = "query",
        overflow: str = "warn",
    ):
        """Run ``adql`` synchronously on ``url``; return an astropy Table.

        The table's ``meta["QUERY_STATUS"]`` is ``"OK"`` or ``"OVERFLOW"`` (truncated by a
        service limit). A truncated result raises a :class:`pyvo.dal.DALOverflowWarning`
        naming ``label``, unless ``overflow="ignore"`` (the caller pages past the limit).

        Raises
        ------
        FetchError
            The service cannot be reached after ``conf.retries`` retries, or rejects the query.
        """
        from astropy.table import Table

        uploads = dict(uploads or {})
        path = self._cache_path(url, adql, uploads, maxrec)
        if path is not None and path.exists():
            self.n_cached += 1
            table = Table.read(path, format="ascii.ecsv")
            if table.meta.get("QUERY_STATUS") == "OVERFLOW":
                self._overflow(url, label, len(table), overflow)
            return table

        service = self.service(url)
        attempts = self.conf.retries + 1
        for attempt in range(attempts):
            self.n_requests += 1
            try:
                with warnings.catch_warnings():
                    # pyvo's own overflow warning is replaced by one naming the chunk below.
                    warnings.simplefilter("ignore")
                    result = within_deadline(
                        self.conf.timeout,
                        lambda: service.run_sync(adql, uploads=uploads or None, maxrec=maxrec),
                    )
                break
            except Exception as exc:  # noqa: BLE001 - classified below, re-raised as FetchError
                transient, kind, reason = _classify(exc, self.conf.timeout)
                if not transient:
                    raise FetchError(f"{url} rejected the {label}: {reason}") from None
                if attempt + 1 < attempts:
                    time.sleep(min(self.conf.max_backoff, self.conf.backoff * 2**attempt))
                    continue
                if kind == "unreachable":
                    msg = f"cannot reach {url}: {reason}; check your connection or use --dry-run"
                elif kind == "timeout":
                    msg = (
                        f"cannot reach {url}: {reason} after {attempts} attempts; "
                        "raise --timeout, lower --chunk-size or use --dry-run"
                    )
                else:
                    msg = f"{url} failed on the {label} after {attempts} attempts: {reason}"
                raise FetchError(msg) from None

        table = result.to_table()
        table.meta = {"QUERY_STATUS": str(result.query_status or "OK").upper()}
        if table.meta["QUERY_STATUS"] == "OVERFLOW":
            self._overflow(url, label, len(table), overflow)
        if path is not None:
            _atomic_write_table(table, path)
        return table

    def _overflow(self, url: str, label: str, n_rows: int, overflow: str) -> None:
        """Record a truncated result; warn unless the caller recovers the rest itself."""
        if overflow == "ignore":
            return
        from pyvo.dal.exceptions import DALOverflowWarning

        self.truncated.append(label)
        warnings.warn(
            f"{label}: result truncated by {url} at {n_rows} rows (QUERY_STATUS OVERFLOW); "
            + (
                "matches may be missing - lower --chunk-size"
                if "chunk" in label
                else "rows beyond the service limit are missing"
            ),
            DALOverflowWarning,
            stacklevel=4,
        )


def _atomic_write_table(table, path: Path) -> None:
    """Write ``table`` so that ``path`` is either absent or complete (never half written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Keep only the query status: VOTable metadata does not round-trip through ECSV.
    out = table.copy(copy_data=False)
    out.meta = {"QUERY_STATUS": table.meta.get("QUERY_STATUS", "OK")}
    with atomic_output(path) as tmp:
        out.write(tmp, format="ascii.ecsv", overwrite=True)


def get_archive(archive: Archive | None, conf_: Conf | None) -> Archive:
    """``archive`` itself, else a new :class:`Archive` on ``conf_`` (default configuration)."""
    if archive is not None:
        return archive
    return Archive(conf=resolve_conf(conf_))


def result_frame(table) -> pd.DataFrame:
    """Astropy table -> DataFrame with plain numpy/nullable dtypes and str columns."""
    df = table.to_pandas()
    for name in table.colnames:
        col = table[name]
        if col.dtype.kind in "USO":
            # VOTable writes a null string as an empty cell: masked and empty strings both
            # become None, whether the table came from the service or from the cache.
            mask = np.ma.getmaskarray(col)
            values = [
                None if m else (v.decode() if isinstance(v, bytes) else str(v)) or None
                for v, m in zip(np.asarray(col, dtype=object), mask, strict=True)
            ]
            df[name] = pd.Series(values, index=df.index, dtype=object)
    return df
