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
from contextlib import AbstractContextManager, nullcontext
from functools import lru_cache

import numpy as np
from scipy.special import ndtri
from threadpoolctl import ThreadpoolController

#: Rows per block: big enough for efficient matrix products (FNC), small
#: enough that a block of 5,000 ids stays within a core's caches.
BLOCK_ROWS = 128


def _n_threads() -> int:
    return max(1, min(8, os.cpu_count() or 1))


@lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=_n_threads(), thread_name_prefix="crowdalpha-kernel")


@lru_cache(maxsize=1)
def _blas_controller() -> ThreadpoolController:
    return ThreadpoolController()


def single_threaded_blas() -> AbstractContextManager:
    """Limit BLAS to one thread while our own workers share out the rows."""
    if _n_threads() == 1:
        return nullcontext()
    return _blas_controller().limit(limits=1, user_api="blas")


def for_row_blocks(func: Callable[[slice], None], n_rows: int, n_cols: int) -> None:
    """Call ``func(rows)`` for consecutive blocks of rows, in parallel when worthwhile.

    ``func`` must write only to its own rows of any output it fills.
    """
    size = max(8, min(BLOCK_ROWS, -(-n_rows // _n_threads())))  # every worker gets rows
    blocks = [slice(s, min(s + size, n_rows)) for s in range(0, n_rows, size)]
    if len(blocks) <= 1 or n_rows * n_cols < 200_000 or _n_threads() == 1:
        for rows in blocks:
            func(rows)
        return
    for future in [_pool().submit(func, rows) for rows in blocks]:
        future.result()


def gram(matrix: np.ndarray) -> np.ndarray:
    """``matrix.T @ matrix``, summed over row chunks computed in parallel."""
    n = matrix.shape[0]
    chunks = _n_threads()
    if chunks == 1 or matrix.size < 200_000:
        return matrix.T @ matrix
    edges = np.linspace(0, n, chunks + 1).astype(int)
    parts = [_pool().submit(lambda a, b: matrix[a:b].T @ matrix[a:b], edges[i], edges[i + 1])
             for i in range(chunks)]
    return sum(part.result() for part in parts)


def _tie_group_bounds(sorted_values: np.ndarray, tied: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and last position (0-based) of each element's tie group in sorted
    rows; ``tied[:, j]`` says element j+1 equals element j."""
    k, n = sorted_values.shape
    new_group = np.empty((k, n), dtype=bool)
    new_group[:, 0] = True
    np.logical_not(tied, out=new_group[:, 1:])
    positions = np.arange(n, dtype=np.int32)
    first = np.where(new_group, positions, np.int32(0))
    np.maximum.accumulate(first, axis=1, out=first)
    group_ends = np.empty((k, n), dtype=bool)
    group_ends[:, -1] = True
    group_ends[:, :-1] = new_group[:, 1:]
    last = np.where(group_ends, positions, np.int32(n - 1))[:, ::-1]
    last = np.minimum.accumulate(last, axis=1)[:, ::-1]
    return first, last


def _gather_rows(block: np.ndarray, order: np.ndarray) -> np.ndarray:
    """``np.take_along_axis(block, order, axis=1)`` as one flat ``take`` (about
    1.5x faster on 5,000-wide rows)."""
    k, n = block.shape
    flat = np.ascontiguousarray(block).reshape(-1)
    return np.take(flat, order + (np.arange(k, dtype=order.dtype) * n)[:, None])


@lru_cache(maxsize=64)
def _gaussian_table(n: int) -> np.ndarray:
    """``ndtri(j / 2n)`` for j = 0..2n: the gaussianized value of every possible
    tie-kept percentile rank ``(avg_rank - 0.5) / n`` with ``avg_rank*2 - 1 = j``."""
    table = ndtri(np.arange(2 * n + 1, dtype=np.float64) / (2 * n))
    table.setflags(write=False)
    return table


def sorted_gaussian_ranks(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort order of each row and the gaussianized tie-kept rank of each
    element *in sorted order* (rows without NaN).

    Scores that are sums over ids (correlations, dot products) can be taken in
    sorted order against gathered vectors, with no scatter back. Rows without
    ties all share one read-only row of values.
    """
    n = block.shape[1]
    order = np.argsort(block, axis=1)
    sorted_values = _gather_rows(block, order)
    tied = sorted_values[:, 1:] == sorted_values[:, :-1]
    if tied.any():
        first, last = _tie_group_bounds(sorted_values, tied)
        return order, _gaussian_table(n)[first + last + 1]
    return order, np.broadcast_to(_untied_gaussian_row(n), block.shape)


@lru_cache(maxsize=64)
def _untied_gaussian_row(n: int) -> np.ndarray:
    """Gaussianized ranks 1..n in order: what every row without ties sorts to."""
    row = _gaussian_table(n)[2 * np.arange(n) + 1]
    row.setflags(write=False)
    return row


def rank_complete_block(block: np.ndarray, gaussianize: bool = True) -> np.ndarray:
    """Tie-kept percentile ranks (or their normal quantiles) of rows without NaN.

    Single-threaded; callers split work with :func:`for_row_blocks`. Ranks are
    looked up in a table indexed by ``2 * average_rank - 1``, so ties cost a
    few passes and no per-element ``ndtri``.
    """
    n = block.shape[1]
    out = np.empty(block.shape, dtype=np.float64)
    if gaussianize:
        order, ranked = sorted_gaussian_ranks(block)
    else:
        order = np.argsort(block, axis=1)
        sorted_values = _gather_rows(block, order)
        tied = sorted_values[:, 1:] == sorted_values[:, :-1]
        if tied.any():
            first, last = _tie_group_bounds(sorted_values, tied)
            doubled = first + last + 1  # 2 * (average 1-based rank) - 1
        else:
            doubled = np.broadcast_to(2 * np.arange(n) + 1, block.shape)
        ranked = doubled / (2.0 * n)
    np.put_along_axis(out, order, ranked, axis=1)
    return out


def _rank_row_with_nans(row: np.ndarray, gaussianize: bool) -> np.ndarray:
    """One row ranked among its valid values, NaN kept (as pandas does)."""
    out = np.full(row.shape, np.nan)
    valid = ~np.isnan(row)
    count = int(valid.sum())
    if count:
        pct = rank_complete_block(row[valid][None, :], gaussianize=False)[0]
        out[valid] = ndtri(pct) if gaussianize else pct
    return out


def _rank_rows(values: np.ndarray, gaussianize: bool) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    squeeze = values.ndim == 1
    values = np.atleast_2d(values)
    out = np.empty(values.shape, dtype=np.float64)
    if values.shape[1] == 0:
        return out[0] if squeeze else out

    def work(rows: slice) -> None:
        block, block_out = values[rows], out[rows]
        with_nans = np.isnan(block).any(axis=1)
        if not with_nans.any():
            block_out[:] = rank_complete_block(block, gaussianize)
            return
        for r in np.flatnonzero(with_nans):
            block_out[r] = _rank_row_with_nans(block[r], gaussianize)
        complete = np.flatnonzero(~with_nans)
        if len(complete):
            block_out[complete] = rank_complete_block(block[complete], gaussianize)

    for_row_blocks(work, *values.shape)
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


def _shares_one_row(rows: np.ndarray) -> bool:
    """Whether every row of a 2-D array is the same buffer (a broadcast row)."""
    return rows.ndim == 2 and rows.shape[0] > 1 and rows.strides[0] == 0


def pow15(gauss: np.ndarray) -> np.ndarray:
    """Signed power 1.5 of gaussianized ranks: ``g * sqrt(|g|)``."""
    return gauss * np.sqrt(np.abs(gauss))


def sorted_corr(gauss_sorted: np.ndarray, order: np.ndarray, target_centered: np.ndarray) -> np.ndarray:
    """CORR of rows given in sorted order: Pearson of the 1.5-powered gaussian
    ranks with the (already powered and) centered target gathered by ``order``.

    Rows that share one buffer (no ties: :func:`sorted_gaussian_ranks`) are
    powered and centered once."""
    shared = _shares_one_row(gauss_sorted)
    powered = pow15(gauss_sorted[:1] if shared else gauss_sorted)
    powered -= powered.mean(axis=1, keepdims=True)
    powered_ss = np.einsum("ij,ij->i", powered, powered)
    target_ss = target_centered @ target_centered
    gathered = target_centered[order]
    if shared:
        covariance = np.einsum("ij,j->i", gathered, powered[0])  # no BLAS threads inside our workers
        powered_ss = np.broadcast_to(powered_ss, covariance.shape)
    else:
        covariance = np.einsum("ij,ij->i", powered, gathered)
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = covariance / np.sqrt(powered_ss * target_ss)
    corr[powered_ss == 0] = np.nan
    if target_ss == 0:
        corr[:] = np.nan
    return corr


def contribution(g_dot_target: np.ndarray, g_dot_reference: np.ndarray, reference: np.ndarray,
                 target: np.ndarray, n: int) -> np.ndarray:
    """MMC/BMC: covariance with ``target`` of each gaussianized row orthogonalized
    to ``reference``: ``(g.t - (g.r)(r.t)/(r.r)) / n``."""
    return (g_dot_target - g_dot_reference * (reference @ target) / (reference @ reference)) / n


def _pow15_input_corr(gauss_sorted: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row's 1.5-powered values with the row itself
    (NaN for a constant row); rows that share one buffer are computed once."""
    shared = _shares_one_row(gauss_sorted)
    rows = gauss_sorted[:1] if shared else gauss_sorted
    centered = rows - rows.mean(axis=1, keepdims=True)
    powered = pow15(rows)
    powered -= powered.mean(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = np.einsum("ij,ij->i", powered, centered) / np.sqrt(
            np.einsum("ij,ij->i", powered, powered) * np.einsum("ij,ij->i", centered, centered))
    return np.broadcast_to(corr, gauss_sorted.shape[:1]) if shared else corr


def numerai_corr_rows(rows: np.ndarray, target_centered: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CORR of each complete row (shape (k, n), no NaN) with the powered, centered target.

    1. tie-kept rank and gaussianize each row (in sorted order, no scatter back)
    2. signed power 1.5
    3. Pearson correlation with ``target_centered`` gathered in each row's order

    Also returns, per row, the correlation of the powered values with the
    gaussianized ones (numerai-tools' power check; NaN for a constant row).
    """
    rows = np.ascontiguousarray(rows, dtype=np.float64)
    k, n = rows.shape
    corr = np.empty(k)
    power_corr = np.empty(k)

    def work(block: slice) -> None:
        order, gauss = sorted_gaussian_ranks(rows[block])
        power_corr[block] = _pow15_input_corr(gauss)
        corr[block] = sorted_corr(gauss, order, target_centered)

    for_row_blocks(work, k, n)
    return corr, power_corr


def neutral_sorted_ranks(gauss: np.ndarray, residuals_up_to_shift: Callable[[np.ndarray], np.ndarray],
                         scored: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """FNC's neutralization and second ranking of gaussianized rows (id order).

    1. residuals of each row on the features, up to a constant per row (the
       features are centered, so the intercept only shifts a row: ranks unchanged)
    2. tie-kept rank and gaussianize them over the ``scored`` ids (all if None),
       in sorted order

    The division by the standard deviation is left out: only ranks matter.
    Returns the sort order, the gaussianized ranks in sorted order and the
    residuals (over all ids).
    """
    residuals = residuals_up_to_shift(gauss)
    order, regauss = sorted_gaussian_ranks(residuals if scored is None else residuals[:, scored])
    return order, regauss, residuals


def feature_neutral_corr_rows(rows: np.ndarray, residuals_up_to_shift: Callable[[np.ndarray], np.ndarray],
                              target_centered: np.ndarray, scored: np.ndarray | None = None,
                              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """FNC of each complete row (shape (k, n), no NaN) with the powered, centered target.

    1. tie-kept rank and gaussianize each row
    2. :func:`neutral_sorted_ranks`: neutralize and rank again over the
       ``scored`` ids (positions, all if None; ``target_centered`` is over them)
    3. signed power 1.5 and Pearson correlation with the target

    Also returns numerai-tools' power check per row (as :func:`numerai_corr_rows`)
    and whether a row is constant before or after neutralizing (all ids).
    Row blocks run in worker threads with BLAS single-threaded.
    """
    rows = np.ascontiguousarray(rows, dtype=np.float64)
    k, n = rows.shape
    corr = np.empty(k)
    power_corr = np.empty(k)
    constant = np.empty(k, dtype=bool)

    def work(block: slice) -> None:
        order, gauss_sorted = sorted_gaussian_ranks(rows[block])
        gauss = np.empty(order.shape)
        np.put_along_axis(gauss, order, gauss_sorted, axis=1)
        order, regauss, residuals = neutral_sorted_ranks(gauss, residuals_up_to_shift, scored)
        constant[block] = (gauss_sorted[:, 0] == gauss_sorted[:, -1]) | ~(residuals.std(axis=1) > 0)
        power_corr[block] = _pow15_input_corr(regauss)
        corr[block] = sorted_corr(regauss, order, target_centered)

    with single_threaded_blas():
        for_row_blocks(work, k, n)
    return corr, power_corr, constant


def contribution_rows(rows: np.ndarray, reference: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Contribution (MMC) of each complete row (shape (k, n), no NaN).

    1. tie-kept rank and gaussianize each row (in sorted order)
    2. orthogonalize it to ``reference`` (already gaussianized)
    3. covariance with the centered ``target``
    """
    rows = np.ascontiguousarray(rows, dtype=np.float64)
    k, n = rows.shape
    out = np.empty(k)

    def work(block: slice) -> None:
        order, gauss = sorted_gaussian_ranks(rows[block])
        g_dot_target = np.einsum("ij,ij->i", gauss, target[order])
        g_dot_reference = np.einsum("ij,ij->i", gauss, reference[order])
        out[block] = contribution(g_dot_target, g_dot_reference, reference, target, n)

    for_row_blocks(work, k, n)
    return out
