#!/usr/bin/env bash
# The two account stores side by side: the same release daemon on SQLite (DB_PATH) and on a
# PostgreSQL 15 this script starts on 127.0.0.1 (DB_URL), registering users and opening
# connections whose API keys are looked up in the store. Writes the "Account stores" section
# of docs/benchmarks.md (between its account-stores markers; bench/report.py keeps it).
# About 5 minutes of measurements after the build and at most QUIET_WAIT seconds (300)
# waiting for a quiet machine.
#
#   bench/stores.sh                 everything (REPEATS=3, 15 s windows, 3,000 connections)
#   QUICK=1 bench/stores.sh         shorter windows and fewer connections (a dry run)
#   REPEATS=N bench/stores.sh       repeats of each case (default 3; the report takes medians)
#   OUT=FILE bench/stores.sh        write the section into FILE instead
#   KEEP=DIR bench/stores.sh        also keep the raw results (JSON lines, commands) in DIR
#   STORES_TMP=DIR bench/stores.sh  where the scratch directory goes (default $TMPDIR or /tmp);
#                                   it must be on a disk, not tmpfs: both stores fsync there
#
# Both stores keep their defaults for durability: SQLite in WAL mode with synchronous=FULL
# (the daemon's), PostgreSQL with fsync and synchronous_commit on (initdb's). The SQLite file
# and PostgreSQL's data directory share one scratch directory, so their fsyncs go to the same
# disk. Every daemon and the PostgreSQL server started here are stopped on exit, whatever
# happens.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
source bench/lib.sh
out=${OUT:-$repo/docs/benchmarks.md}
pg_bin=${PG_BIN:-/usr/lib/postgresql/15/bin}

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

if [[ ! -x $pg_bin/initdb || ! -x $pg_bin/pg_ctl || ! -x $pg_bin/psql ]]; then
  log "no PostgreSQL 15 in $pg_bin (Debian: apt-get install postgresql-15; or set PG_BIN)"
  exit 1
fi

# --- 1. release build, as bench/run.sh makes it (warnings not fatal: GCC 12's false
# -Wrestrict at -O3, see there)
log "building the release preset"
cmake --preset release -DSWITCHBOARD_WERROR=OFF >/dev/null
cmake --build --preset release >/dev/null
daemon=$repo/build/release/switchboard
bench=$repo/build/release/bench/switchboard-bench

# --- 2. scratch space on a disk, and the clean-up that stops everything started here
work=$(mktemp -d "${STORES_TMP:-${TMPDIR:-/tmp}}/switchboard-stores.XXXXXX")
pgdir=$work/pg
pgdata=$pgdir/data
pg_started=
server_pid=
bench_pid=
cleanup() {
  if [[ -n $bench_pid ]]; then kill -TERM "$bench_pid" 2>/dev/null || true; fi
  stop_server
  stop_postgres
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

fs_type=$(findmnt -n -o FSTYPE -T "$work" 2>/dev/null || stat -f -c %T "$work")
fs_source=$(df -P "$work" | awk 'NR == 2 { print $1 }')
if [[ $fs_type == tmpfs || $fs_type == ramfs ]]; then
  log "$work is on $fs_type: fsync costs nothing there; set STORES_TMP to a directory on a disk"
  exit 1
fi

ulimit -n "$(ulimit -Hn)"

# A benchmark on a busy machine measures the other load too: before PostgreSQL starts, wait
# up to QUIET_WAIT seconds (default 300) for the 1-minute load average to fall below
# QUIET_LOAD (default 0.5), and record what it was.
quiet_wait=${QUIET_WAIT:-300}
for ((waited = 0; waited < quiet_wait; waited += 10)); do
  awk -v max="${QUIET_LOAD:-0.5}" '{ exit !($1 < max) }' /proc/loadavg && break
  ((waited % 60 == 0)) && log "waiting for a quiet machine (load $(cut -d' ' -f1-3 /proc/loadavg))"
  sleep 10
done
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
date_started=$(date -u '+%Y-%m-%d %H:%M UTC')

# --- 3. PostgreSQL 15 on 127.0.0.1, a free port, its socket in the scratch directory
chmod 711 "$work"  # the postgres user reaches its directory through it
mkdir -p "$pgdir"
if [[ $EUID -eq 0 ]]; then chown postgres: "$pgdir"; fi
log "initdb in $pgdata ($fs_type on $fs_source)"
as_pg "$pg_bin/initdb" -D "$pgdata" -A trust -U switchboard -E UTF8 --locale=C \
  >"$work/initdb.log" 2>&1 || { cat "$work/initdb.log" >&2; exit 1; }
# Production durability: fsync, synchronous_commit and full_page_writes keep initdb's
# defaults (on); only where it listens is set.
cat >>"$pgdata/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$pgdir'
EOF
start_postgres
psql_admin() {
  "$pg_bin/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pg_port" -U switchboard \
    -d postgres -c "$1"
}
pg_version=$(psql_admin 'SHOW server_version')
pg_settings=$(psql_admin "SELECT string_agg(name || '=' || current_setting(name), ', '
  ORDER BY name) FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit',
  'full_page_writes', 'wal_sync_method', 'shared_buffers', 'wal_level', 'max_connections')")
