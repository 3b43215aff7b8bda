"""The `crowdalpha` command: one subcommand per user job.

Every command finds its state the same way: ``--home DIR`` or the
``CROWDALPHA_HOME`` variable (default ``./crowdalpha-home``). Errors caused
by input print one line starting with ``error:`` and exit with status 1.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
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
    day_seconds: Annotated[float, typer.Option(min=0.01, help="Wall-clock seconds per market day "
                                                                "(the clock's speed).")] = 5.0,
    open_seconds: Annotated[float, typer.Option(min=0, help="Wall-clock seconds each round takes "
                                                            "submissions, at least, whatever "
                                                            "--day-seconds is (the clock slows "
                                                            "down while a round is open; 0: no "
                                                            "minimum).")] = 60.0,
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port of the server.")] = 8000,
    host: Annotated[str, typer.Option(help="Address the server listens on.")] = "127.0.0.1",
    seed: Annotated[int, typer.Option(min=0, help="Seed of the market (if built) and the "
                                                  "participants.")] = 0,
    participants: Annotated[int | None, typer.Option(min=1, help="Cast size, the operator's "
                                                                 "integration-test model included "
                                                                 "(default 8).")] = None,
    duration: Annotated[float | None, typer.Option(min=1, help="Stop after this many seconds "
                                                               "(default: run until Ctrl-C).")] = None,
    preset: Annotated[str, typer.Option(help="Dataset shape to build if HOME/datasets has none.")]
    = "small",
) -> None:
    """The main job: a live tournament on this machine that you can join.

    Starts the server on HOST:PORT (web pages, numerapi's GraphQL endpoint),
    a simulated market on an accelerated clock (one market day every
    DAY-SECONDS seconds; each round stays open OPEN-SECONDS wall-clock
    seconds, at least), the operator's loop that opens, closes, scores and
    resolves the weekly rounds as that clock says, and simulated participants
    that download each round's data, submit and stake through numerapi.
    Prints a ready-made API key for you.

    Runs in HOME/live on a copy of the newest dataset in HOME/datasets (built
    once, about 30 s); every start wipes HOME/live: a fresh tournament each
    time. Ctrl-C or SIGTERM stops it; then it prints the leaderboard and the
    ledger audit (exit 1 if the audit finds a problem).
    """
    from crowdalpha.data import layout
    from crowdalpha.sim.live import run_live_demo
    from crowdalpha.sim.validation_demo import ensure_dataset

    home = ctx.obj.home
    datasets = home / "datasets"
    if not layout.versions(datasets):
        bar, update = _progress_bar(f"building {preset} dataset in {datasets}")
        with bar:
            ensure_dataset(datasets, preset, seed, update)
    result = run_live_demo(home, day_seconds=day_seconds, open_seconds=open_seconds, port=port, host=host, seed=seed,
                           participants=participants, duration=duration, on_event=typer.echo,
                           preset=preset)
    if result.rounds_resolved:
        _print_leaderboard(result.models, f"Live tournament: {result.rounds_opened} rounds opened, "
                                          f"{result.rounds_resolved} resolved")
    else:
        typer.echo(f"{result.rounds_opened} rounds opened, none resolved yet (a round resolves "
                   f"20 trading days after its close, four weeks of the demo's calendar)")
    typer.echo(f"{result.participant_submissions} submissions from the simulated participants "
               f"through numerapi ({result.missed_turns} missed)")
    typer.echo(str(result.audit))
    typer.echo(f"kept in {result.folder} until the next demo: "
               f"crowdalpha --home {result.folder} leaderboard")
    if not result.audit.ok:
        raise typer.Exit(code=1)


admin_app = typer.Typer(help="Operator actions on the tournament database.", no_args_is_help=True)
app.add_typer(admin_app, name="admin")


@contextmanager
def _migrated_home(ctx: typer.Context):
    """The home's settings and an engine on its database, migrated to the current schema."""
    from crowdalpha.tournament.db import make_engine, migrate, prepare_home, resolve_settings

    settings = resolve_settings(ctx.obj.home)
    prepare_home(settings)
    engine = make_engine(settings.db_url)
    try:
        migrate(engine)
        yield settings, engine
    finally:
        engine.dispose()


@contextmanager
def _tournament_session(ctx: typer.Context):
    """One unit of work on the home's database (migrated to the current schema first)."""
    from crowdalpha.tournament.clock import SystemClock
    from crowdalpha.tournament.db import make_session_factory, session_scope

    with _migrated_home(ctx) as (_settings, engine), session_scope(make_session_factory(engine)) as session:
        yield session, SystemClock()


@admin_app.command("create-account")
def admin_create_account(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Account name: lowercase letters, digits, underscores.")],
    operator: Annotated[bool, typer.Option(help="Make it the operator's account (one per tournament); "
                                               "its key gets every scope, admin included.")] = False,
) -> None:
    """Create an account with an empty wallet and print its first API key (read, upload, stake;
    with --operator, also admin: the key for the operator's REST API)."""
    from crowdalpha.tournament.accounts import create_account
    from crowdalpha.tournament.keys import SCOPES, create_api_key
    from crowdalpha.tournament.tables import AccountRole

    role = AccountRole.OPERATOR if operator else AccountRole.PARTICIPANT
    with _tournament_session(ctx) as (session, clock):
        account = create_account(session, name, clock=clock, role=role)
        key = (create_api_key(session, account, clock=clock, scopes=SCOPES) if operator
               else create_api_key(session, account, clock=clock))
    typer.echo(f"created {'operator ' if operator else ''}account '{name}'")
    typer.echo(f"api key (shown once): {key.token}")


@admin_app.command("create-key")
def admin_create_key(
    ctx: typer.Context,
    account: Annotated[str, typer.Argument(help="Account name.")],
    scope: Annotated[list[str] | None, typer.Option(help="Scope: read, upload, stake (admin: operator only). "
                                                      "Repeat for several.")] = None,
) -> None:
    """Create another API key for an account and print it."""
    from crowdalpha.tournament.accounts import get_account
    from crowdalpha.tournament.keys import create_api_key

    with _tournament_session(ctx) as (session, clock):
        owner = get_account(session, account)
        key = (create_api_key(session, owner, clock=clock, scopes=set(scope)) if scope
               else create_api_key(session, owner, clock=clock))
    typer.echo(f"api key for '{account}' (shown once): {key.token}")


@admin_app.command("create-model")
def admin_create_model(
    ctx: typer.Context,
    account: Annotated[str, typer.Argument(help="Owning account.")],
    name: Annotated[str, typer.Argument(help="Model name, unique in the tournament.")],
    payout_basis: Annotated[str, typer.Option(help="What the model is paid on: corr or corr+mmc.")] = "corr",
) -> None:
    """Create a model for an account (at most 10 per account)."""
    from crowdalpha.tournament.accounts import get_account
    from crowdalpha.tournament.models import create_model

    with _tournament_session(ctx) as (session, clock):
        create_model(session, get_account(session, account), name, clock=clock, payout_basis=payout_basis)
    typer.echo(f"created model '{name}' of '{account}', paid on {payout_basis}")


def _wallet_movement(ctx: typer.Context, account: str, amount: str, kind: str) -> None:
    """Deposit into or withdraw from one account's wallet and print the new balance."""
    from crowdalpha.tournament.accounts import get_account
    from crowdalpha.tournament.ledger import deposit, format_amount, wallet_balance, withdraw

    move, done = {"deposit": (deposit, "deposited {} to"), "withdraw": (withdraw, "withdrew {} from")}[kind]
    with _tournament_session(ctx) as (session, clock):
        owner = get_account(session, account)
        move(session, owner, amount, clock=clock)
        balance = wallet_balance(session, owner)
    typer.echo(f"{done.format(amount)} '{account}'; wallet {format_amount(balance)}")


@admin_app.command("deposit")
def admin_deposit(
    ctx: typer.Context,
    account: Annotated[str, typer.Argument(help="Account to credit.")],
    amount: Annotated[str, typer.Argument(help="Exact decimal amount, e.g. 100 or 12.5.")],
) -> None:
    """Mint tokens into an account's wallet."""
    _wallet_movement(ctx, account, amount, "deposit")


@admin_app.command("withdraw")
def admin_withdraw(
    ctx: typer.Context,
    account: Annotated[str, typer.Argument(help="Account to debit.")],
    amount: Annotated[str, typer.Argument(help="Exact decimal amount.")],
) -> None:
    """Pay tokens out of an account's wallet (never more than it holds)."""
    _wallet_movement(ctx, account, amount, "withdraw")


@admin_app.command("audit")
def admin_audit(ctx: typer.Context) -> None:
    """Prove that every ledger entry balances and balances + stakes + burned = minted.

    Exits with status 1 and lists the problems when anything is off.
    """
    from crowdalpha.tournament.ledger import audit

    with _tournament_session(ctx) as (session, _clock):
        report = audit(session)
    typer.echo(str(report))
    if not report.ok:
        raise typer.Exit(code=1)


round_app = typer.Typer(help="Open, close, score and resolve rounds by hand.", no_args_is_help=True)
admin_app.add_typer(round_app, name="round")

ScheduleOption = Annotated[str, typer.Option(envvar="CROWDALPHA_SCHEDULE",
                                             help="Round cadence: weekly or daily.")]


@contextmanager
def _tournament(ctx: typer.Context, schedule: str = "weekly"):
    """The home's tournament on the wall clock, fed by the newest dataset in HOME/datasets."""
    from crowdalpha.tournament.clock import SystemClock
    from crowdalpha.tournament.db import make_session_factory, open_store
    from crowdalpha.tournament.feed import DatasetFeed
    from crowdalpha.tournament.rounds import schedule_named
    from crowdalpha.tournament.runner import Tournament

    with _migrated_home(ctx) as (settings, engine):
        feed = DatasetFeed.latest(settings.home / "datasets")
        yield Tournament(make_session_factory(engine), open_store(settings), feed, SystemClock(),
                         schedule_named(schedule))


def _echo_events(events) -> None:
    for event in events:
        typer.echo(str(event))


def _chosen_rounds(tournament, number: int | None) -> list[int]:
    from crowdalpha.tournament.errors import RoundStateError

    chosen = [number] if number is not None else tournament.scoring_rounds()
    if not chosen:
        raise RoundStateError("no round is closed and waiting to be scored")
    return chosen


@round_app.command("open")
def round_open(ctx: typer.Context, schedule: ScheduleOption = "weekly") -> None:
    """Open the next round now on the newest live era (publishing a new era when needed)."""
    with _tournament(ctx, schedule) as tournament:
        _echo_events([tournament.open_round()])


@round_app.command("close")
def round_close(
    ctx: typer.Context,
    early: Annotated[bool, typer.Option(help="Close now, before the scheduled close.")] = False,
) -> None:
    """Close the open round and freeze every model's stake at risk."""
    with _tournament(ctx) as tournament:
        _echo_events([tournament.close_round(early=early)])


@round_app.command("score")
def round_score(
    ctx: typer.Context,
    round_number: Annotated[int | None, typer.Option("--round", help="Only this round.")] = None,
) -> None:
    """Score the next trading day of every scoring round (or of one), without waiting for it.

    The last day of a round pays out its stakes and resolves it.
    """
    with _tournament(ctx) as tournament:
        for number in _chosen_rounds(tournament, round_number):
            event = tournament.score_next_day(number)
            typer.echo(str(event) if event else f"round {number} is already resolved")


@round_app.command("resolve")
def round_resolve(
    ctx: typer.Context,
    round_number: Annotated[int | None, typer.Option("--round", help="Only this round.")] = None,
) -> None:
    """Score every remaining day of every scoring round (or of one) and pay them out."""
    with _tournament(ctx) as tournament:
        for number in _chosen_rounds(tournament, round_number):
            events = tournament.resolve(number)
            _echo_events(events or [f"round {number} is already resolved"])


@round_app.command("list")
def round_list(ctx: typer.Context) -> None:
    """List the rounds: state, era, close, days scored, submissions and stake at risk."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    from crowdalpha.tournament.views.rounds import round_listing

    with _tournament_session(ctx) as (session, _clock):
        table = Table(box=box.SIMPLE_HEAD, title="Rounds")
        for heading in ("round", "era", "status", "closes", "days scored", "models", "at risk"):
            table.add_column(heading, justify="right" if heading != "status" else "left")
        for listed in round_listing(session):
            r = listed.round
            table.add_row(str(r.number), r.era, str(r.status), r.closes_at.strftime("%Y-%m-%d %H:%M"),
                          f"{r.scoring_day}/{r.resolves_after_days}", str(listed.models),
                          "-" if listed.at_risk is None else f"{listed.at_risk:,.2f}")
    if not table.rows:
        typer.echo("no rounds yet; open one with `crowdalpha admin round open`")
        return
    console = Console()
    console.width = max(console.width, 100)
    console.print(table)


@round_app.command("advance")
def round_advance(ctx: typer.Context, schedule: ScheduleOption = "weekly") -> None:
    """Do what the clock says is due now: close, score due days, open (run it from cron)."""
    with _tournament(ctx, schedule) as tournament:
        events = tournament.advance()
    _echo_events(events or ["nothing is due"])


def _print_leaderboard(models, title: str) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, title=title,
                  caption="reputation: mean final score over the last 52 resolved rounds; "
                          "amounts rounded to cents (the ledger is exact)")
    for heading in ("#", "model", "account", "kind", "CORR", "MMC", "BMC", "FNC", "rounds",
                    "stake", "paid", "burned"):
        text = heading in ("model", "account", "kind")
        table.add_column(heading, justify="left" if text else "right", no_wrap=True)
    for row in models:
        table.add_row(str(row.rank), row.name, row.account, str(row.kind),
                      *(f"{row.rep(m):+.4f}" for m in ("corr", "mmc", "bmc", "fnc")),
                      str(row.rounds_scored), *(f"{v:,.2f}" for v in (row.stake, row.paid, row.burned)))
    console = Console()
    console.width = max(console.width, 160)
    console.print(table)


@app.command("leaderboard")
def show_leaderboard(
    ctx: typer.Context,
    sort: Annotated[str, typer.Option(help="corr, mmc, bmc, fnc, stake or return.")] = "corr",
) -> None:
    """Print the model leaderboard of the home's tournament."""
    from crowdalpha.tournament.leaderboard import model_leaderboard

    with _tournament_session(ctx) as (session, _clock):
        rows = model_leaderboard(session, sort_by=sort)
    _print_leaderboard(rows, f"Leaderboard by {sort}")


@app.command("serve")
def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Address to listen on "
                                                  "(default: CROWDALPHA_HOST, else 127.0.0.1).",
                                             show_default=False)] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, show_default=False,
                                             help="Port to listen on "
                                                  "(default: CROWDALPHA_PORT, else 8000).")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Server processes.")] = 1,
    schedule: Annotated[str | None, typer.Option(show_default=False,
                                                 help="Round cadence: weekly or daily "
                                                      "(default: CROWDALPHA_SCHEDULE, else weekly)."
                                                 )] = None,
) -> None:
    """Run the HTTP server: numerapi-compatible GraphQL at /graphql, signed file URLs and the
    operator's REST API (docs at /docs).

    Settings: these options, else the CROWDALPHA_* variables (docs/api.md, "Server settings").
    """
    from crowdalpha.server.serving import run_server
    from crowdalpha.server.settings import resolve_server_settings

    settings = resolve_server_settings(ctx.obj.home, host=host, port=port, schedule=schedule)
    with _migrated_home(ctx):
        pass  # the schema is current before any worker opens the database
    typer.echo(f"crowdalpha serving {settings.home.home} at http://{settings.host}:{settings.port}"
               f"/graphql (operator API docs at http://{settings.host}:{settings.port}/docs)")
    run_server(settings, workers=workers)


