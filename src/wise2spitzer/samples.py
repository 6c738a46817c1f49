"""Samples of the paper: unclean / clean rows, labelled / unlabelled per target, WISE cuts.

Fonseca-Bonilla et al. (2024) call "unclean" every row with a W4 value (a detection or a 95%
upper limit) and "clean" the unclean rows that AllWISE flags as a point source free of
artefacts (``ext_flg == 0`` and ``cc_flags == '0000'``). A row is labelled for a target when
its Spitzer flux is measured (finite and > 0).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from .errors import CatalogError
from .schema import TARGETS, Target, get_target

__all__ = [
    "ALL",
    "CLEAN",
    "CLEAN_FLAG_COLUMNS",
    "SAMPLES",
    "SNR_BINS",
    "SNR_THRESHOLDS",
    "UNCLEAN",
    "clean_mask",
    "counterpart_snr",
    "has_clean_flags",
    "labelled_mask",
    "quality_cut_counts",
    "sample_counts",
    "sample_mask",
    "select_sample",
    "snr_bin_label",
    "snr_bin_mask",
    "snr_column",
    "study_samples",
    "unclean_mask",
]

#: The sample names: the paper's "clean" and "unclean" rows, and "all" (every row).
CLEAN, UNCLEAN, ALL = "clean", "unclean", "all"
#: Sample names accepted by :func:`select_sample`.
SAMPLES: tuple[str, ...] = (CLEAN, UNCLEAN, ALL)
#: AllWISE quality flags that define the clean sample (with ``wise4``).
CLEAN_FLAG_COLUMNS: tuple[str, ...] = ("ext_flg", "cc_flags")

#: Signal-to-noise thresholds of the paper's Appendix A: the WISE quality cuts keep the clean
#: rows whose counterpart SNR (``w4snr`` for MIPS1, ``w3snr`` for IRAC4) is >= each of them.
SNR_THRESHOLDS: tuple[float, ...] = (2.0, 3.0, 10.0)
#: Signal-to-noise bins of the paper's Appendix A, ``[lo, hi)`` in units of ``w#snr``, cut at
#: :data:`SNR_THRESHOLDS`. SNR < 2 is where SEIP keeps a 95% upper limit instead of a flux.
SNR_BINS: tuple[tuple[float, float], ...] = tuple(
    zip((-np.inf, *SNR_THRESHOLDS), (*SNR_THRESHOLDS, np.inf), strict=True)
)


def _require(df: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise CatalogError(
            f"{what} needs column(s) {missing}, which the catalogue lacks "
            f"(it has {len(df.columns)} columns, e.g. {list(df.columns[:8])})"
        )


def _positive(values: pd.Series) -> pd.Series:
    """True where a value is a finite number > 0 (0, negative, NaN, text: not measured)."""
    x = pd.to_numeric(values, errors="coerce").astype(float)
    return pd.Series(np.isfinite(x.to_numpy()) & (x.to_numpy() > 0), index=values.index)


def _target(target) -> Target:
    try:
        return get_target(target)
    except ValueError as exc:
        raise CatalogError(str(exc)) from None


def _cc_flags_clean(values: pd.Series) -> np.ndarray:
    """True where cc_flags is '0000', whether stored as text, bytes or a number (0)."""
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        # A reader that parsed '0000' as a number left 0 for clean rows.
        x = values.to_numpy(dtype=float, na_value=np.nan)
        return np.isfinite(x) & (x == 0)

    if isinstance(values.dtype, pd.StringDtype):
        return (values.str.strip() == "0000").fillna(False).to_numpy(dtype=bool)

    def norm(v) -> str | None:
        if isinstance(v, (bytes, bytearray, np.bytes_)):
            v = bytes(v).decode("ascii", errors="replace")
        if isinstance(v, str):
            return v.strip()
        if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
            return str(int(v)).zfill(4)
        if isinstance(v, (float, np.floating)) and np.isfinite(v) and float(v).is_integer():
            return str(int(v)).zfill(4)
        return None

    return np.fromiter(
        (norm(v) == "0000" for v in values.to_numpy(dtype=object)), bool, len(values)
    )


def unclean_mask(df: pd.DataFrame) -> pd.Series:
    """Rows of the paper's "unclean" sample: ``wise4`` finite and > 0.

    Raises
    ------
    CatalogError
        If the catalogue has no ``wise4`` column.
    """
    _require(df, ["wise4"], "the unclean sample")
    return _positive(df["wise4"]).rename(UNCLEAN)


def clean_mask(df: pd.DataFrame) -> pd.Series:
    """Rows of the "clean" sample: unclean and ``ext_flg == 0`` and ``cc_flags == '0000'``.

    ``cc_flags`` may be text, bytes or a number (a reader that parsed ``'0000'`` as ``0``);
    a missing flag or extension value counts as not clean.

    Raises
    ------
    CatalogError
        If ``wise4``, ``ext_flg`` or ``cc_flags`` is missing.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"wise4": [1.0, 2.0, 3.0], "ext_flg": [0, 1, 0],
    ...                    "cc_flags": ["0000", "0000", "00d0"]})
    >>> clean_mask(df).tolist()
    [True, False, False]
    """
    _require(df, ["wise4", *CLEAN_FLAG_COLUMNS], "the clean sample")
    ext = pd.to_numeric(df["ext_flg"], errors="coerce").astype(float).to_numpy()
    clean = unclean_mask(df).to_numpy() & (ext == 0) & _cc_flags_clean(df["cc_flags"])
    return pd.Series(clean, index=df.index, name=CLEAN)


def sample_mask(df: pd.DataFrame, sample: str) -> pd.Series:
    """Boolean mask of the rows of ``df`` in ``sample`` (one of :data:`SAMPLES`).

    The name is matched case-insensitively, surrounding blanks ignored.

    Raises
    ------
    CatalogError
        If ``sample`` is not one of :data:`SAMPLES`, or a column it needs is missing.
    """
    key = str(sample).strip().lower() if isinstance(sample, str) else sample
    if key == CLEAN:
        return clean_mask(df)
    if key == UNCLEAN:
        return unclean_mask(df)
    if key == ALL:
        return pd.Series(True, index=df.index, name=ALL)
    raise CatalogError(f"sample must be one of {list(SAMPLES)}; got {sample!r}")


def has_clean_flags(df: pd.DataFrame) -> bool:
    """Whether ``df`` has the quality flags (:data:`CLEAN_FLAG_COLUMNS`) of the clean sample."""
    return all(c in df.columns for c in CLEAN_FLAG_COLUMNS)


def study_samples(df: pd.DataFrame) -> list[str]:
    """The samples a study of ``df`` compares: unclean and clean, or "all" without flags.

    The clean/unclean split needs the AllWISE flags (:data:`CLEAN_FLAG_COLUMNS`); a table
    without them (e.g. Upper Sco) is studied as one sample, "all".
    """
    return [UNCLEAN, CLEAN] if has_clean_flags(df) else [ALL]


def select_sample(df: pd.DataFrame, sample: str) -> pd.DataFrame:
    """Rows of ``df`` in ``sample`` (``"clean"``, ``"unclean"`` or ``"all"``), index kept.

    Raises
    ------
    CatalogError
        If ``sample`` is not one of :data:`SAMPLES`, or a column it needs is missing.
    """
    return df.loc[sample_mask(df, sample)]


def labelled_mask(df: pd.DataFrame, target) -> pd.Series:
    """Rows whose Spitzer flux for ``target`` (``"mips1"``/``"irac4"``) is finite and > 0.

    Raises
    ------
    CatalogError
        If ``target`` is unknown or its column (``m1_f_psf`` / ``i4_f_ap1``) is missing.
    """
    t = _target(target)
    _require(df, [t.column], f"target {t.key!r}")
    return _positive(df[t.column]).rename(f"{t.key}_labelled")


def sample_counts(
    df: pd.DataFrame,
    *,
    samples: Iterable[str] | None = None,
    targets: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Rows per sample, and labelled / unlabelled rows per target.

    Parameters
    ----------
    df : pandas.DataFrame
    samples : iterable of {"all", "unclean", "clean"}, optional
        Default: every sample the catalogue supports (``clean`` needs ``ext_flg`` and
        ``cc_flags``; ``unclean`` needs ``wise4``).
    targets : iterable of {"mips1", "irac4"}, optional
        Default: every target whose column the catalogue has. Targets named explicitly must
        have their column.

    Returns
    -------
    pandas.DataFrame
        Index ``sample``; columns ``total`` and, per target, ``<target>_labelled`` and
        ``<target>_unlabelled``.

    Raises
    ------
    CatalogError
        For an unknown sample or target, or a missing column of one named explicitly.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"wise4": [1.0, 2.0, 0.0], "m1_f_psf": [5.0, None, 3.0]})
    >>> sample_counts(df).to_dict("index")["unclean"]
    {'total': 2, 'mips1_labelled': 1, 'mips1_unlabelled': 1}
    """
    if samples is None:
        samples = [s for s, cols in ((ALL, []), (UNCLEAN, ["wise4"]),
                                     (CLEAN, ["wise4", *CLEAN_FLAG_COLUMNS]))
                   if all(c in df.columns for c in cols)]  # fmt: skip
    if targets is None:
        target_objs = [t for t in TARGETS.values() if t.column in df.columns]
    else:
        target_objs = [_target(t) for t in targets]
    labelled = {t.key: labelled_mask(df, t).to_numpy() for t in target_objs}
    rows = {}
    for s in samples:
        m = sample_mask(df, s).to_numpy()
        row = {"total": int(m.sum())}
        for key, lab in labelled.items():
            row[f"{key}_labelled"] = int((m & lab).sum())
            row[f"{key}_unlabelled"] = int((m & ~lab).sum())
        rows[str(s).strip().lower()] = row
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "sample"
    return out


