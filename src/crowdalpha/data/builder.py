"""The dataset builder: a raw panel in, a published dataset version ``vN/`` out.

Per era, in date order and one era in memory at a time:

1. bin each raw feature into five equal-count bins (int8)
2. neutralize each target's forward returns to its risk exposures, rank and
   bin them 5/20/50/20/5 %
3. obfuscate: features in a shuffled order under meaningless names, random ids
4. append the era to the parquet file of its split (one row group per era)

then train the example and benchmark models on the train eras, predict the
validation and live eras, simulate the historical meta-model, and write
``features.json``. Everything is written in a temporary folder that is
renamed to ``vN`` at the end: a failed build leaves nothing behind. See
:mod:`crowdalpha.data.layout` for the files and docs/data.md for the schema.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from crowdalpha.data import layout
from crowdalpha.data.example_model import (
    load_model,
    predict_ranked,
    rank_predictions,
    save_model,
    train_example_model,
)
from crowdalpha.data.market import MarketSimulator
from crowdalpha.data.presets import Preset, get_preset
from crowdalpha.data.schema import (
    DATE,
    MIN_STOCKS_PER_ERA,
    RETURN_PREFIX,
    STOCK_ID,
    EraData,
    PanelColumns,
    feature_group,
    iter_panel_eras,
    validate_panel,
)
from crowdalpha.data.targets import MAIN_TARGET, TargetSpec, bin_features, make_targets
from crowdalpha.errors import DataError
from crowdalpha.scoring import gaussian, stake_weight, tie_kept_rank
from crowdalpha.scoring.batch import score_eras

#: ``progress(done, total)`` is called after each era and each final step.
ProgressCallback = Callable[[int, int], None]

#: Steps after the eras: training, validation predictions, live predictions and files.
_FINAL_STEPS = 3
_SYLLABLES = [c + v for c in "bcdfghklmnprstvz" for v in "aeiou"] + ["an", "el", "or", "is", "um"]


# --------------------------------------------------------------------------- plan

@dataclass
class _Plan:
    """What to build: the eras' source and where each era goes."""

    source: str  # "simulator" or "panel"
    eras: Iterable[EraData]
    n_eras: int
    split_of: dict[int, str]  # era number -> train / validation / live / pending
    raw_names: list[str]
    raw_groups: list[str]
    group_kinds: dict[str, str]
    targets: tuple[TargetSpec, ...]
    seed: int
    model_params: dict[str, Any] = field(default_factory=dict)
    train_every: int = 1
    ranking_eras: int = 40
    extra_state: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Obfuscation:
    """Published feature order and names, and the raw feature behind each."""

    order: np.ndarray  # raw feature index at each published position
    names: list[str]
    groups: dict[str, list[str]]  # published group -> published features
    group_raw: dict[str, str]  # published group -> raw group

    @classmethod
    def draw(cls, raw_names: Sequence[str], raw_groups: Sequence[str], seed: int) -> _Obfuscation:
        rng = np.random.default_rng([seed, zlib.crc32(b"obfuscate")])
        order = rng.permutation(len(raw_names))
        taken: set[str] = set()
        names = [f"feature_{_word(rng, taken, 3)}" for _ in order]
        raw_group_names = list(dict.fromkeys(raw_groups[i] for i in order))
        group_raw: dict[str, str] = {}
        raw_to_public: dict[str, str] = {}
        for raw in raw_group_names:
            public = _word(rng, taken | {"small", "medium", "all"}, 1)
            group_raw[public] = raw
            raw_to_public[raw] = public
        groups: dict[str, list[str]] = {g: [] for g in group_raw}
        for position, raw_index in enumerate(order):
            groups[raw_to_public[raw_groups[raw_index]]].append(names[position])
        return cls(order, names, groups, group_raw)


def _word(rng: np.random.Generator, taken: set[str], parts: int) -> str:
    """A fresh meaningless name of ``parts`` pseudo-words."""
    while True:
        words = ["".join(rng.choice(_SYLLABLES, size=int(rng.integers(2, 5)))) for _ in range(parts)]
        name = "_".join(words)
        if name not in taken:
            taken.add(name)
            return name


