#!/usr/bin/env bash
# ctest bench.smoke: start the daemon on a free port with a throw-away database, run
# `switchboard-bench --smoke` against it, and stop the daemon with SIGTERM whatever happens.
#   bench/smoke.sh PATH/TO/switchboard PATH/TO/switchboard-bench
set -euo pipefail
daemon=${1:?usage: smoke.sh DAEMON BENCH}
bench=${2:?usage: smoke.sh DAEMON BENCH}

dir=$(mktemp -d)
pid=
cleanup() {
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT

# Created before the daemon starts, so polling it never races the redirection.
: >"$dir/stdout"

# The benchmark settings of docs/benchmarks.md: per-connection limits out of the way and a
# cheap password hash, so registering users is quick.
env SERVER_HOST=127.0.0.1 SERVER_PORT=0 DB_PATH="$dir/bench.db" WEB_ROOT="$dir" \
  RATE_LIMIT_PER_SEC=1000000 RATE_LIMIT_BURST=1000000 MAX_CONNECTIONS_PER_IP=100000 \
  MAX_CONNECTIONS=100000 ARGON2_OPSLIMIT=1 ARGON2_MEMLIMIT=8192 WS_SEND_QUEUE=100000 \
  LOG_LEVEL=warn "$daemon" >"$dir/stdout" 2>"$dir/stderr" &
pid=$!

url=
for _ in $(seq 100); do
  url=$(sed -n 's/^listening on \(http:\/\/[^ ]*\).*/\1/p' "$dir/stdout" | head -n1)
  [[ -n $url ]] && break
  kill -0 "$pid" 2>/dev/null || { echo "daemon exited:"; cat "$dir/stderr"; exit 1; }
  sleep 0.1
done
[[ -n $url ]] || { echo "daemon did not report its port"; cat "$dir/stderr"; exit 1; }

status=0
timeout 60 "$bench" --url "$url" --smoke --server-pid "$pid" || status=$?
if [[ -s $dir/stderr ]]; then
  echo "--- daemon stderr"
  tail -n 20 "$dir/stderr"
fi
exit "$status"
