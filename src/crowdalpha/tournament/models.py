"""Tournament models: the participants' ML models, each owned by one account.

An account owns at most ``DEFAULT_MAX_MODELS`` (10) models; the operator's
account is exempt, since it owns every benchmark and integration-test model.
Model names are unique across the tournament (they are what the leaderboard
shows). Each model chooses its payout basis: CORR alone or CORR plus MMC.
Creating a model opens its stake and pending-release ledger accounts.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crowdalpha.errors import NotFoundError
from crowdalpha.tournament import ledger
from crowdalpha.tournament.accounts import check_name
from crowdalpha.tournament.clock import Clock, ensure_utc
from crowdalpha.tournament.db import atomic
from crowdalpha.tournament.errors import (
    ModelLimitError,
    NameTakenError,
    PermissionDeniedError,
)
from crowdalpha.tournament.tables import (
    Account,
    AccountRole,
    Model,
    ModelKind,
    PayoutBasis,
    parse_enum,
)

DEFAULT_MAX_MODELS = 10
#: Kinds only the operator account may own.
OPERATOR_KINDS = frozenset({ModelKind.BENCHMARK, ModelKind.INTEGRATION_TEST})

def create_model(
    session: Session,
    account: Account,
    name: str,
    *,
    clock: Clock,
    kind: ModelKind | str = ModelKind.PARTICIPANT,
    payout_basis: PayoutBasis | str = PayoutBasis.CORR,
    max_models: int = DEFAULT_MAX_MODELS,
) -> Model:
    """Create a model owned by ``account`` (with its ledger accounts), within the model limit."""
    check_name(name, what="model")
    kind = parse_enum(ModelKind, kind, "model kind")
    basis = parse_enum(PayoutBasis, payout_basis, "payout basis")
    is_operator = account.role == AccountRole.OPERATOR
    if kind in OPERATOR_KINDS and not is_operator:
        raise PermissionDeniedError(
            f"only the operator account may own {kind} models; account '{account.name}' asked for '{name}'"
        )
    if session.scalar(select(Model.id).where(Model.name == name)) is not None:
        raise NameTakenError(f"model name '{name}' is taken")
    try:
        with atomic(session):
            # Lock the owner so two concurrent creations cannot both pass the limit (PostgreSQL).
            session.execute(select(Account.id).where(Account.id == account.id).with_for_update())
            if not is_operator:
                owned = (
                    session.scalar(
                        select(func.count(Model.id)).where(Model.account_id == account.id)
                    )
                    or 0
                )
                if owned >= max_models:
                    raise ModelLimitError(
                        f"account '{account.name}' already owns {owned} models, the limit is {max_models}; "
                        f"cannot create '{name}'"
                    )
            model = Model(
                name=name,
                account_id=account.id,
                kind=kind,
                payout_basis=basis,
                created_at=ensure_utc(clock.now(), name="clock.now()"),
            )
            session.add(model)
            session.flush()
            ledger.open_model_accounts(session, model)
            session.flush()
    except IntegrityError:
        if session.scalar(select(Model.id).where(Model.name == name)) is not None:
            raise NameTakenError(f"model name '{name}' is taken") from None
        raise
    return model


def get_model(session: Session, name: str) -> Model:
    """The model called ``name``; ``NotFoundError`` if there is none."""
    model = session.scalars(select(Model).where(Model.name == name)).one_or_none()
    if model is None:
        raise NotFoundError(f"model '{name}' does not exist")
    return model


def list_models(
    session: Session, account: Account | None = None, *, kind: ModelKind | str | None = None
) -> list[Model]:
    """Models, oldest first; only ``account``'s and only of ``kind`` when given."""
    stmt = select(Model).order_by(Model.id)
    if account is not None:
        stmt = stmt.where(Model.account_id == account.id)
    if kind is not None:
        stmt = stmt.where(Model.kind == parse_enum(ModelKind, kind, "model kind"))
    return list(session.scalars(stmt))


def require_owner(model: Model, account: Account) -> None:
    """Raise ``PermissionDeniedError`` unless ``account`` owns ``model``."""
    if model.account_id != account.id:
        raise PermissionDeniedError(f"account '{account.name}' does not own model '{model.name}'")


def set_payout_basis(
    session: Session, model: Model, basis: PayoutBasis | str, *, by: Account
) -> Model:
    """Change what the model is paid on ("corr" or "corr+mmc"); owner only."""
    require_owner(model, by)
    value = parse_enum(PayoutBasis, basis, "payout basis")
    with atomic(session):
        model.payout_basis = value
        session.flush()
    return model


__all__ = [
    "DEFAULT_MAX_MODELS",
    "OPERATOR_KINDS",
    "create_model",
    "get_model",
    "list_models",
    "require_owner",
    "set_payout_basis",
]
