"""Signed URLs: valid for one method and path until their expiry on the caller's clock."""

from __future__ import annotations

import inspect
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from crowdalpha.errors import CrowdalphaError
from crowdalpha.server import signing
from crowdalpha.server.settings import ServerSettings, resolve_server_settings
from crowdalpha.server.signing import SignatureError

NOW = 1_704_564_000.0  # 2024-01-06T18:00:00Z
PATH = signing.download_path("datasets", "v1/features.json")


@pytest.fixture
def settings(tmp_path: Path) -> ServerSettings:
    return resolve_server_settings(
        tmp_path, environ={"CROWDALPHA_SECRET": "test-secret", "CROWDALPHA_URL_TTL": "60"}
    )


def parts(url: str) -> tuple[str, str | None, str | None]:
    """The raw path, ``expires`` and ``signature`` of a signed URL."""
    split = urlsplit(url)
    query = parse_qs(split.query)
    return split.path, query.get("expires", [None])[0], query.get("signature", [None])[0]


def test_now_is_required_on_both_ends() -> None:
    """No fallback to the wall clock: every caller passes the server's clock."""
    for function in (signing.signed_url, signing.verify):
        now = inspect.signature(function).parameters["now"]
        assert now.kind is inspect.Parameter.KEYWORD_ONLY
        assert now.default is inspect.Parameter.empty, function.__name__


def test_a_url_is_valid_until_its_expiry_on_the_given_clock(settings: ServerSettings) -> None:
    url = signing.signed_url(settings, "GET", PATH, now=NOW)
    path, expires, signature = parts(url)
    assert url.startswith(f"{settings.public_url}{PATH}?") and expires == str(int(NOW) + 60)
    signing.verify(settings, "GET", path, expires, signature, now=NOW)
    signing.verify(settings, "HEAD", path, expires, signature, now=NOW + 60)  # HEAD rides on GET
    with pytest.raises(SignatureError, match=r"^invalid_signature: this URL expired at 2024-01-06T18:01:00\+00:00"):
        signing.verify(settings, "GET", path, expires, signature, now=NOW + 61)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("method", "signature does not match"),
        ("path", "signature does not match"),
        ("expires", "signature does not match"),
        ("unsigned", "this URL is not signed"),
        ("garbled", r"expires='soon' is not a Unix time"),
    ],
)
def test_a_changed_url_is_refused(settings: ServerSettings, change: str, message: str) -> None:
    path, expires, signature = parts(signing.signed_url(settings, "GET", PATH, now=NOW))
    method = "GET"
    if change == "method":
        method = "PUT"
    elif change == "path":
        path = path.replace("features.json", "train.parquet")
    elif change == "expires":
        expires = str(int(expires or 0) + 3600)
    elif change == "unsigned":
        signature = None
    else:
        expires = "soon"
    with pytest.raises(SignatureError, match=message) as caught:
        signing.verify(settings, method, path, expires, signature, now=NOW)
    assert caught.value.code == "invalid_signature"
    assert isinstance(caught.value, CrowdalphaError)
