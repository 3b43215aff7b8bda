"""Mounting the web pages on the API server: templates, static files, browser sessions.

Pages are plain server-rendered HTML; charts are Plotly figures drawn by the
plotly.js shipped inside the ``plotly`` package (served from /static, never a
CDN: the tournament must work offline). A browser session is a cookie signed
with the server's secret.
"""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from typing import Any

import plotly
from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from crowdalpha.api.context import Services

HERE = Path(__file__).parent
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
SESSION_COOKIE = "crowdalpha_session"
#: Paths of the machine APIs: their errors stay JSON.
API_PREFIXES = ("/graphql", "/admin", "/files", "/uploads", "/docs", "/openapi.json")

templates = Jinja2Templates(directory=str(HERE / "templates"))


def csrf_token(request: Request) -> str:
    """The session's anti-forgery token, put in every form as the hidden field ``csrf``."""
    token = request.session.get("csrf")
    if token is None:
        token = request.session["csrf"] = secrets.token_urlsafe(24)
    return token


def csrf_ok(request: Request, sent: str | None) -> bool:
    """True when a form came back with this session's token (not from another site)."""
    expected = request.session.get("csrf")
    return bool(expected and sent and hmac.compare_digest(expected, sent))


templates.env.globals["csrf_token"] = csrf_token


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render ``template`` with the page context every page shares (who is signed in, the clock)."""
    services: Services = request.app.state.services
    base = {
        "signed_in": request.session.get("account"),
        "now": services.clock.now(),
        "public_url": services.settings.public_url,
    }
    return templates.TemplateResponse(request, template, {**base, **context}, status_code=status_code)


def mount_web(app: FastAPI, services: Services) -> None:
    """Add the pages, their static files and browser sessions to ``app``."""
    from crowdalpha.web import join, pages

    app.add_middleware(
        SessionMiddleware, secret_key=services.settings.secret.decode(), session_cookie=SESSION_COOKIE,
        same_site="lax", https_only=services.settings.public_url.startswith("https://"),
    )
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.get("/static-vendor/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        return FileResponse(PLOTLY_JS, media_type="text/javascript",
                            headers={"Cache-Control": "public, max-age=86400"})

    app.include_router(pages.router)
    app.include_router(join.router)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, error: StarletteHTTPException) -> Response:
        """A browser asking for a page that does not exist gets the friendly 404 page;
        API clients keep FastAPI's JSON answers."""
        wants_html = "text/html" in request.headers.get("accept", "")
        if error.status_code == 404 and wants_html and not request.url.path.startswith(API_PREFIXES):
            return pages.not_found(request, f"There is no page {request.url.path[:80]!r}.")
        return await http_exception_handler(request, error)