def _era_ids(seed: int, era: int, n: int) -> np.ndarray:
    """Random ids for one era (unique inside it; not trackable across eras)."""
    rng = np.random.default_rng([seed, zlib.crc32(b"ids"), era])
    while True:
        values = rng.integers(0, 2**60, size=n, dtype=np.int64)
        if len(np.unique(values)) == n:
            return np.array([f"n{v:015x}" for v in values.tolist()], dtype=object)


# --------------------------------------------------------------------------- public API

def build_dataset(out_dir: Path, preset: str = "small", seed: int = 0,
                  progress: ProgressCallback | None = None) -> Path:
    """Simulate a market with ``preset``'s shape and build dataset version ``out_dir/vN``.

    ``vN`` is the next free version number in ``out_dir`` (``v1`` at first).
    The build streams era by era and appears under its final name only when
    complete. Returns the version folder.
    """
    chosen = get_preset(preset)
    sim = MarketSimulator(chosen.market, seed=seed)
    return _build(_simulator_plan(sim, chosen, seed), Path(out_dir), progress)


def build_from_panel(panel: pd.DataFrame | str | Path | Sequence[str | Path], out_dir: Path, *,
                     seed: int = 0, validation_fraction: float = 0.25, main_horizon: int = 20,
                     min_stocks: int = MIN_STOCKS_PER_ERA, model_params: dict[str, Any] | None = None,
                     progress: ProgressCallback | None = None) -> Path:
    """Build dataset version ``out_dir/vN`` from an operator's raw panel.

    ``panel`` is a frame, or parquet/CSV file(s) or a folder of them, in the
    schema of :mod:`crowdalpha.data.schema`. The trailing eras whose main
    forward return is all NaN are unresolved: the newest is published as
    live, the others are left out. The last ``validation_fraction`` of the
    resolved eras are validation, the rest train. Bad input raises
    ``DataError`` naming the file, column, row or era; nothing is written.
    """
    frame, source_name = _read_panel(panel)
    columns = validate_panel(frame, main_horizon, source_name, min_stocks)
    if not 0 < validation_fraction < 1:
        raise DataError(f"validation_fraction={validation_fraction} must be between 0 and 1")
    plan = _panel_plan(frame, columns, main_horizon, validation_fraction, seed, source_name)
    plan.model_params = dict(model_params or {})
    return _build(plan, Path(out_dir), progress)


def append_live_era(version_dir: Path, panel: pd.DataFrame | None = None, *,
                    simulator: MarketSimulator | None = None) -> pd.DataFrame:
    """Publish the next live era in ``version_dir`` without touching its history.

    The new era comes from ``panel`` (an operator's raw panel of one date, in
    the version's raw schema), or else from the version's simulator (the given
    ``simulator``, or one replayed from the version's preset and seed) advanced
    to its next era. Rewrites ``live.parquet`` and ``live_example_preds.parquet``
    (each atomically) and returns the new live rows.
    """
    version_dir = Path(version_dir)
    state = layout.read_state(version_dir)
    obfuscation = _Obfuscation(np.asarray(state["feature_order"]), state["features"],
                               {}, {})
    specs = tuple(TargetSpec(**t) for t in state["targets"])
    if panel is None:
        if state["source"] != "simulator":
            raise DataError(f"{version_dir}: built from an operator panel; pass the new era's panel")
        sim = simulator or _replay_simulator(state, state["live_era"])
        era = state["live_era"] + 1
        sim.advance_to(sim.era_day(era))
        data = sim.era_data(era)
    else:
        main_return = f"{RETURN_PREFIX}{state['main_horizon']}"
        if main_return not in panel.columns:
            panel = panel.assign(**{main_return: np.nan})
        columns = validate_panel(panel, state["main_horizon"], "live panel", 1)
        missing = [c for c in state["raw_features"] if c not in columns.features]
        if missing:
            raise DataError(f"live panel: missing feature column {missing[0]!r} "
                            f"({len(missing)} of the version's raw features missing)")
        if panel[DATE].nunique() != 1:
            raise DataError(f"live panel: has {panel[DATE].nunique()} dates; a live era is one date")
        columns = PanelColumns(list(state["raw_features"]), {}, columns.horizons, columns.risk,
                               columns.categorical)
        data = next(iter_panel_eras(panel, columns))
        data.era = state["live_era"] + 1
        data.forward_returns = {h: np.full(data.n, np.nan) for h in {s.horizon for s in specs}}
    published = _publish_era(data, obfuscation, specs, state["seed"], "live")
    table = _to_table(published, _data_schema(obfuscation.names, specs))
    ops = layout.operator_dir(version_dir)
    pq.write_table(pa.table({layout.ID: published.ids, STOCK_ID: data.stock_ids.astype(str)}),
                   ops / layout.IDS_DIR / f"{layout.era_label(data.era)}.parquet")
    model = load_model(ops / layout.EXAMPLE_MODEL)
    preds = _prediction_frame(published.ids, predict_ranked(model, published.bins))
    layout.write_parquet_atomic(table, version_dir / layout.LIVE)
    layout.write_parquet_atomic(preds, version_dir / layout.LIVE_EXAMPLE_PREDS)
    state["live_era"] = int(data.era)
    state["live_date"] = str(data.date)
    layout.write_json_atomic(state, ops / layout.STATE)
    return table.to_pandas()


