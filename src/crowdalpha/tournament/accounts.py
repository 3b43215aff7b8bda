"""Accounts: participants and the one operator account (owner of benchmark models).

Names are lowercase letters, digits and underscores (at most 64), unique.
Creating an account also opens its wallet in the ledger.

An account may have a password, to sign in to the web pages (API clients use
keys instead). Only a salted scrypt hash is stored, as
``scrypt$n$r$p$salt$hash`` (base64 salt and hash), so the cost can be raised
later without breaking older hashes; checks are constant-time and say only
"wrong account name or password", never which of the two was wrong.

``sign_up`` is joining from the sign-up page: a name, a password typed twice,
and the operator's sign-up grant deposited with the account.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from decimal import Decimal
from functools import cache

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crowdalpha.errors import NotFoundError
from crowdalpha.tournament import ledger
from crowdalpha.tournament.clock import Clock, ensure_utc
from crowdalpha.tournament.db import atomic
from crowdalpha.tournament.errors import (
    AuthenticationError,
    InvalidNameError,
    InvalidValueError,
    NameTakenError,
)
from crowdalpha.tournament.tables import Account, AccountRole, parse_enum

NAME_RE = re.compile(r"[a-z0-9][a-z0-9_]{0,63}")
#: Name given to the operator account by ``ensure_operator`` unless told otherwise.
OPERATOR_NAME = "operator"
#: Shortest and longest password accepted (characters).
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
#: scrypt cost of new hashes: N (CPU/memory), r (block size), p (parallelism); about 16 MiB.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SCRYPT_SALT_BYTES, SCRYPT_KEY_BYTES = 16, 32
_SCRYPT_MAXMEM = 64 * 1024 * 1024
WRONG_PASSWORD = "wrong account name or password"
#: Memo of the ledger entry that pays a new account the operator's sign-up grant.
SIGN_UP_GRANT_MEMO = "sign-up grant"


def check_name(name: object, *, what: str) -> str:
    """Return ``name`` if it is a valid account or model name, else raise ``InvalidNameError``."""
    if not isinstance(name, str) or NAME_RE.fullmatch(name) is None:
        raise InvalidNameError(
            f"{what} name {name!r} must be 1 to 64 lowercase letters, digits or underscores, "
            "starting with a letter or digit"
        )
    return name


def create_account(
    session: Session, name: str, *, clock: Clock, role: AccountRole | str = AccountRole.PARTICIPANT
) -> Account:
    """Create an account (and its wallet); ``NameTakenError`` if the name is in use."""
    check_name(name, what="account")
    role = parse_enum(AccountRole, role, "account role")
    if session.scalar(select(Account.id).where(Account.name == name)) is not None:
        raise NameTakenError(f"account name '{name}' is taken")
    if role == AccountRole.OPERATOR and get_operator(session, missing_ok=True) is not None:
        raise NameTakenError(
            f"an operator account already exists; cannot make '{name}' a second one"
        )
    try:
        with atomic(session):
            account = Account(
                name=name, role=role, created_at=ensure_utc(clock.now(), name="clock.now()")
            )
            session.add(account)
            session.flush()
            ledger.open_wallet(session, account)
            session.flush()
    except IntegrityError:
        # Lost a race with a concurrent creation of the same name (PostgreSQL).
        if session.scalar(select(Account.id).where(Account.name == name)) is not None:
            raise NameTakenError(f"account name '{name}' is taken") from None
        raise
    return account


def get_account(session: Session, name: str) -> Account:
    """The account called ``name``; ``NotFoundError`` if there is none."""
    account = session.scalars(select(Account).where(Account.name == name)).one_or_none()
    if account is None:
        raise NotFoundError(f"account '{name}' does not exist")
    return account


def get_operator(session: Session, *, missing_ok: bool = False) -> Account | None:
    """The operator account (``NotFoundError`` if none, or None with ``missing_ok``)."""
    account = session.scalars(
        select(Account).where(Account.role == AccountRole.OPERATOR)
    ).one_or_none()
    if account is None and not missing_ok:
        raise NotFoundError("no operator account exists; create it with ensure_operator")
    return account


def ensure_operator(session: Session, *, clock: Clock, name: str = OPERATOR_NAME) -> Account:
    """Return the operator account, creating it as ``name`` on first use (idempotent)."""
    existing = get_operator(session, missing_ok=True)
    if existing is not None:
        return existing
    return create_account(session, name, clock=clock, role=AccountRole.OPERATOR)


def list_accounts(session: Session) -> list[Account]:
    """All accounts, oldest first."""
    return list(session.scalars(select(Account).order_by(Account.id)))


# --- passwords -----------------------------------------------------------------


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, maxmem=_SCRYPT_MAXMEM, dklen=SCRYPT_KEY_BYTES
    )


def hash_password(password: str) -> str:
    """The stored form of ``password``: ``scrypt$n$r$p$salt$hash`` with a fresh random salt."""
    salt = secrets.token_bytes(SCRYPT_SALT_BYTES)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` hashes to ``stored`` (constant-time compare; False if malformed)."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return False
    try:
        n, r, p = (int(v) for v in parts[1:4])
        salt = base64.b64decode(parts[4], validate=True)
        expected = base64.b64decode(parts[5], validate=True)
        digest = _scrypt(password, salt, n, r, p)
    except (ValueError, OverflowError):  # bad numbers or base64, parameters scrypt refuses
        return False
    return hmac.compare_digest(digest, expected)


@cache
def _decoy_hash() -> str:
    """A hash to check against when the account does not exist, so that takes as long."""
    return hash_password(secrets.token_urlsafe(16))


def check_new_password(password: object) -> str:
    """Return ``password`` if it is acceptable, else raise ``InvalidValueError`` (never echoing it)."""
    if not isinstance(password, str):
        raise InvalidValueError(f"password must be text, got {type(password).__name__}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidValueError(
            f"password is {len(password)} characters long, at least {MIN_PASSWORD_LENGTH} are needed"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidValueError(
            f"password is {len(password)} characters long, at most {MAX_PASSWORD_LENGTH} are allowed"
        )
    return password


def set_password(session: Session, account: Account, password: str) -> Account:
    """Give ``account`` the password ``password`` (replacing any other); stores only its hash."""
    stored = hash_password(check_new_password(password))
    with atomic(session):
        account.password_hash = stored
        session.flush()
    return account


def sign_up(
    session: Session, name: str, password: str, password_again: str, *, grant: Decimal,
    clock: Clock,
) -> Account:
    """A participant's new account with a password, as the sign-up page makes it.

    Checks the name, then the password, then that ``password_again`` is the same;
    creates the account, sets its password and deposits ``grant`` (the operator's
    sign-up grant; nothing when it is zero) into its wallet with the memo
    ``SIGN_UP_GRANT_MEMO``, all in the caller's transaction: nothing commits here.
    """
    check_name(name, what="account")
    check_new_password(password)
    if password != password_again:
        raise InvalidValueError("the two passwords differ; type the same password twice")
    account = create_account(session, name, clock=clock)
    set_password(session, account, password)
    if grant != 0:
        ledger.deposit(session, account, grant, clock=clock, memo=SIGN_UP_GRANT_MEMO)
    return account


def check_password(session: Session, name: str, password: str) -> Account:
    """The account ``name`` if ``password`` is its password; ``AuthenticationError`` otherwise.

    The error never says whether the name or the password was wrong, and an
    unknown name costs the same scrypt run as a known one.
    """
    account = None
    if isinstance(name, str) and NAME_RE.fullmatch(name):
        account = session.scalars(select(Account).where(Account.name == name)).one_or_none()
    stored = account.password_hash if account is not None else None
    ok = verify_password(password if isinstance(password, str) else "", stored or _decoy_hash())
    if account is None or stored is None or not ok:
        raise AuthenticationError(WRONG_PASSWORD)
    return account


__all__ = [
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "NAME_RE",
    "OPERATOR_NAME",
    "SIGN_UP_GRANT_MEMO",
    "WRONG_PASSWORD",
    "check_name",
    "check_new_password",
    "check_password",
    "create_account",
    "ensure_operator",
    "get_account",
    "get_operator",
    "hash_password",
    "list_accounts",
    "set_password",
    "sign_up",
    "verify_password",
]
