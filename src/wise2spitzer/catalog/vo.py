"""What every output column and every output file says about itself (VO conventions).

Each column written by :func:`~wise2spitzer.catalog.write_catalog` or a streamed prediction
carries a unit, a UCD (IVOA UCD1+) and a description where the format can hold them:

- the SEIP and AllWISE columns the tool knows follow IRSA's conventions for the SEIP Source
  List (e.g. ``phot.flux.density;em.IR.15-30um`` for MIPS 24 um and WISE W4 22 um,
  ``stat.error;phot.flux.density;...`` for their errors, ``pos.eq.ra;meta.main`` in deg);
- the columns the tool adds (predictions, interval bounds, statuses, bundle model) have ours
  (:func:`column_meta`; listed in ``docs/outputs.md``);
- any other column keeps the unit, UCD and description the input file gave it.

File-level provenance (:func:`standard_meta`) always holds ``origin``, ``date`` and
``creator``; in FITS headers the keys become 8-character upper-case keywords
(:data:`FITS_KEYWORDS`, e.g. ``model_sha256`` -> ``MODELSHA``) or standard ``HIERARCH``
keywords in upper case, and read back in lower case (:func:`meta_key_from_fits`).
"""

from __future__ import annotations

import datetime as _dt
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from ..schema import BANDS, TARGETS, output_columns

__all__ = [
    "FITS_KEYWORDS",
    "ORIGIN",
    "ColumnMeta",
    "column_meta",
    "columns_meta",
    "fits_keyword",
    "known_columns",
    "meta_key_from_fits",
    "output_date",
    "standard_meta",
]

#: Value of the ``origin`` metadata (FITS ``ORIGIN``) of every file the tool writes.
ORIGIN = "wise2spitzer"


class ColumnMeta(NamedTuple):
    """Unit, UCD and description of one column (each None when unknown).

    Attributes
    ----------
    unit : str or None
        An astropy/VOUnit unit string (``"uJy"``, ``"deg"``).
    ucd : str or None
        An IVOA UCD1+ (``"phot.flux.density;em.IR.15-30um"``).
    description : str or None
        One line saying what the column holds.
    """

    unit: str | None = None
    ucd: str | None = None
    description: str | None = None


# The UCD1+ spectral word of each band, as IRSA labels the SEIP Source List (IRAC4 8 um with
# the 8-15 um range, as IRSA does).
_BAND_EM: dict[str, str] = {
    "G_BP": "em.opt.B", "G": "em.opt", "G_RP": "em.opt.R",
    "J": "em.IR.J", "H": "em.IR.H", "Ks": "em.IR.K",
    "W1": "em.IR.3-4um", "W2": "em.IR.4-8um", "W3": "em.IR.8-15um", "W4": "em.IR.15-30um",
    "IRAC1": "em.IR.3-4um", "IRAC2": "em.IR.4-8um", "IRAC3": "em.IR.4-8um",
    "IRAC4": "em.IR.8-15um", "MIPS1": "em.IR.15-30um",
}
_WISE_QUALITY = {
    "rchi2": ("stat.fit.chi2", "reduced chi-square of the profile-fit photometry"),
    "m": ("meta.number;obs.image", "number of single-exposure frames covering the source"),
    "nm": ("meta.number;obs.image", "number of single-exposure frames with a detection"),
}
_FIXED: dict[str, ColumnMeta] = {
    "objid": ColumnMeta(None, "meta.id;meta.main", "source identifier"),
    "designation": ColumnMeta(None, "meta.id", "source designation"),
    "ra": ColumnMeta("deg", "pos.eq.ra;meta.main", "right ascension (ICRS)"),
    "dec": ColumnMeta("deg", "pos.eq.dec;meta.main", "declination (ICRS)"),
    "glon": ColumnMeta("deg", "pos.galactic.lon", "galactic longitude"),
    "glat": ColumnMeta("deg", "pos.galactic.lat", "galactic latitude"),
    "cc_flags": ColumnMeta(None, "meta.code", "WISE contamination and confusion flags"),
    "ext_flg": ColumnMeta(None, "meta.code", "WISE extended-source flag"),
    "ph_qual": ColumnMeta(None, "meta.code.qual", "WISE photometric quality flags"),
    "moon_lev": ColumnMeta(None, "meta.code", "WISE scattered moonlight contamination flags"),
    "membership_prob": ColumnMeta(None, "stat.probability", "cluster membership probability"),
}


