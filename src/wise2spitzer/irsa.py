"""Archive access: build the paper's sample (or a user's own) from VizieR and IRSA with TAP.

The paper's sample (Fonseca-Bonilla et al. 2024) is the set of open-cluster members of Hunt &
Reffert matched to the Spitzer Enhanced Imaging Products (SEIP) Source List. This module rebuilds
it with pyvo (TAP) and astropy in three steps:

1. cluster members from VizieR (:data:`MEMBERS_TABLE`, cluster properties from
   :data:`CLUSTERS_TABLE`), filtered by membership probability and optional cluster names,
   fetched in keyset-paginated pages (``recno > last ORDER BY recno``);
2. the SEIP Source List (IRSA ``slphotdr4``) within ``match_radius_arcsec`` of every member, by
   uploading the member positions in chunks (``TAP_UPLOAD.members``);
3. AllWISE (IRSA ``allwise_p3as_psd``) ``cc_flags``, ``ext_flg``, ``w1snr..w4snr`` (and the
   profile-fit photometry where SEIP has none) for the WISE counterparts, uploaded again.

:func:`fetch_positions` does steps 2-3 for any list of positions (a user's own stars) and keeps
every input row. Every request is retried with exponential backoff on transient failures, results
truncated by a service limit raise a :class:`pyvo.dal.DALOverflowWarning` naming the chunk, and a
cache directory stores each finished chunk atomically under a hash of its query and upload so an
interrupted fetch resumes without repeating finished chunks. ``dry_run=True`` returns the queries
(:class:`Query`) instead of sending them.

pyvo and requests are optional (``pip install wise2spitzer[archive]``) and imported only when a
query is actually sent. Services are created lazily, at the first request (astroquery's habit).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import re
import tempfile
import textwrap
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import CatalogError, FetchError
from .schema import BANDS, mag_err_to_ujy, mag_to_ujy

__all__ = [
    "ALLWISE_COLUMNS",
    "ALLWISE_TABLE",
    "CLUSTERS_TABLE",
    "CLUSTER_COLUMNS",
    "IRSA_TAP_URL",
    "MEMBERS_TABLE",
    "MEMBER_COLUMNS",
    "SEIP_COLUMNS",
    "SEIP_TABLE",
    "VIZIER_TAP_URL",
    "Archive",
    "Conf",
    "Query",
    "Upload",
    "allwise_query",
    "clusters_query",
    "conf",
    "default_cache_dir",
    "fetch_allwise",
    "fetch_members",
    "fetch_positions",
    "fetch_sample",
    "fetch_seip",
    "find_radec_columns",
    "format_queries",
    "members_query",
    "read_positions",
    "seip_query",
]

# --------------------------------------------------------------------------------------------
# Services, tables and columns. Where each name was checked is said next to it; names that could
# not be confirmed against the service itself are module-level constants so that they can be
# corrected in one place.
# --------------------------------------------------------------------------------------------

#: VizieR TAP endpoint (CDS). Public scripts query ``"J/A+A/686/A42/members"`` through
#: ``https://tapvizier.cds.unistra.fr/TAPVizieR/tap``; the issue names the http form, which CDS
#: redirects.
VIZIER_TAP_URL = "http://tapvizier.cds.unistra.fr/TAPVizieR/tap"
#: IRSA TAP endpoint (documented in IRSA's TAP help; used by astroquery.ipac.irsa).
IRSA_TAP_URL = "https://irsa.ipac.caltech.edu/TAP"

#: Hunt & Reffert (2023, A&A 673, A114) member table. VizieR TAP table names are the catalogue
#: identifier plus the ReadMe file name without extension, quoted in ADQL because of the slashes
#: (``"J/A+A/673/A114/members"`` is queried this way by several public scripts).
MEMBERS_TABLE = "J/A+A/673/A114/members"
#: Hunt & Reffert (2024, A&A 686, A42) cleaned cluster catalogue (ReadMe file ``clusters.dat``,
#: 7167 rows; columns Name, Type, N, dist50, logAge50, AV50 per its byte-by-byte description).
CLUSTERS_TABLE = "J/A+A/686/A42/clusters"
#: SEIP Source List at IRSA (documented table name; astroquery's remote tests list 203 columns).
SEIP_TABLE = "slphotdr4"
#: AllWISE Source Catalog at IRSA.
ALLWISE_TABLE = "allwise_p3as_psd"

#: Member columns -> output names. ``Name``, ``GaiaDR3``, ``Prob``, ``RA_ICRS``, ``DE_ICRS`` and
#: ``Gmag`` are the names public VizieR-TAP scripts select from ``J/A+A/673/A114/members``
#: (VizieR renames the ReadMe's RAdeg/DEdeg to RA_ICRS/DE_ICRS). ``recno`` is VizieR's record
#: number, present in every VizieR TAP table and used here for keyset pagination.
MEMBER_COLUMNS: dict[str, str] = {
    "recno": "hr_recno",
    "Name": "cluster",
    "GaiaDR3": "gaia_dr3_source_id",
    "Prob": "membership_prob",
    "RA_ICRS": "member_ra",
    "DE_ICRS": "member_dec",
    "Gmag": "gaia_g_mag",
}
#: Cluster columns -> output names (labels of the J/A+A/686/A42 ReadMe, byte-by-byte
#: description of clusters.dat). NOT checked against the live TAP schema: VizieR usually keeps
#: ReadMe labels as TAP column names.
CLUSTER_COLUMNS: dict[str, str] = {
    "Name": "cluster",
    "Type": "cluster_type",
    "N": "cluster_n_members",
    "dist50": "cluster_dist_pc",
    "logAge50": "cluster_log_age",
    "AV50": "cluster_av",
}

_WISE = range(1, 5)
#: SEIP ``slphotdr4`` columns kept. Names as documented for the SEIP Source List (column list of
#: the Herschel Extragalactic Legacy Project's mirror of slphotdr4, H-E-L-P/gavo_inputs
#: seip/q.rd, which copies IRSA's descriptions; ``m1_snr`` "Signal to noise ratio for
#: m1_f_psf", ``wise1`` "flux density or 95% upper limit if SNR<2", ``wise_cc_flags``,
#: ``wise_ext_flg``, ``wise#rchi2``, ``wise#m``, ``wise#nm``, ``wise_ra``/``wise_dec`` of the
#: associated WISE source).
SEIP_COLUMNS: tuple[str, ...] = (
    ("objid", "ra", "dec", "l", "b", "nbands")
    + tuple(f"i{i}_{c}" for i in range(1, 5) for c in ("f_ap1", "df_ap1", "snr", "fluxtype"))
    + ("m1_f_psf", "m1_df_psf", "m1_snr", "m1_fluxtype")
    + ("j", "dj", "h", "dh", "k", "dk")
    + ("wise_key", "wise_ra", "wise_dec")
    + tuple(c for i in _WISE for c in (f"wise{i}", f"dwise{i}"))
    + ("wise_cc_flags", "wise_ext_flg", "wise_ph_qual")
    + tuple(f"wise{i}{q}" for q in ("rchi2", "m", "nm") for i in _WISE)
)
#: AllWISE ``allwise_p3as_psd`` columns kept (IRSA names: designation, ra, dec, cc_flags,
#: ext_flg, w#snr as selected by public IRSA TAP scripts; w#mpro, w#sigmpro, w#rchi2, w#m, w#nm
#: per the AllWISE explanatory supplement's column list).
ALLWISE_COLUMNS: tuple[str, ...] = (
    ("designation", "ra", "dec", "cc_flags", "ext_flg")
    + tuple(f"w{i}snr" for i in _WISE)
    + tuple(f"w{i}{c}" for c in ("mpro", "sigmpro", "rchi2", "m", "nm") for i in _WISE)
)

#: Upload column names (kept away from ADQL reserved words such as ``dec``-like identifiers).
_UID, _RA_IN, _DEC_IN = "uid", "ra_in", "dec_in"
_UPLOAD_COLUMNS = (_UID, _RA_IN, _DEC_IN)

#: Column pairs recognised as RA/Dec in a positions file (compared case-insensitively).
RADEC_CANDIDATES: tuple[tuple[str, str], ...] = (
    ("ra", "dec"),
    ("ra_icrs", "de_icrs"),
    ("raj2000", "dej2000"),
    ("radeg", "dedeg"),
    ("ra_deg", "dec_deg"),
    ("_raj2000", "_dej2000"),
)


def default_cache_dir() -> Path:
    """The per-user cache directory used by the command line (``$XDG_CACHE_HOME`` honoured)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "wise2spitzer" / "tap"