log "PostgreSQL $pg_version on 127.0.0.1:$pg_port (postmaster $pg_pid): $pg_settings"

# --- 4. the daemon: run.sh's benchmark settings (per-connection limits out of the way, a
# cheap Argon2id, so the store's work dominates a registration), a hash queue long enough
# for the register clients, and the store under test.
# An empty web root of its own: the scratch dir holds PostgreSQL's data, and the daemon
# refuses a web root of more than 64 MiB.
mkdir -p "$work/web"
sb_env=(SERVER_HOST=127.0.0.1 SERVER_PORT=0 WEB_ROOT="$work/web"
  RATE_LIMIT_PER_SEC=1000000 RATE_LIMIT_BURST=1000000 MAX_CONNECTIONS_PER_IP=100000
  MAX_CONNECTIONS=100000 ARGON2_OPSLIMIT=1 ARGON2_MEMLIMIT=8192 WS_SEND_QUEUE=100000
  HASH_QUEUE_LIMIT=1000 LOG_LEVEL=warn)

case_n=0
store_env=()
store_db=
start_server() {  # start_server sqlite|postgresql CACHE-ENV...: a fresh database and daemon
  local store=$1
  shift
  case_n=$((case_n + 1))
  if [[ $store == sqlite ]]; then
    store_db=$work/case-$case_n.db
    store_env=(DB_PATH="$store_db")
  else
    store_db=sb_case_$case_n
    psql_admin "CREATE DATABASE $store_db"
    store_env=(DB_URL="postgresql://switchboard@127.0.0.1:$pg_port/$store_db?sslmode=disable")
  fi
  local stdout=$work/daemon.stdout
  : >"$stdout"
  env "${sb_env[@]}" "${store_env[@]}" "$@" "$daemon" >"$stdout" 2>>"$work/daemon.stderr" &
  server_pid=$!
  server_url=
  for _ in $(seq 100); do
    server_url=$(sed -n 's/^listening on \(http:\/\/[^ ]*\).*/\1/p' "$stdout" | head -n1)
    [[ -n $server_url ]] && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  log "the daemon did not start on $store:"; tail -n 20 "$work/daemon.stderr" >&2
  exit 1
}
drop_database() {  # the case's database goes, so the disk holds one case's at a time
  if [[ $store_db == sb_case_* ]]; then
    psql_admin "DROP DATABASE $store_db" || log "could not drop $store_db"
  else
    rm -f "$store_db" "$store_db-wal" "$store_db-shm"
  fi
}

results=$work/results.jsonl
commands=$work/commands.txt
: >"$results"
: >"$commands"

