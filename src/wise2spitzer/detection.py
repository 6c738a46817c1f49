"""The detection floor: where an interval learnt from Spitzer detections stops being two-sided.

SEIP reports a Spitzer flux only for sources Spitzer detected (MIPS1 only above 10 sigma), so
every labelled row a model learns from is brighter than the survey's detection limit. At a
given set of WISE features the training rows are therefore the *detected* sources only. A
WISE-only row with the same features may be one of the many fainter sources Spitzer would not
have detected: at 22 um, confusion and noise make faint sources look bright in W4. The model
never saw those, so for them its value and its lower bound are biased high, however well
held-out labelled rows are covered.

The upper bound stays valid: cutting a distribution from below raises every quantile, so an
upper bound calibrated on detected rows lies at or above the same quantile of all sources with
those features. Hence the rule, applied after the interval is computed:

- the *floor* is the :data:`FLOOR_QUANTILE` quantile of the training rows' Spitzer flux (the
  faintest fluxes the labelled sample holds, learnt from the data, not assumed);
- a row whose interval's lower bound falls below ``margin * floor`` gets status
  ``upper_limit``: its value and lower bound are removed and ``<p>_f_pred_hi`` is kept as an
  upper limit at the upper tail's level (97.5% for a 95% interval).

The margin cannot be learnt from labelled rows: it depends on how many undetected sources
share a detected source's WISE features, which only a catalogue with known true fluxes shows.
:data:`DEFAULT_MARGINS` were measured on the simulated catalogue (``simulate_seip``, seed 11,
26,068 rows; clean and unclean bundle of 200 trees; rows without a Spitzer flux against their
simulated true flux):

========  ======================================  ==============================================
target    never-labelled rows with a value        margin (lower bound >= margin x floor)
========  ======================================  ==============================================
MIPS1     16,354; 31.8% covered, median 12x high  1: 26.4%; 3: 89.6%; **5: 96.1%** (1,038 rows)
IRAC4     8,070; 95.8% covered, median 1.03x      **1: 96.5%** (7,039 rows); 5: 97.4%
========  ======================================  ==============================================

In both bands the upper limits given instead hold for 99.8% (MIPS1) and 99.8% (IRAC4) of the
rows below the margin. The cost falls on sources near the floor: at margin 5, 40% of the
labelled MIPS1 rows would get an upper limit instead of a value. ``docs/detection.md`` has the
full measurement and how to change the margin (``train --floor-margin``).
"""

from __future__ import annotations

import math

import numpy as np

from .schema import STATUS_UPPER_LIMIT, TARGETS, VALUE_STATUSES, get_target

__all__ = [
    "DEFAULT_MARGINS",
    "FLOOR_QUANTILE",
    "apply_detection_limit",
    "check_margin",
    "default_margin",
    "describe_limit",
    "detection_floor",
]

#: Quantile of the training rows' Spitzer flux taken as the labelled sample's floor.
FLOOR_QUANTILE = 0.01

#: Default margin per target (``Target.detection_margin``; see the module docstring for how
#: each was measured).
DEFAULT_MARGINS: dict[str, float] = {k: t.detection_margin for k, t in TARGETS.items()}


def default_margin(target) -> float:
    """The default margin of ``target`` (its ``Target.detection_margin``)."""
    return float(get_target(target).detection_margin)


def check_margin(margin) -> float:
    """``margin`` as a float, or a ``ValueError`` naming what was received.

    0 turns the rule off (every interval stays two-sided).
    """
    try:
        value = float(margin)
    except (TypeError, ValueError):
        value = math.nan
    if isinstance(margin, bool) or not math.isfinite(value) or value < 0:
        raise ValueError(f"detection margin must be a finite number >= 0; got {margin!r}")
    return value


def describe_limit(predictor) -> str:
    """One line saying when ``predictor`` gives upper limits (for ``train`` and
    ``describe-model``)."""
    floor = getattr(predictor, "detection_floor", None)
    margin = getattr(predictor, "detection_margin", None)
    if floor is None or margin is None:
        return "none (a model saved before the detection floor rule; retrain it to get them)"
    if margin <= 0:
        return "off (trained with --floor-margin 0)"
    return (f"rows whose lower bound is below {margin:g} x the detection floor {floor:.4g} uJy "
            "(status upper_limit)")


def detection_floor(y) -> float:
    """The :data:`FLOOR_QUANTILE` quantile of the positive training fluxes ``y`` (uJy)."""
    y = np.asarray(y, dtype=float)
    y = y[np.isfinite(y) & (y > 0)]
    if y.size == 0:
        raise ValueError("no positive training flux to set the detection floor from")
    return float(np.quantile(y, FLOOR_QUANTILE))


def apply_detection_limit(status: np.ndarray, pred: np.ndarray, lo: np.ndarray,
                          hi: np.ndarray, *, floor: float, margin: float) -> np.ndarray:
    """Turn rows whose lower bound is below ``margin * floor`` into upper limits.

    ``pred`` and ``lo`` of those rows are set to NaN in place; ``hi`` is kept. Returns the
    new status array (``status`` itself is not changed).
    """
    status = np.asarray(status, dtype=object)
    if margin <= 0:
        return status
    valued = np.isin(status, VALUE_STATUSES) & np.isfinite(hi)
    with np.errstate(invalid="ignore"):
        faint = valued & ~(lo >= margin * floor)
    if faint.any():
        status = status.copy()
        status[faint] = STATUS_UPPER_LIMIT
        pred[faint] = np.nan
        lo[faint] = np.nan
    return status