@dataclass
class Conf:
    """Configuration of archive access (URLs, tables, limits, timeouts, retries, cache).

    Attributes
    ----------
    vizier_url, irsa_url : str
        TAP base URLs (``/sync`` is appended by pyvo).
    members_table, clusters_table, seip_table, allwise_table : str
        Table names (see the module constants for where they were checked).
    match_radius_arcsec : float
        Cross-match radius for SEIP and AllWISE, in arcsec (paper: 2).
    chunk_size : int
        Rows per uploaded table; keeps each request far below the services' row limits.
    page_size : int
        Rows per page of the VizieR member query.
    maxrec : int
        MAXREC sent with every upload query; a result with QUERY_STATUS OVERFLOW warns.
    timeout : float
        Seconds to wait for a connection or for the next bytes of a response.
    retries : int
        Extra attempts after a transient failure (connection error, timeout, HTTP 5xx/429).
    backoff, max_backoff : float
        The n-th retry waits ``min(max_backoff, backoff * 2**n)`` seconds.
    cache_dir : str or Path or None
        Where finished chunks are stored; None disables the cache (nothing resumes).
    """

    vizier_url: str = VIZIER_TAP_URL
    irsa_url: str = IRSA_TAP_URL
    members_table: str = MEMBERS_TABLE
    clusters_table: str = CLUSTERS_TABLE
    seip_table: str = SEIP_TABLE
    allwise_table: str = ALLWISE_TABLE
    match_radius_arcsec: float = 2.0
    chunk_size: int = 5000
    page_size: int = 200_000
    maxrec: int = 1_000_000
    timeout: float = 300.0
    retries: int = 4
    backoff: float = 2.0
    max_backoff: float = 60.0
    cache_dir: str | Path | None = None

    def __post_init__(self) -> None:
        for name in ("chunk_size", "page_size", "maxrec"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer; got {value!r}")
        for name in ("match_radius_arcsec", "timeout"):
            value = getattr(self, name)
            if not np.isfinite(value) or value <= 0:
                raise ValueError(f"{name} must be a positive number; got {value!r}")
        if not isinstance(self.retries, (int, np.integer)) or self.retries < 0:
            raise ValueError(f"retries must be an integer >= 0; got {self.retries!r}")
        if self.backoff < 0 or self.max_backoff < 0:
            raise ValueError(
                f"backoff and max_backoff must be >= 0; got {self.backoff!r}, {self.max_backoff!r}"
            )

    def replace(self, **changes: Any) -> Conf:
        """A copy with ``changes`` applied (validated again)."""
        return dataclasses.replace(self, **changes)


#: The default configuration; pass ``conf=Conf(...)`` (or ``conf.replace(...)``) to override.
conf = Conf()


@dataclass(frozen=True)
class Upload:
    """Description of one table uploaded with a query (what ``--dry-run`` prints).

    ``n_rows`` is None when it is only known at run time (it depends on an earlier step).
    """

    name: str
    columns: tuple[str, ...]
    n_rows: int | None


@dataclass(frozen=True)
class Query:
    """One TAP request: the service, the ADQL, the uploads and a note on how it is repeated."""

    step: str
    service: str
    adql: str
    uploads: tuple[Upload, ...] = ()
    note: str = ""


def format_queries(queries: Sequence[Query]) -> str:
    """Render queries as the text ``wise2spitzer fetch --dry-run`` prints."""
    out: list[str] = []
    for i, q in enumerate(queries, 1):
        out.append(f"-- [{i}] {q.step}: {q.service}/sync (REQUEST=doQuery, LANG=ADQL)")
        for u in q.uploads:
            rows = "rows known at run time" if u.n_rows is None else f"{u.n_rows} rows"
            out.append(
                f"--     UPLOAD {u.name}: TAP_UPLOAD.{u.name}, {rows}, "
                f"columns {', '.join(u.columns)}"
            )
        if q.note:
            out.append(f"--     {q.note}")
        out.append(q.adql.rstrip() + ";")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


# --------------------------------------------------------------------------------------------
# ADQL builders (pure functions: tested without any network)
# --------------------------------------------------------------------------------------------


def _adql_string(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _cluster_names(clusters: Iterable[str] | str | None) -> tuple[str, ...] | None:
    """Normalise user cluster names to Hunt & Reffert's (spaces become underscores)."""
    if clusters is None:
        return None
    if isinstance(clusters, str):
        clusters = clusters.split(",")
    names = tuple(dict.fromkeys(re.sub(r"\s+", "_", c.strip()) for c in clusters if c.strip()))
    if not names:
        raise ValueError("clusters must name at least one cluster (e.g. 'IC 348'); got none")
    return names


def _check_prob(min_prob: float) -> float:
    p = float(min_prob)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"min_prob must be a membership probability in [0, 1]; got {min_prob!r}")
    return p


def members_query(
    *,
    min_prob: float = 0.5,
    clusters: Iterable[str] | str | None = None,
    after_recno: int = 0,
    page_size: int = conf.page_size,
    table: str = MEMBERS_TABLE,
) -> str:
    """ADQL for one page of Hunt & Reffert members (keyset pagination on ``recno``)."""
    p = _check_prob(min_prob)
    names = _cluster_names(clusters)
    where = [f"Prob >= {p:g}", f"recno > {int(after_recno)}"]
    if names:
        where.append(f"Name IN ({', '.join(_adql_string(n) for n in names)})")
    return (
        f"SELECT TOP {int(page_size)} {', '.join(MEMBER_COLUMNS)}\n"
        f'FROM "{table}"\n'
        f"WHERE {' AND '.join(where)}\n"
        "ORDER BY recno"
    )


def clusters_query(
    *, clusters: Iterable[str] | str | None = None, table: str = CLUSTERS_TABLE
) -> str:
    """ADQL for the cluster properties (all 7167 clusters, or the named ones)."""
    names = _cluster_names(clusters)
    adql = f'SELECT {", ".join(CLUSTER_COLUMNS)}\nFROM "{table}"'
    if names:
        adql += f"\nWHERE Name IN ({', '.join(_adql_string(n) for n in names)})"
    return adql


def _crossmatch_query(
    table: str, alias: str, columns: Sequence[str], upload: str, radius_arcsec: float
) -> str:
    cols = textwrap.fill(
        ", ".join([f"u.{_UID}", *(f"{alias}.{c}" for c in columns)]),
        width=96,
        initial_indent="SELECT ",
        subsequent_indent="       ",
        break_on_hyphens=False,
    )
    return (
        f"{cols}\n"
        f"FROM {table} AS {alias}, TAP_UPLOAD.{upload} AS u\n"
        f"WHERE CONTAINS(POINT('ICRS', {alias}.ra, {alias}.dec),\n"
        f"               CIRCLE('ICRS', u.{_RA_IN}, u.{_DEC_IN}, "
        f"{radius_arcsec / 3600.0:.10f})) = 1"
    )


def seip_query(
    *, upload: str = "members", radius_arcsec: float = 2.0, table: str = SEIP_TABLE
) -> str:
    """ADQL matching the uploaded positions to the SEIP Source List within ``radius_arcsec``."""
    return _crossmatch_query(table, "s", SEIP_COLUMNS, upload, radius_arcsec)


def allwise_query(
    *, upload: str = "counterparts", radius_arcsec: float = 2.0, table: str = ALLWISE_TABLE
) -> str:
    """ADQL matching the uploaded positions to AllWISE within ``radius_arcsec``."""
    return _crossmatch_query(table, "a", ALLWISE_COLUMNS, upload, radius_arcsec)


# --------------------------------------------------------------------------------------------
# The TAP client: lazy services, timeouts, retries with backoff, overflow warnings, cache
# --------------------------------------------------------------------------------------------


def _import_archive_deps():
    try:
        import pyvo  # noqa: F401
        import requests  # noqa: F401
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise FetchError(
            f"archive access needs pyvo and requests ({exc}); "
            "install them with: pip install 'wise2spitzer[archive]'"
        ) from None


def _make_session(timeout: float):
    """A requests session that applies ``timeout`` to every request pyvo sends."""
    import requests
    from pyvo.utils import http as pyvo_http

    from . import __version__

    class _TimeoutSession(requests.Session):
        def request(self, method, url, **kwargs):
            if kwargs.get("timeout") is None:
                kwargs["timeout"] = timeout
            return super().request(method, url, **kwargs)

    session = _TimeoutSession()
    session.headers["User-Agent"] = f"wise2spitzer/{__version__} {pyvo_http.USER_AGENT}"
    return session


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


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
                    result = service.run_sync(adql, uploads=uploads or None, maxrec=maxrec)
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
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp")
    os.close(fd)
    try:
        # Keep only the query status: VOTable metadata does not round-trip through ECSV.
        out = table.copy(copy_data=False)
        out.meta = {"QUERY_STATUS": table.meta.get("QUERY_STATUS", "OK")}
        out.write(tmp, format="ascii.ecsv", overwrite=True)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _archive(archive: Archive | None, conf_: Conf | None) -> Archive:
    if archive is not None:
        return archive
    return Archive(conf=conf_ if conf_ is not None else conf)


def _to_frame(table) -> pd.DataFrame:
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
                for v, m in zip(np.asarray(col, dtype=object), mask)
            ]
            df[name] = pd.Series(values, index=df.index, dtype=object)
    return df


