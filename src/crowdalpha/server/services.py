"""The server's long-lived parts, built once per process and shared by every request:
settings, the database's session factory, the file store, the clock and the round schedule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from crowdalpha.server.settings import ServerSettings
from crowdalpha.tournament.clock import Clock
from crowdalpha.tournament.feed import DatasetFeed, round_live_ids
from crowdalpha.tournament.payouts import PayoutRules
from crowdalpha.tournament.rounds import Schedule
from crowdalpha.tournament.store import Store
from crowdalpha.tournament.submissions import ids_fingerprint


@dataclass
class Services:
    """The server's long-lived parts, shared by all requests of a process."""

    settings: ServerSettings
    factory: sessionmaker[Session]
    store: Store
    clock: Clock
    schedule: Schedule
    rules: PayoutRules = field(default_factory=PayoutRules)

    @property
    def datasets_dir(self) -> Path:
        return self.settings.datasets_dir

    def feed(self) -> DatasetFeed:
        """The newest dataset version (read fresh: the operator may publish meanwhile)."""
        return DatasetFeed.latest(self.datasets_dir)

    def __post_init__(self) -> None:
        # A round's archived live ids never change once it opens: read them once per process.
        self.live_ids: Callable[[int], pd.Index] = lru_cache(maxsize=8)(
            lambda number: pd.Index(round_live_ids(self.store, number).astype(str))
        )
        self.live_fingerprint: Callable[[int], str] = lru_cache(maxsize=8)(
            lambda number: ids_fingerprint(self.live_ids(number))
        )
