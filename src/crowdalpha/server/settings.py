"""The server's settings: one typed, validated object, parsed once per process.

``resolve_server_settings`` is the one place that reads the operator's
``CROWDALPHA_*`` variables for the server; ``crowdalpha serve`` calls it once
(its ``--host``, ``--port`` and ``--schedule`` options win over the variables)
and hands the ``ServerSettings`` to every worker process itself, never through
the environment. Handlers read ``services.settings``. Every field is checked
when the object is made: a bad value raises ``ConfigError`` naming the variable
and the value, e.g. ``invalid_config: CROWDALPHA_PORT='x' is not a whole number``.

===========================  ===========================  ======================  ==========================
variable                     field                        default                 valid values
===========================  ===========================  ======================  ==========================
CROWDALPHA_HOME              home.home                    ./crowdalpha-home       a folder (--home)
CROWDALPHA_DB                home.db_url                  HOME/crowdalpha.sqlite  a SQLAlchemy URL
CROWDALPHA_STORE             home.store_url               HOME/store              an fsspec URL (s3://...)
CROWDALPHA_HOST              host                         127.0.0.1               an address (--host)
CROWDALPHA_PORT              port                         8000                    1 to 65535 (--port)
CROWDALPHA_PUBLIC_URL        public_url                   http://HOST:PORT        http(s)://...
CROWDALPHA_SECRET            secret                       HOME/.secret            any text
CROWDALPHA_SCHEDULE          schedule                     weekly                  weekly, daily (--schedule)
CROWDALPHA_URL_TTL           url_ttl_seconds              3600                    whole, > 0
CROWDALPHA_MAX_UPLOAD_BYTES  max_upload_bytes             104857600               whole, > 0
CROWDALPHA_RATE_LIMIT        rate_limit_per_minute        600                     whole, > 0
CROWDALPHA_SIGN_IN_LIMIT     sign_in_attempts_per_minute  30                      whole, > 0
CROWDALPHA_REQUEST_TIMEOUT   request_timeout_seconds      120                     a number, > 0
CROWDALPHA_SIGNUP_GRANT      signup_grant                 0                       0 or an amount
===========================  ===========================  ======================  ==========================

- The home's three (``HOME``, ``DB``, ``STORE``) are every command's
  (``tournament.db.resolve_settings``); the others are the server's.
- ``public_url`` is the address clients reach the server at: signed URLs point
  there. Listening on ``0.0.0.0`` or ``::`` shows ``127.0.0.1`` by default.
- ``secret`` signs file URLs (HMAC); without ``CROWDALPHA_SECRET`` a random one
  is created (owner-only) in ``HOME/.secret``, so that restarts agree on it.
- ``max_upload_bytes``: larger uploads are refused (default 100 MiB).
- ``rate_limit_per_minute``: requests per API key (or client address) and
  minute, per worker process; ``sign_in_attempts_per_minute``: web sign-ins
  and sign-ups per client address and minute (each costs a scrypt run).
- ``request_timeout_seconds``: a request running longer gets 504.
- ``signup_grant``: money deposited into every account created on the sign-up
  page, with the account (the live demo: 1000); an amount is positive with at
  most 9 decimal places, as the ledger's.
"""

from __future__ import annotations

import math
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from crowdalpha.errors import ConfigError, CrowdalphaError
from crowdalpha.tournament.db import Settings, resolve_settings
from crowdalpha.tournament.ledger import ZERO, parse_amount
from crowdalpha.tournament.rounds import Schedule, schedule_named

SECRET_FILE = ".secret"

#: The variable that sets each field of ``ServerSettings`` (errors name it).
VARIABLES = {
    "host": "CROWDALPHA_HOST",
    "port": "CROWDALPHA_PORT",
    "public_url": "CROWDALPHA_PUBLIC_URL",
    "secret": "CROWDALPHA_SECRET",
    "schedule": "CROWDALPHA_SCHEDULE",
    "url_ttl_seconds": "CROWDALPHA_URL_TTL",
    "max_upload_bytes": "CROWDALPHA_MAX_UPLOAD_BYTES",
    "rate_limit_per_minute": "CROWDALPHA_RATE_LIMIT",
    "sign_in_attempts_per_minute": "CROWDALPHA_SIGN_IN_LIMIT",
    "request_timeout_seconds": "CROWDALPHA_REQUEST_TIMEOUT",
    "signup_grant": "CROWDALPHA_SIGNUP_GRANT",
}
_POSITIVE_WHOLE = ("url_ttl_seconds", "max_upload_bytes", "rate_limit_per_minute",
                   "sign_in_attempts_per_minute")


def _invalid(name: str, value: object, why: str) -> ConfigError:
    """``CROWDALPHA_X=value why``: the variable of field ``name`` and the value it got."""
    shown = repr(str(value)) if isinstance(value, Decimal) else repr(value)
    return ConfigError(f"{VARIABLES[name]}={shown} {why}")


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_signup_grant(value: object) -> Decimal:
    """The sign-up grant ``value`` as an amount: zero, or positive with at most 9 decimal
    places (the ledger's rules); ``ConfigError`` naming ``CROWDALPHA_SIGNUP_GRANT`` otherwise."""
    if isinstance(value, str):
        value = value.strip()
    try:
        if isinstance(value, Decimal | int | str) and not isinstance(value, bool) \
                and Decimal(value) == 0:
            return ZERO
    except InvalidOperation:
        pass  # parse_amount says what is wrong with it
    try:
        return parse_amount(value, what="amount")  # type: ignore[arg-type]
    except CrowdalphaError as error:
        raise _invalid("signup_grant", value, f"is not a usable amount: {error.detail}") from None