# --------------------------------------------------------------------------------------------
# Step 1: cluster members
# --------------------------------------------------------------------------------------------


def fetch_members(
    *,
    min_prob: float = 0.5,
    clusters: Iterable[str] | str | None = None,
    conf: Conf | None = None,
    archive: Archive | None = None,
    dry_run: bool = False,
) -> pd.DataFrame | list[Query]:
    """Hunt & Reffert cluster members with membership probability >= ``min_prob``.

    Parameters
    ----------
    min_prob : float, default 0.5
        Minimum membership probability (``Prob``).
    clusters : str or iterable of str, optional
        Cluster names (``"IC 348"`` or ``"IC_348"``); all clusters by default.
    conf : Conf, optional
        Configuration (module default :data:`conf`).
    archive : Archive, optional
        A client to reuse (its counters and cache); built from ``conf`` otherwise.
    dry_run : bool, default False
        Return the queries instead of sending them.

    Returns
    -------
    pandas.DataFrame or list of Query
        One row per member: ``cluster``, ``gaia_dr3_source_id``, ``membership_prob``,
        ``member_ra``, ``member_dec``, ``gaia_g_mag``, ``hr_recno`` and the cluster properties
        (``cluster_type``, ``cluster_dist_pc``, ...).

    Raises
    ------
    FetchError
        A named cluster is not in the cluster catalogue, or the service fails.
    """
    cfg = archive.conf if archive is not None else (conf or globals()["conf"])
    names = _cluster_names(clusters)
    _check_prob(min_prob)
    q_clusters = clusters_query(clusters=names, table=cfg.clusters_table)
    q_first = members_query(
        min_prob=min_prob, clusters=names, page_size=cfg.page_size, table=cfg.members_table
    )
    if dry_run:
        return [
            Query("cluster properties", cfg.vizier_url, q_clusters),
            Query(
                "cluster members",
                cfg.vizier_url,
                q_first,
                note=(
                    f"repeated with recno > (last recno of the previous page) until a page "
                    f"returns fewer than {cfg.page_size} rows"
                ),
            ),
        ]
    arch = _archive(archive, cfg)
    cl = _to_frame(arch.run(cfg.vizier_url, q_clusters, maxrec=20_000, label="cluster query"))
    cl = cl.rename(columns=CLUSTER_COLUMNS)
    if names:
        missing = sorted(set(names) - set(cl["cluster"].astype(str)))
        if missing:
            raise FetchError(
                f"clusters {missing} are not in {cfg.clusters_table} (names use underscores, "
                "e.g. 'IC_348', 'Melotte_22', 'NGC_2682')"
            )
    pages = []
    after = 0
    page_no = 0
    while True:
        page_no += 1
        adql = members_query(
            min_prob=min_prob,
            clusters=names,
            after_recno=after,
            page_size=cfg.page_size,
            table=cfg.members_table,
        )
        # A page cut short by a service limit loses nothing: the next page starts after the
        # last recno received, so truncation is not an error here.
        t = arch.run(
            cfg.vizier_url,
            adql,
            maxrec=cfg.page_size,
            label=f"member page {page_no}",
            overflow="ignore",
        )
        if len(t) == 0:
            break
        pages.append(_to_frame(t))
        after = int(np.max(np.asarray(t["recno"])))
        if len(t) < cfg.page_size and t.meta.get("QUERY_STATUS") != "OVERFLOW":
            break
    cols = list(MEMBER_COLUMNS)
    members = pd.concat(pages, ignore_index=True) if pages else pd.DataFrame(columns=cols)
    members = members.rename(columns=MEMBER_COLUMNS)
    members = members.drop_duplicates("hr_recno", ignore_index=True)
    members = members.merge(cl, on="cluster", how="left", validate="many_to_one")
    if "gaia_g_mag" in members:
        g = pd.to_numeric(members["gaia_g_mag"], errors="coerce").to_numpy(float)
        members[BANDS["G"].column] = mag_to_ujy(g, "G")
    return members


