"""The GraphQL endpoint (``POST /graphql``, and ``POST /`` as numerapi's default URL has no path).

Errors follow GraphQL: HTTP 200 with an ``errors`` list whose messages say what
was wrong (numerapi raises them as ``ValueError``). A request with errors
changes nothing: its transaction rolls back.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from typing import Any

from ariadne import graphql_sync, unwrap_graphql_error
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    parse,
    validate,
)
from starlette.concurrency import run_in_threadpool

from crowdalpha.api.graphql.schema import executable_schema
from crowdalpha.server.context import RequestContext
from crowdalpha.server.errors import INTERNAL, RateLimitedError, one_line, user_message
from crowdalpha.server.ratelimit import rate_limit_key
from crowdalpha.server.services import Services

log = logging.getLogger(__name__)
#: ariadne logs every resolver error with its traceback; user errors are not server faults,
#: and ``format_error`` logs each error itself (a user's in one line). A filter that drops
#: every record, not ``disabled``: ``logging.config.dictConfig`` (uvicorn calls it) turns
#: ``disabled`` off again on every logger it does not configure.
_ARIADNE_LOG = logging.getLogger(f"{__name__}.ariadne")
_ARIADNE_LOG.addFilter(lambda _record: False)

router = APIRouter(include_in_schema=False)


def format_error(error: GraphQLError, debug: bool = False) -> dict[str, Any]:
    """A GraphQL error whose message a person understands; no traceback ever leaves."""
    original = unwrap_graphql_error(error)
    formatted: dict[str, Any] = {"message": error.message}
    if original is not None and original is not error:
        message = user_message(original)
        if message is None:
            log.error("resolver failed", exc_info=original)
            message = INTERNAL
        else:
            log.warning("%s", one_line(f"graphql {'.'.join(map(str, error.path or ()))}: {message}"))
        formatted["message"] = message
        formatted["extensions"] = {"code": getattr(original, "code", "internal_error")}
    if error.locations:
        formatted["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    if error.path:
        formatted["path"] = list(error.path)
    return formatted


@lru_cache(maxsize=256)
def _parse(query: str) -> DocumentNode:
    """numerapi sends the same few query texts over and over: parse each once."""
    return parse(query)


def _cached_parser(_context: Any, data: dict[str, Any]) -> DocumentNode:
    return _parse(data["query"])


_validated: dict[int, tuple[DocumentNode, list[GraphQLError]]] = {}


def _cached_validator(
    schema: GraphQLSchema, document: DocumentNode, **options: Any
) -> list[GraphQLError]:
    """Validation depends only on the schema and the (cached, reused) document: do it once."""
    seen = _validated.get(id(document))
    if seen is None or seen[0] is not document:
        if len(_validated) > 1024:
            _validated.clear()
        seen = _validated[id(document)] = (document, validate(schema, document, **options))
    return seen[1]


def is_mutation(query: str) -> bool:
    """True when the request's document holds a mutation (it will write)."""
    return any(
        isinstance(node, OperationDefinitionNode) and node.operation == OperationType.MUTATION
        for node in _parse(query).definitions
    )


def execute(services: Services, body: Any, authorization: str | None) -> dict[str, Any]:
    """Run one GraphQL request in its own unit of work."""
    ctx = RequestContext(services, authorization, writes=is_mutation(body["query"]))
    ok = False
    try:
        _, result = graphql_sync(
            executable_schema(), body, context_value=ctx, query_parser=_cached_parser,
            query_validator=_cached_validator, error_formatter=format_error, debug=False,
            logger=_ARIADNE_LOG,
        )
        ok = not result.get("errors")
    finally:
        ctx.finish(commit=ok)
    return result


def _errors(message: str) -> JSONResponse:
    return JSONResponse({"errors": [{"message": message}]}, status_code=200)


async def graphql_endpoint(request: Request) -> JSONResponse:
    services: Services = request.app.state.services
    who = rate_limit_key(request)
    wait = request.app.state.rate_limiter.take(who)
    if wait > 0:
        return _errors(str(RateLimitedError(who, services.settings.rate_limit_per_minute, wait)))
    raw = await request.body()
    try:
        body = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        return JSONResponse({"errors": [{"message": "request body is not JSON"}]}, status_code=400)
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        return JSONResponse(
            {"errors": [{"message": "request body must be a JSON object with a 'query' string"}]},
            status_code=400,
        )
    if body.get("variables") is not None and not isinstance(body["variables"], dict):
        return JSONResponse({"errors": [{"message": "'variables' must be a JSON object"}]}, status_code=400)
    try:
        _parse(body["query"])
    except GraphQLError as error:
        return _errors(f"query is not valid GraphQL: {error.message}")
    result = await run_in_threadpool(execute, services, body, request.headers.get("authorization"))
    return JSONResponse(result, status_code=200)


router.add_api_route("/graphql", graphql_endpoint, methods=["POST"])
router.add_api_route("/", graphql_endpoint, methods=["POST"])
