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


def main() -> None:
    """Console entry point: user errors become one clear line and exit code 1."""
    try:
        app(standalone_mode=True)
    except USER_ERRORS as error:
        typer.echo(f"error: {error}", err=True)
        sys.exit(1)
