"""Benchmark of all-sky prediction: naive forest vs streaming, fast, lean and Dask paths.

Usage::

    python benchmarks/bench_predict.py --rows 1000000            # the comparison table
    python benchmarks/bench_predict.py --rows 10000000 --paths fast   # the 10-million-row run

What it does, in one run:

1. trains the paper's model on the simulated SEIP catalogue (``simulate_seip``, 26,068 rows;
   MIPS1, clean sample, the 16 paper features, 500 fully grown ExtraTrees) and selects a lean
   forest with :func:`wise2spitzer.batch.lean_forest` (test R2 change reported, must be
   >= -0.002; its conformal interval is recalibrated on the lean forest itself);
2. generates AllWISE-like input of ``--rows`` rows: simulated sources (new seeds, so none was
   seen in training) written with AllWISE column names and units (Vega ``w#mpro``,
   ``w#sigmpro`` null for upper limits, ``w#rchi2``, ``w#m``, ``w#nm``, ``cc_flags``...) as
   HATS catalogues (HEALPix-partitioned Parquet) via lsdb, cached between runs;
3. measures, each in its own process (so peak memory is per path), rows/s and peak resident
   memory (process tree, sampled with psutil) of

   * ``naive``: every partition read into one pandas frame, AllWISE columns translated, the
     paper's 500-tree forest ``predict`` on every row with complete features (no domain
     test, no interval, no status; reading the files is not timed);
   * ``streaming``: :func:`~wise2spitzer.batch.predict_file` with the paper's model through
     ``SpitzerPredictor.predict_catalog`` (statuses, domain, conformal interval);
   * ``fast_paper``: the same with the one-pass :class:`~wise2spitzer.batch.FastPredictor`;
   * ``fast``: the fast path with the lean forest (the recommended all-sky setting);
   * ``dask1``, ``dask2``: :func:`~wise2spitzer.batch.predict_dask` of the lean model over
     the lsdb catalogue on a ``LocalCluster`` of 1 and 2 worker processes, written as HATS
     (snappy compression like the local path; the HATS default, zstd level 15, took 5.2 s
     instead of 2.3 s for 500,000 rows predicted and written in one process);

4. writes ``bench_predict.csv``, ``bench_predict.md``, ``lean_forest.csv`` and
   ``bench_predict.png`` to ``--out`` (default ``benchmarks/results``), with the speed-up
   over ``naive`` and the wall time extrapolated to the 747 million rows of AllWISE.

Speeds depend on the machine and its load; compare the ratios, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

ALLWISE_ROWS = 747_634_026  # AllWISE Source Catalog
PATHS = ("naive", "streaming", "fast_paper", "fast", "dask1", "dask2")
HERE = Path(__file__).resolve().parent


# ------------------------------------------------------------------ input generation
def to_allwise(df: pd.DataFrame, *, id_prefix: str = "") -> pd.DataFrame:
    """Simulated SEIP rows as the AllWISE Source Catalog would hold them."""
    from wise2spitzer.schema import ujy_to_mag

    aw = pd.DataFrame(
        {
            "designation": id_prefix + df["objid"].astype(str),
            "ra": df["ra"].to_numpy(),
            "dec": df["dec"].to_numpy(),
        }
    )
    for i in range(1, 5):
        flux = df[f"wise{i}"].to_numpy(dtype=float)
        err = df[f"dwise{i}"].to_numpy(dtype=float)
        aw[f"w{i}mpro"] = ujy_to_mag(flux, f"W{i}")
        with np.errstate(divide="ignore", invalid="ignore"):
            # Null for upper limits (no SEIP error), exactly as AllWISE publishes them.
            aw[f"w{i}sigmpro"] = 2.5 / np.log(10.0) * err / flux
        aw[f"w{i}snr"] = df[f"w{i}snr"].to_numpy()
        aw[f"w{i}rchi2"] = df[f"wise{i}rchi2"].to_numpy()
        aw[f"w{i}m"] = df[f"wise{i}m"].to_numpy()
        aw[f"w{i}nm"] = df[f"wise{i}nm"].to_numpy()
    aw["cc_flags"] = df["cc_flags"].astype(str).to_numpy()
    aw["ext_flg"] = df["ext_flg"].to_numpy()
    return aw


def make_input(n_rows: int, root: Path, *, batch_rows: int = 500_000, seed: int = 1000) -> Path:
    """HATS catalogues (one per batch) holding ``n_rows`` AllWISE-like rows under ``root``."""
    import lsdb

    from wise2spitzer.datasets import simulate_seip

    done = root / "DONE.json"
    if done.exists() and json.loads(done.read_text()).get("rows") == n_rows:
        return root
    root.mkdir(parents=True, exist_ok=True)
    k, written = 0, 0
    while written < n_rows:
        n = min(batch_rows, n_rows - written)
        target = root / f"allwise_{k:03d}"
        if not (target / "collection.properties").exists():
            t0 = time.perf_counter()
            aw = to_allwise(simulate_seip(n, random_state=seed + k), id_prefix=f"B{k:03d}-")
            cat = lsdb.from_dataframe(
                aw, ra_column="ra", dec_column="dec", partition_rows=max(n // 8, 1000),
                margin_threshold=None,
            )
            cat.write_catalog(target, catalog_name=f"allwise_{k:03d}", progress_bar=False,
                              overwrite=True)
            print(f"  batch {k}: {n} rows in {time.perf_counter() - t0:.0f} s", flush=True)
        written += n
        k += 1
    done.write_text(json.dumps({"rows": n_rows, "batches": k}))
    return root


# ------------------------------------------------------------------ models
def make_models(root: Path, *, random_state: int = 0, log=print) -> dict:
    """The paper's model and the lean one, saved as skops files (cached)."""
    from wise2spitzer.batch import lean_forest
    from wise2spitzer.datasets import simulate_seip
    from wise2spitzer.predictor import SpitzerPredictor

    root.mkdir(parents=True, exist_ok=True)
    paper_path, lean_path = root / "paper.skops", root / "lean.skops"
    table_path = root / "lean_forest.csv"
    if paper_path.exists() and lean_path.exists() and table_path.exists():
        return {"paper": paper_path, "lean": lean_path, "table": pd.read_csv(table_path)}
    sim = simulate_seip(random_state=random_state)
    log("training the paper's model (500 fully grown trees) ...")
    paper = SpitzerPredictor().fit(
        sim, target="mips1", sample="clean", feature_set="paper", preset="none",
        random_state=random_state, n_estimators=500, min_samples_leaf=1, max_depth=None,
        select_features=False, n_jobs=1,
    )
    paper.save(paper_path)
    log("selecting a lean forest ...")
    result = lean_forest(paper, sim, random_state=random_state)
    result.predictor.save(lean_path)
    result.table.to_csv(table_path, index=False)
    return {"paper": paper_path, "lean": lean_path, "table": result.table}


