"""The archive fetches: cluster members, SEIP and AllWISE cross-matches, whole samples.

The paper's sample (Fonseca-Bonilla et al. 2024) is the set of open-cluster members of Hunt &
Reffert matched to the Spitzer Enhanced Imaging Products (SEIP) Source List. It is rebuilt
with pyvo (TAP) and astropy in three steps:

1. cluster members from VizieR (:func:`fetch_members`), filtered by membership probability and
   optional cluster names, fetched in keyset-paginated pages (``recno > last ORDER BY recno``);
2. the SEIP Source List within the match radius of every member (:func:`fetch_seip`), by
   uploading the member positions in chunks (``TAP_UPLOAD.members``);
3. AllWISE flags, SNR and (where SEIP has none) photometry for the WISE counterparts
   (:func:`fetch_allwise`, merged by :func:`~wise2spitzer.irsa.merge.merge_allwise`).

:func:`fetch_sample` runs the three steps; :func:`fetch_positions` runs steps 2-3 for any list
of positions (a user's own stars) and keeps every input row. ``dry_run=True`` returns the
queries (:class:`~wise2spitzer.irsa.queries.Query`) instead of sending them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import CatalogError, FetchError
from ..schema import BANDS, mag_to_ujy
from .config import (
    ALLWISE_COLUMNS,
    CLUSTER_COLUMNS,
    MEMBER_COLUMNS,
    SEIP_COLUMNS,
    Conf,
    resolve_conf,
)
from .crossmatch import crossmatch, nearest
from .merge import merge_allwise
from .positions import find_radec_columns, positions_arrays, read_positions, wise_positions
from .queries import (
    UPLOAD_UID,
    Query,
    allwise_queries,
    allwise_query,
    check_prob,
    cluster_names,
    clusters_query,
    members_query,
    seip_queries,
    seip_query,
)
from .sentinels import null_sentinels
from .service import Archive, RequestEvent, get_archive, result_frame

__all__ = [
    "fetch_allwise",
    "fetch_members",
    "fetch_positions",
    "fetch_sample",
    "fetch_seip",
]


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
    cfg = resolve_conf(conf, archive)
    names = cluster_names(clusters)
    check_prob(min_prob)
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
    arch = get_archive(archive, cfg)
    cl = result_frame(arch.run(cfg.vizier_url, q_clusters, maxrec=20_000, label="cluster query"))
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
        pages.append(result_frame(t))
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
        columns (:data:`SEIP_COLUMNS`) and ``seip_sep_arcsec``. SEIP's integer columns
        (:data:`~wise2spitzer.irsa.config.SEIP_INTEGER_COLUMNS`) are nullable integers whose
        sentinels (-9, -99, -9999) are missing values.
    """
    cfg = resolve_conf(conf, archive)
    if dry_run:
        return [seip_queries(cfg, upload_name, len(positions))]
    ra, dec = positions_arrays(positions, ra_column, dec_column)
    arch = get_archive(archive, cfg)
    uid = np.arange(len(positions), dtype=np.int64)
    matches = crossmatch(
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
    best = null_sentinels(nearest(matches, ra, dec, ra_col="ra", dec_col="dec"))
    return best.rename(columns={UPLOAD_UID: "input_index", "sep_arcsec": "seip_sep_arcsec"})


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
    cfg = resolve_conf(conf, archive)
    if dry_run:
        return [allwise_queries(cfg, len(positions))]
    ra, dec = positions_arrays(positions, ra_column, dec_column)
    arch = get_archive(archive, cfg)
    uid = np.arange(len(positions), dtype=np.int64)
    matches = crossmatch(
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
    best = nearest(matches, ra, dec, ra_col="ra", dec_col="dec")
    best = best.rename(columns={c: f"allwise_{c}" for c in [*ALLWISE_COLUMNS, "sep_arcsec"]})
    return best.rename(columns={UPLOAD_UID: "input_index"})


def _provenance(cfg: Conf, arch: Archive, queries: list[Query], counts: dict) -> dict:
    import astropy

    try:
        import pyvo

        pyvo_version = pyvo.__version__
    except ImportError:  # pragma: no cover
        pyvo_version = "not installed"
    from .. import __version__

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
    from ..catalog import resolve_format, write_catalog

    if resolve_format(path).name == "fits":
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
    progress: Callable[[RequestEvent], None] | None = None,
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
    progress : callable, optional
        Called with a :class:`~wise2spitzer.irsa.service.RequestEvent` before and after each
        request (cluster query, member page, SEIP and AllWISE chunk), e.g. to show progress.

    Returns
    -------
    pandas.DataFrame or list of Query
        One row per member with a SEIP source within the match radius: member columns, SEIP
        columns (SEIP names, uJy), ``seip_sep_arcsec``, ``cc_flags``, ``ext_flg``,
        ``w1snr..w4snr``, ``allwise_designation``. ``df.attrs["provenance"]`` holds the
        queries, service URLs, date and row counts.
    """
    cfg = resolve_conf(conf, archive)
    queries = [
        *fetch_members(min_prob=min_prob, clusters=clusters, conf=cfg, dry_run=True),
        seip_queries(cfg, "members", None),
        allwise_queries(cfg, None),
    ]
    if dry_run:
        return queries
    arch = get_archive(archive, cfg, progress)
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
    aw = fetch_allwise(wise_positions(df), archive=arch)
    df = merge_allwise(df, aw)
    df = df.rename(columns={"l": "glon", "b": "glat"})
    meta = _provenance(
        cfg,
        arch,
        queries,
        {
            "members_table": cfg.members_table,
            "clusters_table": cfg.clusters_table,
            "min_prob": float(min_prob),
            "clusters": ",".join(cluster_names(clusters) or ()) or "all",
            "n_members": len(members),
            "n_seip_matches": n_seip_matches,
            "n_seip_duplicates_dropped": n_seip_matches - len(seip),
            "n_allwise_matches": len(aw),
            "n_rows": len(df),
        },
    )
    return _finish(df, meta, output)


def fetch_positions(
    positions: pd.DataFrame | str | Path,
    *,
    ra_column: str | None = None,
    dec_column: str | None = None,
    conf: Conf | None = None,
    archive: Archive | None = None,
    output: str | Path | None = None,
    dry_run: bool = False,
    progress: Callable[[RequestEvent], None] | None = None,
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
    conf, archive, output, dry_run, progress
        As in :func:`fetch_sample`.
    """
    cfg = resolve_conf(conf, archive)
    if isinstance(positions, (str, Path)):
        df_in, ra_c, dec_c = read_positions(positions, ra_column=ra_column, dec_column=dec_column)
    else:
        df_in = positions
        ra_c, dec_c = find_radec_columns(df_in, ra_column=ra_column, dec_column=dec_column)
    if len(df_in) == 0:
        raise CatalogError("positions: the table has no rows")
    ra, dec = positions_arrays(df_in, ra_c, dec_c)
    queries = [seip_queries(cfg, "positions", len(df_in)), allwise_queries(cfg, len(df_in))]
    if dry_run:
        return queries
    arch = get_archive(archive, cfg, progress)
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
    aw = fetch_allwise(wise_positions(df), archive=arch)
    df = merge_allwise(df, aw)
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
