"""The executable GraphQL schema: ``schema.graphql`` bound to each domain's resolvers."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from ariadne import load_schema_from_path, make_executable_schema
from graphql import GraphQLSchema

from crowdalpha.api.graphql import (
    accounts,
    diagnostics,
    leaderboards,
    rounds,
    scores,
    stakes,
    submissions,
)
from crowdalpha.api.graphql.scalars import SCALARS

SCHEMA_FILE = Path(__file__).with_name("schema.graphql")


@cache
def executable_schema() -> GraphQLSchema:
    """Built once per process."""
    bindables = [
        *SCALARS,
        rounds.query,
        accounts.query,
        accounts.mutation,
        submissions.query,
        submissions.mutation,
        stakes.mutation,
        diagnostics.query,
        diagnostics.mutation,
        scores.query,
        scores.user_profile,
        leaderboards.query,
    ]
    return make_executable_schema(load_schema_from_path(str(SCHEMA_FILE)), *bindables)