def snr_column(target) -> str:
    """Name of the SNR column of ``target``'s WISE counterpart: ``w4snr`` (MIPS1), ``w3snr``.

    Raises
    ------
    CatalogError
        For an unknown target.
    """
    return f"w{_target(target).counterpart[-1]}snr"


def counterpart_snr(df: pd.DataFrame, target) -> pd.Series:
    """SNR of ``target``'s WISE counterpart per row (float, NaN where unknown).

    The catalogue's :func:`snr_column` if present, else ``wise#`` / ``dwise#`` (NaN where the
    error is missing or not positive, e.g. SEIP's upper limits), else NaN for every row.

    Raises
    ------
    CatalogError
        For an unknown target.
    """
    band = _target(target).counterpart[-1]
    col = f"w{band}snr"
    if col in df.columns:
        return pd.to_numeric(df[col], errors="coerce").astype(float)
    f, e = f"wise{band}", f"dwise{band}"
    if f in df.columns and e in df.columns:
        flux = pd.to_numeric(df[f], errors="coerce").astype(float)
        err = pd.to_numeric(df[e], errors="coerce").astype(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            return (flux / err).where(err > 0)
    return pd.Series(np.nan, index=df.index)


def snr_bin_label(lo: float, hi: float, name: str = "SNR") -> str:
    """Text of the SNR bin ``[lo, hi)`` of :data:`SNR_BINS`, e.g. ``"2 <= w4snr < 3"``.

    Examples
    --------
    >>> [snr_bin_label(lo, hi) for lo, hi in SNR_BINS][::3]
    ['SNR < 2', 'SNR >= 10']
    """
    if np.isinf(lo):
        return f"{name} < {hi:g}"
    if np.isinf(hi):
        return f"{name} >= {lo:g}"
    return f"{lo:g} <= {name} < {hi:g}"


def snr_bin_mask(snr, lo: float, hi: float, *, missing_in_lowest: bool = False) -> np.ndarray:
    """Rows whose SNR lies in ``[lo, hi)`` (a bin of :data:`SNR_BINS`).

    Parameters
    ----------
    snr : array-like of float
    lo, hi : float
        Bin edges; ``lo = -inf`` is the lowest bin.
    missing_in_lowest : bool, default False
        Put rows without an SNR (NaN) in the lowest bin, as upper limits (the quality-cut
        figure does); by default they are in no bin.

    Returns
    -------
    ndarray of bool
    """
    x = np.asarray(snr, dtype=float)
    with np.errstate(invalid="ignore"):
        if missing_in_lowest and not np.isfinite(lo):
            return ~(x >= hi)
        return (x >= lo) & (x < hi)


def quality_cut_counts(df: pd.DataFrame, target) -> pd.DataFrame:
    """How many labelled rows each plain WISE quality cut keeps (the paper's Appendix A).

    For ``target`` ``"mips1"`` the signal-to-noise column is ``w4snr`` (W4 is MIPS1's WISE
    counterpart), for ``"irac4"`` it is ``w3snr``. Cuts, in order: ``unclean``, ``clean``,
    ``clean & w#snr >= 2``, then the clean rows split into ``w#snr < 2``, ``2-3``, ``3-10``
    and ``>= 10``.

    Returns
    -------
    pandas.DataFrame
        Index ``cut``; columns ``n_labelled``, ``fraction_of_unclean`` and
        ``fraction_of_clean`` (NaN when the reference count is 0).

    Raises
    ------
    CatalogError
        For an unknown target, or when the target column, ``wise4``, ``ext_flg``,
        ``cc_flags`` or the ``w#snr`` column is missing.
    """
    t = _target(target)
    snr_col = snr_column(t)
    _require(df, [t.column, "wise4", *CLEAN_FLAG_COLUMNS, snr_col], f"quality cuts for {t.key!r}")
    lab = labelled_mask(df, t).to_numpy()
    unclean = unclean_mask(df).to_numpy() & lab
    clean = clean_mask(df).to_numpy() & lab
    snr = pd.to_numeric(df[snr_col], errors="coerce").astype(float).to_numpy()
    lowest = SNR_THRESHOLDS[0]
    with np.errstate(invalid="ignore"):
        cuts = {
            UNCLEAN: unclean,
            CLEAN: clean,
            f"{CLEAN} & {snr_col} >= {lowest:g}": clean & (snr >= lowest),
        }
    for lo, hi in SNR_BINS:
        cuts[f"{CLEAN} & {snr_bin_label(lo, hi, snr_col)}"] = clean & snr_bin_mask(snr, lo, hi)
    n = {k: int(v.sum()) for k, v in cuts.items()}
    n_unclean, n_clean = n[UNCLEAN], n[CLEAN]
    out = pd.DataFrame(
        {
            "n_labelled": n,
            "fraction_of_unclean": {
                k: v / n_unclean if n_unclean else np.nan for k, v in n.items()
            },
            "fraction_of_clean": {k: v / n_clean if n_clean else np.nan for k, v in n.items()},
        }
    )
    out.index.name = "cut"
    return out
