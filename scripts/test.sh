#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls exactly this). Installs what is missing,
# then, each stage failing the run on its first failure:
#   1. dev build (-O2, -Werror): unit, integration, process, docs and smoke tests
#   2. browser tests: Debian's Chromium and coturn against the dev binary
#   3. container: the Dockerfile built with podman and run, compose.yaml with podman-compose
#      (scripts/container-tests.sh)
#   4. ASan + UBSan build: the unit, integration, cluster, smoke and fuzz tests again (the
#      asan test preset leaves out the docs, deploy and bench labels: see tests/CMakeLists.txt)
#   5. TSan build: the same without the fuzzers, with the io_context on several threads
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

# ccache (installed by --test) keeps the compiled objects between runs, beside the container
# stage's base image; CCACHE_BASEDIR makes a clone at another path hit the same entries. The
# sloppiness is what precompiled headers need (ccache's manual, "Precompiled headers"); the
# clang builds add -fno-pch-timestamp (CMakeLists.txt). A clean machine starts empty: then it
# only adds the cost of filling the cache (a few seconds).
launcher=
if command -v ccache >/dev/null; then
  launcher=ccache
  export CCACHE_DIR=${CCACHE_DIR:-${SWITCHBOARD_CACHE_DIR:-$HOME/.cache/switchboard}/ccache}
  export CCACHE_BASEDIR=$repo
  export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
fi
# configure PRESET: with the launcher always set (or cleared), so that a build dir made
# before ccache was there follows too.
configure() { cmake --preset "$1" -DCMAKE_CXX_COMPILER_LAUNCHER="$launcher" >/dev/null; }

stage "dev build"
configure dev
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
    configure "$preset"
    cmake --build --preset "$preset"
    stage "$preset tests"
    run_tests "$preset" "build/$preset"
  done
fi
stage "all tests passed"
