"""Photometric bands, SEIP column names, unit conversions and output column names.

All flux densities inside wise2spitzer are in micro-Jansky (uJy), following the Spitzer
Enhanced Imaging Products (SEIP) Source List. A flux that is 0, negative or NaN means
"not measured" and is never used as a value.

The band table (:data:`BANDS`) holds each band's SEIP column, error column, effective
wavelength and the Vega zero point used to convert magnitudes; :data:`TARGETS` the Spitzer
bands the tool predicts (adding one: ``docs/extending.md``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "BANDS",
    "ID_COLUMN",
    "PAPER_FEATURES",
    "STATUSES",
    "STATUS_BAD_VALUE",
    "STATUS_EXTRAPOLATED",
    "STATUS_MISSING_FEATURE",
    "STATUS_OK",
    "STATUS_OUTSIDE_DOMAIN",
    "STATUS_OUTSIDE_SAMPLE",
    "STATUS_UPPER_LIMIT",
    "VALUE_STATUSES",
    "TARGETS",
    "WISE_BANDS",
    "WISE_FLUX_COLUMNS",
    "WISE_QUALITY_COLUMNS",
    "Band",
    "Target",
    "get_target",
    "mag_err_to_ujy",
    "mag_to_ujy",
    "output_columns",
    "ujy_to_mag",
]


@dataclass(frozen=True)
class Band:
    """One photometric band as stored in a SEIP-like catalogue.

    Attributes
    ----------
    name : str
        Short name used in plots and the CLI (``"W4"``, ``"MIPS1"``...).
    column, error_column : str
        Flux density column (uJy) and its 1-sigma error column (uJy).
    wavelength_um : float
        Effective (isophotal) wavelength in micron.
    zero_point_jy : float
        Flux density of a zero-magnitude (Vega) source, in Jy.
    instrument : str
        ``"Gaia"``, ``"2MASS"``, ``"WISE"``, ``"IRAC"`` or ``"MIPS"``.
    """

    name: str
    column: str
    error_column: str
    wavelength_um: float
    zero_point_jy: float
    instrument: str


# Gaia DR3 zero points are the Vega-system fluxes of Riello et al. (2021) at the pivot
# wavelengths; they are only used to draw SEDs, never as model features.
BANDS: dict[str, Band] = {
    b.name: b
    for b in (
        Band("G_BP", "gaia_bp", "gaia_bp_err", 0.511, 3552.0, "Gaia"),
        Band("G", "gaia_g", "gaia_g_err", 0.622, 3228.0, "Gaia"),
        Band("G_RP", "gaia_rp", "gaia_rp_err", 0.777, 2554.0, "Gaia"),
        Band("J", "j", "dj", 1.235, 1594.0, "2MASS"),
        Band("H", "h", "dh", 1.662, 1024.0, "2MASS"),
        Band("Ks", "k", "dk", 2.159, 666.7, "2MASS"),
        Band("W1", "wise1", "dwise1", 3.35, 309.540, "WISE"),
        Band("W2", "wise2", "dwise2", 4.60, 171.787, "WISE"),
        Band("W3", "wise3", "dwise3", 11.56, 31.674, "WISE"),
        Band("W4", "wise4", "dwise4", 22.08, 8.363, "WISE"),
        Band("IRAC1", "i1_f_ap1", "i1_df_ap1", 3.55, 280.9, "IRAC"),
        Band("IRAC2", "i2_f_ap1", "i2_df_ap1", 4.49, 179.7, "IRAC"),
        Band("IRAC3", "i3_f_ap1", "i3_df_ap1", 5.73, 115.0, "IRAC"),
        Band("IRAC4", "i4_f_ap1", "i4_df_ap1", 7.87, 64.9, "IRAC"),
        Band("MIPS1", "m1_f_psf", "m1_df_psf", 23.68, 7.17, "MIPS"),
    )
}

WISE_BANDS: tuple[str, ...] = ("W1", "W2", "W3", "W4")
WISE_FLUX_COLUMNS: tuple[str, ...] = ("wise1", "wise2", "wise3", "wise4")
#: Per-band quality columns of the paper: reduced chi2 of the profile fit, number of frames
#: covering the source (``m``) and number of frames with a detection (``nm``).
WISE_QUALITY_COLUMNS: tuple[str, ...] = tuple(
    f"wise{i}{q}" for q in ("rchi2", "m", "nm") for i in range(1, 5)
)
#: The 16 features of Fonseca-Bonilla et al. (2024): wise1..4, wise#rchi2, wise#m, wise#nm.
PAPER_FEATURES: tuple[str, ...] = WISE_FLUX_COLUMNS + WISE_QUALITY_COLUMNS

#: Default source identifier column (SEIP ``objid``).
ID_COLUMN = "objid"


@dataclass(frozen=True)
class Target:
    """A Spitzer band the tool predicts.

    Attributes
    ----------
    key : str
        CLI name, ``"mips1"`` or ``"irac4"``.
    band : str
        Key into :data:`BANDS`.
    prefix : str
        Prefix of the output columns (``"m1"`` -> ``m1_f_pred``...).
    counterpart : str
        The WISE flux column at the nearest wavelength (the "raw WISE" estimate).
    counterpart_band : str
        Key into :data:`BANDS` of that WISE band.
    snr_column : str
        SEIP signal-to-noise column of the target, when the catalogue has it.
    detection_margin : float
        Default margin of the upper-limit rule (:mod:`wise2spitzer.detection`): a row whose
        lower bound is below this many times the training sample's detection floor gets
        only an upper limit. Measured on the simulation for MIPS1 (5) and IRAC4 (1).
    """

    key: str
    band: str
    prefix: str
    counterpart: str
    counterpart_band: str
    snr_column: str
    detection_margin: float = 1.0

    def __post_init__(self) -> None:
        # A new entry of TARGETS is checked when the module is imported.
        for name in (self.band, self.counterpart_band):
            if name not in BANDS:
                raise ValueError(f"band must be one of {list(BANDS)}; got {name!r}")
        expected = BANDS[self.counterpart_band].column
        if self.counterpart != expected:
            raise ValueError(
                f"counterpart must be the column of counterpart_band {self.counterpart_band!r}, "
                f"{expected!r}; got {self.counterpart!r}"
            )

    @property
    def column(self) -> str:
        """The SEIP flux column of the target (uJy)."""
        return BANDS[self.band].column

    @property
    def error_column(self) -> str:
        """The SEIP error column of the target (uJy)."""
        return BANDS[self.band].error_column

    @property
    def label(self) -> str:
        """Human-readable label for plots, e.g. ``"MIPS1 24 um"``."""
        return f"{self.band} {BANDS[self.band].wavelength_um:.0f} um"


#: The Spitzer bands the tool predicts, by CLI name. One entry is all a new band needs in the
#: library (features, training, prediction, evaluation, batch); see
#: ``docs/extending.md`` for what else shows it (CLI help, report defaults).
TARGETS: dict[str, Target] = {
    "mips1": Target("mips1", "MIPS1", "m1", "wise4", "W4", "m1_snr", detection_margin=5.0),
    "irac4": Target("irac4", "IRAC4", "i4", "wise3", "W3", "i4_snr", detection_margin=1.0),
}

STATUS_OK = "ok"
STATUS_OUTSIDE_DOMAIN = "outside_domain"
STATUS_MISSING_FEATURE = "missing_feature"
STATUS_BAD_VALUE = "bad_value"
#: The row is not in the sample the model was trained on (e.g. a row that is not clean, for a
#: model of the clean sample): its intervals were never calibrated on such rows.
STATUS_OUTSIDE_SAMPLE = "outside_sample"
#: Outside the training hull but within the distance where held-out rows showed the
#: interval still holds: a value with an interval calibrated on held-out rows that fell
#: outside their fold's hull (see :mod:`wise2spitzer.extrapolation`).
STATUS_EXTRAPOLATED = "extrapolated"
#: The interval reached down to the training sample's detection floor, where the labelled
#: rows (only sources Spitzer detected) cannot show how much fainter the truth may be: no
#: value and no lower bound, only ``<p>_f_pred_hi`` as an upper limit at the upper tail's
#: level (97.5% for a 95% interval); see :mod:`wise2spitzer.detection`.
STATUS_UPPER_LIMIT = "upper_limit"
#: Statuses that carry a value and a two-sided interval; ``upper_limit`` carries only the
#: upper bound; every other status means no prediction.
VALUE_STATUSES: tuple[str, ...] = (STATUS_OK, STATUS_EXTRAPOLATED)
#: Every status a prediction row can carry; only :data:`VALUE_STATUSES` carry a value.
STATUSES: tuple[str, ...] = (
    STATUS_OK,
    STATUS_EXTRAPOLATED,
    STATUS_UPPER_LIMIT,
    STATUS_OUTSIDE_DOMAIN,
    STATUS_OUTSIDE_SAMPLE,
    STATUS_MISSING_FEATURE,
    STATUS_BAD_VALUE,
)


def get_target(target: str | Target) -> Target:
    """Return the :class:`Target` for ``"mips1"``, ``"irac4"`` or a SEIP column name.

    Raises
    ------
    ValueError
        Naming the allowed values and what was received.
    """
    if isinstance(target, Target):
        return target
    key = str(target).strip().lower()
    if key in TARGETS:
        return TARGETS[key]
    for t in TARGETS.values():
        if key in (t.column, t.band.lower(), t.prefix):
            return t
    raise ValueError(
        f"target must be one of {sorted(TARGETS)} (or {[t.column for t in TARGETS.values()]}); "
        f"got {target!r}"
    )


def output_columns(target: str | Target) -> dict[str, str]:
    """Names of the columns appended to every input row for ``target``.

    Returns a dict with keys ``pred``, ``lo``, ``hi`` and ``status``, e.g. for MIPS1
    ``m1_f_pred``, ``m1_f_pred_lo``, ``m1_f_pred_hi`` and ``m1_pred_status``. These names are
    part of the public contract.
    """
    p = get_target(target).prefix
    return {
        "pred": f"{p}_f_pred",
        "lo": f"{p}_f_pred_lo",
        "hi": f"{p}_f_pred_hi",
        "status": f"{p}_pred_status",
    }


def _band(band: str | Band) -> Band:
    if isinstance(band, Band):
        return band
    if band in BANDS:
        return BANDS[band]
    for b in BANDS.values():
        if band == b.column:
            return b
    raise ValueError(f"band must be one of {list(BANDS)}; got {band!r}")


def mag_to_ujy(mag, band: str | Band):
    """Convert Vega magnitudes to flux density in uJy: ``F = F0 * 10**(-0.4 m)``.

    Examples
    --------
    >>> round(float(mag_to_ujy(0.0, "W4")))
    8363000
    """
    zp = _band(band).zero_point_jy
    return zp * 1e6 * np.power(10.0, -0.4 * np.asarray(mag, dtype=float))


def ujy_to_mag(flux_ujy, band: str | Band):
    """Convert flux density in uJy to Vega magnitudes (NaN where the flux is not positive)."""
    zp = _band(band).zero_point_jy
    f = np.asarray(flux_ujy, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(f > 0, -2.5 * np.log10(f / (zp * 1e6)), np.nan)


def mag_err_to_ujy(flux_ujy, mag_err):
    """Propagate a magnitude error to a flux error: ``dF = F * ln(10) / 2.5 * dm``."""
    return np.asarray(flux_ujy, dtype=float) * np.log(10.0) / 2.5 * np.asarray(mag_err, float)
