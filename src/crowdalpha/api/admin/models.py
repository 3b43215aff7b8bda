"""Request and response bodies of the operator's REST API.

Amounts of money are exact decimal strings (``"12.5"``), never JSON numbers:
a float cannot hold every ledger amount. Times are ISO 8601 with their zone
(UTC). A model's ``id`` is its public UUID, the one numerapi users see.
Reputations and returns are ratios, not money: JSON numbers, ``null`` when not
computable (a model never scored).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from crowdalpha.tournament.tables import AccountRole, ModelKind, PayoutBasis, RoundStatus

#: What the leaderboard can be sorted by (``tournament.leaderboard.SORT_KEYS``).
SortKey = Literal["corr", "mmc", "bmc", "fnc", "stake", "return"]

AMOUNT_DESCRIPTION = (
    "Exact positive decimal as a string, e.g. \"100\" or \"12.5\" (at most 9 decimal places); "
    "JSON numbers are refused because floats are inexact."
)


class _Body(BaseModel):
    """A request body: unknown fields are a mistake worth reporting (422)."""

    model_config = ConfigDict(extra="forbid")


class ErrorOut(BaseModel):
    """What every refused request carries (422 carries FastAPI's list of field errors)."""

    detail: str = Field(examples=["not_found: account 'alice' does not exist"])


# --- accounts and keys ------------------------------------------------------------


class NewAccount(_Body):
    name: str = Field(
        description="1 to 64 lowercase letters, digits or underscores, starting with a "
        "letter or digit.",
        examples=["alice"],
    )


class AccountCreated(BaseModel):
    name: str
    role: AccountRole
    created_at: datetime
    key_public_id: str = Field(description="Public id of the account's first API key.")
    scopes: list[str] = Field(description="Scopes of that key.")
    api_key: str = Field(
        description="The key as clients send it (`Token PUBLIC$SECRET`); shown once, "
        "only its hash is stored."
    )


class AccountOut(BaseModel):
    name: str
    role: AccountRole
    created_at: datetime
    balance: str = Field(description="Wallet balance: free to withdraw or stake (decimal string).")
    models: int = Field(description="How many models the account owns.")


class NewKey(_Body):
    scopes: list[str] | None = Field(
        default=None,
        description="Subset of read, upload, stake, admin (admin: the operator account only); "
        "default read, upload, stake.",
        examples=[["read", "upload", "stake"]],
    )
    label: str | None = Field(default=None, max_length=100, examples=["laptop"])


class KeyOut(BaseModel):
    public_id: str
    account: str
    scopes: list[str]
    label: str | None
    created_at: datetime
    revoked_at: datetime | None


class KeyCreated(KeyOut):
    token: str = Field(
        description="`PUBLIC$SECRET`, sent as `Authorization: Token PUBLIC$SECRET`; shown once."
    )


# --- models -----------------------------------------------------------------------


class NewModel(_Body):
    account: str = Field(description="Name of the owning account.", examples=["alice"])
    name: str = Field(description="Model name, unique in the tournament.", examples=["alice_m1"])
    kind: ModelKind = Field(
        default=ModelKind.PARTICIPANT,
        description="benchmark and integration_test models belong to the operator account only.",
    )
    payout_basis: PayoutBasis = PayoutBasis.CORR


class ModelOut(BaseModel):
    id: str = Field(description="The model's public UUID.")
    name: str
    account: str
    kind: ModelKind
    payout_basis: PayoutBasis
    created_at: datetime


# --- wallets and ledger -----------------------------------------------------------


class AmountIn(_Body):
    amount: str = Field(description=AMOUNT_DESCRIPTION, examples=["100"])


MovementKind = Literal["deposit", "withdrawal"]


class WalletMovement(BaseModel):
    account: str
    kind: MovementKind
    amount: str = Field(description="The amount moved (decimal string).")
    balance: str = Field(description="The wallet balance after the movement (decimal string).")
    created_at: datetime


class AuditOut(BaseModel):
    """The ledger audit: every entry balances and wallets + stakes + pending + burned equals
    minted - withdrawn. ``ok`` is false, with the ``problems`` listed, when anything is off."""

    ok: bool
    minted: str = Field(description="deposited + paid_out")
    entries: int
    lines: int
    wallets: str
    stakes: str
    pending: str
    burned: str
    deposited: str
    paid_out: str
    withdrawn: str
    problems: list[str]
    summary: str = Field(description="The report as `crowdalpha admin audit` prints it.")


# --- rounds -----------------------------------------------------------------------


class RoundOut(BaseModel):
    number: int
    era: str
    status: RoundStatus
    opens_at: datetime
    closes_at: datetime
    scoring_day: int = Field(description="Last trading day scored (0 before day 1).")
    resolves_after_days: int
    models: int = Field(description="Models with a counted (valid) submission in the round.")
    at_risk: str | None = Field(
        description="Total stake at risk frozen at the close (decimal string); null before it."
    )


class CloseRound(_Body):
    early: bool = Field(default=False, description="Close now, before the scheduled close.")


class ChooseRound(_Body):
    round: int | None = Field(
        default=None, gt=0, description="Only this round; default every round waiting to be scored."
    )


class EventOut(BaseModel):
    """Something the tournament did."""

    kind: str = Field(description="opened, closed, scored or resolved.")
    round_number: int
    day: int | None = Field(description="The scoring day, for scored and resolved.")
    detail: str
    message: str = Field(description="The event in words, as the CLI prints it.")


# --- leaderboard ------------------------------------------------------------------


class LeaderboardRow(BaseModel):
    rank: int
    model: str
    model_id: str = Field(description="The model's public UUID.")
    account: str
    kind: ModelKind
    corr_rep: float | None
    mmc_rep: float | None
    bmc_rep: float | None
    fnc_rep: float | None
    rounds_scored: int
    stake: str
    paid: str
    burned: str
    net: str
    at_risk: str
    return_on_stake: float | None


__all__ = [
    "AMOUNT_DESCRIPTION",
    "AccountCreated",
    "AccountOut",
    "AmountIn",
    "AuditOut",
    "ChooseRound",
    "CloseRound",
    "ErrorOut",
    "EventOut",
    "KeyCreated",
    "KeyOut",
    "LeaderboardRow",
    "ModelOut",
    "MovementKind",
    "NewAccount",
    "NewKey",
    "NewModel",
    "RoundOut",
    "SortKey",
    "WalletMovement",
]
