"""Fixtures shared by every test folder: one ``small`` dataset built per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from crowdalpha.data import build_dataset


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
