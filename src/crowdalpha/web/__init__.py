"""Server-rendered web pages (Jinja2, Plotly charts): watch the tournament and join it."""

from crowdalpha.web.app import mount_web

__all__ = ["mount_web"]