season_app = typer.Typer(help="Replay whole seasons on the simulated market.", no_args_is_help=True)
app.add_typer(season_app, name="season")


@season_app.command("run")
def season_run(
    ctx: typer.Context,
    weeks: Annotated[int, typer.Option(min=1, help="Weekly rounds to open; all are resolved.")] = 8,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the simulated participants.")] = 0,
    participants: Annotated[int | None, typer.Option(min=1, help="Cast size (default 8).")] = None,
    out: Annotated[Path | None, typer.Option(help="Keep the season's database and files here "
                                                  "(a new or empty folder); default: a temporary one.")] = None,
    preset: Annotated[str, typer.Option(help="Dataset shape to build if HOME/datasets has none.")] = "small",
) -> None:
    """Replay N weeks of the tournament with simulated participants staking on the simulated
    market, then print the leaderboard and the ledger totals.

    Uses the newest dataset in HOME/datasets (building one the first time) on a copy, so the
    home's own tournament is left alone.
    """
    from crowdalpha.data import layout
    from crowdalpha.sim.validation_demo import ensure_dataset

    datasets = ctx.obj.home / "datasets"
    if layout.versions(datasets):
        version = layout.latest_version(datasets)
    else:
        bar, update = _progress_bar(f"building {preset} dataset in {datasets}")
        with bar:
            version = ensure_dataset(datasets, preset, 0, update)
    _replay_season(version, weeks=weeks, seed=seed, participants=participants, out=out)


