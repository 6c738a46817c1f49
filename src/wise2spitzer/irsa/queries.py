"""TAP requests as data: the ADQL builders and what ``wise2spitzer fetch --dry-run`` prints.

Pure functions, tested without any network: :func:`members_query`, :func:`clusters_query`,
:func:`seip_query` and :func:`allwise_query` build the ADQL; :class:`Query` and
:class:`Upload` describe a request (service, ADQL, uploaded tables) and
:func:`format_queries` renders them.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .config import (
    ALLWISE_COLUMNS,
    ALLWISE_TABLE,
    CLUSTER_COLUMNS,
    CLUSTERS_TABLE,
    MEMBER_COLUMNS,
    MEMBERS_TABLE,
    SEIP_COLUMNS,
    SEIP_TABLE,
    Conf,
    conf,
)

__all__ = [
    "UPLOAD_COLUMNS",
    "UPLOAD_DEC",
    "UPLOAD_RA",
    "UPLOAD_UID",
    "Query",
    "Upload",
    "allwise_queries",
    "allwise_query",
    "check_prob",
    "cluster_names",
    "clusters_query",
    "format_queries",
    "members_query",
    "seip_queries",
    "seip_query",
]

#: Upload column names (kept away from ADQL reserved words such as ``dec``-like identifiers).
UPLOAD_UID, UPLOAD_RA, UPLOAD_DEC = "uid", "ra_in", "dec_in"
UPLOAD_COLUMNS = (UPLOAD_UID, UPLOAD_RA, UPLOAD_DEC)


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


def cluster_names(clusters: Iterable[str] | str | None) -> tuple[str, ...] | None:
    """Normalise user cluster names to Hunt & Reffert's (spaces become underscores)."""
    if clusters is None:
        return None
    if isinstance(clusters, str):
        clusters = clusters.split(",")
    names = tuple(dict.fromkeys(re.sub(r"\s+", "_", c.strip()) for c in clusters if c.strip()))
    if not names:
        raise ValueError("clusters must name at least one cluster (e.g. 'IC 348'); got none")
    return names


def check_prob(min_prob: float) -> float:
    """``min_prob`` as a float in [0, 1] (ValueError naming the value otherwise)."""
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
    p = check_prob(min_prob)
    names = cluster_names(clusters)
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
    names = cluster_names(clusters)
    adql = f'SELECT {", ".join(CLUSTER_COLUMNS)}\nFROM "{table}"'
    if names:
        adql += f"\nWHERE Name IN ({', '.join(_adql_string(n) for n in names)})"
    return adql


def _crossmatch_query(
    table: str, alias: str, columns: Sequence[str], upload: str, radius_arcsec: float
) -> str:
    cols = textwrap.fill(
        ", ".join([f"u.{UPLOAD_UID}", *(f"{alias}.{c}" for c in columns)]),
        width=96,
        initial_indent="SELECT ",
        subsequent_indent="       ",
        break_on_hyphens=False,
    )
    return (
        f"{cols}\n"
        f"FROM {table} AS {alias}, TAP_UPLOAD.{upload} AS u\n"
        f"WHERE CONTAINS(POINT('ICRS', {alias}.ra, {alias}.dec),\n"
        f"               CIRCLE('ICRS', u.{UPLOAD_RA}, u.{UPLOAD_DEC}, "
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


def seip_queries(cfg: Conf, upload: str, n_rows: int | None) -> Query:
    """The SEIP cross-match request of a fetch (``n_rows`` None: known at run time)."""
    chunks = "" if n_rows is None else f" ({max(1, -(-n_rows // cfg.chunk_size))} chunks)"
    return Query(
        "SEIP Source List cross-match",
        cfg.irsa_url,
        seip_query(upload=upload, radius_arcsec=cfg.match_radius_arcsec, table=cfg.seip_table),
        uploads=(Upload(upload, UPLOAD_COLUMNS, n_rows),),
        note=(
            f"sent once per chunk of at most {cfg.chunk_size} uploaded rows{chunks}, "
            f"MAXREC={cfg.maxrec}; nearest match kept per row"
        ),
    )


def allwise_queries(cfg: Conf, n_rows: int | None) -> Query:
    """The AllWISE counterparts request of a fetch (``n_rows`` None: known at run time)."""
    return Query(
        "AllWISE counterparts",
        cfg.irsa_url,
        allwise_query(
            upload="counterparts", radius_arcsec=cfg.match_radius_arcsec, table=cfg.allwise_table
        ),
        uploads=(Upload("counterparts", UPLOAD_COLUMNS, n_rows),),
        note=(
            f"sent once per chunk of at most {cfg.chunk_size} rows, at the SEIP WISE position "
            "(wise_ra, wise_dec) where SEIP has one, else at the source position"
        ),
    )
