"""Errors raised by the scoring engine.

Every check on user input raises a subclass of :class:`ScoringInputError`
(itself a ``ValueError``, so code written against numerai-tools' ``assert``
failures can catch it). Each message starts with a short code and names the
offending column, id or count::

    ScoringInputError (ValueError)
    ├── EmptyInputError         empty_input: ...
    ├── MissingValuesError      nan_values: ... / infinite_values: ...
    ├── DuplicateIdsError       duplicate_ids: ...
    ├── NonNumericError         non_numeric: ...
    ├── LengthMismatchError     length_mismatch: ...
    ├── UnsortedIndexError      unsorted_index: ...
    ├── InsufficientOverlapError insufficient_overlap: ...
    ├── DegenerateInputError    degenerate_input: ...
    └── SubmissionCheckError (also an AssertionError)   crowdalpha.scoring.submissions
        ├── SubmissionHeadersError  invalid_submission_headers: ...
        ├── SubmissionIdsError      invalid_submission_ids: ...
        └── SubmissionValuesError   invalid_submission_values: ...

The submission checks' errors are also ``AssertionError`` because
numerai-tools' checks fail with ``assert`` and participants' code (and
numerai-tools' own signals code) catches ``AssertionError``; ours are still
raised explicitly, never by an ``assert`` statement.

The scoring package imports nothing else of crowdalpha's; the project-wide
hierarchy in ``crowdalpha.errors`` re-exports these classes.
"""

from __future__ import annotations


class ScoringInputError(ValueError):
    """Input the scoring engine cannot score; ``code`` names the problem."""

    code = "invalid_input"

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(f"{self.code}: {detail}")


class EmptyInputError(ScoringInputError):
    code = "empty_input"


class MissingValuesError(ScoringInputError):
    code = "nan_values"


class InfiniteValuesError(MissingValuesError):
    code = "infinite_values"


class DuplicateIdsError(ScoringInputError):
    code = "duplicate_ids"


class NonNumericError(ScoringInputError):
    code = "non_numeric"


class LengthMismatchError(ScoringInputError):
    code = "length_mismatch"


class UnsortedIndexError(ScoringInputError):
    code = "unsorted_index"


class InsufficientOverlapError(ScoringInputError):
    code = "insufficient_overlap"


class DegenerateInputError(ScoringInputError):
    code = "degenerate_input"


class SubmissionCheckError(ScoringInputError, AssertionError):
    """A submission refused by ``crowdalpha.scoring.submissions``' checks."""

    code = "invalid_submission"


class SubmissionHeadersError(SubmissionCheckError):
    code = "invalid_submission_headers"


class SubmissionIdsError(SubmissionCheckError):
    code = "invalid_submission_ids"


class SubmissionValuesError(SubmissionCheckError):
    code = "invalid_submission_values"
