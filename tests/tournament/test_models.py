from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crowdalpha.errors import NotFoundError
from crowdalpha.tournament import accounts, models
from crowdalpha.tournament.clock import ReplayClock
from crowdalpha.tournament.errors import (
    InvalidNameError,
    InvalidValueError,
    ModelLimitError,
    NameTakenError,
    PermissionDeniedError,
)
from crowdalpha.tournament.tables import LedgerAccount, LedgerKind, Model, ModelKind, PayoutBasis


@pytest.fixture
def alice(session: Session, clock: ReplayClock):
    return accounts.create_account(session, "alice", clock=clock)


def test_create_model_with_its_ledger_accounts(session: Session, clock: ReplayClock, alice) -> None:
    model = models.create_model(session, alice, "alice_lgbm", clock=clock, payout_basis="corr+mmc")
    assert (model.name, model.account, model.kind, model.payout_basis) == (
        "alice_lgbm",
        alice,
        ModelKind.PARTICIPANT,
        PayoutBasis.CORR_MMC,
    )
    kinds = session.scalars(
        select(LedgerAccount.kind).where(LedgerAccount.model_id == model.id)
    ).all()
    assert sorted(kinds) == [LedgerKind.PENDING_RELEASE, LedgerKind.STAKE]
    assert models.get_model(session, "alice_lgbm") is model
    assert models.list_models(session, alice) == [model] == alice.models


def test_model_limit_is_per_account_and_configurable(
    session: Session, clock: ReplayClock, alice
) -> None:
    for i in range(models.DEFAULT_MAX_MODELS):
        models.create_model(session, alice, f"alice_{i}", clock=clock)
    with pytest.raises(
        ModelLimitError,
        match=r"^model_limit: account 'alice' already owns 10 models, the limit is 10; cannot create 'alice_10'$",
    ):
        models.create_model(session, alice, "alice_10", clock=clock)
    assert session.scalar(select(func.count(Model.id))) == 10
    bob = accounts.create_account(session, "bob", clock=clock)
    models.create_model(session, bob, "bob_1", clock=clock, max_models=2)
    models.create_model(session, bob, "bob_2", clock=clock, max_models=2)
    with pytest.raises(ModelLimitError, match=r"limit is 2"):
        models.create_model(session, bob, "bob_3", clock=clock, max_models=2)


def test_operator_owns_benchmarks_beyond_the_limit(
    session: Session, clock: ReplayClock, alice
) -> None:
    operator = accounts.ensure_operator(session, clock=clock)
    for i in range(12):
        models.create_model(
            session, operator, f"benchmark_{i}", clock=clock, kind="benchmark", max_models=10
        )
    probe = models.create_model(
        session, operator, "integration_test", clock=clock, kind=ModelKind.INTEGRATION_TEST
    )
    assert models.list_models(session, kind="integration_test") == [probe]
    assert len(models.list_models(session, operator, kind=ModelKind.BENCHMARK)) == 12
    with pytest.raises(
        PermissionDeniedError,
        match=r"only the operator account may own benchmark models; account 'alice'",
    ):
        models.create_model(session, alice, "fake_benchmark", clock=clock, kind="benchmark")


def test_names_kinds_and_bases_are_checked(session: Session, clock: ReplayClock, alice) -> None:
    models.create_model(session, alice, "taken", clock=clock)
    bob = accounts.create_account(session, "bob", clock=clock)
    with pytest.raises(NameTakenError, match=r"^name_taken: model name 'taken' is taken$"):
        models.create_model(session, bob, "taken", clock=clock)
    with pytest.raises(InvalidNameError, match=r"^invalid_name: model name 'Bad Name'"):
        models.create_model(session, alice, "Bad Name", clock=clock)
    with pytest.raises(
        InvalidValueError,
        match=r"^invalid_value: model kind 'robot' is not one of 'participant', 'benchmark', 'integration_test'$",
    ):
        models.create_model(session, alice, "m", clock=clock, kind="robot")
    with pytest.raises(
        InvalidValueError, match=r"payout basis 'mmc' is not one of 'corr', 'corr\+mmc'"
    ):
        models.create_model(session, alice, "m", clock=clock, payout_basis="mmc")
    with pytest.raises(NotFoundError, match=r"^not_found: model 'nope' does not exist$"):
        models.get_model(session, "nope")


def test_payout_basis_is_the_owners_choice(session: Session, clock: ReplayClock, alice) -> None:
    model = models.create_model(session, alice, "m", clock=clock)
    assert model.payout_basis == PayoutBasis.CORR
    models.set_payout_basis(session, model, "corr+mmc", by=alice)
    session.expire_all()
    assert models.get_model(session, "m").payout_basis == PayoutBasis.CORR_MMC
    bob = accounts.create_account(session, "bob", clock=clock)
    with pytest.raises(
        PermissionDeniedError, match=r"^permission_denied: account 'bob' does not own model 'm'$"
    ):
        models.set_payout_basis(session, model, "corr", by=bob)
