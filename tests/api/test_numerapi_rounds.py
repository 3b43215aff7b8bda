"""Rounds, datasets and downloads through numerapi against a real server."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numerapi
import pandas as pd
import pytest

from crowdalpha.data import layout
from crowdalpha.server.settings import resolve_server_settings
from crowdalpha.tournament.clock import ReplayClock
from tests.helpers.server import make_home
from tests.helpers.web import in_process


def test_current_round_is_open_and_new(server) -> None:
    napi = numerapi.NumerAPI(show_progress_bars=False, verbosity="error")
    assert napi.get_current_round() == 1
    assert napi.check_round_open() is True
    assert napi.check_new_round(hours=1) is True


def test_list_rounds_and_competitions_carry_aware_times(server) -> None:
    napi = numerapi.NumerAPI(show_progress_bars=False, verbosity="error")
    [round1] = napi.list_rounds()
    assert round1["number"] == 1 and round1["tournament"] == 8
    assert round1["openTime"].tzinfo is not None
    assert round1["openTime"] < datetime.now(UTC) < round1["closeStakingTime"]
    assert round1["resolveTime"] > round1["scoreTime"] > round1["closeTime"]
    assert round1["payoutFactor"] is None  # fixed at the close
    assert {c["name"] for c in round1["roundScoreConfigs"]} == {"corr", "mmc"}
    assert napi.list_rounds(status="open")[0]["number"] == 1
    assert napi.list_rounds(status="resolved") == []
    [competition] = napi.get_competitions()
    assert competition["number"] == 1 and competition["resolvedStaking"] is False


def test_list_datasets_names_the_public_files(server) -> None:
    napi = numerapi.NumerAPI(show_progress_bars=False, verbosity="error")
    names = napi.list_datasets()
    assert {f"v1/{name}" for name in layout.PUBLIC_FILES} <= set(names)
    assert not any(".operator" in name for name in names)


def test_download_dataset_matches_the_file(server, tmp_path: Path) -> None:
    napi = numerapi.NumerAPI(show_progress_bars=False, verbosity="error")
    dest = napi.download_dataset("v1/live.parquet", str(tmp_path / "live.parquet"))
    original = server.home / "datasets" / "v1" / "live.parquet"
    assert Path(dest).read_bytes() == original.read_bytes()
    assert isinstance(pd.read_parquet(dest), pd.DataFrame)


def test_download_resumes_with_a_range_request(server, tmp_path: Path) -> None:
    napi = numerapi.NumerAPI(show_progress_bars=False, verbosity="error")
    original = (server.home / "datasets" / "v1" / "features.json").read_bytes()
    dest = tmp_path / "features.json"
    (tmp_path / "features.json.temp").write_bytes(original[:100])  # an interrupted download
    napi.download_dataset("v1/features.json", str(dest))
    assert dest.read_bytes() == original


def _signed(napi: numerapi.NumerAPI, filename: str) -> str:
    query = "query($f: String!) { dataset(filename: $f) }"
    return napi.raw_query(query, {"f": filename})["data"]["dataset"]


def test_head_and_ranges(server) -> None:
    napi = numerapi.NumerAPI(show_progress_bars=False, verbosity="error")
    url = _signed(napi, "v1/features.json")
    size = len((server.home / "datasets" / "v1" / "features.json").read_bytes())
    head = httpx.head(url)
    assert head.status_code == 200 and int(head.headers["content-length"]) == size
    assert head.headers["accept-ranges"] == "bytes"
    part = httpx.get(url, headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and len(part.content) == 10
    assert part.headers["content-range"] == f"bytes 10-19/{size}"
    tail = httpx.get(url, headers={"Range": "bytes=-5"})
    assert tail.status_code == 206 and len(tail.content) == 5
    assert httpx.get(url, headers={"Range": f"bytes={size}-"}).status_code == 416


@pytest.mark.parametrize("change", ["signature", "path", "expires", "drop"])
def test_tampered_urls_are_refused(server, change: str) -> None:
    napi = numerapi.NumerAPI(show_progress_bars=False, verbosity="error")
    url = _signed(napi, "v1/features.json")
    base, _, query = url.partition("?")
    params = dict(p.split("=") for p in query.split("&"))
    if change == "signature":
        params["signature"] = "0" * 64
    elif change == "path":
        base = base.replace("features.json", "train.parquet")
    elif change == "expires":
        params["expires"] = str(int(params["expires"]) + 3600)
    else:
        params = {}
    tampered = base + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")
    response = httpx.get(tampered)
    assert response.status_code == 403
    assert "signature" in response.json()["detail"] or "not signed" in response.json()["detail"]


def test_a_url_expires_on_the_servers_clock(tmp_path: Path, small_dataset: Path) -> None:
    """A signed URL lives ``CROWDALPHA_URL_TTL`` seconds of the server's clock: moving a
    replay clock past the expiry refuses it (no sleeping)."""
    home = make_home(tmp_path / "home", small_dataset)
    settings = resolve_server_settings(home, environ={"CROWDALPHA_URL_TTL": "60"})
    clock = ReplayClock(datetime(2024, 1, 6, 18, 0, tzinfo=UTC))

    async def scenario() -> None:
        async with in_process(settings, clock=clock) as client:
            answer = await client.post(
                "/graphql", json={"query": '{ dataset(filename: "v1/features.json") }'}
            )
            url = answer.json()["data"]["dataset"]
            assert f"expires={int(clock.now().timestamp()) + 60}&" in url
            assert (await client.get(url)).status_code == 200
            clock.advance(seconds=60)
            assert (await client.head(url)).status_code == 200  # still valid at its expiry
            clock.advance(seconds=1)
            refused = await client.get(url)
            assert refused.status_code == 403
            assert "expired at 2024-01-06T18:01:00+00:00" in refused.json()["detail"]

    asyncio.run(scenario())


def test_unknown_dataset_and_other_tournament_are_clear_errors(server) -> None:
    napi = numerapi.NumerAPI(show_progress_bars=False, verbosity="error")
    with pytest.raises(ValueError, match=r"no dataset file .v9/train\.parquet.; available: v1/"):
        napi.download_dataset("v9/train.parquet", "/dev/null")
    with pytest.raises(ValueError, match="tournament 11 does not exist"):
        napi.get_current_round(tournament=11)


def test_bad_requests_never_give_500(server) -> None:
    for body in (b"not json", b"[]", b'{"query": 5}', b'{"query": "{ nope }"}',
                 b'{"query": "query { rounds(number: \\"x\\") { number } }"}', b'{"query": "{"}'):
        response = httpx.post(server.graphql, content=body, headers={"content-type": "application/json"})
        assert response.status_code in (200, 400), body
        assert response.json()["errors"][0]["message"]
