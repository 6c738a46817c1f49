"""The README Quick start is a contract: two commands, and CI runs exactly the test one."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _quick_start_commands():
    text = (ROOT / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", section, flags=re.DOTALL)]


def test_quick_start_has_exactly_two_commands():
    blocks = _quick_start_commands()
    assert len(blocks) == 2
    assert all(len(b.splitlines()) == 1 for b in blocks)
    assert "wise2spitzer reproduce" in blocks[0]
    assert "pytest" in blocks[1]


def test_ci_runs_exactly_the_readme_test_command():
    test_cmd = _quick_start_commands()[1]
    ci_lines = [ln.strip() for ln in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert test_cmd in ci_lines
