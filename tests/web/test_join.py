"""Joining from a browser, in-process: sign up, sign in, models, keys, uploads, stakes.

Every refused form comes back with the domain's message and status, and leaves
the database (and the file store) as it was.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Awaitable, Callable
from decimal import Decimal
from html import unescape
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from crowdalpha.server.settings import ServerSettings
from crowdalpha.tournament import accounts, keys, ledger, stakes
from crowdalpha.tournament import models as models_mod
from crowdalpha.tournament.errors import AuthenticationError, RevokedApiKeyError
from crowdalpha.tournament.tables import Account, EntryKind, Submission
from tests.helpers.server import tournament_of
from tests.helpers.web import (
    PASSWORD,
    csrf_of,
    database,
    in_process,
    live_ids,
    post_form,
    predictions_csv,
    sign_up,
)

Scenario = Callable[[httpx.AsyncClient], Awaitable[None]]


def run(settings: ServerSettings, scenario: Scenario) -> None:
    """Run ``scenario`` against a fresh in-process app over ``settings``."""

    async def main() -> None:
        async with in_process(settings) as client:
            await scenario(client)

    asyncio.run(main())


def error_of(page: httpx.Response) -> str:
    """The error message a refused form shows."""
    found = re.search(r'class="error" id="error">([^<]*)<', page.text)
    assert found is not None, page.text[:2000]
    return unescape(found.group(1))


def account_count(settings: ServerSettings) -> int:
    with database(settings) as session:
        return session.scalar(select(func.count(Account.id))) or 0


def stored_submission_files(settings: ServerSettings) -> list[Path]:
    """The submission files in the (local) file store."""
    folder = Path(settings.home.store_url) / "submissions"
    return sorted(p for p in folder.rglob("*") if p.is_file())


# --- sign up, sign in, sign out --------------------------------------------------------


def test_sign_up_signs_in_and_shows_an_empty_account(web_settings: ServerSettings) -> None:
    async def scenario(client: httpx.AsyncClient) -> None:
        done = await sign_up(client, "alice")
        assert (done.status_code, done.headers["location"]) == (303, "/account")
        page = await client.get("/account")
        assert page.status_code == 200
        assert 'id="nav-account">alice<' in page.text
        assert "0 of 10 models" in page.text
        assert 'id="balance">0<' in page.text
        assert "welcome, alice" in page.text
        assert "crowdalpha admin deposit" in page.text  # where money comes from

    run(web_settings, scenario)
    with database(web_settings) as session:
        alice = accounts.check_password(session, "alice", PASSWORD)
        assert ledger.wallet_balance(session, alice) == 0
        assert ledger.journal(session, account=alice) == []


@pytest.mark.parametrize(
    ("name", "password", "again", "status", "message"),
    [
        ("bob", "short", "short", 400,
         "invalid_value: password is 5 characters long, at least 8 are needed"),
        ("bob", "long enough 1", "long enough 2", 400,
         "invalid_value: the two passwords differ; type the same password twice"),
        ("taken", PASSWORD, PASSWORD, 409, "name_taken: account name 'taken' is taken"),
        ("Bad Name", PASSWORD, PASSWORD, 400, "invalid_name: account name 'Bad Name' must be"),
        ("", PASSWORD, PASSWORD, 400, "invalid_name: account name '' must be"),
    ],
)
def test_sign_up_errors_show_the_form_again_and_create_nothing(
    web_settings: ServerSettings, name: str, password: str, again: str, status: int, message: str
) -> None:
    async def scenario(client: httpx.AsyncClient) -> None:
        await sign_up(client, "taken")
        await client.post("/logout", data={"csrf": await csrf_of(client, "/account")})
        before = account_count(web_settings)
        page = await sign_up(client, name, password, again)
        assert page.status_code == status
        assert error_of(page).startswith(message)
        assert 'id="signup-form"' in page.text
        assert password not in page.text  # never echoed back
        assert f'value="{name}"' in page.text  # the name is kept
        assert account_count(web_settings) == before
        assert (await client.get("/account")).status_code == 303  # not signed in

    run(web_settings, scenario)


def test_sign_up_grant_is_deposited_with_the_account(web_settings: ServerSettings) -> None:
    web_settings = dataclasses.replace(web_settings, signup_grant=Decimal("100.5"))

    async def scenario(client: httpx.AsyncClient) -> None:
        assert "sign-up grant of 100.5" in (await client.get("/signup")).text
        assert (await sign_up(client, "alice")).status_code == 303
        page = await client.get("/account")
        assert 'id="balance">100.5<' in page.text
        assert "sign-up grant" in page.text

    run(web_settings, scenario)
    with database(web_settings) as session:
        alice = accounts.get_account(session, "alice")
        [entry] = ledger.journal(session, account=alice)
        assert (entry.kind, entry.amount, entry.memo) == (
            EntryKind.DEPOSIT, Decimal("100.5"), "sign-up grant"
        )
        assert ledger.audit(session).ok


def test_the_sign_up_grant_is_the_servers_setting_not_the_environment(
    web_settings: ServerSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CROWDALPHA_SIGNUP_GRANT", "-5")  # read once, at start-up, not here

    async def scenario(client: httpx.AsyncClient) -> None:
        assert 'id="grant"' not in (await client.get("/signup")).text
        assert (await sign_up(client, "alice")).status_code == 303

    run(web_settings, scenario)
    with database(web_settings) as session:
        assert ledger.journal(session, account=accounts.get_account(session, "alice")) == []


def test_sign_in_attempts_are_limited_per_address(web_settings: ServerSettings) -> None:
    web_settings = dataclasses.replace(web_settings, sign_in_attempts_per_minute=2)

    async def scenario(client: httpx.AsyncClient) -> None:
        for _ in range(2):
            assert (await sign_up(client, "alice", again="something else")).status_code == 400
        page = await sign_up(client, "alice")
        assert page.status_code == 429
        assert error_of(page).startswith("rate_limited: ")

    run(web_settings, scenario)
    assert account_count(web_settings) == 0


def test_sign_in_checks_the_password_and_goes_where_it_was_asked(
    web_settings: ServerSettings,
) -> None:
    async def scenario(client: httpx.AsyncClient) -> None:
        await sign_up(client, "alice")
        out = await client.post("/logout", data={"csrf": await csrf_of(client, "/account")})
        assert (out.status_code, out.headers["location"]) == (303, "/")
        bounced = await client.get("/account?tab=keys")
        assert (bounced.status_code, bounced.headers["location"]) == (
            303, "/login?next=%2Faccount%3Ftab%3Dkeys"
        )
        for name, password in [("alice", "wrong password"), ("nobody", PASSWORD)]:
            token = await csrf_of(client, "/login")
            page = await client.post("/login", data={
                "csrf": token, "name": name, "password": password, "next": "/account",
            })
            assert page.status_code == 401
            assert error_of(page) == "authentication_failed: wrong account name or password"
            assert (await client.get("/account")).status_code == 303
        login_page = await client.get("/login?next=/account?tab=keys")
        token = re.search(r'name="csrf" value="([^"]+)"', login_page.text).group(1)  # type: ignore[union-attr]
        assert 'name="next" value="/account?tab=keys"' in login_page.text
        done = await client.post("/login", data={
            "csrf": token, "name": "alice", "password": PASSWORD, "next": "/account?tab=keys",
        })
        assert (done.status_code, done.headers["location"]) == (303, "/account?tab=keys")
        assert (await client.get("/account")).status_code == 200
        # never sent to another site after signing in
        for elsewhere in ("//evil.example/", "https://evil.example/", "/\t/evil.example", "/\\evil"):
            await client.post("/logout", data={"csrf": await csrf_of(client, "/account")})
            done = await client.post("/login", data={
                "csrf": await csrf_of(client, "/login"), "name": "alice", "password": PASSWORD,
                "next": elsewhere,
            })
            assert done.headers["location"] == "/account", elsewhere

    run(web_settings, scenario)


# --- models ------------------------------------------------------------------------


def test_models_up_to_the_limit(web_settings: ServerSettings) -> None:
    limit = models_mod.DEFAULT_MAX_MODELS

    async def scenario(client: httpx.AsyncClient) -> None:
        await sign_up(client, "alice")
        for i in range(limit):
            done = await post_form(client, "/account/models", {
                "name": f"alice_m{i}", "payout_basis": "corr+mmc" if i == 0 else "corr",
            })
            assert (done.status_code, done.headers["location"]) == (303, f"/account#model-alice_m{i}")
        page = await client.get("/account")
        assert f"{limit} of {limit} models" in page.text
        refused = await post_form(client, "/account/models", {"name": "one_too_many"})
        assert refused.status_code == 409
        assert error_of(refused) == (
            f"model_limit: account 'alice' already owns {limit} models, the limit is {limit}; "
            "cannot create 'one_too_many'"
        )
        assert 'value="one_too_many"' in refused.text  # the form keeps what was typed
        taken = await post_form(client, "/account/models", {"name": "alice_m0"})
        assert (taken.status_code, error_of(taken)) == (409, "name_taken: model name 'alice_m0' is taken")

    run(web_settings, scenario)
    with database(web_settings) as session:
        alice = accounts.get_account(session, "alice")
        owned = models_mod.list_models(session, alice)
        assert [m.name for m in owned] == [f"alice_m{i}" for i in range(limit)]
        assert owned[0].payout_basis == "corr+mmc"


def test_bad_model_names_and_bases_are_refused(web_settings: ServerSettings) -> None:
    async def scenario(client: httpx.AsyncClient) -> None:
        await sign_up(client, "alice")
        bad = await post_form(client, "/account/models", {"name": "No Spaces"})
        assert bad.status_code == 400
        assert error_of(bad).startswith("invalid_name: model name 'No Spaces' must be")
        basis = await post_form(client, "/account/models", {"name": "m", "payout_basis": "mmc"})
        assert basis.status_code == 400
        assert error_of(basis) == "invalid_value: payout basis 'mmc' is not one of 'corr', 'corr+mmc'"
        assert "0 of 10 models" in basis.text

    run(web_settings, scenario)


# --- API keys ------------------------------------------------------------------------


def test_keys_are_shown_once_and_can_be_revoked(web_settings: ServerSettings) -> None:
    tokens: list[str] = []

    async def scenario(client: httpx.AsyncClient) -> None:
        await sign_up(client, "alice")
        made = await post_form(client, "/account/keys", {"scopes": ["read", "upload"], "label": "laptop"})
        assert made.status_code == 200
        assert made.headers["cache-control"] == "no-store"
        token = re.search(r'id="new-key-token">([^<]+)<', made.text).group(1)  # type: ignore[union-attr]
        tokens.append(token)
        public_id, secret = token.split("$")
        page = await client.get("/account")
        assert public_id in page.text and secret not in page.text  # shown once only
        assert "read, upload" in page.text and "laptop" in page.text
        none = await post_form(client, "/account/keys", {"label": "no scopes"})
        assert none.status_code == 400
        assert error_of(none) == "invalid_scope: a key of account 'alice' needs at least one scope"
        admin = await post_form(client, "/account/keys", {"scopes": ["admin"]})
        assert admin.status_code == 400
        assert error_of(admin) == "invalid_scope: scope 'admin' is for the operator account only, not 'alice'"
        revoked = await post_form(client, f"/account/keys/{public_id}/revoke")
        assert (revoked.status_code, revoked.headers["location"]) == (303, "/account#keys")
        page = await client.get("/account")
        assert f"API key {public_id} revoked" in page.text
        row = re.search(rf'id="key-{public_id}">(.*?)</tr>', page.text, re.S).group(1)  # type: ignore[union-attr]
        assert "active" not in row and "Revoke" not in row
        unknown = await post_form(client, "/account/keys/NOSUCHKEY/revoke")
        assert (unknown.status_code, error_of(unknown)) == (404, "not_found: API key 'NOSUCHKEY' does not exist")

    run(web_settings, scenario)
    with database(web_settings) as session:
        with pytest.raises(RevokedApiKeyError):
            keys.authenticate(session, f"Token {tokens[0]}")
        alice = accounts.get_account(session, "alice")
        assert len(keys.list_api_keys(session, alice)) == 1


def test_nobody_revokes_another_accounts_key(web_settings: ServerSettings) -> None:
    async def scenario(client: httpx.AsyncClient) -> None:
        await sign_up(client, "alice")
        made = await post_form(client, "/account/keys", {"scopes": ["read"]})
        token = re.search(r'id="new-key-token">([^<]+)<', made.text).group(1)  # type: ignore[union-attr]
        await client.post("/logout", data={"csrf": await csrf_of(client, "/account")})
        await sign_up(client, "mallory")
        refused = await post_form(client, f"/account/keys/{token.split('$')[0]}/revoke")
        assert refused.status_code == 403
        assert error_of(refused).startswith("permission_denied: account 'mallory' does not own API key")
        with database(web_settings) as session:
            assert keys.authenticate(session, f"Token {token}").account.name == "alice"

    run(web_settings, scenario)


# --- submissions ---------------------------------------------------------------------


def _upload(
    client: httpx.AsyncClient, model: str, filename: str, data: bytes
) -> Awaitable[httpx.Response]:
    return post_form(client, f"/models/{model}/submissions", files={"file": (filename, data)})


def test_uploads_follow_the_apis_rules(web_settings: ServerSettings) -> None:
    ids = live_ids(web_settings, 1)

    async def scenario(client: httpx.AsyncClient) -> None:
        await sign_up(client, "alice")
        await post_form(client, "/account/models", {"name": "alice_m"})
        good = await _upload(client, "alice_m", "preds.csv", predictions_csv(ids))
        assert (good.status_code, good.headers["location"]) == (303, "/account#model-alice_m")
        page = await client.get("/account")
        with database(web_settings) as session:
            [row] = session.scalars(select(Submission)).all()
            assert (row.rows, row.filename, row.late) == (len(ids), "preds.csv", False)
        assert f"round 1: submission {row.public_id} of model &#39;alice_m&#39; accepted, {len(ids)} rows" in page.text
        assert f"submission <code>{row.public_id}</code>, {len(ids)} rows" in page.text
        files_before = stored_submission_files(web_settings)

        refusals = [
            ("preds.txt", b"id,prediction\nx,0.5\n", 400,
             "invalid_submission_file: 'preds.txt' is not a .csv or .parquet file"),
            ("wrong_ids.csv", b"id,prediction\nnot_an_id,0.1\nneither,0.9\n", 400,
             "invalid_submission_ids: 2 ids not in round 1, first: 'not_an_id'"),
            ("few.csv", predictions_csv(ids[:10]), 400,
             f"invalid_submission_ids: {len(ids) - 10} ids of round 1 missing"),
            ("empty.csv", b"", 400, "invalid_submission_file: 'empty.csv' for round 1 is empty"),
            ("", b"", 400, "invalid_submission_file: no file was chosen for model 'alice_m'"),
        ]
        for filename, data, status, message in refusals:
            refused = await _upload(client, "alice_m", filename, data)
            assert refused.status_code == status, (filename, refused.text[:500])
            assert error_of(refused).startswith(message), error_of(refused)
            assert 'id="upload-alice_m"' in refused.text
        with database(web_settings) as session:
            assert session.scalar(select(func.count(Submission.id))) == 1
        assert stored_submission_files(web_settings) == files_before

        await client.post("/logout", data={"csrf": await csrf_of(client, "/account")})
        await sign_up(client, "mallory")
        theirs = await _upload(client, "alice_m", "preds.csv", predictions_csv(ids))
        assert (theirs.status_code, error_of(theirs)) == (
            403, "permission_denied: account 'mallory' does not own model 'alice_m'"
        )
        missing = await _upload(client, "no_such_model", "preds.csv", predictions_csv(ids))
        assert (missing.status_code, error_of(missing)) == (404, "not_found: model 'no_such_model' does not exist")

    run(web_settings, scenario)


def test_uploads_larger_than_the_servers_limit_are_refused(web_settings: ServerSettings) -> None:
    ids = live_ids(web_settings, 1)
    small = dataclasses.replace(web_settings, max_upload_bytes=1000)

    async def scenario(client: httpx.AsyncClient) -> None:
        await sign_up(client, "alice")
        await post_form(client, "/account/models", {"name": "alice_m"})
        data = predictions_csv(ids)
        refused = await _upload(client, "alice_m", "preds.csv", data)
        assert refused.status_code == 400
        assert error_of(refused) == (
            f"invalid_submission_file: 'preds.csv' for round 1 is {len(data)} bytes, the limit is 1000"
        )

    run(small, scenario)


def test_a_closed_round_takes_no_uploads(web_settings: ServerSettings, web_home: Path) -> None:
    ids = live_ids(web_settings, 1)

    async def scenario(client: httpx.AsyncClient) -> None:
        await sign_up(client, "alice")
        await post_form(client, "/account/models", {"name": "alice_m"})
        tournament_of(web_home).close_round(early=True)
        page = await client.get("/account")
        assert "No round is taking submissions now." in page.text
        refused = await _upload(client, "alice_m", "preds.csv", predictions_csv(ids))
        assert refused.status_code == 409
        assert error_of(refused).startswith(
            "round_state: Current round not open for submissions: round 1 closed at "
        )

    run(web_settings, scenario)
    with database(web_settings) as session:
        assert session.scalar(select(func.count(Submission.id))) == 0


# --- stakes ----------------------------------------------------------------------------


def test_set_stake_raises_and_lowers_within_the_wallet(web_settings: ServerSettings) -> None:
    web_settings = dataclasses.replace(web_settings, signup_grant=Decimal(100))

    def money(session_check: str) -> tuple[Decimal, Decimal]:
        with database(web_settings) as session:
            alice = accounts.get_account(session, "alice")
            model = models_mod.get_model(session, session_check)
            return ledger.wallet_balance(session, alice), stakes.stake_now(session, model)

    async def scenario(client: httpx.AsyncClient) -> None:
        await sign_up(client, "alice")
        await post_form(client, "/account/models", {"name": "alice_m"})
        up = await post_form(client, "/models/alice_m/stake", {"amount": "30"})
        assert (up.status_code, up.headers["location"]) == (303, "/account#model-alice_m")
        assert money("alice_m") == (Decimal(70), Decimal(30))
        page = await client.get("/account")
        assert "stake of &#39;alice_m&#39; raised to 30" in page.text
        assert 'id="stake-alice_m">30<' in page.text

        down = await post_form(client, "/models/alice_m/stake", {"amount": "10.5"})
        assert down.status_code == 303
        assert money("alice_m") == (Decimal("89.5"), Decimal("10.5"))  # at risk in no round: back now
        assert "went back to your wallet" in (await client.get("/account")).text

        too_much = await post_form(client, "/models/alice_m/stake", {"amount": "200"})
        assert too_much.status_code == 409
        assert error_of(too_much) == (
            "insufficient_funds: account 'alice' has 89.5 available, stake increase of 189.5 requested"
        )
        assert 'value="200"' in too_much.text
        assert money("alice_m") == (Decimal("89.5"), Decimal("10.5"))
        for amount, message in [
            ("abc", "invalid_amount: stake target 'abc' is not a number"),
            ("-1", "invalid_amount: stake target -1 must be positive"),
            ("0.0000000001", "invalid_amount: stake target 0.0000000001 has more than 9 decimal places"),
        ]:
            bad = await post_form(client, "/models/alice_m/stake", {"amount": amount})
            assert (bad.status_code, error_of(bad)) == (400, message)
        assert money("alice_m") == (Decimal("89.5"), Decimal("10.5"))
        drained = await post_form(client, "/models/alice_m/stake", {"amount": "0"})
        assert drained.status_code == 303
        assert money("alice_m") == (Decimal(100), Decimal(0))

    run(web_settings, scenario)
    with database(web_settings) as session:
        assert ledger.audit(session).ok


def test_a_decrease_stays_at_risk_until_the_round_resolves(
    web_settings: ServerSettings, web_home: Path
) -> None:
    web_settings = dataclasses.replace(web_settings, signup_grant=Decimal(100))

    async def scenario(client: httpx.AsyncClient) -> None:
        await sign_up(client, "alice")
        await post_form(client, "/account/models", {"name": "alice_m"})
        await post_form(client, "/models/alice_m/stake", {"amount": "40"})
        tournament_of(web_home).close_round(early=True)  # 40 at risk in round 1
        down = await post_form(client, "/models/alice_m/stake", {"amount": "15"})
        assert down.status_code == 303
        page = await client.get("/account")
        assert "25 goes back to your wallet when round 1 resolves" in page.text
        assert "25 waiting to go back to the wallet" in page.text
        assert 'id="balance">60<' in page.text

    run(web_settings, scenario)


# --- anti-forgery and sign-in guards ---------------------------------------------------


def test_forms_without_the_sessions_token_are_refused(web_settings: ServerSettings) -> None:
    ids = live_ids(web_settings, 1)

    async def scenario(client: httpx.AsyncClient) -> None:
        await sign_up(client, "alice")
        await post_form(client, "/account/models", {"name": "alice_m"})
        made = await post_form(client, "/account/keys", {"scopes": ["read"]})
        public_id = re.search(r'id="new-key-token">([^$]+)\$', made.text).group(1)  # type: ignore[union-attr]
        posts: list[tuple[str, dict[str, object], dict[str, tuple[str, bytes]] | None]] = [
            ("/account/models", {"name": "forged"}, None),
            ("/account/keys", {"scopes": ["read"]}, None),
            (f"/account/keys/{public_id}/revoke", {}, None),
            ("/models/alice_m/submissions", {}, {"file": ("p.csv", predictions_csv(ids))}),
            ("/models/alice_m/stake", {"amount": "1"}, None),
            ("/signup", {"name": "forged", "password": PASSWORD, "password_again": PASSWORD}, None),
            ("/login", {"name": "alice", "password": PASSWORD}, None),
            ("/logout", {}, None),
        ]
        for path, data, files in posts:
            for token in (None, "not-the-token"):
                sent = data if token is None else {**data, "csrf": token}
                refused = await client.post(path, data=sent, files=files)
                assert refused.status_code == 403, path
                assert "forbidden: this form has no valid anti-forgery token" in refused.text
        page = await client.get("/account")
        assert page.status_code == 200  # still signed in: the forged sign-out did nothing
        assert "1 of 10 models" in page.text and "active" in page.text

    run(web_settings, scenario)
    with database(web_settings) as session:
        assert session.scalar(select(func.count(Submission.id))) == 0
        assert [a.name for a in accounts.list_accounts(session)] == ["alice"]


def test_forms_of_visitors_not_signed_in_go_to_the_sign_in_page(web_settings: ServerSettings) -> None:
    async def scenario(client: httpx.AsyncClient) -> None:
        token = await csrf_of(client, "/login")
        for path in ("/account/models", "/account/keys", "/models/x/stake", "/models/x/submissions"):
            bounced = await client.post(path, data={"csrf": token, "name": "x"})
            assert (bounced.status_code, bounced.headers["location"]) == (
                303, "/login?next=%2Faccount"
            ), path
        assert (await client.get("/signup")).status_code == 200
        await sign_up(client, "alice")
        assert (await client.get("/signup")).headers["location"] == "/account"
        assert (await client.get("/login")).headers["location"] == "/account"

    run(web_settings, scenario)


def test_a_malformed_form_gets_a_page_not_a_traceback(web_settings: ServerSettings) -> None:
    async def scenario(client: httpx.AsyncClient) -> None:
        await sign_up(client, "alice")
        await post_form(client, "/account/models", {"name": "alice_m"})
        token = await csrf_of(client, "/account")
        sent = await client.post(  # text where a file belongs
            "/models/alice_m/submissions", data={"csrf": token, "file": "id,prediction"},
            files={"other": ("x.csv", b"")},
        )
        assert sent.status_code == 400
        assert error_of(sent) == (
            "invalid_form: the form was incomplete or malformed (fields: file); "
            "reload the page and try again"
        )

    run(web_settings, scenario)


def test_a_deleted_account_signs_the_browser_out(web_settings: ServerSettings) -> None:
    """A session naming an account the database no longer has is not signed in."""

    async def scenario(client: httpx.AsyncClient) -> None:
        await sign_up(client, "alice")
        with database(web_settings) as session:
            session.get(Account, 1).name = "renamed"  # type: ignore[union-attr]
            session.commit()
        assert (await client.get("/account")).status_code == 303
        with pytest.raises(AuthenticationError):
            with database(web_settings) as session:
                accounts.check_password(session, "alice", PASSWORD)

    run(web_settings, scenario)
