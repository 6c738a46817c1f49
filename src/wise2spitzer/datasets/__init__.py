"""Embedded datasets: the simulated SEIP x cluster-members catalogue and real Upper Sco pairs.

``load(name)`` returns either by name (``"simulated"``, ``"upper-sco"``), in the SEIP column
conventions of :mod:`wise2spitzer.schema` (flux densities in uJy).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from ..errors import CatalogError
from ._simulate import SIMULATION_DEFAULT_ROWS, simulate_seip
from ._upper_sco import UPPER_SCO_CITATION, load_upper_sco

__all__ = [
    "DATASETS",
    "SIMULATION_DEFAULT_ROWS",
    "UPPER_SCO_CITATION",
    "load",
    "load_upper_sco",
    "simulate_seip",
]

#: Names accepted by :func:`load`, with a one-line description each.
DATASETS: dict[str, str] = {
    "simulated": (
        f"simulated SEIP x open-cluster-members catalogue ({SIMULATION_DEFAULT_ROWS} rows, "
        "calibrated to Fonseca-Bonilla et al. 2024; seeded by random_state)"
    ),
    "upper-sco": "real WISE + Spitzer photometry of 863 Upper Sco members (Luhman & Mamajek 2012)",
}


@lru_cache(maxsize=4)
def _simulated_cached(seed: int) -> pd.DataFrame:
    return simulate_seip(random_state=seed)


@lru_cache(maxsize=1)
def _upper_sco_cached() -> pd.DataFrame:
    return load_upper_sco()


def load(name: str, *, random_state=0) -> pd.DataFrame:
    """Load an embedded dataset by name.

    Parameters
    ----------
    name : {"simulated", "upper-sco"}
        ``"simulated"``: :func:`simulate_seip` at its default size; ``"upper-sco"``:
        :func:`load_upper_sco`. Case and ``_`` / ``-`` are not significant.
    random_state : int, numpy Generator or None, default 0
        Seed of the simulation (ignored for ``"upper-sco"``). Integer seeds are cached in
        the process, so repeated loads are cheap; each call returns its own copy.

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    CatalogError
        If ``name`` is not one of :data:`DATASETS`.

    Examples
    --------
    >>> from wise2spitzer.datasets import load
    >>> load("upper-sco").shape[0]
    863
    """
    key = str(name).strip().lower().replace("_", "-")
    if key == "simulated":
        if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
            return _simulated_cached(int(random_state)).copy()
        return simulate_seip(random_state=random_state)
    if key == "upper-sco":
        return _upper_sco_cached().copy()
    raise CatalogError(f"dataset name must be one of {sorted(DATASETS)}; got {name!r}")
