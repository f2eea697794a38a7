#!/usr/bin/env bash
# Side-by-side benchmark of switchboard and PeerJS server 1.0.2 with switchboard-bench, the
# same load generator for both; writes docs/benchmarks.md. About 11 minutes of measurements,
# after the release build and at most QUIET_WAIT seconds (300) waiting for a quiet machine.
#
#   bench/run.sh                    everything
#   QUICK=1 bench/run.sh            shorter windows and smaller counts (a dry run)
#   NO_PROFILE=1 bench/run.sh       skip the perf profile of the daemon
#   OUT=FILE bench/run.sh           write the report elsewhere
#   KEEP=DIR bench/run.sh           also keep the raw results (JSON lines, profile) in DIR
#   METRICS_COST=1 bench/run.sh     then bench/metrics_cost.sh: the relay path's CPU per message
#                                   before metrics, counting, and scraped every second
#
# Nothing is pinned: the servers and the generator share the machine's cores, as recorded
# in the report. Every server started here is stopped on exit, whatever happens.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
source bench/lib.sh
out=${OUT:-$repo/docs/benchmarks.md}

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# --- 1. PeerJS server from npm, at the version in bench/package-lock.json
if [[ ! -f bench/node_modules/peer/package.json ]]; then
  log "installing PeerJS server (npm ci)"
  (cd bench && npm ci --no-audit --no-fund --loglevel=error)
fi
peerjs_version=$(node -p "require('./bench/node_modules/peer/package.json').version")

# --- 2. release build (tests off, bench on). GCC 12 at -O3 reports a false -Wrestrict in
# std::string code of src/api/static_files.cpp, so warnings are not fatal in this build;
# the dev build (-O2) keeps -Werror.
log "building the release preset"
cmake --preset release -DSWITCHBOARD_WERROR=OFF >/dev/null
cmake --build --preset release >/dev/null
daemon=$repo/build/release/switchboard
bench=$repo/build/release/bench/switchboard-bench

