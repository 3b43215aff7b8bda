"""Operator panels: building from files, and clear errors on bad input with nothing written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crowdalpha.data import MarketSimulator, append_live_era, build_from_panel, layout
from crowdalpha.errors import DataError
from tests.helpers.data import TINY

FAST = {"num_boost_round": 5}


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    """A raw panel of 14 eras; the last few have unknown forward returns."""
    sim = MarketSimulator(TINY, seed=11)
    frames = [data.to_frame(sim.design.names) for data in sim.stream_eras(14)]
    return pd.concat(frames, ignore_index=True)


def _assert_nothing_written(out: Path) -> None:
    assert not out.exists() or list(out.iterdir()) == []


def test_build_from_panel_frame(panel: pd.DataFrame, tmp_path: Path) -> None:
    version = build_from_panel(panel, tmp_path, model_params=FAST, seed=1)
    assert version == tmp_path / "v1"
    train = layout.read_split(version, "train")
    validation = layout.read_split(version, "validation")
    live = layout.read_split(version, "live")
    assert live["era"].tolist() == ["0014"] * len(live)
    # eras 10..13 wait for their 20-day returns: left out
    assert validation["era"].max() == "0009"
    assert train["era"].max() < validation["era"].min()
    assert validation["target"].notna().all()
    assert validation["target_ender_60"].isna().any()  # 60-day returns not all known yet
    sets = layout.read_features_json(version)["feature_sets"]
    assert len(sets["all"]) == TINY.n_features
    assert len(sets) == 3 + 6
    assert (version / layout.LIVE_EXAMPLE_PREDS).is_file()


def test_build_from_files_makes_the_next_version(panel: pd.DataFrame, tmp_path: Path) -> None:
    source = tmp_path / "raw"
    source.mkdir()
    dates = sorted(panel["date"].unique())
    panel[panel["date"] < dates[7]].to_parquet(source / "a.parquet")
    panel[panel["date"] >= dates[7]].to_csv(source / "b.csv", index=False)
    out = tmp_path / "datasets"
    first = build_from_panel(source, out, model_params=FAST)
    second = build_from_panel(source / "a.parquet", out, model_params=FAST, validation_fraction=0.5)
    assert (first.name, second.name) == ("v1", "v2")
    assert layout.read_split(second, "live").empty  # every era of a.parquet is resolved


def test_append_live_era_from_an_operator_panel(panel: pd.DataFrame, tmp_path: Path) -> None:
    version = build_from_panel(panel, tmp_path, model_params=FAST)
    new = panel[panel["date"] == panel["date"].max()].drop(columns=["fwd_return_20", "fwd_return_60"])
    live = append_live_era(version, new)
    assert live["era"].iloc[0] == "0015"
    assert len(live) == len(new)


def _raises(panel: pd.DataFrame, out: Path, *patterns: str) -> None:
    with pytest.raises(DataError) as info:
        build_from_panel(panel, out, model_params=FAST)
    for pattern in patterns:
        assert pattern in str(info.value), str(info.value)
    _assert_nothing_written(out)


def test_missing_column(panel: pd.DataFrame, tmp_path: Path) -> None:
    _raises(panel.drop(columns=["fwd_return_20"]), tmp_path / "out", "missing column", "'fwd_return_20'")


def test_duplicate_rows(panel: pd.DataFrame, tmp_path: Path) -> None:
    bad = pd.concat([panel, panel.iloc[[42]]], ignore_index=True)
    _raises(bad, tmp_path / "out", "duplicate (date, stock_id)", f"row {len(panel)}",
            str(panel["stock_id"].iloc[42]))


def test_non_numeric_feature(panel: pd.DataFrame, tmp_path: Path) -> None:
    bad = panel.copy()
    column = "feature_alpha1__f001"
    bad[column] = bad[column].astype(object)
    bad.loc[7, column] = "n/a"
    _raises(bad, tmp_path / "out", repr(column), "numeric", "'n/a'", "row 7")


def test_nan_return_in_a_resolved_era(panel: pd.DataFrame, tmp_path: Path) -> None:
    bad = panel.copy()
    bad.loc[3, "fwd_return_20"] = np.nan
    _raises(bad, tmp_path / "out", "'fwd_return_20'", "NaN", "row 3", str(bad["date"].iloc[3])[:10])


def test_too_few_stocks_in_an_era(panel: pd.DataFrame, tmp_path: Path) -> None:
    dates = sorted(panel["date"].unique())
    bad = panel[(panel["date"] != dates[4]) | (panel.index % 10 == 0)]
    _raises(bad, tmp_path / "out", "stocks", str(dates[4])[:10])


def test_infinite_and_missing_ids(panel: pd.DataFrame, tmp_path: Path) -> None:
    bad = panel.copy()
    bad.loc[5, "risk_beta"] = np.inf
    _raises(bad, tmp_path / "out", "'risk_beta'", "infinite", "row 5")
    bad = panel.copy()
    bad["stock_id"] = bad["stock_id"].astype(object)
    bad.loc[9, "stock_id"] = None
    _raises(bad, tmp_path / "out2", "'stock_id'", "row 9")


def test_unreadable_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        build_from_panel(tmp_path / "nope.parquet", tmp_path / "out")
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet")
    with pytest.raises(DataError, match=r"broken\.parquet"):
        build_from_panel(broken, tmp_path / "out")


def test_failed_build_leaves_no_partial_folder(panel: pd.DataFrame, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from crowdalpha.data import builder

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(builder, "_write_live_predictions", explode)
    with pytest.raises(RuntimeError, match="disk full"):
        build_from_panel(panel, tmp_path, model_params=FAST)
    assert list(tmp_path.iterdir()) == []
