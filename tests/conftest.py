"""Shared test configuration: non-interactive plots, fixed seeds, no network."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest

RANDOM_STATE = 42


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


@pytest.fixture(scope="session")
def random_state():
    return RANDOM_STATE
