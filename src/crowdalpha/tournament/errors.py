"""Errors of the tournament domain, all ``CrowdalphaError`` subclasses.

Each message starts with the class's short code and names the offending thing,
e.g. ``insufficient_funds: account 'alice' has 10.5 available, stake increase
of 12 requested``. The API maps the branches to status codes::

    CrowdalphaError                      (crowdalpha.errors)
    ├── NotFoundError                    404  account / model / key does not exist
    └── TournamentError                  400  base of the domain's own errors
        ├── InvalidNameError             400  name does not match the allowed pattern
        ├── InvalidAmountError           400  amount not positive, a float, too precise
        ├── InvalidScopeError            400  unknown API key scope or not allowed
        ├── InvalidValueError            400  a setting or choice outside its allowed values
        │   └── NaiveDatetimeError            a datetime without a time zone (also a ValueError)
        ├── ClockBackwardsError          400  a replay clock set back in time (also a ValueError)
        ├── NameTakenError               409  account or model name in use
        ├── ModelLimitError              409  account already owns the maximum of models
        ├── InsufficientFundsError       409  wallet cannot cover a withdrawal or stake
        ├── InsufficientStakeError       409  stake cannot cover a decrease or burn
        ├── RoundStateError              409  round is not in the state the operation needs
        │   └── RoundAlreadyOpenError         a round is open already
        ├── InvalidSubmissionError       400  base of the rejected submissions
        │   ├── InvalidSubmissionFileError    size, format, columns
        │   ├── InvalidSubmissionIdsError     empty, duplicate, unknown or too few ids
        │   └── InvalidPredictionsError       non-numeric, NaN, outside [0, 1], constant
        ├── AuthenticationError          401  base of the API key failures
        │   ├── MissingApiKeyError            no key sent
        │   ├── MalformedApiKeyError          not ``PUBLIC$SECRET``
        │   ├── InvalidApiKeyError            unknown public id or wrong secret
        │   └── RevokedApiKeyError            key was revoked
        └── PermissionDeniedError        403  authenticated but not allowed
            └── MissingScopeError             key lacks the needed scope
"""

from __future__ import annotations

from crowdalpha.errors import CrowdalphaError, NotFoundError


class TournamentError(CrowdalphaError):
    code = "tournament_error"


class InvalidNameError(TournamentError):
    code = "invalid_name"


class InvalidAmountError(TournamentError):
    code = "invalid_amount"


class InvalidScopeError(TournamentError):
    code = "invalid_scope"


class InvalidValueError(TournamentError):
    code = "invalid_value"


class NaiveDatetimeError(InvalidValueError, ValueError):
    """A datetime without a time zone; a ``ValueError`` too, as it was before the family."""

    code = "naive_datetime"


class ClockBackwardsError(TournamentError, ValueError):
    """A replay clock asked to go back in time; a ``ValueError`` too, as before the family."""

    code = "clock_backwards"


class NameTakenError(TournamentError):
    code = "name_taken"


class ModelLimitError(TournamentError):
    code = "model_limit"


class InsufficientFundsError(TournamentError):
    code = "insufficient_funds"


class InsufficientStakeError(TournamentError):
    code = "insufficient_stake"


class RoundStateError(TournamentError):
    code = "round_state"


class RoundAlreadyOpenError(RoundStateError):
    code = "round_already_open"


class InvalidSubmissionError(TournamentError):
    code = "invalid_submission"


class InvalidSubmissionFileError(InvalidSubmissionError):
    code = "invalid_submission_file"


class InvalidSubmissionIdsError(InvalidSubmissionError):
    code = "invalid_submission_ids"


class InvalidPredictionsError(InvalidSubmissionError):
    code = "invalid_submission_predictions"


class AuthenticationError(TournamentError):
    code = "authentication_failed"


class MissingApiKeyError(AuthenticationError):
    code = "missing_api_key"


class MalformedApiKeyError(AuthenticationError):
    code = "malformed_api_key"


class InvalidApiKeyError(AuthenticationError):
    code = "invalid_api_key"


class RevokedApiKeyError(AuthenticationError):
    code = "revoked_api_key"


class PermissionDeniedError(TournamentError):
    code = "permission_denied"


class MissingScopeError(PermissionDeniedError):
    code = "missing_scope"


__all__ = [
    "AuthenticationError",
    "ClockBackwardsError",
    "InsufficientFundsError",
    "InsufficientStakeError",
    "InvalidAmountError",
    "InvalidApiKeyError",
    "InvalidNameError",
    "InvalidPredictionsError",
    "InvalidScopeError",
    "InvalidSubmissionError",
    "InvalidSubmissionFileError",
    "InvalidSubmissionIdsError",
    "InvalidValueError",
    "MalformedApiKeyError",
    "MissingApiKeyError",
    "MissingScopeError",
    "ModelLimitError",
    "NaiveDatetimeError",
    "NameTakenError",
    "NotFoundError",
    "PermissionDeniedError",
    "RevokedApiKeyError",
    "RoundAlreadyOpenError",
    "RoundStateError",
    "TournamentError",
]
