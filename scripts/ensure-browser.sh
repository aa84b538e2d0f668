#!/usr/bin/env bash
# Makes sure a headless Chromium is on this machine for the browser tests
# (test/e2e/report.test.ts, test/e2e/web-ui-browser.test.ts). Debian's `chromium` package:
# installed with apt-get when we are root and have apt-get, else we say what to install.
# Idempotent and quiet when Chromium is already there. Exit 0 when Chromium is usable.
# Override the browser with DRAIN_CHROMIUM=/path/to/chromium.
set -euo pipefail

find_chromium() {
  local c p
  for c in "${DRAIN_CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser chromium chromium-browser; do
    [ -n "$c" ] || continue
    p=$(command -v "$c" 2>/dev/null) || continue
    if [ -f "$p" ] && [ -x "$p" ]; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

if [ -n "${DRAIN_CHROMIUM:-}" ] && ! { [ -f "$DRAIN_CHROMIUM" ] && [ -x "$DRAIN_CHROMIUM" ]; }; then
  echo "ensure-browser: DRAIN_CHROMIUM=$DRAIN_CHROMIUM is not an executable file" >&2
  exit 1
fi
if path=$(find_chromium); then
  exit 0
fi

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure-browser: chromium is missing; installing Debian's chromium package (apt-get install -y --no-install-recommends chromium fonts-liberation)..."
  log=$(mktemp)
  trap 'rm -f "$log"' EXIT
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-liberation; } >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "ensure-browser: apt-get install chromium failed (see above)" >&2
    exit 1
  fi
  if path=$(find_chromium); then
    echo "ensure-browser: installed $("$path" --version 2>/dev/null || echo "$path")"
    exit 0
  fi
  echo "ensure-browser: apt-get installed chromium, but no chromium is on PATH" >&2
  exit 1
fi

cat >&2 <<'MSG'
ensure-browser: chromium is missing, and this script can only install it as root with apt-get.
Install the Debian/Ubuntu package "chromium" (sudo apt-get install chromium), or point
DRAIN_CHROMIUM at a Chromium/Chrome binary, then run the browser tests again.
MSG
exit 1
