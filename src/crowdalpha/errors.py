"""The exception family of crowdalpha.

Every error a user can cause is a ``CrowdalphaError`` or a scoring
``ScoringInputError``; the CLI prints their message as one line and exits 1,
the API maps them to a status code (``server.errors.STATUS_CODES``). Messages
start with the class's short ``code``: ``CrowdalphaError(detail)`` reads
``f"{code}: {detail}"``::

    Exception
    ├── CrowdalphaError
    │   ├── ConfigError            bad settings, home folder, URLs, simulation set-ups
    │   ├── DataError              bad raw panels or dataset files (names file, column, row, era)
    │   ├── NotFoundError          a named thing does not exist
    │   ├── TournamentError        (crowdalpha.tournament.errors) the tournament's rules
    │   │   ├── InvalidValueError ── NaiveDatetimeError (also a ValueError)
    │   │   ├── ClockBackwardsError                        (also a ValueError)
    │   │   └── ...                names, amounts, scopes, rounds, submissions, API keys
    │   ├── RateLimitedError       (crowdalpha.server.errors) too many requests, 429
    │   ├── RangeNotSatisfiableError (crowdalpha.server.errors) a bad Range header, 416
    │   └── SignatureError         (crowdalpha.server.signing) a bad or expired file URL, 403
    └── ValueError
        └── ScoringInputError      (crowdalpha.scoring.errors) bad input to a scorer

``ScoringInputError`` lives in the scoring package, which imports nothing else
of ours; ``USER_ERRORS`` is the tuple to catch at the edges. A test
(tests/test_errors.py) walks every module and checks each exception class
defined in crowdalpha is in this family, bar a short commented allow-list.
"""

from __future__ import annotations

from crowdalpha.scoring.errors import ScoringInputError


class CrowdalphaError(Exception):
    """Base of crowdalpha's own errors; ``code`` is a short machine-readable name."""

    code = "error"

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(f"{self.code}: {detail}")


class ConfigError(CrowdalphaError):
    code = "invalid_config"


class DataError(CrowdalphaError):
    code = "invalid_data"


class NotFoundError(CrowdalphaError):
    code = "not_found"


#: Errors caused by user input, to be reported as one clear line.
USER_ERRORS: tuple[type[Exception], ...] = (CrowdalphaError, ScoringInputError)

__all__ = ["USER_ERRORS", "ConfigError", "CrowdalphaError", "DataError", "NotFoundError", "ScoringInputError"]
