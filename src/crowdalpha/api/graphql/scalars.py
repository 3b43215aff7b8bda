"""GraphQL scalars: decimals as exact strings, times as ISO 8601 with a time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ariadne import ScalarType

from crowdalpha.tournament.ledger import format_amount

decimal_scalar = ScalarType("Decimal")
datetime_scalar = ScalarType("DateTime")
bool_scalar = ScalarType("bool")


@decimal_scalar.serializer
def serialize_decimal(value: Any) -> str:
    return format_amount(value) if isinstance(value, Decimal) else str(value)


@datetime_scalar.serializer
def serialize_datetime(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


@bool_scalar.value_parser
def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError(f"{value!r} is not a boolean")


SCALARS = [decimal_scalar, datetime_scalar, bool_scalar]
