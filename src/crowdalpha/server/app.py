"""The server: one FastAPI application that mounts the API's routers (numerapi-compatible
GraphQL, signed file URLs, the operator's REST API) and the web pages, over one
tournament home.

``create_app`` builds it; ``serving.run_server`` runs it with uvicorn (``crowdalpha
serve``), handing the settings object to each worker process itself (never through
the environment). This module is the only one that imports both ``api`` and ``web``: they
share the services, settings, request dependencies and error mapping of
``crowdalpha.server``, never each other.
"""

from __future__ import annotations

import asyncio
import logging

import fsspec
from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crowdalpha import __version__
from crowdalpha.api import API_PREFIXES, api_routers
from crowdalpha.api.files import FileSource
from crowdalpha.errors import USER_ERRORS
from crowdalpha.server.errors import INTERNAL, one_line, status_code, user_message
from crowdalpha.server.ratelimit import RateLimiter
from crowdalpha.server.services import Services
from crowdalpha.server.settings import ServerSettings
from crowdalpha.tournament.clock import Clock, SystemClock
from crowdalpha.tournament.db import (
    make_engine,
    make_session_factory,
    open_store,
    prepare_home,
    require_current_schema,
)
from crowdalpha.web import mount_web, not_found_page

log = logging.getLogger(__name__)


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


def create_app(settings: ServerSettings, *, clock: Clock | None = None) -> FastAPI:
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
        schedule=settings.round_schedule(),
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
    app.state.sign_in_limiter = RateLimiter(settings.sign_in_attempts_per_minute)
    app.state.file_sources = {
        "datasets": FileSource(fsspec.filesystem("file"), str(settings.datasets_dir)),
        "store": FileSource(*store),
    }
    for router in api_routers():
        app.include_router(router)
    mount_web(app, settings)

    @app.exception_handler(Exception)
    async def _any_error(request: Request, error: Exception) -> JSONResponse:
        message = user_message(error)
        if message is None:
            log.error("request failed", exc_info=error)
            return JSONResponse({"detail": INTERNAL}, status_code=500)
        status = status_code(error)
        log.warning("%s", one_line(f"{request.method} {request.url.path} {status}: {message}"))
        return JSONResponse({"detail": message}, status_code=status)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, error: StarletteHTTPException) -> Response:
        """A browser asking for a page that does not exist gets the friendly 404 page;
        API clients keep FastAPI's JSON answers."""
        wants_html = "text/html" in request.headers.get("accept", "")
        if error.status_code == 404 and wants_html and not request.url.path.startswith(API_PREFIXES):
            return not_found_page(request, f"There is no page {request.url.path[:80]!r}.")
        return await http_exception_handler(request, error)

    for cls in USER_ERRORS:
        app.add_exception_handler(cls, _any_error)
    app.add_middleware(RequestTimeout, seconds=settings.request_timeout_seconds)
    app.router.on_shutdown.append(engine.dispose)
    return app
