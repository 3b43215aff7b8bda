"""A person joins the live demo with their own numerapi script, unchanged: it polls
``check_round_open()`` and submits to every round; SIGTERM then ends the demo as Ctrl-C
does (leaderboard, audit, exit status from the audit)."""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from tests.helpers.server import free_port

REPO = Path(__file__).resolve().parents[2]
#: A market day every 0.4 s, but each round open 4 s of wall time (plus the opening's 1 s):
#: a round opens about every 7 s and resolves about 28 s after its close.
DAY_SECONDS = 0.4
OPEN_SECONDS = 4
ROUNDS = 3

#: The person's script: polls check_round_open() as a Numerai participant's cron job does.
SCRIPT = textwrap.dedent('''
    import sys, time
    import numerapi, numerapi.base_api
    import pandas as pd

    numerapi.base_api.API_TOURNAMENT_URL = sys.argv[1]
    public_id, secret = sys.argv[2].split("$")
    napi = numerapi.NumerAPI(public_id, secret, verbosity="error", show_progress_bars=False)
    model_id = napi.get_models()[sys.argv[3]]
    example = [n for n in napi.list_datasets() if n.endswith("/live_example_preds.parquet")][-1]
    done = []
    deadline = time.monotonic() + 100
    while len(done) < int(sys.argv[4]) and time.monotonic() < deadline:
        if napi.check_round_open():
            number = napi.get_current_round()
            if number not in done:
                fresh, not_yet = napi.check_new_round(hours=1), napi.check_new_round(hours=0)
                napi.download_dataset(example, "example.parquet")
                preds = pd.read_parquet("example.parquet")
                preds[preds.columns[0]] = preds[preds.columns[0]].rank(pct=True)
                napi.upload_predictions(df=preds.reset_index(), model_id=model_id)
                times = napi.raw_query(
                    "query($n: Int!) { rounds(number: $n) { openTime closeStakingTime } }",
                    {"n": number})["data"]["rounds"][0]
                open_for = (pd.Timestamp(times["closeStakingTime"])
                            - pd.Timestamp(times["openTime"])).total_seconds()
                print(f"submitted {number} new={fresh} new0={not_yet} open_for={open_for:.2f}",
                      flush=True)
                done.append(number)
        time.sleep(0.25)
''')


def _reader(stream, lines: queue.Queue[str], seen: list[str]) -> None:
    for line in stream:
        seen.append(line)
        lines.put(line)


def _wait_for(lines: queue.Queue[str], pattern: str, timeout: float) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(deadline - time.monotonic(), 0.01))
        except queue.Empty:
            break
        if found := re.search(pattern, line):
            return found
    raise AssertionError(f"no line matching {pattern!r} within {timeout:g} s")


@pytest.fixture(scope="module")
def joined(small_dataset: Path, tmp_path_factory: pytest.TempPathFactory):
    """The demo in a process of its own, a person's script against it, then SIGTERM."""
    home = tmp_path_factory.mktemp("join-home")
    shutil.copytree(small_dataset, home / "datasets" / small_dataset.name)
    (home / "person.py").write_text(SCRIPT)
    port = free_port()
    env = {**os.environ, "CROWDALPHA_HOME": str(home)}
    for name in ("CROWDALPHA_DB", "CROWDALPHA_STORE"):
        env.pop(name, None)
    began = time.monotonic()
    demo = subprocess.Popen(
        [sys.executable, "-m", "crowdalpha", "demo", "--day-seconds", str(DAY_SECONDS),
         "--open-seconds", str(OPEN_SECONDS), "--port", str(port), "--participants", "2"],
        cwd=home, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    seen: list[str] = []
    reader = threading.Thread(target=_reader, args=(demo.stdout, lines, seen), daemon=True)
    reader.start()
    try:
        key = _wait_for(lines, r"API key: (\S+)", 90).group(1)
        person = subprocess.run(
            [sys.executable, str(home / "person.py"), f"http://127.0.0.1:{port}/graphql", key,
             "you_model", str(ROUNDS)],
            cwd=home, capture_output=True, text=True, timeout=150,
        )
        _wait_for(lines, r"round 1 resolved", 90)
        demo.send_signal(signal.SIGTERM)
        code = demo.wait(timeout=60)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
        reader.join(10)  # the last lines
        demo.stdout.close()
    return person, "".join(seen), code, time.monotonic() - began


def test_a_script_polling_check_round_open_submits_to_consecutive_rounds(joined) -> None:
    person, out, _code, _took = joined
    assert person.returncode == 0, person.stderr[-3000:] + out[-3000:]
    submitted = re.findall(r"submitted (\d+) new=(\w+) new0=(\w+) open_for=([\d.]+)", person.stdout)
    numbers = [int(s[0]) for s in submitted]
    assert len(numbers) == ROUNDS, person.stdout + person.stderr[-2000:]
    assert numbers == list(range(numbers[0], numbers[0] + ROUNDS))  # consecutive rounds
    assert all(s[1] == "True" and s[2] == "False" for s in submitted)  # opened within the hour
    assert all(float(s[3]) >= OPEN_SECONDS for s in submitted)  # open that long on the wall clock
    print(f"rounds {numbers} open for {[float(s[3]) for s in submitted]} s; took {_took:.1f} s")


def test_sigterm_ends_the_demo_like_ctrl_c(joined) -> None:
    _person, out, code, _took = joined
    assert code == 0, out[-3000:]
    assert "stopping ..." in out
    assert re.search(r"Live tournament: \d+ rounds opened, [1-9]\d* resolved", out)
    assert "model" in out.split("Live tournament:")[1]  # the leaderboard's table follows
    assert re.search(r"; OK", out) and "kept in" in out
    assert "Traceback" not in out
