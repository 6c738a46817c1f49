"""``wise2spitzer reproduce``, ``sed`` and ``cuts``: the study, one SED, the quality cuts."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import typer
from rich.console import Console

from ..errors import CatalogError, ModelError
from ..schema import get_target
from .app import app
from .options import check_at_least, check_output_dir

__all__ = ["cuts", "reproduce", "sed"]


def _stderr_console() -> Console:
    console = Console(stderr=True)
    return console if console.is_terminal else Console(stderr=True, width=150)


@app.command("reproduce")
def reproduce(
    data: str = typer.Option(
        "simulated", "--data", help="simulated (embedded simulation), upper-sco (real Upper "
        "Sco table) or a catalogue file (CSV, ECSV, FITS, VOTable, Parquet)."),
    preset: str = typer.Option(
        "fast", "--preset", help="fast (a few minutes on 2 cores), paper (full search, "
        "10 folds) or none (default hyper-parameters)."),
    out: Path = typer.Option(Path("wise2spitzer-results"), "--out", help="Output directory."),
    random_state: int = typer.Option(0, "--random-state", help="Seed of every random step."),
    n_rows: int | None = typer.Option(
        None, "--n-rows", help="Simulate (or subsample) this many rows."),
    cv: int | None = typer.Option(None, "--cv", help="Folds of the evaluation (default: the "
                                  "preset's)."),
    quick: bool = typer.Option(False, "--quick", help="Smoke test: tiny forests, no search."),
    target: list[str] = typer.Option(
        ["mips1", "irac4"], "--target", help="Target(s) to study (repeatable): mips1, irac4."),
    n_estimators: int | None = typer.Option(
        None, "--n-estimators", help="Trees per forest (default: the preset's)."),
    select_features: bool = typer.Option(
        True, "--select-features/--no-select-features",
        help="Boruta feature selection (the paper's) or every feature of the set."),
    n_jobs: int = typer.Option(2, "--n-jobs", help="Parallel jobs."),
    pdf: bool = typer.Option(True, "--pdf/--no-pdf", help="Also write the figures as PDF."),
) -> None:
    """Run the paper's study (MIPS1 and IRAC4, clean and unclean samples) and write the report.

    Writes metrics.csv, report.md, report.html (self-contained), predictions.parquet, the
    fitted models with their cards (models/) and the figures (figures/) into --out.
    """
    from ..report import reproduce as run

    try:
        targets = [get_target(t).key for t in target]
    except ValueError as exc:
        raise ModelError(f"--target: {exc}") from exc
    check_at_least("--n-jobs", n_jobs)
    check_at_least("--n-estimators", n_estimators)
    check_at_least("--n-rows", n_rows)
    check_at_least("--cv", cv, 2)
    check_output_dir("--out", out)
    # Same regressor options as `wise2spitzer evaluate`, so both print the same numbers.
    extra: dict = {} if n_estimators is None else {"n_estimators": n_estimators}
    if not select_features:
        extra["select_features"] = False
    console = _stderr_console()
    t0 = time.perf_counter()
    last = {"step": None}

    with console.status("starting", spinner="dots") as status:

        def progress(message: str) -> None:
            step = message.split("]", 1)[0]
            if step != last["step"]:
                # A new numbered step gets its own line; folds and tuning only move the spinner.
                last["step"] = step
                console.print(f"[dim]{time.perf_counter() - t0:6.0f} s[/dim]  {message}")
            status.update(message)

        res = run(data, out=out, preset=preset, random_state=random_state, n_rows=n_rows,
                  cv=cv, quick=quick, n_jobs=n_jobs, targets=targets,
                  formats=("png", "pdf") if pdf else ("png",), progress=progress, **extra)
    for note in res.notes:
        console.print(f"[yellow]note:[/yellow] {note}")
    if res.simulated:
        console.print("[bold yellow]All numbers and figures come from SIMULATED data.[/]")
    typer.echo(f"report: {res.out / 'report.html'} (and report.md); metrics: "
               f"{res.out / 'metrics.csv'}; predictions: {res.out / 'predictions.parquet'}")
    typer.echo(f"finished in {res.elapsed_s:.0f} s")


def _model_predictions(path: Path, row_df) -> dict:
    """Predictions of one saved model or bundle for one row: every band it answers.

    Returns ``{"<target>:<label>": (pred, lo, hi)}`` for the bands with status ``ok``; a band
    without a value is reported on stderr with its status.
    """
    from ..bundle import PredictorBundle, model_column
    from ..schema import STATUS_OK, STATUS_UPPER_LIMIT, output_columns
    from .predict_cmd import load_model

    model = load_model(path)
    res = model.predict_catalog(row_df).iloc[0]
    is_bundle = isinstance(model, PredictorBundle)
    targets = model.targets if is_bundle else [model.target.key]
    out = {}
    for tk in targets:
        t = get_target(tk)
        cols = output_columns(t)
        status = str(res[cols["status"]])
        which = f", {res[model_column(t)]} model" if is_bundle else ""
        if status == STATUS_UPPER_LIMIT:
            # Drawn as an arrow down from the limit (plot_sed's (nan, nan, hi) form).
            label = f"{t.band} predicted upper limit ({path.stem}{which})"
            out[f"{t.key}:{label}"] = (np.nan, np.nan, res[cols["hi"]])
            continue
        if status != STATUS_OK:
            typer.echo(f"{path.name}: no {t.band} prediction ({status})", err=True)
            continue
        label = f"{t.band} predicted ({path.stem}{which})"
        out[f"{t.key}:{label}"] = (res[cols["pred"]], res[cols["lo"]], res[cols["hi"]])
    return out


@app.command("sed")
def sed(
    data: str = typer.Option(..., "--data", help="Catalogue file or embedded dataset name."),
    source: str = typer.Option(..., "--source", help="Value of the id column (objid)."),
    out: Path = typer.Option(..., "--out", help="Figure file (.png, .pdf or .svg)."),
    model: list[Path] = typer.Option(
        [], "--model", "-m", help="Saved model(s) or bundle(s) whose predictions to draw "
        "(repeatable; a bundle draws every band it answers); default: the prediction columns "
        "already in the catalogue, if any."),
    id_column: str = typer.Option("objid", "--id-column", help="Column holding --source."),
    unit: str = typer.Option("mJy", "--unit", help="uJy, mJy or Jy."),
    random_state: int = typer.Option(0, "--random-state", help="Seed of a simulated dataset."),
) -> None:
    """Draw the SED of one source: photometry plus predicted Spitzer fluxes with intervals.

    A source of simulated data (the embedded simulation or a file it wrote) is labelled so
    in the figure's title.
    """
    from matplotlib.figure import Figure

    from ..plots import UNIT_SCALE, style_context
    from ..report import describe_data, load_study_data
    from ..sed import plot_sed

    if unit not in UNIT_SCALE:
        raise CatalogError(f"--unit must be one of {list(UNIT_SCALE)}; got {unit!r}")
    if out.suffix.lower() not in (".png", ".pdf", ".svg"):
        raise CatalogError(f"--out must end in .png, .pdf or .svg; got {str(out)!r}")
    df, kind, _ = load_study_data(data, random_state=random_state)
    _, note, _ = describe_data(kind, data=data, df=df, random_state=random_state)
    if id_column not in df.columns:
        raise CatalogError(f"--id-column {id_column!r} is not a column of {data!r}")
    rows = df[df[id_column].astype(str) == str(source)]
    if rows.empty:
        raise CatalogError(
            f"--source {source!r}: no row of {data!r} has {id_column} = {source!r} "
            f"(e.g. {', '.join(map(str, df[id_column].head(3)))})")
    row_df = rows.iloc[[0]]
    predictions = None
    if model:
        predictions = {}
        for path in model:
            predictions.update(_model_predictions(path, row_df))
    with style_context():
        fig = Figure(figsize=(7.2, 4.4))
        plot_sed(row_df.iloc[0], predictions=predictions, unit=unit, ax=fig.add_subplot(),
                 title=f"{id_column} {source}{note}")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=200, bbox_inches="tight")
    typer.echo(f"SED of {id_column} {source}{note} written to {out}")


@app.command("cuts")
def cuts(
    data: str = typer.Option(..., "--data", help="Catalogue file or embedded dataset name."),
    out: Path = typer.Option(..., "--out", help="Output directory (figure + CSV)."),
    target: str = typer.Option("mips1", "--target", help="mips1 or irac4."),
    random_state: int = typer.Option(0, "--random-state", help="Seed of a simulated dataset."),
) -> None:
    """The WISE quality-cut analysis alone (paper Appendix A): counts per cut and the figure."""
    import pandas as pd

    from ..report import describe_data, load_study_data, quality_cut_analysis

    try:
        t = get_target(target)
    except ValueError as exc:
        raise ModelError(f"--target: {exc}") from exc
    check_output_dir("--out", out)
    df, kind, _ = load_study_data(data, random_state=random_state)
    _, note, _ = describe_data(kind, data=data, df=df, random_state=random_state)
    paths = quality_cut_analysis(df, out=out, target=t, data_note=note)
    table = pd.read_csv(paths["csv"])
    typer.echo(table.to_string(index=False))
    typer.echo(f"written: {', '.join(str(p) for p in paths.values())}")
