"""The HTTP server: numerapi-compatible GraphQL, signed file URLs and the operator's REST API.

``create_app`` builds a FastAPI application over one tournament home;
``crowdalpha serve`` runs it with uvicorn. ``app_from_environment`` is the
factory uvicorn's worker processes call (settings from ``CROWDALPHA_*``).
"""

from __future__ import annotations

import asyncio
import logging
import os

import fsspec
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crowdalpha import __version__
from crowdalpha.api import files
from crowdalpha.api.admin import router as admin_router
from crowdalpha.api.context import Services
from crowdalpha.api.errors import INTERNAL, status_code, user_message
from crowdalpha.api.files import FileSource
from crowdalpha.api.graphql.route import router as graphql_router
from crowdalpha.api.ratelimit import RateLimiter
from crowdalpha.api.settings import ApiSettings, resolve_api_settings
from crowdalpha.errors import USER_ERRORS
from crowdalpha.tournament.clock import Clock, SystemClock
from crowdalpha.tournament.db import (
    make_engine,
    make_session_factory,
    open_store,
    prepare_home,
    require_current_schema,
)
from crowdalpha.tournament.rounds import Schedule

log = logging.getLogger(__name__)

SCHEDULES = {"weekly": Schedule.weekly, "daily": Schedule.daily}


class RequestTimeout:
    """ASGI middleware: a request that takes longer than ``seconds`` gets 504 (if nothing
    was sent yet) instead of holding its connection forever."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await asyncio.wait_for(self.app(scope, receive, tracking_send), self.seconds)
        except TimeoutError:
            if started:
                raise
            response = JSONResponse(
                {"detail": f"request took longer than {self.seconds:g} s and was stopped"},
                status_code=504,
            )
            await response(scope, receive, send)


def create_app(settings: ApiSettings, *, clock: Clock | None = None) -> FastAPI:
    """The server over ``settings``' home (its database must be migrated)."""
    prepare_home(settings.home)
    engine = make_engine(settings.home.db_url)
    require_current_schema(engine)
    store = open_store(settings.home)
    services = Services(
        settings=settings,
        factory=make_session_factory(engine),
        store=store,
        clock=clock or SystemClock(),
        schedule=SCHEDULES[settings.schedule](),
    )
    app = FastAPI(
        title="crowdalpha",
        version=__version__,
        description="A self-hosted crowdsourced ML tournament: the operator's REST API. "
        "Participants use the numerapi-compatible GraphQL endpoint at /graphql.",
    )
    app.state.settings = settings
    app.state.services = services
    app.state.store = store
    app.state.rate_limiter = RateLimiter(settings.rate_limit_per_minute)
    app.state.file_sources = {
        "datasets": FileSource(fsspec.filesystem("file"), str(settings.datasets_dir)),
        "store": FileSource(*store),
    }
    app.include_router(graphql_router)
    app.include_router(files.router)
    app.include_router(admin_router)
    from crowdalpha.web import mount_web  # the pages share this server and its state

    mount_web(app, services)

    @app.exception_handler(Exception)
    async def _any_error(request: Request, error: Exception) -> JSONResponse:
        message = user_message(error)
        if message is None:
            log.error("request failed", exc_info=error)
            return JSONResponse({"detail": INTERNAL}, status_code=500)
        return JSONResponse({"detail": message}, status_code=status_code(error))

    for cls in USER_ERRORS:
        app.add_exception_handler(cls, _any_error)
    app.add_middleware(RequestTimeout, seconds=settings.request_timeout_seconds)
    app.router.on_shutdown.append(engine.dispose)
    return app


def settings_from_environment() -> ApiSettings:
    """The server's settings from the ``CROWDALPHA_*`` variables ``crowdalpha serve`` sets."""
    return resolve_api_settings(
        host=os.environ.get("CROWDALPHA_HOST", "127.0.0.1"),
        port=int(os.environ.get("CROWDALPHA_PORT", "8000")),
    )


def app_from_environment() -> FastAPI:
    """The factory uvicorn workers call."""
    return create_app(settings_from_environment())
