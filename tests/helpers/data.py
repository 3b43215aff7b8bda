"""A tiny market for fast simulator tests (the ``small`` dataset fixture is in tests/conftest.py)."""

from __future__ import annotations

from crowdalpha.data import MarketConfig

#: A market small enough to simulate in a fraction of a second.
TINY = MarketConfig(n_stocks=150, n_features=24, n_groups=6, n_alpha=4, n_risky=2, n_nuisance=2)
