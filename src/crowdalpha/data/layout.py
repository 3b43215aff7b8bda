"""The dataset file layout: what a version folder ``vN/`` holds and how to read it.

Public files (what participants download, docs/data.md)::

    vN/train.parquet                      id (index), era, data_type, feature_*, target*
    vN/validation.parquet                 same columns
    vN/live.parquet                       same columns, targets NaN
    vN/features.json                      {"feature_sets": {...}, "targets": [...]}
    vN/validation_example_preds.parquet   id (index), prediction
    vN/live_example_preds.parquet         id (index), prediction
    vN/validation_benchmark_models.parquet  id (index), era, one column per benchmark model
    vN/meta_model.parquet                 id (index), era, data_type, numerai_meta_model

The operator's private state lives beside them in ``vN/.operator/`` (never
published; serve only :data:`PUBLIC_FILES`): the build settings and feature
de-obfuscation map (``state.json``), the example model, the era calendar with
the simulator's regimes, and each era's map from published ids to stock ids.
The parquet files hold one row group per era.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from crowdalpha.errors import DataError, NotFoundError

TRAIN = "train.parquet"
VALIDATION = "validation.parquet"
LIVE = "live.parquet"
FEATURES_JSON = "features.json"
VALIDATION_EXAMPLE_PREDS = "validation_example_preds.parquet"
LIVE_EXAMPLE_PREDS = "live_example_preds.parquet"
VALIDATION_BENCHMARK_MODELS = "validation_benchmark_models.parquet"
META_MODEL = "meta_model.parquet"

#: Every file a participant may download, in docs/data.md's order.
PUBLIC_FILES = (TRAIN, VALIDATION, LIVE, FEATURES_JSON, VALIDATION_EXAMPLE_PREDS,
                LIVE_EXAMPLE_PREDS, VALIDATION_BENCHMARK_MODELS, META_MODEL)
#: The data file of each split.
SPLIT_FILES = {"train": TRAIN, "validation": VALIDATION, "live": LIVE}

OPERATOR_DIR = ".operator"
STATE = "state.json"
EXAMPLE_MODEL = "example_model.txt"
ERAS = "eras.parquet"
IDS_DIR = "ids"

#: Column names shared by every file.
ID = "id"
ERA = "era"
DATA_TYPE = "data_type"
PREDICTION = "prediction"
META_MODEL_COLUMN = "numerai_meta_model"

_VERSION = re.compile(r"^v(\d+)$")


def era_label(era: int) -> str:
    """The published label of era number ``era``: zero-padded, ``"0001"``."""
    return f"{int(era):04d}"


def versions(out_dir: Path) -> list[Path]:
    """Existing version folders ``vN`` in ``out_dir``, oldest first."""
    if not Path(out_dir).is_dir():
        return []
    found = [(int(m.group(1)), p) for p in Path(out_dir).iterdir()
             if p.is_dir() and (m := _VERSION.match(p.name))]
    return [p for _, p in sorted(found)]


def next_version_name(out_dir: Path) -> str:
    """``vN`` for the next free N in ``out_dir`` (``v1`` in an empty folder)."""
    existing = versions(out_dir)
    return f"v{int(existing[-1].name[1:]) + 1 if existing else 1}"


def latest_version(out_dir: Path) -> Path:
    """The newest version folder; ``NotFoundError`` when there is none."""
    existing = versions(out_dir)
    if not existing:
        raise NotFoundError(f"no dataset version (v1, v2, ...) in {out_dir}")
    return existing[-1]


def operator_dir(version_dir: Path) -> Path:
    return Path(version_dir) / OPERATOR_DIR


def read_features_json(version_dir: Path) -> dict[str, Any]:
    """``features.json`` of a version: ``feature_sets`` and ``targets``."""
    path = Path(version_dir) / FEATURES_JSON
    if not path.is_file():
        raise NotFoundError(f"{path} does not exist")
    return json.loads(path.read_text())


def read_state(version_dir: Path) -> dict[str, Any]:
    """The operator's build state of a version."""
    path = operator_dir(version_dir) / STATE
    if not path.is_file():
        raise NotFoundError(f"{path} does not exist; is {version_dir} a dataset version folder?")
    return json.loads(path.read_text())


def read_split(version_dir: Path, split: str, columns: list[str] | None = None) -> pd.DataFrame:
    """One split (``train``, ``validation`` or ``live``) as a frame indexed by ``id``."""
    if split not in SPLIT_FILES:
        raise DataError(f"split {split!r} is not one of {', '.join(SPLIT_FILES)}")
    return pd.read_parquet(Path(version_dir) / SPLIT_FILES[split], columns=columns)


def iter_row_groups(path: Path, columns: list[str] | None = None) -> Iterator[pd.DataFrame]:
    """A parquet file one row group (one era) at a time, indexed by ``id``."""
    file = pq.ParquetFile(path)
    wanted = None if columns is None else list(dict.fromkeys([*columns, ID]))
    for i in range(file.num_row_groups):
        yield file.read_row_group(i, columns=wanted).to_pandas()


def write_json_atomic(data: Any, path: Path) -> None:
    """Write JSON through a temporary file and a rename: readers never see half a file."""
    write_bytes_atomic(json.dumps(data, indent=1).encode(), path)


def write_bytes_atomic(data: bytes, path: Path) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_parquet_atomic(frame: pd.DataFrame | pa.Table, path: Path) -> None:
    """Write a frame (index kept) to parquet through a temporary file and a rename."""
    path = Path(path)
    table = frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(frame, preserve_index=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    try:
        pq.write_table(table, tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


__all__ = [
    "DATA_TYPE",
    "ERA",
    "ERAS",
    "EXAMPLE_MODEL",
    "FEATURES_JSON",
    "ID",
    "IDS_DIR",
    "LIVE",
    "LIVE_EXAMPLE_PREDS",
    "META_MODEL",
    "META_MODEL_COLUMN",
    "OPERATOR_DIR",
    "PREDICTION",
    "PUBLIC_FILES",
    "SPLIT_FILES",
    "STATE",
    "TRAIN",
    "VALIDATION",
    "VALIDATION_BENCHMARK_MODELS",
    "VALIDATION_EXAMPLE_PREDS",
    "era_label",
    "iter_row_groups",
    "latest_version",
    "next_version_name",
    "operator_dir",
    "read_features_json",
    "read_split",
    "read_state",
    "versions",
    "write_bytes_atomic",
    "write_json_atomic",
    "write_parquet_atomic",
]