def _band_columns() -> dict[str, ColumnMeta]:
    out: dict[str, ColumnMeta] = {}
    for name, band in BANDS.items():
        em = _BAND_EM[name]
        label = f"{band.instrument} {name} {band.wavelength_um:g} um"
        out[band.column] = ColumnMeta("uJy", f"phot.flux.density;{em}", f"{label} flux density")
        out[band.error_column] = ColumnMeta(
            "uJy", f"stat.error;phot.flux.density;{em}", f"{label} flux density 1-sigma error"
        )
        out[f"true_{band.column}"] = ColumnMeta(
            "uJy", f"phot.flux.density;{em}", f"{label} noise-free flux density (simulated)"
        )
    for i, name in enumerate(("W1", "W2", "W3", "W4"), start=1):
        em = _BAND_EM[name]
        out[f"w{i}snr"] = ColumnMeta(None, f"stat.snr;{em}", f"WISE {name} signal-to-noise ratio")
        for q, (ucd, text) in _WISE_QUALITY.items():
            out[f"wise{i}{q}"] = ColumnMeta(None, f"{ucd};{em}", f"WISE {name} {text}")
    return out


def _target_columns() -> dict[str, ColumnMeta]:
    out: dict[str, ColumnMeta] = {}
    for target in TARGETS.values():
        em = _BAND_EM[target.band]
        flux = f"phot.flux.density;{em}"
        label = f"Spitzer {target.band} {BANDS[target.band].wavelength_um:.0f} um"
        names = output_columns(target)
        out[names["pred"]] = ColumnMeta(
            "uJy", f"{flux};meta.modelled",
            f"{label} flux density predicted from WISE by wise2spitzer (NaN unless status ok "
            "or extrapolated)",
        )
        out[names["lo"]] = ColumnMeta(
            "uJy", f"{flux};stat.min",
            f"lower bound of the {label} prediction interval (confidence: table metadata "
            "interval_confidence)",
        )
        out[names["hi"]] = ColumnMeta(
            "uJy", f"{flux};stat.max",
            f"upper bound of the {label} prediction interval (confidence: table metadata "
            "interval_confidence); the upper limit of a row with status upper_limit",
        )
        out[names["status"]] = ColumnMeta(
            None, "meta.code.qual",
            f"{label} prediction status: ok or extrapolated (a value), upper_limit (only "
            "the upper bound), outside_domain, outside_sample, missing_feature or bad_value "
            "(no value)",
        )
        out[f"{target.prefix}_pred_model"] = ColumnMeta(
            None, "meta.id",
            f"training sample of the bundle model that answered for {label} "
            "(clean, unclean or all)",
        )
        out[target.snr_column] = ColumnMeta(
            None, f"stat.snr;{em}", f"{label} signal-to-noise ratio"
        )
    return out


_KNOWN: dict[str, ColumnMeta] = {**_FIXED, **_band_columns(), **_target_columns()}


def known_columns() -> dict[str, ColumnMeta]:
    """Every column whose unit, UCD and description the tool knows (a copy)."""
    return dict(_KNOWN)


