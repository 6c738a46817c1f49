"""Benchmark of the tuning presets: the paper's randomized search vs the fast preset.

Usage::

    python benchmarks/bench_tuning.py                       # full paper budget (hours)
    python benchmarks/bench_tuning.py --paper-iter 60       # paper search capped at 60 configs

On the simulated SEIP catalogue (``simulate_seip(random_state=0)``), clean MIPS1 sample,
features ``paper+colours``, 70/30 train/test split, :func:`wise2spitzer.tuning.tune` runs
with ``preset="paper"`` (RandomizedSearchCV, 10-fold CV; 1000 configurations unless capped
with ``--paper-iter``) and ``preset="fast"`` (successive halving over trees + the lean
forest-size choice). Boruta selection runs once inside each call, on the training split.

Reported per preset: wall time (and its ratio to the fast preset; for a capped paper search
also the time extrapolated linearly to 1000 configurations), the chosen hyper-parameters,
the CV log-R2 of the chosen configuration, the test log-R2 of the refitted model, its mean
tree depth and its prediction speed (rows/s of ``predict`` on 200,000 rows, 1 job). Printed
as a table and written to ``--out`` (default ``benchmarks/results/tuning.csv``).

Times depend on the machine and its load; compare the ratios.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from wise2spitzer.datasets import simulate_seip
from wise2spitzer.features import build_features
from wise2spitzer.model import FluxRegressor
from wise2spitzer.samples import clean_mask, labelled_mask
from wise2spitzer.schema import get_target
from wise2spitzer.tuning import log_r2_score, tune

PAPER_FULL_ITER = 1000


def prediction_speed(model: FluxRegressor, X: pd.DataFrame, n_rows: int, seed: int) -> float:
    """Rows per second of ``model.predict`` on ``n_rows`` rows resampled from ``X``."""
    rng = np.random.default_rng(seed)
    big = X.iloc[rng.integers(0, len(X), n_rows)]
    model.set_params(n_jobs=1)
    start = time.perf_counter()
    model.predict(big)
    return n_rows / (time.perf_counter() - start)


def cv_score_of_choice(preset: str, search) -> float:
    if preset == "fast":
        table = search.lean_table_
        return float(table.loc[table["chosen"], "cv_r2"].iloc[0])
    return float(search.best_score_)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--paper-iter",
        type=int,
        default=PAPER_FULL_ITER,
        help="configurations of the paper search (default: the paper's 1000)",
    )
    parser.add_argument("--paper-folds", type=int, default=10)
    parser.add_argument(
        "--fast-iter",
        type=int,
        default=None,
        help="configurations of the fast search (default: its preset's 60)",
    )
    parser.add_argument("--form", choices=["paper", "ratio"], default="ratio")
    parser.add_argument("--target", default="mips1")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--speed-rows", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/tuning.csv"))
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=RuntimeWarning)

    target = get_target(args.target)
    df = simulate_seip(random_state=args.seed)
    rows = df[clean_mask(df) & labelled_mask(df, target)]
    X = build_features(rows, "paper+colours")
    y = rows[target.column].to_numpy(dtype=float)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, random_state=args.seed)
    base = FluxRegressor(
        form=args.form,
        counterpart=target.counterpart,
        select_features=True,
        interval_method="tree_sem",
        random_state=args.seed,
    )
    print(
        f"{target.key}: clean labelled rows {len(rows)} (train {len(X_tr)}, test {len(X_te)}), "
        f"features paper+colours, form {args.form!r}, n_jobs {args.n_jobs}"
    )
    capped = args.paper_iter < PAPER_FULL_ITER
    if capped:
        print(
            f"NOTE: paper preset capped at {args.paper_iter} of its {PAPER_FULL_ITER} "
            "configurations (--paper-iter); its full wall time is extrapolated linearly."
        )

    records = []
    for preset, n_iter, cv in (
        ("fast", args.fast_iter, None),
        ("paper", args.paper_iter, args.paper_folds),
    ):
        start = time.perf_counter()
        best, search = tune(
            X_tr,
            y_tr,
            base=base,
            preset=preset,
            cv=cv,
            n_iter=n_iter,
            random_state=args.seed,
            n_jobs=args.n_jobs,
        )
        wall = time.perf_counter() - start
        params = search.chosen_params_
        depth = float(np.mean([t.get_depth() for t in best.pipeline_[-1].estimators_]))
        records.append(
            {
                "preset": preset,
                "n_configs": len(search.cv_results_["params"]),
                "folds": search.n_splits_,
                "wall_s": wall,
                "cv_r2": cv_score_of_choice(preset, search),
                "test_r2": log_r2_score(best, X_te, y_te),
                "n_estimators": int(params["n_estimators"]),
                "max_depth": params["max_depth"],
                "min_samples_split": int(params["min_samples_split"]),
                "min_samples_leaf": int(params["min_samples_leaf"]),
                "max_features": round(float(params["max_features"]), 3),
                "mean_tree_depth": round(depth, 1),
                "predict_rows_per_s": prediction_speed(best, X_te, args.speed_rows, args.seed),
                "features": ",".join(map(str, search.selected_features_)),
            }
        )
        print(f"  {preset}: {wall:.0f} s", flush=True)

    table = pd.DataFrame(records).set_index("preset")
    fast_wall = table.loc["fast", "wall_s"]
    table["wall_ratio_to_fast"] = table["wall_s"] / fast_wall
    table["wall_s_full_budget"] = table["wall_s"]
    if capped:
        table.loc["paper", "wall_s_full_budget"] = (
            table.loc["paper", "wall_s"] * PAPER_FULL_ITER / args.paper_iter
        )
    table["full_budget_ratio_to_fast"] = table["wall_s_full_budget"] / fast_wall
    table["speed_ratio_to_paper"] = (
        table["predict_rows_per_s"] / table.loc["paper", "predict_rows_per_s"]
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out)
    shown = table.drop(columns=["features"]).T
    with pd.option_context("display.float_format", "{:.4g}".format, "display.width", 120):
        print(shown.to_string())
    print(f"features (Boruta, once per call): {table.loc['fast', 'features']}")
    print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
