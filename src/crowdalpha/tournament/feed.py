"""The data feed: each round's live era, and that era's targets as the market reveals them.

A round opens on the newest live era of the tournament's dataset version
(``DatasetFeed.newest_era``, or ``publish_next_era`` once that era has had its
round). Because the dataset's ``live.parquet`` moves on to the next era, the
round's live data is archived in the file store when it opens
(``rounds/<number>/live.parquet`` and ``example_preds.parquet``): submissions
are checked against it and resolution scores against it. Resolution asks the
feed for the main target of the era as known on trading day ``d`` of its
horizon (``targets``); only simulator-built versions can answer that.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from crowdalpha.data import append_live_era, layout, live_targets, version_simulator
from crowdalpha.data.market import MarketSimulator
from crowdalpha.errors import DataError, NotFoundError
from crowdalpha.tournament import store as file_store
from crowdalpha.tournament.store import Store

#: The feature set FNC and feature exposure are computed on.
DEFAULT_SCORING_FEATURE_SET = "medium"
MAIN_TARGET = "target"


class DatasetFeed:
    """The feed of one simulator-built dataset version; one simulator kept moving forward."""

    def __init__(self, version_dir: Path, simulator: MarketSimulator | None = None) -> None:
        self.version_dir = Path(version_dir)
        self._state = layout.read_state(self.version_dir)
        self._simulator = simulator

    @classmethod
    def latest(cls, datasets_dir: Path) -> DatasetFeed:
        """The feed of the newest dataset version in ``datasets_dir``."""
        if not layout.versions(Path(datasets_dir)):
            raise NotFoundError(
                f"no dataset version in '{datasets_dir}'; build one with "
                f"`crowdalpha data build --out {datasets_dir}`"
            )
        return cls(layout.latest_version(Path(datasets_dir)))

    @property
    def simulator(self) -> MarketSimulator:
        """The version's market, replayed once on first use."""
        if self._simulator is None:
            self._simulator = version_simulator(self.version_dir)
        return self._simulator

    def newest_era(self) -> str:
        """Label of the version's current live era."""
        return layout.era_label(self._state["live_era"])

    def publish_next_era(self) -> str:
        """Advance the market to the next era, publish it as the live era and return its label."""
        append_live_era(self.version_dir, simulator=self.simulator)
        self._state = layout.read_state(self.version_dir)
        return self.newest_era()

    def live(self) -> pd.DataFrame:
        """The current live era as published (index ``id``: era, data_type, features, targets)."""
        return layout.read_split(self.version_dir, "live")

    def example_predictions(self) -> pd.Series:
        """The example model's predictions for the current live era, by id."""
        frame = pd.read_parquet(self.version_dir / layout.LIVE_EXAMPLE_PREDS)
        return frame[layout.PREDICTION]

    def scoring_features(self, feature_set: str = DEFAULT_SCORING_FEATURE_SET) -> list[str]:
        """Names of the features FNC and feature exposure use."""
        sets = layout.read_features_json(self.version_dir)["feature_sets"]
        if feature_set not in sets:
            raise DataError(
                f"feature set {feature_set!r} is not in {self.version_dir / layout.FEATURES_JSON}; "
                f"sets: {', '.join(sorted(sets))}"
            )
        return list(sets[feature_set])

    def targets(self, era: str, day: int) -> pd.Series:
        """The main target of ``era`` as resolved on trading day ``day`` of its horizon, by id."""
        frame = live_targets(self.version_dir, int(era), day, simulator=self.simulator)
        return frame[MAIN_TARGET].rename(MAIN_TARGET)

    def __repr__(self) -> str:
        return f"DatasetFeed({str(self.version_dir)!r}, live era {self.newest_era()})"


def round_folder(round_number: int) -> str:
    """The store folder of a round's archived data."""
    return f"rounds/{int(round_number)}"


def archive_round_data(
    store: Store, round_number: int, live: pd.DataFrame, features: list[str], example: pd.Series
) -> None:
    """Keep the round's live ids with the scoring features, and the example predictions."""
    folder = round_folder(round_number)
    kept = live[[layout.ERA, *features]]
    file_store.write_parquet(store, f"{folder}/live.parquet", kept)
    file_store.write_parquet(
        store, f"{folder}/example_preds.parquet", example.reindex(live.index).to_frame()
    )


def round_live(store: Store, round_number: int) -> pd.DataFrame:
    """The archived live data of a round: index ``id``, ``era`` and the scoring features."""
    try:
        return file_store.read_parquet(store, f"{round_folder(round_number)}/live.parquet")
    except FileNotFoundError:
        raise NotFoundError(f"round {round_number} has no archived live data in the store") from None


def round_live_ids(store: Store, round_number: int) -> pd.Index:
    """The ids a submission to round ``round_number`` must predict."""
    relative = f"{round_folder(round_number)}/live.parquet"
    try:
        return file_store.read_parquet(store, relative, columns=[layout.ERA]).index
    except FileNotFoundError:
        raise NotFoundError(f"round {round_number} has no archived live data in the store") from None


def round_example_predictions(store: Store, round_number: int) -> pd.Series:
    """The example model's predictions archived for a round, by id."""
    relative = f"{round_folder(round_number)}/example_preds.parquet"
    return file_store.read_parquet(store, relative)[layout.PREDICTION]


__all__ = [
    "DEFAULT_SCORING_FEATURE_SET",
    "MAIN_TARGET",
    "DatasetFeed",
    "archive_round_data",
    "round_example_predictions",
    "round_folder",
    "round_live",
    "round_live_ids",
]