def live_targets(version_dir: Path, era: int | str, day: int | None = None, *,
                 simulator: MarketSimulator | None = None) -> pd.DataFrame:
    """Targets of published era ``era`` resolved on day ``day`` of its horizon,
    indexed by the era's published ids (simulator-built versions only).

    Without ``simulator``, one is replayed from the version's preset and seed.
    """
    version_dir = Path(version_dir)
    state = layout.read_state(version_dir)
    if state["source"] != "simulator":
        raise DataError(f"{version_dir}: live targets come from the simulator; this version was "
                        "built from an operator panel")
    era_number = int(era)
    path = layout.operator_dir(version_dir) / layout.IDS_DIR / f"{layout.era_label(era_number)}.parquet"
    if not path.is_file():
        raise DataError(f"{version_dir}: era {layout.era_label(era_number)} was never published")
    ids = pq.read_table(path).to_pandas()
    sim = simulator or _replay_simulator(state, era_number)
    horizon_days = sim.config.lag + (day if day is not None else sim.config.max_horizon)
    sim.advance_to(sim.era_day(era_number) + horizon_days)
    targets = sim.targets_for_era(era_number, day)
    return targets.loc[ids[STOCK_ID].to_numpy()].set_axis(pd.Index(ids[layout.ID], name=layout.ID))


def version_simulator(version_dir: Path) -> MarketSimulator:
    """The simulator of a simulator-built version, replayed to its live era.

    Hand it to :func:`append_live_era` and :func:`live_targets` to keep one
    simulator moving forward instead of replaying it on every call.
    """
    version_dir = Path(version_dir)
    state = layout.read_state(version_dir)
    if state["source"] != "simulator":
        raise DataError(f"{version_dir}: built from an operator panel; it has no simulator")
    return _replay_simulator(state, state["live_era"])


def scenario_dataset(version_dir: Path, kind: str = "crash", n: int = 8, seed: int = 0, *,
                     simulator: MarketSimulator | None = None) -> pd.DataFrame:
    """``n`` virtual eras in regime ``kind`` in the version's published format
    (same feature names, targets resolved), for stress-testing models.

    Eras are labelled ``"<kind>_01"``…, ``data_type`` is ``"scenario"``.
    """
    version_dir = Path(version_dir)
    state = layout.read_state(version_dir)
    if state["source"] != "simulator":
        raise DataError(f"{version_dir}: scenarios need a simulator-built version")
    sim = simulator or _replay_simulator(state, state["live_era"])
    obfuscation = _Obfuscation(np.asarray(state["feature_order"]), state["features"], {}, {})
    specs = tuple(TargetSpec(**t) for t in state["targets"])
    schema = _data_schema(obfuscation.names, specs)
    frames = []
    for i, data in enumerate(sim.scenario_era_data(kind, n, seed), start=1):
        published = _publish_era(data, obfuscation, specs, seed + 7919 * i, "scenario",
                                 label=f"{kind}_{i:02d}")
        frames.append(_to_table(published, schema).to_pandas())
    return pd.concat(frames)


