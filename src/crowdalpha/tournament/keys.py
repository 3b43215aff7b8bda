"""API keys: a public id plus a secret, sent as ``Authorization: Token PUBLIC$SECRET``.

The secret is shown once, at creation, and stored only as ``sha256$<hex>``:
secrets are 64 random characters from a 36-letter alphabet (about 330 bits),
so a fast hash cannot be brute-forced and every request stays cheap (a slow
password hash such as scrypt is for low-entropy human passwords). Comparisons
are constant-time. Scopes are a subset of read, upload, stake and admin; admin
is for the operator account only. Keys can be revoked and never come back.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from crowdalpha.errors import NotFoundError
from crowdalpha.tournament.clock import Clock, ensure_utc
from crowdalpha.tournament.db import atomic
from crowdalpha.tournament.errors import (
    InvalidApiKeyError,
    InvalidScopeError,
    MalformedApiKeyError,
    MissingApiKeyError,
    MissingScopeError,
    PermissionDeniedError,
    RevokedApiKeyError,
)
from crowdalpha.tournament.tables import Account, AccountRole, ApiKey

SCOPES = frozenset({"read", "upload", "stake", "admin"})
#: What a participant's key gets unless asked otherwise.
DEFAULT_SCOPES = frozenset({"read", "upload", "stake"})
ALPHABET = string.ascii_uppercase + string.digits
PUBLIC_ID_LENGTH = 32
SECRET_LENGTH = 64
HASH_SCHEME = "sha256"


@dataclass(frozen=True)
class NewApiKey:
    """A freshly created key: the only time the secret is available."""

    key: ApiKey
    public_id: str
    secret: str

    @property
    def token(self) -> str:
        """``PUBLIC$SECRET``, what clients send after ``Token ``."""
        return f"{self.public_id}${self.secret}"

    def __repr__(self) -> str:  # never print the secret by accident
        return f"NewApiKey(public_id={self.public_id!r}, secret='***')"


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: the key's account and the key's scopes."""

    account: Account
    key: ApiKey
    scopes: frozenset[str]

    def has(self, scope: str) -> bool:
        return scope in self.scopes

    def require(self, scope: str) -> None:
        """Raise ``MissingScopeError`` unless the key carries ``scope``."""
        require_scope(self, scope)


def hash_secret(secret: str) -> str:
    """Stored form of a secret: ``sha256$<hex digest>``."""
    return f"{HASH_SCHEME}${hashlib.sha256(secret.encode()).hexdigest()}"


def verify_secret(secret: str, stored: str) -> bool:
    """True when ``secret`` hashes to ``stored`` (constant-time compare)."""
    scheme, _, _digest = stored.partition("$")
    if scheme != HASH_SCHEME:
        return False
    return hmac.compare_digest(hash_secret(secret), stored)


