"""Rendering the pages: the Jinja2 templates, the context every page shares, and the
anti-forgery token of a browser session's forms.

Only the web pages render templates, so rendering lives here rather than in the
server package; the server decides when an answer is a page (``not_found_page``).
"""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from crowdalpha.server.context import get_services

HERE = Path(__file__).parent

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
    services = get_services(request)
    base = {
        "signed_in": request.session.get("account"),
        "now": services.clock.now(),
        "public_url": services.settings.public_url,
    }
    return templates.TemplateResponse(request, template, {**base, **context}, status_code=status_code)