# --------------------------------------------------------------------------- plans

def _simulator_plan(sim: MarketSimulator, preset: Preset, seed: int) -> _Plan:
    config = preset.market
    pending = math.ceil((config.lag + config.targets[0].horizon) / config.era_spacing) - 1
    n_eras = preset.n_train_eras + preset.n_validation_eras + pending + 1
    split_of = {}
    for era in range(1, n_eras + 1):
        if era <= preset.n_train_eras:
            split_of[era] = "train"
        elif era <= preset.n_train_eras + preset.n_validation_eras:
            split_of[era] = "validation"
        else:
            split_of[era] = "live" if era == n_eras else "pending"
    return _Plan(
        source="simulator", eras=sim.stream_eras(n_eras), n_eras=n_eras, split_of=split_of,
        raw_names=list(sim.design.names), raw_groups=list(sim.design.groups),
        group_kinds=dict(sim.design.group_kinds), targets=config.targets, seed=seed,
        model_params=dict(preset.model_params), train_every=preset.train_every,
        ranking_eras=preset.ranking_eras, extra_state={"preset": preset.name},
    )


def _panel_plan(frame: pd.DataFrame, columns: PanelColumns, main_horizon: int,
                validation_fraction: float, seed: int, source_name: str) -> _Plan:
    main = f"{RETURN_PREFIX}{main_horizon}"
    resolved = frame[main].notna().groupby(frame[DATE], sort=True).any().to_numpy()
    n_eras = len(resolved)
    n_resolved = int(resolved.sum())
    n_validation = max(1, round(validation_fraction * n_resolved))
    if n_resolved - n_validation < 1:
        raise DataError(f"{source_name}: {n_resolved} resolved eras; need at least 2 "
                        "(one train, one validation)")
    split_of = {}
    for era in range(1, n_eras + 1):
        if era <= n_resolved - n_validation:
            split_of[era] = "train"
        elif era <= n_resolved:
            split_of[era] = "validation"
        else:
            split_of[era] = "live" if era == n_eras else "pending"
    others = [h for h in columns.horizons if h != main_horizon]
    specs = tuple(TargetSpec(f"target_{name}_{h}", h, neutral)
                  for h in [main_horizon, *others]
                  for name, neutral in (("ender", "full"), ("jasper", "sector"), ("cyrus", "market")))
    groups = [feature_group(c) for c in columns.features]
    return _Plan(
        source="panel", eras=iter_panel_eras(frame, columns), n_eras=n_eras, split_of=split_of,
        raw_names=list(columns.features), raw_groups=groups,
        group_kinds={g: "operator" for g in dict.fromkeys(groups)}, targets=specs, seed=seed,
        extra_state={"panel": source_name},
    )


def _read_panel(panel: pd.DataFrame | str | Path | Sequence[str | Path]) -> tuple[pd.DataFrame, str]:
    """The panel as one frame, and a name for it in error messages."""
    if isinstance(panel, pd.DataFrame):
        return panel, "panel"
    paths = [Path(panel)] if isinstance(panel, (str, Path)) else [Path(p) for p in panel]
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.suffix.lower() in (".parquet", ".pq", ".csv"))
        elif path.is_file():
            files.append(path)
        else:
            raise DataError(f"{path}: no such file or folder")
    if not files:
        raise DataError(f"{', '.join(map(str, paths))}: no parquet or CSV files")
    frames = []
    for path in files:
        try:
            if path.suffix.lower() == ".csv":
                frames.append(_parse_csv_dates(pd.read_csv(path)))
            else:
                frames.append(pd.read_parquet(path))
        except (OSError, ValueError, pa.ArrowException) as exc:
            raise DataError(f"{path}: cannot be read as {path.suffix.lstrip('.')} ({exc})") from exc
    name = files[0].name if len(files) == 1 else f"{len(files)} files from {files[0].parent}"
    return (frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)), name


