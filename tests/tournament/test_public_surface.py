"""Each tournament module built here says what is public in ``__all__``, and it is true."""

from __future__ import annotations

import importlib
import inspect

import pytest

MODULES = ["accounts", "clock", "db", "errors", "keys", "ledger", "models", "stakes", "tables",
           "submissions", "payouts", "views.rounds", "views.scores", "views.models", "views.money",
           "views.history"]


@pytest.mark.parametrize("name", MODULES)
def test_all_lists_the_public_functions_and_classes(name: str) -> None:
    module = importlib.import_module(f"crowdalpha.tournament.{name}")
    assert [n for n in module.__all__ if not hasattr(module, n)] == []
    defined_here = {
        n
        for n, obj in vars(module).items()
        if not n.startswith("_")
        and (inspect.isfunction(obj) or inspect.isclass(obj))
        and obj.__module__ == module.__name__
    }
    assert defined_here - set(module.__all__) == set()


def test_tournament_errors_are_crowdalpha_errors() -> None:
    from crowdalpha.errors import CrowdalphaError
    from crowdalpha.tournament import errors

    for name in errors.__all__:
        assert issubclass(getattr(errors, name), CrowdalphaError)
        assert getattr(errors, name).code != "error"
