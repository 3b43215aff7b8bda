"""Rounds and datasets: ``rounds``, ``listDatasets`` and ``dataset`` (signed download URLs)."""

from __future__ import annotations

from typing import Any

from ariadne import QueryType
from graphql import GraphQLResolveInfo
from sqlalchemy import select

from crowdalpha.api.graphql.common import check_tournament, context, round_view
from crowdalpha.data import layout
from crowdalpha.errors import NotFoundError
from crowdalpha.server import signing
from crowdalpha.tournament import rounds as rounds_mod
from crowdalpha.tournament.errors import InvalidValueError
from crowdalpha.tournament.feed import round_folder
from crowdalpha.tournament.tables import Round, RoundStatus
from crowdalpha.tournament.views.rounds import newest_round

query = QueryType()

#: numerapi's status filter -> the round states it means.
STATUS_FILTER = {
    "UPCOMING": (),
    "OPEN": (RoundStatus.OPEN,),
    "RESOLVING": (RoundStatus.CLOSED, RoundStatus.SCORING),
    "RESOLVED": (RoundStatus.RESOLVED,),
}
#: Files that change every round; a past round's copy comes from the round's archive.
ROUND_FILES = {layout.LIVE: "live.parquet", layout.LIVE_EXAMPLE_PREDS: "example_preds.parquet"}


@query.field("rounds")
def resolve_rounds(
    _: Any, info: GraphQLResolveInfo, tournament: int | None = None, number: int | None = None,
    target: str | None = None, status: str | None = None, limit: int | None = None,
) -> list[dict[str, Any] | None]:
    check_tournament(tournament)
    ctx = context(info)
    if number == 0:
        found = newest_round(ctx.session)  # round 0: the open round, else the newest
        return [None if found is None else round_view(ctx, found)]
    if limit is not None and limit < 0:
        raise InvalidValueError(f"limit {limit} must not be negative")
    stmt = select(Round).order_by(Round.number.desc())
    if number is not None:
        stmt = stmt.where(Round.number == number)
    if status is not None:
        stmt = stmt.where(Round.status.in_(STATUS_FILTER[status]))
    if target not in (None, "main", "target"):
        return []
    if limit is not None:
        stmt = stmt.limit(limit)
    return [round_view(ctx, r) for r in ctx.session.scalars(stmt)]


def _version_files(ctx: Any) -> list[str]:
    return [
        f"{version.name}/{name}"
        for version in layout.versions(ctx.services.datasets_dir)
        for name in layout.PUBLIC_FILES
        if (version / name).exists()
    ]


@query.field("listDatasets")
def resolve_list_datasets(
    _: Any, info: GraphQLResolveInfo, round: int | None = None, tournament: int | None = None
) -> list[str]:
    check_tournament(tournament)
    ctx = context(info)
    if round is not None:
        rounds_mod.get_round(ctx.session, round)
    return _version_files(ctx)


@query.field("dataset")
def resolve_dataset(
    _: Any, info: GraphQLResolveInfo, filename: str, round: int | None = None,
    tournament: int | None = None,
) -> str:
    check_tournament(tournament)
    ctx = context(info)
    available = _version_files(ctx)
    if filename not in available:
        shown = ", ".join(available[:8]) or "none yet"
        raise NotFoundError(f"no dataset file '{filename[:100]}'; available: {shown}")
    version, name = filename.split("/", 1)
    settings, now = ctx.services.settings, ctx.services.clock.now().timestamp()
    if round is not None and name in ROUND_FILES:
        wanted = rounds_mod.get_round(ctx.session, round)
        newest = newest_round(ctx.session)
        if newest is not None and wanted.number != newest.number:
            relative = f"{round_folder(wanted.number)}/{ROUND_FILES[name]}"
            return signing.signed_url(settings, "GET", signing.download_path("store", relative), now=now)
    return signing.signed_url(
        settings, "GET", signing.download_path("datasets", f"{version}/{name}"), now=now
    )
