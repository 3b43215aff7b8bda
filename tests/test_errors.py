"""One exception family: every exception class crowdalpha defines is a ``CrowdalphaError``
or a scoring ``ScoringInputError``, with a short code of its own (src/crowdalpha/errors.py)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import pytest

import crowdalpha
from crowdalpha.errors import USER_ERRORS, CrowdalphaError, ScoringInputError

#: Modules not imported by the walk: importing them runs something.
NOT_IMPORTED = {
    "crowdalpha.__main__",  # runs the CLI
    "crowdalpha.tournament.migrations",  # Alembic's env.py runs the migrations on import
}

#: Exception classes that stay outside the family, each with the reason.
OUTSIDE = {
    # Control flow of the web pages' route class, never an error shown as such: a page
    # that needs a signed-in account raises it to redirect to the sign-in form.
    "crowdalpha.web.join._SignInNeeded",
    # Control flow too: the route class turns it into the "Refused" page with the status
    # it carries (403 for a form without this session's token, 400 for a malformed one).
    "crowdalpha.web.join._Refused",
}

#: Codes that two classes share on purpose, each with the reason.
SHARED_CODES = {
    # The scoring package's submission checks (numerai-tools' submissions module) refuse the
    # same things as the tournament's submission errors; scoring cannot import tournament.
    "invalid_submission": {
        "crowdalpha.scoring.errors.SubmissionCheckError",
        "crowdalpha.tournament.errors.InvalidSubmissionError",
    },
    "invalid_submission_ids": {
        "crowdalpha.scoring.errors.SubmissionIdsError",
        "crowdalpha.tournament.errors.InvalidSubmissionIdsError",
    },
}

CODE = re.compile(r"^[a-z][a-z0-9_]*$")


def crowdalpha_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(crowdalpha.__path__, prefix="crowdalpha."):
        if any(info.name == skip or info.name.startswith(f"{skip}.") for skip in NOT_IMPORTED):
            continue
        names.append(info.name)
    return names


def defined_exceptions() -> dict[str, type[BaseException]]:
    """Every exception class defined (not just imported) in a crowdalpha module, by full name."""
    found: dict[str, type[BaseException]] = {}
    for name in crowdalpha_modules():
        module = importlib.import_module(name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, BaseException) and cls.__module__ == name:
                found[f"{name}.{cls.__qualname__}"] = cls
    return found


EXCEPTIONS = defined_exceptions()
FAMILY = {name: cls for name, cls in EXCEPTIONS.items() if name not in OUTSIDE}


def test_the_walk_finds_the_family() -> None:
    """The walk sees every branch (so an empty walk cannot pass the next tests)."""
    for name in (
        "crowdalpha.errors.CrowdalphaError",
        "crowdalpha.scoring.errors.ScoringInputError",
        "crowdalpha.tournament.errors.InvalidValueError",
        "crowdalpha.server.errors.RateLimitedError",
        "crowdalpha.server.signing.SignatureError",
    ):
        assert name in EXCEPTIONS


def test_every_exception_class_is_in_the_family() -> None:
    outside = sorted(
        name for name, cls in FAMILY.items() if not issubclass(cls, (CrowdalphaError, ScoringInputError))
    )
    assert outside == [], "raise a CrowdalphaError subclass (or allow-list it here with a reason)"


def test_the_allow_list_names_classes_that_exist() -> None:
    assert sorted(OUTSIDE - EXCEPTIONS.keys()) == []


def test_each_class_has_a_code_of_its_own() -> None:
    owners: dict[str, set[str]] = {}
    for name, cls in sorted(FAMILY.items()):
        assert "code" in vars(cls), f"{name} has no code of its own"
        code = vars(cls)["code"]
        assert CODE.match(code), f"{name}.code {code!r} is not a short snake_case code"
        owners.setdefault(code, set()).add(name)
    shared = {code: names for code, names in owners.items() if len(names) > 1}
    assert shared == SHARED_CODES


def test_the_family_is_what_the_edges_catch() -> None:
    assert all(issubclass(cls, USER_ERRORS) for cls in FAMILY.values())


#: The classes built from a detail alone (``RateLimitedError`` builds its own from numbers).
FROM_DETAIL = sorted(
    name for name, cls in FAMILY.items()
    if cls.__init__ in (CrowdalphaError.__init__, ScoringInputError.__init__)
)


@pytest.mark.parametrize("name", FROM_DETAIL)
def test_a_message_starts_with_the_code(name: str) -> None:
    cls = FAMILY[name]
    error = cls("the offending thing")  # type: ignore[call-arg]
    assert str(error) == f"{cls.code}: the offending thing"  # type: ignore[attr-defined]
    assert error.detail == "the offending thing"  # type: ignore[attr-defined]
