"""The server's settings: one validated object from the options and the ``CROWDALPHA_*``
variables, each bad value named, the documented table complete, picklable for workers."""

from __future__ import annotations

import dataclasses
import pickle
from decimal import Decimal
from pathlib import Path

import pytest

from crowdalpha.errors import ConfigError
from crowdalpha.server import settings as settings_mod
from crowdalpha.server.settings import (
    SECRET_FILE,
    VARIABLES,
    ServerSettings,
    resolve_server_settings,
)


def test_defaults_and_a_secret_kept_in_the_home(tmp_path: Path) -> None:
    settings = resolve_server_settings(tmp_path, environ={})
    assert (settings.host, settings.port, settings.public_url) == (
        "127.0.0.1", 8000, "http://127.0.0.1:8000"
    )
    assert (settings.schedule, settings.url_ttl_seconds, settings.max_upload_bytes) == (
        "weekly", 3600, 100 * 1024 * 1024
    )
    assert (settings.rate_limit_per_minute, settings.sign_in_attempts_per_minute) == (600, 30)
    assert (settings.request_timeout_seconds, settings.signup_grant) == (120.0, 0)
    assert settings.secret == (tmp_path / SECRET_FILE).read_text().encode()
    assert resolve_server_settings(tmp_path, environ={}).secret == settings.secret  # kept
    assert settings.secret.decode() not in repr(settings)


def test_every_variable_is_read(tmp_path: Path) -> None:
    settings = resolve_server_settings(tmp_path, environ={
        "CROWDALPHA_HOST": "0.0.0.0", "CROWDALPHA_PORT": "9000", "CROWDALPHA_SECRET": "s3",
        "CROWDALPHA_SCHEDULE": "daily", "CROWDALPHA_URL_TTL": "60",
        "CROWDALPHA_MAX_UPLOAD_BYTES": "1000", "CROWDALPHA_RATE_LIMIT": "5",
        "CROWDALPHA_SIGN_IN_LIMIT": "3", "CROWDALPHA_REQUEST_TIMEOUT": "2.5",
        "CROWDALPHA_SIGNUP_GRANT": " 100.5 ",
    })
    assert dataclasses.asdict(settings) | {"home": None} == {
        "home": None, "secret": b"s3", "host": "0.0.0.0", "port": 9000,
        "public_url": "http://127.0.0.1:9000",  # what a client on this machine reaches
        "schedule": "daily", "url_ttl_seconds": 60, "max_upload_bytes": 1000,
        "rate_limit_per_minute": 5, "sign_in_attempts_per_minute": 3,
        "request_timeout_seconds": 2.5, "signup_grant": Decimal("100.5"),
    }
    assert settings.round_schedule().name == "daily"
    assert not (tmp_path / SECRET_FILE).exists()
    public = resolve_server_settings(
        tmp_path, environ={"CROWDALPHA_PUBLIC_URL": "https://crowd.example/", "CROWDALPHA_SECRET": "x"}
    )
    assert public.public_url == "https://crowd.example"


