#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls exactly this). Installs what is missing,
# then, each stage failing the run on its first failure:
#   1. dev build (-O2, -Werror): unit, integration, process, docs and smoke tests
#   2. browser tests: Debian's Chromium and coturn against the dev binary
#   3. container: the Dockerfile built with podman and run, compose.yaml with podman-compose
#      (scripts/container-tests.sh)
#   4. ASan + UBSan build: the unit and integration suites again
#   5. TSan build: the same, with the io_context on several threads
#
#   scripts/test.sh                 everything
#   SKIP_SANITIZERS=1 scripts/test.sh    without stages 4 and 5 (a quick local check)
#   SKIP_CONTAINER=1 scripts/test.sh     without stage 3
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

stage() { printf '\n=== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }

# Runs a test preset; on failure repeats the end of each failed test's output last, where a
# CI log that keeps only its tail still shows why (a fuzzer's finding cannot be re-run).
run_tests() {
  local preset=$1 dir=$2
  if ctest --preset "$preset"; then return 0; fi
  local log="$dir/Testing/Temporary/LastTest.log" name
  while IFS=: read -r _ name; do
    printf '\n=== output of failed test %s (last 60 lines)\n' "$name"
    awk -v name="$name" '
      $0 ~ ("^[0-9]+/[0-9]+ Testing: " name "$") { on = 1; next }
      on && /^"?[^"]*"? end time:/ { on = 0 }
      on && /^[0-9]+\/[0-9]+ Testing: / { on = 0 }
      on { print }' "$log" | tail -n 60
  done <"$dir/Testing/Temporary/LastTestsFailed.log"
  return 1
}

scripts/install-deps.sh --test --browser

stage "dev build"
cmake --preset dev >/dev/null
cmake --build --preset dev
stage "dev tests"
run_tests dev build/dev

stage "browser tests"
SWITCHBOARD_BIN="$repo/build/dev/switchboard" scripts/browser-tests.sh

if [[ -z ${SKIP_CONTAINER:-} ]]; then
  stage "container tests"
  scripts/container-tests.sh
fi

if [[ -z ${SKIP_SANITIZERS:-} ]]; then
  for preset in asan tsan; do
    stage "$preset build"
    cmake --preset "$preset" >/dev/null
    cmake --build --preset "$preset"
    stage "$preset tests"
    run_tests "$preset" "build/$preset"
  done
fi
stage "all tests passed"
