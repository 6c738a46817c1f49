"""Fault injection on the streaming path (wise2spitzer.batch.predict_file and `predict`).

Every fault must end as one clear line (a Wise2SpitzerError; the CLI prints
``wise2spitzer: error: ...`` and exits 2), with no temporary file left and the destination
untouched; a resumed run after damage must give the same bytes as a clean run.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wise2spitzer.batch import assembly, checkpoint, predict_file
from wise2spitzer.cli import main
from wise2spitzer.errors import CatalogError, ModelError, Wise2SpitzerError
from wise2spitzer.locking import OutputLockedError, output_lock

CHUNK = 500
STATUS = "i4_pred_status"
PRED = ["i4_f_pred", "i4_f_pred_lo", "i4_f_pred_hi", STATUS]


@pytest.fixture(scope="module")
def sim():
    from wise2spitzer.datasets import simulate_seip

    return simulate_seip(3000, random_state=0)


@pytest.fixture(scope="module")
def predictor(sim):
    from wise2spitzer.predictor import SpitzerPredictor

    return SpitzerPredictor().fit(
        sim, target="irac4", sample="unclean", preset="none", random_state=0, n_estimators=10
    )


@pytest.fixture(scope="module")
def model_file(predictor, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "irac4.skops"
    predictor.save(path)
    return str(path)


@pytest.fixture
def src(sim, tmp_path):
    path = tmp_path / "in.parquet"
    sim.to_parquet(path)
    return path


def _hidden(folder: Path) -> list[str]:
    """Hidden files and folders (temporary files, checkpoints, locks) in ``folder``."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def _cli(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("wise2spitzer: error: "), err
    return lines[0]


def _crash_after(n: int):
    def hook(i, result):
        if i == n - 1:
            raise RuntimeError("simulated kill")

    return hook


# ------------------------------------------------------------------ 1. one run per output
def test_a_second_run_to_the_same_output_is_refused_at_once(predictor, src, tmp_path):
    out = tmp_path / "out.parquet"
    refused = []

    def second_run(i, result):
        if i == 1:
            with pytest.raises(OutputLockedError, match="another wise2spitzer run .* is writing"):
                predict_file(predictor, src, out, chunksize=CHUNK, confidence=0.5)
            refused.append(i)

    predict_file(predictor, src, out, chunksize=CHUNK, on_chunk=second_run)
    assert refused == [1]
    predict_file(predictor, src, tmp_path / "ref.parquet", chunksize=CHUNK)
    assert out.read_bytes() == (tmp_path / "ref.parquet").read_bytes()  # no mixed rows
    assert _hidden(tmp_path) == []  # the lock file goes with the run


def test_cli_refuses_a_locked_output_with_one_line(model_file, src, tmp_path, capsys):
    out = tmp_path / "out.parquet"
    with output_lock(out):
        code, _, err = _cli(capsys, "predict", "-m", model_file, src, out)
    assert code == 2
    assert "is writing" in _one_error_line(err)
    assert not out.exists() and _hidden(tmp_path) == []


