from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crowdalpha.errors import NotFoundError
from crowdalpha.tournament import accounts, keys
from crowdalpha.tournament.clock import ReplayClock
from crowdalpha.tournament.errors import (
    AuthenticationError,
    InvalidApiKeyError,
    InvalidScopeError,
    MalformedApiKeyError,
    MissingApiKeyError,
    MissingScopeError,
    PermissionDeniedError,
    RevokedApiKeyError,
)
from crowdalpha.tournament.tables import ApiKey


@pytest.fixture
def alice(session: Session, clock: ReplayClock):
    return accounts.create_account(session, "alice", clock=clock)


def test_create_and_authenticate_both_forms(session: Session, clock: ReplayClock, alice) -> None:
    new = keys.create_api_key(session, alice, clock=clock, label="laptop")
    assert len(new.public_id) == 32 and len(new.secret) == 64
    assert new.token == f"{new.public_id}${new.secret}"
    assert new.secret not in repr(new)
    for credentials in (f"Token {new.token}", new.token, f"  token   {new.token} "):
        principal = keys.authenticate(session, credentials)
        assert principal.account is alice
        assert principal.scopes == {"read", "upload", "stake"}
        assert principal.key.label == "laptop"


def test_secret_is_stored_hashed(session: Session, clock: ReplayClock, alice) -> None:
    new = keys.create_api_key(session, alice, clock=clock)
    stored = session.scalars(select(ApiKey.secret_hash)).one()
    assert new.secret not in stored
    assert stored.startswith("sha256$") and len(stored) == len("sha256$") + 64
    assert keys.verify_secret(new.secret, stored)
    assert not keys.verify_secret(new.secret + "X", stored)
    assert not keys.verify_secret(new.secret, "scrypt$whatever")


def test_authentication_failures_say_what_is_wrong(
    session: Session, clock: ReplayClock, alice
) -> None:
    new = keys.create_api_key(session, alice, clock=clock)
    cases = [
        (None, MissingApiKeyError, "^missing_api_key: no API key sent"),
        ("   ", MissingApiKeyError, "^missing_api_key"),
        (
            f"Bearer {new.token}",
            MalformedApiKeyError,
            "^malformed_api_key: authorization scheme 'Bearer' is not 'Token'",
        ),
        (
            "Token nodollar",
            MalformedApiKeyError,
            r"^malformed_api_key: API key must look like 'PUBLIC\$SECRET'",
        ),
        (f"Token {new.public_id}$", MalformedApiKeyError, "^malformed_api_key"),
        (f"Token $${new.secret}", MalformedApiKeyError, "^malformed_api_key"),
        (
            f"Token NOPE${new.secret}",
            InvalidApiKeyError,
            "^invalid_api_key: no API key with public id 'NOPE'$",
        ),
        (
            f"Token {new.public_id}$WRONG",
            InvalidApiKeyError,
            f"^invalid_api_key: secret does not match API key '{new.public_id}'$",
        ),
    ]
    for credentials, error, message in cases:
        with pytest.raises(error, match=message) as caught:
            keys.authenticate(session, credentials)
        assert new.secret not in str(caught.value)
        assert isinstance(caught.value, AuthenticationError)


def test_revoked_keys_stop_working(session: Session, clock: ReplayClock, alice) -> None:
    new = keys.create_api_key(session, alice, clock=clock)
    other = keys.create_api_key(session, alice, clock=clock)
    clock.advance(hours=1)
    revoked = keys.revoke_api_key(session, new.public_id, clock=clock, by=alice)
    assert revoked.revoked_at == clock.now()
    clock.advance(hours=1)
    assert (
        keys.revoke_api_key(session, new.public_id, clock=clock).revoked_at == revoked.revoked_at
    )  # idempotent
    with pytest.raises(
        RevokedApiKeyError,
        match=f"^revoked_api_key: API key '{new.public_id}' was revoked at 2024-01-06T19:00:00\\+00:00$",
    ):
        keys.authenticate(session, new.token)
    # the wrong secret of a revoked key says "wrong secret", not "revoked"
    with pytest.raises(InvalidApiKeyError):
        keys.authenticate(session, f"{new.public_id}$WRONG")
    assert keys.authenticate(session, other.token).account is alice
    assert [k.public_id for k in keys.list_api_keys(session, alice, include_revoked=False)] == [
        other.public_id
    ]
    assert len(keys.list_api_keys(session, alice)) == 2


def test_only_the_owner_or_operator_revokes(session: Session, clock: ReplayClock, alice) -> None:
    new = keys.create_api_key(session, alice, clock=clock)
    bob = accounts.create_account(session, "bob", clock=clock)
    with pytest.raises(
        PermissionDeniedError, match=f"account 'bob' does not own API key '{new.public_id}'"
    ):
        keys.revoke_api_key(session, new.public_id, clock=clock, by=bob)
    operator = accounts.ensure_operator(session, clock=clock)
    keys.revoke_api_key(session, new.public_id, clock=clock, by=operator)
    with pytest.raises(NotFoundError, match=r"^not_found: API key 'NOPE' does not exist$"):
        keys.revoke_api_key(session, "NOPE", clock=clock)


def test_scopes(session: Session, clock: ReplayClock, alice) -> None:
    reader = keys.create_api_key(session, alice, clock=clock, scopes=["read"])
    principal = keys.authenticate(session, reader.token)
    principal.require("read")
    assert principal.has("read") and not principal.has("stake")
    with pytest.raises(
        MissingScopeError,
        match=f"^missing_scope: API key '{reader.public_id}' of account 'alice' lacks scope 'stake' \\(has read\\)$",
    ):
        principal.require("stake")
    with pytest.raises(InvalidScopeError, match=r"scope 'fly' is not one of"):
        keys.require_scope(principal, "fly")
    with pytest.raises(
        InvalidScopeError,
        match=r"^invalid_scope: unknown scope\(s\) 'fly', 'swim' for a key of account 'alice'",
    ):
        keys.create_api_key(session, alice, clock=clock, scopes=["read", "fly", "swim"])
    with pytest.raises(InvalidScopeError, match=r"needs at least one scope"):
        keys.create_api_key(session, alice, clock=clock, scopes=[])
    with pytest.raises(
        InvalidScopeError, match=r"scope 'admin' is for the operator account only, not 'alice'"
    ):
        keys.create_api_key(session, alice, clock=clock, scopes="read,admin")
    operator = accounts.ensure_operator(session, clock=clock)
    admin = keys.create_api_key(session, operator, clock=clock, scopes=keys.SCOPES)
    assert keys.authenticate(session, admin.token).scopes == keys.SCOPES
    assert (
        session.scalars(select(ApiKey.scopes).where(ApiKey.public_id == admin.public_id)).one()
        == "admin,read,stake,upload"
    )
