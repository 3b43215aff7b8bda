"""The read-only pages: home, leaderboard, rounds, models, the meta-model and the data.

Every route is a plain ``def`` (FastAPI runs it in its thread pool), reads
through one session opened for the request (``ReadSession``, never committed),
asks the tournament's domain functions for what it shows in a few queries, and
renders a template with ``render``. A round, model or file that does not exist
is a friendly 404 page, whatever the path holds: path parameters are taken as
text (slashes included) and parsed here rather than left to FastAPI's 422 or 404.

Numbers are shown as the domain gives them: money exact (``money``), scores to
four places (``score``), ratios as percentages (``percent``); the filters are
registered on the shared template environment.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Undefined
from sqlalchemy.orm import Session

from crowdalpha.data.layout import FEATURES_JSON, PUBLIC_FILES, versions
from crowdalpha.errors import NotFoundError
from crowdalpha.server.context import ReadSession, ServicesDep
from crowdalpha.server.signing import download_path, signed_url
from crowdalpha.tournament import leaderboard, rounds, stakes, submissions
from crowdalpha.tournament import models as models_mod
from crowdalpha.tournament.clock import Clock, wall_time
from crowdalpha.tournament.ledger import ZERO, format_amount
from crowdalpha.tournament.tables import (
    Account,
    Round,
    RoundStatus,
)
from crowdalpha.tournament.views import models as views_models
from crowdalpha.tournament.views import rounds as views_rounds
from crowdalpha.web import charts
from crowdalpha.web.rendering import render, templates

router = APIRouter(include_in_schema=False)

#: What the leaderboard can be sorted by, and the boards it has.
SORT_KEYS: tuple[str, ...] = leaderboard.SORT_KEYS
BOARDS: tuple[str, ...] = ("models", "accounts")
#: At most this many models get a line in a round's score-path chart (largest stakes first).
MAX_PATHS = 60
#: The meta-model page shows this many most recent scored rounds, and the daily paths of a few.
META_MODEL_ROUNDS = 52
META_MODEL_DAY_PATHS = 8
#: Top contributors to the meta-model listed.
TOP_CONTRIBUTORS = 25
#: Newest stake movements listed on a model's page (the chart has them all).
STAKE_ROWS = 100
_MAX_NUMBER_DIGITS = 9  # a round number longer than this does not exist (and would overflow SQL)


# --- formatting (template filters) ---------------------------------------------------


def _missing(value: Any) -> bool:
    """No value to show: None, NaN, or a name the template does not have."""
    return (
        value is None
        or isinstance(value, Undefined)
        or (isinstance(value, float) and math.isnan(value))
    )


def score(value: float | None, places: int = 4) -> str:
    """A score to ``places`` decimals with its sign; an em dash when there is none."""
    return "—" if _missing(value) else f"{value:+.{places}f}"


def money(value: Decimal | None) -> str:
    """An exact amount with thousands separators and no trailing zeros: ``1,234.5``."""
    if _missing(value):
        return "—"
    text = format_amount(value)
    whole, _, fraction = text.partition(".")
    sign = "-" if whole.startswith("-") else ""
    grouped = f"{int(whole.lstrip('-')):,}"
    return f"{sign}{grouped}" + (f".{fraction}" if fraction else "")


def percent(value: float | Decimal | None, places: int = 2) -> str:
    """A ratio as a percentage (``0.0123`` -> ``+1.23%``); an em dash when there is none."""
    return "—" if _missing(value) else f"{float(value) * 100:+.{places}f}%"


def when(value: datetime | None) -> str:
    """A UTC time to the minute: ``2024-05-04 18:00 UTC``."""
    return "—" if _missing(value) else value.strftime("%Y-%m-%d %H:%M UTC")


def duration(seconds: float) -> str:
    """A countdown in words: ``1d 03h 20m 05s``; ``0s`` once it is over."""
    left = max(int(seconds), 0)
    days, left = divmod(left, 86400)
    hours, left = divmod(left, 3600)
    minutes, secs = divmod(left, 60)
    if days:
        return f"{days}d {hours:02d}h {minutes:02d}m {secs:02d}s"
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def size(n_bytes: int) -> str:
    """A file size in binary units: ``1.4 MiB``."""
    value = float(n_bytes)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


templates.env.filters.update(
    score=score, money=money, percent=percent, when=when, duration=duration, size=size
)


def wall_seconds_left(clock: Clock, until: datetime) -> float:
    """Real seconds until ``clock`` shows ``until`` (a countdown a person watches: on the
    live demo's accelerated clock, wall-clock seconds, not the market's)."""
    return (wall_time(clock, until) - wall_time(clock, clock.now())).total_seconds()


# --- dependencies --------------------------------------------------------------------


def not_found(request: Request, message: str) -> HTMLResponse:
    """The friendly 404 page."""
    return render(request, "not_found.html", status_code=404, message=message)


def _round_or_none(session: Session, text: str) -> Round | None:
    """Round number ``text`` (as typed in the URL), or None when there is no such round."""
    if not text.isdecimal() or not text.isascii() or len(text) > _MAX_NUMBER_DIGITS:
        return None
    try:
        return rounds.get_round(session, int(text))
    except NotFoundError:
        return None


# --- home ----------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: ReadSession, services: ServicesDep) -> HTMLResponse:
    now = services.clock.now()
    seen = views_rounds.overview(session)
    current = seen.current
    return render(
        request,
        "home.html",
        current=current,
        seconds_left=None if current is None else wall_seconds_left(services.clock, current.closes_at),
        next_open=services.schedule.next_open(now) if current is None else None,
        scoring=[
            {"round": r, "next_day": views_rounds.next_scoring_day_due(r)} for r in seen.scoring
        ],
        last_resolved=seen.last_resolved,
        totals=seen.totals,
        accounts=seen.accounts,
        models=seen.models,
    )


# --- leaderboard ---------------------------------------------------------------------


@router.get("/leaderboard", response_class=HTMLResponse)
def leaderboard_page(
    request: Request, session: ReadSession, sort: str = "corr", board: str = "models"
) -> HTMLResponse:
    sort = sort if sort in SORT_KEYS else "corr"
    board = board if board in BOARDS else "models"
    if board == "models":
        rows: Sequence[Any] = leaderboard.model_leaderboard(session, sort_by=sort)
    else:
        rows = leaderboard.account_leaderboard(session, sort_by=sort)
    return render(
        request,
        "leaderboard.html",
        rows=rows,
        sort=sort,
        board=board,
        sort_keys=SORT_KEYS,
        boards=BOARDS,
    )


# --- rounds --------------------------------------------------------------------------


@router.get("/rounds", response_class=HTMLResponse)
def rounds_page(request: Request, session: ReadSession) -> HTMLResponse:
    listing = reversed(views_rounds.round_listing(session))
    return render(
        request,
        "round.html",
        listing=[{"round": r.round, "models": r.models, "at_risk": r.at_risk} for r in listing],
    )


@router.get("/rounds/{number:path}", response_model=None)
def round_page(
    number: str, request: Request, session: ReadSession, services: ServicesDep
) -> Response:
    if not number:
        return RedirectResponse("/rounds", status_code=307)
    found = _round_or_none(session, number)
    if found is None:
        return not_found(request, f"There is no round {number[:40]!r}.")
    board = views_rounds.round_board(
        session, found, now=services.clock.now(), rules=services.rules, paths_for=MAX_PATHS
    )
    return render(
        request,
        "round.html",
        round=found,
        is_open=found.status == RoundStatus.OPEN,
        last_number=rounds.next_round_number(session) - 1,
        rows=board.rows,
        all_submissions=board.all_submissions,
        total_at_risk=board.total_at_risk,
        days=board.days,
        factor=board.factor,
        results=board.results,
        next_day=board.next_day_due,
        paths_shown=len(board.paths),
        score_chart=charts.score_paths(
            board.paths, div_id=charts.ROUND_SCORE_PATHS_ID, title="CORR by scoring day"
        ),
        reference_chart=charts.score_paths(
            {
                "meta-model": [(d.day, d.meta_model_corr) for d in board.days],
                "benchmark": [(d.day, d.benchmark_corr) for d in board.days],
            },
            div_id=charts.ROUND_REFERENCE_ID,
            title="Meta-model and benchmark CORR by day",
            empty="Not scored yet.",
        ),
    )


# --- models --------------------------------------------------------------------------


@router.get("/models/{name:path}", response_class=HTMLResponse)
def model_page(
    name: str, request: Request, session: ReadSession, services: ServicesDep
) -> HTMLResponse:
    try:
        model = models_mod.get_model(session, name)
    except NotFoundError:
        return not_found(request, f"There is no model {name[:64]!r}.")
    owner = session.get(Account, model.account_id)
    lines = views_models.model_rounds(session, model)
    resolved = [line for line in lines if line.final is not None]
    scoring = [line for line in lines if line.status != RoundStatus.RESOLVED]
    moves = views_models.stake_moves(session, model)
    payouts = views_models.model_payouts(session, model)
    current = rounds.current_round(session)
    current_submission = (
        None if current is None else submissions.counted_submission(session, model, current)
    )
    return render(
        request,
        "model.html",
        model=model,
        owner=owner.name if owner else "",
        stake=moves[-1].stake if moves else ZERO,
        pending=stakes.pending_release_balance(session, model),
        lines=list(reversed(lines)),
        resolved=resolved,
        moves=list(reversed(moves))[:STAKE_ROWS],
        moves_total=len(moves),
        payouts=payouts,
        paid=sum((p.amount for p, _ in payouts if p.amount > 0), ZERO),
        burned=-sum((p.amount for p, _ in payouts if p.amount < 0), ZERO),
        current=current,
        current_submission=current_submission,
        cumulative_chart=charts.cumulative_scores(
            [line.number for line in resolved],
            {
                m.upper(): [line.final[m] for line in resolved if line.final is not None]
                for m in ("corr", "mmc")
            },
            div_id=charts.MODEL_CUMULATIVE_ID,
        ),
        daily_chart=charts.score_paths(
            {
                f"round {line.number}": [(d, v["corr"]) for d, v in sorted(line.by_day.items())]
                for line in scoring
            },
            div_id=charts.MODEL_DAILY_ID,
            title="CORR by day of the rounds still scoring",
            empty="No round of this model is scoring now.",
        ),
        stake_chart=charts.stake_history(
            [m.at for m in moves], [m.stake for m in moves], div_id=charts.MODEL_STAKE_ID
        ),
    )


# --- meta-model ----------------------------------------------------------------------


@router.get("/meta-model", response_class=HTMLResponse)
def meta_model_page(request: Request, session: ReadSession, services: ServicesDep) -> HTMLResponse:
    table = views_rounds.meta_model_history(session, last=META_MODEL_ROUNDS)
    oldest_first = list(reversed(table))
    target = views_rounds.newest_round(session)
    made_of = (
        views_rounds.Contributors([], ZERO, 0) if target is None
        else views_rounds.contributors(
            session, target, now=services.clock.now(), top=TOP_CONTRIBUTORS
        )
    )
    return render(
        request,
        "meta_model.html",
        table=table,
        target=target,
        contributors=made_of.top,
        contributors_total=made_of.total,
        contributors_count=made_of.count,
        rounds_chart=charts.round_bars(
            [r.number for r, _ in oldest_first],
            {
                "meta-model": [days[-1].meta_model_corr for _, days in oldest_first],
                "benchmark": [days[-1].benchmark_corr for _, days in oldest_first],
            },
            div_id=charts.META_MODEL_ROUNDS_ID,
            title="CORR on the latest scored day of each round (final once resolved)",
        ),
        days_chart=charts.score_paths(
            {
                f"round {r.number}": [(d.day, d.meta_model_corr) for d in days]
                for r, days in oldest_first[-META_MODEL_DAY_PATHS:]
            },
            div_id=charts.META_MODEL_DAYS_ID,
            title="Meta-model CORR by scoring day",
        ),
    )


# --- data ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DatasetVersion:
    """A published dataset version: its public files with their sizes, and feature counts."""

    name: str
    files: list[tuple[str, int]]
    feature_sets: dict[str, int]
    targets: int | None


def dataset_versions(datasets_dir: Path) -> list[DatasetVersion]:
    """The versions in ``datasets_dir``, newest first; only the public files are listed."""
    found = []
    for folder in reversed(versions(datasets_dir)):
        files = [(n, (folder / n).stat().st_size) for n in PUBLIC_FILES if (folder / n).is_file()]
        sets: dict[str, int] = {}
        targets = None
        try:
            described = json.loads((folder / FEATURES_JSON).read_text())
            sets = {k: len(v) for k, v in described.get("feature_sets", {}).items()}
            targets = len(described.get("targets", []))
        except (OSError, ValueError, AttributeError, TypeError):
            pass  # the listing still shows the files
        found.append(DatasetVersion(folder.name, files, sets, targets))
    return found


@router.get("/data", response_class=HTMLResponse)
def data_page(request: Request, services: ServicesDep) -> HTMLResponse:
    found = dataset_versions(services.datasets_dir)
    return render(request, "data.html", versions=found, newest=found[0].name if found else "v1")


@router.get("/data/{version}/{name:path}", response_model=None)
def data_download(version: str, name: str, request: Request, services: ServicesDep) -> Response:
    """A dataset file: redirected (303) to a fresh signed download URL."""
    known = {folder.name for folder in versions(services.datasets_dir)}
    if version not in known or name not in PUBLIC_FILES:
        return not_found(request, f"There is no dataset file {version[:16]}/{name[:64]}.")
    if not (services.datasets_dir / version / name).is_file():
        return not_found(request, f"Dataset {version} has no file {name}.")
    url = signed_url(services.settings, "GET", download_path("datasets", f"{version}/{name}"),
                     now=services.clock.now().timestamp())
    return RedirectResponse(url, status_code=303)


__all__ = [
    "BOARDS",
    "SORT_KEYS",
    "DatasetVersion",
    "dataset_versions",
    "duration",
    "money",
    "not_found",
    "percent",
    "router",
    "score",
    "size",
    "wall_seconds_left",
    "when",
]
