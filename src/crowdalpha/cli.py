"""The `crowdalpha` command: one subcommand per user job.

Every command finds its state the same way: ``--home DIR`` or the
``CROWDALPHA_HOME`` variable (default ``./crowdalpha-home``). Errors caused
by input print one line starting with ``error:`` and exit with status 1.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from crowdalpha import __version__
from crowdalpha.errors import USER_ERRORS

app = typer.Typer(
    name="crowdalpha",
    help="A self-hostable crowdsourced ML tournament for a market-neutral equity fund.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@dataclass(frozen=True)
class Context:
    """What every command needs to find its state."""

    home: Path


def _version(value: bool) -> None:
    if value:
        typer.echo(f"crowdalpha {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    home: Annotated[Path, typer.Option(envvar="CROWDALPHA_HOME",
                                       help="Folder holding the database and the file store.")]
    = Path("crowdalpha-home"),
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Run a tournament, build its data, and score models."""
    ctx.obj = Context(home=home)


data_app = typer.Typer(help="Build and inspect tournament datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")


def _progress_bar(description: str):
    """A rich progress bar and the ``(done, total)`` callback that drives it."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                   TimeElapsedColumn(), transient=False)
    task = bar.add_task(description, total=None)

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    return bar, update


@data_app.command("build")
def data_build(
    out: Annotated[Path, typer.Option(help="Folder to create the next version vN in.")],
    preset: Annotated[str, typer.Option(help="Dataset shape: small, medium or large.")] = "small",
    seed: Annotated[int, typer.Option(help="Seed of the simulated market.")] = 0,
) -> None:
    """Simulate a market and build a dataset version (train, validation, live, ...)."""
    from crowdalpha.data import build_dataset

    bar, update = _progress_bar(f"building {preset} dataset")
    with bar:
        version_dir = build_dataset(out, preset=preset, seed=seed, progress=update)
    typer.echo(f"built {version_dir}")


@app.command()
def demo(
    ctx: typer.Context,
    preset: Annotated[str, typer.Option(help="Dataset shape to build if the home has none.")] = "small",
    seed: Annotated[int, typer.Option(help="Seed of the market and the participants.")] = 0,
) -> None:
    """The main job: build a dataset and score simulated participants on it.

    Builds a dataset version under HOME/datasets (once), lets simulated
    participants (example LightGBM, linear, half-neutralized, meta-model copy,
    random) predict the validation eras, scores them with the batch engine
    (CORR, MMC, BMC, FNC, feature exposure) and prints the leaderboard.
    """
    from rich import box
    from rich.console import Console
    from rich.table import Table

    from crowdalpha.data import layout
    from crowdalpha.sim.validation_demo import run_validation_demo

    home = ctx.obj.home
    datasets = home / "datasets"
    if layout.versions(datasets):
        typer.echo(f"using dataset {layout.latest_version(datasets)}")
        result = run_validation_demo(home, preset=preset, seed=seed)
    else:
        bar, update = _progress_bar(f"building {preset} dataset in {datasets}")
        with bar:
            result = run_validation_demo(home, preset=preset, seed=seed, progress=update)
    typer.echo("simulated participants predict the validation eras; scoring them ...")
    table = Table(box=box.SIMPLE_HEAD, title=f"Validation leaderboard: {result.eras} eras, {result.rows:,} rows ({result.version_dir})",
                  caption="per-era means; Sharpe and max drawdown (max DD) of CORR; FE max: largest |corr| "
                          "with a feature")
    table.add_column("model", no_wrap=True)
    for heading in result.leaderboard.columns:
        table.add_column(heading, justify="right")
    for model, row in result.leaderboard.iterrows():
        table.add_row(str(model), *(f"{value:+.4f}" for value in row))
    console = Console()
    console.width = max(console.width, 100)
    console.print(table)


def main() -> None:
    """Console entry point: user errors become one clear line and exit code 1."""
    try:
        app(standalone_mode=True)
    except USER_ERRORS as error:
        typer.echo(f"error: {error}", err=True)
        sys.exit(1)
