"""Validation diagnostics: ``diagnosticsUploadAuth`` -> signed PUT -> ``createDiagnostics``,
then ``diagnostics`` to read the result.

The server scores the uploaded validation predictions with the scoring engine
(``crowdalpha.toolkit.diagnostics``) on the newest dataset version, at once,
and keeps the result. A file it cannot score is refused with the reason and
nothing is kept.
"""

from __future__ import annotations

import json
from typing import Any

from ariadne import MutationType, QueryType
from graphql import GraphQLResolveInfo
from sqlalchemy import select

from crowdalpha.api.graphql.common import check_tournament, context, own_model
from crowdalpha.api.graphql.submissions import resolve_upload_auth, take_upload
from crowdalpha.data import layout
from crowdalpha.errors import NotFoundError
from crowdalpha.toolkit.diagnostics import read_predictions, validation_diagnostics
from crowdalpha.tournament.tables import DiagnosticsRun

query = QueryType()
mutation = MutationType()


# The upload of a validation file is authorized exactly like a submission's.
query.set_field("diagnosticsUploadAuth", resolve_upload_auth)


@mutation.field("createDiagnostics")
def resolve_create_diagnostics(
    _: Any, info: GraphQLResolveInfo, filename: str, tournament: int, modelId: str | None = None
) -> dict[str, str]:
    check_tournament(tournament)
    ctx = context(info)
    ctx.reads_first()
    principal = ctx.principal("upload")
    model = own_model(ctx, modelId, principal)
    data, name = take_upload(ctx, principal, filename)
    version = layout.latest_version(ctx.services.datasets_dir)
    result = validation_diagnostics(version, read_predictions(data, name))
    ctx.begin_writing()
    run = DiagnosticsRun(
        model_id=model.id, dataset_version=version.name, filename=name,
        created_at=ctx.services.clock.now(), status="done",
        message=f"scored on {version.name} validation, {result.summary['eras_accepted']} eras",
        results=json.dumps(result.as_numerapi(), allow_nan=False),
    )
    ctx.session.add(run)
    ctx.session.flush()
    return {"id": run.public_id}


@query.field("diagnostics")
def resolve_diagnostics(
    _: Any, info: GraphQLResolveInfo, modelId: str, id: str | None = None
) -> dict[str, Any]:
    ctx = context(info)
    principal = ctx.principal("read")
    model = own_model(ctx, modelId, principal)
    stmt = select(DiagnosticsRun).where(DiagnosticsRun.model_id == model.id)
    if id:
        stmt = stmt.where(DiagnosticsRun.public_id == id)
    run = ctx.session.scalars(stmt.order_by(DiagnosticsRun.id.desc()).limit(1)).first()
    if run is None:
        which = f"diagnostics '{id[:40]}'" if id else "no diagnostics yet"
        raise NotFoundError(f"model '{model.name}' has {which}" if not id
                            else f"{which} of model '{model.name}' does not exist")
    return {
        **json.loads(run.results or "{}"),
        "id": run.public_id,
        "status": run.status,
        "message": run.message,
        "trainedOnVal": None,
        "updatedAt": run.created_at,
    }
