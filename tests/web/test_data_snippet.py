"""The Data page's numerapi snippet, run as a person would copy it: against a served
tournament with a round open, it downloads the data and makes a submission the server takes."""

from __future__ import annotations

import html
import re
import subprocess
import sys
from pathlib import Path

import httpx
import numerapi
import numerapi.base_api

from tests.helpers.server import (
    add_participant,
    make_home,
    start_server,
    stop_server,
    tournament_of,
)


def snippet_of(page: str) -> str:
    """The snippet's Python, as shown (the ``pip install`` line is for the shell)."""
    found = re.search(r'<pre id="numerapi-snippet"><code>(.*?)</code></pre>', page, re.S)
    assert found is not None, page[:2000]
    lines = html.unescape(found.group(1)).splitlines()
    return "\n".join(line for line in lines if not line.startswith("pip install"))


def test_the_data_page_snippet_submits_predictions_the_server_accepts(
    small_dataset: Path, tmp_path: Path
) -> None:
    home = make_home(tmp_path / "home", small_dataset)
    tournament_of(home).open_round()
    person = add_participant(home, "copier")
    server = start_server(home)
    try:
        code = snippet_of(httpx.get(f"{server.url}/data", timeout=30).text)
        public_id, secret = person.token.split("$")
        code = (code.replace("YOUR_PUBLIC_ID", public_id).replace("YOUR_SECRET", secret)
                .replace("your_model_name", person.model))
        workdir = tmp_path / "person"
        workdir.mkdir()
        (workdir / "snippet.py").write_text(code)
        ran = subprocess.run([sys.executable, "snippet.py"], cwd=workdir, capture_output=True,
                             text=True, timeout=120)
        assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-3000:]
        previous, numerapi.base_api.API_TOURNAMENT_URL = (numerapi.base_api.API_TOURNAMENT_URL,
                                                          server.graphql)
        try:
            submitted = person.api().get_submission_filenames(model_id=person.model_id)
        finally:
            numerapi.base_api.API_TOURNAMENT_URL = previous
        assert [(s["round_num"], s["filename"]) for s in submitted] == [(1, "predictions.csv")]
    finally:
        stop_server(server)