def _random(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def check_scopes(scopes: Iterable[str], account: Account) -> frozenset[str]:
    """Validate requested scopes for a key of ``account``."""
    if isinstance(scopes, str):
        scopes = [s.strip() for s in scopes.split(",")]
    wanted = frozenset(scopes)
    unknown = sorted(wanted - SCOPES)
    if unknown:
        raise InvalidScopeError(
            f"unknown scope(s) {', '.join(map(repr, unknown))} for a key of account '{account.name}'; "
            f"allowed: {', '.join(sorted(SCOPES))}"
        )
    if not wanted:
        raise InvalidScopeError(f"a key of account '{account.name}' needs at least one scope")
    if "admin" in wanted and account.role != AccountRole.OPERATOR:
        raise InvalidScopeError(
            f"scope 'admin' is for the operator account only, not '{account.name}'"
        )
    return wanted


def create_api_key(
    session: Session,
    account: Account,
    *,
    clock: Clock,
    scopes: Iterable[str] = DEFAULT_SCOPES,
    label: str | None = None,
) -> NewApiKey:
    """Create a key for ``account``; the returned secret is not stored anywhere."""
    wanted = check_scopes(scopes, account)
    public_id, secret = _random(PUBLIC_ID_LENGTH), _random(SECRET_LENGTH)
    with atomic(session):
        key = ApiKey(
            public_id=public_id,
            secret_hash=hash_secret(secret),
            scopes=",".join(sorted(wanted)),
            label=label,
            account_id=account.id,
            created_at=ensure_utc(clock.now(), name="clock.now()"),
        )
        session.add(key)
        session.flush()
    return NewApiKey(key=key, public_id=public_id, secret=secret)


def get_api_key(session: Session, public_id: str) -> ApiKey:
    """The key with ``public_id``; ``NotFoundError`` if none."""
    key = session.scalars(
        select(ApiKey).where(ApiKey.public_id == public_id).options(joinedload(ApiKey.account))
    ).one_or_none()
    if key is None:
        raise NotFoundError(f"API key '{public_id}' does not exist")
    return key


def revoke_api_key(
    session: Session, public_id: str, *, clock: Clock, by: Account | None = None
) -> ApiKey:
    """Revoke a key (idempotent); with ``by``, only the key's own account may revoke it."""
    key = get_api_key(session, public_id)
    if by is not None and by.id != key.account_id and by.role != AccountRole.OPERATOR:
        raise PermissionDeniedError(f"account '{by.name}' does not own API key '{public_id}'")
    if key.revoked_at is None:
        with atomic(session):
            key.revoked_at = ensure_utc(clock.now(), name="clock.now()")
            session.flush()
    return key


def list_api_keys(
    session: Session, account: Account, *, include_revoked: bool = True
) -> list[ApiKey]:
    """The account's keys, oldest first."""
    stmt = select(ApiKey).where(ApiKey.account_id == account.id).order_by(ApiKey.id)
    if not include_revoked:
        stmt = stmt.where(ApiKey.revoked_at.is_(None))
    return list(session.scalars(stmt))


def parse_token(credentials: str | None) -> tuple[str, str]:
    """Split ``"Token PUBLIC$SECRET"`` or ``"PUBLIC$SECRET"`` into its two parts."""
    if credentials is None or not credentials.strip():
        raise MissingApiKeyError("no API key sent; send 'Authorization: Token PUBLIC$SECRET'")
    text = credentials.strip()
    scheme, _, rest = text.partition(" ")
    if rest:
        if scheme.lower() != "token":
            raise MalformedApiKeyError(f"authorization scheme '{scheme[:20]}' is not 'Token'")
        text = rest.strip()
    public_id, dollar, secret = text.partition("$")
    if not dollar or not public_id or not secret or any(c.isspace() for c in text):
        shown = public_id[:PUBLIC_ID_LENGTH] if dollar else "(no '$')"
        raise MalformedApiKeyError(
            f"API key must look like 'PUBLIC$SECRET', got public part {shown!r}"
        )
    return public_id, secret


def authenticate(session: Session, credentials: str | None) -> Principal:
    """Check a ``Token PUBLIC$SECRET`` credential and say who it is; never leaks the secret."""
    public_id, secret = parse_token(credentials)
    key = session.scalars(
        select(ApiKey).where(ApiKey.public_id == public_id).options(joinedload(ApiKey.account))
    ).one_or_none()
    if key is None:
        raise InvalidApiKeyError(f"no API key with public id '{public_id[:PUBLIC_ID_LENGTH]}'")
    if not verify_secret(secret, key.secret_hash):
        raise InvalidApiKeyError(f"secret does not match API key '{public_id}'")
    if key.revoked_at is not None:
        raise RevokedApiKeyError(
            f"API key '{public_id}' was revoked at {key.revoked_at.isoformat()}"
        )
    return Principal(account=key.account, key=key, scopes=key.scope_set)


def require_scope(principal: Principal, scope: str) -> None:
    """Raise ``MissingScopeError`` unless ``principal``'s key has ``scope``."""
    if scope not in SCOPES:
        raise InvalidScopeError(f"scope {scope!r} is not one of {', '.join(sorted(SCOPES))}")
    if scope not in principal.scopes:
        raise MissingScopeError(
            f"API key '{principal.key.public_id}' of account '{principal.account.name}' lacks scope '{scope}' "
            f"(has {', '.join(sorted(principal.scopes))})"
        )


__all__ = [
    "DEFAULT_SCOPES",
    "SCOPES",
    "NewApiKey",
    "Principal",
    "authenticate",
    "check_scopes",
    "create_api_key",
    "get_api_key",
    "hash_secret",
    "list_api_keys",
    "parse_token",
    "require_scope",
    "revoke_api_key",
    "verify_secret",
]
