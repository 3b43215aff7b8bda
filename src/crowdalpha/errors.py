"""The exception family of crowdalpha.

Every error a user can cause is a ``CrowdalphaError`` or a scoring
``ScoringInputError``; the CLI prints their message as one line and exits 1,
the API maps them to a status code. Messages start with a short code::

    Exception
    ├── CrowdalphaError
    │   ├── ConfigError            bad settings, home folder, URLs
    │   ├── DataError              bad raw panels or dataset files (names file, column, row, era)
    │   └── NotFoundError          a named thing does not exist
    └── ValueError
        └── ScoringInputError      (crowdalpha.scoring.errors) bad input to a scorer

``ScoringInputError`` lives in the scoring package, which imports nothing else
of ours; ``USER_ERRORS`` is the tuple to catch at the edges.
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
