"""Submissions: ``submission_upload_auth`` -> signed PUT -> ``create_submission``, and
``submissions`` / ``submissionDownloadAuth`` for a model's past files."""

from __future__ import annotations

import re
import uuid
from pathlib import PurePosixPath
from typing import Any

from ariadne import MutationType, QueryType
from graphql import GraphQLResolveInfo
from sqlalchemy import select

from crowdalpha.api import files
from crowdalpha.api.graphql.accounts import model_submissions
from crowdalpha.api.graphql.common import check_tournament, context, own_model, submission_view
from crowdalpha.errors import NotFoundError
from crowdalpha.server import signing
from crowdalpha.server.context import RequestContext
from crowdalpha.tournament import rounds, submissions
from crowdalpha.tournament.errors import (
    InvalidSubmissionFileError,
    InvalidValueError,
    PermissionDeniedError,
)
from crowdalpha.tournament.keys import Principal
from crowdalpha.tournament.models import require_owner
from crowdalpha.tournament.tables import Submission

query = QueryType()
mutation = MutationType()

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_SLOT = re.compile(r"[0-9a-f]{32}-(?P<name>[A-Za-z0-9._-]+)")


def upload_slot(principal: Principal, filename: str) -> str:
    """A fresh place for one upload of the caller: ``<account>/<random>-<clean name>``
    (a file in the account's folder: a folder per upload would cost a directory creation
    per upload and outlive the file)."""
    name = _UNSAFE.sub("_", PurePosixPath(filename.replace("\\", "/")).name).strip("._")[:100]
    if not name:
        raise InvalidValueError(f"filename {filename[:100]!r} has no usable name")
    return f"{principal.account.id}/{uuid.uuid4().hex}-{name}"


def upload_auth(ctx: RequestContext, principal: Principal, filename: str) -> dict[str, str]:
    slot = upload_slot(principal, filename)
    now = ctx.services.clock.now().timestamp()
    url = signing.signed_url(ctx.services.settings, "PUT", signing.upload_path(slot), now=now)
    return {"filename": slot, "url": url}


def take_upload(ctx: RequestContext, principal: Principal, slot: str) -> tuple[bytes, str]:
    """The bytes the caller uploaded to ``slot`` and their original name; removed after commit."""
    owner, _, rest = slot.partition("/")
    match = _SLOT.fullmatch(rest)
    if owner != str(principal.account.id) or match is None:
        raise PermissionDeniedError(
            f"'{slot[:120]}' is not an upload of account '{principal.account.name}'; "
            "use the filename that the upload authorization returned"
        )
    store = ctx.services.store
    data = files.read_upload(store, slot)
    note = files.rejected_note(store, slot) if data is None else None
    if note is not None:
        files.remove_upload(store, slot)
        raise InvalidSubmissionFileError(f"the upload of '{match['name']}' was refused: {note}")
    if data is None:
        raise InvalidSubmissionFileError(
            f"nothing was uploaded for '{match['name']}': the PUT to the upload URL did not "
            "arrive (or the URL expired); ask for a new upload URL and upload again"
        )
    ctx.after_commit.append(lambda: files.remove_upload(store, slot))
    return data, match["name"]


@query.field("submission_upload_auth")
def resolve_upload_auth(
    _: Any, info: GraphQLResolveInfo, filename: str, tournament: int, modelId: str | None = None
) -> dict[str, str]:
    check_tournament(tournament)
    ctx = context(info)
    principal = ctx.principal("upload")
    own_model(ctx, modelId, principal)
    return upload_auth(ctx, principal, filename)


@mutation.field("create_submission")
def resolve_create_submission(
    _: Any, info: GraphQLResolveInfo, filename: str, tournament: int, modelId: str | None = None,
    triggerId: str | None = None, source: str | None = None, dataDatestamp: int | None = None,
) -> dict[str, Any]:
    check_tournament(tournament)
    ctx = context(info)
    ctx.reads_first()
    principal = ctx.principal("upload")
    model = own_model(ctx, modelId, principal)
    services = ctx.services
    round = rounds.round_open_for_submissions(ctx.session, now=services.clock.now(), schedule=services.schedule)
    data, name = take_upload(ctx, principal, filename)
    row = submissions.submit(  # the file is checked and stored before the write lock
        ctx.session, services.store, model, round, data, name,
        by=principal.account, clock=services.clock,
        live_ids=services.live_ids(round.number),
        live_fingerprint=services.live_fingerprint(round.number),
        max_bytes=services.settings.max_upload_bytes,
        upload=files.upload_relative(filename),
        begin_writing=ctx.begin_writing,
    )
    return submission_view(ctx, row, True)


@query.field("submissions")
def resolve_submissions(
    _: Any, info: GraphQLResolveInfo, modelId: str | None = None
) -> list[dict[str, Any]]:
    ctx = context(info)
    principal = ctx.principal("read")
    return model_submissions(ctx, own_model(ctx, modelId, principal))


@query.field("submissionDownloadAuth")
def resolve_download_auth(_: Any, info: GraphQLResolveInfo, id: str | None = None) -> dict[str, str]:
    ctx = context(info)
    principal = ctx.principal("read")
    if not id:
        raise InvalidValueError("id is required: the submission's id (see submission_ids())")
    row = ctx.session.scalars(select(Submission).where(Submission.public_id == id)).one_or_none()
    if row is None:
        raise NotFoundError(f"no submission with id '{id[:40]}'")
    require_owner(row.model, principal.account)
    # The file as it was submitted (older submissions: a parquet copy).
    stem = PurePosixPath(row.filename or "predictions").stem
    now = ctx.services.clock.now().timestamp()
    url = signing.signed_url(ctx.services.settings, "GET", signing.download_path("store", row.path), now=now)
    return {"filename": f"{stem}{PurePosixPath(row.path).suffix}", "url": url}


__all__ = ["mutation", "query", "take_upload", "upload_auth"]
