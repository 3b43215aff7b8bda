"""HTTP: the numerapi-compatible GraphQL API, signed file URLs, and the operator's REST API."""

from crowdalpha.api.app import create_app
from crowdalpha.api.settings import ApiSettings, resolve_api_settings

__all__ = ["ApiSettings", "create_app", "resolve_api_settings"]
