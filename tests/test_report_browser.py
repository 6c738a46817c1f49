"""report.html in a real headless browser: every image loads, no text overflows its box.

Needs a Chromium binary (``chromium``, ``chromium-browser`` or ``google-chrome`` on the PATH,
or ``/usr/bin/chromium``); skipped without one (CI does not install it). The checking script
is added to a copy of the page here, never to the shipped report.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from wise2spitzer.report import reproduce

from conftest import RANDOM_STATE

_CHECK = """
<script>
window.addEventListener("load", () => {
  const broken = [...document.images]
    .filter(im => !im.complete || im.naturalWidth === 0)
    .map(im => im.alt.slice(0, 60));
  const overflow = [...document.querySelectorAll("body *")]
    .filter(el => el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1)
    .map(el => el.tagName + ": " + (el.textContent || "").trim().slice(0, 60));
  const bodyOver = document.documentElement.scrollWidth > window.innerWidth + 1;
  const out = document.createElement("pre");
  out.id = "w2s-check";
  out.textContent = JSON.stringify({images: document.images.length, broken, overflow,
                                    bodyOver});
  document.body.appendChild(out);
});
</script>
"""


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def _check(browser: str, page: Path, width: int) -> dict:
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", "--disable-extensions", "--no-first-run",
           f"--window-size={width},900", "--virtual-time-budget=10000", "--dump-dom",
           page.as_uri()]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)
    found = re.search(r'<pre id="w2s-check">(.*?)</pre>', done.stdout, flags=re.DOTALL)
    assert found, f"the check did not run (exit {done.returncode}): {done.stderr[-500:]}"
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&")
                      .replace("&lt;", "<").replace("&gt;", ">"))


@pytest.fixture(scope="module")
def browser():
    found = _chromium()
    if found is None:
        pytest.skip("no Chromium binary installed")
    return found


@pytest.fixture(scope="module")
def report_page(browser, tmp_path_factory, sim_head):
    out = tmp_path_factory.mktemp("browser")
    reproduce(sim_head, out=out, preset="none", quick=True, random_state=RANDOM_STATE,
              n_jobs=1, formats=("png",), dpi=50, n_sed=2, targets=("mips1",),
              compare_forms=False)
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "w2s-check" not in page  # the shipped report carries no checking script
    checked = out / "checked.html"
    checked.write_text(page.replace("</body>", _CHECK + "</body>"), encoding="utf-8")
    return checked, page


@pytest.mark.slow
@pytest.mark.parametrize("width", [1400, 1024])
def test_every_image_loads_and_nothing_overflows(browser, report_page, width):
    checked, page = report_page
    result = _check(browser, checked, width)
    assert result["images"] == page.count("<img ") >= 5
    assert result["broken"] == []
    assert result["overflow"] == []
    assert result["bodyOver"] is False


def test_the_check_finds_a_broken_image_and_an_overflow(browser, tmp_path):
    """The checking script is not blind: a page with both faults is reported."""
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><html><body><img alt='missing' src='nope.png'>"
                   "<div style='width:50px;overflow:hidden;white-space:nowrap'>"
                   + "x" * 400 + "</div>" + _CHECK + "</body></html>", encoding="utf-8")
    result = _check(browser, bad, 800)
    assert result["broken"] == ["missing"]
    assert len(result["overflow"]) == 1