def _parse_csv_dates(frame: pd.DataFrame) -> pd.DataFrame:
    """Text dates in a CSV become timestamps (as parquet stores them), when they all parse."""
    if DATE in frame.columns and not pd.api.types.is_numeric_dtype(frame[DATE].dtype):
        try:
            return frame.assign(**{DATE: pd.to_datetime(frame[DATE], format="ISO8601")})
        except (TypeError, ValueError):
            return frame
    return frame


def _replay_simulator(state: dict[str, Any], era: int) -> MarketSimulator:
    """The version's simulator, replayed from its preset and seed to ``era``."""
    sim = MarketSimulator(get_preset(state["preset"]).market, seed=state["seed"])
    sim.advance_to(sim.era_day(era))
    return sim


# --------------------------------------------------------------------------- one era

@dataclass
class _PublishedEra:
    era: int
    label: str
    split: str
    ids: np.ndarray
    bins: np.ndarray  # (n, f) int8, published order
    targets: dict[str, np.ndarray]


def _publish_era(data: EraData, obfuscation: _Obfuscation, specs: Sequence[TargetSpec],
                 seed: int, split: str, label: str | None = None) -> _PublishedEra:
    """Bin, target and obfuscate one era."""
    bins = bin_features(data.features[:, obfuscation.order])
    targets = make_targets(data.forward_returns, data.risk, data.categories, specs)
    return _PublishedEra(int(data.era), label or layout.era_label(data.era), split,
                         _era_ids(seed, int(data.era), data.n), bins, targets)


def _data_schema(features: Sequence[str], specs: Sequence[TargetSpec]) -> pa.Schema:
    """Arrow schema of a split file, with pandas metadata making ``id`` the index."""
    target_names = [MAIN_TARGET, *[s.name for s in specs]]
    template = pd.DataFrame(
        {layout.ERA: pd.Series([], dtype=object), layout.DATA_TYPE: pd.Series([], dtype=object),
         **{f: pd.Series([], dtype=np.int8) for f in features},
         **{t: pd.Series([], dtype=np.float32) for t in target_names}},
        index=pd.Index([], name=layout.ID, dtype=object))
    schema = pa.Schema.from_pandas(template, preserve_index=True)
    fields = [pa.field(f.name, pa.string()) if f.name in (layout.ID, layout.ERA, layout.DATA_TYPE)
              else f for f in schema]
    return pa.schema(fields, metadata=schema.metadata)


def _to_table(era: _PublishedEra, schema: pa.Schema) -> pa.Table:
    n = len(era.ids)
    columns: list[pa.Array] = []
    feature_index = 0
    for f in schema:
        if f.name == layout.ID:
            columns.append(pa.array(era.ids, type=pa.string()))
        elif f.name == layout.ERA:
            columns.append(pa.array(np.repeat(era.label, n), type=pa.string()))
        elif f.name == layout.DATA_TYPE:
            columns.append(pa.array(np.repeat(era.split, n), type=pa.string()))
        elif f.type == pa.int8():
            columns.append(pa.array(era.bins[:, feature_index]))
            feature_index += 1
        else:
            columns.append(pa.array(era.targets[f.name].astype(np.float32)))
    return pa.Table.from_arrays(columns, schema=schema)


def _prediction_frame(ids: np.ndarray, values: np.ndarray, **columns: Any) -> pd.DataFrame:
    frame = pd.DataFrame({**columns, layout.PREDICTION: values},
                         index=pd.Index(ids.astype(str), name=layout.ID))
    return frame


# --------------------------------------------------------------------------- the build

@dataclass
class _TrainingSet:
    """int8 feature blocks and targets of the train eras the models learn from."""

    bins: list[np.ndarray] = field(default_factory=list)
    targets: dict[str, list[np.ndarray]] = field(default_factory=dict)
    eras: list[int] = field(default_factory=list)

    def add(self, era: _PublishedEra, names: Sequence[str]) -> None:
        self.bins.append(era.bins)
        self.eras.append(era.era)
        for name in names:
            self.targets.setdefault(name, []).append(era.targets[name])

    def target(self, name: str) -> np.ndarray:
        return np.concatenate(self.targets[name])


