#!/usr/bin/env bash
# Makes sure the Debian packages some tests need are on this machine: docker-compose (parses
# docker-compose.yml without an engine) and prometheus (promtool checks deploy/prometheus.yml and
# the dashboard's queries) for test/unit/deploy-config.test.ts, and chromium for the browser tests
# (scripts/ensure-browser.sh). Installed with apt-get when we are root and have it; otherwise it
# says what to install and the tests that need them fail naming the package. Idempotent.
set -uo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "ensure-system-tools: installing Debian packages: ${missing[*]}"
    log=$(mktemp)
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
      tail -n 30 "$log" >&2
      echo "ensure-system-tools: apt-get install ${missing[*]} failed (see above); the tests that need them will fail" >&2
    fi
    rm -f "$log"
  else
    echo "ensure-system-tools: missing ${missing[*]} (install the Debian packages: ${missing[*]}); the tests that need them will fail" >&2
  fi
fi
bash scripts/ensure-browser.sh || echo "ensure-system-tools: no chromium; the browser tests will fail naming it" >&2
exit 0
