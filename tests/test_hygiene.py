"""The tests' own habits: helpers come from tests/helpers (never from a conftest), refusals
are checked with their specific class, and the test command reports the slowest tests."""

from __future__ import annotations

import ast
import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
TEST_FILES = sorted(TESTS.rglob("*.py"))


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def test_no_module_imports_a_conftest() -> None:
    """Fixtures stay in conftest.py files, found by pytest; shared functions and constants
    are imported from tests/helpers instead."""
    found = []
    for path in TEST_FILES:
        for node in ast.walk(_tree(path)):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [f"{node.module or ''}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            if any(n.split(".")[-1] == "conftest" for n in names):
                found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert found == []


def test_refusals_are_checked_with_a_specific_class() -> None:
    """``pytest.raises(Exception)`` passes for any bug; name the class the code raises."""
    found = []
    for path in TEST_FILES:
        for node in ast.walk(_tree(path)):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "raises"
                and node.args
                and isinstance(node.args[0], ast.Name)
                and node.args[0].id in ("Exception", "BaseException")
            ):
                found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert found == []


def test_the_test_command_reports_the_slowest_tests() -> None:
    script = (REPO / "scripts" / "test.sh").read_text()
    [pytest_line] = [line for line in script.splitlines() if re.search(r"-m pytest\b", line)]
    assert "--durations=25" in pytest_line
    first_screen = "\n".join((REPO / "README.md").read_text().splitlines()[:12])
    assert "bash scripts/test.sh" in first_screen
