"""The market simulator: determinism, streaming, day-by-day targets, scenarios."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crowdalpha.data import MarketConfig, MarketSimulator, scenario_eras
from crowdalpha.data.market import with_overrides
from crowdalpha.data.targets import make_targets
from crowdalpha.errors import ConfigError, DataError
from tests.helpers.data import TINY


def _panel(seed: int, era: int) -> pd.DataFrame:
    sim = MarketSimulator(TINY, seed=seed)
    sim.advance_to(sim.era_day(era))
    return sim.era_panel(era)


def test_deterministic_from_seed() -> None:
    pd.testing.assert_frame_equal(_panel(3, 4), _panel(3, 4))
    assert not _panel(3, 4)["feature_alpha1__f000"].equals(_panel(4, 4)["feature_alpha1__f000"])


def test_same_market_whatever_was_asked_on_the_way() -> None:
    busy = MarketSimulator(TINY, seed=5)
    for _ in range(4):
        busy.next_era()
        busy.vol_index()
    quiet = MarketSimulator(TINY, seed=5)
    quiet.advance_to(quiet.era_day(4))
    pd.testing.assert_frame_equal(busy.era_panel(4), quiet.era_panel(4))


def test_panel_schema() -> None:
    panel = _panel(0, 2)
    assert {"date", "stock_id", "sector", "country", "currency", "risk_beta", "fwd_return_20",
            "fwd_return_60"} <= set(panel.columns)
    features = [c for c in panel.columns if c.startswith("feature_")]
    assert len(features) == TINY.n_features
    assert panel["stock_id"].is_unique
    assert panel["date"].nunique() == 1
    assert panel["fwd_return_20"].isna().all()  # the future is not known yet


def test_next_era_streams_weekly() -> None:
    sim = MarketSimulator(TINY, seed=1)
    first = sim.next_era()
    second = sim.next_era()
    assert sim.era == 2
    assert (second["date"].iloc[0] - first["date"].iloc[0]) == np.timedelta64(7, "D")


def test_stocks_list_and_delist_and_exposures_drift_slowly() -> None:
    config = with_overrides(TINY, delist_rate=1 / 200)
    sim = MarketSimulator(config, seed=2)
    early = sim.next_era().set_index("stock_id")
    sim.advance_to(sim.era_day(30))
    late = sim.era_panel(30).set_index("stock_id")
    assert len(early.index.difference(late.index)) > 0  # delisted
    assert len(late.index.difference(early.index)) > 0  # newly listed
    common = early.index.intersection(late.index)
    drift = np.corrcoef(early.loc[common, "risk_value"], late.loc[common, "risk_value"])[0, 1]
    assert 0.5 < drift < 0.999


def test_targets_day_by_day_resolve_to_the_full_target() -> None:
    sim = MarketSimulator(TINY, seed=7)
    sim.next_era()
    era = sim.era
    with pytest.raises(DataError, match="not resolved"):
        sim.targets_for_era(era, 1)
    sim.advance_to(sim.era_day(era) + TINY.lag + 1)
    day1 = sim.targets_for_era(era, 1)
    assert day1["target"].notna().all()
    sim.advance_to(sim.era_day(era) + TINY.lag + 60)
    day20 = sim.targets_for_era(era, 20)
    data = sim.era_data(era)
    full = make_targets(data.forward_returns, data.risk, data.categories, TINY.targets)
    np.testing.assert_array_equal(day20["target"].to_numpy(), full["target"])
    np.testing.assert_array_equal(sim.targets_for_era(era)["target_ender_60"].to_numpy(),
                                  full["target_ender_60"])
    assert not day1["target"].equals(day20["target"])


def test_old_eras_are_forgotten_with_a_clear_error() -> None:
    sim = MarketSimulator(TINY, seed=0)
    sim.advance_to(sim.era_day(TINY.keep_eras + 3))
    with pytest.raises(DataError, match="keep_eras"):
        sim.era_data(1)


def test_scenarios_force_the_regime_and_leave_the_simulator_alone() -> None:
    sim = MarketSimulator(TINY, seed=0)
    sim.advance_to(sim.era_day(3))
    day = sim.day
    crash = sim.scenario_eras("crash", n=3, seed=1)
    assert sim.day == day
    assert crash["era"].nunique() == 3
    assert (crash["regime"] == "crash").all()
    assert crash["fwd_return_60"].notna().all()
    pd.testing.assert_frame_equal(crash, sim.scenario_eras("crash", n=3, seed=1))
    calm = sim.scenario_eras("calm", n=3, seed=1)
    assert crash.groupby("era")["fwd_return_20"].mean().mean() < calm.groupby("era")["fwd_return_20"].mean().mean()
    with pytest.raises(ConfigError, match="scenario kind"):
        sim.scenario_eras("meltdown")


def test_module_level_scenarios() -> None:
    panel = scenario_eras("high_dispersion", n=2, seed=0, config=TINY, warm_eras=2)
    assert (panel["regime"] == "high_dispersion").all()


def test_crash_spikes_the_volatility_index() -> None:
    sim = MarketSimulator(TINY, seed=0)
    calm_level = sim.vol_index().mean()
    crash = MarketSimulator(TINY, seed=0)
    crash.force_regime("crash")
    crash.advance_to(crash.day + 20)
    assert crash.vol_index().iloc[-1] > 1.5 * calm_level


def test_bad_config_names_every_problem() -> None:
    with pytest.raises(ConfigError) as info:
        MarketSimulator(MarketConfig(n_stocks=10, keep_eras=2))
    assert "n_stocks=10" in str(info.value)
    assert "keep_eras=2" in str(info.value)
