"""Every command of the README's "Using it" block runs as written, in order, in a fresh
directory (files a later command needs are made by an earlier one). ``fetch`` runs only with
``--dry-run``: a real fetch needs the network."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from wise2spitzer.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Using it", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, flags=re.DOTALL).group(1)
    return [line.split("  #", 1)[0].strip() for line in block.splitlines() if line.strip()]


COMMANDS = _commands()


def test_the_block_has_the_commands_the_issue_asks_for():
    joined = "\n".join(COMMANDS)
    for needed in ("datasets export", "predict", "describe-model", "--excess", "cuts",
                   "evaluate", "train"):
        assert needed in joined
    assert all(c.startswith("wise2spitzer ") for c in COMMANDS)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("readme")


@pytest.mark.slow
@pytest.mark.parametrize("command", COMMANDS)
def test_readme_command_runs_as_written(command, workdir, monkeypatch, capsys):
    args = shlex.split(command)[1:]
    if args[0] == "fetch" and "--dry-run" not in args:
        pytest.skip("fetch without --dry-run needs the network")
    monkeypatch.chdir(workdir)
    monkeypatch.setenv("COLUMNS", "80")
    code = main(args)
    out, err = capsys.readouterr()
    assert code == 0, f"{command}\n{out}\n{err}"
    assert "…" not in out  # no table cut at 80 columns
    outputs = [a for a in args if re.search(r"\.(parquet|skops|png)$", a)]
    if args[0] in ("predict", "train", "sed") or args[:2] == ["datasets", "export"]:
        assert (workdir / outputs[-1]).exists(), command
