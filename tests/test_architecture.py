"""Arrows point one way, and the public surface is what __all__ says."""

from __future__ import annotations

import ast
import graphlib
import importlib
import inspect
import pathlib

import pytest

import crowdalpha

SRC = pathlib.Path(crowdalpha.__file__).parent

# The arrows (docs/architecture.md, "Layers"):
#   cli, sim -> server -> api, web -> tournament, toolkit, fund -> data, scoring
# layer -> crowdalpha packages (or modules) it must not import
FORBIDDEN = {
    "scoring": {"data", "tournament", "fund", "api", "web", "toolkit", "sim", "cli", "server",
                "errors"},
    "data": {"tournament", "fund", "api", "web", "toolkit", "sim", "cli", "server"},
    "tournament": {"api", "web", "sim", "cli", "server", "fund", "toolkit"},
    "fund": {"api", "web", "sim", "cli", "server"},
    "toolkit": {"api", "web", "sim", "cli", "server", "tournament"},
    "api": {"web", "sim", "cli", "server.app"},
    "web": {"api", "sim", "cli", "server.app"},
    "server": {"sim", "cli"},
    "sim": {"api", "web", "cli"},
    "cli.py": {"api", "web"},
}
#: The one module that mounts both surfaces (and so may import them).
MOUNTS = "server/app.py"


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in SRC.rglob("*.py") if "migrations" not in p.parts}


def imported_names(path: pathlib.Path) -> set[str]:
    """The ``crowdalpha`` modules ``path`` imports, at any depth, without the prefix:
    ``from crowdalpha.x import y`` names ``x.y`` when that is a module, else ``x``."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [
                f"{node.module}.{alias.name}"
                if f"{node.module}.{alias.name}".removeprefix("crowdalpha.") in MODULES
                else node.module
                for alias in node.names
            ]
        else:
            continue
        found |= {n.removeprefix("crowdalpha.") for n in names if n.startswith("crowdalpha.")}
    return found


def breaks(imported: str, rule: str) -> bool:
    """True when the imported name ``imported`` is ``rule`` or lies inside it."""
    return imported == rule or imported.startswith(f"{rule}.")


def test_layers_only_import_downward() -> None:
    problems = []
    for layer, forbidden in FORBIDDEN.items():
        paths = [SRC / layer] if layer.endswith(".py") else sorted((SRC / layer).rglob("*.py"))
        for path in paths:
            relative = path.relative_to(SRC).as_posix()
            rules = forbidden - {"api", "web"} if relative == MOUNTS else forbidden
            bad = {rule for rule in rules for name in imported_names(path) if breaks(name, rule)}
            if bad:
                problems.append(f"{relative} imports {sorted(bad)}")
    assert problems == []


def test_every_package_has_a_rule() -> None:
    packages = {p.name for p in SRC.iterdir() if (p / "__init__.py").exists()}
    modules = {p.name for p in SRC.glob("*.py")} - {"__init__.py", "__main__.py", "errors.py"}
    assert packages | modules <= set(FORBIDDEN)


def test_no_import_cycle_between_modules() -> None:
    """No module imports (directly or through others) a module that imports it back."""
    graph = {
        name: {n for n in imported_names(path) if n in MODULES and n != name}
        for name, path in MODULES.items()
    }
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as cycle:
        raise AssertionError(f"import cycle: {' -> '.join(cycle.args[1])}") from None


def test_scoring_public_surface_matches_all() -> None:
    scoring = importlib.import_module("crowdalpha.scoring")
    public = {name for name in vars(scoring) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(scoring, name)).__name__ == "module"}
    assert set(scoring.__all__) == public - modules
    assert (SRC / "py.typed").exists()


def test_numerai_tools_names_are_all_there() -> None:
    scoring = importlib.import_module("crowdalpha.scoring")
    # every public function of numerai_tools.scoring, .signals and .submissions 0.7.2
    names = ["numerai_corr", "correlation_contribution", "feature_neutral_corr", "neutralize",
             "neutral_correlation", "neutral_contribution", "max_feature_correlation", "stake_weight",
             "tie_kept_rank", "tie_broken_rank", "rank", "gaussian", "power", "orthogonalize", "center",
             "filter_sort_index", "filter_sort_index_many", "generate_neutralized_weights", "alpha",
             "meta_portfolio_contribution", "sharpe_ratio",
             "filter_sort_top_bottom", "filter_sort_top_bottom_concat", "rank_series", "min_max_normalize",
             "variance_normalize", "weight_normalize", "standardize", "validate_indices", "correlation",
             "tie_broken_rank_correlation", "spearman_correlation", "pearson_correlation",
             "contribution_scores", "one_hot_encode", "tie_kept_rank__gaussianize__pow_1_5",
             "tie_kept_rank__gaussianize__neutralize__variance_normalize",
             # signals
             "churn", "neutral_churn", "neutral_churn_penalty", "turnover", "calculate_mean_neutral_churn",
             "calculate_max_churn_and_turnover",
             # submissions
             "validate_headers_numerai", "validate_headers_signals", "validate_headers_crypto",
             "validate_values", "validate_ids_numerai", "validate_ids_signals", "validate_ids_crypto",
             "validate_submission_numerai", "validate_submission_signals", "validate_submission_crypto",
             "remap_ids", "clean_submission"]
    assert [n for n in names if not callable(getattr(scoring, n, None))] == []


def test_numerai_tools_public_functions_have_the_same_arguments() -> None:
    """Each public function of the installed numerai-tools has a namesake here with the same
    parameter names, order and defaults (skipped where numerai-tools is not installed)."""
    oracle = pytest.importorskip("numerai_tools")
    scoring = importlib.import_module("crowdalpha.scoring")
    differ = []
    for part in ("scoring", "signals", "submissions"):
        module = importlib.import_module(f"{oracle.__name__}.{part}")
        for name, theirs in vars(module).items():
            if name.startswith("_") or not inspect.isfunction(theirs) or theirs.__module__ != module.__name__:
                continue
            ours = getattr(scoring, name, None)
            if ours is None:
                differ.append(f"{part}.{name}: missing")
                continue
            a, b = inspect.signature(theirs).parameters, inspect.signature(ours).parameters
            if [(k, p.default) for k, p in a.items()] != [(k, p.default) for k, p in b.items()]:
                differ.append(f"{part}.{name}: {list(a)} vs {list(b)}")
    assert differ == []


def test_the_counted_submission_rule_is_written_once() -> None:
    """Which submission counts is ``submissions.COUNTED_FIRST``; nothing orders by it again."""
    written = [
        path.relative_to(SRC).as_posix()
        for path in SRC.rglob("*.py")
        if "Submission.created_at.desc()" in path.read_text()
    ]
    assert written == ["tournament/submissions.py"]
    assert (SRC / "tournament/submissions.py").read_text().count("created_at.desc()") == 1
