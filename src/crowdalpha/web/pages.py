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
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Undefined
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crowdalpha.data.layout import FEATURES_JSON, PUBLIC_FILES, versions
from crowdalpha.errors import NotFoundError
from crowdalpha.server.context import ReadSession, ServicesDep
from crowdalpha.server.signing import download_path, signed_url
from crowdalpha.tournament import leaderboard, ledger, resolution, rounds, stakes
from crowdalpha.tournament import models as models_mod
from crowdalpha.tournament.ledger import ZERO, format_amount
from crowdalpha.tournament.submissions import latest_submission
from crowdalpha.tournament.tables import (
    Account,
    AccountRole,
    JournalEntry,
    JournalLine,
    LedgerAccount,
    LedgerKind,
    Model,
    ModelKind,
    Round,
    RoundDay,
    RoundPayout,
    RoundStake,
    RoundStatus,
    Score,
    Submission,
)
from crowdalpha.tournament.views.rounds import round_payout_factor
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


@dataclass(frozen=True)
class MoneyTotals:
    """Tournament-wide ledger sums: active stakes, stakes awaiting release, paid, burned."""

    staked: Decimal = ZERO
    pending: Decimal = ZERO
    paid: Decimal = ZERO
    burned: Decimal = ZERO
    deposited: Decimal = ZERO


