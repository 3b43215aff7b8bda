"""A participant's path through numerapi: account, models, uploads, stakes, webhooks,
and every way it can go wrong, against a real server."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import numerapi
import numerapi.base_api
import pandas as pd
import pytest
from sqlalchemy import func, select

from crowdalpha.tournament.db import make_engine, resolve_settings
from crowdalpha.tournament.feed import round_live_ids
from crowdalpha.tournament.tables import Submission
from tests.helpers.server import (
    Participant,
    Server,
    add_participant,
    make_home,
    start_server,
    stop_server,
    tournament_of,
)


def live_predictions(server: Server, seed: int = 0) -> pd.DataFrame:
    live = pd.read_parquet(server.home / "datasets" / "v1" / "live.parquet", columns=["era"])
    values = pd.Series(range(len(live)), index=live.index).sample(frac=1.0, random_state=seed)
    return pd.DataFrame({"id": live.index, "prediction": (values.to_numpy() + 0.5) / len(live)})


def submission_count(home: Path) -> int:
    engine = make_engine(resolve_settings(home).db_url)
    try:
        with engine.connect() as conn:
            return conn.scalar(select(func.count(Submission.id)))
    finally:
        engine.dispose()


# --- the happy path -------------------------------------------------------------------


def test_account_models_and_keys(server: Server, participant: Participant) -> None:
    napi = participant.api()
    account = napi.get_account()
    assert account["username"] == participant.account
    assert account["availableNmr"] == Decimal(100)
    assert account["insertedAt"].tzinfo is not None
    [model] = account["models"]
    assert model["name"] == participant.model and model["id"] == participant.model_id
    assert [t["public_id"] for t in account["apiTokens"]] == [participant.token.split("$")[0]]
    assert napi.get_models() == {participant.model: participant.model_id}
    assert napi.get_models(tournament=11) == {}
    assert napi.modelid_to_modelname(participant.model_id) == participant.model


def test_upload_from_a_file_and_a_frame(server: Server, participant: Participant, tmp_path: Path) -> None:
    napi = participant.api()
    frame = live_predictions(server)
    path = tmp_path / "preds.csv"
    frame.to_csv(path, index=False)
    first = napi.upload_predictions(str(path), model_id=participant.model_id)
    second = napi.upload_predictions(df=frame, model_id=participant.model_id)
    ids = napi.submission_ids(participant.model_id)
    assert [s["id"] for s in ids] == [second, first]  # newest first
    assert ids[0]["filename"] == "predictions.csv" and ids[1]["filename"] == "preds.csv"
    got = napi.download_submission(submission_id=first, dest_path=str(tmp_path / "back.csv"))
    assert Path(got).read_bytes() == path.read_bytes()  # the file as it was submitted
    # the latest one counts; get_submission_filenames shows only it
    names = napi.get_submission_filenames(model_id=participant.model_id)
    assert names == [{"round_num": 1, "tournament": 8, "filename": "predictions.csv"}]


def test_parquet_upload(server: Server, participant: Participant, tmp_path: Path) -> None:
    path = tmp_path / "preds.parquet"
    live_predictions(server, seed=3).to_parquet(path, index=False)
    assert participant.api().upload_predictions(str(path), model_id=participant.model_id)


def test_model_id_may_be_left_out_with_one_model(server: Server, participant: Participant) -> None:
    assert participant.api().upload_predictions(df=live_predictions(server))


def test_stake_increase_decrease_set_drain(server: Server, participant: Participant) -> None:
    napi = participant.api()
    mid = participant.model_id
    assert napi.stake_get(participant.model) is None
    increased = napi.stake_increase("12.5", mid)
    assert increased["type"] == "increase" and increased["requestedAmount"] == Decimal("12.5")
    assert napi.stake_get(participant.model) == Decimal("12.5")
    assert napi.get_account()["availableNmr"] == Decimal("87.5")
    decreased = napi.stake_decrease(2, mid)  # at risk in no closed round: back at once
    assert decreased["type"] == "decrease" and decreased["requestedAmount"] == Decimal(2)
    assert napi.stake_set(20, mid)["requestedAmount"] == Decimal("9.5")
    assert napi.stake_get(participant.model) == Decimal(20)
    assert napi.stake_set(20, mid) is None
    drained = napi.stake_drain(mid)
    assert drained["drain"] is True and Decimal(drained["requestedAmount"]) == Decimal(20)
    assert napi.stake_get(participant.model) is None
    assert napi.get_account()["availableNmr"] == Decimal(100)
    kinds = [t["type"] for t in napi.wallet_transactions()]
    assert kinds.count("stake") == 2 and kinds.count("unstake") == 2 and kinds[-1] == "deposit"


def test_public_profile(server: Server, participant: Participant) -> None:
    napi = numerapi.NumerAPI(show_progress_bars=False, verbosity="error")
    profile = napi.public_user_profile(participant.model)
    assert profile["id"] == participant.model_id and profile["username"] == participant.model
    assert profile["startDate"].tzinfo is not None
    assert napi.models_of_account(participant.account) == {participant.model: participant.model_id}


# --- what goes wrong ------------------------------------------------------------------


def test_no_key_and_bad_keys(server: Server, participant: Participant) -> None:
    with pytest.raises(ValueError, match="API keys required"):
        numerapi.NumerAPI(show_progress_bars=False, verbosity="error").get_account()
    public, secret = participant.token.split("$")
    for pub, sec in ((public, secret[:-1] + ("A" if secret[-1] != "A" else "B")), ("NOPE", secret)):
        napi = numerapi.NumerAPI(pub, sec, show_progress_bars=False, verbosity="error")
        with pytest.raises(ValueError, match="Your session is invalid or has expired"):
            napi.get_account()
    response = httpx.post(server.graphql, json={"query": "{ account { username } }"},
                          headers={"Authorization": "Bearer x"})
    assert "is not 'Token'" in response.json()["errors"][0]["message"]


def test_scopes_are_enforced(server: Server, participant_factory) -> None:
    reader = participant_factory(scopes=("read",))
    napi = reader.api()
    assert napi.get_account()["username"] == reader.account
    with pytest.raises(ValueError, match="lacks scope 'upload'"):
        napi.upload_predictions(df=live_predictions(server), model_id=reader.model_id)
    with pytest.raises(ValueError, match="lacks scope 'stake'"):
        napi.stake_increase(1, reader.model_id)


def test_another_accounts_model(server: Server, participant_factory) -> None:
    alice, bob = participant_factory(), participant_factory()
    before = submission_count(server.home)
    with pytest.raises(ValueError, match=f"does not own model '{bob.model}'"):
        alice.api().upload_predictions(df=live_predictions(server), model_id=bob.model_id)
    with pytest.raises(ValueError, match=f"does not own model '{bob.model}'"):
        alice.api().stake_increase(1, bob.model_id)
    with pytest.raises(ValueError, match="no model with id"):
        alice.api().stake_increase(1, "00000000-0000-0000-0000-000000000000")
    assert submission_count(server.home) == before


def test_someone_elses_upload_slot_is_refused(server: Server, participant_factory) -> None:
    alice, bob = participant_factory(), participant_factory()
    query = """query($f: String!, $m: String) { submission_upload_auth(filename: $f, tournament: 8,
               modelId: $m) { filename url } }"""
    slot = bob.api().raw_query(query, {"f": "p.csv", "m": bob.model_id}, authorization=True)
    mutation = """mutation($f: String!, $m: String) { create_submission(filename: $f, tournament: 8,
                  modelId: $m) { id } }"""
    with pytest.raises(ValueError, match="is not an upload of account"):
        alice.api().raw_query(mutation, {"f": slot["data"]["submission_upload_auth"]["filename"],
                                         "m": alice.model_id}, authorization=True)


def test_malformed_files_and_missing_ids(server: Server, participant: Participant, tmp_path: Path) -> None:
    napi = participant.api()
    frame = live_predictions(server)
    before = submission_count(server.home)
    cases = {
        "garbage.csv": (b"\x00\x01 not a csv at all", "garbage.csv"),
        "noprediction.csv": (frame.rename(columns={"prediction": "p"}).to_csv(index=False).encode(), "prediction"),
        "half.csv": (frame.iloc[: len(frame) // 2].to_csv(index=False).encode(), "ids"),
        "nan.csv": (frame.assign(prediction=float("nan")).to_csv(index=False).encode(), "prediction"),
    }
    for name, (content, expected) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(ValueError, match=expected):
            napi.upload_predictions(str(path), model_id=participant.model_id)
    assert submission_count(server.home) == before


def test_nothing_uploaded(server: Server, participant: Participant) -> None:
    mutation = """mutation($m: String) { create_submission(filename: "%s/0123456789abcdef0123456789abcdef-p.csv",
                  tournament: 8, modelId: $m) { id } }"""
    napi = participant.api()
    account_id = napi.get_account()["id"]
    with pytest.raises(ValueError, match="nothing was uploaded"):
        napi.raw_query(mutation % account_id, {"m": participant.model_id}, authorization=True)


def test_tampered_upload_url(server: Server, participant: Participant) -> None:
    napi = participant.api()
    query = """query($m: String) { submission_upload_auth(filename: "p.csv", tournament: 8,
               modelId: $m) { filename url } }"""
    auth = napi.raw_query(query, {"m": participant.model_id}, authorization=True)["data"]
    url = auth["submission_upload_auth"]["url"]
    assert httpx.put(url.replace("p.csv", "q.csv"), content=b"id,prediction\n").status_code == 403
    assert httpx.get(url).status_code == 405  # an upload URL takes PUT only


def test_stake_larger_than_the_balance(server: Server, participant: Participant) -> None:
    napi = participant.api()
    with pytest.raises(ValueError, match=r"insufficient_funds: account '.*' has 100 available"):
        napi.stake_increase(101, participant.model_id)
    with pytest.raises(ValueError, match="has 0 staked"):
        napi.stake_decrease(1, participant.model_id)
    for bad in ("-1", "abc", "1e400", "0.0000000001"):
        with pytest.raises(ValueError, match="invalid_amount"):
            napi.stake_increase(bad, participant.model_id)
    assert napi.get_account()["availableNmr"] == Decimal(100)


def test_webhook_is_called_when_a_round_opens(tmp_path: Path, small_dataset: Path) -> None:
    calls: list[dict] = []
    received = threading.Event()

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            calls.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()
            received.set()

        def log_message(self, *args: object) -> None:
            pass

    hook = http.server.HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    home = make_home(tmp_path / "home", small_dataset)
    running = start_server(home)
    previous = numerapi.base_api.API_TOURNAMENT_URL
    numerapi.base_api.API_TOURNAMENT_URL = running.graphql
    try:
        carol = add_participant(home, "carol")
        napi = carol.api()
        assert napi.set_submission_webhook(carol.model_id, f"http://127.0.0.1:{hook.server_port}/go")
        with pytest.raises(ValueError, match="not an absolute http"):
            napi.set_submission_webhook(carol.model_id, "ftp://example.org/x")
        tournament_of(home).open_round()
        assert received.wait(10)
        assert calls == [{"roundNumber": 1, "modelId": carol.model_id, "modelName": carol.model,
                          "triggerId": calls[0]["triggerId"]}]
    finally:
        numerapi.base_api.API_TOURNAMENT_URL = previous
        stop_server(running)
        hook.shutdown()
        hook.server_close()


# --- limits and a closed round (servers of their own) ---------------------------------


@pytest.fixture(scope="module")
def limited(small_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = make_home(tmp_path_factory.mktemp("limited"), small_dataset)
    tournament_of(home).open_round()
    running = start_server(home, env={"CROWDALPHA_MAX_UPLOAD_BYTES": "60000",
                                      "CROWDALPHA_RATE_LIMIT": "30"})
    yield running
    stop_server(running)


@pytest.fixture
def limited_api(limited: Server) -> Iterator[Server]:
    previous = numerapi.base_api.API_TOURNAMENT_URL
    numerapi.base_api.API_TOURNAMENT_URL = limited.graphql
    yield limited
    numerapi.base_api.API_TOURNAMENT_URL = previous


def test_oversize_file(limited_api: Server, tmp_path: Path) -> None:
    dave = add_participant(limited_api.home, "dave")
    frame = live_predictions(limited_api)
    big = tmp_path / "big.csv"
    frame.assign(padding="x" * 40).to_csv(big, index=False)
    refused = r"upload of 'big\.csv' was refused: file is .* over the upload limit of 60000 bytes"
    with pytest.raises(ValueError, match=refused):
        dave.api().upload_predictions(str(big), model_id=dave.model_id)
    assert submission_count(limited_api.home) == 0


def test_rate_limit_per_key(limited_api: Server) -> None:
    erin, frank = add_participant(limited_api.home, "erin"), add_participant(limited_api.home, "frank")
    napi = erin.api()
    messages = []
    for _ in range(40):
        try:
            napi.get_account()
        except ValueError as error:
            messages.append(str(error))
    assert messages and all("rate_limited" in m and "retry in" in m for m in messages)
    assert frank.api().get_account()["username"] == "frank"  # another key is not slowed down


def test_closed_round_takes_no_submissions(small_dataset: Path, tmp_path: Path) -> None:
    home = make_home(tmp_path / "home", small_dataset)
    tournament = tournament_of(home)
    tournament.open_round()
    grace = add_participant(home, "grace")
    tournament.close_round(early=True)
    running = start_server(home)
    previous = numerapi.base_api.API_TOURNAMENT_URL
    numerapi.base_api.API_TOURNAMENT_URL = running.graphql
    try:
        napi = grace.api()
        assert napi.check_round_open() is False
        assert napi.get_current_round() == 1
        with pytest.raises(ValueError, match="Current round not open for submissions: round 1 closed at"):
            napi.upload_predictions(df=live_predictions(running), model_id=grace.model_id)
        assert submission_count(home) == 0
        assert len(round_live_ids((running.home / "store").as_posix() and _store(home), 1)) > 0
    finally:
        numerapi.base_api.API_TOURNAMENT_URL = previous
        stop_server(running)


def _store(home: Path):
    from crowdalpha.tournament.db import open_store

    return open_store(resolve_settings(home))


def test_diagnostics_of_validation_predictions(server: Server, participant: Participant,
                                               tmp_path: Path) -> None:
    from crowdalpha.toolkit.diagnostics import validation_diagnostics

    version = server.home / "datasets" / "v1"
    example = pd.read_parquet(version / "validation_example_preds.parquet")["prediction"]
    path = tmp_path / "validation_preds.csv"
    example.rename_axis("id").reset_index().to_csv(path, index=False)
    napi = participant.api()
    run_id = napi.upload_diagnostics(str(path), model_id=participant.model_id)
    got = napi.diagnostics(participant.model_id, run_id)
    assert got["status"] == "done" and got["updatedAt"].tzinfo is not None
    expected = validation_diagnostics(version, example).as_numerapi()
    assert got["validationCorrMean"] == pytest.approx(expected["validationCorrMean"], abs=1e-12)
    assert got["erasAcceptedCount"] == expected["erasAcceptedCount"] > 0
    assert len(got["perEraDiagnostics"]) == len(expected["perEraDiagnostics"])
    assert napi.diagnostics(participant.model_id) == got  # the latest by default
    with pytest.raises(ValueError, match="does not exist"):
        napi.diagnostics(participant.model_id, "00000000-0000-0000-0000-000000000000")
    bad = tmp_path / "bad.csv"
    bad.write_text("id,prediction\nnot-an-id,0.5\n")
    with pytest.raises(ValueError, match="1 ids are not validation ids, first: 'not-an-id'"):
        napi.upload_diagnostics(str(bad), model_id=participant.model_id)
