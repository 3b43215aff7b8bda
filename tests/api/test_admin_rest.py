"""The operator's REST API (``/admin``) over real HTTP against a server of its own.

The module's server runs on its own home, so the rounds it opens, scores and
resolves never touch the session server's round 1. The operator account and
its admin key are made straight in the database, as an operator would before
the first call.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, get_args

import httpx
import pytest

from crowdalpha.api.admin.models import SortKey
from crowdalpha.tournament import accounts, keys
from crowdalpha.tournament.clock import SystemClock
from crowdalpha.tournament.db import (
    make_engine,
    make_session_factory,
    resolve_settings,
    session_scope,
)
from crowdalpha.tournament.leaderboard import SORT_KEYS
from tests.helpers.server import Server, make_home, start_server, stop_server


@dataclass(frozen=True)
class Admin:
    """The module's server and the tokens its tests call it with."""

    server: Server
    admin_token: str
    participant_token: str

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {} if token is None else {"Authorization": f"Token {token}"}
        return httpx.Client(base_url=self.server.url, headers=headers, timeout=120)


def _seed(home: Path) -> tuple[str, str]:
    """The operator account with an admin key, and a participant with an ordinary key."""
    engine = make_engine(resolve_settings(home).db_url)
    clock = SystemClock()
    try:
        with session_scope(make_session_factory(engine)) as session:
            operator = accounts.ensure_operator(session, clock=clock)
            admin = keys.create_api_key(session, operator, clock=clock,
                                        scopes={"read", "admin"}, label="operator")
            bob = accounts.create_account(session, "bob", clock=clock)
            participant = keys.create_api_key(session, bob, clock=clock)
            return admin.token, participant.token
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def admin(small_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Admin]:
    home = make_home(tmp_path_factory.mktemp("admin-home"), small_dataset)
    admin_token, participant_token = _seed(home)
    running = start_server(home)
    yield Admin(running, admin_token, participant_token)
    stop_server(running)


@pytest.fixture
def api(admin: Admin) -> Iterator[httpx.Client]:
    with admin.client(admin.admin_token) as client:
        yield client


def _detail(response: httpx.Response) -> str:
    return response.json()["detail"]


def _balance(api: httpx.Client, name: str) -> str:
    listed = api.get("/admin/accounts")
    assert listed.status_code == 200
    return next(a["balance"] for a in listed.json() if a["name"] == name)


