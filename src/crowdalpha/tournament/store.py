"""The file store: submissions and round archives, through fsspec (a local folder by default).

A store is an fsspec filesystem and a root path inside it; every stored file
is named by a path relative to that root, which is what the database keeps.
"""

from __future__ import annotations

import io

import fsspec
import pandas as pd
import pyarrow.parquet as pq
from sqlalchemy import event
from sqlalchemy.orm import Session

Store = tuple[fsspec.AbstractFileSystem, str]


def full_path(store: Store, relative: str) -> str:
    """Where ``relative`` lives inside the store's filesystem."""
    return f"{store[1].rstrip('/')}/{relative}"


def write_bytes(store: Store, relative: str, data: bytes) -> None:
    """Write ``data`` at ``relative``; a failed write leaves no partial file."""
    fs = store[0]
    path = full_path(store, relative)
    fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    try:
        with fs.open(path, "wb") as out:
            out.write(data)
    except BaseException:
        if fs.exists(path):
            fs.rm(path)
        raise


def write_parquet(store: Store, relative: str, frame: pd.DataFrame) -> None:
    """Write ``frame`` (index kept) as parquet at ``relative``."""
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    write_bytes(store, relative, buffer.getvalue())


def read_parquet(store: Store, relative: str, columns: list[str] | None = None) -> pd.DataFrame:
    """The parquet file at ``relative`` as a frame (its stored index restored)."""
    fs = store[0]
    with fs.open(full_path(store, relative), "rb") as f:
        return pq.read_table(f, columns=columns, use_pandas_metadata=True).to_pandas()


_NEW_FILES = "crowdalpha_new_files"


def remove_on_rollback(session: Session, store: Store, relatives: list[str]) -> None:
    """Delete ``relatives`` from the store if ``session``'s transaction rolls back, so a file
    written for rows that never commit does not outlive them."""
    pending = session.info.setdefault(_NEW_FILES, [])
    pending.extend((store, relative) for relative in relatives)
    if not event.contains(session, "after_rollback", _remove_new_files):
        event.listen(session, "after_rollback", _remove_new_files)
        event.listen(session, "after_commit", _forget_new_files)


def _remove_new_files(session: Session) -> None:
    for store, relative in session.info.pop(_NEW_FILES, []):
        remove(store, relative)


def _forget_new_files(session: Session) -> None:
    session.info.pop(_NEW_FILES, None)


def move(store: Store, source: str, destination: str) -> None:
    """Move the file at ``source`` to ``destination`` (a rename on a local store)."""
    fs = store[0]
    target = full_path(store, destination)
    fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
    fs.mv(full_path(store, source), target)


def remove(store: Store, relative: str) -> None:
    """Delete ``relative`` if it is there."""
    fs = store[0]
    path = full_path(store, relative)
    if fs.exists(path):
        fs.rm(path)


__all__ = [
    "Store",
    "full_path",
    "move",
    "read_parquet",
    "remove",
    "remove_on_rollback",
    "write_bytes",
    "write_parquet",
]
