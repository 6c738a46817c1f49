"""docs/tutorial.md runs as written: its python blocks, in order, in a temporary directory."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import pytest

TUTORIAL = Path(__file__).resolve().parents[1] / "docs" / "tutorial.md"


def _blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", TUTORIAL.read_text(), flags=re.S | re.M)


def test_the_tutorial_has_its_steps():
    text = TUTORIAL.read_text()
    for heading in ("Train", "Predict an astropy table", "Plot an SED", "Read the intervals"):
        assert re.search(rf"^## \d\. {heading}", text, flags=re.M), heading
    assert "simulated" in text.lower().split("## 1.")[0]  # said before any result is shown
    assert len(_blocks()) >= 6


@pytest.mark.slow
def test_the_tutorial_runs_as_written(tmp_path, monkeypatch, capsys):
    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "tutorial"}
    for i, block in enumerate(_blocks(), start=1):
        try:
            exec(compile(block, f"{TUTORIAL.name} block {i}", "exec"), namespace)
        except Exception as exc:  # noqa: BLE001 - say which block failed
            pytest.fail(f"{TUTORIAL.name}, python block {i} fails: "
                        f"{type(exc).__name__}: {exc}\n{block}")
    plt.close("all")
    for name in ("my_sources.fits", "predicted.fits", "sed.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    # The figure says its data are simulated; the answer kept the input's units and meta.
    assert "SIMULATED" in namespace["ax"].get_title()
    assert str(namespace["predicted"]["wise4"].unit) == "mJy"
    assert "simulated" in namespace["predicted"].meta["ORIGIN"]
    out = capsys.readouterr().out
    assert "mJy in, uJy out" in out and "observed fluxes inside" in out
