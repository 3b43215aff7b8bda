#!/usr/bin/env bash
# The README's main command as a newcomer runs it: a fresh clone of this repository's
# committed HEAD, a fresh .venv without the test extras, `bash scripts/demo.sh` for a
# bounded time on a fast clock. Fails unless the demo's own venv lacks the test tools,
# the demo serves its pages and numerapi's GraphQL endpoint while it runs, resolves at
# least one round, and ends (exit 0) with a passing ledger audit.
#   DEMO_SECONDS (default 100), DEMO_DAY_SECONDS (default 1) and DEMO_OPEN_SECONDS (default 3:
#   the rounds' minimum wall-clock open window, 60 s by default for a person) tune the run.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
SECONDS_TO_RUN="${DEMO_SECONDS:-100}"
DAY_SECONDS="${DEMO_DAY_SECONDS:-1}"
OPEN_SECONDS="${DEMO_OPEN_SECONDS:-3}"
WORK="$(mktemp -d /tmp/crowdalpha-fresh.XXXXXX)"
DEMO=""
cleanup() {
    if [ -n "$DEMO" ]; then kill "$DEMO" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "ci_demo: FAILED: $*" >&2; echo "--- demo output ---" >&2; cat "$WORK/demo.log" >&2 || true; exit 1; }

git clone --quiet "$REPO" "$WORK/clone"
cd "$WORK/clone"
# nothing of the caller's environment: a newcomer has no CROWDALPHA_* variables set
for name in $(env | sed -n 's/^\(CROWDALPHA_[A-Z_]*\)=.*/\1/p'); do unset "$name"; done
PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
echo "ci_demo: fresh clone in $WORK/clone; bash scripts/demo.sh --duration $SECONDS_TO_RUN on port $PORT"
started=$(date +%s)
bash scripts/demo.sh --port "$PORT" --day-seconds "$DAY_SECONDS" --open-seconds "$OPEN_SECONDS" \
    --duration "$SECONDS_TO_RUN" \
    >"$WORK/demo.log" 2>&1 &
DEMO=$!

# while it runs: the home page, a round page and GraphQL answer (python3: no curl needed)
python3 - "$PORT" "$DEMO" "$SECONDS_TO_RUN" <<'PY' || fail "the demo never served its pages and GraphQL"
import json, os, sys, time, urllib.request
port, pid, budget = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
base = f"http://127.0.0.1:{port}"
deadline = time.monotonic() + budget + 900  # setup (venv, dataset) comes first
def get(path, data=None):
    headers = {"Content-Type": "application/json"} if data else {}
    with urllib.request.urlopen(urllib.request.Request(base + path, data, headers), timeout=10) as r:
        return r.status, r.read().decode()
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit("the demo ended before serving")
    try:
        home = get("/")
        round_page = get("/rounds/1")
        query = json.dumps({"query": "{ rounds(tournament: 8, number: 0) { number status } }"})
        answer = json.loads(get("/graphql", query.encode())[1])
    except (OSError, ValueError):
        time.sleep(2)
        continue
    if home[0] == 200 and "crowdalpha" in home[1] and round_page[0] == 200 and answer["data"]["rounds"][0]:
        print(f"ci_demo: pages and GraphQL served (round {answer['data']['rounds'][0]['number']})")
        sys.exit(0)
    time.sleep(2)
sys.exit("timed out")
PY

status=0
wait "$DEMO" || status=$?
DEMO=""
echo "ci_demo: the demo ran $(( $(date +%s) - started )) s (setup included) and exited with $status"
[ "$status" -eq 0 ] || fail "the demo exited with status $status"
if .venv/bin/python -c "import pytest" 2>/dev/null; then
    fail "the demo's venv has the test extras installed; it must run without them"
fi
grep -Eq "rounds opened, [1-9][0-9]* resolved" "$WORK/demo.log" || fail "no round resolved"
grep -q "ledger audit: .*; OK" "$WORK/demo.log" || fail "the ledger audit did not pass"
tail -n 4 "$WORK/demo.log"
echo "ci_demo: OK (pages served, a round resolved, audit passed, no test extras)"
