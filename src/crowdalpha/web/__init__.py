"""Server-rendered web pages (Jinja2, Plotly charts): watch the tournament and join it.

``mount_web`` adds the pages, their static files and browser sessions to the
server's application (``crowdalpha.server.app`` calls it). Pages are plain HTML;
charts are Plotly figures drawn by the plotly.js shipped inside the ``plotly``
package (served from /static-vendor, never a CDN: the tournament must work
offline). A browser session is a cookie signed with the server's secret.
"""

from __future__ import annotations

from pathlib import Path

import plotly
from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from crowdalpha.server.settings import ServerSettings
from crowdalpha.web import join, pages
from crowdalpha.web.pages import not_found as not_found_page
from crowdalpha.web.rendering import HERE

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
SESSION_COOKIE = "crowdalpha_session"


def mount_web(app: FastAPI, settings: ServerSettings) -> None:
    """Add the pages, their static files and browser sessions to ``app``."""
    app.add_middleware(
        SessionMiddleware, secret_key=settings.secret.decode(), session_cookie=SESSION_COOKIE,
        same_site="lax", https_only=settings.public_url.startswith("https://"),
    )
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.get("/static-vendor/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        return FileResponse(PLOTLY_JS, media_type="text/javascript",
                            headers={"Cache-Control": "public, max-age=86400"})

    app.include_router(pages.router)
    app.include_router(join.router)


__all__ = ["SESSION_COOKIE", "mount_web", "not_found_page"]
