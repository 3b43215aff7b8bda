"""Arrows point one way, and the public surface is what __all__ says."""

from __future__ import annotations

import ast
import importlib
import pathlib

import crowdalpha

SRC = pathlib.Path(crowdalpha.__file__).parent

# layer -> crowdalpha packages it must not import
FORBIDDEN = {
    "scoring": {"data", "tournament", "fund", "api", "web", "toolkit", "sim", "cli", "errors"},
    "data": {"tournament", "fund", "api", "web", "toolkit", "sim", "cli"},
    "tournament": {"api", "web", "sim", "cli"},
    "fund": {"api", "web", "sim", "cli"},
    "toolkit": {"api", "web", "sim", "cli", "tournament"},
}


def imported_crowdalpha_modules(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "crowdalpha" and len(parts) > 1:
                found.add(parts[1])
    return found


def test_layers_only_import_downward() -> None:
    problems = []
    for layer, forbidden in FORBIDDEN.items():
        for path in (SRC / layer).rglob("*.py"):
            bad = imported_crowdalpha_modules(path) & forbidden
            if bad:
                problems.append(f"{path.relative_to(SRC)} imports {sorted(bad)}")
    assert problems == []


def test_scoring_public_surface_matches_all() -> None:
    scoring = importlib.import_module("crowdalpha.scoring")
    public = {name for name in vars(scoring) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(scoring, name)).__name__ == "module"}
    assert set(scoring.__all__) == public - modules
    assert (SRC / "py.typed").exists()


def test_numerai_tools_names_are_all_there() -> None:
    scoring = importlib.import_module("crowdalpha.scoring")
    names = ["numerai_corr", "correlation_contribution", "feature_neutral_corr", "neutralize",
             "neutral_correlation", "neutral_contribution", "max_feature_correlation", "stake_weight",
             "tie_kept_rank", "tie_broken_rank", "rank", "gaussian", "power", "orthogonalize", "center",
             "filter_sort_index", "filter_sort_index_many", "generate_neutralized_weights", "alpha",
             "meta_portfolio_contribution", "sharpe_ratio"]
    assert [n for n in names if not callable(getattr(scoring, n, None))] == []