@season_app.command("validate")
def season_validate(
    ctx: typer.Context,
    preset: Annotated[str, typer.Option(help="Dataset shape to build if the home has none.")] = "small",
    seed: Annotated[int, typer.Option(help="Seed of the market and the participants.")] = 0,
) -> None:
    """Score the simulated participants (example LightGBM, linear, half-neutralized,
    meta-model copy, random) on the validation eras and print their leaderboard."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    from crowdalpha.data import layout
    from crowdalpha.sim.validation_demo import run_validation_demo

    datasets = ctx.obj.home / "datasets"
    if layout.versions(datasets):
        typer.echo(f"using dataset {layout.latest_version(datasets)}")
        result = run_validation_demo(ctx.obj.home, preset=preset, seed=seed)
    else:
        bar, update = _progress_bar(f"building {preset} dataset in {datasets}")
        with bar:
            result = run_validation_demo(ctx.obj.home, preset=preset, seed=seed, progress=update)
    table = Table(box=box.SIMPLE_HEAD,
                  title=f"Validation leaderboard: {result.eras} eras, {result.rows:,} rows "
                        f"({result.version_dir})",
                  caption="per-era means; Sharpe and max drawdown (max DD) of CORR; FE max: "
                          "largest |corr| with a feature")
    table.add_column("model", no_wrap=True)
    for heading in result.leaderboard.columns:
        table.add_column(heading, justify="right")
    for model, row in result.leaderboard.iterrows():
        table.add_row(str(model), *(f"{value:+.4f}" for value in row))
    console = Console()
    console.width = max(console.width, 100)
    console.print(table)


def _replay_season(version: Path, *, weeks: int, seed: int, participants: int | None = None,
                   out: Path | None = None) -> None:
    """Run a season on a copy of ``version``, printing openings, resolutions, the
    leaderboard and the audit; exit 1 if the audit finds a problem."""
    import tempfile

    from crowdalpha.sim.season import run_season

    def show(event) -> None:  # a runner.Event
        if event.kind in ("opened", "resolved"):
            typer.echo(str(event))

    with tempfile.TemporaryDirectory(prefix="crowdalpha-season-") as scratch:
        folder = out if out is not None else Path(scratch) / "season"
        result = run_season(folder, version, weeks=weeks, seed=seed, participants=participants,
                            on_event=show)
        span = "1 week" if weeks == 1 else f"{weeks} weeks"
        _print_leaderboard(result.models, f"Season of {span}, seed {seed}: "
                                          f"{result.rounds_opened} rounds resolved")
        typer.echo(str(result.audit))
        if out is not None:
            typer.echo(f"season kept in {out}")
    if not result.audit.ok:
        raise typer.Exit(code=1)


def main() -> None:
    """Console entry point: user errors become one clear line and exit code 1."""
    try:
        app(standalone_mode=True)
    except USER_ERRORS as error:
        typer.echo(f"error: {error}", err=True)
        sys.exit(1)
