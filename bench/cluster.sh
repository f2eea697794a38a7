#!/usr/bin/env bash
# Several daemons on one Redis (REDIS_URL), side by side with one daemon alone, in one run:
#
#   alone       one daemon, no Redis, accounts in PostgreSQL (so only the hub differs)
#   cluster-1   one daemon with REDIS_URL: both users of a pair on it, every relay one
#               EVALSHA and a PUBLISH to its own inbox (the Redis hop alone)
#   cluster-2   two daemons, cluster-3 three: the two users of each pair on different daemons
#               (pair p's creator on daemon p % n, the other on (p + 1) % n)
#
# Closed-loop relay of 50 pairs for the four; open loop at 20,000 messages/s (500 pairs) and
# connects per second for alone and cluster-2; and the single daemon before and after the
# Hub interface (BASE, default 2b8d44d, against this tree, both alone on SQLite): the
# "costs no more than before" check. Fresh daemons for every case, REPEATS rounds (3) in
# rotating order, medians; the daemons' CPU (summed, and each) and redis-server's per
# message. Writes the "Several daemons (cluster)" section of docs/benchmarks.md (between
# the cluster markers; bench/report.py keeps it).
#
# Starts its own PostgreSQL 15 (initdb in a scratch directory on /dev/shm, fsync off, as
# tests/support/postgres_server.cpp; PG_BIN, default /usr/lib/postgresql/15/bin) and its own
# redis-server (no persistence), both on 127.0.0.1 on free ports, and stops them and every
# daemon on exit, whatever happens.
#
#   bench/cluster.sh                 everything (about 8 minutes after the builds)
#   QUICK=1 bench/cluster.sh         a dry run: short windows, fewer connections, 1 round
#   REPEATS=N, BASE=<commit>, BASE_BINARY=PATH, OUT=FILE, KEEP=DIR (the raw results and
#   the daemons' and redis-server's logs), CASES="open20k/cluster-2 ..." (only those)
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
source bench/lib.sh
base=${BASE:-2b8d44d}
out=${OUT:-$repo/docs/benchmarks.md}
pg_bin=${PG_BIN:-/usr/lib/postgresql/15/bin}
log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

if [[ ! -x $pg_bin/initdb || ! -x $pg_bin/pg_ctl || ! -x $pg_bin/psql ]]; then
  log "no PostgreSQL 15 in $pg_bin (scripts/install-deps.sh --test; or set PG_BIN)"
  exit 1
fi
command -v redis-server >/dev/null && command -v redis-cli >/dev/null ||
  { log "no redis-server (scripts/install-deps.sh --test)"; exit 1; }

if [[ -n ${QUICK:-} ]]; then
  timing=(--warmup 1 --duration 3); connect_n=1000; repeats=${REPEATS:-1}
else
  timing=(--warmup 2 --duration 8); connect_n=3000; repeats=${REPEATS:-3}
fi

log "building this tree and $base (release presets)"
cmake --preset release -DSWITCHBOARD_WERROR=OFF >/dev/null
cmake --build --preset release --target switchboard switchboard-bench >/dev/null
base_binary=$(build_baseline "$base" "$repo/build/cluster-base")
daemon=$repo/build/release/switchboard
bench=$repo/build/release/bench/switchboard-bench

