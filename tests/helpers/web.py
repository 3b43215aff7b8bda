"""The web app in this process (``httpx`` over ASGI, cookies kept between requests),
its forms sent as a browser sends them, and what the pages left in the database.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import httpx
import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from crowdalpha.server.app import create_app
from crowdalpha.server.settings import ServerSettings
from crowdalpha.tournament.clock import Clock
from crowdalpha.tournament.db import make_engine, open_store
from crowdalpha.tournament.feed import round_live_ids

CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')
PASSWORD = "correct horse battery"


@asynccontextmanager
async def in_process(
    settings: ServerSettings, *, clock: Clock | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app built from ``settings`` (on ``clock``, else the wall clock),
    in this process; cookies persist."""
    app = create_app(settings, clock=clock)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=settings.public_url
        ) as client:
            yield client
    finally:
        for stop in app.router.on_shutdown:  # what the server does on shutdown (dispose the engine)
            stop()


def csrf_in(html: str) -> str:
    """The anti-forgery token of the first form in ``html``."""
    found = CSRF_RE.search(html)
    if found is None:
        raise AssertionError(f"no csrf field in the page: {html[:500]}")
    return found.group(1)


async def csrf_of(client: httpx.AsyncClient, path: str) -> str:
    """Open ``path`` (following redirects) and read its form's anti-forgery token."""
    page = await client.get(path, follow_redirects=True)
    assert page.status_code == 200, page.text
    return csrf_in(page.text)


async def sign_up(
    client: httpx.AsyncClient, name: str, password: str = PASSWORD, again: str | None = None
) -> httpx.Response:
    """Send the sign-up form as a browser would (its token first)."""
    token = await csrf_of(client, "/signup")
    return await client.post("/signup", data={
        "csrf": token, "name": name, "password": password,
        "password_again": password if again is None else again,
    })


async def post_form(
    client: httpx.AsyncClient, path: str, data: dict[str, object] | None = None,
    files: dict[str, tuple[str, bytes]] | None = None,
) -> httpx.Response:
    """POST a form of the account page with the session's token."""
    token = await csrf_of(client, "/account")
    return await client.post(path, data={"csrf": token, **(data or {})}, files=files)


@contextmanager
def database(settings: ServerSettings) -> Iterator[Session]:
    """A session on the server's database, to look at what the pages did."""
    engine = make_engine(settings.home.db_url)
    try:
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()


def live_ids(settings: ServerSettings, round_number: int) -> pd.Index:
    """The live ids of round ``round_number``: what a valid submission covers."""
    return round_live_ids(open_store(settings.home), round_number)


def predictions_csv(ids: pd.Index, seed: int = 0) -> bytes:
    """A valid prediction file for ``ids`` (uniform random predictions)."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"id": ids, "prediction": rng.uniform(size=len(ids))}).to_csv(
        index=False
    ).encode()
