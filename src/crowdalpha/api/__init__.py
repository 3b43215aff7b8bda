"""HTTP for machines: the numerapi-compatible GraphQL API, signed file URLs, and the
operator's REST API. ``crowdalpha.server.app`` mounts these routers next to the web pages."""

from __future__ import annotations

from fastapi import APIRouter

from crowdalpha.api import files
from crowdalpha.api.admin import router as admin_router
from crowdalpha.api.graphql.route import router as graphql_router

#: Paths of the machine APIs: their errors stay JSON, never a page.
API_PREFIXES = ("/graphql", "/admin", "/files", "/uploads", "/docs", "/openapi.json")


def api_routers() -> list[APIRouter]:
    """The API's routers, in the order the server mounts them."""
    return [graphql_router, files.router, admin_router]


__all__ = ["API_PREFIXES", "api_routers"]
