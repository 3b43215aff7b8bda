#!/usr/bin/env bash
# The main job: set up, then run the crowdalpha demo (extra arguments go to `crowdalpha demo`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/crowdalpha demo "$@"
