#!/usr/bin/env bash
# Make sure a headless browser is there for the report tests (tests/test_report_browser.py):
# Debian's Chromium at /usr/bin/chromium (with a font to draw text) and Playwright for Python in
# .venv, which drives it. Installs what is missing and does nothing when both are there.
# Never runs `playwright install`: the tests use Debian's Chromium, not a downloaded one.
# Exit status 0 when both are available at the end.
set -uo pipefail
cd "$(dirname "$0")/.."

PLAYWRIGHT_VERSION=1.65.2
CHROMIUM=/usr/bin/chromium
PYTHON=.venv/bin/python

have_playwright() {
    "$PYTHON" - "$PLAYWRIGHT_VERSION" <<'PY' >/dev/null 2>&1
import sys
from importlib.metadata import version
import playwright.sync_api  # noqa: F401
sys.exit(0 if version("playwright") == sys.argv[1] else 1)
PY
}

install_chromium() {
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "install-browser: $CHROMIUM not found and apt-get is not available" >&2
        return 1
    fi
    if [ "$(id -u)" -ne 0 ]; then
        echo "install-browser: $CHROMIUM not found; installing Debian's chromium needs root" >&2
        return 1
    fi
    echo "install-browser: installing Debian's chromium package" >&2
    export DEBIAN_FRONTEND=noninteractive
    local log status
    log=$(mktemp /tmp/install-browser.XXXXXX.log)
    apt_install() {
        apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core \
            </dev/null >>"$log" 2>&1
    }
    if ! apt_install; then
        apt-get update -q </dev/null >>"$log" 2>&1
        apt_install
    fi
    status=$?
    if [ -x "$CHROMIUM" ]; then
        rm -f "$log"
        return 0
    fi
    echo "install-browser: could not install chromium (apt-get exit $status); last lines:" >&2
    tail -n 20 "$log" >&2
    return 1
}

ok=0
if [ ! -x "$CHROMIUM" ]; then
    install_chromium || ok=1
fi

if [ ! -x "$PYTHON" ]; then
    echo "install-browser: $PYTHON not found; create the virtual environment first (make)" >&2
    ok=1
elif ! have_playwright; then
    echo "install-browser: installing playwright==$PLAYWRIGHT_VERSION into .venv" >&2
    "$PYTHON" -m pip install -q "playwright==$PLAYWRIGHT_VERSION" || ok=1
    have_playwright || { echo "install-browser: playwright is still not importable" >&2; ok=1; }
fi

if [ "$ok" -eq 0 ]; then
    echo "install-browser: $("$CHROMIUM" --version 2>/dev/null | head -n 1) and" \
        "playwright $PLAYWRIGHT_VERSION are ready" >&2
fi
exit "$ok"
