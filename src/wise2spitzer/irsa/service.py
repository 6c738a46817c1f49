"""The TAP client: lazy services, timeouts, retries with backoff, overflow warnings, cache.

:class:`Archive` sends every query of a fetch. pyvo and requests are optional (``pip install
wise2spitzer[archive]``) and imported only when a query is actually sent; services are created
at the first request (astroquery's habit) on one requests session. Transient failures
(connection errors, timeouts before the answer starts, HTTP 429/5xx) are retried with
exponential backoff by urllib3's :class:`~urllib3.util.Retry` mounted on that session, below
pyvo; the whole request, retries included, is cut off at a deadline (:func:`within_deadline`)
that per-read timeouts cannot give. Failures end as one-line
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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..catalog.atomic import atomic_output
from ..catalog.messages import one_line
from ..errors import FetchError
from .config import Conf, resolve_conf

__all__ = [
    "RETRY_STATUSES",
    "Archive",
    "RequestEvent",
    "get_archive",
    "make_retry",
    "request_deadline",
    "result_frame",
    "within_deadline",
]

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


def within_deadline(
    seconds: float,
    call,
    *,
    answer_started: Callable[[], float | None] | None = None,
    answer_seconds: float | None = None,
):
    """``call()``'s result, or :class:`TimeoutError` once its time is up.

    requests' timeout bounds each wait for bytes, so a server that sends one byte a second
    never trips it; the whole call runs in a daemon thread that is abandoned at the deadline
    (its socket closes when the server gives up or the process ends).

    Parameters
    ----------
    seconds : float
        The call's limit from now, whatever happens.
    call : callable
        What to run.
    answer_started : callable, optional
        Returns the ``time.monotonic()`` at which the answer began to arrive (None before).
        From then on the call must end within ``answer_seconds``: retries before the answer
        take the ``seconds`` budget, the answer itself only ``answer_seconds``.
    answer_seconds : float, optional
        See ``answer_started``.
    """
    box: dict = {}

    def target() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            box["error"] = exc

    worker = threading.Thread(target=target, name="wise2spitzer-request", daemon=True)
    worker.start()
    limit = time.monotonic() + seconds
    while worker.is_alive():
        now = time.monotonic()
        started = answer_started() if answer_started is not None else None
        if started is not None and answer_seconds is not None and started + answer_seconds < limit:
            end, allowed = started + answer_seconds, answer_seconds
        else:
            end, allowed = limit, seconds
        if now >= end:
            raise TimeoutError(f"no complete answer within {allowed:g} s")
        worker.join(min(end - now, 0.05))
    if "error" in box:
        raise box["error"]
    return box["value"]


#: HTTP statuses retried by the session (service busy, gateway errors, rate limit).
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class _Attempts:
    """Counts the requests a session sent, retries included (urllib3 retries below pyvo)."""

    def __init__(self) -> None:
        self.retried = 0
        self._lock = threading.Lock()

    def add(self) -> None:
        with self._lock:
            self.retried += 1


def make_retry(conf: Conf, attempts: _Attempts | None = None):
    """The :class:`urllib3.util.Retry` policy of an archive session.

    Connection errors, timeouts before the answer starts and the statuses of
    :data:`RETRY_STATUSES` are retried ``conf.retries`` times, POST included: a TAP
    synchronous query only reads, so sending it again is safe. The first retry is immediate,
    the n-th (n >= 2) waits ``min(max_backoff, backoff * 2**(n - 2))`` seconds (urllib3's
    schedule, ``backoff_factor = backoff / 2``), or what a ``Retry-After`` header asks. The
    last answer of a status that is still failing is returned (``raise_on_status=False``), so
    pyvo reports its HTTP code.
    """
    from urllib3.util import Retry

    class _CountingRetry(Retry):
        def increment(self, *args, **kwargs):
            if attempts is not None:
                attempts.add()
            return super().increment(*args, **kwargs)

    return _CountingRetry(
        total=conf.retries,
        connect=conf.retries,
        read=conf.retries,
        status=conf.retries,
        redirect=0,
        allowed_methods=frozenset({"GET", "POST"}),
        status_forcelist=RETRY_STATUSES,
        backoff_factor=conf.backoff / 2.0,
        backoff_max=conf.max_backoff,
        raise_on_status=False,
        raise_on_redirect=False,
    )


def request_deadline(conf: Conf) -> float:
    """Seconds one :meth:`Archive.run` may take, retries included.

    ``conf.timeout`` for the request itself, plus, for each retry, twice ``conf.timeout`` (a
    retry may wait that long to connect and again for the answer) and urllib3's wait before
    it. Once the answer has begun it has ``conf.timeout`` to arrive whole, whatever is left
    of this budget: a server that trickles its answer is cut off there.
    """
    waits = sum(
        min(conf.max_backoff, conf.backoff * 2.0 ** (n - 2)) for n in range(2, conf.retries + 1)
    )
    return conf.timeout + conf.retries * 2.0 * conf.timeout + waits


def _make_session(conf: Conf, attempts: _Attempts | None = None):
    """A requests session for pyvo: ``conf.timeout`` on every request, urllib3 retries."""
    import requests
    from pyvo.utils import http as pyvo_http
    from requests.adapters import HTTPAdapter

    from .. import __version__

    timeout = conf.timeout

    class _TimeoutSession(requests.Session):
        def request(self, method, url, **kwargs):
            if kwargs.get("timeout") is None:
                kwargs["timeout"] = timeout
            return super().request(method, url, **kwargs)

    session = _TimeoutSession()
    adapter = HTTPAdapter(max_retries=make_retry(conf, attempts))
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = f"wise2spitzer/{__version__} {pyvo_http.USER_AGENT}"
    return session


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and everything it wraps (``cause``, ``reason``, ``__cause__``, ...)."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop(0)
        if e is None or any(e is s for s in seen):
            continue
        seen.append(e)
        # pyvo's ``cause``, urllib3's ``MaxRetryError.reason`` (the last attempt's error).
        todo.extend([getattr(e, "cause", None), e.__cause__, e.__context__])
        reason = getattr(e, "reason", None)
        todo.append(reason if isinstance(reason, BaseException) else None)
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
    # Before the headers a timeout is requests' Timeout, or, once urllib3's retries are spent,
    # its ReadTimeoutError inside the MaxRetryError of a requests ConnectionError; while the
    # body streams in it is a ReadTimeoutError wrapped in a pyvo DALFormatError. (urllib3's
    # connection-refused error derives from its ConnectTimeoutError, so it is not checked.)
    for e in chain:
        if isinstance(e, (requests.Timeout, urllib3.exceptions.ReadTimeoutError)):
            return True, "timeout", f"no response within {timeout:g} s"
    for e in chain:
        if isinstance(e, requests.ConnectionError):
            return True, "unreachable", _short_reason(e)
    for e in chain:
        if isinstance(e, TimeoutError):
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


@dataclass(frozen=True)
class RequestEvent:
    """One step of a fetch, as :class:`Archive` reports it to its ``progress`` callback.

    Attributes
    ----------
    label : str
        What is asked (``"cluster query"``, ``"member page 2"``, ``"SEIP chunk 1/3"``...).
    n_uploaded : int
        Rows uploaded with the query (0 without an upload).
    done : bool
        False just before the request is sent, True once its answer is in.
    n_rows : int or None
        Rows received (None before the answer).
    cached : bool
        The answer came from the cache; nothing was sent.
    seconds : float or None
        Time the request took, retries included (None from the cache or before the answer).
    attempts : int
        Requests sent for it (1, more after retries; 0 from the cache).
    """

    label: str
    n_uploaded: int = 0
    done: bool = False
    n_rows: int | None = None
    cached: bool = False
    seconds: float | None = None
    attempts: int = 0


def _fetch_error(exc: BaseException, *, url: str, label: str, attempts: int, conf: Conf):
    """The one-line :class:`FetchError` for a request that failed for good."""
    transient, kind, reason = _classify(exc, conf.timeout)
    if not transient:
        return FetchError(f"{url} rejected the {label}: {reason}")
    tries = f" after {attempts} attempts" if attempts > 1 else ""
    if kind == "unreachable":
        return FetchError(f"cannot reach {url}: {reason}; check your connection or use --dry-run")
    if kind == "timeout":
        return FetchError(
            f"cannot reach {url}: {reason}{tries}; "
            "raise --timeout, lower --chunk-size or use --dry-run"
        )
    return FetchError(f"{url} failed on the {label}{tries}: {reason}")


@dataclass
class Archive:
    """Sends TAP queries with timeouts, retries, overflow warnings and a resumable cache.

    Services are created at the first request, on one requests session whose urllib3
    :func:`make_retry` policy retries transient failures; :func:`within_deadline` cuts a
    request off at :func:`request_deadline`. :attr:`n_requests` counts requests actually
    sent (retries included), :attr:`n_cached` the results read back from the cache.

    Parameters
    ----------
    conf : Conf
        URLs, timeouts, retries and cache directory.
    progress : callable, optional
        Called with a :class:`RequestEvent` before each request (``done=False``) and after
        it (``done=True``, with its row count and source), e.g. to show how far a fetch is.
    """

    conf: Conf = field(default_factory=Conf)
    progress: Callable[[RequestEvent], None] | None = None
    n_requests: int = 0
    n_cached: int = 0
    truncated: list[str] = field(default_factory=list)
    _services: dict[str, Any] = field(default_factory=dict, repr=False)
    _session: Any = field(default=None, repr=False)
    _attempts: _Attempts = field(default_factory=_Attempts, repr=False)
    _answers: dict[int, dict] = field(default_factory=dict, repr=False)

    def _answer_hook(self, response, *args, **kwargs):
        """requests response hook: note when this thread's answer began (headers in)."""
        mark = self._answers.get(threading.get_ident())
        if mark is not None:
            mark.setdefault("started", time.monotonic())
        return response

    def service(self, url: str):
        """The pyvo ``TAPService`` for ``url``, created on first use."""
        if url not in self._services:
            _import_archive_deps()
            import pyvo

            if self._session is None:
                self._session = _make_session(self.conf, self._attempts)
                self._session.hooks["response"].append(self._answer_hook)
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

    def _report(self, label: str, uploads: dict, **done: Any) -> None:
        if self.progress is not None:
            n_up = sum(len(t) for t in uploads.values())
            self.progress(RequestEvent(label=label, n_uploaded=n_up, **done))

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
            The service cannot be reached after ``conf.retries`` retries, rejects the query,
            or gives no complete answer within :func:`request_deadline`.
        """
        from astropy.table import Table

        uploads = dict(uploads or {})
        path = self._cache_path(url, adql, uploads, maxrec)
        if path is not None and path.exists():
            self.n_cached += 1
            table = Table.read(path, format="ascii.ecsv")
            if table.meta.get("QUERY_STATUS") == "OVERFLOW":
                self._overflow(url, label, len(table), overflow)
            self._report(label, uploads, done=True, n_rows=len(table), cached=True, attempts=0)
            return table

        service = self.service(url)
        self._report(label, uploads, done=False)
        started, retried = time.monotonic(), self._attempts.retried
        mark: dict = {}

        def call():
            self._answers[threading.get_ident()] = mark
            try:
                return service.run_sync(adql, uploads=uploads or None, maxrec=maxrec)
            finally:
                self._answers.pop(threading.get_ident(), None)

        try:
            with warnings.catch_warnings():
                # pyvo's own overflow warning is replaced by one naming the chunk below.
                warnings.simplefilter("ignore")
                result = within_deadline(
                    request_deadline(self.conf),
                    call,
                    answer_started=lambda: mark.get("started"),
                    answer_seconds=self.conf.timeout,
                )
        except Exception as exc:  # noqa: BLE001 - classified below, re-raised as FetchError
            # Every retry the policy granted counts; the last failure counts once more but
            # sent nothing new, hence the cap.
            attempts = min(1 + self._attempts.retried - retried, self.conf.retries + 1)
            self.n_requests += attempts
            raise _fetch_error(
                exc, url=url, label=label, attempts=attempts, conf=self.conf
            ) from None
        attempts = 1 + self._attempts.retried - retried
        self.n_requests += attempts

        table = result.to_table()
        table.meta = {"QUERY_STATUS": str(result.query_status or "OK").upper()}
        if table.meta["QUERY_STATUS"] == "OVERFLOW":
            self._overflow(url, label, len(table), overflow)
        if path is not None:
            _atomic_write_table(table, path)
        seconds = time.monotonic() - started
        self._report(
            label, uploads, done=True, n_rows=len(table), seconds=seconds, attempts=attempts
        )
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


def get_archive(
    archive: Archive | None,
    conf_: Conf | None,
    progress: Callable[[RequestEvent], None] | None = None,
) -> Archive:
    """``archive`` itself, else a new :class:`Archive` on ``conf_`` (default configuration).

    ``progress`` is given to a new archive, and to ``archive`` if it has none.
    """
    if archive is not None:
        if progress is not None and archive.progress is None:
            archive.progress = progress
        return archive
    return Archive(conf=resolve_conf(conf_), progress=progress)


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
