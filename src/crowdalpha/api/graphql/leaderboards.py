"""Leaderboards as numerapi reads them: ``v2Leaderboard`` (models) and ``accountLeaderboard``.

Both are pages of ``tournament.leaderboard``'s boards, ranked by CORR
reputation. Numerai's column names map onto the reputations this tournament
keeps (corr, mmc, bmc, fnc); columns of scores it does not compute (CORJ60,
TC, CORT20, IC, RIC) are None. Returns: the boards hold the return over all
resolved rounds, ``net / at_risk`` (the mean return per round staked), and the
NMR paid minus burned; the account board's ``returnAllTime`` and
``returnAllTimeNmr`` are those. No 1-day, 13-week or 1-year return is kept, so
those columns are None rather than an all-time figure under a period's name.
"""

from __future__ import annotations

import math
from typing import Any

from ariadne import QueryType
from graphql import GraphQLResolveInfo

from crowdalpha.api.graphql.common import check_tournament, context
from crowdalpha.tournament import leaderboard
from crowdalpha.tournament.errors import InvalidValueError

query = QueryType()

#: Most entries one page may ask for.
MAX_LIMIT = 1000


def _number(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def check_page(limit: int, offset: int) -> None:
    """A page of at most ``MAX_LIMIT`` entries from a non-negative offset."""
    if not 0 <= limit <= MAX_LIMIT:
        raise InvalidValueError(f"limit {limit} must be between 0 and {MAX_LIMIT}")
    if offset < 0:
        raise InvalidValueError(f"offset {offset} must not be negative")


def model_entry(row: leaderboard.ModelRow) -> dict[str, Any]:
    corr, fnc = _number(row.corr_rep), _number(row.fnc_rep)
    return {
        "rank": row.rank,
        "username": row.name,
        "nmrStaked": row.stake,
        "corr20Rep": corr,
        "corr20V2Rep": corr,
        "corj60Rep": None,
        "fncRep": fnc,
        "fncV3Rep": fnc,
        "tcRep": None,
        "mmcRep": _number(row.mmc_rep),
        "bmcRep": _number(row.bmc_rep),
        "team": False,
        "return_1_day": None,
        "return_52_weeks": None,
        "return_13_weeks": None,
    }


def account_entry(row: leaderboard.AccountRow) -> dict[str, Any]:
    corr = _number(row.corr_rep)
    return {
        "rank": row.rank,
        "username": row.name,
        "displayName": row.name,
        "nmrStaked": row.stake,
        "v2Corr20": corr,
        "cort20": None,
        "corJ60": None,
        "corrV4": corr,
        "fncV4": _number(row.fnc_rep),
        "icV2": None,
        "mmc": _number(row.mmc_rep),
        "ric": None,
        "return1y": None,
        "return3m": None,
        "returnAllTime": _number(row.return_on_stake),
        "return1yNmr": None,
        "return3mNmr": None,
        "returnAllTimeNmr": row.net,
    }


@query.field("v2Leaderboard")
def resolve_v2_leaderboard(
    _: Any, info: GraphQLResolveInfo, limit: int, offset: int
) -> list[dict[str, Any]]:
    check_page(limit, offset)
    rows = leaderboard.model_leaderboard(context(info).session)
    return [model_entry(r) for r in rows[offset : offset + limit]]


@query.field("accountLeaderboard")
def resolve_account_leaderboard(
    _: Any, info: GraphQLResolveInfo, limit: int, offset: int, tournament: int | None = None
) -> list[dict[str, Any]]:
    check_tournament(tournament)
    check_page(limit, offset)
    rows = leaderboard.account_leaderboard(context(info).session)
    return [account_entry(r) for r in rows[offset : offset + limit]]


__all__ = ["MAX_LIMIT", "account_entry", "check_page", "model_entry", "query"]
