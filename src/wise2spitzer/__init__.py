"""wise2spitzer: Spitzer-quality mid-infrared fluxes for sources that only WISE observed.

Implements the machine-learning method of Fonseca-Bonilla et al. (2024, A&A 691, A271):
learn the WISE -> Spitzer (MIPS1 24 um, IRAC4 8 um) relation on SEIP sources observed by both,
and predict the Spitzer fluxes of WISE-only sources inside the training domain.
"""

from __future__ import annotations

import importlib

from .errors import CatalogError, FetchError, ModelError, Wise2SpitzerError
from .schema import BANDS, TARGETS, get_target, mag_to_ujy, output_columns, ujy_to_mag

# The modeling stack (scikit-learn, LightGBM, astropy) takes seconds to import; loading it on
# first use keeps `import wise2spitzer` and `wise2spitzer --help` quick (PEP 562).
_LAZY = {
    "load_data": "catalog",
    "read_catalog": "catalog",
    "validate_catalog": "catalog",
    "write_catalog": "catalog",
    "load_upper_sco": "datasets",
    "simulate_seip": "datasets",
    "ConvexHullDomain": "domain",
    "FluxRegressor": "model",
    "SpitzerPredictor": "predictor",
    "PredictorBundle": "bundle",
    "predict_file": "batch",
    "as_frame": "tables",
    "to_table": "tables",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(__all__)

__version__ = "0.1.0"

__all__ = [
    "BANDS",
    "TARGETS",
    "CatalogError",
    "ConvexHullDomain",
    "FetchError",
    "FluxRegressor",
    "ModelError",
    "PredictorBundle",
    "SpitzerPredictor",
    "Wise2SpitzerError",
    "__version__",
    "as_frame",
    "get_target",
    "load_data",
    "load_upper_sco",
    "mag_to_ujy",
    "output_columns",
    "predict_file",
    "read_catalog",
    "simulate_seip",
    "to_table",
    "ujy_to_mag",
    "validate_catalog",
    "write_catalog",
]
