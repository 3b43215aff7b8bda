#!/usr/bin/env bash
# Make sure a headless Chromium and its WebDriver are installed for the browser tests:
# Debian's `chromium` and `chromium-driver` (same version, so they always match).
# As root with apt-get it installs them when missing; otherwise it only reports.
# The tests use /usr/bin/chromium and /usr/bin/chromedriver and never download a browser.
set -euo pipefail

log() { printf 'ci_browser: %s\n' "$*" >&2; }

if [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]]; then
    exit 0
fi
if [[ $EUID -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    log "chromium/chromedriver missing and cannot install them (need root and apt-get); browser tests will be skipped"
    exit 0
fi
log "installing chromium and chromium-driver with apt-get"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2 || true
apt-get install -y -qq chromium chromium-driver >&2