# ------------------------------------------------------------------ one measured path
class PeakMemory:
    """Peak resident memory of this process and all its descendants, sampled every 0.1 s."""

    def __init__(self) -> None:
        import psutil

        self.proc = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _rss(self) -> int:
        import psutil

        total = 0
        for p in [self.proc, *self.proc.children(recursive=True)]:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            self._stop.wait(0.1)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())


def run_path(name: str, args) -> dict:
    """Run one path in this process; return its measurements."""
    from wise2spitzer.batch import predict_file
    from wise2spitzer.cli.predict_cmd import load_model

    data = Path(args.data)
    out_dir = Path(args.work)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = load_model(Path(args.lean if name in ("fast", "dask1", "dask2") else args.paper))
    result: dict = {"path": name}
    with PeakMemory() as mem:
        if name == "naive":
            result.update(_naive(model, data))
        elif name in ("streaming", "fast_paper", "fast"):
            t0, c0 = time.perf_counter(), time.process_time()
            s = predict_file(
                model, data, out_dir / f"{name}.parquet", chunksize=args.chunksize,
                fast=name != "streaming", n_jobs=1, progress=False, resume=False,
            )
            result.update(
                seconds=time.perf_counter() - t0, cpu_seconds=time.process_time() - c0,
                rows_in=s.rows_in, rows_out=s.rows_out, statuses=s.status_counts,
            )
        else:
            result.update(_dask(model, data, out_dir / name, n_workers=int(name[-1])))
    import resource

    result["peak_rss_mb"] = mem.peak / 2**20
    # Kernel-recorded high-water mark of this process alone (kB on Linux), as a cross-check.
    result["maxrss_self_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["rows_per_s"] = result["rows_in"] / result["seconds"]
    cpu = result.get("cpu_seconds")
    result["rows_per_cpu_s"] = result["rows_in"] / cpu if cpu else float("nan")
    return result


def _naive(model, data: Path) -> dict:
    import pyarrow.parquet as pq

    from wise2spitzer.batch import _parquet_files, from_allwise
    from wise2spitzer.features import build_features

    frame = pd.concat(
        [pq.read_table(f).to_pandas() for f in _parquet_files(data)], ignore_index=True
    )
    t0, c0 = time.perf_counter(), time.process_time()
    X = build_features(from_allwise(frame), "paper")[model.features]
    complete = np.isfinite(X.to_numpy()).all(axis=1)
    pred = model.regressor.predict(X[complete])
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"seconds": seconds, "cpu_seconds": cpu, "rows_in": len(frame),
            "rows_out": len(frame), "rows_predicted": len(pred)}


