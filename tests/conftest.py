"""Shared test configuration: non-interactive plots, one seed, shared data and models, no network.

Seeds
    :data:`RANDOM_STATE` is the seed of every arbitrary random choice in the suite (import it
    with ``from conftest import RANDOM_STATE`` or ask for the ``random_state`` fixture). Tests
    spell out other seeds only where the test is about seeds (same seed, same numbers;
    another seed, other numbers) or about a dataset whose seed is part of its definition
    (the embedded ``"simulated"`` catalogue is seed 0).

Shared session fixtures
    ``sim_small`` (and its first rows, ``sim_head``), ``sim_full``, ``upper_sco``,
    ``mips1_predictor``, ``irac4_predictor`` and ``mips1_model_file`` are built once per run
    and shared by every module that asks for them. They are read-only: a test that changes
    one works on ``df.copy()`` or ``copy.deepcopy(predictor)``. Each is fingerprinted when
    built and checked again at the end of the run, so a test that mutates one makes the run
    fail instead of silently changing the data of the tests after it.

Markers
    ``slow`` marks tests that take more than about 5 s each, or that need a module fixture
    that does (a ``reproduce`` run); they still run in CI, ``-m "not slow"`` skips them for a
    quick run. ``remote_data`` tests need the network and are skipped
    unless ``--remote-data`` is given.
"""

from __future__ import annotations

import hashlib
import pickle

import matplotlib

matplotlib.use("Agg")

import pandas as pd
import pytest

#: Seed of every arbitrary random choice in the tests.
RANDOM_STATE = 42

#: Rows of the shared simulated catalogue: enough labelled MIPS1 rows in the clean sample for
#: the shared predictor to give a convex hull that holds a few hundred of the rows (the fast
#: path, streaming and CLI tests count them).
SIM_SMALL_ROWS = 3000

#: Rows of ``sim_head``, the first rows of ``sim_small``, for tests of whole command runs
#: (``reproduce``, ``train`` / ``evaluate`` through the CLI): they fit dozens of models, their
#: cost grows with the rows, and what they check is the wiring, not the statistics.
SIM_HEAD_ROWS = 1000

#: Settings of the shared MIPS1 predictor. Every interval method is fitted (the fast path and
#: the streaming tests compare them); 40 trees (the lean-forest test shrinks from 40).
MIPS1_FIT = {
    "target": "mips1",
    "sample": "clean",
    "feature_set": "paper",
    "preset": "none",
    "interval_method": "all",
    "n_estimators": 40,
    "select_features": False,
}

#: Settings of the shared IRAC4 predictor: the defaults a user gets (Boruta selection, the
#: richest feature set, conformal intervals only), made small and without a search.
IRAC4_FIT = {
    "target": "irac4",
    "preset": "none",
    "n_estimators": 15,
    "boruta_max_iter": 10,
    "conformal_cv": 2,
}


def pytest_addoption(parser):
    parser.addoption(
        "--remote-data", action="store_true", default=False, help="run tests that use the network"
    )


def pytest_collection_modifyitems(config, items):
    if config.getoption("--remote-data"):
        return
    skip = pytest.mark.skip(reason="needs the network; run with --remote-data")
    for item in items:
        if "remote_data" in item.keywords:
            item.add_marker(skip)


# ------------------------------------------------------------------ read-only guard
def fingerprint(obj) -> str:
    """A digest of ``obj`` that changes when a test mutates it.

    DataFrames are hashed cell by cell (with index, column names and dtypes); other objects
    through their pickle.
    """
    digest = hashlib.sha256()
    if isinstance(obj, pd.DataFrame):
        digest.update(repr((list(obj.columns), [str(t) for t in obj.dtypes])).encode())
        digest.update(pd.util.hash_pandas_object(obj, index=True).to_numpy().tobytes())
    else:
        digest.update(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))
    return digest.hexdigest()


def _shared(obj, name: str):
    """Yield ``obj`` to the tests, then fail if one of them changed it."""
    before = fingerprint(obj)
    yield obj
    assert fingerprint(obj) == before, (
        f"a test mutated the shared session fixture {name!r}; "
        "work on a copy (df.copy() or copy.deepcopy(obj))"
    )


# ------------------------------------------------------------------ shared fixtures
@pytest.fixture(scope="session")
def random_state():
    """:data:`RANDOM_STATE`, for tests that take the seed as a fixture."""
    return RANDOM_STATE


@pytest.fixture(scope="session")
def sim_small():
    """``simulate_seip(SIM_SMALL_ROWS, random_state=RANDOM_STATE)``, shared read-only."""
    from wise2spitzer.datasets import simulate_seip

    yield from _shared(simulate_seip(SIM_SMALL_ROWS, random_state=RANDOM_STATE), "sim_small")


@pytest.fixture(scope="session")
def sim_head(sim_small):
    """The first ``SIM_HEAD_ROWS`` rows of ``sim_small``, shared read-only."""
    yield from _shared(sim_small.head(SIM_HEAD_ROWS).copy(), "sim_head")


@pytest.fixture(scope="session")
def sim_full():
    """The embedded paper-sized ``"simulated"`` catalogue (its seed, 0, is part of its name).

    Only for tests of that dataset itself (calibration to the paper's counts) and of code
    whose default input it is.
    """
    from wise2spitzer.datasets import load

    yield from _shared(load("simulated"), "sim_full")


@pytest.fixture(scope="session")
def upper_sco():
    """The embedded Upper Sco table (``load_upper_sco()``), shared read-only."""
    from wise2spitzer.datasets import load_upper_sco

    yield from _shared(load_upper_sco(), "upper_sco")


@pytest.fixture(scope="session")
def mips1_predictor(sim_small):
    """A small :class:`SpitzerPredictor` for MIPS1 fitted on ``sim_small`` (``MIPS1_FIT``)."""
    from wise2spitzer.predictor import SpitzerPredictor

    model = SpitzerPredictor().fit(sim_small, random_state=RANDOM_STATE, **MIPS1_FIT)
    yield from _shared(model, "mips1_predictor")


@pytest.fixture(scope="session")
def irac4_predictor(sim_small):
    """A small :class:`SpitzerPredictor` for IRAC4 fitted on ``sim_small`` (``IRAC4_FIT``)."""
    from wise2spitzer.predictor import SpitzerPredictor

    model = SpitzerPredictor().fit(sim_small, random_state=RANDOM_STATE, **IRAC4_FIT)
    yield from _shared(model, "irac4_predictor")


@pytest.fixture(scope="session")
def mips1_model_file(mips1_predictor, tmp_path_factory):
    """``mips1_predictor`` saved as a skops file in a session temporary directory."""
    path = mips1_predictor.save(tmp_path_factory.mktemp("model") / "mips1.skops")
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    yield path
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before, (
        "a test overwrote the shared model file 'mips1_model_file'"
    )