# --- 3. scratch space (tmpfs when there is one, so SQLite's fsyncs stay out of the way)
work=$(mktemp -d /dev/shm/switchboard-bench.XXXXXX 2>/dev/null || mktemp -d)
server_pid=
cleanup() {
  stop_server
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Each process may hold 20,000 descriptors here; the generator and the server each get their own.
ulimit -n "$(ulimit -Hn)"

# The daemon's benchmark settings: per-connection limits (rate, connections per address,
# send queue) out of the way, since one generator plays thousands of users from one
# address, and a cheap password hash so registering thousands of users takes seconds.
sb_env=(SERVER_HOST=127.0.0.1 SERVER_PORT=0 DB_PATH="$work/bench.db" WEB_ROOT="$work"
  RATE_LIMIT_PER_SEC=1000000 RATE_LIMIT_BURST=1000000 MAX_CONNECTIONS_PER_IP=100000
  MAX_CONNECTIONS=100000 ARGON2_OPSLIMIT=1 ARGON2_MEMLIMIT=8192 WS_SEND_QUEUE=100000
  LOG_LEVEL=warn)

server_url=
start_server() {  # start_server switchboard|peerjs
  local name=$1 stdout=$work/$1.stdout
  : >"$stdout"
  if [[ $name == switchboard ]]; then
    env "${sb_env[@]}" "$daemon" >"$stdout" 2>>"$work/$name.stderr" &
  else
    node bench/peerjs-server.mjs 0 >"$stdout" 2>>"$work/$name.stderr" &
  fi
  server_pid=$!
  server_url=
  for _ in $(seq 100); do
    server_url=$(sed -n 's/^listening on \(http:\/\/[^ ]*\).*/\1/p' "$stdout" | head -n1)
    [[ -n $server_url ]] && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  log "$name did not start:"; cat "$work/$name.stderr" >&2
  exit 1
}

results=$work/results.jsonl
: >"$results"
commands=$work/commands.txt
: >"$commands"

# run_case LABEL SERVER BENCH-ARGS...: a fresh server per case, so one case's garbage never
# shows up in the next one's memory or CPU figures.
run_case() {
  local label=$1 server=$2
  shift 2
  start_server "$server"
  log "$label: $server $*"
  local args=(--server "$server" --url "$server_url" --server-pid "$server_pid"
    --users-file "$work/users.txt" --json "$results" --label "$label" "$@")
  local command="switchboard-bench --server $server --url URL --server-pid PID $*"
  grep -qxF -- "$command" "$commands" || echo "$command" >>"$commands"
  if ! "$bench" "${args[@]}" >"$work/last.json" 2>"$work/last.err"; then
    log "$label against $server reported a problem: $(cat "$work/last.err") $(cat "$work/last.json")"
  fi
  stop_server
}

# A benchmark on a busy machine measures the other load too: wait up to QUIET_WAIT seconds
# (default 300) for the 1-minute load average to fall below QUIET_LOAD (default 0.5), and
# record what it was.
quiet_wait=${QUIET_WAIT:-300}
for ((waited = 0; waited < quiet_wait; waited += 10)); do
  awk -v max="${QUIET_LOAD:-0.5}" '{ exit !($1 < max) }' /proc/loadavg && break
  ((waited % 60 == 0)) && log "waiting for a quiet machine (load $(cut -d' ' -f1-3 /proc/loadavg))"
  sleep 10
done
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

if [[ -n ${QUICK:-} ]]; then
  timing=(--warmup 1 --duration 3); idle_n=2000; connect_n=2000
else
  timing=(--warmup 3 --duration 15); idle_n=9000; connect_n=5000
fi

# Generator threads. Relaying, the generator leaves the server a core of its own (one thread
# per core but one, at least one): with two generator threads beside the server's threads on
# 2 cores, the busy threads took turns on the cores, and a connection whose thread waited out
# a time slice showed up as an 8 ms p99. Opening connections, a handshake costs the generator
# about what it costs the server, and one thread would cap what it can offer (14,300/s here,
# against 17,700/s with two): there it keeps its default of two. Both servers get the same.
cores=$(nproc)
relay=(--threads "$((cores > 1 ? cores - 1 : 1))" "${timing[@]}")

# Register every user the run needs once, up front (not measured).
start_server switchboard
log "registering $idle_n users"
"$bench" --url "$server_url" --scenario connect --connections "$idle_n" --users-file \
  "$work/users.txt" --json /dev/null >/dev/null 2>"$work/register.err" ||
  { log "registration failed: $(cat "$work/register.err")"; exit 1; }
stop_server

# Side by side: each case runs against both servers back to back, REPEATS times (default
# 5), and the report takes each figure's median. This machine's speed drifts by up to a
# factor of 1.7 from one minute to the next (the same daemon, pinned to a core, measured
# 5.5 and then 9.2 µs per message two minutes apart), so the two servers of a case must be
# measured within seconds of each other, and more than once: with three repeats, one slow
# minute still moved a median by 5%.
repeats=${REPEATS:-5}
both() {  # both LABEL BENCH-ARGS...: the case against each server, REPEATS times
  local label=$1
  shift
  for ((r = 0; r < repeats; r++)); do
    for server in switchboard peerjs; do run_case "$label" "$server" "$@"; done
  done
}
both relay-closed-50 --scenario relay --mode closed --pairs 50 "${relay[@]}"
both relay-closed-500 --scenario relay --mode closed --pairs 500 "${relay[@]}"
both relay-open-20k --scenario relay --mode open --rate 20000 --pairs 500 "${relay[@]}"
both connect --scenario connect --connections "$connect_n" --concurrency 256
repeats=1  # idle memory barely moves, and 9,000 connections take a while to open
both idle --scenario idle --connections "$idle_n" --concurrency 256
run_case rooms-50 switchboard --scenario rooms --pairs 50 "${timing[@]}"

# --- 4. where the daemon's time goes: perf over a saturated 50-pair relay
profile=$work/profile.txt
: >"$profile"
if [[ -z ${NO_PROFILE:-} ]] && perf stat -e instructions true >/dev/null 2>&1; then
  start_server switchboard
  log "profiling the daemon (perf record, 50 pairs closed loop)"
  "$bench" --server switchboard --url "$server_url" --server-pid "$server_pid" \
    --users-file "$work/users.txt" --scenario relay --pairs 50 --warmup 2 --duration 10 \
    --threads "$((cores > 1 ? cores - 1 : 1))" \
    >"$work/profile-run.json" 2>/dev/null &
  bench_pid=$!
  sleep 3
  perf record -F 499 -g -p "$server_pid" -o "$work/perf.data" -- sleep 8 >/dev/null 2>&1 || true
  wait "$bench_pid" || true
  perf report -i "$work/perf.data" --no-children --stdio --sort sym -g none \
    --fields overhead,sym 2>/dev/null | grep -v '^#' | grep -v '^$' >"$profile" || true
  stop_server
fi

# --- 5. the report
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
python3 bench/report.py --load "$load_before" --load-after "$load_after" --results "$results" --commands "$commands" --profile "$profile" \
  --profile-run "$work/profile-run.json" --peerjs-version "$peerjs_version" \
  --analysis bench/analysis.md --out "$out"
log "wrote $out"
if [[ -n ${METRICS_COST:-} ]]; then
  OUT=$out "$repo/bench/metrics_cost.sh"
fi
if [[ -n ${KEEP:-} ]]; then
  mkdir -p "$KEEP"
  cp "$results" "$commands" "$profile" "$KEEP"/
  cp "$work/profile-run.json" "$KEEP"/ 2>/dev/null || true
  printf '%s\n%s\n%s\n' "$load_before" "$load_after" "$peerjs_version" >"$KEEP/run-info.txt"
fi
