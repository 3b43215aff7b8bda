"""Input checks shared by the scorers: each raises a named ``ScoringInputError``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from crowdalpha.scoring.errors import (
    DuplicateIdsError,
    EmptyInputError,
    InfiniteValuesError,
    InsufficientOverlapError,
    LengthMismatchError,
    MissingValuesError,
    NonNumericError,
    UnsortedIndexError,
)

Frame = pd.DataFrame | pd.Series


def describe(obj: Frame, name: str) -> str:
    """A short label for messages: ``predictions``, ``targets 'target'``..."""
    if isinstance(obj, pd.Series) and obj.name is not None:
        return f"{name} {obj.name!r}"
    return name


def _first(values: Sequence | np.ndarray | pd.Index, limit: int = 3) -> str:
    shown = ", ".join(repr(v) for v in list(values[:limit]))
    return shown + (", ..." if len(values) > limit else "")


def check_not_empty(obj: Frame, name: str) -> None:
    if len(obj) == 0:
        raise EmptyInputError(f"{describe(obj, name)} has no rows")
    if isinstance(obj, pd.DataFrame) and obj.shape[1] == 0:
        raise EmptyInputError(f"{name} has no columns")


def check_numeric(obj: Frame, name: str) -> None:
    if isinstance(obj, pd.Series):
        if not (pd.api.types.is_numeric_dtype(obj.dtype) and not pd.api.types.is_bool_dtype(obj.dtype)):
            raise NonNumericError(f"{describe(obj, name)} has dtype {obj.dtype}, expected numbers")
        return
    # each distinct dtype is checked once (a frame of 1,000 columns has one or two)
    non_numeric = {t for t in set(obj.dtypes)
                   if not pd.api.types.is_numeric_dtype(t) or pd.api.types.is_bool_dtype(t)}
    if non_numeric:
        bad = [c for c, t in obj.dtypes.items() if t in non_numeric]
        raise NonNumericError(
            f"{name} column {bad[0]!r} has dtype {obj.dtypes[bad[0]]}, expected numbers"
            + (f" ({len(bad)} non-numeric columns: {_first(bad)})" if len(bad) > 1 else "")
        )


def check_finite(obj: Frame, name: str) -> None:
    """No +/-inf anywhere (NaN is handled by the caller's rules)."""
    values = obj.to_numpy(dtype=np.float64, na_value=np.nan)
    infinite = np.isinf(values)
    if infinite.any():
        where = np.argwhere(infinite)[0]
        row_id = obj.index[where[0]]
        column = f" column {obj.columns[where[1]]!r}" if isinstance(obj, pd.DataFrame) else ""
        raise InfiniteValuesError(
            f"{describe(obj, name)}{column} has {int(infinite.sum())} infinite values, first at id {row_id!r}"
        )


def check_no_nans(obj: Frame, name: str) -> None:
    values = obj.to_numpy(dtype=np.float64, na_value=np.nan)
    missing = np.isnan(values)
    if missing.any():
        where = np.argwhere(missing)[0]
        column = f" column {obj.columns[where[1]]!r}" if isinstance(obj, pd.DataFrame) else ""
        raise MissingValuesError(
            f"{describe(obj, name)}{column} contains {int(missing.sum())} NaN values, "
            f"first at id {obj.index[where[0]]!r}"
        )


def check_unique_ids(obj: Frame, name: str) -> None:
    if not obj.index.is_unique:
        dupes = obj.index[obj.index.duplicated()].unique()
        raise DuplicateIdsError(f"{describe(obj, name)} has {len(dupes)} duplicated ids: {_first(dupes)}")


def check_sorted(obj: Frame, name: str) -> None:
    if not obj.index.is_monotonic_increasing:
        raise UnsortedIndexError(f"{describe(obj, name)} index is not sorted; sort it or use filter_sort_index")


def check_scoring_input(obj: Frame, name: str, allow_nan: bool = True) -> None:
    """The checks every scorer applies to each pandas argument."""
    if not isinstance(obj, pd.DataFrame | pd.Series):
        raise NonNumericError(f"{name} must be a pandas DataFrame or Series, got {type(obj).__name__}")
    check_not_empty(obj, name)
    check_numeric(obj, name)
    check_unique_ids(obj, name)
    check_finite(obj, name)
    if not allow_nan:
        check_no_nans(obj, name)


def check_same_index(a: Frame, b: Frame, a_name: str, b_name: str) -> None:
    if len(a.index) != len(b.index):
        raise LengthMismatchError(f"{a_name} has {len(a.index)} rows but {b_name} has {len(b.index)}")
    if not a.index.equals(b.index):
        differ = a.index[a.index != b.index]
        raise LengthMismatchError(f"{a_name} and {b_name} have different ids, first: {_first(differ)}")


def check_overlap(kept: int, total: int, max_filtered_ratio: float, name: str, others: str) -> None:
    """At least ``1 - max_filtered_ratio`` of ``name``'s ids must survive the matching."""
    if total == 0:
        raise EmptyInputError(f"{name} has no rows")
    if kept / total < 1 - max_filtered_ratio:
        raise InsufficientOverlapError(
            f"{name} shares {kept} of its {total} ids with {others} ({kept / total:.1%}), "
            f"need at least {1 - max_filtered_ratio:.0%}"
        )
