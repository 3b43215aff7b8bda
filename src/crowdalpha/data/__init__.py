"""crowdalpha.data: the market simulator, the dataset builder and the dataset file layout.

``MarketSimulator`` streams a simulated market day by day; ``build_dataset``
turns it (or ``build_from_panel`` an operator's raw panel) into a published
dataset version folder; :mod:`crowdalpha.data.layout` names the files.
"""

from crowdalpha.data.builder import (
    append_live_era,
    build_dataset,
    build_from_panel,
    live_targets,
    scenario_dataset,
    version_simulator,
)
from crowdalpha.data.example_model import EXAMPLE_PARAMS, predict_ranked, train_example_model
from crowdalpha.data.market import REGIMES, MarketConfig, MarketSimulator, scenario_eras
from crowdalpha.data.presets import PRESETS, Preset, get_preset
from crowdalpha.data.targets import DEFAULT_TARGETS, TargetSpec

__all__ = [
    "DEFAULT_TARGETS",
    "EXAMPLE_PARAMS",
    "PRESETS",
    "REGIMES",
    "MarketConfig",
    "MarketSimulator",
    "Preset",
    "TargetSpec",
    "append_live_era",
    "build_dataset",
    "build_from_panel",
    "get_preset",
    "live_targets",
    "predict_ranked",
    "scenario_dataset",
    "scenario_eras",
    "train_example_model",
    "version_simulator",
]