# --- scratch space in memory, and the clean-up that stops everything started here
work=$(mktemp -d /dev/shm/switchboard-cluster.XXXXXX)
pgdir=$work/pg
pgdata=$pgdir/data
pg_started=
pg_pid=
redis_pid=
daemon_pids=()
bench_pid=
stop_daemons() {  # SIGTERM to all, up to 10 s each to drain and exit, then SIGKILL
  local pid
  for pid in "${daemon_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${daemon_pids[@]}"; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  daemon_pids=()
}
stop_redis() {
  [[ -n $redis_pid ]] || return 0
  kill -TERM "$redis_pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$redis_pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$redis_pid" 2>/dev/null || true
  wait "$redis_pid" 2>/dev/null || true
  redis_pid=
}
cleanup() {
  if [[ -n $bench_pid ]]; then kill -TERM "$bench_pid" 2>/dev/null || true; fi
  stop_daemons
  stop_redis
  stop_postgres
  if [[ -n ${KEEP:-} && -d $work ]]; then
    mkdir -p "$KEEP"
    cp "$work"/results.jsonl "$work"/daemon-log.txt "$work"/redis/redis.log "$KEEP"/ \
      2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
ulimit -n "$(ulimit -Hn)"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
date_started=$(date -u '+%Y-%m-%d %H:%M')

# --- PostgreSQL 15: the accounts every daemon of a cluster shares
chmod 711 "$work"
mkdir -p "$pgdir"
if [[ $EUID -eq 0 ]]; then chown postgres: "$pgdir"; fi
as_pg "$pg_bin/initdb" -D "$pgdata" -A trust -U switchboard -E UTF8 --locale=C --no-sync \
  >"$work/initdb.log" 2>&1 || { cat "$work/initdb.log" >&2; exit 1; }
cat >>"$pgdata/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$pgdir'
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
start_postgres
"$pg_bin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pg_port" -U switchboard -d postgres \
  -c "CREATE DATABASE bench"
pg_url="postgresql://switchboard@127.0.0.1:$pg_port/bench?sslmode=disable"
pg_version=$("$pg_bin/psql" -X -A -t -h 127.0.0.1 -p "$pg_port" -U switchboard -d postgres \
  -c 'SHOW server_version')

# --- redis-server: no snapshots, no append-only file
mkdir -p "$work/redis"
for attempt in 1 2 3 4 5; do
  redis_port=$(free_port)
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize no --dir "$work/redis" >"$work/redis/redis.log" 2>&1 &
  redis_pid=$!
  for _ in $(seq 100); do
    redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
    kill -0 "$redis_pid" 2>/dev/null || break
    sleep 0.1
  done
  redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
  log "redis-server did not start on port $redis_port (attempt $attempt)"
  stop_redis
done
[[ -n $redis_pid ]] || { tail -n 20 "$work/redis/redis.log" >&2; exit 1; }
redis_version=$(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p')
log "PostgreSQL $pg_version on 127.0.0.1:$pg_port, redis-server $redis_version on 127.0.0.1:$redis_port"

# --- the daemons: run.sh's benchmark settings (per-connection limits out of the way, a
# cheap Argon2id), an empty web root of their own
mkdir -p "$work/web"
sb_env=(SERVER_HOST=127.0.0.1 SERVER_PORT=0 WEB_ROOT="$work/web"
  RATE_LIMIT_PER_SEC=1000000 RATE_LIMIT_BURST=1000000 MAX_CONNECTIONS_PER_IP=100000
  MAX_CONNECTIONS=100000 ARGON2_OPSLIMIT=1 ARGON2_MEMLIMIT=8192 WS_SEND_QUEUE=100000
  LOG_LEVEL=warn)
daemon_urls=()
current_label=
case_n=0
# start_daemons CASE: alone | cluster-N | sqlite-base | sqlite-this. Each daemon is up when
# it printed its listening line and /readyz answers 200 (in a cluster: Redis answers).
start_daemons() {
  local name=$1 n=1 binary=$daemon store=(DB_URL="$pg_url") cluster=0
  case $name in
    cluster-*) n=${name#cluster-}; cluster=1 ;;
    sqlite-base) binary=$base_binary; store=(DB_PATH="$work/sqlite.db") ;;
    sqlite-this) store=(DB_PATH="$work/sqlite.db") ;;
  esac
  case_n=$((case_n + 1))
  daemon_urls=()
  local k
  for ((k = 0; k < n; k++)); do
    local extra=() stdout=$work/daemon-$k.stdout
    ((cluster)) && extra=(REDIS_URL="redis://127.0.0.1:$redis_port" NODE_ID="bench-$case_n-$k")
    : >"$stdout"
    env "${sb_env[@]}" "${store[@]}" "${extra[@]}" "$binary" >"$stdout" \
      2> >(sed -u "s|^|$current_label daemon $k: |" >>"$work/daemon-log.txt") &
    daemon_pids+=($!)
    local url=
    for _ in $(seq 100); do
      url=$(sed -n 's/^listening on \(http:\/\/[^ ]*\).*/\1/p' "$stdout" | head -n1)
      [[ -n $url ]] && break
      kill -0 "${daemon_pids[$k]}" 2>/dev/null || break
      sleep 0.1
    done
    [[ -n $url ]] || { log "$name: daemon $k did not start"; tail -n 20 "$work/daemon-log.txt" >&2; exit 1; }
    local ready=
    for _ in $(seq 100); do
      [[ $(curl -s -o /dev/null -w '%{http_code}' "$url/readyz") == 200 ]] && { ready=1; break; }
      sleep 0.1
    done
    [[ -n $ready ]] || log "$name: daemon $k not ready after 10 s (/readyz), measured anyway"
    daemon_urls+=("$url")
  done
}
finish_case() {  # stop the daemons; Redis forgets the case (nodes, presence, rooms)
  stop_daemons
  redis-cli -p "$redis_port" flushall >/dev/null
}

