#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls exactly this). Installs what is missing,
# then, each stage failing the run on its first failure:
#   1. dev build (-O2, -Werror): unit, integration, process, docs and smoke tests
#   2. browser tests: Debian's Chromium and coturn against the dev binary
#   3. ASan + UBSan build: the unit and integration suites again
#   4. TSan build: the same, with the io_context on several threads
#
#   scripts/test.sh                 everything
#   SKIP_SANITIZERS=1 scripts/test.sh    stages 1 and 2 only (a quick local check)
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

stage() { printf '\n=== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }

scripts/install-deps.sh --test --browser

stage "dev build"
cmake --preset dev >/dev/null
cmake --build --preset dev
stage "dev tests"
ctest --preset dev

stage "browser tests"
SWITCHBOARD_BIN="$repo/build/dev/switchboard" scripts/browser-tests.sh

if [[ -z ${SKIP_SANITIZERS:-} ]]; then
  for preset in asan tsan; do
    stage "$preset build"
    cmake --preset "$preset" >/dev/null
    cmake --build --preset "$preset"
    stage "$preset tests"
    ctest --preset "$preset"
  done
fi
stage "all tests passed"