# --------------------------------------------------------------------------------------------
# Steps 2 and 3: uploads matched to SEIP and AllWISE
# --------------------------------------------------------------------------------------------


def _upload_table(uid, ra, dec):
    from astropy.table import Table

    return Table(
        {
            _UID: np.asarray(uid, dtype=np.int64),
            _RA_IN: np.asarray(ra, dtype=float),
            _DEC_IN: np.asarray(dec, dtype=float),
        }
    )


def _crossmatch(
    arch: Archive,
    *,
    url: str,
    adql: str,
    upload_name: str,
    uid,
    ra,
    dec,
    step: str,
) -> pd.DataFrame:
    """Upload positions in chunks, run ``adql`` for each, return every match with its uid."""
    n = len(uid)
    size = arch.conf.chunk_size
    frames = []
    n_chunks = max(1, -(-n // size))
    for k in range(n_chunks):
        sl = slice(k * size, (k + 1) * size)
        table = _upload_table(uid[sl], ra[sl], dec[sl])
        if len(table) == 0:
            continue
        t = arch.run(
            url,
            adql,
            uploads={upload_name: table},
            maxrec=arch.conf.maxrec,
            label=f"{step} chunk {k + 1}/{n_chunks}",
        )
        frames.append(_to_frame(t))
    if not frames:
        return pd.DataFrame(columns=[_UID])
    return pd.concat(frames, ignore_index=True)


def _nearest(matches: pd.DataFrame, ra_in, dec_in, *, ra_col: str, dec_col: str) -> pd.DataFrame:
    """Keep the nearest match per uploaded row; add its separation in arcsec."""
    from astropy.coordinates import SkyCoord

    if len(matches) == 0:
        out = matches.copy()
        out["sep_arcsec"] = pd.Series(dtype=float)
        return out
    uid = matches[_UID].to_numpy(np.int64)
    c_in = SkyCoord(np.asarray(ra_in)[uid], np.asarray(dec_in)[uid], unit="deg")
    c_m = SkyCoord(matches[ra_col].to_numpy(float), matches[dec_col].to_numpy(float), unit="deg")
    out = matches.copy()
    out["sep_arcsec"] = c_in.separation(c_m).arcsec
    out = out.sort_values([_UID, "sep_arcsec"], kind="stable")
    return out.drop_duplicates(_UID, keep="first").reset_index(drop=True)


def _positions_arrays(df: pd.DataFrame, ra_column: str, dec_column: str):
    for c in (ra_column, dec_column):
        if c not in df.columns:
            raise CatalogError(f"positions: column {c!r} not found; columns are {list(df.columns)}")
    ra = pd.to_numeric(df[ra_column], errors="coerce").to_numpy(float)
    dec = pd.to_numeric(df[dec_column], errors="coerce").to_numpy(float)
    bad = ~np.isfinite(ra) | ~np.isfinite(dec) | (dec < -90) | (dec > 90)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise CatalogError(
            f"positions: {int(bad.sum())} rows have no valid position in columns "
            f"{ra_column!r}/{dec_column!r} (degrees, -90 <= dec <= 90); first is row {i}: "
            f"{df[ra_column].iloc[i]}, {df[dec_column].iloc[i]}"
        )
    return ra % 360.0, dec


def _seip_queries(cfg: Conf, upload: str, n_rows: int | None) -> Query:
    chunks = "" if n_rows is None else f" ({max(1, -(-n_rows // cfg.chunk_size))} chunks)"
    return Query(
        "SEIP Source List cross-match",
        cfg.irsa_url,
        seip_query(upload=upload, radius_arcsec=cfg.match_radius_arcsec, table=cfg.seip_table),
        uploads=(Upload(upload, _UPLOAD_COLUMNS, n_rows),),
        note=(
            f"sent once per chunk of at most {cfg.chunk_size} uploaded rows{chunks}, "
            f"MAXREC={cfg.maxrec}; nearest match kept per row"
        ),
    )


def _allwise_queries(cfg: Conf, n_rows: int | None) -> Query:
    return Query(
        "AllWISE counterparts",
        cfg.irsa_url,
        allwise_query(
            upload="counterparts", radius_arcsec=cfg.match_radius_arcsec, table=cfg.allwise_table
        ),
        uploads=(Upload("counterparts", _UPLOAD_COLUMNS, n_rows),),
        note=(
            f"sent once per chunk of at most {cfg.chunk_size} rows, at the SEIP WISE position "
            "(wise_ra, wise_dec) where SEIP has one, else at the source position"
        ),
    )


def fetch_seip(
    positions: pd.DataFrame,
    *,
    ra_column: str = "ra",
    dec_column: str = "dec",
    upload_name: str = "members",
    conf: Conf | None = None,
    archive: Archive | None = None,
    dry_run: bool = False,
) -> pd.DataFrame | list[Query]:
    """Nearest SEIP Source List source within ``conf.match_radius_arcsec`` of every position.

    Returns
    -------
    pandas.DataFrame or list of Query
        One row per matched input row: ``input_index`` (position in ``positions``), the SEIP
        columns (:data:`SEIP_COLUMNS`) and ``seip_sep_arcsec``.
    """
    cfg = archive.conf if archive is not None else (conf or globals()["conf"])
    if dry_run:
        return [_seip_queries(cfg, upload_name, len(positions))]
    ra, dec = _positions_arrays(positions, ra_column, dec_column)
    arch = _archive(archive, cfg)
    uid = np.arange(len(positions), dtype=np.int64)
    matches = _crossmatch(
        arch,
        url=cfg.irsa_url,
        adql=seip_query(
            upload=upload_name, radius_arcsec=cfg.match_radius_arcsec, table=cfg.seip_table
        ),
        upload_name=upload_name,
        uid=uid,
        ra=ra,
        dec=dec,
        step="SEIP",
    )
    if len(matches) == 0:
        return pd.DataFrame(columns=["input_index", *SEIP_COLUMNS, "seip_sep_arcsec"])
    best = _nearest(matches, ra, dec, ra_col="ra", dec_col="dec")
    return best.rename(columns={_UID: "input_index", "sep_arcsec": "seip_sep_arcsec"})


def fetch_allwise(
    positions: pd.DataFrame,
    *,
    ra_column: str = "ra",
    dec_column: str = "dec",
    conf: Conf | None = None,
    archive: Archive | None = None,
    dry_run: bool = False,
) -> pd.DataFrame | list[Query]:
    """Nearest AllWISE source within ``conf.match_radius_arcsec`` of every position.

    Returns
    -------
    pandas.DataFrame or list of Query
        One row per matched input row: ``input_index`` and the AllWISE columns prefixed with
        ``allwise_`` (``allwise_cc_flags``, ``allwise_w4snr``, ...) plus ``allwise_sep_arcsec``.
    """
    cfg = archive.conf if archive is not None else (conf or globals()["conf"])
    if dry_run:
        return [_allwise_queries(cfg, len(positions))]
    ra, dec = _positions_arrays(positions, ra_column, dec_column)
    arch = _archive(archive, cfg)
    uid = np.arange(len(positions), dtype=np.int64)
    matches = _crossmatch(
        arch,
        url=cfg.irsa_url,
        adql=allwise_query(
            upload="counterparts", radius_arcsec=cfg.match_radius_arcsec, table=cfg.allwise_table
        ),
        upload_name="counterparts",
        uid=uid,
        ra=ra,
        dec=dec,
        step="AllWISE",
    )
    cols = ["input_index", *(f"allwise_{c}" for c in ALLWISE_COLUMNS), "allwise_sep_arcsec"]
    if len(matches) == 0:
        return pd.DataFrame(columns=cols)
    best = _nearest(matches, ra, dec, ra_col="ra", dec_col="dec")
    best = best.rename(columns={c: f"allwise_{c}" for c in [*ALLWISE_COLUMNS, "sep_arcsec"]})
    return best.rename(columns={_UID: "input_index"})


def _merge_allwise(df: pd.DataFrame, aw: pd.DataFrame) -> pd.DataFrame:
    """Add AllWISE flags/SNR; fill SEIP WISE columns where SEIP has none (converted to uJy)."""
    out = df.copy()
    aw = aw.set_index("input_index")
    idx = np.arange(len(out))

    def col(name: str) -> pd.Series:
        s = aw[name] if name in aw.columns else pd.Series(dtype=float)
        return s.reindex(idx).reset_index(drop=True)

    out["allwise_designation"] = col("allwise_designation").astype(object)
    out["allwise_sep_arcsec"] = col("allwise_sep_arcsec").astype(float)
    for i in _WISE:
        out[f"w{i}snr"] = pd.to_numeric(col(f"allwise_w{i}snr"), errors="coerce").astype(float)

    # cc_flags / ext_flg: AllWISE first (the paper's clean sample uses AllWISE's), SEIP's
    # wise_cc_flags / wise_ext_flg where AllWISE has no counterpart.
    cc = col("allwise_cc_flags").astype(object)
    seip_cc = out["wise_cc_flags"] if "wise_cc_flags" in out else pd.Series([None] * len(out))
    out["cc_flags"] = cc.where(cc.notna(), seip_cc.reset_index(drop=True).astype(object))
    ext = pd.to_numeric(col("allwise_ext_flg"), errors="coerce")
    seip_ext = pd.to_numeric(
        out["wise_ext_flg"] if "wise_ext_flg" in out else pd.Series([np.nan] * len(out)),
        errors="coerce",
    ).reset_index(drop=True)
    out["ext_flg"] = ext.where(ext.notna(), seip_ext).astype("Int64")

    # Photometry and quality: SEIP's values, AllWISE's where SEIP has no WISE association.
    has_seip = np.zeros(len(out), bool)
    for i in _WISE:
        if f"wise{i}" in out:
            has_seip |= np.isfinite(pd.to_numeric(out[f"wise{i}"], errors="coerce").to_numpy(float))
    source = np.where(has_seip, "seip", "").astype(object)
    for i in _WISE:
        band = f"W{i}"
        mag = pd.to_numeric(col(f"allwise_w{i}mpro"), errors="coerce").to_numpy(float)
        sig = pd.to_numeric(col(f"allwise_w{i}sigmpro"), errors="coerce").to_numpy(float)
        flux = mag_to_ujy(mag, band)
        fills = {
            f"wise{i}": flux,
            f"dwise{i}": mag_err_to_ujy(flux, sig),
            f"wise{i}rchi2": pd.to_numeric(col(f"allwise_w{i}rchi2"), errors="coerce"),
            f"wise{i}m": pd.to_numeric(col(f"allwise_w{i}m"), errors="coerce"),
            f"wise{i}nm": pd.to_numeric(col(f"allwise_w{i}nm"), errors="coerce"),
        }
        for name, values in fills.items():
            values = np.asarray(values, dtype=float)
            current = (
                pd.to_numeric(out[name], errors="coerce").to_numpy(float)
                if name in out
                else np.full(len(out), np.nan)
            )
            take = ~np.isfinite(current) & np.isfinite(values)
            if name == f"wise{i}":
                source[take & (source == "")] = "allwise"
            out[name] = np.where(take, values, current)
    out["wise_phot_source"] = source
    return out


def _wise_positions(df: pd.DataFrame) -> pd.DataFrame:
    """Where to look for AllWISE: SEIP's WISE position when it has one, else ``ra``/``dec``."""
    ra = pd.to_numeric(df.get("wise_ra"), errors="coerce") if "wise_ra" in df else None
    dec = pd.to_numeric(df.get("wise_dec"), errors="coerce") if "wise_dec" in df else None
    base_ra = pd.to_numeric(df["ra"], errors="coerce").to_numpy(float)
    base_dec = pd.to_numeric(df["dec"], errors="coerce").to_numpy(float)
    if ra is not None and dec is not None:
        ok = np.isfinite(ra.to_numpy(float)) & np.isfinite(dec.to_numpy(float))
        base_ra = np.where(ok, ra.to_numpy(float), base_ra)
        base_dec = np.where(ok, dec.to_numpy(float), base_dec)
    return pd.DataFrame({"ra": base_ra, "dec": base_dec})


def _provenance(cfg: Conf, arch: Archive, queries: list[Query], counts: dict) -> dict:
    import astropy

    try:
        import pyvo

        pyvo_version = pyvo.__version__
    except ImportError:  # pragma: no cover
        pyvo_version = "not installed"
    from . import __version__

    meta: dict[str, Any] = {
        "fetch_tool": f"wise2spitzer {__version__} fetch (pyvo {pyvo_version}, "
        f"astropy {astropy.__version__})",
        "fetch_date": datetime.now(UTC).isoformat(timespec="seconds"),
        "vizier_tap": cfg.vizier_url,
        "irsa_tap": cfg.irsa_url,
        "match_radius_arcsec": cfg.match_radius_arcsec,
        "chunk_size": cfg.chunk_size,
        "n_requests_sent": arch.n_requests,
        "n_chunks_from_cache": arch.n_cached,
        "truncated_results": "; ".join(arch.truncated) or "none",
    }
    meta.update(counts)
    for i, q in enumerate(queries, 1):
        meta[f"query_{i}"] = f"{q.step} @ {q.service}: {' '.join(q.adql.split())}"
    return meta


def _finish(df: pd.DataFrame, meta: dict, output: str | Path | None) -> pd.DataFrame:
    # Text columns as pandas' string dtype (missing = NA) so every output format can hold them.
    for c in df.columns:
        if df[c].dtype == object:
            values = df[c]
            if values.map(lambda v: v is None or isinstance(v, str)).all():
                df[c] = values.astype("string")
    df.attrs["provenance"] = meta
    if output is not None:
        _write(df, output, meta)
    return df


def _write(df: pd.DataFrame, path: str | Path, meta: dict) -> None:
    from .catalog import infer_format, write_catalog

    if infer_format(path) == "fits":
        # FITS has no null for text (and catalog.write_catalog rejects NA in a text column):
        # an empty string is FITS's usual missing text.
        df = df.copy()
        for c in df.columns:
            if pd.api.types.is_string_dtype(df[c].dtype) and df[c].isna().any():
                df[c] = df[c].fillna("")
    write_catalog(df, path, meta=meta)


def fetch_sample(
    *,
    min_prob: float = 0.5,
    clusters: Iterable[str] | str | None = None,
    conf: Conf | None = None,
    archive: Archive | None = None,
    output: str | Path | None = None,
    dry_run: bool = False,
) -> pd.DataFrame | list[Query]:
    """Build the paper's sample: Hunt & Reffert members x SEIP x AllWISE.

    Parameters
    ----------
    min_prob : float, default 0.5
        Minimum membership probability.
    clusters : str or iterable of str, optional
        Restrict to these clusters (all by default).
    conf : Conf, optional
        URLs, chunk size, timeouts, retries, cache directory.
    archive : Archive, optional
        A client to reuse.
    output : path, optional
        Also write the catalogue there (format from the extension) with its provenance.
    dry_run : bool, default False
        Return the queries (:class:`Query`) instead of sending them.

    Returns
    -------
    pandas.DataFrame or list of Query
        One row per member with a SEIP source within the match radius: member columns, SEIP
        columns (SEIP names, uJy), ``seip_sep_arcsec``, ``cc_flags``, ``ext_flg``,
        ``w1snr..w4snr``, ``allwise_designation``. ``df.attrs["provenance"]`` holds the
        queries, service URLs, date and row counts.
    """
    cfg = archive.conf if archive is not None else (conf or globals()["conf"])
    queries = [
        *fetch_members(min_prob=min_prob, clusters=clusters, conf=cfg, dry_run=True),
        _seip_queries(cfg, "members", None),
        _allwise_queries(cfg, None),
    ]
    if dry_run:
        return queries
    arch = _archive(archive, cfg)
    members = fetch_members(min_prob=min_prob, clusters=clusters, archive=arch)
    seip = fetch_seip(
        members,
        ra_column="member_ra",
        dec_column="member_dec",
        upload_name="members",
        archive=arch,
    )
    seip = seip.sort_values("seip_sep_arcsec", kind="stable")
    # One SEIP source matched by two members keeps only the closer member (ids stay unique).
    n_seip_matches = len(seip)
    seip = seip.drop_duplicates("objid", keep="first").sort_values("input_index")
    df = (
        members.iloc[seip["input_index"].to_numpy(int)]
        .reset_index(drop=True)
        .join(seip.drop(columns="input_index").reset_index(drop=True))
    )
    aw = fetch_allwise(_wise_positions(df), archive=arch)
    df = _merge_allwise(df, aw)
    df = df.rename(columns={"l": "glon", "b": "glat"})
    meta = _provenance(
        cfg,
        arch,
        queries,
        {
            "members_table": cfg.members_table,
            "clusters_table": cfg.clusters_table,
            "min_prob": float(min_prob),
            "clusters": ",".join(_cluster_names(clusters) or ()) or "all",
            "n_members": len(members),
            "n_seip_matches": n_seip_matches,
            "n_seip_duplicates_dropped": n_seip_matches - len(seip),
            "n_allwise_matches": len(aw),
            "n_rows": len(df),
        },
    )
    return _finish(df, meta, output)


def find_radec_columns(
    df: pd.DataFrame, *, ra_column: str | None = None, dec_column: str | None = None
) -> tuple[str, str]:
    """Find the RA/Dec columns of a positions table (case-insensitive; see RADEC_CANDIDATES).

    Raises
    ------
    CatalogError
        Naming the columns tried and the columns present.
    """
    lower = {str(c).lower(): c for c in df.columns}
    if ra_column is not None or dec_column is not None:
        if ra_column is None or dec_column is None:
            raise CatalogError("positions: give both ra_column and dec_column, or neither")
        found = []
        for c in (ra_column, dec_column):
            if c in df.columns:
                found.append(c)
            elif c.lower() in lower:
                found.append(lower[c.lower()])
            else:
                raise CatalogError(
                    f"positions: column {c!r} not found; columns are {list(df.columns)}"
                )
        return found[0], found[1]
    for ra, dec in RADEC_CANDIDATES:
        if ra in lower and dec in lower:
            return lower[ra], lower[dec]
    tried = ", ".join(f"{r}/{d}" for r, d in RADEC_CANDIDATES)
    raise CatalogError(
        f"positions: no RA/Dec columns found (tried {tried}, any case); columns are "
        f"{list(df.columns)}; name them with --ra-column/--dec-column"
    )


def read_positions(
    path: str | Path, *, ra_column: str | None = None, dec_column: str | None = None
) -> tuple[pd.DataFrame, str, str]:
    """Read a positions file (any catalogue format) and find its RA/Dec columns."""
    from .catalog import read_catalog

    df = read_catalog(path)
    ra, dec = find_radec_columns(df, ra_column=ra_column, dec_column=dec_column)
    return df, ra, dec


def fetch_positions(
    positions: pd.DataFrame | str | Path,
    *,
    ra_column: str | None = None,
    dec_column: str | None = None,
    conf: Conf | None = None,
    archive: Archive | None = None,
    output: str | Path | None = None,
    dry_run: bool = False,
) -> pd.DataFrame | list[Query]:
    """SEIP and AllWISE photometry for a user's own positions (e.g. the members of IC 348).

    Every input row is kept, in order, with its columns (a column whose name SEIP also uses gets
    the suffix ``_input``). Rows with a SEIP source get SEIP's columns; rows without one get the
    AllWISE profile-fit photometry converted to SEIP's columns (``wise1..4`` in uJy,
    ``wise#rchi2``, ``wise#m``, ``wise#nm``), so that ``predict`` can use them.
    ``wise_phot_source`` says which (``seip``, ``allwise`` or empty); ``ra``/``dec`` are SEIP's
    position where matched, else the input position.

    Parameters
    ----------
    positions : DataFrame or path
        The positions (degrees, ICRS).
    ra_column, dec_column : str, optional
        Column names; detected case-insensitively otherwise (ra/dec, RA_ICRS/DE_ICRS,
        RAJ2000/DEJ2000, ...).
    conf, archive, output, dry_run
        As in :func:`fetch_sample`.
    """
    cfg = archive.conf if archive is not None else (conf or globals()["conf"])
    if isinstance(positions, (str, Path)):
        df_in, ra_c, dec_c = read_positions(positions, ra_column=ra_column, dec_column=dec_column)
    else:
        df_in = positions
        ra_c, dec_c = find_radec_columns(df_in, ra_column=ra_column, dec_column=dec_column)
    if len(df_in) == 0:
        raise CatalogError("positions: the table has no rows")
    ra, dec = _positions_arrays(df_in, ra_c, dec_c)
    queries = [_seip_queries(cfg, "positions", len(df_in)), _allwise_queries(cfg, len(df_in))]
    if dry_run:
        return queries
    arch = _archive(archive, cfg)
    pos = pd.DataFrame({"ra": ra, "dec": dec})
    seip = fetch_seip(pos, upload_name="positions", archive=arch)
    base = df_in.reset_index(drop=True).copy()
    clash = set(base.columns) & (set(SEIP_COLUMNS) | {"seip_sep_arcsec", "glon", "glat"})
    base = base.rename(columns={c: f"{c}_input" for c in clash})
    seip_full = (
        seip.set_index("input_index").reindex(np.arange(len(base))).reset_index(drop=True)
        if len(seip)
        else pd.DataFrame(index=np.arange(len(base)), columns=[*SEIP_COLUMNS, "seip_sep_arcsec"])
    )
    df = base.join(seip_full)
    df["ra"] = pd.to_numeric(df["ra"], errors="coerce").fillna(pd.Series(ra)).astype(float)
    df["dec"] = pd.to_numeric(df["dec"], errors="coerce").fillna(pd.Series(dec)).astype(float)
    aw = fetch_allwise(_wise_positions(df), archive=arch)
    df = _merge_allwise(df, aw)
    df = df.rename(columns={"l": "glon", "b": "glat"})
    meta = _provenance(
        cfg,
        arch,
        queries,
        {
            "positions": str(positions) if isinstance(positions, (str, Path)) else "<table>",
            "positions_columns": f"{ra_c},{dec_c}",
            "n_positions": len(df_in),
            "n_seip_matches": len(seip),
            "n_allwise_matches": len(aw),
            "n_rows": len(df),
        },
    )
    return _finish(df, meta, output)
