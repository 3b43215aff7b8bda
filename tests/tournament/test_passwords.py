"""Account passwords: stored as salted scrypt hashes, checked without saying what was wrong."""

from __future__ import annotations

import base64
import hashlib

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crowdalpha.tournament import accounts
from crowdalpha.tournament.clock import ReplayClock
from crowdalpha.tournament.errors import AuthenticationError, InvalidValueError
from crowdalpha.tournament.tables import Account

WRONG = r"^authentication_failed: wrong account name or password$"


def test_a_password_is_stored_as_a_salted_scrypt_hash(session: Session, clock: ReplayClock) -> None:
    alice = accounts.create_account(session, "alice", clock=clock)
    assert alice.password_hash is None
    accounts.set_password(session, alice, "correct horse")
    stored = session.scalars(select(Account.password_hash).where(Account.name == "alice")).one()
    scheme, n, r, p, salt, digest = stored.split("$")
    assert (scheme, n, r, p) == ("scrypt", "16384", "8", "1")
    assert "correct horse" not in stored and len(stored) <= 200
    expected = hashlib.scrypt(
        b"correct horse", salt=base64.b64decode(salt), n=16384, r=8, p=1, dklen=32
    )
    assert base64.b64decode(digest) == expected
    assert accounts.check_password(session, "alice", "correct horse") is alice


def test_the_same_password_gets_a_different_salt_each_time() -> None:
    first, second = accounts.hash_password("same password"), accounts.hash_password("same password")
    assert first != second
    assert accounts.verify_password("same password", first)
    assert accounts.verify_password("same password", second)
    assert not accounts.verify_password("same passwore", first)


def test_wrong_name_and_wrong_password_get_the_same_error(
    session: Session, clock: ReplayClock
) -> None:
    alice = accounts.create_account(session, "alice", clock=clock)
    accounts.set_password(session, alice, "correct horse")
    accounts.create_account(session, "keys_only", clock=clock)  # never set a password
    for name, password in [
        ("alice", "wrong horse"),
        ("alice", ""),
        ("bob", "correct horse"),
        ("keys_only", "correct horse"),
        ("Alice", "correct horse"),
        ("", ""),
    ]:
        with pytest.raises(AuthenticationError, match=WRONG):
            accounts.check_password(session, name, password)


def test_a_new_password_replaces_the_old_one(session: Session, clock: ReplayClock) -> None:
    alice = accounts.create_account(session, "alice", clock=clock)
    accounts.set_password(session, alice, "first password")
    accounts.set_password(session, alice, "second password")
    with pytest.raises(AuthenticationError, match=WRONG):
        accounts.check_password(session, "alice", "first password")
    assert accounts.check_password(session, "alice", "second password") is alice


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", r"^invalid_value: password is 5 characters long, at least 8 are needed$"),
        ("", r"^invalid_value: password is 0 characters long, at least 8 are needed$"),
        ("x" * 1025, r"^invalid_value: password is 1025 characters long, at most 1024 are allowed$"),
        (12345678, r"^invalid_value: password must be text, got int$"),
    ],
)
def test_bad_passwords_are_refused_and_change_nothing(
    session: Session, clock: ReplayClock, password: object, message: str
) -> None:
    alice = accounts.create_account(session, "alice", clock=clock)
    accounts.set_password(session, alice, "kept password")
    with pytest.raises(InvalidValueError, match=message):
        accounts.set_password(session, alice, password)  # type: ignore[arg-type]
    session.expire_all()
    assert accounts.check_password(session, "alice", "kept password").name == "alice"


def test_eight_characters_are_enough(session: Session, clock: ReplayClock) -> None:
    alice = accounts.create_account(session, "alice", clock=clock)
    accounts.set_password(session, alice, "12345678")
    assert accounts.check_password(session, "alice", "12345678") is alice


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "sha256$abc",
        "scrypt$16384$8$1$c2FsdA==",
        "scrypt$x$8$1$c2FsdA==$aGFzaA==",
        "scrypt$16384$8$1$not base64!$aGFzaA==",
        "scrypt$1000$8$1$c2FsdA==$aGFzaA==",  # N must be a power of two
        f"scrypt${2**40}$8$1$c2FsdA==$aGFzaA==",  # more memory than allowed
    ],
)
def test_malformed_stored_hashes_never_match(stored: str) -> None:
    assert accounts.verify_password("anything at all", stored) is False
