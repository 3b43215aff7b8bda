"""A replayed season end to end, its payouts recomputed independently from the stored
scores and stakes, and `crowdalpha season run` / `admin round` from the command line."""

from __future__ import annotations

import shutil
import sqlite3
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crowdalpha.cli import app
from crowdalpha.sim.season import run_season

WEEKS = 3


@pytest.fixture(scope="module")
def season(small_dataset: Path, tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("season") / "run"
    return run_season(folder, small_dataset, weeks=WEEKS, seed=3)


def _rows(db: sqlite3.Connection, sql: str, *args: object) -> list[tuple]:
    return db.execute(sql, args).fetchall()


def _money(nano: int) -> Decimal:
    return Decimal(nano).scaleb(-9)


def test_every_round_opens_closes_and_resolves(season) -> None:
    assert season.rounds_opened == WEEKS
    kinds = [(e.kind, e.round_number) for e in season.events]
    for number in range(1, WEEKS + 1):
        assert ("opened", number) in kinds and ("closed", number) in kinds
        assert ("resolved", number) in kinds
        days = [e.day for e in season.events if e.round_number == number and e.day is not None]
        assert days == list(range(1, 21))
    assert season.audit.ok, str(season.audit)
    assert season.audit.paid_out > 0


def test_payouts_recomputed_from_stored_scores_and_stakes(season) -> None:
    """payout = stake * clip(factor * (0.5 CORR [+ 2 MMC]), -5%, +5%), truncated to 1e-9,
    computed here from the database rows alone and compared with the ledger entries."""
    with sqlite3.connect(season.folder / "crowdalpha.sqlite") as db:
        checked = 0
        for round_id, number, last_day in _rows(
            db, "select id, number, resolves_after_days from rounds where status = 'resolved'"
        ):
            stakes = dict(_rows(db, "select model_id, stake_at_risk from round_stakes "
                                    "where round_id = ?", round_id))
            total = sum((_money(v) for v in stakes.values()), Decimal(0))
            factor = min(Decimal(1), Decimal(72000) / total) if total else Decimal(1)
            for model_id, nano in stakes.items():
                basis = _rows(db, "select payout_basis from models where id = ?", model_id)[0][0]
                # the counted submission: the latest valid on-time one
                counted = _rows(db, "select id from submissions where round_id = ? and model_id = ? "
                                    "and valid and not late order by created_at desc, id desc limit 1",
                                round_id, model_id)
                expected = Decimal(0)
                if counted:
                    corr, mmc = _rows(db, "select corr, mmc from scores where submission_id = ? "
                                          "and day = ?", counted[0][0], last_day)[0]
                    rate = Decimal("0.5") * Decimal(repr(corr)).quantize(Decimal("1e-12"))
                    if basis == "corr+mmc" and mmc is not None:
                        rate += 2 * Decimal(repr(mmc)).quantize(Decimal("1e-12"))
                    rate = max(Decimal("-0.05"), min(Decimal("0.05"), factor * rate))
                    expected = (_money(nano) * rate).quantize(Decimal("1e-9"), rounding=ROUND_DOWN)
                entries = _rows(db, "select kind, amount from journal_entries where model_id = ? "
                                    "and round_number = ? and kind in ('payout', 'burn')",
                                model_id, number)
                posted = sum((_money(a) if k == "payout" else -_money(a) for k, a in entries),
                             Decimal(0))
                assert len(entries) == (0 if expected == 0 else 1)
                assert posted == expected, (number, model_id, posted, expected)
                checked += 1
        assert checked >= WEEKS * 3


def test_leaderboard_lists_every_model_and_account_ranked(season) -> None:
    by_name = {row.name: row for row in season.models}
    assert set(by_name) >= {"ada_lgbm", "bo_ridge", "cy_noise", "integration_test",
                            "benchmark_example"}
    assert [row.rank for row in season.models] == list(range(1, len(season.models) + 1))
    assert all(row.rounds_scored == WEEKS for row in season.models)
    assert {row.name for row in season.accounts} >= {"ada", "bo", "cy"}


def test_season_and_round_commands(small_dataset: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(small_dataset, home / "datasets" / small_dataset.name)
    runner = CliRunner()

    def cli(*args: str):
        return runner.invoke(app, ["--home", str(home), *args])

    result = cli("season", "run", "--weeks", "1", "--seed", "1", "--out", str(tmp_path / "s"))
    assert result.exit_code == 0, result.output
    assert "round 1 resolved day 20" in result.output and "OK" in result.output
    assert "ada_lgbm" in result.output and (tmp_path / "s" / "crowdalpha.sqlite").exists()
    refused = cli("season", "run", "--weeks", "1", "--out", str(tmp_path / "s"))
    assert "is not empty" in str(refused.exception)

    assert "no rounds yet" in cli("admin", "round", "list").output
    assert "no round is open" in str(cli("admin", "round", "close").exception)
    assert "no round is closed" in str(cli("admin", "round", "score").exception)
    opened = cli("admin", "round", "open")
    assert opened.exit_code == 0 and "round 1 opened" in opened.output
    assert "close it first" in str(cli("admin", "round", "open").exception)
    assert "closes at" in str(cli("admin", "round", "close").exception)
    closed = cli("admin", "round", "close", "--early")
    assert closed.exit_code == 0 and "round 1 closed" in closed.output
    scored = cli("admin", "round", "score")
    assert "round 1 scored day 1" in scored.output
    listed = cli("admin", "round", "list")
    assert listed.exit_code == 0 and "scoring" in listed.output and "1/20" in listed.output
    resolved = cli("admin", "round", "resolve", "--round", "1")
    assert "round 1 resolved day 20" in resolved.output
    assert "resolved" in cli("admin", "round", "list").output and "20/20" in cli(
        "admin", "round", "list").output
    assert "already resolved" in cli("admin", "round", "resolve", "--round", "1").output
    assert "does not exist" in str(cli("admin", "round", "score", "--round", "9").exception)
    board = cli("leaderboard")
    assert board.exit_code == 0 and "Leaderboard by corr" in board.output
    assert cli("admin", "audit").exit_code == 0


def test_round_commands_without_a_dataset_say_what_to_do(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["--home", str(tmp_path), "admin", "round", "open"])
    assert "no dataset version" in str(result.exception) and "data build" in str(result.exception)
