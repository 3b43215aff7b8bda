"""The main job until the live tournament: `crowdalpha demo` on a built dataset."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from crowdalpha.cli import app
from crowdalpha.sim.validation_demo import LEADERBOARD_COLUMNS, run_validation_demo


def home_with(dataset: Path, tmp_path: Path) -> Path:
    home = tmp_path / "home"
    shutil.copytree(dataset, home / "datasets" / "v1")
    return home


def test_demo_scores_every_participant(small_dataset: Path, tmp_path: Path) -> None:
    result = run_validation_demo(home_with(small_dataset, tmp_path))
    board = result.leaderboard
    assert set(board.index) == {"example_lgbm", "ridge_linear", "meta_copy", "random", "example_half_neutral"}
    assert list(board.columns) == list(LEADERBOARD_COLUMNS.values())
    assert board.loc["example_lgbm", "CORR"] > 0.01
    assert abs(board.loc["random", "CORR"]) < 0.01
    assert board.loc["example_half_neutral", "FE max"] < board.loc["example_lgbm", "FE max"]
    assert set(result.scores["metric"]) == {"corr", "mmc", "bmc", "fnc", "fe_max", "fe_rms"}
    assert np.isfinite(result.scores["value"]).all()


def test_season_validate_prints_the_validation_leaderboard(small_dataset: Path, tmp_path: Path) -> None:
    home = home_with(small_dataset, tmp_path)
    result = CliRunner().invoke(app, ["--home", str(home), "season", "validate"])
    assert result.exit_code == 0, result.output
    assert "Validation leaderboard" in result.output
    assert "example_lgbm" in result.output and "random" in result.output


def test_data_build_rejects_unknown_preset(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["data", "build", "--out", str(tmp_path), "--preset", "tiny"])
    assert result.exit_code != 0
    assert "preset 'tiny' is not one of small, medium, large" in str(result.exception)
    assert list(tmp_path.iterdir()) == []
