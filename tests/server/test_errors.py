"""Domain and HTTP errors to statuses and messages: the HTTP layer's own errors are in the
family and keep their statuses (429, 403, 416) and messages."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

from crowdalpha.errors import USER_ERRORS, ConfigError, CrowdalphaError, DataError, NotFoundError
from crowdalpha.scoring.errors import EmptyInputError
from crowdalpha.server.errors import (
    BUSY,
    KEYS_REQUIRED,
    SESSION_INVALID,
    RangeNotSatisfiableError,
    RateLimitedError,
    status_code,
    user_message,
)
from crowdalpha.server.signing import SignatureError
from crowdalpha.tournament.errors import (
    InsufficientFundsError,
    InvalidApiKeyError,
    InvalidValueError,
    MissingApiKeyError,
    MissingScopeError,
    NaiveDatetimeError,
    RoundAlreadyOpenError,
)


def test_rate_limited_keeps_its_message_and_wait() -> None:
    error = RateLimitedError("API key 'abc'", 600, 2.25)
    assert isinstance(error, CrowdalphaError) and error.code == "rate_limited"
    assert str(error) == (
        "rate_limited: API key 'abc' sent more than 600 requests in a minute; retry in 2.2 s"
    )
    assert error.retry_after == 2.25
    assert status_code(error) == 429
    assert user_message(error) == str(error)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (MissingApiKeyError("no key"), 401),
        (InvalidApiKeyError("unknown key"), 401),
        (MissingScopeError("lacks scope 'upload'"), 403),
        (NotFoundError("no model 'x'"), 404),
        (InsufficientFundsError("has 1 available"), 409),
        (RoundAlreadyOpenError("round 3 is open"), 409),
        (RateLimitedError("address 1.2.3.4", 10, 1.0), 429),
        (SignatureError("this URL is not signed"), 403),
        (RangeNotSatisfiableError("Range 'bytes=9-' is outside the file's 5 bytes"), 416),
        (ConfigError("bad"), 400),
        (DataError("bad"), 400),
        (InvalidValueError("bad"), 400),
        (NaiveDatetimeError("at has no time zone"), 400),
        (EmptyInputError("no rows"), 400),
        (OperationalError("UPDATE", {}, Exception("database is locked")), 503),
        (RuntimeError("a bug"), 500),
        (ValueError("a bug too"), 500),
    ],
)
def test_status_codes(error: BaseException, status: int) -> None:
    assert status_code(error) == status


def test_user_messages() -> None:
    assert user_message(MissingApiKeyError("no key")) == f"{KEYS_REQUIRED} (missing_api_key: no key)"
    assert user_message(InvalidApiKeyError("x")) == f"{SESSION_INVALID} (invalid_api_key: x)"
    assert user_message(SignatureError("this URL is not signed")) == (
        "invalid_signature: this URL is not signed"
    )
    assert user_message(OperationalError("UPDATE", {}, Exception("database is locked"))) == BUSY
    assert user_message(RuntimeError("a bug")) is None  # never shown: logged instead


def test_the_http_errors_are_caught_where_user_errors_are() -> None:
    """The CLI and the app catch ``USER_ERRORS``; the web forms' ``except (CrowdalphaError,
    RateLimitedError)`` keeps working (the second name is now redundant)."""
    for error in (RateLimitedError("x", 1, 1.0), SignatureError("x"), RangeNotSatisfiableError("x")):
        assert isinstance(error, USER_ERRORS) and isinstance(error, CrowdalphaError)
