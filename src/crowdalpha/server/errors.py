"""How domain errors reach HTTP clients: a status code for REST, a message for GraphQL.

Every error a user can cause is a ``CrowdalphaError`` (or a scoring input
error) whose message already names the offending thing; the API passes it on
unchanged. Authentication failures are prefixed with the sentence numerapi
users know from Numerai. A user error is logged as one line (``one_line``, at
WARNING), never with a traceback. Anything else is a server bug: logged in full,
and reported as a short opaque message, never a traceback.

The HTTP layer's own errors are in the family too::

    CrowdalphaError
    ├── RateLimitedError           429  rate_limited: a key or address over its budget
    ├── RangeNotSatisfiableError   416  invalid_range: a Range header the file cannot satisfy
    └── SignatureError             403  invalid_signature: an unsigned, changed or expired
                                        file URL (defined in crowdalpha.server.signing)
"""

from __future__ import annotations

from sqlalchemy.exc import OperationalError

from crowdalpha.errors import USER_ERRORS, ConfigError, CrowdalphaError, DataError, NotFoundError
from crowdalpha.server.signing import SignatureError
from crowdalpha.tournament.errors import (
    AuthenticationError,
    InsufficientFundsError,
    InsufficientStakeError,
    MissingApiKeyError,
    ModelLimitError,
    NameTakenError,
    PermissionDeniedError,
    RoundStateError,
)

SESSION_INVALID = "Your session is invalid or has expired."
KEYS_REQUIRED = "API keys required for this action."
BUSY = "busy: the database is busy with other writes and nothing was changed; retry in a moment"
INTERNAL = "internal error: the server could not complete this request; the operator's log has details"


class RateLimitedError(CrowdalphaError):
    """A key (or an address, without a key) sent more requests than its budget;
    ``retry_after`` is the seconds until it may send the next one."""

    code = "rate_limited"

    def __init__(self, who: str, limit: int, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(
            f"{who} sent more than {limit} requests in a minute; retry in {retry_after:.1f} s"
        )


class RangeNotSatisfiableError(CrowdalphaError):
    """A download's ``Range`` header asks for bytes the file does not have (or is garbled)."""

    code = "invalid_range"


STATUS_CODES: tuple[tuple[type[Exception], int], ...] = (
    (MissingApiKeyError, 401),
    (AuthenticationError, 401),
    (PermissionDeniedError, 403),
    (NotFoundError, 404),
    (NameTakenError, 409),
    (ModelLimitError, 409),
    (InsufficientFundsError, 409),
    (InsufficientStakeError, 409),
    (RoundStateError, 409),
    (RateLimitedError, 429),
    (SignatureError, 403),
    (RangeNotSatisfiableError, 416),
    (ConfigError, 400),
    (DataError, 400),
)


def status_code(error: BaseException) -> int:
    """The HTTP status of a user error (400 unless a more specific one applies)."""
    if _database_busy(error):
        return 503
    for cls, code in STATUS_CODES:
        if isinstance(error, cls):
            return code
    return 400 if isinstance(error, USER_ERRORS) else 500


def _database_busy(error: BaseException) -> bool:
    return isinstance(error, OperationalError) and "database is locked" in str(error)


#: The longest line a user error is logged as.
LOG_LINE_CHARS = 300


def one_line(text: str) -> str:
    """``text`` as one log line: line breaks as spaces, at most ``LOG_LINE_CHARS`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= LOG_LINE_CHARS else flat[: LOG_LINE_CHARS - 1] + "…"


def user_message(error: BaseException) -> str | None:
    """What to tell the client about ``error``; None when it is not the user's doing."""
    if _database_busy(error):
        return BUSY
    if isinstance(error, MissingApiKeyError):
        return f"{KEYS_REQUIRED} ({error})"
    if isinstance(error, AuthenticationError):
        return f"{SESSION_INVALID} ({error})"
    if isinstance(error, USER_ERRORS):
        return str(error)
    return None
