"""`crowdalpha admin ...` on a real SQLite home: accounts, keys, models, money, audit."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crowdalpha.cli import app


@pytest.fixture
def admin(tmp_path: Path):
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(app, ["--home", str(tmp_path), "admin", *args])

    return run


def test_account_model_money_and_audit(admin, tmp_path: Path) -> None:
    created = admin("create-account", "alice")
    assert created.exit_code == 0, created.output
    token = created.output.split("api key (shown once): ")[1].strip()
    assert "$" in token and len(token) > 40
    assert admin("create-model", "alice", "alpha_one", "--payout-basis", "corr+mmc").exit_code == 0
    assert "wallet 100.5" in admin("deposit", "alice", "100.5").output
    assert "wallet 90.25" in admin("withdraw", "alice", "10.25").output
    report = admin("audit")
    assert report.exit_code == 0
    assert "wallets 90.25" in report.output and "OK" in report.output
    assert (tmp_path / "crowdalpha.sqlite").exists()


def test_failures_change_nothing(admin) -> None:
    admin("create-account", "bob")
    admin("deposit", "bob", "5")
    refused = admin("withdraw", "bob", "6")
    assert refused.exit_code != 0
    assert "insufficient_funds: account 'bob' has 5 available" in str(refused.exception)
    assert isinstance(admin("deposit", "nobody", "1").exception, Exception)
    assert "invalid_amount" in str(admin("deposit", "bob", "0").exception)
    report = admin("audit")
    assert "wallets 5 " in report.output and report.exit_code == 0


def test_model_limit(admin) -> None:
    admin("create-account", "carol")
    for i in range(10):
        assert admin("create-model", "carol", f"m{i}").exit_code == 0
    refused = admin("create-model", "carol", "m10")
    assert "model_limit" in str(refused.exception)


def test_audit_fails_on_a_tampered_ledger(admin, tmp_path: Path) -> None:
    admin("create-account", "dave")
    admin("deposit", "dave", "10")
    with sqlite3.connect(tmp_path / "crowdalpha.sqlite") as db:
        line = db.execute("select id, amount from journal_lines where amount > 0").fetchone()
        db.execute("update journal_lines set amount = ? where id = ?", (line[1] * 2, line[0]))
    report = admin("audit")
    assert report.exit_code == 1
    assert "does not balance" in report.output
    assert "totals identity broken" in report.output


def test_operator_account_gets_an_admin_key(admin) -> None:
    created = admin("create-account", "fund", "--operator")
    assert created.exit_code == 0, created.output
    assert "created operator account 'fund'" in created.output
    second = admin("create-account", "other", "--operator")
    assert "an operator account already exists" in str(second.exception)
    assert admin("create-key", "fund", "--scope", "admin").exit_code == 0
    admin("create-account", "erin")
    refused = admin("create-key", "erin", "--scope", "admin")
    assert "for the operator account only" in str(refused.exception)
