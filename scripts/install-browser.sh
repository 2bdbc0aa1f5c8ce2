#!/usr/bin/env bash
# Installs Debian's chromium for the console's headless-browser tests (tests/e2e/test_console.py).
# Idempotent: does nothing when /usr/bin/chromium is already there. Playwright drives this binary
# through `executable_path`; we never run `playwright install` (no downloaded browser builds).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "install-browser.sh: /usr/bin/chromium is missing and installing it needs root (or sudo);" \
         "the console's browser tests will be skipped" >&2
    exit 0
  fi
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
# A failed install (no mirror reachable) must not fail the whole run: the browser tests then
# skip with a message naming this script.
if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends chromium; }; then
  echo "install-browser.sh: could not install chromium; the console's browser tests will be skipped" >&2
fi
