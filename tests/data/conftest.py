"""Shared fixtures: one ``small`` dataset built per test session, and a tiny market."""

from __future__ import annotations

from pathlib import Path

import pytest

from crowdalpha.data import MarketConfig, build_dataset

#: A market small enough to simulate in a fraction of a second.
TINY = MarketConfig(n_stocks=150, n_features=24, n_groups=6, n_alpha=4, n_risky=2, n_nuisance=2)


@pytest.fixture(scope="session")
def small_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[int, int]]]:
    """The ``small`` preset built once (seed 0), with the progress calls it made."""
    calls: list[tuple[int, int]] = []
    out = tmp_path_factory.mktemp("datasets")
    version = build_dataset(out, "small", seed=0, progress=lambda d, t: calls.append((d, t)))
    return version, calls


@pytest.fixture(scope="session")
def small_dataset(small_build: tuple[Path, list[tuple[int, int]]]) -> Path:
    return small_build[0]
