"""Archive configuration: TAP services, tables, columns, limits, timeouts and the cache.

Configuration lives apart from the logic (astroquery's ``Conf`` habit): every URL, table and
column name checked against the services is a constant here, so it can be corrected in one
place, and :class:`Conf` gathers the run-time settings. :data:`conf` is the default; the fetch
functions take ``conf=`` (or an :class:`~wise2spitzer.irsa.service.Archive`) to override it.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "MAX_MATCH_RADIUS_ARCSEC",
    "ALLWISE_COLUMNS",
    "ALLWISE_TABLE",
    "CLUSTERS_TABLE",
    "CLUSTER_COLUMNS",
    "IRSA_TAP_URL",
    "MEMBERS_TABLE",
    "MEMBER_COLUMNS",
    "SEIP_COLUMNS",
    "SEIP_INTEGER_COLUMNS",
    "SEIP_SENTINELS",
    "SEIP_TABLE",
    "VIZIER_TAP_URL",
    "WISE_BANDS",
    "Conf",
    "conf",
    "default_cache_dir",
    "default_conf",
    "resolve_conf",
]

# --------------------------------------------------------------------------------------------
# Services, tables and columns. Where each name was checked is said next to it; names that could
# not be confirmed against the service itself are module-level constants so that they can be
# corrected in one place.
# --------------------------------------------------------------------------------------------

#: VizieR TAP endpoint (CDS), ``https``: CDS redirects the ``http`` form, and a redirected
#: POST loses its uploaded table (requests turns it into a GET; pyvo does not resend it).
#: Public scripts query ``"J/A+A/686/A42/members"`` at this address.
VIZIER_TAP_URL = "https://tapvizier.cds.unistra.fr/TAPVizieR/tap"
#: IRSA TAP endpoint (documented in IRSA's TAP help; used by astroquery.ipac.irsa).
IRSA_TAP_URL = "https://irsa.ipac.caltech.edu/TAP"

#: Hunt & Reffert (2024, A&A 686, A42) member table (ReadMe file ``members.dat``, 1291929
#: rows, the same member list as the 2023 paper J/A+A/673/A114). Members and cluster
#: properties come from the one 2024 catalogue so that every member's cluster name is in the
#: cluster table: a cluster renamed or dropped in 2024 would otherwise lose its properties, and
#: ``--cluster`` would refuse its name. VizieR TAP table names are the catalogue identifier
#: plus the ReadMe file name without extension, quoted in ADQL because of the slashes.
MEMBERS_TABLE = "J/A+A/686/A42/members"
#: Hunt & Reffert (2024, A&A 686, A42) cleaned cluster catalogue (ReadMe file ``clusters.dat``,
#: 7167 rows; columns Name, Type, N, dist50, logAge50, AV50 per its byte-by-byte description).
CLUSTERS_TABLE = "J/A+A/686/A42/clusters"
#: SEIP Source List at IRSA (documented table name; astroquery's remote tests list 203 columns).
SEIP_TABLE = "slphotdr4"
#: AllWISE Source Catalog at IRSA.
ALLWISE_TABLE = "allwise_p3as_psd"

#: Member columns -> output names. ``Name``, ``GaiaDR3``, ``Prob`` and ``Gmag`` are labels of
#: the J/A+A/686/A42 ReadMe (``members.dat``); VizieR serves the ReadMe's RAdeg/DEdeg as
#: ``RA_ICRS``/``DE_ICRS``, the names public scripts select from ``"J/A+A/686/A42/members"``
#: over TAP. ``recno`` is VizieR's record number, present in every VizieR TAP table and used
#: here for keyset pagination.
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

WISE_BANDS = range(1, 5)
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
    + tuple(c for i in WISE_BANDS for c in (f"wise{i}", f"dwise{i}"))
    + ("wise_cc_flags", "wise_ext_flg", "wise_ph_qual")
    + tuple(f"wise{i}{q}" for q in ("rchi2", "m", "nm") for i in WISE_BANDS)
)
#: AllWISE ``allwise_p3as_psd`` columns kept (IRSA names: designation, ra, dec, cc_flags,
#: ext_flg, ph_qual, w#snr as selected by public IRSA TAP scripts; w#mpro, w#sigmpro, w#rchi2,
#: w#m, w#nm per the AllWISE explanatory supplement's column list). ``ph_qual`` tells a 95%
#: upper limit (``U``) from a measurement without an error (``Z``).
ALLWISE_COLUMNS: tuple[str, ...] = (
    ("designation", "ra", "dec", "cc_flags", "ext_flg", "ph_qual")
    + tuple(f"w{i}snr" for i in WISE_BANDS)
    + tuple(f"w{i}{c}" for c in ("mpro", "sigmpro", "rchi2", "m", "nm") for i in WISE_BANDS)
)


#: SEIP integer columns (counts, flags, keys) in :data:`SEIP_COLUMNS`. SEIP may store a
#: sentinel there instead of a null (:data:`SEIP_SENTINELS`); the fetch makes them missing.
SEIP_INTEGER_COLUMNS: tuple[str, ...] = (
    ("nbands", "m1_fluxtype", "wise_key", "wise_ext_flg")
    + tuple(f"i{i}_fluxtype" for i in range(1, 5))
    + tuple(f"wise{i}{q}" for q in ("m", "nm") for i in WISE_BANDS)
)
#: Values SEIP integer columns may hold for "no value".
SEIP_SENTINELS: tuple[int, ...] = (-9, -99, -9999)


def default_cache_dir() -> Path:
    """The per-user cache directory used by the command line (``$XDG_CACHE_HOME`` honoured)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "wise2spitzer" / "tap"


#: Largest cross-match radius accepted (the paper uses 2 arcsec; WISE's PSF is 6-12 arcsec).
MAX_MATCH_RADIUS_ARCSEC = 60.0


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
        Seconds to wait for a connection or for the next bytes, and for a whole answer once
        it has begun: a server that trickles its answer is cut off there. Retries before the
        answer share a budget of ``timeout`` plus twice ``timeout`` and the wait per retry
        (:func:`~wise2spitzer.irsa.service.request_deadline`).
    retries : int
        Extra attempts after a transient failure before the answer starts (connection error,
        timeout, HTTP 5xx/429), made by urllib3's ``Retry`` on the session pyvo uses. An
        answer cut off mid-way is not retried: run the fetch again, the cache resumes it.
    backoff, max_backoff : float
        The first retry is immediate; the n-th (n >= 2) waits
        ``min(max_backoff, backoff * 2**(n - 2))`` seconds (or what ``Retry-After`` asks).
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
        if self.match_radius_arcsec > MAX_MATCH_RADIUS_ARCSEC:
            raise ValueError(
                f"match_radius_arcsec must be at most {MAX_MATCH_RADIUS_ARCSEC:g} arcsec (a "
                f"cross-match, not a cone search); got {self.match_radius_arcsec!r}"
            )
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


def default_conf() -> Conf:
    """The default configuration, looked up at call time.

    ``wise2spitzer.irsa.conf`` may be replaced by a user (``irsa.conf = Conf(...)``); the
    fetch functions then use the replacement, as when the package was one module.
    """
    package = sys.modules.get(__name__.rpartition(".")[0])
    found = getattr(package, "conf", None)
    return found if isinstance(found, Conf) else conf


def resolve_conf(conf_: Conf | None, archive: Any = None) -> Conf:
    """The configuration a fetch uses: the archive's, else ``conf_``, else :func:`default_conf`."""
    if archive is not None:
        return archive.conf
    return conf_ if conf_ is not None else default_conf()