def test_options_win_over_variables(tmp_path: Path) -> None:
    env = {"CROWDALPHA_HOST": "10.0.0.1", "CROWDALPHA_PORT": "not even a number",
           "CROWDALPHA_SCHEDULE": "weekly", "CROWDALPHA_SIGNUP_GRANT": "5"}
    settings = resolve_server_settings(tmp_path, environ=env, host="127.0.0.2", port=8123,
                                       schedule="daily", signup_grant=Decimal(1000))
    assert (settings.host, settings.port, settings.schedule, settings.signup_grant) == (
        "127.0.0.2", 8123, "daily", Decimal(1000)
    )


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("CROWDALPHA_PORT", "x", "CROWDALPHA_PORT='x' is not a whole number"),
    ("CROWDALPHA_PORT", "0", "CROWDALPHA_PORT=0 is not a port number (1 to 65535)"),
    ("CROWDALPHA_PORT", "65536", "CROWDALPHA_PORT=65536 is not a port number (1 to 65535)"),
    ("CROWDALPHA_HOST", "local host", "CROWDALPHA_HOST='local host' is not an address to listen on"),
    ("CROWDALPHA_PUBLIC_URL", "crowd.example",
     "CROWDALPHA_PUBLIC_URL='crowd.example' is not an http:// or https:// address of this server"),
    ("CROWDALPHA_SCHEDULE", "hourly", "CROWDALPHA_SCHEDULE='hourly' is not one of weekly, daily"),
    ("CROWDALPHA_URL_TTL", "0", "CROWDALPHA_URL_TTL=0 must be positive"),
    ("CROWDALPHA_MAX_UPLOAD_BYTES", "1e6", "CROWDALPHA_MAX_UPLOAD_BYTES='1e6' is not a whole number"),
    ("CROWDALPHA_RATE_LIMIT", "-1", "CROWDALPHA_RATE_LIMIT=-1 must be positive"),
    ("CROWDALPHA_SIGN_IN_LIMIT", "ten", "CROWDALPHA_SIGN_IN_LIMIT='ten' is not a whole number"),
    ("CROWDALPHA_REQUEST_TIMEOUT", "soon", "CROWDALPHA_REQUEST_TIMEOUT='soon' is not a number"),
    ("CROWDALPHA_REQUEST_TIMEOUT", "0",
     "CROWDALPHA_REQUEST_TIMEOUT=0.0 must be a positive number of seconds"),
    ("CROWDALPHA_SIGNUP_GRANT", "-5",
     "CROWDALPHA_SIGNUP_GRANT='-5' is not a usable amount: amount -5 must be positive"),
    ("CROWDALPHA_SIGNUP_GRANT", "0.0000000001", "CROWDALPHA_SIGNUP_GRANT='0.0000000001' is not a "
     "usable amount: amount 0.0000000001 has more than 9 decimal places"),
    ("CROWDALPHA_DB", "not a url", "CROWDALPHA_DB 'not a url' is not a SQLAlchemy URL"),
])
def test_a_bad_value_names_its_variable(tmp_path: Path, variable: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        resolve_server_settings(tmp_path, environ={variable: value, "CROWDALPHA_SECRET": "s"})
    assert str(raised.value).startswith(f"invalid_config: {message}")


def test_a_settings_object_made_in_code_is_checked_too(tmp_path: Path) -> None:
    settings = resolve_server_settings(tmp_path, environ={})
    with pytest.raises(ConfigError, match=r"^invalid_config: CROWDALPHA_PORT=True is not a whole"):
        dataclasses.replace(settings, port=True)
    with pytest.raises(ConfigError, match="CROWDALPHA_SIGNUP_GRANT='-1' is not a usable amount"):
        dataclasses.replace(settings, signup_grant=Decimal(-1))
    with pytest.raises(ConfigError, match="CROWDALPHA_SECRET is empty"):
        dataclasses.replace(settings, secret=b"")
    assert dataclasses.replace(settings, port=9000).public_url == settings.public_url  # as given
    assert dataclasses.replace(settings, port=9000, public_url="").public_url == "http://127.0.0.1:9000"


def test_settings_travel_to_worker_processes_as_they_are(tmp_path: Path) -> None:
    settings = resolve_server_settings(tmp_path, environ={"CROWDALPHA_SIGNUP_GRANT": "7"}, port=9001)
    assert pickle.loads(pickle.dumps(settings)) == settings


def test_the_table_documents_every_variable() -> None:
    doc = settings_mod.__doc__ or ""
    rows = {line.split()[0]: line.split()[1] for line in doc.splitlines()
            if line.startswith("CROWDALPHA_")}
    assert {v: f for f, v in VARIABLES.items()} | {
        "CROWDALPHA_HOME": "home.home", "CROWDALPHA_DB": "home.db_url",
        "CROWDALPHA_STORE": "home.store_url",
    } == rows
    fields = {f.name for f in dataclasses.fields(ServerSettings)} - {"home"}
    assert set(VARIABLES) == fields