def column_meta(name: str) -> ColumnMeta | None:
    """Unit, UCD and description of a column the tool knows; None for any other.

    Examples
    --------
    >>> column_meta("m1_f_pred").ucd
    'phot.flux.density;em.IR.15-30um;meta.modelled'
    >>> column_meta("ra")
    ColumnMeta(unit='deg', ucd='pos.eq.ra;meta.main', description='right ascension (ICRS)')
    """
    return _KNOWN.get(str(name))


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def columns_meta(
    names: Iterable[str],
    given: Mapping[str, Any] | None = None,
    *,
    flux: Iterable[str] = (),
) -> dict[str, ColumnMeta]:
    """Unit, UCD and description for every column of an output.

    Parameters
    ----------
    names : iterable of str
        The columns, in order.
    given : dict, optional
        What the input said per column (``{name: {"unit", "ucd", "description"}}``, e.g.
        ``df.attrs["columns"]`` of a frame from :func:`~wise2spitzer.catalog.read_catalog`).
    flux : iterable of str
        Numeric flux columns: their unit is uJy, whatever was given (readers convert them).

    Returns
    -------
    dict of str -> ColumnMeta
        Known columns take our UCD and description (and our unit unless the input gave
        another for a non-flux column); other columns keep what was given.
    """
    given = given or {}
    flux = set(flux)
    out: dict[str, ColumnMeta] = {}
    for name in names:
        info = given.get(name)
        info = info if isinstance(info, Mapping) else {}
        mine = _KNOWN.get(name)
        unit = _text(info.get("unit"))
        if mine is not None:
            entry = ColumnMeta(unit or mine.unit, mine.ucd, mine.description)
        else:
            entry = ColumnMeta(unit, _text(info.get("ucd")), _text(info.get("description")))
        if name in flux:
            entry = entry._replace(unit="uJy")
        out[name] = entry
    return out


# --------------------------------------------------------------------------------------------
# File-level provenance
# --------------------------------------------------------------------------------------------
#: Metadata keys written as standard 8-character FITS keywords (other keys of up to 8
#: characters are upper-cased; longer ones become upper-case ``HIERARCH`` keywords).
FITS_KEYWORDS: dict[str, str] = {
    "origin": "ORIGIN",
    "date": "DATE",
    "creator": "CREATOR",
    "target": "TARGET",
    "target_column": "TARGCOL",
    "model_sample": "MODSAMPL",
    "feature_set": "FEATSET",
    "interval_method": "INTMETH",
    "interval_confidence": "CONFLEVL",
    "flux_unit": "FLUXUNIT",
    "model_sha256": "MODELSHA",
    "conformal_tails": "CFTAILS",
    "conformal_score": "CFSCORE",
}
_FROM_FITS = {v: k for k, v in FITS_KEYWORDS.items()}
_PLAIN_KEY = re.compile(r"^[A-Z0-9_-]{1,8}$")


def fits_keyword(key: str) -> str:
    """The FITS keyword of a metadata key: ``"model_sha256"`` -> ``"MODELSHA"``.

    A key of :data:`FITS_KEYWORDS` takes its keyword; another key of up to 8 letters, digits,
    ``_`` or ``-`` is upper-cased; anything longer becomes ``"HIERARCH <KEY>"`` in upper case.

    Examples
    --------
    >>> fits_keyword("interval_method"), fits_keyword("seed"), fits_keyword("members_table")
    ('INTMETH', 'SEED', 'HIERARCH MEMBERS_TABLE')
    """
    if key in FITS_KEYWORDS:
        return FITS_KEYWORDS[key]
    upper = key.upper()
    return upper if _PLAIN_KEY.match(upper) else f"HIERARCH {upper}"


def meta_key_from_fits(keyword: str) -> str:
    """The metadata key of a FITS keyword (FITS keywords are case-insensitive: lower case)."""
    keyword = str(keyword)
    return _FROM_FITS.get(keyword.upper(), keyword.lower())


def output_date() -> str:
    """The UTC day a file is written, ISO 8601 (``"2026-12-01"``).

    A day, not a time, so that the same table written twice the same day gives the same
    bytes (resumed runs equal uninterrupted ones); ``SOURCE_DATE_EPOCH`` (seconds since
    1970, the reproducible-builds convention) overrides the clock.
    """
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        moment = _dt.datetime.fromtimestamp(int(epoch), tz=_dt.UTC)
    else:
        moment = _dt.datetime.now(tz=_dt.UTC)
    return moment.date().isoformat()


def standard_meta(meta: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``meta`` with the provenance every output carries: ``origin``, ``date``, ``creator``.

    Given values win (a prediction's ``creator`` names the command); missing ones are
    filled: ``origin = "wise2spitzer"``, ``date`` = :func:`output_date`, ``creator`` =
    ``"wise2spitzer <version>"``.
    """
    from .. import __version__

    out = {"origin": ORIGIN, "date": output_date(), "creator": f"wise2spitzer {__version__}"}
    out.update({k: v for k, v in (meta or {}).items() if v is not None or k not in out})
    return out