# ------------------------------------------------------------------ 2. verified parts
def _damage(ckpt: Path, kind: str) -> None:
    p0, p1 = checkpoint.part_path(ckpt, 0), checkpoint.part_path(ckpt, 1)
    if kind == "truncated":
        os.truncate(p1, p1.stat().st_size // 2)
    elif kind == "corrupted":
        data = bytearray(p1.read_bytes())
        mid = len(data) // 2
        data[mid : mid + 64] = bytes(64)
        p1.write_bytes(bytes(data))
    elif kind == "swapped":
        shutil.copyfile(p0, p1)
    elif kind == "no_record":
        checkpoint.record_path(ckpt, 1).unlink()


@pytest.mark.parametrize("kind", ["truncated", "corrupted", "swapped", "no_record"])
def test_resume_recomputes_a_damaged_part(predictor, src, tmp_path, kind):
    out, ref = tmp_path / "out.parquet", tmp_path / "ref.parquet"
    predict_file(predictor, src, ref, chunksize=CHUNK)
    with pytest.raises(RuntimeError, match="simulated kill"):
        predict_file(predictor, src, out, chunksize=CHUNK, on_chunk=_crash_after(3))
    ckpt = checkpoint.checkpoint_dir(out)
    _damage(ckpt, kind)
    summary = predict_file(predictor, src, out, chunksize=CHUNK, resume=True)
    assert summary.chunks == 6 and summary.chunks_reused == 2  # chunks 0 and 2
    assert out.read_bytes() == ref.read_bytes()
    assert not ckpt.exists() and _hidden(tmp_path) == []


def test_resume_ignores_parts_of_another_run_with_the_same_name(predictor, src, tmp_path):
    # A part with the right record but another chunk's rows is refused by its row count too.
    out = tmp_path / "out.parquet"
    with pytest.raises(RuntimeError):
        predict_file(predictor, src, out, chunksize=CHUNK, on_chunk=_crash_after(2))
    ckpt = checkpoint.checkpoint_dir(out)
    for name in ("part-0000001.arrow", "part-0000001.json"):
        shutil.copyfile(ckpt / name.replace("1", "0"), ckpt / name)
    summary = predict_file(predictor, src, out, chunksize=CHUNK, resume=True)
    assert summary.chunks_reused == 1
    got = pd.read_parquet(out)
    assert got["objid"].is_unique and len(got) == 3000


# ------------------------------------------------------------------ 3. validate before work
BAD_OPTIONS = [
    ({"chunksize": 0}, ModelError, "chunksize must be a positive integer; got 0"),
    ({"chunksize": 2.5}, ModelError, "chunksize must be a positive integer; got 2.5"),
    ({"engine": "spark"}, ModelError, r"engine must be one of \['local', 'dask'\]; got 'spark'"),
    ({"n_workers": 0}, ModelError, "n_workers must be a positive integer; got 0"),
    ({"n_jobs": 0}, ModelError, "n_jobs must be a positive integer; got 0"),
    ({"n_jobs": True}, ModelError, "n_jobs must be a positive integer; got True"),
    ({"confidence": 1.5}, ModelError, r"confidence must lie in \(0, 1\); got 1.5"),
    ({"confidence": 0}, ModelError, r"confidence must lie in \(0, 1\); got 0"),
    ({"confidence": float("nan")}, ModelError, r"confidence must lie in \(0, 1\); got nan"),
    ({"confidence": "high"}, ModelError, r"confidence must lie in \(0, 1\); got 'high'"),
    ({"method": "bogus"}, ModelError, r"method must be one of .*got 'bogus'"),
    ({"fast": False, "method": "bogus"}, ModelError, r"method must be one of .*got 'bogus'"),
    ({"output_format": "xyz"}, CatalogError, "xyz"),
]


@pytest.mark.parametrize("kwargs, exc, pattern", BAD_OPTIONS)
def test_every_bad_option_is_refused_before_anything_is_created(
    predictor, src, tmp_path, kwargs, exc, pattern
):
    with pytest.raises(exc, match=pattern):
        predict_file(predictor, src, tmp_path / "out.parquet", **kwargs)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.parquet"]


@pytest.mark.parametrize(
    "name, pattern",
    [
        ("out.xyz", "cannot tell the format of output"),
        ("out.parquet.gz", "parquet"),
        ("adir", "is a directory; give a file name"),
        ("afile/out.parquet", "is not a directory"),
        ("in.parquet", "must differ from the input"),
    ],
)
def test_every_bad_output_path_is_refused_before_anything_is_created(
    predictor, src, tmp_path, name, pattern
):
    (tmp_path / "adir").mkdir()
    (tmp_path / "afile").write_text("")
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(Wise2SpitzerError, match=pattern):
        predict_file(predictor, src, tmp_path / name)
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert list((tmp_path / "adir").iterdir()) == []


def test_a_missing_output_folder_is_refused(predictor, src, tmp_path):
    with pytest.raises(FileNotFoundError, match="No such file or directory"):
        predict_file(predictor, src, tmp_path / "nope" / "out.parquet")
    assert not (tmp_path / "nope").exists()


# ------------------------------------------------------------------ 4. leftovers
def test_stale_temp_files_of_this_output_are_removed_and_no_others(predictor, src, tmp_path):
    out = tmp_path / "out.csv"
    mine = [
        tmp_path / ".out.csv.0123456789ab.tmp.csv",
        tmp_path / ".out.csv.meta.json.abcdef012345.tmp.json",
    ]
    others = [
        tmp_path / ".other.csv.0123456789ab.tmp.csv",  # another output's
        tmp_path / ".out.csv.notes",  # not a name the writer makes
        tmp_path / ".out.csv.0123456789abc.tmp.csv",  # 13 hex digits: not the writer's
    ]
    for p in mine + others:
        p.write_bytes(b"x" * 100)
    predict_file(predictor, src, out, chunksize=CHUNK)
    assert not any(p.exists() for p in mine)
    assert all(p.exists() for p in others)
    assert out.exists()


@pytest.mark.parametrize("where", ["part", "assembly"])
def test_an_interrupt_removes_temp_files_and_leaves_the_output(
    predictor, src, tmp_path, monkeypatch, where
):
    out = tmp_path / "out.parquet"
    out.write_bytes(b"old output")
    if where == "part":

        def hook(i, result):
            raise KeyboardInterrupt

        kwargs = {"on_chunk": hook}
    else:
        import pyarrow.parquet as pq

        def interrupted(self, table, *a, **k):
            raise KeyboardInterrupt

        monkeypatch.setattr(pq.ParquetWriter, "write_table", interrupted)
        kwargs = {}
    with pytest.raises(KeyboardInterrupt):
        predict_file(predictor, src, out, chunksize=CHUNK, **kwargs)
    assert out.read_bytes() == b"old output"
    hidden = _hidden(tmp_path)
    assert all(h == ".out.parquet.parts" for h in hidden), hidden  # the checkpoint only
    ckpt = checkpoint.checkpoint_dir(out)
    if ckpt.exists():
        assert not [p for p in ckpt.iterdir() if p.name.startswith(".")]


def test_cli_prints_one_line_and_exits_130_on_ctrl_c(model_file, src, tmp_path, monkeypatch,
                                                     capsys):
    import wise2spitzer.batch

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(wise2spitzer.batch, "predict_file", interrupted)
    code, out, err = _cli(capsys, "predict", "-m", model_file, src, tmp_path / "out.parquet")
    assert code == 130
    assert err.strip().splitlines() == ["wise2spitzer: interrupted"]


# ------------------------------------------------------------------ 5. text in a later chunk
def _with_text(sim: pd.DataFrame, row: int) -> pd.DataFrame:
    df = sim.copy()
    df["wise4"] = df["wise4"].astype(object)
    df.loc[row, "wise4"] = "abc"
    return df


def _write_input(df: pd.DataFrame, folder: Path, kind: str) -> Path:
    if kind == "csv":
        path = folder / "in.csv"
        df.to_csv(path, index=False)
    elif kind == "fits":
        from astropy.table import Table

        path = folder / "in.fits"
        text = df.assign(wise4=df["wise4"].astype(str))
        Table.from_pandas(text).write(path)
    else:  # a directory of Parquet parts: a file holding text has a text wise4 column
        path = folder / "parts"
        path.mkdir()
        for name, part in (("a", df.iloc[:1500]), ("b", df.iloc[1500:])):
            as_float = pd.to_numeric(part["wise4"], errors="coerce")
            has_text = as_float.isna().any()
            part.assign(wise4=part["wise4"].astype(str) if has_text else as_float).to_parquet(
                path / f"{name}.parquet"
            )
    return path


@pytest.mark.parametrize("kind", ["csv", "fits", "parquet"])
@pytest.mark.parametrize("out_ext", ["parquet", "csv", "fits"])
def test_text_in_a_later_chunk_is_a_bad_value_as_in_the_first(
    predictor, sim, tmp_path, kind, out_ext
):
    from wise2spitzer.catalog import read_catalog

    statuses = {}
    for row in (200, 2500):  # in the first chunk, in the sixth
        folder = tmp_path / f"row{row}"
        folder.mkdir()
        path = _write_input(_with_text(sim, row), folder, kind)
        out = folder / f"out.{out_ext}"
        summary = predict_file(predictor, path, out, chunksize=CHUNK)
        got = read_catalog(out)
        assert len(got) == summary.rows_out == 3000
        assert got["objid"].tolist() == sim["objid"].tolist()
        statuses[row] = got[STATUS].to_numpy()
        assert statuses[row][row] == "bad_value"
        assert _hidden(folder) == []
    # One rule whatever the chunk: the same statuses apart from the two damaged rows.
    expected = predictor.predict_catalog(sim)[STATUS].to_numpy()
    for row, got in statuses.items():
        mask = np.arange(3000) != row
        assert (got[mask] == expected[mask]).all()


def test_output_schema_is_decided_from_every_part():
    import pyarrow as pa

    schemas = [
        pa.schema([("a", pa.int64()), ("b", pa.float64()), ("c", pa.null())]),
        pa.schema([("a", pa.float64()), ("b", pa.string()), ("c", pa.string())]),
    ]
    got = assembly.output_schema(schemas)
    assert got.types == [pa.float64(), pa.string(), pa.string()]
    assert assembly.output_schema(schemas[::-1]).types == got.types  # order does not matter
    with pytest.raises(CatalogError, match=r"chunk 1 has columns \['x'\]"):
        assembly.output_schema([schemas[0], pa.schema([("x", pa.int64())])])


# ------------------------------------------------------------------ 6. disk full
class _FullDisk:
    """A file whose ``n``-th write fails with ENOSPC, as a full disk does."""

    def __init__(self, fh, counter: list[int], n: int) -> None:
        self.fh, self.counter, self.n = fh, counter, n

    def write(self, data):
        self.counter[0] += 1
        if self.counter[0] >= self.n:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return self.fh.write(data)

    def __getattr__(self, name):
        return getattr(self.fh, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.fh.close()


def _assert_clean_failure(tmp_path: Path, out: Path, before: bytes) -> None:
    assert out.read_bytes() == before
    hidden = _hidden(tmp_path)
    assert all(h == f".{out.name}.parts" for h in hidden), hidden
    ckpt = checkpoint.checkpoint_dir(out)
    if ckpt.exists():
        assert not [p for p in ckpt.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("n", [1, 3])
def test_disk_full_while_writing_a_part(predictor, src, tmp_path, monkeypatch, n):
    out = tmp_path / "out.parquet"
    out.write_bytes(b"old output")
    counter = [0]
    monkeypatch.setattr(
        checkpoint, "open", lambda *a, **k: _FullDisk(open(*a, **k), counter, n), raising=False
    )
    with pytest.raises(CatalogError, match=r"could not write .*part-.*: No space left on device"):
        predict_file(predictor, src, out, chunksize=CHUNK)
    _assert_clean_failure(tmp_path, out, b"old output")
    assert checkpoint.checkpoint_dir(out).exists() == (n > 1)  # kept only with finished chunks


@pytest.mark.parametrize("out_name", ["out.parquet", "out.csv.gz", "out.csv"])
def test_disk_full_while_assembling(predictor, src, tmp_path, monkeypatch, out_name):
    out = tmp_path / out_name
    out.write_bytes(b"old output")
    counter = [0]
    if out_name == "out.parquet":
        import pyarrow.parquet as pq

        real = pq.ParquetWriter.write_table

        def write_table(self, table, *a, **k):
            counter[0] += 1
            if counter[0] == 3:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return real(self, table, *a, **k)

        monkeypatch.setattr(pq.ParquetWriter, "write_table", write_table)
    else:
        real_stream = assembly.text_stream
        monkeypatch.setattr(
            assembly, "text_stream", lambda fh: _FullDisk(real_stream(fh), counter, 50)
        )
    with pytest.raises(CatalogError, match=r"could not write .*out.*: No space left on device"):
        predict_file(predictor, src, out, chunksize=CHUNK)
    _assert_clean_failure(tmp_path, out, b"old output")
    # Every chunk is finished: --resume only assembles again.
    monkeypatch.undo()
    summary = predict_file(predictor, src, out, chunksize=CHUNK, resume=True)
    assert summary.chunks_reused == 6 and _hidden(tmp_path) == []


def test_cli_disk_full_is_one_line(model_file, src, tmp_path, monkeypatch, capsys):
    counter = [0]
    monkeypatch.setattr(
        checkpoint, "open", lambda *a, **k: _FullDisk(open(*a, **k), counter, 2), raising=False
    )
    code, _, err = _cli(capsys, "predict", "-m", model_file, src, tmp_path / "out.parquet",
                        "--chunksize", CHUNK)
    assert code == 2
    assert "No space left on device" in _one_error_line(err)


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="POSIX file-size limit")
def test_file_size_limit_in_a_subprocess(model_file, src, tmp_path):
    import resource

    out = tmp_path / "out.parquet"
    out.write_bytes(b"old output")
    limit = 64 * 1024  # smaller than one part, larger than the lock and the manifest

    def limited():  # in the child: a write past the limit fails with EFBIG, not SIGXFSZ
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    code = "import sys; from wise2spitzer.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.run(
        [sys.executable, "-c", code, "predict", "-m", model_file, str(src), str(out),
         "--chunksize", str(CHUNK)],
        capture_output=True, text=True, preexec_fn=limited, env=env, timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    line = _one_error_line(proc.stderr)
    assert "could not write" in line and "File too large" in line
    _assert_clean_failure(tmp_path, out, b"old output")


# ------------------------------------------------------------------ 7. bad input files
def _bad_inputs(sim: pd.DataFrame, folder: Path) -> dict[str, Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq
    from astropy.table import Table

    rng = np.random.default_rng(0)
    junk = rng.integers(0, 256, 5000, dtype=np.uint8).tobytes()
    paths = {}

    def put(name: str, data: bytes) -> None:
        paths[name] = folder / name
        paths[name].write_bytes(data)

    put("garbage.parquet", junk)
    put("empty.parquet", b"")
    sim.iloc[:300].to_parquet(folder / "good.parquet")
    good = (folder / "good.parquet").read_bytes()
    put("truncated.parquet", good[: len(good) // 2])
    put("garbage.fits", junk)
    put("empty.fits", b"")
    Table.from_pandas(sim.iloc[:300]).write(folder / "good.fits")
    good = (folder / "good.fits").read_bytes()
    put("truncated.fits", good[: len(good) // 2 - 1000])
    put("csv_named.parquet", sim.iloc[:50].to_csv(index=False).encode())
    table = pa.Table.from_pandas(sim.iloc[:50], preserve_index=False)
    dup = pa.table(table.columns + [table.column("wise4")], names=table.column_names + ["wise4"])
    pq.write_table(dup, folder / "duplicated.parquet")
    paths["duplicated.parquet"] = folder / "duplicated.parquet"
    hats = folder / "hats"
    part = hats / "dataset" / "Norder=0" / "Dir=0"
    part.mkdir(parents=True)
    (hats / "hats.properties").write_text("dataproduct_type=object\n")
    sim.iloc[:300].to_parquet(part / "Npix=1.parquet")
    (part / "Npix=2.parquet").write_bytes(junk)
    paths["hats_one_corrupt_part"] = hats
    nested = folder / "nested"
    (nested / "a" / "b").mkdir(parents=True)
    sim.iloc[:50].to_parquet(nested / "a" / "b" / "x.parquet")
    (nested / "c" / "y.parquet").mkdir(parents=True)  # a folder named like a data file
    paths["nested_dataset"] = nested
    return paths


def test_each_bad_input_file_is_one_line_exit_2(sim, model_file, tmp_path, capsys):
    inputs = _bad_inputs(sim, tmp_path)
    results = {}
    for name, path in inputs.items():
        out = tmp_path / f"out_{name}.parquet"
        code, _, err = _cli(capsys, "predict", "-m", model_file, path, out,
                            "--chunksize", CHUNK)
        results[name] = (code, err)
        assert code == 2, (name, err)
        line = _one_error_line(err)
        assert "Traceback" not in err and len(line) < 1000, (name, line)
        assert not out.exists() and not list(tmp_path.glob(f".out_{name}*")), name


# ------------------------------------------------------------------ 8. stale output columns
def test_output_columns_already_in_the_input_are_replaced_on_both_paths(
    predictor, sim, tmp_path
):
    stale = sim.iloc[:1200].copy()
    stale["i4_f_pred"] = -1.0
    stale[STATUS] = "stale"
    path = tmp_path / "in.parquet"
    stale.to_parquet(path)
    outs = {}
    for fast in (True, False):
        out = tmp_path / f"out_{fast}.parquet"
        predict_file(predictor, path, out, chunksize=CHUNK, fast=fast)
        outs[fast] = pd.read_parquet(out)
    expected = predictor.predict_catalog(stale)
    for got in outs.values():
        # Replaced where the input had them; the two others appended, as predict_catalog does.
        assert list(got.columns) == list(expected.columns)
        assert (got[STATUS].to_numpy() == expected[STATUS].to_numpy()).all()
        assert "stale" not in set(got[STATUS]) and (got["i4_f_pred"] > 0).any()
        assert not (got["i4_f_pred"] == -1.0).any()
    pd.testing.assert_frame_equal(outs[True][[STATUS]], outs[False][[STATUS]])
    np.testing.assert_allclose(outs[True][PRED[:3]], outs[False][PRED[:3]], rtol=1e-6)
