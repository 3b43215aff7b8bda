#!/usr/bin/env bash
# Set up, start the services the tests need (a PostgreSQL server on loopback, a
# headless Chromium for the web page tests),
# lint, and run the whole test suite. pytest reports the 25 slowest tests
# (--durations=25) so that a test that starts to sleep or rebuild shows up.
# Extra arguments go to pytest (e.g. a file, -k NAME, or --durations=0 for all).
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS=test bash scripts/setup.sh
.venv/bin/ruff check .
bash scripts/ci_browser.sh
if [ -z "${CROWDALPHA_TEST_PG_URL:-}" ]; then
    eval "$(bash scripts/ci_postgres.sh start)"
    trap 'bash scripts/ci_postgres.sh stop "$CROWDALPHA_TEST_PG_DIR"' EXIT
fi
.venv/bin/python -m pytest --durations=25 "$@"
