"""A `wise2spitzer predict` killed with SIGKILL, then resumed: the same bytes as one clean run.

About 200,000 rows in chunks of 20,000: the run is killed once the first parts exist, and
``--resume`` reuses them (verified by size and SHA-256) and predicts only the rest.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

ROWS_COPIES = 67  # 3,000 simulated rows x 67 = 201,000 rows
CHUNK = "20000"
CODE = "import sys; from wise2spitzer.cli import main; sys.exit(main(sys.argv[1:]))"


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from wise2spitzer.datasets import simulate_seip
    from wise2spitzer.predictor import SpitzerPredictor

    folder = tmp_path_factory.mktemp("kill")
    sim = simulate_seip(3000, random_state=0)
    predictor = SpitzerPredictor().fit(
        sim, target="irac4", sample="unclean", preset="none", random_state=0, n_estimators=10
    )
    model = folder / "irac4.skops"
    predictor.save(model)
    big = pd.concat([sim] * ROWS_COPIES, ignore_index=True)
    big["objid"] = range(len(big))
    src = folder / "in.parquet"
    big.to_parquet(src, row_group_size=10_000)
    return folder, model, src


def _predict(model, src, out, *extra) -> list[str]:
    return [sys.executable, "-c", CODE, "predict", "-m", str(model), str(src), str(out),
            "--chunksize", CHUNK, "--threads", "1", "--no-progress", *extra]


@pytest.mark.slow
def test_sigkill_then_resume_gives_the_bytes_of_a_clean_run(setup):
    folder, model, src = setup
    ref, out = folder / "ref.parquet", folder / "out.parquet"
    subprocess.run(_predict(model, src, ref), check=True, capture_output=True, timeout=120)

    proc = subprocess.Popen(_predict(model, src, out), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    ckpt = folder / ".out.parquet.parts"
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if ckpt.is_dir() and len(list(ckpt.glob("part-*.json"))) >= 2:
                break
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert not out.exists()
    finished = len(list(ckpt.glob("part-*.json")))
    assert 2 <= finished < 11

    done = subprocess.run(_predict(model, src, out, "--resume"), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"{finished} resumed" in done.stdout
    with open(ref, "rb") as a, open(out, "rb") as b:  # cmp
        assert a.read() == b.read()
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == []
    assert os.path.getsize(out) > 0
