"""The docstring examples of every module of the package run as written.

Every module of ``wise2spitzer`` is imported by name (found with ``pkgutil.walk_packages``) and
its examples are run with :mod:`doctest`, with the option flags of the ``doctest_optionflags``
ini setting (the ones ``pytest --doctest-modules src/wise2spitzer`` uses). A module that
cannot be imported because an optional dependency is absent is skipped. A failing example
fails the test of its module.

While a module's examples are known to be broken (e.g. in the middle of moving code), list
the module in :data:`KNOWN_FAILING`: its test is then an expected failure (XFAIL) and turns
into a failure (XPASS, strict) as soon as the examples pass again, so the entry cannot be
forgotten.
"""

from __future__ import annotations

import doctest
import importlib
import io
import pkgutil

import matplotlib.pyplot as plt
import pytest

import wise2spitzer

PACKAGE = "wise2spitzer"
#: Modules not imported: running ``python -m wise2spitzer`` is what ``__main__`` is for.
NOT_IMPORTED = {f"{PACKAGE}.__main__"}
#: Modules whose docstring examples are known to fail (none: every example passes).
KNOWN_FAILING: set[str] = set()
#: Option flags pytest knows that :mod:`doctest` does not (they have no effect here).
PYTEST_ONLY_FLAGS = {"ALLOW_UNICODE", "ALLOW_BYTES", "NUMBER"}


def _module_names() -> list[str]:
    names = [PACKAGE]
    for info in pkgutil.walk_packages(
        wise2spitzer.__path__, prefix=f"{PACKAGE}.", onerror=lambda name: None
    ):
        if info.name not in NOT_IMPORTED:
            names.append(info.name)
    return sorted(names)


def _params() -> list:
    return [
        pytest.param(
            name,
            marks=pytest.mark.xfail(
                name in KNOWN_FAILING, reason="listed in KNOWN_FAILING", strict=True
            ),
        )
        for name in _module_names()
    ]


def _import(name: str):
    """Import module ``name``; skip the test if an optional dependency is absent."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing == PACKAGE or missing.startswith(f"{PACKAGE}."):
            raise
        pytest.skip(f"{name} needs {missing!r}, which is not installed")


def _option_flags(config) -> int:
    flags = 0
    for name in config.getini("doctest_optionflags"):
        if name not in PYTEST_ONLY_FLAGS:
            flags |= doctest.OPTIONFLAGS_BY_NAME[name]
    return flags


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.mark.parametrize("module_name", _params())
def test_docstring_examples(module_name, request, tmp_path, monkeypatch):
    module = _import(module_name)
    monkeypatch.chdir(tmp_path)  # an example that writes a file writes it here
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=_option_flags(request.config))
    report = io.StringIO()
    failed = attempted = 0
    for test in sorted(finder.find(module, module_name), key=lambda t: t.name):
        result = runner.run(test, out=report.write, clear_globs=True)
        failed += result.failed
        attempted += result.attempted
    if failed:
        pytest.fail(
            f"{failed} of {attempted} docstring examples of {module_name} fail:\n"
            + report.getvalue(),
            pytrace=False,
        )