results=$work/results.jsonl
: >"$results"
: >"$work/daemon-log.txt"
# run_case LABEL DAEMONS BENCH-ARGS...: fresh daemons, the generator (in the background, so a
# signal reaches the trap at once), the daemons stopped.
run_case() {
  local label=$1 name=$2
  shift 2
  current_label=$label  # what the daemons' log lines are prefixed with
  start_daemons "$name"
  local urls pids
  urls=$(IFS=,; echo "${daemon_urls[*]}")
  pids=$(IFS=,; echo "${daemon_pids[*]}")
  local args=(--url "$urls" --server-pid "$pids" --label "$label" --json "$results" "$@")
  [[ $name == cluster-* ]] && args+=(--redis-pid "$redis_pid")
  [[ $name == sqlite-* ]] || args+=(--db-pid "$pg_pid")
  log "$( ((round < 0)) && echo "before the rounds" || echo "round $((round + 1))"):" \
    "$label (${#daemon_pids[@]} daemon(s))"
  timeout -k 5 300 "$bench" "${args[@]}" >"$work/last.json" 2>"$work/last.err" &
  bench_pid=$!
  if ! wait "$bench_pid"; then
    log "$label: the generator reported a problem: $(tail -c 400 "$work/last.err")" \
      "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("problems"))' \
      "$work/last.json" 2>/dev/null)"
  fi
  bench_pid=
  finish_case
}

gen_threads=$(($(nproc) > 1 ? $(nproc) - 1 : 1))  # the daemons keep a core, as in run.sh
relay50=(--scenario relay --mode closed --pairs 50 --threads "$gen_threads" "${timing[@]}")
open20k=(--scenario relay --mode open --rate 20000 --pairs 500 --threads "$gen_threads"
  "${timing[@]}")
connect=(--scenario connect --connections "$connect_n" --concurrency 256)

# Accounts first, not measured: the users of every case, registered once in PostgreSQL and
# once in the SQLite file (both baselines read the same file).
round=-1
log "registering $connect_n users in PostgreSQL and 100 in SQLite"
run_case prepare alone --users-file "$work/users-pg.txt" "${connect[@]}"
run_case prepare sqlite-this --users-file "$work/users-sqlite.txt" --scenario connect \
  --connections 100 --concurrency 32
: >"$results"

users_file() {  # the SQLite cases' users live in the SQLite file, the others' in PostgreSQL
  if [[ $1 == sqlite-* ]]; then echo "$work/users-sqlite.txt"; else echo "$work/users-pg.txt"; fi
}
cases=(relay50/alone relay50/cluster-1 relay50/cluster-2 relay50/cluster-3
  open20k/alone open20k/cluster-2 connect/alone connect/cluster-2
  relay50/sqlite-base relay50/sqlite-this)
# CASES="open20k/cluster-2 ..." runs those alone (a closer look; the report then has gaps).
if [[ -n ${CASES:-} ]]; then read -r -a cases <<<"$CASES"; fi
for ((round = 0; round < repeats; round++)); do
  for ((i = 0; i < ${#cases[@]}; i++)); do
    c=${cases[$(((i + 3 * round) % ${#cases[@]}))]}
    what=${c%/*} name=${c#*/}
    case $what in
      relay50) run_case "$c" "$name" "${relay50[@]}" --users-file "$(users_file "$name")" ;;
      open20k) run_case "$c" "$name" "${open20k[@]}" --users-file "$work/users-pg.txt" ;;
      connect) run_case "$c" "$name" "${connect[@]}" --users-file "$work/users-pg.txt" ;;
    esac
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# --- the report
report_args=(--results "$results" --daemon-log "$work/daemon-log.txt" --out "$out"
  --commit "$(git rev-parse --short HEAD)" --base "$base" --date "$date_started"
  --load-before "$load_before" --load-after "$load_after" --repeats "$repeats"
  --timing "${timing[*]}" --connections "$connect_n" --pg-version "$pg_version"
  --redis-version "$redis_version")
[[ -n ${QUICK:-} ]] && report_args+=(--quick)
block=$(python3 bench/cluster_report.py "${report_args[@]}")
printf '%s\n' "$block" | write_block "$out" cluster "Several daemons (cluster)"
printf '%s\n' "$block"
log "wrote the cluster section of $out"