def _aware(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    assert moment.tzinfo is not None, text
    return moment


# --- the document and the guard ---------------------------------------------------------


def test_sort_keys_match_the_leaderboards() -> None:
    assert get_args(SortKey) == SORT_KEYS


def test_openapi_lists_the_admin_paths(admin: Admin) -> None:
    document = httpx.get(f"{admin.server.url}/openapi.json").json()
    paths = document["paths"]
    assert {
        "/admin/accounts", "/admin/accounts/{name}/keys", "/admin/keys/{public_id}",
        "/admin/models", "/admin/accounts/{name}/deposits", "/admin/accounts/{name}/withdrawals",
        "/admin/audit", "/admin/rounds", "/admin/rounds/open", "/admin/rounds/close",
        "/admin/rounds/score", "/admin/rounds/resolve", "/admin/rounds/advance",
        "/admin/leaderboard",
    } <= set(paths)
    assert not [p for p in paths if not p.startswith("/admin/")]  # GraphQL and files stay out
    assert set(paths["/admin/accounts"]) == {"get", "post"}
    assert paths["/admin/accounts"]["post"]["tags"] == ["operator"]
    assert {"401", "403", "429", "409"} <= set(paths["/admin/accounts"]["post"]["responses"])
    scheme = document["components"]["securitySchemes"]["OperatorKey"]
    assert scheme == {**scheme, "type": "apiKey", "in": "header", "name": "Authorization"}
    assert httpx.get(f"{admin.server.url}/docs").status_code == 200


@pytest.mark.parametrize(
    ("authorization", "says"),
    [
        (None, "API keys required"),
        ("Token not-a-key", "PUBLIC$SECRET"),
        ("Bearer A$B", "is not 'Token'"),
        ("Token NOSUCHKEY$SECRET", "no API key with public id 'NOSUCHKEY'"),
    ],
)
def test_a_missing_or_bad_key_is_401(admin: Admin, authorization: str | None, says: str) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    for method, path in [("GET", "/admin/accounts"), ("POST", "/admin/rounds/open"),
                         ("GET", "/admin/audit")]:
        response = httpx.request(method, f"{admin.server.url}{path}", headers=headers)
        assert response.status_code == 401, (path, response.text)
        assert says in _detail(response)
        assert response.headers["www-authenticate"] == "Token"


def test_a_wrong_secret_is_401_and_names_the_key(admin: Admin) -> None:
    public_id = admin.admin_token.split("$")[0]
    with admin.client(f"{public_id}$WRONGSECRET") as client:
        response = client.get("/admin/accounts")
    assert response.status_code == 401
    assert f"secret does not match API key '{public_id}'" in _detail(response)
    assert "WRONGSECRET" not in response.text


def test_a_participant_key_without_admin_is_403(admin: Admin) -> None:
    with admin.client(admin.participant_token) as client:
        response = client.get("/admin/accounts")
        created = client.post("/admin/accounts", json={"name": "sneaky"})
    assert response.status_code == 403
    assert "of account 'bob' lacks scope 'admin'" in _detail(response)
    assert created.status_code == 403
    with admin.client(admin.admin_token) as client:
        assert "sneaky" not in [a["name"] for a in client.get("/admin/accounts").json()]


def test_authentication_comes_before_body_validation(admin: Admin) -> None:
    response = httpx.post(f"{admin.server.url}/admin/accounts", json={"nom": 1})
    assert response.status_code == 401


# --- accounts, keys, models ---------------------------------------------------------------


def test_create_and_list_accounts(admin: Admin, api: httpx.Client) -> None:
    created = api.post("/admin/accounts", json={"name": "alice"})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["name"] == "alice" and body["role"] == "participant"
    assert body["scopes"] == ["read", "stake", "upload"]
    assert body["api_key"].startswith(body["key_public_id"] + "$")
    _aware(body["created_at"])
    # the new key is a participant's: it works, but not here
    with admin.client(body["api_key"]) as alice:
        assert alice.get("/admin/accounts").status_code == 403
        graphql = alice.post("/graphql", json={"query": "{ account { username } }"})
    assert graphql.json()["data"]["account"]["username"] == "alice"

    listed = api.get("/admin/accounts")
    assert listed.status_code == 200
    by_name = {a["name"]: a for a in listed.json()}
    assert by_name["alice"] == {**by_name["alice"], "role": "participant", "balance": "0",
                                "models": 0}
    assert by_name["operator"]["role"] == "operator"
    assert "api_key" not in by_name["alice"]


def test_account_conflicts_and_bad_bodies(api: httpx.Client) -> None:
    assert api.post("/admin/accounts", json={"name": "carol"}).status_code == 201
    taken = api.post("/admin/accounts", json={"name": "carol"})
    assert taken.status_code == 409
    assert _detail(taken) == "name_taken: account name 'carol' is taken"
    bad_name = api.post("/admin/accounts", json={"name": "Carol!"})
    assert bad_name.status_code == 400
    assert _detail(bad_name).startswith("invalid_name: account name 'Carol!'")
    for body in ({}, {"name": 7}, {"name": "dave", "role": "operator"}):
        response = api.post("/admin/accounts", json=body)
        assert response.status_code == 422, body
        assert isinstance(response.json()["detail"], list)
    assert api.post("/admin/accounts", content=b"not json",
                    headers={"content-type": "application/json"}).status_code == 422


def test_keys_create_list_and_revoke(admin: Admin, api: httpx.Client) -> None:
    assert api.post("/admin/accounts", json={"name": "erin"}).status_code == 201
    made = api.post("/admin/accounts/erin/keys", json={"scopes": ["read"], "label": "laptop"})
    assert made.status_code == 201, made.text
    key = made.json()
    assert key["account"] == "erin" and key["scopes"] == ["read"] and key["label"] == "laptop"
    assert key["token"].startswith(key["public_id"] + "$") and key["revoked_at"] is None
    default = api.post("/admin/accounts/erin/keys")
    assert default.status_code == 201 and default.json()["scopes"] == ["read", "stake", "upload"]

    listed = api.get("/admin/accounts/erin/keys").json()
    assert [k["public_id"] for k in listed][-2:] == [key["public_id"], default.json()["public_id"]]
    assert all("token" not in k for k in listed)

    revoked = api.delete(f"/admin/keys/{key['public_id']}")
    assert revoked.status_code == 200
    assert _aware(revoked.json()["revoked_at"])
    again = api.delete(f"/admin/keys/{key['public_id']}")
    assert again.status_code == 200 and again.json()["revoked_at"] == revoked.json()["revoked_at"]
    with admin.client(key["token"]) as erin:
        gone = erin.post("/graphql", json={"query": "{ account { username } }"})
    assert "was revoked" in gone.json()["errors"][0]["message"]

    missing = api.delete("/admin/keys/NOSUCHKEY")
    assert missing.status_code == 404 and "API key 'NOSUCHKEY' does not exist" in _detail(missing)
    nobody = api.post("/admin/accounts/nobody/keys", json={})
    assert nobody.status_code == 404 and _detail(nobody) == "not_found: account 'nobody' does not exist"
    assert api.get("/admin/accounts/nobody/keys").status_code == 404
    not_operator = api.post("/admin/accounts/erin/keys", json={"scopes": ["admin"]})
    assert not_operator.status_code == 400
    assert "scope 'admin' is for the operator account only" in _detail(not_operator)
    unknown = api.post("/admin/accounts/erin/keys", json={"scopes": ["root"]})
    assert unknown.status_code == 400 and "unknown scope(s) 'root'" in _detail(unknown)
    assert api.post("/admin/accounts/erin/keys", json={"label": "x" * 101}).status_code == 422


def test_a_second_admin_key_works_until_revoked(admin: Admin, api: httpx.Client) -> None:
    made = api.post("/admin/accounts/operator/keys", json={"scopes": ["admin"], "label": "ci"})
    assert made.status_code == 201, made.text
    second = made.json()
    with admin.client(second["token"]) as client:
        assert client.get("/admin/audit").status_code == 200
        assert api.delete(f"/admin/keys/{second['public_id']}").status_code == 200
        refused = client.get("/admin/audit")
    assert refused.status_code == 401 and "was revoked" in _detail(refused)


def test_create_models(api: httpx.Client) -> None:
    assert api.post("/admin/accounts", json={"name": "fay"}).status_code == 201
    made = api.post("/admin/models", json={"account": "fay", "name": "fay_m1",
                                           "payout_basis": "corr+mmc"})
    assert made.status_code == 201, made.text
    model = made.json()
    assert uuid.UUID(model["id"]).version == 4
    assert model == {**model, "name": "fay_m1", "account": "fay", "kind": "participant",
                     "payout_basis": "corr+mmc"}
    fay = next(a for a in api.get("/admin/accounts").json() if a["name"] == "fay")
    assert fay["models"] == 1

    taken = api.post("/admin/models", json={"account": "fay", "name": "fay_m1"})
    assert taken.status_code == 409 and _detail(taken) == "name_taken: model name 'fay_m1' is taken"
    nobody = api.post("/admin/models", json={"account": "nobody", "name": "x1"})
    assert nobody.status_code == 404
    benchmark = api.post("/admin/models", json={"account": "fay", "name": "fay_b",
                                                "kind": "benchmark"})
    assert benchmark.status_code == 403
    assert "only the operator account may own benchmark models" in _detail(benchmark)
    assert api.post("/admin/models", json={"account": "fay", "name": "fay_m2",
                                           "kind": "wizard"}).status_code == 422
    assert api.post("/admin/models", json={"account": "fay"}).status_code == 422


# --- money -------------------------------------------------------------------------------


def test_deposit_and_withdraw(api: httpx.Client) -> None:
    assert api.post("/admin/accounts", json={"name": "gus"}).status_code == 201
    deposited = api.post("/admin/accounts/gus/deposits", json={"amount": "100"})
    assert deposited.status_code == 201, deposited.text
    assert deposited.json() == {**deposited.json(), "account": "gus", "kind": "deposit",
                                "amount": "100", "balance": "100"}
    _aware(deposited.json()["created_at"])
    withdrawn = api.post("/admin/accounts/gus/withdrawals", json={"amount": "30.5"})
    assert withdrawn.status_code == 201
    assert withdrawn.json() == {**withdrawn.json(), "kind": "withdrawal", "amount": "30.5",
                                "balance": "69.5"}
    assert _balance(api, "gus") == "69.5"

    too_much = api.post("/admin/accounts/gus/withdrawals", json={"amount": "1000"})
    assert too_much.status_code == 409
    assert _detail(too_much) == ("insufficient_funds: account 'gus' has 69.5 available, "
                                 "withdrawal of 1000 requested")
    assert _balance(api, "gus") == "69.5"

    for amount in ("-5", "0", "abc", "1.0000000001"):
        response = api.post("/admin/accounts/gus/deposits", json={"amount": amount})
        assert response.status_code == 400, amount
        assert _detail(response).startswith("invalid_amount: deposit")
    for body in ({"amount": 100}, {"amount": 12.5}, {}):
        assert api.post("/admin/accounts/gus/deposits", json=body).status_code == 422, body
    assert api.post("/admin/accounts/nobody/deposits", json={"amount": "1"}).status_code == 404
    assert api.post("/admin/accounts/nobody/withdrawals", json={"amount": "1"}).status_code == 404
    assert _balance(api, "gus") == "69.5"


def test_audit_is_ok(api: httpx.Client) -> None:
    response = api.get("/admin/audit")
    assert response.status_code == 200
    report = response.json()
    assert report["ok"] is True and report["problems"] == []
    assert report["summary"].startswith("ledger audit:") and report["summary"].endswith("; OK")
    money = {k: Decimal(report[k]) for k in ("wallets", "stakes", "pending", "burned",
                                             "deposited", "paid_out", "withdrawn", "minted")}
    assert money["minted"] == money["deposited"] + money["paid_out"]
    assert (money["wallets"] + money["stakes"] + money["pending"] + money["burned"]
            == money["minted"] - money["withdrawn"])


# --- rounds ------------------------------------------------------------------------------


def _events(response: httpx.Response, status: int = 200) -> list[dict[str, Any]]:
    assert response.status_code == status, response.text
    return response.json()


def test_a_round_from_open_to_resolved(api: httpx.Client) -> None:
    benchmark = api.post("/admin/models", json={"account": "operator", "name": "benchmark_a",
                                                "kind": "benchmark"})
    assert benchmark.status_code == 201, benchmark.text
    assert _events(api.get("/admin/rounds")) == []
    nothing = api.post("/admin/rounds/score")
    assert nothing.status_code == 409
    assert _detail(nothing) == "round_state: no round is closed and waiting to be scored"
    assert api.post("/admin/rounds/close", json={"early": True}).status_code == 409

    [opened] = _events(api.post("/admin/rounds/open"))
    assert opened["kind"] == "opened" and opened["round_number"] == 1 and opened["day"] is None
    assert "1 operator submissions" in opened["detail"]
    assert opened["message"].startswith("round 1 opened (era ")
    again = api.post("/admin/rounds/open")
    assert again.status_code == 409 and "close it first" in _detail(again)
    [listed] = _events(api.get("/admin/rounds"))
    assert listed == {**listed, "number": 1, "status": "open", "scoring_day": 0, "models": 1,
                      "at_risk": None}
    assert _aware(listed["opens_at"]) < _aware(listed["closes_at"])

    on_time = api.post("/admin/rounds/close", json={})
    assert on_time.status_code == 409 and "round 1 closes at" in _detail(on_time)
    assert api.post("/admin/rounds/score", json={"round": 1}).status_code == 409  # still open
    assert api.post("/admin/rounds/close", json={"early": "soon"}).status_code == 422
    [closed] = _events(api.post("/admin/rounds/close", json={"early": True}))
    assert closed["kind"] == "closed" and closed["round_number"] == 1

    [scored] = _events(api.post("/admin/rounds/score"))
    assert scored == {**scored, "kind": "scored", "round_number": 1, "day": 1}
    assert api.post("/admin/rounds/score", json={"round": 99}).status_code == 404
    assert api.post("/admin/rounds/score", json={"round": 0}).status_code == 422

    resolved = _events(api.post("/admin/rounds/resolve", json={"round": 1}))
    days = resolved[-1]["day"]
    assert [e["day"] for e in resolved] == list(range(2, days + 1))
    assert {e["kind"] for e in resolved[:-1]} <= {"scored"} and resolved[-1]["kind"] == "resolved"
    twice = api.post("/admin/rounds/resolve", json={"round": 1})
    assert twice.status_code == 409 and "round 1 is already resolved" in _detail(twice)
    assert api.post("/admin/rounds/resolve").status_code == 409  # nothing waiting

    [final] = _events(api.get("/admin/rounds"))
    assert final == {**final, "status": "resolved", "scoring_day": days,
                     "resolves_after_days": days}
    assert api.get("/admin/audit").json()["ok"] is True

    board = _events(api.get("/admin/leaderboard", params={"sort": "corr"}))
    row = next(r for r in board if r["model"] == "benchmark_a")
    assert row == {**row, "model_id": benchmark.json()["id"], "account": "operator",
                   "kind": "benchmark", "rounds_scored": 1, "stake": "0"}
    assert isinstance(row["corr_rep"], float) and row["rank"] >= 1
    assert [r["rank"] for r in board] == list(range(1, len(board) + 1))

    for event in _events(api.post("/admin/rounds/advance")):  # nothing due but maybe an opening
        assert event["kind"] in {"opened", "closed", "scored", "resolved"}


def test_leaderboard_sorts_and_refuses_unknown_keys(api: httpx.Client) -> None:
    for key in SORT_KEYS:
        response = api.get("/admin/leaderboard", params={"sort": key})
        assert response.status_code == 200, key
    unscored = [r for r in api.get("/admin/leaderboard").json() if r["rounds_scored"] == 0]
    assert all(r["corr_rep"] is None and r["return_on_stake"] is None for r in unscored)
    assert api.get("/admin/leaderboard", params={"sort": "luck"}).status_code == 422


# --- rate limit --------------------------------------------------------------------------


def test_rate_limit_answers_429_with_retry_after(admin: Admin) -> None:
    limited = start_server(admin.server.home, env={"CROWDALPHA_RATE_LIMIT": "2"})
    try:
        headers = {"Authorization": f"Token {admin.admin_token}"}
        answers = [httpx.get(f"{limited.url}/admin/audit", headers=headers) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 429]
        assert int(answers[2].headers["retry-after"]) >= 1
        assert _detail(answers[2]).startswith("rate_limited: API key '")
        # another key has its own budget
        other = {"Authorization": f"Token {admin.participant_token}"}
        assert httpx.get(f"{limited.url}/admin/audit", headers=other).status_code == 403
    finally:
        stop_server(limited)
