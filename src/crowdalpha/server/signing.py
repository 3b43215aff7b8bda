"""Signed, expiring URLs for file downloads and uploads.

A URL carries ``expires`` (Unix seconds) and ``signature`` = HMAC-SHA256 of the
method, the path and the expiry under the server's secret. Anyone holding the
URL may use it until it expires, for that method and path only; changing any
part of it breaks the signature.

Both ends take ``now`` (Unix seconds) from the server's clock
(``services.clock.now().timestamp()``), never from the wall clock: on a replayed
or accelerated tournament a URL lives ``url_ttl_seconds`` of the tournament's time,
and tests expire a URL by advancing their clock instead of sleeping.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from urllib.parse import quote

from crowdalpha.errors import CrowdalphaError
from crowdalpha.server.settings import ServerSettings


class SignatureError(CrowdalphaError):
    """The URL is expired, tampered with, or unsigned; the message says which (403)."""

    code = "invalid_signature"


def _signature(secret: bytes, method: str, path: str, expires: int) -> str:
    message = f"{method.upper()}\n{path}\n{expires}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def signed_url(settings: ServerSettings, method: str, path: str, *, now: float) -> str:
    """The public URL of ``path`` (starting with '/') signed for ``method``, valid for
    ``settings.url_ttl_seconds`` from ``now`` (Unix seconds of the server's clock)."""
    expires = int(now) + settings.url_ttl_seconds
    quoted = quote(path)
    signature = _signature(settings.secret, method, quoted, expires)
    return f"{settings.public_url}{quoted}?expires={expires}&signature={signature}"


def verify(
    settings: ServerSettings, method: str, raw_path: str, expires: str | None, signature: str | None,
    *, now: float,
) -> None:
    """Raise ``SignatureError`` unless the URL is signed for ``method`` and not expired
    at ``now`` (Unix seconds of the server's clock).

    HEAD is allowed on a URL signed for GET (clients ask for the size first).
    """
    if not expires or not signature:
        raise SignatureError("this URL is not signed; ask the API for a fresh download or upload URL")
    try:
        expiry = int(expires)
    except ValueError:
        raise SignatureError(f"expires={expires[:20]!r} is not a Unix time") from None
    signed_for = "GET" if method.upper() == "HEAD" else method
    expected = _signature(settings.secret, signed_for, raw_path, expiry)
    if not hmac.compare_digest(expected, signature):
        raise SignatureError("the URL's signature does not match (was the URL changed?)")
    if now > expiry:
        at = datetime.fromtimestamp(expiry, UTC).isoformat()
        raise SignatureError(f"this URL expired at {at}; ask the API for a fresh one")


def download_path(kind: str, relative: str) -> str:
    """The URL path of a downloadable file: ``kind`` is 'datasets' or 'store'."""
    return f"/files/{kind}/{relative}"


def upload_path(relative: str) -> str:
    """The URL path an upload is PUT to."""
    return f"/uploads/{relative}"
