"""Archive access: build the paper's sample (or a user's own) from VizieR and IRSA with TAP.

The paper's sample (Fonseca-Bonilla et al. 2024) is the set of open-cluster members of Hunt &
Reffert matched to the Spitzer Enhanced Imaging Products (SEIP) Source List. This package
rebuilds it with pyvo (TAP) and astropy in three steps:

1. cluster members from VizieR (:data:`MEMBERS_TABLE`, cluster properties from
   :data:`CLUSTERS_TABLE`), filtered by membership probability and optional cluster names,
   fetched in keyset-paginated pages (``recno > last ORDER BY recno``);
2. the SEIP Source List (IRSA ``slphotdr4``) within ``match_radius_arcsec`` of every member, by
   uploading the member positions in chunks (``TAP_UPLOAD.members``);
3. AllWISE (IRSA ``allwise_p3as_psd``) ``cc_flags``, ``ext_flg``, ``w1snr..w4snr`` (and the
   profile-fit photometry where SEIP has none) for the WISE counterparts, uploaded again.

:func:`fetch_positions` does steps 2-3 for any list of positions (a user's own stars) and keeps
every input row. Transient failures are retried with exponential backoff by urllib3's ``Retry``
on the session pyvo uses, a whole request is cut off at a deadline, results truncated by a
service limit raise a :class:`pyvo.dal.DALOverflowWarning` naming the chunk, and a cache
directory stores each finished chunk atomically under a hash of its query and upload so an
interrupted fetch resumes without repeating finished chunks. ``progress=`` receives a
:class:`RequestEvent` per request. ``dry_run=True`` returns the queries (:class:`Query`)
instead of sending them. SEIP's integer sentinels (-9, -99, -9999) become missing values;
AllWISE's ``ph_qual`` decides which magnitudes are upper limits.

pyvo and requests are optional (``pip install wise2spitzer[archive]``) and imported only when a
query is actually sent. Services are created lazily, at the first request (astroquery's habit).

Modules: :mod:`~wise2spitzer.irsa.config` (URLs, tables, columns, :class:`Conf`),
:mod:`~wise2spitzer.irsa.queries` (ADQL builders, :class:`Query`),
:mod:`~wise2spitzer.irsa.service` (:class:`Archive`: retries, cache, error classification),
:mod:`~wise2spitzer.irsa.sentinels` (SEIP's "no value" integers),
:mod:`~wise2spitzer.irsa.crossmatch`, :mod:`~wise2spitzer.irsa.positions`,
:mod:`~wise2spitzer.irsa.merge` (AllWISE into SEIP rows) and :mod:`~wise2spitzer.irsa.fetch`
(the ``fetch_*`` functions).
"""

from __future__ import annotations

from .config import (
    ALLWISE_COLUMNS,
    ALLWISE_TABLE,
    CLUSTER_COLUMNS,
    CLUSTERS_TABLE,
    IRSA_TAP_URL,
    MEMBER_COLUMNS,
    MEMBERS_TABLE,
    SEIP_COLUMNS,
    SEIP_INTEGER_COLUMNS,
    SEIP_SENTINELS,
    SEIP_TABLE,
    VIZIER_TAP_URL,
    Conf,
    conf,
    default_cache_dir,
)
from .fetch import fetch_allwise, fetch_members, fetch_positions, fetch_sample, fetch_seip
from .merge import merge_allwise
from .positions import RADEC_CANDIDATES, find_radec_columns, read_positions
from .queries import (
    Query,
    Upload,
    allwise_query,
    clusters_query,
    format_queries,
    members_query,
    seip_query,
)
from .sentinels import null_sentinels
from .service import Archive, RequestEvent

__all__ = [
    "ALLWISE_COLUMNS",
    "ALLWISE_TABLE",
    "CLUSTERS_TABLE",
    "CLUSTER_COLUMNS",
    "IRSA_TAP_URL",
    "MEMBERS_TABLE",
    "MEMBER_COLUMNS",
    "RADEC_CANDIDATES",
    "SEIP_COLUMNS",
    "SEIP_INTEGER_COLUMNS",
    "SEIP_SENTINELS",
    "SEIP_TABLE",
    "VIZIER_TAP_URL",
    "Archive",
    "Conf",
    "Query",
    "RequestEvent",
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
    "merge_allwise",
    "null_sentinels",
    "read_positions",
    "seip_query",
]
