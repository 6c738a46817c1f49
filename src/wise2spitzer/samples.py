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
    "SAMPLES",
    "clean_mask",
    "labelled_mask",
    "quality_cut_counts",
    "sample_counts",
    "select_sample",
    "unclean_mask",
]

#: Sample names accepted by :func:`select_sample`.
SAMPLES: tuple[str, ...] = ("clean", "unclean", "all")

# Signal-to-noise bins of the paper's Appendix A: [lo, hi) in units of w#snr.
_SNR_BINS: tuple[tuple[float, float], ...] = (
    (-np.inf, 2.0),
    (2.0, 3.0),
    (3.0, 10.0),
    (10.0, np.inf),
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
    return _positive(df["wise4"]).rename("unclean")


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
    _require(df, ["wise4", "ext_flg", "cc_flags"], "the clean sample")
    ext = pd.to_numeric(df["ext_flg"], errors="coerce").astype(float).to_numpy()
    clean = unclean_mask(df).to_numpy() & (ext == 0) & _cc_flags_clean(df["cc_flags"])
    return pd.Series(clean, index=df.index, name="clean")


def _sample_mask(df: pd.DataFrame, sample: str) -> pd.Series:
    key = str(sample).strip().lower() if isinstance(sample, str) else sample
    if key == "clean":
        return clean_mask(df)
    if key == "unclean":
        return unclean_mask(df)
    if key == "all":
        return pd.Series(True, index=df.index, name="all")
    raise CatalogError(f"sample must be one of {list(SAMPLES)}; got {sample!r}")


def select_sample(df: pd.DataFrame, sample: str) -> pd.DataFrame:
    """Rows of ``df`` in ``sample`` (``"clean"``, ``"unclean"`` or ``"all"``), index kept.

    Raises
    ------
    CatalogError
        If ``sample`` is not one of :data:`SAMPLES`, or a column it needs is missing.
    """
    return df.loc[_sample_mask(df, sample)]


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
        samples = [s for s, cols in (("all", []), ("unclean", ["wise4"]),
                                     ("clean", ["wise4", "ext_flg", "cc_flags"]))
                   if all(c in df.columns for c in cols)]  # fmt: skip
    if targets is None:
        target_objs = [t for t in TARGETS.values() if t.column in df.columns]
    else:
        target_objs = [_target(t) for t in targets]
    labelled = {t.key: labelled_mask(df, t).to_numpy() for t in target_objs}
    rows = {}
    for s in samples:
        m = _sample_mask(df, s).to_numpy()
        row = {"total": int(m.sum())}
        for key, lab in labelled.items():
            row[f"{key}_labelled"] = int((m & lab).sum())
            row[f"{key}_unlabelled"] = int((m & ~lab).sum())
        rows[str(s).strip().lower()] = row
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "sample"
    return out


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
    snr_col = f"w{t.counterpart[-1]}snr"
    _require(df, [t.column, "wise4", "ext_flg", "cc_flags", snr_col], f"quality cuts for {t.key!r}")
    lab = labelled_mask(df, t).to_numpy()
    unclean = unclean_mask(df).to_numpy() & lab
    clean = clean_mask(df).to_numpy() & lab
    snr = pd.to_numeric(df[snr_col], errors="coerce").astype(float).to_numpy()
    cuts = {
        "unclean": unclean,
        "clean": clean,
        f"clean & {snr_col} >= 2": clean & (snr >= 2.0),
    }
    for lo, hi in _SNR_BINS:
        if np.isinf(lo):
            name = f"clean & {snr_col} < {hi:g}"
        elif np.isinf(hi):
            name = f"clean & {snr_col} >= {lo:g}"
        else:
            name = f"clean & {lo:g} <= {snr_col} < {hi:g}"
        cuts[name] = clean & (snr >= lo) & (snr < hi)
    n = {k: int(v.sum()) for k, v in cuts.items()}
    n_unclean, n_clean = n["unclean"], n["clean"]
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
