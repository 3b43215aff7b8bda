"""What the server's log says about a failed request: a user's error (a bad key, a closed
round) in one line without a traceback, a server bug with its traceback;
also after uvicorn has configured logging (``dictConfig`` re-enables disabled loggers)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
import uvicorn

import crowdalpha.api.graphql.rounds as rounds_resolvers
from crowdalpha.server.errors import LOG_LINE_CHARS, one_line
from crowdalpha.server.settings import resolve_server_settings
from crowdalpha.server.signing import download_path
from tests.helpers.server import add_participant, make_home
from tests.helpers.web import in_process

ACCOUNT = "{ account { username } }"
CREATE = ('mutation { create_submission(filename: "uploads/x/predictions.csv", tournament: 8) '
          "{ id } }")


@pytest.fixture
def home(small_dataset: Path, tmp_path: Path) -> Path:
    return make_home(tmp_path / "home", small_dataset)


def served(home: Path, *requests: tuple[str, str, dict]) -> list[int]:
    async def main() -> list[int]:
        async with in_process(resolve_server_settings(home, environ={})) as client:
            return [(await client.request(method, path, **kwargs)).status_code
                    for method, path, kwargs in requests]

    return asyncio.run(main())


def test_user_errors_are_one_line_without_traceback(home: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    uvicorn.Config(lambda *_: None, log_level="warning")  # what the demo and `serve` do first
    person = add_participant(home, "logged")
    caplog.set_level(logging.WARNING)
    bad_key = {"Authorization": "Token nope$wrong"}
    statuses = served(home,
           ("POST", "/graphql", {"json": {"query": ACCOUNT}, "headers": bad_key}),
           ("POST", "/graphql", {"json": {"query": CREATE},
                                 "headers": {"Authorization": f"Token {person.token}"}}),
           ("GET", download_path("datasets", "v1/features.json"), {}))
    records = [r for r in caplog.records if r.name.startswith("crowdalpha")]
    assert records, caplog.text
    assert all(r.exc_info is None and "\n" not in r.getMessage() for r in records), caplog.text
    assert all(r.levelno == logging.WARNING for r in records)
    text = "\n".join(r.getMessage() for r in records)
    assert "Your session is invalid or has expired" in text
    assert statuses == [200, 200, 403]  # the unsigned download: answered, nothing to log
    assert "Current round not open for submissions: no round has opened yet" in text
    assert "Traceback" not in caplog.text


def test_a_server_bug_keeps_its_traceback(home: Path, caplog: pytest.LogCaptureFixture,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(_session: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(rounds_resolvers, "newest_round", broken)
    caplog.set_level(logging.WARNING)
    served(home, ("POST", "/graphql", {"json": {"query": "{ rounds(number: 0) { number } }"}}))
    failed = [r for r in caplog.records if r.getMessage() == "resolver failed"]
    assert len(failed) == 1 and failed[0].levelno == logging.ERROR
    assert failed[0].exc_info is not None and "a bug" in caplog.text


def test_one_line_flattens_and_shortens() -> None:
    assert one_line("a\n  b\tc") == "a b c"
    assert len(one_line("x" * 1000)) == LOG_LINE_CHARS and one_line("x" * 1000).endswith("…")
