#!/usr/bin/env bash
# `switchboard --probe`, the container's HEALTHCHECK: exit 0 and an "ok" line against a
# running daemon (also when SERVER_HOST is the wildcard 0.0.0.0, which it reaches through
# 127.0.0.1); exit 1 and an "unhealthy" line against a closed port, a server answering 404,
# and one that accepts but never answers (the probe's own timeout ends it).
# Usage: probe_test.sh BINARY
set -euo pipefail
binary=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
work=$(mktemp -d)
trap 'stop_all; rm -rf "$work"' EXIT

# probe EXPECTED_STATUS EXPECTED_TEXT HOST PORT
probe() {
  local want=$1 text=$2 status=0 out
  out=$(SERVER_HOST=$3 SERVER_PORT=$4 timeout 20 "$binary" --probe) || status=$?
  echo "$3:$4 -> $status: $out"
  [[ $status == "$want" ]] || fail "probe of $3:$4 exited $status, want $want"
  grep -q "$text" <<<"$out" || fail "probe of $3:$4 printed '$out', want '$text'"
  [[ $(wc -l <<<"$out") == 1 ]] || fail "probe printed more than one line"
}

start_daemon "$work/d" "$binary"
probe 0 "^ok: http://127.0.0.1:$daemon_port/healthz answered 200$" 127.0.0.1 "$daemon_port"
probe 0 "^ok: http://127.0.0.1:$daemon_port/healthz answered 200$" 0.0.0.0 "$daemon_port"

kill -TERM "$daemon_pid"
wait "$daemon_pid" || fail "the daemon did not exit 0 on SIGTERM"
probe 1 '^unhealthy: .* connect: Connection refused$' 127.0.0.1 "$daemon_port"

# A web server without /healthz: 404.
port=$(free_port)
(cd "$work" && exec python3 -m http.server --bind 127.0.0.1 "$port") >/dev/null 2>&1 &
started_pids+=($!)
wait_until 20 curl -s "http://127.0.0.1:$port/" || fail "python http.server did not start"
probe 1 '^unhealthy: .* answered 404$' 127.0.0.1 "$port"

# A listener that never accepts or answers: the probe gives up after its 3 s deadline.
port=$(free_port)
python3 -c "import socket, sys, time
s = socket.socket(); s.bind(('127.0.0.1', $port)); s.listen(8); print('ready', flush=True)
time.sleep(60)" >"$work/silent.out" &
started_pids+=($!)
wait_until 20 grep -q ready "$work/silent.out" || fail "silent listener did not start"
probe 1 '^unhealthy: .* timed out$' 127.0.0.1 "$port"
echo PASS
