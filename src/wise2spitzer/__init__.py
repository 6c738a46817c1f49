"""wise2spitzer: Spitzer-quality mid-infrared fluxes for sources that only WISE observed.

Implements the machine-learning method of Fonseca-Bonilla et al. (2024, A&A 691, A271):
learn the WISE -> Spitzer (MIPS1 24 um, IRAC4 8 um) relation on SEIP sources observed by both,
and predict the Spitzer fluxes of WISE-only sources inside the training domain.
"""

from __future__ import annotations

from .errors import CatalogError, FetchError, ModelError, Wise2SpitzerError
from .schema import BANDS, TARGETS, get_target, mag_to_ujy, output_columns, ujy_to_mag

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "BANDS",
    "TARGETS",
    "CatalogError",
    "FetchError",
    "ModelError",
    "Wise2SpitzerError",
    "get_target",
    "mag_to_ujy",
    "output_columns",
    "ujy_to_mag",
]
