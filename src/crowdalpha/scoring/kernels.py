"""Array kernels behind every score: ranks, gaussianization, row statistics.

All functions take 2-D float arrays laid out one *column of predictions per
row* (shape ``(k, n)``: k prediction vectors over n ids) because ranking along
the last, contiguous axis is what numpy sorts fastest. They never modify their
inputs. Blocks of rows are processed in a thread pool: numpy releases the GIL
in sorts and element-wise work, so both cores of a laptop take part.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import numpy as np
from scipy.special import ndtri

#: Rows per block: a block of 5,000 ids stays within a core's L2/L3 cache.
BLOCK_ROWS = 32


def _n_threads() -> int:
    return max(1, min(8, os.cpu_count() or 1))


@lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=_n_threads(), thread_name_prefix="crowdalpha-kernel")


def map_row_blocks(func: Callable[[np.ndarray, np.ndarray], None], values: np.ndarray,
                   out: np.ndarray) -> np.ndarray:
    """Apply ``func(block_in, block_out)`` to blocks of rows, in parallel when worthwhile."""
    k = values.shape[0]
    starts = range(0, k, BLOCK_ROWS)
    if k <= BLOCK_ROWS or values.size < 200_000 or _n_threads() == 1:
        for s in starts:
            func(values[s : s + BLOCK_ROWS], out[s : s + BLOCK_ROWS])
        return out
    futures = [_pool().submit(func, values[s : s + BLOCK_ROWS], out[s : s + BLOCK_ROWS])
               for s in starts]
    for f in futures:
        f.result()
    return out


def _tie_group_bounds(sorted_values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and last position (0-based) of each element's tie group in sorted rows."""
    k, n = sorted_values.shape
    new_group = np.empty((k, n), dtype=bool)
    new_group[:, 0] = True
    np.not_equal(sorted_values[:, 1:], sorted_values[:, :-1], out=new_group[:, 1:])
    positions = np.arange(n, dtype=np.int32)
    first = np.where(new_group, positions, np.int32(0))
    np.maximum.accumulate(first, axis=1, out=first)
    group_ends = np.empty((k, n), dtype=bool)
    group_ends[:, -1] = True
    group_ends[:, :-1] = new_group[:, 1:]
    last = np.where(group_ends, positions, np.int32(n - 1))[:, ::-1]
    last = np.minimum.accumulate(last, axis=1)[:, ::-1]
    return first, last


@lru_cache(maxsize=64)
def _gaussian_table(n: int) -> np.ndarray:
    """``ndtri(j / 2n)`` for j = 0..2n: the gaussianized value of every possible
    tie-kept percentile rank ``(avg_rank - 0.5) / n`` with ``avg_rank*2 - 1 = j``."""
    table = ndtri(np.arange(2 * n + 1, dtype=np.float64) / (2 * n))
    table.setflags(write=False)
    return table


def _rank_block(block: np.ndarray, out: np.ndarray, gaussianize: bool) -> None:
    """Tie-kept percentile ranks (or their normal quantiles) of complete rows."""
    n = block.shape[1]
    order = np.argsort(block, axis=1)
    sorted_values = np.take_along_axis(block, order, axis=1)
    first, last = _tie_group_bounds(sorted_values)
    doubled = first + last + 1  # 2 * (average 1-based rank) - 1
    if gaussianize:
        ranked = _gaussian_table(n)[doubled]
    else:
        ranked = doubled / (2.0 * n)
    np.put_along_axis(out, order, ranked, axis=1)


def _rank_block_with_nans(block: np.ndarray, out: np.ndarray, gaussianize: bool) -> None:
    """Like :func:`_rank_block` for rows with NaNs: NaNs stay NaN and each row
    is ranked among its own valid values, as pandas does."""
    for row, out_row in zip(block, out, strict=True):
        valid = ~np.isnan(row)
        out_row[:] = np.nan
        count = int(valid.sum())
        if count == 0:
            continue
        values = row[valid][None, :]
        order = np.argsort(values, axis=1)
        first, last = _tie_group_bounds(np.take_along_axis(values, order, axis=1))
        pct = (first + last + 1) / (2.0 * count)
        ranked = np.empty_like(values)
        np.put_along_axis(ranked, order, ndtri(pct) if gaussianize else pct, axis=1)
        out_row[valid] = ranked[0]


def _rank_rows(values: np.ndarray, gaussianize: bool) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    squeeze = values.ndim == 1
    values = np.atleast_2d(values)
    out = np.empty(values.shape, dtype=np.float64)
    if values.shape[1] == 0:
        return out[0] if squeeze else out
    has_nan = np.isnan(values).any(axis=1)

    def work(block: np.ndarray, block_out: np.ndarray) -> None:
        nan_rows = np.isnan(block).any(axis=1)
        if nan_rows.any():
            _rank_block_with_nans(block[nan_rows], tmp := np.empty((int(nan_rows.sum()), block.shape[1])), gaussianize)
            block_out[nan_rows] = tmp
            full = ~nan_rows
            if full.any():
                tmp_full = np.empty((int(full.sum()), block.shape[1]))
                _rank_block(block[full], tmp_full, gaussianize)
                block_out[full] = tmp_full
        else:
            _rank_block(block, block_out, gaussianize)

    del has_nan
    map_row_blocks(work, values, out)
    return out[0] if squeeze else out


def tie_kept_rank_rows(values: np.ndarray) -> np.ndarray:
    """Percentile rank of each row, ties averaged: ``(rank - 0.5) / count``; NaN kept."""
    return _rank_rows(values, gaussianize=False)


def gaussian_rank_rows(values: np.ndarray) -> np.ndarray:
    """Normal quantile of the tie-kept percentile rank of each row; NaN kept."""
    return _rank_rows(values, gaussianize=True)


def tie_broken_rank_rows(values: np.ndarray) -> np.ndarray:
    """Percentile rank of each row, ties broken by position: ``(rank - 0.5) / count``."""
    values = np.atleast_2d(np.asarray(values, dtype=np.float64))
    out = np.full(values.shape, np.nan)
    for row, out_row in zip(values, out, strict=True):
        valid = ~np.isnan(row)
        count = int(valid.sum())
        if count == 0:
            continue
        order = np.argsort(row[valid], kind="stable")
        ranks = np.empty(count)
        ranks[order] = (np.arange(count) + 0.5) / count
        out_row[valid] = ranks
    return out


def signed_power(values: np.ndarray, p: float) -> np.ndarray:
    """``sign(x) * |x| ** p``, element-wise."""
    return np.sign(values) * np.abs(values) ** p


def row_pearson(rows: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row of ``rows`` with ``target``; NaN where either is constant.

    Rows are centered explicitly (not via sum-of-squares shortcuts) so values
    with a large offset and a small spread keep their precision.
    """
    rows = np.atleast_2d(rows)
    centered_target = target - target.mean()
    centered = rows - rows.mean(axis=1, keepdims=True)
    covariance = centered @ centered_target
    row_ss = np.einsum("ij,ij->i", centered, centered)
    target_ss = centered_target @ centered_target
    constant = rows.max(axis=1) == rows.min(axis=1)
    if target.max() == target.min():
        constant[:] = True
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = covariance / np.sqrt(row_ss * target_ss)
    corr[constant] = np.nan
    return corr