def _dask(model, data: Path, out: Path, *, n_workers: int) -> dict:
    import shutil
    import warnings

    import lsdb
    from distributed import Client, LocalCluster

    from wise2spitzer.batch import predict_dask

    shutil.rmtree(out, ignore_errors=True)
    catalogs = sorted(p.parent for p in data.glob("*/collection.properties"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=40)
    rows = 0
    statuses: dict = {}
    try:
        with Client(cluster) as client:
            client.wait_for_workers(n_workers)
            # CPU seconds of the workers and of this driver: rows per CPU second tells whether
            # a second worker adds work done or only contention, whatever else runs here.
            w0, c0 = client.run(time.process_time), time.process_time()
            t0 = time.perf_counter()
            for k, path in enumerate(catalogs):
                lazy = predict_dask(model, lsdb.read_hats(path), client=client)
                # HATS defaults to zstd level 15 (archival); snappy is what the local path
                # writes, so both paths pay the same for compression.
                lazy.write_catalog(out / f"part_{k:03d}", progress_bar=False,
                                   write_table_kwargs={"compression": "snappy"})
            seconds = time.perf_counter() - t0
            w1 = client.run(time.process_time)
            cpu = time.process_time() - c0 + sum(w1[w] - w0[w] for w in w1 if w in w0)
    finally:
        cluster.close()
    import pyarrow.parquet as pq

    from wise2spitzer.batch import _parquet_files

    for f in _parquet_files(out):
        t = pq.read_table(f, columns=["m1_pred_status"]).column(0).to_pandas()
        rows += len(t)
        for key, v in t.value_counts().items():
            statuses[key] = statuses.get(key, 0) + int(v)
    rows_in = sum(pq.ParquetFile(f).metadata.num_rows for f in _parquet_files(data))
    return {"seconds": seconds, "cpu_seconds": cpu, "rows_in": rows_in, "rows_out": rows,
            "statuses": {"m1_pred_status": statuses}}


# ------------------------------------------------------------------ report
def write_report(results: list[dict], lean_table: pd.DataFrame, out: Path, n_rows: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    df = pd.DataFrame(results)
    naive = df.loc[df["path"] == "naive", "rows_per_s"]
    base = float(naive.iloc[0]) if len(naive) else float("nan")
    df["speedup_vs_naive"] = df["rows_per_s"] / base
    if "rows_per_cpu_s" in df:
        cpu_base = df.loc[df["path"] == "naive", "rows_per_cpu_s"]
        df["cpu_speedup_vs_naive"] = df["rows_per_cpu_s"] / (
            float(cpu_base.iloc[0]) if len(cpu_base) else float("nan")
        )
    df["allwise_hours"] = ALLWISE_ROWS / df["rows_per_s"] / 3600
    df["rows_accounted"] = df["rows_in"] == df["rows_out"]
    df.insert(1, "rows", n_rows)
    keep = ["path", "rows", "rows_in", "rows_out", "rows_accounted", "seconds", "rows_per_s",
            "speedup_vs_naive", "rows_per_cpu_s", "cpu_speedup_vs_naive", "peak_rss_mb",
            "maxrss_self_mb", "allwise_hours"]
    keep = [c for c in keep if c in df]
    table = df[keep]
    table.to_csv(out / "bench_predict.csv", index=False)
    lean_table.to_csv(out / "lean_forest.csv", index=False)
    md = ["| " + " | ".join(keep) + " |", "|" + "---|" * len(keep)]
    for _, r in table.iterrows():
        md.append("| " + " | ".join(_fmt(r[c]) for c in keep) + " |")
    md += ["", "Lean forest selection (test R2 on log10 flux, same split):", ""]
    cols = list(lean_table.columns)
    md += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in lean_table.iterrows():
        md.append("| " + " | ".join(_fmt(r[c]) for c in cols) + " |")
    statuses = {r["path"]: r.get("statuses") for r in results if r.get("statuses")}
    md += ["", "Statuses: " + json.dumps(statuses)]
    (out / "bench_predict.md").write_text("\n".join(md) + "\n")

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.bar(table["path"], table["rows_per_s"], color="tab:blue")
    ax1.set_ylabel("rows / s")
    ax1.set_yscale("log")
    ax1.set_title(f"Prediction throughput ({n_rows:,} AllWISE-like rows)")
    for i, s in enumerate(table["speedup_vs_naive"]):
        ax1.annotate(f"x{s:.1f}", (i, table["rows_per_s"].iloc[i]), ha="center", va="bottom")
    ax1.set_ylim(top=table["rows_per_s"].max() * 1.6)  # room for the labels under the title
    ax2.bar(table["path"], table["peak_rss_mb"], color="tab:orange")
    ax2.set_ylabel("peak resident memory (MB)")
    for ax in (ax1, ax2):
        ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    fig.savefig(out / "bench_predict.png", dpi=120)
    plt.close(fig)


def _fmt(v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (float, np.floating)):
        if not np.isfinite(v):
            return ""
        return f"{v:,.4f}" if abs(v) < 10 else f"{v:,.1f}"
    return str(v)


# ------------------------------------------------------------------ main
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--paths", nargs="+", default=list(PATHS), choices=PATHS)
    ap.add_argument("--chunksize", type=int, default=200_000)
    ap.add_argument("--out", default=str(HERE / "results"))
    ap.add_argument("--cache", default=str(HERE / "results" / "cache"))
    ap.add_argument("--random-state", type=int, default=0)
    ap.add_argument("--run-one", help=argparse.SUPPRESS)  # internal: one path, JSON to stdout
    ap.add_argument("--data", help=argparse.SUPPRESS)
    ap.add_argument("--work", help=argparse.SUPPRESS)
    ap.add_argument("--paper", help=argparse.SUPPRESS)
    ap.add_argument("--lean", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.run_one:
        print("RESULT " + json.dumps(run_path(args.run_one, args)), flush=True)
        return 0

    out, cache = Path(args.out), Path(args.cache)
    out.mkdir(parents=True, exist_ok=True)
    models = make_models(cache / "models", random_state=args.random_state)
    print(models["table"].to_string(index=False), flush=True)
    print(f"generating {args.rows:,} AllWISE-like rows (cached) ...", flush=True)
    data = make_input(args.rows, cache / f"allwise_{args.rows}")
    results = []
    for name in args.paths:
        cmd = [sys.executable, __file__, "--run-one", name, "--data", str(data),
               "--work", str(cache / "work"), "--paper", str(models["paper"]),
               "--lean", str(models["lean"]), "--chunksize", str(args.chunksize)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False,
                              env={**os.environ, "PYTHONWARNINGS": "ignore"})
        line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        if proc.returncode != 0 or not line:
            print(f"{name}: failed\n{proc.stderr[-3000:]}", flush=True)
            continue
        r = json.loads(line[0][7:])
        print(f"{name:>11}: {r['rows_in']:,} rows in {r['seconds']:.1f} s = "
              f"{r['rows_per_s']:,.0f} rows/s, peak {r['peak_rss_mb']:,.0f} MB, "
              f"out {r['rows_out']:,}", flush=True)
        results.append(r)
    suffix = "" if args.rows == 1_000_000 else f"_{args.rows}"
    run_out = out if not suffix else out / f"rows{suffix}"
    run_out.mkdir(parents=True, exist_ok=True)
    write_report(results, models["table"], run_out, args.rows)
    print((run_out / "bench_predict.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