def _build(plan: _Plan, out_dir: Path, progress: ProgressCallback | None) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / f".building-{uuid.uuid4().hex[:12]}"
    tmp.mkdir()
    try:
        _build_into(plan, tmp, progress)
        return _publish_folder(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _publish_folder(tmp: Path, out_dir: Path) -> Path:
    """Rename the finished build to the next free ``vN`` (atomic on one filesystem)."""
    for _ in range(100):
        target = out_dir / layout.next_version_name(out_dir)
        try:
            os.rename(tmp, target)
        except OSError:
            if target.exists():
                continue  # another build took this number meanwhile
            raise
        return target
    raise DataError(f"{out_dir}: could not claim a free version folder name")


def _build_into(plan: _Plan, folder: Path, progress: ProgressCallback | None) -> None:
    total = plan.n_eras + _FINAL_STEPS
    obfuscation = _Obfuscation.draw(plan.raw_names, plan.raw_groups, plan.seed)
    schema = _data_schema(obfuscation.names, plan.targets)
    ops = folder / layout.OPERATOR_DIR
    (ops / layout.IDS_DIR).mkdir(parents=True)
    main = plan.targets[0].name
    bench_target = next((s.name for s in plan.targets
                         if s.horizon == max(t.horizon for t in plan.targets)
                         and s.neutralization == plan.targets[0].neutralization), main)
    training = _TrainingSet()
    writers: dict[str, pq.ParquetWriter] = {}
    calendar: list[dict[str, Any]] = []
    n_train_seen = 0
    try:
        for done, data in enumerate(plan.eras, start=1):
            split = plan.split_of[int(data.era)]
            calendar.append({"era": layout.era_label(data.era), "era_number": int(data.era),
                             "date": str(data.date), "data_type": split, "regime": data.regime,
                             "n_stocks": data.n})
            if split != "pending":
                published = _publish_era(data, obfuscation, plan.targets, plan.seed, split)
                if split not in writers:
                    writers[split] = pq.ParquetWriter(folder / layout.SPLIT_FILES[split], schema,
                                                      compression="zstd")
                writers[split].write_table(_to_table(published, schema))
                pq.write_table(pa.table({layout.ID: published.ids,
                                         STOCK_ID: data.stock_ids.astype(str)}),
                               ops / layout.IDS_DIR / f"{published.label}.parquet")
                if split == "train":
                    if n_train_seen % plan.train_every == 0:
                        training.add(published, dict.fromkeys([main, bench_target]))
                    n_train_seen += 1
            if progress is not None:
                progress(done, total)
        for split in layout.SPLIT_FILES:
            if split not in writers:  # e.g. no live era in an operator panel
                writers[split] = pq.ParquetWriter(folder / layout.SPLIT_FILES[split], schema,
                                                  compression="zstd")
    finally:
        for writer in writers.values():
            writer.close()
    if not training.bins:
        raise DataError("no train eras to fit the example model on")
    models = _train_models(training, main, bench_target, plan)
    save_model(models["example"], ops / layout.EXAMPLE_MODEL)
    step = plan.n_eras
    if progress is not None:
        progress(step + 1, total)
    benchmark_names = _write_validation_predictions(folder, obfuscation.names, models, main,
                                                    bench_target, plan.seed)
    if progress is not None:
        progress(step + 2, total)
    _write_live_predictions(folder, obfuscation.names, models["example"])
    feature_sets = _feature_sets(training, obfuscation, main, plan.ranking_eras)
    layout.write_json_atomic(
        {"feature_sets": feature_sets, "targets": [MAIN_TARGET, *[s.name for s in plan.targets]]},
        folder / layout.FEATURES_JSON)
    pq.write_table(pa.Table.from_pylist(calendar), ops / layout.ERAS)
    live = [c for c in calendar if c["data_type"] == "live"]
    state = {
        "format": 1,
        "source": plan.source,
        "seed": plan.seed,
        "main_horizon": plan.targets[0].horizon,
        "targets": [asdict(s) for s in plan.targets],
        "features": obfuscation.names,
        "raw_features": [plan.raw_names[i] for i in obfuscation.order],
        "feature_order": obfuscation.order.tolist(),
        "groups": {g: {"raw": raw, "kind": plan.group_kinds.get(raw, "operator")}
                   for g, raw in obfuscation.group_raw.items()},
        "benchmark_models": benchmark_names,
        "live_era": live[0]["era_number"] if live else None,
        "live_date": live[0]["date"] if live else None,
        **plan.extra_state,
    }
    (ops / layout.STATE).write_text(json.dumps(state, indent=1))
    if progress is not None:
        progress(total, total)


def _train_models(training: _TrainingSet, main: str, bench_target: str,
                  plan: _Plan) -> dict[str, Any]:
    """The example LightGBM, a LightGBM on the long-horizon target, and a ridge model."""
    y_main = training.target(main)
    example = train_example_model(training.bins, y_main, plan.model_params, seed=plan.seed)
    models: dict[str, Any] = {"example": example}
    if bench_target != main:
        models["long"] = train_example_model(training.bins, training.target(bench_target),
                                             plan.model_params, seed=plan.seed + 1)
    models["ridge"] = _fit_ridge(training.bins, y_main)
    return models


def _fit_ridge(blocks: Sequence[np.ndarray], y: np.ndarray, alpha: float = 1e3) -> np.ndarray:
    """Ridge weights (intercept last) of ``y`` on centered feature bins, accumulated per block."""
    f = blocks[0].shape[1]
    gram = np.zeros((f + 1, f + 1))
    moment = np.zeros(f + 1)
    offset = 0
    for block in blocks:
        part = y[offset : offset + len(block)]
        offset += len(block)
        keep = ~np.isnan(part)
        x = np.hstack([block[keep].astype(np.float32) - 2, np.ones((int(keep.sum()), 1), np.float32)])
        gram += x.T.astype(np.float64) @ x
        moment += x.T @ (part[keep] - 0.5)
    penalty = np.full(f + 1, alpha)
    penalty[-1] = 0.0
    return np.linalg.solve(gram + np.diag(penalty), moment)


def _predict(models: dict[str, Any], name: str, bins: np.ndarray) -> np.ndarray:
    model = models[name]
    if isinstance(model, lgb.Booster):
        return predict_ranked(model, bins)
    raw = (bins.astype(np.float32) - 2) @ model[:-1].astype(np.float32)
    return rank_predictions(raw)


def _iter_eras_of(folder: Path, split: str, features: Sequence[str],
                  ) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """(era, ids, int8 bins) for each era of a split file."""
    for frame in layout.iter_row_groups(folder / layout.SPLIT_FILES[split],
                                        [layout.ERA, *features]):
        if len(frame) == 0:
            continue
        bins = frame[list(features)].to_numpy(dtype=np.int8)
        yield str(frame[layout.ERA].iloc[0]), frame.index.to_numpy().astype(str), bins


def _benchmark_name(model: str, target: str) -> str:
    kind = "ridge" if model == "ridge" else "lgbm"
    short = target.removeprefix("target_").replace("_", "")
    return f"crowdalpha_{kind}_{short}"


def _write_validation_predictions(folder: Path, features: Sequence[str], models: dict[str, Any],
                                  main: str, bench_target: str, seed: int) -> list[str]:
    """Example predictions, benchmark models and the simulated meta-model, per validation era."""
    targets = {"example": main, "long": bench_target, "ridge": main}
    names = {m: _benchmark_name(m, targets[m]) for m in models}
    example_frames, bench_frames, meta_frames = [], [], []
    for era, ids, bins in _iter_eras_of(folder, "validation", features):
        preds = {m: _predict(models, m, bins) for m in models}
        example_frames.append(_prediction_frame(ids, preds["example"]))
        bench = pd.DataFrame({names[m]: preds[m] for m in models},
                             index=pd.Index(ids, name=layout.ID))
        bench.insert(0, layout.ERA, era)
        bench_frames.append(bench)
        meta_frames.append(_meta_model_era(bench.drop(columns=layout.ERA), era, seed))
    index = pd.Index([], name=layout.ID, dtype=object)
    example = pd.concat(example_frames) if example_frames else pd.DataFrame(
        {layout.PREDICTION: pd.Series([], dtype=float)}, index=index)
    example.to_parquet(folder / layout.VALIDATION_EXAMPLE_PREDS)
    if bench_frames:
        pd.concat(bench_frames).to_parquet(folder / layout.VALIDATION_BENCHMARK_MODELS)
        pd.concat(meta_frames).to_parquet(folder / layout.META_MODEL)
    return list(names.values())


def _meta_model_era(bench: pd.DataFrame, era: str, seed: int) -> pd.DataFrame:
    """The historical meta-model of one era: a stake-weighted blend of
    gaussianized benchmark models and noisy "crowd" models, ranked."""
    ordered = bench.sort_index()
    rng = np.random.default_rng([seed, zlib.crc32(b"meta"), zlib.crc32(era.encode())])
    gauss = gaussian(tie_kept_rank(ordered))
    lead = gauss.iloc[:, 0].to_numpy()
    crowd = {f"crowd_{k}": lead + rng.normal(scale=1.5, size=len(lead)) for k in range(4)}
    crowd.update({f"noise_{k}": rng.normal(size=len(lead)) for k in range(2)})
    columns = pd.concat([gauss, pd.DataFrame(crowd, index=gauss.index)], axis=1)
    columns = gaussian(tie_kept_rank(columns))
    stakes = pd.Series(np.r_[np.linspace(3.0, 1.0, gauss.shape[1]), [2.0, 1.5, 1.0, 1.0, 0.5, 0.5]],
                       index=columns.columns)
    meta = tie_kept_rank(stake_weight(columns, stakes))
    return pd.DataFrame({layout.ERA: era, layout.DATA_TYPE: "validation",
                         layout.META_MODEL_COLUMN: meta.to_numpy()},
                        index=ordered.index).loc[bench.index]


def _write_live_predictions(folder: Path, features: Sequence[str], model: lgb.Booster) -> None:
    frames = [_prediction_frame(ids, predict_ranked(model, bins))
              for _, ids, bins in _iter_eras_of(folder, "live", features)]
    if frames:
        frame = pd.concat(frames)
    else:
        frame = pd.DataFrame({layout.PREDICTION: pd.Series([], dtype=float)},
                             index=pd.Index([], name=layout.ID, dtype=object))
    frame.to_parquet(folder / layout.LIVE_EXAMPLE_PREDS)


def _feature_sets(training: _TrainingSet, obfuscation: _Obfuscation, main: str,
                  ranking_eras: int) -> dict[str, list[str]]:
    """``small`` and ``medium``: the features with the strongest mean per-era
    CORR with the main target over the last train eras; ``all``; one set per group."""
    names = obfuscation.names
    chosen = range(max(0, len(training.bins) - ranking_eras), len(training.bins))
    sums = np.zeros(len(names))
    counts = np.zeros(len(names))
    for i in chosen:
        target = training.targets[main][i]
        scores = score_eras(training.bins[i], target, metrics=["corr"], models=names,
                            on_insufficient="nan")
        values = scores["value"].to_numpy()
        sums += np.nan_to_num(values)
        counts += ~np.isnan(values)
    strength = np.abs(sums / np.maximum(counts, 1))
    ranked = [names[i] for i in np.argsort(-strength, kind="stable")]
    n_small = min(len(names), max(5, len(names) // 12))
    n_medium = min(len(names), max(n_small, len(names) // 2))
    position = {name: i for i, name in enumerate(names)}
    sets = {
        "small": sorted(ranked[:n_small], key=position.__getitem__),
        "medium": sorted(ranked[:n_medium], key=position.__getitem__),
        "all": list(names),
    }
    sets.update({g: list(members) for g, members in obfuscation.groups.items()})
    return sets


__all__ = [
    "ProgressCallback",
    "append_live_era",
    "build_dataset",
    "build_from_panel",
    "live_targets",
    "scenario_dataset",
]
