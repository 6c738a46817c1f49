"""``wise2spitzer datasets``: describe and export the embedded datasets (or any catalogue file)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer

from ..catalog import EMBEDDED_DATASETS, FORMATS, embedded_name, load_data, write_catalog
from ..errors import CatalogError
from ..schema import WISE_FLUX_COLUMNS
from .app import ReadableGroup, app

__all__ = ["datasets_app", "describe", "export", "training_notes"]

datasets_app = typer.Typer(
    name="datasets",
    cls=ReadableGroup,
    help=(
        "The embedded datasets: 'simulated' (a physical simulation of the SEIP x "
        "cluster-members catalogue, the default) and 'upper-sco' (real photometry of Luhman & "
        "Mamajek 2012). NAME may also be a catalogue file."
    ),
    no_args_is_help=True,
)
app.add_typer(datasets_app, name="datasets")

#: One-line provenance notes shown by ``describe`` and stored by ``export``.
DESCRIPTIONS: dict[str, str] = {
    "simulated": (
        "SIMULATED data: a physical, seeded simulation of the SEIP x open-cluster-members "
        "catalogue (not real observations); every number derived from it is simulated."
    ),
    "upper-sco": (
        "Real Spitzer + WISE photometry of Upper Scorpius members (Luhman & Mamajek 2012, "
        "ApJ 758, 31), in SEIP conventions."
    ),
}
# The smallest table describe can summarise: the sample definitions start from the WISE fluxes.
DESCRIBE_REQUIRED: tuple[str, ...] = WISE_FLUX_COLUMNS

NameArg = Annotated[
    str,
    typer.Argument(
        help=f"An embedded dataset ({', '.join(EMBEDDED_DATASETS)}) or a catalogue file.",
        show_default=True,
    ),
]
RandomStateOpt = Annotated[
    int,
    typer.Option("--random-state", help="Seed of the simulated dataset.", show_default=True),
]


def _load(name: str, *, random_state: int, required: tuple[str, ...] = ()) -> pd.DataFrame:
    return load_data(name, random_state=random_state, required=required)


def _counts_frame(df: pd.DataFrame, *, source: str) -> pd.DataFrame:
    """Counts per sample and target as a flat table (whatever shape samples returns)."""
    from ..samples import sample_counts

    try:
        counts = sample_counts(df)
    except CatalogError as exc:
        # samples does not know which file it was given; the user needs that.
        raise CatalogError(f"{source}: {exc}") from None
    counts = counts.copy()
    if isinstance(counts.columns, pd.MultiIndex):
        counts.columns = [" ".join(str(p) for p in c if str(p)) for c in counts.columns]
    if not isinstance(counts.index, pd.RangeIndex):
        counts = counts.reset_index()
    return _long_counts(counts)


def _long_counts(counts: pd.DataFrame) -> pd.DataFrame:
    """One row per sample and target: a wide table of many targets does not fit a terminal."""
    pattern = re.compile(r"^(?P<target>.+)_(?P<kind>labelled|unlabelled)$")
    targets = list(dict.fromkeys(m["target"] for c in counts.columns if (m := pattern.match(c))))
    if "sample" not in counts.columns or not targets:
        return counts
    rows = []
    for record in counts.to_dict("records"):
        for target in targets:
            rows.append(
                {
                    "sample": record["sample"],
                    "rows": record.get("total", np.nan),
                    "target": target,
                    "labelled": record.get(f"{target}_labelled", np.nan),
                    "unlabelled": record.get(f"{target}_unlabelled", np.nan),
                }
            )
    return pd.DataFrame(rows)


def _rich_table(frame: pd.DataFrame, *, title: str):
    from rich.table import Table

    table = Table(title=title)
    for column in frame.columns:
        numeric = pd.api.types.is_numeric_dtype(frame[column])
        table.add_column(str(column), justify="right" if numeric else "left")
    for row in frame.itertuples(index=False):
        table.add_row(*(_cell(v) for v in row))
    return table


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "" if pd.isna(value) else (f"{value:.0f}" if value.is_integer() else f"{value:.3g}")
    return str(value)


@datasets_app.command("describe")
def describe(
    name: NameArg = "simulated",
    random_state: RandomStateOpt = 0,
) -> None:
    """Print rows, columns and the counts per sample (clean/unclean) and target."""
    from rich.console import Console

    embedded = embedded_name(name)
    df = _load(name, random_state=random_state, required=DESCRIBE_REQUIRED)
    source = embedded or repr(name)
    counts = _counts_frame(df, source=source)

    # A file exported from the simulation stays labelled as simulated (its metadata says so).
    simulated = embedded == "simulated" or df.attrs.get("meta", {}).get("simulated") is True
    console = Console(highlight=False)
    if embedded == "simulated":
        console.print(f"Dataset: simulated (random_state={random_state})")
    else:
        console.print(f"Dataset: {embedded or name}")
    if embedded in DESCRIPTIONS:
        console.print(DESCRIPTIONS[embedded])
    elif simulated:
        console.print(f"{DESCRIPTIONS['simulated']} (exported by wise2spitzer)")
    console.print(f"Rows: {len(df)}")
    console.print(f"Columns ({df.shape[1]}): {', '.join(map(str, df.columns))}")
    title = "Counts per sample and target" + (" (SIMULATED)" if simulated else "")
    console.print(_rich_table(counts, title=title))
    for line in training_notes(df):
        console.print(line)


def training_notes(df: pd.DataFrame) -> list[str]:
    """What ``train``/``evaluate`` would use of ``df`` by default, and why it differs."""
    from ..errors import Wise2SpitzerError
    from ..samples import ALL, CLEAN, CLEAN_FLAG_COLUMNS, has_clean_flags, labelled_mask
    from ..schema import TARGETS, get_target
    from ..training import training_table

    sample = CLEAN if has_clean_flags(df) else ALL
    notes = []
    if sample == ALL:
        notes.append(
            f"note: the table has no {' or '.join(CLEAN_FLAG_COLUMNS)} column, so it has no "
            "clean sample; train and evaluate use every row (sample 'all') unless --sample "
            "is given. The 'unclean' counts above only need a W4 value.")
    for t in map(get_target, TARGETS):
        if t.column not in df.columns:
            continue
        try:
            X, _, feature_set = training_table(df, target=t, sample=sample)
        except Wise2SpitzerError:
            continue
        n_lab = int(labelled_mask(df, t).sum()) if sample == ALL else None
        of = f" of {n_lab} labelled" if n_lab is not None else f" labelled {sample!r}"
        notes.append(
            f"train/evaluate {t.key}: {len(X)}{of} rows, those with every feature of "
            f"{feature_set!r} measured (W1..W4 > 0 and finite)")
    return notes


@datasets_app.command("export")
def export(
    name: NameArg,
    out: Annotated[
        Path,
        typer.Argument(help=f"Output file; format from its ending ({', '.join(FORMATS)})."),
    ],
    format: Annotated[
        str | None,
        typer.Option("--format", "-f", help=f"Output format: {', '.join(FORMATS)}."),
    ] = None,
    random_state: RandomStateOpt = 0,
    overwrite: Annotated[
        bool, typer.Option("--overwrite/--no-overwrite", help="Replace an existing OUT.")
    ] = True,
) -> None:
    """Write a dataset (or a converted catalogue file) in any supported format."""
    from .. import __version__

    embedded = embedded_name(name)
    df = _load(name, random_state=random_state)
    meta: dict[str, Any] = {
        "dataset": embedded or Path(name).name,
        "creator": f"wise2spitzer {__version__}",
        "flux_unit": "uJy",
    }
    if embedded == "simulated":
        meta.update(simulated=True, random_state=random_state)
    if embedded in DESCRIPTIONS:
        meta["description"] = DESCRIPTIONS[embedded]
    write_catalog(df, out, format=format, meta=meta, overwrite=overwrite)
    kind = " SIMULATED" if embedded == "simulated" else ""
    typer.echo(
        f"wrote {len(df)} rows x {df.shape[1]} columns of{kind} '{meta['dataset']}' to {out}"
    )