@dataclass(frozen=True, kw_only=True)
class ServerSettings:
    """Everything the HTTP server needs to know, resolved and checked once at start-up.

    Frozen and picklable: ``crowdalpha serve`` hands it to its worker processes.
    ``public_url`` left empty means ``http://HOST:PORT``.
    """

    home: Settings
    secret: bytes = field(repr=False)
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = ""
    schedule: str = "weekly"
    url_ttl_seconds: int = 3600
    max_upload_bytes: int = 100 * 1024 * 1024
    rate_limit_per_minute: int = 600
    sign_in_attempts_per_minute: int = 30
    request_timeout_seconds: float = 120.0
    signup_grant: Decimal = ZERO

    def __post_init__(self) -> None:
        if not isinstance(self.home, Settings):
            raise ConfigError(f"home {self.home!r} is not the home's settings (tournament.db.Settings)")
        if not isinstance(self.host, str) or not self.host or any(c.isspace() for c in self.host):
            raise _invalid("host", self.host, "is not an address to listen on")
        if not _whole(self.port):
            raise _invalid("port", self.port, "is not a whole number")
        if not 1 <= self.port <= 65535:
            raise _invalid("port", self.port, "is not a port number (1 to 65535)")
        if not self.public_url:
            shown_host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
            object.__setattr__(self, "public_url", f"http://{shown_host}:{self.port}")
        if not isinstance(self.public_url, str) \
                or not self.public_url.startswith(("http://", "https://")) \
                or len(self.public_url.rstrip("/")) <= len("https://") \
                or any(c.isspace() for c in self.public_url):
            raise _invalid("public_url", self.public_url,
                           "is not an http:// or https:// address of this server")
        object.__setattr__(self, "public_url", self.public_url.rstrip("/"))
        if not isinstance(self.secret, bytes) or not self.secret:
            raise ConfigError(f"{VARIABLES['secret']} is empty; set it or leave it unset "
                              f"(then the server keeps a random one in HOME/{SECRET_FILE})")
        if not isinstance(self.schedule, str):
            raise _invalid("schedule", self.schedule, "is not a schedule name")
        schedule_named(self.schedule, source=VARIABLES["schedule"])
        for name in _POSITIVE_WHOLE:
            value = getattr(self, name)
            if not _whole(value):
                raise _invalid(name, value, "is not a whole number")
            if value <= 0:
                raise _invalid(name, value, "must be positive")
        timeout = self.request_timeout_seconds
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) \
                or not math.isfinite(timeout) or timeout <= 0:
            raise _invalid("request_timeout_seconds", timeout, "must be a positive number of seconds")
        object.__setattr__(self, "request_timeout_seconds", float(timeout))
        object.__setattr__(self, "signup_grant", check_signup_grant(self.signup_grant))

    @property
    def datasets_dir(self) -> Path:
        return self.home.home / "datasets"

    def round_schedule(self) -> Schedule:
        """The round cadence these settings name."""
        return schedule_named(self.schedule)


def home_secret(home: Path) -> bytes:
    """The signing secret kept in the home folder, created (owner-only) on first use."""
    path = home / SECRET_FILE
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


def _text(env: Mapping[str, str], name: str) -> str | None:
    """The variable of field ``name``; None when unset or empty (the default then)."""
    raw = env.get(VARIABLES[name], "").strip()
    return raw or None


def _whole_number(env: Mapping[str, str], name: str) -> int | None:
    raw = _text(env, name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise _invalid(name, raw, "is not a whole number") from None


def _number(env: Mapping[str, str], name: str) -> float | None:
    raw = _text(env, name)
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        raise _invalid(name, raw, "is not a number") from None


def resolve_server_settings(
    home: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    host: str | None = None,
    port: int | None = None,
    schedule: str | None = None,
    signup_grant: Decimal | int | str | None = None,
) -> ServerSettings:
    """The server's settings from ``home`` and the ``CROWDALPHA_*`` variables of ``environ``
    (default: this process's environment): the one place that reads them.

    ``host``, ``port``, ``schedule`` and ``signup_grant``, when given (a command's options),
    win over their variables. ``ConfigError`` names the first bad variable.
    """
    env = os.environ if environ is None else environ
    base = resolve_settings(home, environ=env)
    values: dict[str, object] = {
        "host": host if host is not None else _text(env, "host"),
        "port": port if port is not None else _whole_number(env, "port"),
        "public_url": _text(env, "public_url"),
        "schedule": schedule if schedule is not None else _text(env, "schedule"),
        "request_timeout_seconds": _number(env, "request_timeout_seconds"),
        "signup_grant": signup_grant if signup_grant is not None else _text(env, "signup_grant"),
        **{name: _whole_number(env, name) for name in _POSITIVE_WHOLE},
    }
    if values["signup_grant"] is not None:
        values["signup_grant"] = check_signup_grant(values["signup_grant"])
    secret = env.get(VARIABLES["secret"], "").encode() or home_secret(base.home)
    return ServerSettings(
        home=base, secret=secret, **{name: v for name, v in values.items() if v is not None}  # type: ignore[arg-type]
    )


__all__ = [
    "SECRET_FILE",
    "VARIABLES",
    "ServerSettings",
    "check_signup_grant",
    "home_secret",
    "resolve_server_settings",
]