# run_case CASE STORE "CACHE-ENV" BENCH-ARGS...: a fresh database and daemon per case. The
# generator runs in the background so that a signal reaches the trap at once.
run_case() {
  local name=$1 store=$2 cache_env=$3
  shift 3
  local extra=()
  if [[ -n $cache_env ]]; then extra=("$cache_env"); fi
  rm -f "$work/users.txt"  # the users of a case live in its database only
  start_server "$store" "${extra[@]}"
  log "$store/$name: $*"
  local args=(--url "$server_url" --server-pid "$server_pid" --json "$results"
    --label "$store/$name" "$@")
  local shown=(switchboard-bench --url URL --server-pid PID)
  local daemon_text=DB_PATH=DIR/case.db
  if [[ $store == postgresql ]]; then
    args+=(--db-pid "$pg_pid")
    shown+=(--db-pid POSTMASTER_PID)
    daemon_text="DB_URL=postgresql://switchboard@127.0.0.1:PORT/DB?sslmode=disable"
  fi
  # One line per distinct command: the daemon's own settings, a tab, the generator's.
  local command="$daemon_text${cache_env:+ $cache_env}	${shown[*]} $*"
  command=${command//$work/DIR}
  grep -qxF -- "$command" "$commands" || echo "$command" >>"$commands"
  timeout -k 5 900 "$bench" "${args[@]}" >"$work/last.json" 2>"$work/last.err" &
  bench_pid=$!
  if ! wait "$bench_pid"; then
    log "$store/$name reported a problem: $(tail -c 600 "$work/last.err") $(cat "$work/last.json")"
  fi
  bench_pid=
  stop_server
  drop_database
}

if [[ -n ${QUICK:-} ]]; then
  timing=(--warmup 1 --duration 3); connect_n=1000
else
  timing=(--warmup 3 --duration 15); connect_n=3000
fi
repeats=${REPEATS:-3}

# (a) registrations: 16 clients, one request in flight each, fresh names, for the window.
# (b) connects whose API key the daemon looks up in the store (CREDENTIAL_CACHE_SIZE=0):
#     connect_n users registered first by the same daemon (not measured), then as many
#     WebSocket connections, 256 handshakes in flight, on the generator's 2 threads.
# (c) the same with the default cache: registering put every key in the daemon's cache, so
#     no connect asks the store (a daemon that did not register them would, once per key).
# Within a repeat, each case runs on both stores back to back, the store that goes first
# alternating from one repeat to the next, so the machine's drift hits both alike.
register=(--scenario register --concurrency 16 "${timing[@]}")
connect=(--scenario connect --connections "$connect_n" --concurrency 256
  --users-file "$work/users.txt")
for ((r = 0; r < repeats; r++)); do
  if ((r % 2 == 0)); then order=(sqlite postgresql); else order=(postgresql sqlite); fi
  for store in "${order[@]}"; do run_case register "$store" "" "${register[@]}"; done
  for store in "${order[@]}"; do
    run_case connect-store "$store" CREDENTIAL_CACHE_SIZE=0 "${connect[@]}"
  done
  for store in "${order[@]}"; do run_case connect-cache "$store" "" "${connect[@]}"; done
done

# --- 5. the report
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
report_args=(--results "$results" --commands "$commands" --out "$out"
  --load "$load_before" --load-after "$load_after" --date "$date_started"
  --repeats "$repeats" --connections "$connect_n" --timing "${timing[*]}"
  --fs "$fs_type on $fs_source" --pg-version "$pg_version" --pg-settings "$pg_settings")
[[ -n ${QUICK:-} ]] && report_args+=(--quick)
python3 bench/stores_report.py "${report_args[@]}"
log "wrote the account-stores section of $out"
if [[ -n ${KEEP:-} ]]; then
  mkdir -p "$KEEP"
  cp "$results" "$commands" "$KEEP"/
  printf '%s\n%s\n%s\n%s\n' "$load_before" "$load_after" "$pg_version" "$pg_settings" \
    >"$KEEP/run-info.txt"
fi
