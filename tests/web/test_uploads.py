"""Both ways in to a submission, the account page's upload form and numerapi's
``create_submission``, in one in-process server over SQLite.

Both go through ``submissions.submit``: the file is parsed, checked and stored
while other writers can still write (SQLite's write lock is free), and only
the row is written under the lock; the same bad file gets the same message.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from html import unescape
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from crowdalpha.server.settings import ServerSettings
from crowdalpha.tournament import accounts, keys, models, submissions
from crowdalpha.tournament.clock import SystemClock
from crowdalpha.tournament.tables import Submission
from tests.helpers.db import other_writer_can_start
from tests.helpers.web import database, in_process, live_ids, post_form, predictions_csv, sign_up

AUTH = """query($filename: String! $tournament: Int! $modelId: String) {
    submission_upload_auth(filename: $filename tournament: $tournament modelId: $modelId) {
        filename url } }"""
CREATE = """mutation($filename: String! $tournament: Int! $modelId: String) {
    create_submission(filename: $filename tournament: $tournament modelId: $modelId) { id } }"""


def api_participant(settings: ServerSettings) -> tuple[str, str]:
    """An account 'bob' with model 'bob_m' and a key: the key's token and the model's id."""
    clock = SystemClock()
    with database(settings) as session:
        bob = accounts.create_account(session, "bob", clock=clock)
        model = models.create_model(session, bob, "bob_m", clock=clock)
        token = keys.create_api_key(session, bob, clock=clock).token
        model_id = model.public_id
        session.commit()
    return token, model_id


async def api_upload(
    client: httpx.AsyncClient, token: str, model_id: str, filename: str, data: bytes
) -> dict[str, Any]:
    """numerapi's ``upload_predictions``: the upload URL, the PUT, ``create_submission``."""
    headers = {"Authorization": f"Token {token}"}
    variables = {"filename": filename, "tournament": 8, "modelId": model_id}
    auth = (await client.post("/graphql", json={"query": AUTH, "variables": variables},
                              headers=headers)).json()["data"]["submission_upload_auth"]
    assert (await client.put(auth["url"], content=data)).status_code < 300
    reply = await client.post("/graphql", headers=headers, json={
        "query": CREATE, "variables": {**variables, "filename": auth["filename"]},
    })
    return reply.json()


async def web_upload(client: httpx.AsyncClient, filename: str, data: bytes) -> httpx.Response:
    return await post_form(client, "/models/alice_m/submissions", files={"file": (filename, data)})


def web_error(page: httpx.Response) -> str:
    found = re.search(r'class="error" id="error">([^<]*)<', page.text)
    assert found is not None, page.text[:2000]
    return unescape(found.group(1))


@pytest.fixture
def watched(monkeypatch: pytest.MonkeyPatch, web_settings: ServerSettings) -> list[str]:
    """What happened, in order: each ``submit`` call, and whether another writer could
    take SQLite's write lock while its file was checked and while its row was recorded."""
    path = make_url(web_settings.home.db_url).database
    assert path is not None
    seen: list[str] = []

    def watch(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def watching(*args: Any, **kwargs: Any) -> Any:
            if name == "submit":
                seen.append("submit")
            else:
                seen.append(f"{name}: lock {'free' if other_writer_can_start(path) else 'held'}")
            return real(*args, **kwargs)

        return watching

    for name in ("submit", "prepare_submission", "record_submission"):
        monkeypatch.setattr(submissions, name, watch(name, getattr(submissions, name)))
    return seen


def test_both_ways_check_the_file_without_the_write_lock(
    web_settings: ServerSettings, watched: list[str]
) -> None:
    ids = live_ids(web_settings, 1)
    token, model_id = api_participant(web_settings)

    async def scenario(client: httpx.AsyncClient) -> None:
        await sign_up(client, "alice")
        await post_form(client, "/account/models", {"name": "alice_m"})
        page = await web_upload(client, "preds.csv", predictions_csv(ids))
        assert page.status_code == 303, page.text[:2000]
        assert watched == ["submit", "prepare_submission: lock free", "record_submission: lock held"]
        watched.clear()
        reply = await api_upload(client, token, model_id, "preds.csv", predictions_csv(ids, seed=1))
        assert reply["data"]["create_submission"]["id"], reply
        assert watched == ["submit", "prepare_submission: lock free", "record_submission: lock held"]

    asyncio.run(_run(web_settings, scenario))
    with database(web_settings) as session:
        assert session.scalar(select(func.count(Submission.id))) == 2


BAD_FILES = [
    ("preds.txt", b"id,prediction\nx,0.5\n"),
    ("wrong_ids.csv", b"id,prediction\nnot_an_id,0.1\nneither,0.9\n"),
    ("constant.csv", None),
    ("empty.csv", b"id,prediction\n"),
    ("text.csv", b"id,prediction\na,b\n"),
]


def test_both_ways_refuse_a_bad_file_with_the_same_message(
    web_settings: ServerSettings, watched: list[str]
) -> None:
    ids = live_ids(web_settings, 1)
    token, model_id = api_participant(web_settings)
    files = [(name, data if data is not None else
              b"id,prediction\n" + "".join(f"{i},0.5\n" for i in ids).encode())
             for name, data in BAD_FILES]

    async def scenario(client: httpx.AsyncClient) -> None:
        await sign_up(client, "alice")
        await post_form(client, "/account/models", {"name": "alice_m"})
        for name, data in files:
            page = await web_upload(client, name, data)
            assert page.status_code == 400, (name, page.text[:500])
            reply = await api_upload(client, token, model_id, name, data)
            [error] = reply["errors"]
            assert web_error(page) == error["message"], name
            assert error["message"].startswith(("invalid_submission", "invalid_predictions"))

    asyncio.run(_run(web_settings, scenario))
    assert watched.count("submit") == 2 * len(files)
    with database(web_settings) as session:
        assert session.scalar(select(func.count(Submission.id))) == 0


async def _run(settings: ServerSettings, scenario: Callable[[httpx.AsyncClient], Any]) -> None:
    async with in_process(settings) as client:
        await scenario(client)
