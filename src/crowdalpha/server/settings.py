"""The server's settings: where its state lives (the home, as every command finds it)
and its limits, from the environment with documented defaults.

``CROWDALPHA_PUBLIC_URL`` is the address clients reach the server at (signed URLs
point there); ``CROWDALPHA_SECRET`` signs file URLs, else a random secret kept in
``HOME/.secret`` so that every worker process and restart agrees on it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from crowdalpha.errors import ConfigError
from crowdalpha.tournament.db import Settings, resolve_settings
from crowdalpha.tournament.rounds import Schedule, schedule_named

SECRET_FILE = ".secret"


@dataclass(frozen=True)
class ServerSettings:
    """Everything the HTTP server needs to know, resolved once at start-up."""

    home: Settings
    public_url: str = "http://127.0.0.1:8000"
    secret: bytes = b""
    schedule: str = "weekly"
    url_ttl_seconds: int = 3600
    max_upload_bytes: int = 100 * 1024 * 1024
    rate_limit_per_minute: int = 600
    request_timeout_seconds: float = 120.0

    @property
    def datasets_dir(self) -> Path:
        return self.home.home / "datasets"

    def round_schedule(self) -> Schedule:
        """The round cadence these settings name."""
        return schedule_named(self.schedule)


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None
    if value <= 0:
        raise ConfigError(f"{name}={raw!r} must be positive")
    return value


def home_secret(home: Path) -> bytes:
    """The signing secret kept in the home folder, created (owner-only) on first use."""
    path = home / SECRET_FILE
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


def resolve_server_settings(
    home: str | os.PathLike[str] | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    environ: Mapping[str, str] | None = None,
) -> ServerSettings:
    """Settings from ``home`` and the ``CROWDALPHA_*`` variables."""
    env = os.environ if environ is None else environ
    base = resolve_settings(home, environ=env)
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    public_url = (env.get("CROWDALPHA_PUBLIC_URL") or f"http://{shown_host}:{port}").rstrip("/")
    secret = env.get("CROWDALPHA_SECRET", "").encode() or home_secret(base.home)
    schedule = env.get("CROWDALPHA_SCHEDULE") or "weekly"
    schedule_named(schedule, source="CROWDALPHA_SCHEDULE")
    return ServerSettings(
        home=base,
        public_url=public_url,
        secret=secret,
        schedule=schedule,
        url_ttl_seconds=_int(env, "CROWDALPHA_URL_TTL", ServerSettings.url_ttl_seconds),
        max_upload_bytes=_int(env, "CROWDALPHA_MAX_UPLOAD_BYTES", ServerSettings.max_upload_bytes),
        rate_limit_per_minute=_int(env, "CROWDALPHA_RATE_LIMIT", ServerSettings.rate_limit_per_minute),
        request_timeout_seconds=float(
            _int(env, "CROWDALPHA_REQUEST_TIMEOUT", int(ServerSettings.request_timeout_seconds))
        ),
    )


def settings_from_environment() -> ServerSettings:
    """The server's settings from the ``CROWDALPHA_*`` variables ``crowdalpha serve`` sets."""
    return resolve_server_settings(
        host=os.environ.get("CROWDALPHA_HOST", "127.0.0.1"),
        port=int(os.environ.get("CROWDALPHA_PORT", "8000")),
    )
