#!/usr/bin/env bash
# What session resume costs the relay path, side by side: the daemon as it was before resume
# (BASE, default the commit before it landed, built in a temporary worktree), and this one
# with resume off (RESUME_WINDOW=0: every message still numbered, nothing kept) and on (the
# default: numbered and kept for a resume). The same closed-loop relay of 50 pairs against
# each, back to back, REPEATS rounds (default 5) in rotating order; medians of the daemon's
# CPU per relayed message. Writes the table into docs/benchmarks.md between the
# resume-cost markers (bench/report.py keeps the block).
#
# Then the RSS per idle connection of each, on a fresh daemon with IDLE_CONNECTIONS (9000).
#
#   bench/resume_cost.sh                 everything (about 5 minutes after the two builds)
#   QUICK=1 bench/resume_cost.sh         shorter windows
#   BASE=<commit> bench/resume_cost.sh   another baseline
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
source bench/lib.sh
base=${BASE:-9a14017}
repeats=${REPEATS:-5}
out=${OUT:-$repo/docs/benchmarks.md}
log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

work=$(mktemp -d /dev/shm/switchboard-resume.XXXXXX 2>/dev/null || mktemp -d)
server_pid=
cleanup() {
  stop_server
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ulimit -n "$(ulimit -Hn)"

log "building this tree and $base (release presets)"
cmake --preset release -DSWITCHBOARD_WERROR=OFF >/dev/null
cmake --build --preset release >/dev/null
base_binary=$(build_baseline "$base" "$repo/build/resume-base")
bench=$repo/build/release/bench/switchboard-bench
declare -A binary=([before]="$base_binary"
  [off]="$repo/build/release/switchboard" [on]="$repo/build/release/switchboard")
declare -A window=([before]=30 [off]=0 [on]=30)

mkdir -p "$work/web"  # an empty web root: the daemon would serve the scratch dir
env_common=(SERVER_HOST=127.0.0.1 SERVER_PORT=0 DB_PATH="$work/bench.db" WEB_ROOT="$work/web"
  RATE_LIMIT_PER_SEC=1000000 RATE_LIMIT_BURST=1000000 MAX_CONNECTIONS_PER_IP=100000
  MAX_CONNECTIONS=100000 ARGON2_OPSLIMIT=1 ARGON2_MEMLIMIT=8192 WS_SEND_QUEUE=100000
  LOG_LEVEL=warn)
server_url=
start_server() {  # start_server before|off|on
  local stdout=$work/server.stdout
  : >"$stdout"
  env "${env_common[@]}" RESUME_WINDOW="${window[$1]}" "${binary[$1]}" >"$stdout" \
    2>>"$work/server.stderr" &
  server_pid=$!
  for _ in $(seq 100); do
    server_url=$(sed -n 's/^listening on \(http:\/\/[^ ]*\).*/\1/p' "$stdout" | head -n1)
    [[ -n $server_url ]] && return 0
    sleep 0.1
  done
  log "daemon did not start"; cat "$work/server.stderr" >&2; exit 1
}

if [[ -n ${QUICK:-} ]]; then timing=(--warmup 1 --duration 3); else timing=(--warmup 3 --duration 10); fi
cores=$(nproc)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
results=$work/results.jsonl
order=(before off on)
for ((r = 0; r < repeats; r++)); do
  for ((i = 0; i < 3; i++)); do
    variant=${order[$(((i + r) % 3))]}
    start_server "$variant"
    log "round $((r + 1)): $variant"
    "$bench" --url "$server_url" --server-pid "$server_pid" --users-file "$work/users.txt" \
      --scenario relay --mode closed --pairs 50 --threads "$((cores > 1 ? cores - 1 : 1))" \
      "${timing[@]}" --label "$variant" --json "$results" >/dev/null 2>>"$work/bench.err" ||
      log "$variant: the generator reported a problem: $(tail -n 3 "$work/bench.err")"
    stop_server
  done
done
# Memory: what an idle connection costs each (a Session beside each WsSession now).
idle_n=${IDLE_CONNECTIONS:-9000}
[[ -n ${QUICK:-} ]] && idle_n=2000
for variant in before off on; do
  start_server "$variant"
  log "idle: $variant, $idle_n connections"
  "$bench" --url "$server_url" --server-pid "$server_pid" --users-file "$work/users.txt" \
    --scenario idle --connections "$idle_n" --concurrency 256 --label "idle-$variant" \
    --json "$results" >/dev/null 2>>"$work/bench.err" ||
    log "$variant: the generator reported a problem: $(tail -n 3 "$work/bench.err")"
  stop_server
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
# The same question in isolation: what a Session adds to each message, in nanoseconds.
log "switchboard-session-bench"
"$repo/build/release/bench/switchboard-session-bench" >"$work/session-bench.txt"

block=$(python3 - "$results" "$out" "$base" "$(git rev-parse --short HEAD)" "$load_before" \
  "$load_after" "$repeats" "${timing[*]}" "$work/session-bench.txt" <<'PY'
import json, statistics, sys, datetime
results, out, base, commit, load_before, load_after, repeats, timing, session_bench = sys.argv[1:]
runs = {}
for line in open(results):
    r = json.loads(line)
    runs.setdefault(r["label"], []).append(r)
def med(label, key):
    vals = [r[key] for r in runs.get(label, []) if r.get(key) is not None]
    return statistics.median(vals) if vals else float("nan")
cpu = {v: med(v, "server_cpu_us_per_msg") for v in ("before", "off", "on")}
rate = {v: med(v, "messages_per_sec") for v in ("before", "off", "on")}
rss = {v: med("idle-" + v, "server_rss_per_conn_bytes") for v in ("before", "off", "on")}
begin, end = "<!-- resume-cost:begin -->", "<!-- resume-cost:end -->"
b = [begin, "",
     f"Measured {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC by `bench/resume_cost.sh` on {commit} "
     f"against {base} (before session resume), {repeats} rounds in rotating order, medians; "
     f"closed-loop relay, 50 pairs, `{timing}`; load {load_before} before, {load_after} after.", "",
     "| daemon | CPU per relayed message | vs before | messages/s | RSS per idle connection |",
     "|---|---:|---:|---:|---:|"]
names = {"before": f"before resume ({base})", "off": "RESUME_WINDOW=0 (numbered, nothing kept)",
         "on": "default (numbered and kept, window 30 s)"}
for v in ("before", "off", "on"):
    b.append(f"| {names[v]} | {cpu[v]:.2f} µs | {cpu[v] / cpu['before']:.3f}× | {rate[v]:,.0f} "
             f"| {rss[v]:,.0f} B |")
bench_rows = [l for l in open(session_bench).read().splitlines() if l.startswith("|")]
def added_ns(marker):  # the last column of the row whose path names `marker`
    row = next((l for l in bench_rows if marker in l), None)
    return float(row.split("|")[3].split()[0]) if row else float("nan")
keep_added_ns, numbering_added_ns = added_ns("(default)"), added_ns("RESUME_WINDOW=0")
b += ["", "Per round (µs per message): " + "; ".join(
    f"{v}: " + ", ".join(f"{r['server_cpu_us_per_msg']:.2f}" for r in runs.get(v, []))
    for v in ("before", "off", "on")), "",
    "The issue's bound: `seq` on every message costs the relay path at most 5% CPU per message.",
    "", "What a Session adds per message in isolation (`switchboard-session-bench`, in the same run; "
    "the relay's own buffer, the socket and the JSON check are the same in every row and left out):",
    ""] + bench_rows + [
    "", f"Against the daemon's {cpu['before']:.2f} µs per relayed message before resume, the default "
    f"keep adds {keep_added_ns / 10 / cpu['before']:.1f}% and numbering alone "
    f"{numbering_added_ns / 10 / cpu['before']:.1f}% (the `seq` spliced in front as a message is "
    "written is a few more nanoseconds on the write path, not in this figure).",
    "", "```sh", "bench/resume_cost.sh   # BASE=<commit> to compare with another baseline", "```", "", end]
print("\n".join(b))
PY
)
printf '%s\n' "$block" | write_block "$out" resume-cost "Session resume on the relay path"
printf '%s\n' "$block"
log "wrote $out"
