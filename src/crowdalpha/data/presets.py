"""Dataset presets: the shape of a simulated dataset, from a test-sized one to Numerai's.

``small`` builds in under a minute on two cores (tests, the demo); ``medium``
is the benchmark size; ``large`` approaches Numerai's shape (>= 5,000 stocks
per era, >= 1,000 features, >= 600 eras) and is built era by era within 24 GB.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crowdalpha.data.market import MarketConfig
from crowdalpha.errors import ConfigError


@dataclass(frozen=True)
class Preset:
    """A simulated dataset's size and its example model's budget."""

    name: str
    market: MarketConfig
    n_train_eras: int
    n_validation_eras: int
    #: Overrides of the example model's LightGBM parameters.
    model_params: dict[str, Any] = field(default_factory=dict)
    #: Train the example and benchmark models on every k-th train era (Numerai: 4).
    train_every: int = 1
    #: Train eras used to rank features for the ``small`` and ``medium`` sets.
    ranking_eras: int = 40


PRESETS: dict[str, Preset] = {
    "small": Preset(
        "small",
        MarketConfig(n_stocks=2500, n_features=120, n_groups=6),
        n_train_eras=160, n_validation_eras=80,
    ),
    "medium": Preset(
        "medium",
        MarketConfig(n_stocks=3000, n_features=400, n_groups=8),
        n_train_eras=300, n_validation_eras=100, train_every=2,
    ),
    "large": Preset(
        "large",
        MarketConfig(n_stocks=5000, n_features=1050, n_groups=11),
        n_train_eras=460, n_validation_eras=140, train_every=4,
        model_params={"num_boost_round": 300},
    ),
}


def get_preset(name: str) -> Preset:
    """The preset called ``name``; ``ConfigError`` listing the choices otherwise."""
    if name not in PRESETS:
        raise ConfigError(f"preset {name!r} is not one of {', '.join(PRESETS)}")
    return PRESETS[name]


__all__ = ["PRESETS", "Preset", "get_preset"]
