#!/usr/bin/env bash
# Runs the browser tests (tests/browser/): real daemon, Debian's Chromium
# (headless, fake camera), coturn for the TURN test.
#
#   scripts/browser-tests.sh                  all test files
#   scripts/browser-tests.sh call.test.js     some of them (names in tests/browser/)
#
# Environment:
#   SWITCHBOARD_BIN        daemon binary (default build/dev/switchboard)
#   BROWSER_TESTS_TIMEOUT  overall limit in seconds (default 600)
#   UPDATE_SCREENSHOT=1    also refresh docs/screenshot.png
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

export SWITCHBOARD_BIN=${SWITCHBOARD_BIN:-$repo/build/dev/switchboard}
if [[ ! -x $SWITCHBOARD_BIN ]]; then
  echo "browser-tests: no daemon at $SWITCHBOARD_BIN (build it first, or set SWITCHBOARD_BIN)" >&2
  exit 1
fi

"$repo/scripts/install-deps.sh" --browser
cd tests/browser
npm ci --no-audit --no-fund --loglevel=error

files=()
for f in "${@:-}"; do
  [[ -n $f ]] && files+=("${f#tests/browser/}")
done
((${#files[@]})) || files=(*.test.js)

# The test files start and stop the daemon, coturn and Chromium themselves, and
# kill them on SIGTERM/SIGINT. `timeout` signals its whole process group on
# expiry; the trap covers this script being interrupted.
runner=
cleanup() {
  if [[ -n $runner ]] && kill -0 "$runner" 2>/dev/null; then
    kill -TERM "$runner" 2>/dev/null || true
    wait "$runner" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

timeout --kill-after=20 "${BROWSER_TESTS_TIMEOUT:-600}" \
  node --test --test-concurrency=1 --test-reporter=spec "${files[@]}" &
runner=$!
status=0
wait "$runner" || status=$?
runner=
if ((status == 124)); then
  echo "browser-tests: timed out after ${BROWSER_TESTS_TIMEOUT:-600} s" >&2
fi
exit "$status"
