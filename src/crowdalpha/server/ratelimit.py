"""A per-key token bucket: each API key (or client address without one) may send
``limit`` requests a minute, in bursts of up to ``limit``.

The buckets live in the server process: with several worker processes each
worker enforces the limit on the requests it receives.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from starlette.requests import Request


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass
class RateLimiter:
    """Take one token per request; ``take`` returns the seconds to wait when there is none."""

    limit_per_minute: int
    _buckets: dict[str, _Bucket] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, who: str, *, now: float | None = None) -> float:
        """0.0 if ``who`` may proceed, else how many seconds until it may."""
        moment = time.monotonic() if now is None else now
        rate = self.limit_per_minute / 60.0
        with self._lock:
            bucket = self._buckets.get(who)
            if bucket is None:
                bucket = self._buckets[who] = _Bucket(float(self.limit_per_minute), moment)
            bucket.tokens = min(
                float(self.limit_per_minute), bucket.tokens + (moment - bucket.updated) * rate
            )
            bucket.updated = moment
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / rate


def rate_limit_key(request: Request) -> str:
    """Who a request counts against: its API key's public id, else the client's address."""
    header = request.headers.get("authorization") or ""
    token = header.split(" ", 1)[-1].strip()
    if "$" in token:
        return f"API key '{token.split('$', 1)[0][:40]}'"
    host = request.client.host if request.client else "unknown"
    return f"address {host}"