def money_totals(session: Session) -> MoneyTotals:
    """Balances of every kind of ledger account, summed in one query."""
    rows = session.execute(
        select(LedgerAccount.kind, func.sum(JournalLine.amount))
        .join(JournalLine, JournalLine.ledger_account_id == LedgerAccount.id)
        .group_by(LedgerAccount.kind)
    ).all()
    by_kind = {LedgerKind(kind): total or ZERO for kind, total in rows}
    return MoneyTotals(
        staked=by_kind.get(LedgerKind.STAKE, ZERO),
        pending=by_kind.get(LedgerKind.PENDING_RELEASE, ZERO),
        paid=-by_kind.get(LedgerKind.PAYOUT_POOL, ZERO),
        burned=by_kind.get(LedgerKind.BURNED, ZERO),
        deposited=-by_kind.get(LedgerKind.TREASURY, ZERO),
    )


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: ReadSession, services: ServicesDep) -> HTMLResponse:
    now = services.clock.now()
    current = rounds.current_round(session)
    scoring = [
        {
            "round": r,
            "next_day": None
            if r.scoring_day >= r.resolves_after_days
            else rounds.scoring_day_due(r, r.scoring_day + 1),
        }
        for r in rounds.rounds_scoring(session)
    ]
    last_resolved = session.scalars(
        select(Round)
        .where(Round.status == RoundStatus.RESOLVED)
        .order_by(Round.number.desc())
        .limit(1)
    ).first()
    accounts = session.scalar(
        select(func.count()).select_from(Account).where(Account.role == AccountRole.PARTICIPANT)
    )
    models = session.scalar(
        select(func.count()).select_from(Model).where(Model.kind == ModelKind.PARTICIPANT)
    )
    return render(
        request,
        "home.html",
        current=current,
        seconds_left=None if current is None else (current.closes_at - now).total_seconds(),
        next_open=services.schedule.next_open(now) if current is None else None,
        scoring=scoring,
        last_resolved=last_resolved,
        totals=money_totals(session),
        accounts=accounts or 0,
        models=models or 0,
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
    listed = list(session.scalars(select(Round).order_by(Round.number.desc())))
    submitted = dict(
        session.execute(
            select(Submission.round_id, func.count(func.distinct(Submission.model_id)))
            .where(Submission.valid)
            .group_by(Submission.round_id)
        ).all()
    )
    at_risk = dict(
        session.execute(
            select(RoundStake.round_id, func.sum(RoundStake.stake_at_risk)).group_by(
                RoundStake.round_id
            )
        ).all()
    )
    return render(
        request,
        "round.html",
        listing=[
            {"round": r, "models": submitted.get(r.id, 0), "at_risk": at_risk.get(r.id)}
            for r in listed
        ],
    )


@dataclass
class SubmissionRow:
    """A model's counted submission in a round, with its stake and newest scores."""

    model: str
    kind: ModelKind
    submitted_at: datetime
    late: bool
    stake: Decimal
    day: int | None = None
    scores: dict[str, float | None] = field(default_factory=dict)


def _latest_scores(scores: Any) -> dict[int, tuple[int, dict[str, float | None]]]:
    """Newest scored day of each submission in a ``round_scores`` frame:
    ``{submission id: (day, scores)}``."""
    latest: dict[int, tuple[int, dict[str, float | None]]] = {}
    for row in scores.itertuples(index=False):
        values = {m: getattr(row, m) for m in resolution.SCORE_METRICS}
        held = latest.get(row.submission_id)
        if held is None or row.day > held[0]:
            latest[int(row.submission_id)] = (int(row.day), values)
    return latest


@router.get("/rounds/{number:path}", response_model=None)
def round_page(
    number: str, request: Request, session: ReadSession, services: ServicesDep
) -> Response:
    if not number:
        return RedirectResponse("/rounds", status_code=307)
    found = _round_or_none(session, number)
    if found is None:
        return not_found(request, f"There is no round {number[:40]!r}.")
    is_open = found.status == RoundStatus.OPEN
    counted = resolution.counted_submissions(session, found)
    all_submissions = (
        session.scalar(
            select(func.count()).select_from(Submission).where(Submission.round_id == found.id)
        )
        or 0
    )
    names = {
        model_id: (name, ModelKind(kind))
        for model_id, name, kind in session.execute(
            select(Model.id, Model.name, Model.kind).where(
                Model.id.in_([s.model_id for s in counted])
            )
        )
    }
    # an open round freezes stakes at its close: until then show what would be frozen now
    staked = (
        stakes.stakes_at_close(session, at=services.clock.now())
        if is_open
        else rounds.stakes_at_risk(session, found)
    )
    scores = resolution.round_scores(session, found)
    latest = _latest_scores(scores)
    rows = []
    for sub in counted:
        name, kind = names[sub.model_id]
        day, values = latest.get(sub.id, (None, dict.fromkeys(resolution.SCORE_METRICS)))
        rows.append(
            SubmissionRow(
                model=name,
                kind=kind,
                submitted_at=sub.created_at,
                late=sub.late,
                stake=ZERO if sub.late else staked.get(sub.model_id, ZERO),
                day=day,
                scores=values,
            )
        )
    rows.sort(key=lambda r: (-r.stake, r.model))
    days = resolution.round_days(session, found)
    results = resolution.round_results(session, found)
    result_names = dict(
        session.execute(
            select(Model.id, Model.name).where(Model.id.in_([p.model_id for p in results]))
        ).all()
    )
    factor = round_payout_factor(session, found, services.rules)
    paths: dict[str, list[charts.Point]] = defaultdict(list)
    drawn = {r.model for r in rows[:MAX_PATHS]}
    for row in scores.itertuples(index=False):
        if row.model in drawn:
            paths[row.model].append((int(row.day), row.corr))
    return render(
        request,
        "round.html",
        round=found,
        is_open=is_open,
        last_number=rounds.next_round_number(session) - 1,
        rows=rows,
        all_submissions=all_submissions,
        total_at_risk=sum((r.stake for r in rows), ZERO),
        days=days,
        factor=factor,
        results=[(result_names[p.model_id], p) for p in results],
        next_day=None
        if found.scoring_day >= found.resolves_after_days or is_open
        else rounds.scoring_day_due(found, found.scoring_day + 1),
        paths_shown=len(drawn),
        score_chart=charts.score_paths(
            {name: paths[name] for name in sorted(paths)},
            div_id=charts.ROUND_SCORE_PATHS_ID,
            title="CORR by scoring day",
        ),
        reference_chart=charts.score_paths(
            {
                "meta-model": [(d.day, d.meta_model_corr) for d in days],
                "benchmark": [(d.day, d.benchmark_corr) for d in days],
            },
            div_id=charts.ROUND_REFERENCE_ID,
            title="Meta-model and benchmark CORR by day",
            empty="Not scored yet.",
        ),
    )


# --- models --------------------------------------------------------------------------


@dataclass
class RoundLine:
    """A model's counted submission in one round: its scores by day and the newest."""

    number: int
    status: RoundStatus
    days: int  # resolves_after_days
    submission_id: int
    late: bool
    by_day: dict[int, dict[str, float | None]] = field(default_factory=dict)
    stake_at_risk: Decimal | None = None

    @property
    def last_day(self) -> int:
        return max(self.by_day)

    @property
    def latest(self) -> dict[str, float | None]:
        return self.by_day[self.last_day]

    @property
    def final(self) -> dict[str, float | None] | None:
        """Its final scores: those of the last day of a resolved round (None before)."""
        if self.status != RoundStatus.RESOLVED:
            return None
        return self.by_day.get(self.days)


def model_rounds(session: Session, model: Model) -> list[RoundLine]:
    """Every round ``model`` was scored in, oldest first, with the scores of the submission
    that counts: the one scored furthest, then on time before late, then the newest (as
    the leaderboard's final scores pick it)."""
    rows = session.execute(
        select(
            Score,
            Round.number,
            Round.status,
            Round.resolves_after_days,
            Submission.late,
            Submission.created_at,
        )
        .join(Round, Round.id == Score.round_id)
        .join(Submission, Submission.id == Score.submission_id)
        .where(Score.model_id == model.id)
        .order_by(Round.number, Score.day)
    ).all()
    candidates: dict[int, dict[int, RoundLine]] = defaultdict(dict)
    order: dict[int, tuple[Any, ...]] = {}
    for s, number, status, days, late, created in rows:
        line = candidates[number].setdefault(
            s.submission_id,
            RoundLine(number, RoundStatus(status), days, s.submission_id, bool(late)),
        )
        line.by_day[s.day] = {m: getattr(s, m) for m in resolution.SCORE_METRICS}
        order[s.submission_id] = (bool(late), -created.timestamp(), -s.submission_id)
    at_risk = dict(
        session.execute(
            select(Round.number, RoundStake.stake_at_risk)
            .join(RoundStake, RoundStake.round_id == Round.id)
            .where(RoundStake.model_id == model.id)
        ).all()
    )
    chosen = []
    for number in sorted(candidates):
        lines = candidates[number].values()
        line = min(lines, key=lambda x: (-x.last_day, *order[x.submission_id]))
        line.stake_at_risk = at_risk.get(number)
        chosen.append(line)
    return chosen


@dataclass(frozen=True)
class StakeMove:
    """One movement of a model's active stake and the stake after it."""

    at: datetime
    kind: str
    round_number: int | None
    change: Decimal
    stake: Decimal


def stake_moves(session: Session, model: Model) -> list[StakeMove]:
    """Every journal line on the model's stake account, oldest first, with the running stake."""
    account = ledger.stake_account_of(session, model)
    rows = session.execute(
        select(
            JournalEntry.created_at,
            JournalEntry.kind,
            JournalEntry.round_number,
            JournalLine.amount,
        )
        .join(JournalLine, JournalLine.entry_id == JournalEntry.id)
        .where(JournalLine.ledger_account_id == account.id)
        .order_by(JournalEntry.id)
    ).all()
    moves, running = [], ZERO
    for at, kind, number, amount in rows:
        running += amount
        moves.append(StakeMove(at, str(kind).replace("_", " "), number, amount, running))
    return moves


@router.get("/models/{name:path}", response_class=HTMLResponse)
def model_page(
    name: str, request: Request, session: ReadSession, services: ServicesDep
) -> HTMLResponse:
    try:
        model = models_mod.get_model(session, name)
    except NotFoundError:
        return not_found(request, f"There is no model {name[:64]!r}.")
    owner = session.get(Account, model.account_id)
    lines = model_rounds(session, model)
    resolved = [line for line in lines if line.final is not None]
    scoring = [line for line in lines if line.status != RoundStatus.RESOLVED]
    moves = stake_moves(session, model)
    payouts = session.execute(
        select(RoundPayout, Round.number)
        .join(Round, Round.id == RoundPayout.round_id)
        .where(RoundPayout.model_id == model.id)
        .order_by(Round.number.desc())
    ).all()
    current = rounds.current_round(session)
    current_submission = None if current is None else latest_submission(session, model, current)
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


@dataclass(frozen=True)
class Contributor:
    """A staked submission in the meta-model and its weight (its share of the stakes)."""

    model: str
    account: str
    stake: Decimal
    weight: float


def contributors(
    session: Session, round: Round, now: datetime
) -> tuple[list[Contributor], Decimal, int]:
    """Who makes up ``round``'s meta-model: on-time counted submissions with a stake (frozen
    at the close; for the open round, as the stakes stand now). Largest first, with the
    total stake and how many there are."""
    if round.status == RoundStatus.OPEN:
        staked = stakes.stakes_at_close(session, at=now)
    else:
        staked = rounds.stakes_at_risk(session, round)
    weights = {
        s.model_id: staked[s.model_id]
        for s in resolution.counted_submissions(session, round)
        if not s.late and staked.get(s.model_id, ZERO) > 0
    }
    total = sum(weights.values(), ZERO)
    names = {
        model_id: (name, account)
        for model_id, name, account in session.execute(
            select(Model.id, Model.name, Account.name)
            .join(Account, Account.id == Model.account_id)
            .where(Model.id.in_(list(weights)))
        )
    }
    ranked = sorted(weights.items(), key=lambda kv: (-kv[1], names[kv[0]][0]))
    return (
        [
            Contributor(names[m][0], names[m][1], value, float(value / total))
            for m, value in ranked[:TOP_CONTRIBUTORS]
        ],
        total,
        len(weights),
    )


@router.get("/meta-model", response_class=HTMLResponse)
def meta_model_page(request: Request, session: ReadSession, services: ServicesDep) -> HTMLResponse:
    recent = list(
        session.scalars(
            select(Round.number)
            .join(RoundDay, RoundDay.round_id == Round.id)
            .group_by(Round.number)
            .order_by(Round.number.desc())
            .limit(META_MODEL_ROUNDS)
        )
    )
    rows = (
        session.execute(
            select(Round, RoundDay)
            .join(RoundDay, RoundDay.round_id == Round.id)
            .where(Round.number.in_(recent))
            .order_by(Round.number.desc(), RoundDay.day)
        ).all()
        if recent
        else []
    )
    by_round: dict[int, tuple[Round, list[RoundDay]]] = {}
    for r, day in rows:
        by_round.setdefault(r.number, (r, []))[1].append(day)
    table = [(r, days) for r, days in by_round.values()]
    oldest_first = list(reversed(table))
    target = (
        rounds.current_round(session)
        or session.scalars(select(Round).order_by(Round.number.desc()).limit(1)).first()
    )
    top, total, count = (
        ([], ZERO, 0) if target is None else contributors(session, target, services.clock.now())
    )
    return render(
        request,
        "meta_model.html",
        table=table,
        target=target,
        contributors=top,
        contributors_total=total,
        contributors_count=count,
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
    url = signed_url(services.settings, "GET", download_path("datasets", f"{version}/{name}"))
    return RedirectResponse(url, status_code=303)


__all__ = [
    "BOARDS",
    "SORT_KEYS",
    "Contributor",
    "DatasetVersion",
    "MoneyTotals",
    "RoundLine",
    "StakeMove",
    "contributors",
    "dataset_versions",
    "duration",
    "model_rounds",
    "money",
    "money_totals",
    "percent",
    "router",
    "score",
    "size",
    "stake_moves",
    "when",
]
