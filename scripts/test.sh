#!/usr/bin/env bash
# Set up, start the services the tests need (a PostgreSQL server on loopback, a
# headless Chromium for the web page tests),
# lint, and run the whole test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS=test bash scripts/setup.sh
.venv/bin/ruff check .
bash scripts/ci_browser.sh
if [ -z "${CROWDALPHA_TEST_PG_URL:-}" ]; then
    eval "$(bash scripts/ci_postgres.sh start)"
    trap 'bash scripts/ci_postgres.sh stop "$CROWDALPHA_TEST_PG_DIR"' EXIT
fi
.venv/bin/python -m pytest "$@"
