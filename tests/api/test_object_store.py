"""The server works from a non-local fsspec store (here fsspec's in-memory filesystem,
standing in for S3): uploads land there, submissions are read back with byte ranges."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import fsspec
import httpx
import pandas as pd

from crowdalpha.server.app import create_app
from crowdalpha.server.settings import resolve_server_settings
from crowdalpha.tournament.db import make_engine, migrate
from tests.helpers.server import add_participant, make_home, tournament_of

UPLOAD_AUTH = """query($m: String) { submission_upload_auth(filename: "p.csv", tournament: 8,
                 modelId: $m) { filename url } }"""
CREATE = """mutation($f: String!, $m: String) { create_submission(filename: $f, tournament: 8,
            modelId: $m) { id } }"""
DOWNLOAD = "query($id: String) { submissionDownloadAuth(id: $id) { filename url } }"


def test_submission_round_trip_through_an_object_store(
    tmp_path: Path, small_dataset: Path, monkeypatch
) -> None:
    store_url = f"memory://crowdalpha-{uuid.uuid4().hex}"
    monkeypatch.setenv("CROWDALPHA_STORE", store_url)
    home = make_home(tmp_path / "home", small_dataset)
    settings = resolve_server_settings(home, environ={"CROWDALPHA_STORE": store_url})
    engine = make_engine(settings.home.db_url)
    migrate(engine)
    engine.dispose()
    tournament_of(home).open_round()
    alice = add_participant(home, "alice")
    headers = {"Authorization": f"Token {alice.token}"}
    live = pd.read_parquet(home / "datasets" / "v1" / "live.parquet", columns=["era"])
    body = pd.DataFrame({"id": live.index, "prediction": 0.5 + 0.0001 * pd.RangeIndex(len(live)) / len(live)})

    async def scenario() -> tuple[httpx.Response, httpx.Response]:
        transport = httpx.ASGITransport(app=create_app(settings))
        async with httpx.AsyncClient(transport=transport, base_url=settings.public_url) as client:
            async def gql(query: str, variables: dict) -> dict:
                answer = await client.post(
                    "/graphql", json={"query": query, "variables": variables}, headers=headers
                )
                assert "errors" not in answer.json(), answer.json()
                return answer.json()["data"]

            auth = (await gql(UPLOAD_AUTH, {"m": alice.model_id}))["submission_upload_auth"]
            put = await client.put(auth["url"], content=body.to_csv(index=False).encode())
            assert put.status_code == 200
            created = await gql(CREATE, {"f": auth["filename"], "m": alice.model_id})
            download = await gql(DOWNLOAD, {"id": created["create_submission"]["id"]})
            url = download["submissionDownloadAuth"]["url"]
            assert download["submissionDownloadAuth"]["filename"] == "p.csv"
            return await client.get(url), await client.get(url, headers={"Range": "bytes=4-11"})

    whole, part = asyncio.run(scenario())
    assert whole.status_code == 200 and part.status_code == 206
    assert whole.content == body.to_csv(index=False).encode()  # the file as it was submitted
    assert part.content == whole.content[4:12]
    fs = fsspec.filesystem("memory")
    stored = [p for p in fs.find(store_url.removeprefix("memory://")) if "/submissions/" in p]
    assert sorted(p.rsplit(".", 1)[-1] for p in stored) == ["csv", "npy"]
    assert not any("/uploads/" in p for p in fs.find(store_url.removeprefix("memory://")))
