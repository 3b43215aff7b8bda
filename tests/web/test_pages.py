"""The read-only pages against the app in-process: every number equals the database.

The module's home runs a small season by hand (three scoring days a round):
round 1 is resolved, round 2 is scoring after day 1, round 3 is open. ``a``
(paid on CORR+MMC) and ``b`` stake before round 1; ``b`` then takes 5 off; ``c``
stakes before round 2, misses its close and submits late. The operator's
benchmark model submits the example predictions every round. ``a`` alone
submits to round 3.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from crowdalpha.data.layout import PUBLIC_FILES
from crowdalpha.server.settings import ServerSettings, resolve_server_settings
from crowdalpha.tournament import (
    accounts,
    leaderboard,
    ledger,
    resolution,
    rounds,
    stakes,
    submissions,
)
from crowdalpha.tournament import feed as feed_mod
from crowdalpha.tournament import models as models_mod
from crowdalpha.tournament.clock import SystemClock
from crowdalpha.tournament.db import make_engine, session_scope
from crowdalpha.tournament.ledger import ZERO
from crowdalpha.tournament.payouts import PayoutRules, payout_factor
from crowdalpha.tournament.runner import Tournament
from crowdalpha.tournament.tables import (
    Model,
    ModelKind,
    PayoutBasis,
    RoundPayout,
    Score,
    Submission,
)
from crowdalpha.web import charts
from crowdalpha.web.pages import duration, money, percent, score, size
from tests.helpers.server import make_home, tournament_of
from tests.helpers.web import in_process

DAYS = 3
CLOCK = SystemClock()
NAMES = {"a": "pg_a", "b": "pg_b", "c": "pg_c"}
BENCHMARK = "pg_benchmark"


# --- a synchronous client and an HTML reader -------------------------------------------


class Pages:
    """GET requests to the app in this process, on one event loop (``in_process``'s client)."""

    def __init__(self, settings: ServerSettings) -> None:
        self._runner = asyncio.Runner()
        self._opened = in_process(settings)
        self.client: httpx.AsyncClient = self._runner.run(self._opened.__aenter__())

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self._runner.run(self.client.get(path, **kwargs))

    def page(self, path: str) -> str:
        """The HTML of a page that must answer 200."""
        answer = self.get(path)
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
        assert answer.headers["content-type"].startswith("text/html")
        return answer.text

    def close(self) -> None:
        try:
            self._runner.run(self._opened.__aexit__(None, None, None))
        finally:
            self._runner.close()


@dataclass
class Row:
    attrs: dict[str, str]
    cells: list[str] = field(default_factory=list)
    by_class: dict[str, str] = field(default_factory=dict)


class _Tables(HTMLParser):
    """Body rows of every ``<table id=...>``: their attributes and cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[Row]] = {}
        self._table: str | None = None
        self._row: Row | None = None
        self._cell: list[str] | None = None
        self._cell_class = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "table" and "id" in a:
            self._table = a["id"]
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self._row = Row(a)
        elif tag == "td" and self._row is not None:
            self._cell, self._cell_class = [], a.get("class", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._row is not None and self._cell is not None:
            text = " ".join("".join(self._cell).split())
            self._row.cells.append(text)
            for name in self._cell_class.split():
                self._row.by_class[name] = text
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table is not None:
            if self._row.cells:  # header rows have th cells only
                self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def tables(html: str) -> dict[str, list[Row]]:
    parser = _Tables()
    parser.feed(html)
    return parser.tables


def text_of(html: str, element_id: str) -> str:
    """The text directly inside the element with ``element_id``."""
    found = re.search(rf'id="{re.escape(element_id)}"[^>]*>([^<]*)<', html)
    assert found is not None, f"no element #{element_id}"
    return found.group(1).strip()


def chart_data(html: str, div_id: str) -> list[dict[str, Any]]:
    """The traces Plotly draws into ``div_id``."""
    start = re.search(rf'Plotly\.newPlot\(\s*"{re.escape(div_id)}",\s*', html)
    assert start is not None, f"no chart #{div_id}"
    data, _ = json.JSONDecoder().raw_decode(html, start.end())
    return data


# --- the season ------------------------------------------------------------------------


@dataclass
class World:
    home: Path
    settings: ServerSettings
    engine: Engine
    pages: Pages

    def session(self) -> Session:
        return Session(self.engine)


def _model(session: Session, key: str) -> Model:
    return models_mod.get_model(session, f"{NAMES[key]}_m1")


def _submit(tournament: Tournament, number: int, who: list[str], seed: int) -> None:
    ids = feed_mod.round_live_ids(tournament.store, number)
    rng = np.random.default_rng(seed)
    with session_scope(tournament.factory) as session:
        round = rounds.get_round(session, number)
        for key in who:
            model = _model(session, key)
            data = pd.DataFrame({"id": ids, "prediction": rng.uniform(size=len(ids))})
            submissions.submit(
                session,
                tournament.store,
                model,
                round,
                data.to_csv(index=False).encode(),
                "predictions.csv",
                by=model.account,
                clock=CLOCK,
                live_ids=ids,
            )


def _stake(tournament: Tournament, key: str, amount: int) -> None:
    with session_scope(tournament.factory) as session:
        model = _model(session, key)
        stakes.increase_stake(session, model, amount, by=model.account, clock=CLOCK)


def _season(tournament: Tournament) -> None:
    with session_scope(tournament.factory) as session:
        for key, name in NAMES.items():
            account = accounts.create_account(session, name, clock=CLOCK)
            basis = PayoutBasis.CORR_MMC if key == "a" else PayoutBasis.CORR
            models_mod.create_model(session, account, f"{name}_m1", clock=CLOCK, payout_basis=basis)
            ledger.deposit(session, account, 100, clock=CLOCK)
        operator = accounts.ensure_operator(session, clock=CLOCK)
        models_mod.create_model(session, operator, BENCHMARK, clock=CLOCK, kind=ModelKind.BENCHMARK)
    _stake(tournament, "a", 40)
    _stake(tournament, "b", 25)
    tournament.open_round()
    _submit(tournament, 1, ["a", "b", "c"], seed=1)
    tournament.close_round(early=True)
    tournament.resolve(1)
    with session_scope(tournament.factory) as session:
        model = _model(session, "b")
        stakes.decrease_stake(
            session,
            model,
            5,
            by=model.account,
            clock=CLOCK,
            at_risk_until_round=stakes.last_round_at_risk(session, model),
        )
    _stake(tournament, "c", 10)
    tournament.open_round()
    _submit(tournament, 2, ["a", "b"], seed=2)
    tournament.close_round(early=True)
    _submit(tournament, 2, ["c"], seed=3)  # after the close: late
    tournament.score_next_day(2)
    tournament.open_round()
    _submit(tournament, 3, ["a"], seed=4)


@pytest.fixture(scope="module")
def world(small_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = make_home(tmp_path_factory.mktemp("pages-home"), small_dataset)
    tournament = tournament_of(home, schedule=rounds.Schedule(resolves_after_days=DAYS))
    try:
        _season(tournament)
    finally:
        tournament.factory.kw["bind"].dispose()
    settings = resolve_server_settings(home, environ={})
    engine = make_engine(settings.home.db_url)
    pages = Pages(settings)
    try:
        yield World(home, settings, engine, pages)
    finally:
        pages.close()
        engine.dispose()


@pytest.fixture
def empty_pages(small_dataset: Path, tmp_path: Path) -> Iterator[Pages]:
    """The pages of a tournament that has no round, account or stake yet."""
    home = make_home(tmp_path / "empty-home", small_dataset)
    pages = Pages(resolve_server_settings(home, environ={}))
    try:
        yield pages
    finally:
        pages.close()


# --- formatting --------------------------------------------------------------------------


def test_formats_by_hand() -> None:
    assert score(0.012345) == "+0.0123" and score(-0.5) == "-0.5000"
    assert score(None) == score(float("nan")) == "—"
    assert money(Decimal("1234.500000000")) == "1,234.5"
    assert money(Decimal("-0.250000000")) == "-0.25"
    assert money(ZERO) == "0" and money(Decimal("1000000")) == "1,000,000"
    assert percent(0.0123) == "+1.23%" and percent(float("nan")) == "—"
    assert duration(93784) == "1d 02h 03m 04s" and duration(3725) == "1h 02m 05s"
    assert duration(65) == "1m 05s" and duration(-3) == "0s"
    assert size(512) == "512 B" and size(1536) == "1.5 KiB" and size(3 * 1024**2) == "3.0 MiB"


# --- home --------------------------------------------------------------------------------


def test_home_shows_the_open_round_scoring_rounds_and_totals(world: World) -> None:
    html = world.pages.page("/")
    with world.session() as session:
        current = rounds.current_round(session)
        assert current is not None and current.number == 3
        models = list(session.scalars(select(Model)))
        staked = sum((stakes.stake_now(session, m) for m in models), ZERO)
        amounts = [p.amount for p in session.scalars(select(RoundPayout))]
    assert 'href="/rounds/3"' in html
    countdown = re.search(r'id="countdown" data-seconds="(-?\d+)"', html)
    assert countdown is not None and 0 < int(countdown.group(1)) <= 7 * 86400
    scoring = tables(html)["rounds-scoring"]
    assert [(r.attrs["data-round"], r.by_class["day"]) for r in scoring] == [("2", "day 1 of 3")]
    assert text_of(html, "total-staked") == money(staked)
    assert text_of(html, "total-paid") == money(sum((a for a in amounts if a > 0), ZERO))
    assert text_of(html, "total-burned") == money(-sum((a for a in amounts if a < 0), ZERO))
    assert text_of(html, "total-accounts") == "3"
    assert text_of(html, "total-models") == "3"


def test_home_of_an_empty_tournament(empty_pages: Pages) -> None:
    html = empty_pages.page("/")
    assert 'id="no-open-round"' in html and "countdown" not in html
    assert "No round is being scored." in html
    for element in ("total-staked", "total-paid", "total-burned", "total-accounts", "total-models"):
        assert text_of(html, element) == "0"


def test_every_page_of_an_empty_tournament_renders(empty_pages: Pages) -> None:
    assert 'id="leaderboard-empty"' in empty_pages.page("/leaderboard")
    assert 'id="leaderboard-empty"' in empty_pages.page("/leaderboard?board=accounts")
    assert 'id="no-rounds"' in empty_pages.page("/rounds")
    meta = empty_pages.page("/meta-model")
    assert 'id="meta-model-unscored"' in meta and f'id="{charts.META_MODEL_ROUNDS_ID}"' in meta
    assert "v1" in empty_pages.page("/data")
    assert empty_pages.get("/rounds/1").status_code == 404


# --- leaderboard -------------------------------------------------------------------------


@pytest.mark.parametrize("sort", leaderboard.SORT_KEYS)
def test_model_leaderboard_equals_the_domain_in_every_order(world: World, sort: str) -> None:
    html = world.pages.page(f"/leaderboard?sort={sort}")
    with world.session() as session:
        expected = leaderboard.model_leaderboard(session, sort_by=sort)
    rows = tables(html)["leaderboard-models"]
    assert [r.attrs["data-name"] for r in rows] == [e.name for e in expected]
    for row, want in zip(rows, expected, strict=True):
        assert row.by_class["rank"] == str(want.rank)
        for metric in leaderboard.METRICS:
            assert row.by_class[metric] == score(want.rep(metric))
        assert row.by_class["stake"] == money(want.stake)
        assert row.by_class["return"] == percent(want.return_on_stake)
        assert row.by_class["paid"] == money(want.paid)
        assert row.by_class["burned"] == money(want.burned)
        assert row.by_class["rounds"] == str(want.rounds_scored)
    assert f'aria-sort="descending"><a href="/leaderboard?board=models&amp;sort={sort}"' in html
    for other in leaderboard.SORT_KEYS:
        assert f'href="/leaderboard?board=models&amp;sort={other}"' in html
    assert "(benchmark)" in html


@pytest.mark.parametrize("sort", ["corr", "stake", "return"])
def test_account_leaderboard_equals_the_domain(world: World, sort: str) -> None:
    html = world.pages.page(f"/leaderboard?board=accounts&sort={sort}")
    with world.session() as session:
        expected = leaderboard.account_leaderboard(session, sort_by=sort)
    rows = tables(html)["leaderboard-accounts"]
    assert [r.attrs["data-name"] for r in rows] == [e.name for e in expected]
    assert sorted(r.attrs["data-name"] for r in rows) == sorted(NAMES.values())
    for row, want in zip(rows, expected, strict=True):
        assert row.by_class["corr"] == score(want.corr_rep)
        assert row.by_class["stake"] == money(want.stake)
        assert row.by_class["models"] == str(want.models)
    assert "leaderboard-models" not in html


def test_leaderboard_ignores_unknown_sorts_and_boards(world: World) -> None:
    odd = world.pages.page("/leaderboard?sort=drop%20table&board=%00")
    plain = world.pages.page("/leaderboard")
    assert tables(odd)["leaderboard-models"] == tables(plain)["leaderboard-models"]
    assert world.pages.page("/leaderboard?sort=&sort=mmc&board=")


# --- rounds ------------------------------------------------------------------------------


def test_rounds_list(world: World) -> None:
    rows = tables(world.pages.page("/rounds"))["rounds"]
    assert [(r.attrs["data-round"], r.by_class["status"]) for r in rows] == [
        ("3", "open"),
        ("2", "scoring"),
        ("1", "resolved"),
    ]
    assert rows[2].by_class["days"] == "3 / 3" and rows[1].by_class["days"] == "1 / 3"
    assert rows[2].by_class["models"] == "4"  # a, b, c and the benchmark
    assert rows[2].by_class["at-risk"] == "65"


def test_resolved_round_page_equals_the_database(world: World) -> None:
    html = world.pages.page("/rounds/1")
    with world.session() as session:
        round = rounds.get_round(session, 1)
        at_risk = stakes.frozen_stakes(session, round)
        counted = submissions.counted_submissions(session, round)
        names = {m.id: m.name for m in session.scalars(select(Model))}
        finals = {
            names[s.model_id]: s
            for s in session.scalars(
                select(Score).where(Score.round_id == round.id, Score.day == DAYS)
            )
        }
        days = resolution.round_days(session, round)
        results = {names[p.model_id]: p for p in resolution.round_results(session, round)}
    assert text_of(html, "round-status") == "resolved"
    assert text_of(html, "round-day") == "day 3 of 3"
    assert text_of(html, "payout-factor") == money(payout_factor(sum(at_risk.values(), ZERO)))
    assert text_of(html, "round-at-risk") == money(sum(at_risk.values(), ZERO)) == "65"
    rows = {r.attrs["data-name"]: r for r in tables(html)["round-submissions"]}
    assert set(rows) == {names[s.model_id] for s in counted}
    for name, row in rows.items():
        model_id = next(i for i, n in names.items() if n == name)
        assert row.by_class["stake"] == money(at_risk.get(model_id, ZERO))
        assert row.by_class["late"] == "—"
        assert row.by_class["day"] == "3"
        for metric in ("corr", "mmc", "bmc", "fnc", "fe_max"):
            assert row.by_class[metric] == score(getattr(finals[name], metric))
    day_rows = tables(html)["round-days"]
    assert [r.attrs["data-day"] for r in day_rows] == ["1", "2", "3"]
    for row, day in zip(day_rows, days, strict=True):
        assert row.by_class["meta"] == score(day.meta_model_corr)
        assert row.by_class["benchmark"] == score(day.benchmark_corr)
    result_rows = {r.attrs["data-name"]: r for r in tables(html)["round-results"]}
    assert set(result_rows) == set(results) == {"pg_a_m1", "pg_b_m1"}
    for name, row in result_rows.items():
        assert row.by_class["amount"] == money(results[name].amount)
        assert row.by_class["stake"] == money(results[name].stake_at_risk)
    paths = {t["name"]: t for t in chart_data(html, charts.ROUND_SCORE_PATHS_ID)}
    assert set(paths) == set(rows)
    assert paths["pg_a_m1"]["x"] == [1, 2, 3]
    assert paths["pg_a_m1"]["y"][-1] == pytest.approx(finals["pg_a_m1"].corr, abs=1e-12)
    reference = {t["name"]: t for t in chart_data(html, charts.ROUND_REFERENCE_ID)}
    assert reference["meta-model"]["y"] == pytest.approx([d.meta_model_corr for d in days])
    assert reference["benchmark"]["y"] == pytest.approx([d.benchmark_corr for d in days])


def test_scoring_round_page_shows_late_submissions_without_stake(world: World) -> None:
    html = world.pages.page("/rounds/2")
    assert text_of(html, "round-day") == "day 1 of 3"
    with world.session() as session:
        at_risk = {
            names: value
            for names, value in (
                (session.get(Model, model_id).name, value)
                for model_id, value in stakes.frozen_stakes(
                    session, rounds.get_round(session, 2)
                ).items()
            )
        }
    assert at_risk["pg_c_m1"] == 10
    rows = {r.attrs["data-name"]: r for r in tables(html)["round-submissions"]}
    assert rows["pg_c_m1"].by_class["late"] == "late"
    assert rows["pg_c_m1"].by_class["stake"] == "0"  # 10 frozen at the close, none on a late one
    for name in ("pg_a_m1", "pg_b_m1"):
        assert rows[name].by_class["stake"] == money(at_risk[name])
    assert all(r.by_class["day"] == "1" for r in rows.values())
    assert "round-results" not in tables(html)
    assert "Payouts and burns are posted when the round resolves" in html
    expected = payout_factor(sum(at_risk.values(), ZERO), PayoutRules())
    assert text_of(html, "payout-factor") == money(expected)


def test_open_round_page_shows_the_stakes_as_they_stand(world: World) -> None:
    html = world.pages.page("/rounds/3")
    assert text_of(html, "round-status") == "open"
    assert text_of(html, "payout-factor") == "set at close"
    with world.session() as session:
        stake = stakes.stake_now(session, _model(session, "a"))
    rows = tables(html)["round-submissions"]
    assert {r.attrs["data-name"] for r in rows} == {"pg_a_m1", BENCHMARK}
    assert {r.attrs["data-name"]: r.by_class["stake"] for r in rows}["pg_a_m1"] == money(stake)
    assert f'<div id="{charts.ROUND_SCORE_PATHS_ID}" class="chart empty">' in html


def test_rounds_with_a_trailing_slash_goes_to_the_list(world: World) -> None:
    answer = world.pages.get("/rounds/")
    assert answer.status_code == 307 and answer.headers["location"] == "/rounds"


@pytest.mark.parametrize(
    "path",
    [
        "/rounds/4",
        "/rounds/0",
        "/rounds/abc",
        "/rounds/-1",
        "/rounds/1.5",
        "/rounds/%EF%BC%91",
        "/rounds/99999999999999999999999999",
        "/rounds/1/more",
        "/rounds/1%2F2",
        "/models/nobody",
        "/models/%00%27%22",
        "/models/",
        "/models/a/b",
        "/models/" + "x" * 300,
        "/models/%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "/data/v1/nothing.parquet",
        "/data/v9/train.parquet",
        "/data/v1/.operator/state.json",
        "/data/..%2F/train.parquet",
    ],
)
def test_unknown_things_get_a_friendly_404_page(world: World, path: str) -> None:
    answer = world.pages.get(path)
    assert answer.status_code == 404, (path, answer.status_code)
    assert answer.headers["content-type"].startswith("text/html")
    assert 'id="not-found"' in answer.text
    assert "<script>alert" not in answer.text


# --- models ------------------------------------------------------------------------------


def test_model_page_equals_the_database(world: World) -> None:
    html = world.pages.page("/models/pg_a_m1")
    with world.session() as session:
        model = _model(session, "a")
        stake = stakes.stake_now(session, model)
        final = session.scalars(
            select(Score)
            .join(Submission, Submission.id == Score.submission_id)
            .where(Score.model_id == model.id, Score.day == DAYS)
        ).one()
        day_one = session.scalars(
            select(Score)
            .where(Score.model_id == model.id, Score.day == 1)
            .order_by(Score.round_id.desc())
        ).first()
        payout = session.scalars(select(RoundPayout).where(RoundPayout.model_id == model.id)).one()
    assert text_of(html, "model-owner") == "pg_a"
    assert text_of(html, "model-basis") == "CORR+MMC"
    assert text_of(html, "model-stake") == money(stake)
    assert text_of(html, "model-resolved") == "1"
    assert text_of(html, "model-current") == "submitted"
    assert text_of(html, "model-paid" if payout.amount > 0 else "model-burned") == money(
        abs(payout.amount)
    )
    cumulative = {t["name"]: t for t in chart_data(html, charts.MODEL_CUMULATIVE_ID)}
    assert cumulative["CORR"]["x"] == [1]
    assert cumulative["CORR"]["y"] == pytest.approx([final.corr])
    assert cumulative["MMC"]["y"] == pytest.approx([final.mmc])
    daily = {t["name"]: t for t in chart_data(html, charts.MODEL_DAILY_ID)}
    assert list(daily) == ["round 2"] and daily["round 2"]["y"] == pytest.approx([day_one.corr])
    rounds_table = {r.attrs["data-round"]: r for r in tables(html)["model-rounds"]}
    assert set(rounds_table) == {"1", "2"}
    assert rounds_table["1"].by_class["corr"] == score(final.corr)
    assert rounds_table["1"].by_class["fe_rms"] == score(final.fe_rms)
    assert rounds_table["1"].by_class["stake"] == "40"
    assert rounds_table["2"].by_class["day"] == "1 / 3"
    assert rounds_table["2"].by_class["stake"] == money(Decimal(40) + payout.amount)
    payout_rows = tables(html)["model-payouts"]
    assert [r.attrs["data-round"] for r in payout_rows] == ["1"]
    assert payout_rows[0].by_class["amount"] == money(payout.amount)
    moves = tables(html)["model-stake-moves"]
    assert moves[0].by_class["after"] == money(stake)  # newest first
    assert moves[-1].by_class["kind"] == "stake increase" and moves[-1].by_class["after"] == "40"
    stake_line = chart_data(html, charts.MODEL_STAKE_ID)[0]
    assert stake_line["y"][-1] == pytest.approx(float(stake))


def test_model_page_shows_stake_decreases_and_late_rounds(world: World) -> None:
    html = world.pages.page("/models/pg_b_m1")
    kinds = [r.by_class["kind"] for r in tables(html)["model-stake-moves"]]
    assert kinds[0] == "stake decrease" and kinds[-1] == "stake increase"
    late = world.pages.page("/models/pg_c_m1")
    assert "(late)" in late and text_of(late, "model-current") == "not submitted"
    assert f'<div id="{charts.MODEL_DAILY_ID}" class="chart empty">' not in late  # round 2
    bench = world.pages.page(f"/models/{BENCHMARK}")
    assert "(benchmark)" in bench and "No payouts or burns yet." in bench


# --- meta-model --------------------------------------------------------------------------


def test_meta_model_page_equals_the_round_days(world: World) -> None:
    html = world.pages.page("/meta-model")
    assert "rank-gaussianized" in html and "uncovered" in html
    with world.session() as session:
        last = {
            number: resolution.round_days(session, rounds.get_round(session, number))[-1]
            for number in (1, 2)
        }
    rows = {r.attrs["data-round"]: r for r in tables(html)["meta-model-rounds"]}
    assert set(rows) == {"1", "2"}
    for number, day in last.items():
        assert rows[str(number)].by_class["meta"] == score(day.meta_model_corr)
        assert rows[str(number)].by_class["benchmark"] == score(day.benchmark_corr)
    bars = {t["name"]: t for t in chart_data(html, charts.META_MODEL_ROUNDS_ID)}
    assert bars["meta-model"]["x"] == [1, 2]
    assert bars["meta-model"]["y"] == pytest.approx(
        [last[1].meta_model_corr, last[2].meta_model_corr]
    )
    days = {t["name"]: t for t in chart_data(html, charts.META_MODEL_DAYS_ID)}
    assert days["round 1"]["x"] == [1, 2, 3] and days["round 2"]["x"] == [1]
    with world.session() as session:
        stake = stakes.stake_now(session, _model(session, "a"))
    contributors = tables(html)["meta-model-contributors"]  # round 3 is open: a alone submitted
    assert [
        (r.attrs["data-name"], r.by_class["stake"], r.by_class["weight"]) for r in contributors
    ] == [("pg_a_m1", money(stake), "100.00%")]


# --- data --------------------------------------------------------------------------------


def test_data_page_lists_the_public_files_and_numerapi_usage(world: World) -> None:
    html = world.pages.page("/data")
    version = world.settings.datasets_dir / "v1"
    rows = tables(html)["files-v1"]
    assert [r.attrs["data-file"] for r in rows] == [f"v1/{n}" for n in PUBLIC_FILES]
    for row, name in zip(rows, PUBLIC_FILES, strict=True):
        assert row.by_class["size"] == size((version / name).stat().st_size)
    assert re.findall(r'href="/data/(v1/[^"]+)"', html) == [f"v1/{n}" for n in PUBLIC_FILES]
    assert ".operator" not in html
    assert f'numerapi.base_api.API_TOURNAMENT_URL = "{world.settings.public_url}/graphql"' in html
    assert 'napi.download_dataset("v1/train.parquet"' in html
    assert "upload_predictions" in html and "list_datasets()" in html


def test_data_download_redirects_to_a_working_signed_url(world: World) -> None:
    answer = world.pages.get("/data/v1/features.json")
    assert answer.status_code == 303
    location = answer.headers["location"]
    assert location.startswith(
        f"{world.settings.public_url}/files/datasets/v1/features.json?expires="
    )
    download = world.pages.get(location)
    assert download.status_code == 200
    assert download.content == (world.settings.datasets_dir / "v1" / "features.json").read_bytes()
    assert world.pages.get(location.replace("features.json", "train.parquet")).status_code == 403


# --- charts ------------------------------------------------------------------------------


def test_charts_keep_their_ids_and_leave_gaps_for_missing_scores() -> None:
    html = charts.score_paths(
        {"m": [(1, 0.1), (2, None), (3, float("nan"))]}, div_id="x-1", title="t"
    )
    assert 'id="x-1"' in html
    assert chart_data(html, "x-1")[0]["y"] == [0.1, None, None]
    assert charts.score_paths({}, div_id="x-2", title="t").startswith(
        '<div id="x-2" class="chart empty">'
    )
    summed = chart_data(
        charts.cumulative_scores([1, 2, 3], {"CORR": [0.1, None, 0.2]}, div_id="x-3"), "x-3"
    )
    assert summed[0]["y"] == pytest.approx([0.1, 0.1, 0.3])
    assert (
        charts.empty_chart("x-4", "<b>")
        == '<div id="x-4" class="chart empty"><p>&lt;b&gt;</p></div>'
    )
