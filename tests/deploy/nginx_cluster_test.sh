#!/usr/bin/env bash
# Real nginx running config/nginx/switchboard-cluster.conf (templated only for ports,
# certificate directory and 127.0.0.1 listens) in front of three real daemons in one cluster:
# a redis-server of the test's own, a database on the run's PostgreSQL (ctest fixture
# `postgres`), NODE_ID n1..n3. Through the balancer, over wss:// with tickets:
#
#   - ws_session.mjs three times: in each run the two users are on two different daemons
#     (each daemon logs "ws connected ... username=..." at debug level) and relay to each
#     other unchanged;
#   - ws_room.mjs: three users, one on each daemon, meet in a room, relay along all six
#     pairs, and the host hand-over on a leave and on a disconnect reaches the others;
#   - ws_resume.mjs while n1, n2 and n3 in turn get SIGTERM and start again: two users
#     exchanging ICE candidates without pause resume through nginx after each 1012, and
#     every candidate arrives once and in order;
#   - n3 drains (SIGTERM with DRAIN_SECONDS): ws_room.mjs again, its /ws upgrades that nginx
#     sends to n3 get 503 and are retried on another daemon (nginx's log shows "503, 101"),
#     and the room works; a second SIGTERM ends the drain, and every daemon exits 0.
#
#   nginx_cluster_test.sh BINARY REPO
set -euo pipefail
binary=$1 repo=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
work=$(mktemp -d)
# On failure, what each server logged (the last lines) before it was stopped.
show_logs() {
  local log
  for log in "$work"/n?/daemon.log "$work"/nginx/logs/{access,error}.log "$work"/redis/redis.log; do
    [[ -s $log ]] && { echo "--- ${log#"$work"/}"; tail -n 40 "$log"; }
  done
}
trap 'status=$?; ((status == 0)) || show_logs; stop_all; rm -rf "$work"' EXIT

make_cert "$work/tls"
export NODE_EXTRA_CA_CERTS="$work/tls/fullchain.pem"
start_redis "$work/redis"
postgres_database

# Debug logs name each WebSocket's user ("ws connected"); Argon2 at its cheapest, as nothing
# here measures it.
cluster=(REDIS_URL="redis://127.0.0.1:$redis_port" DB_URL="$db_url" TRUSTED_PROXIES=127.0.0.1
  LOG_LEVEL=debug ARGON2_OPSLIMIT=1 ARGON2_MEMLIMIT=8192)
declare -A pid port
for n in n1 n2 n3; do
  drain=()
  # Long enough for the room below on a loaded machine; a second SIGTERM cuts it short.
  [[ $n == n3 ]] && drain=(DRAIN_SECONDS=15)
  launch_daemon "$work/$n" "$binary" "${cluster[@]}" NODE_ID=$n "${drain[@]}"
  pid[$n]=$daemon_pid
done
for n in n1 n2 n3; do
  await_daemon "$work/$n"
  port[$n]=$daemon_port
  # Ready once Redis answers and the account store does.
  wait_until 15 curl -sf "http://127.0.0.1:$daemon_port/readyz" ||
    { cat "$work/$n/daemon.log"; fail "$n is not ready"; }
done
echo "ok: three daemons ready on one Redis and one PostgreSQL database (ports ${port[n1]} ${port[n2]} ${port[n3]})"

mkdir -p "$work/nginx"
nginx_port=$(free_port)
template_cluster_nginx "$repo/config/nginx/switchboard-cluster.conf" "$work/nginx/switchboard.conf" \
  "$nginx_port" "$(free_port)" "$work/tls" "${port[n1]}" "${port[n2]}" "${port[n3]}"
run_nginx "$work/nginx" "$work/tls"
base="https://127.0.0.1:$nginx_port"
node_script() { node --experimental-websocket --no-warnings "$here/$1" "$base" "${@:2}"; }

# node_of USERNAME: the one daemon whose log has USERNAME's WebSocket.
node_of() {
  local n found=()
  for n in n1 n2 n3; do
    grep -qE "ws connected user_id=[0-9]+ username=$1 " "$work/$n/daemon.log" && found+=("$n")
  done
  ((${#found[@]} == 1)) || { fail "$1 connected on ${#found[@]} daemons (${found[*]}), want one"; } >&2
  echo "${found[0]}"
}

# --- two users, on two daemons, three times ------------------------------------------------
for run in 1 2 3; do
  node_script ws_session.mjs --suffix "r$run" || fail "session $run through the balancer"
  a=$(node_of "alice_r$run")
  b=$(node_of "bob_r$run")
  [[ $a != "$b" ]] || fail "session $run: alice and bob both on $a"
  echo "ok: session $run: alice on $a, bob on $b"
done

# --- three users, one on each daemon --------------------------------------------------------
node_script ws_room.mjs --suffix room || fail "room of three through the balancer"
placed=$(for u in ann ben cat; do node_of "${u}_room"; done | sort -u | wc -l)
((placed == 3)) || fail "the three users of the room were on $placed daemons, want 3"
echo "ok: room of three: ann on $(node_of ann_room), ben on $(node_of ben_room), cat on $(node_of cat_room)"

# --- a rolling restart under a call ---------------------------------------------------------
# restart_daemon N: SIGTERM (n3 drains first: a second SIGTERM ends its drain), which hands
# its sessions over (1012); it must exit 0; then it starts again under the same NODE_ID on
# the same port, which nginx knows.
restart_daemon() {
  local n=$1 status=0 drain=()
  kill -TERM "${pid[$n]}"
  if [[ $n == n3 ]]; then
    drain=(DRAIN_SECONDS=15)
    wait_until 5 grep -q 'draining before shutdown' "$work/$n/daemon.log" || fail "$n did not drain"
    kill -TERM "${pid[$n]}"
  fi
  wait_until 15 bash -c "! kill -0 ${pid[$n]}" || fail "$n did not exit after SIGTERM"
  wait "${pid[$n]}" || status=$?
  ((status == 0)) || { tail -20 "$work/$n/daemon.log"; fail "$n exited with $status"; }
  grep -q 'not all handed over' "$work/$n/daemon.log" && fail "$n did not hand all its sessions over"
  launch_daemon "$work/$n" "$binary" "${cluster[@]}" NODE_ID=$n SERVER_PORT="${port[$n]}" "${drain[@]}"
  pid[$n]=$daemon_pid
  await_daemon "$work/$n"
  wait_until 15 curl -sf "http://127.0.0.1:${port[$n]}/readyz" || fail "$n is not ready after its restart"
}
node_script ws_resume.mjs --until "$work/resume.stop" --suffix roll >"$work/resume.out" 2>&1 &
started_pids+=("$!")
resume_pid=$!
wait_until 30 grep -q '^ready' "$work/resume.out" || { cat "$work/resume.out"; fail "the call did not start"; }
for n in n1 n2 n3; do
  restart_daemon "$n"
  sleep 1 # the call goes on on the restarted cluster before the next one stops
done
touch "$work/resume.stop"
wait "$resume_pid" || { cat "$work/resume.out"; fail "the call through a rolling restart"; }
echo "ok: rolling restart of n1, n2, n3 under a call through nginx: $(tail -1 "$work/resume.out")"

# --- n3 drains: its new WebSockets go to the others -----------------------------------------
kill -TERM "${pid[n3]}"
wait_until 5 grep -q 'draining before shutdown' "$work/n3/daemon.log" || fail "n3 did not start draining"
node_script ws_room.mjs --suffix drain || fail "room of three while n3 drains"
kill -0 "${pid[n3]}" 2>/dev/null || fail "n3 ended its drain before the room was done: nothing proven"
grep -qE "^/ws 101 127\.0\.0\.1:${port[n3]}, 127\.0\.0\.1:[0-9]+ 503, 101$" "$work/nginx/logs/access.log" ||
  fail "no /ws retried from the draining n3: $(grep '^/ws' "$work/nginx/logs/access.log")"
for u in ann ben cat; do
  on=$(node_of "${u}_drain")
  [[ $on != n3 ]] || fail "${u}_drain connected on the draining n3"
done
echo "ok: while n3 drains, its /ws upgrades answer 503 and nginx retries them on n1/n2; the room works"

# Every daemon ends with status 0 (n3's second SIGTERM ends its drain at once).
kill -TERM "${pid[n1]}" "${pid[n2]}" "${pid[n3]}"
for n in n1 n2 n3; do
  wait_until 15 bash -c "! kill -0 ${pid[$n]}" || fail "$n did not exit after SIGTERM"
  status=0
  wait "${pid[$n]}" || status=$?
  ((status == 0)) || { tail -20 "$work/$n/daemon.log"; fail "$n exited with $status"; }
done
bad=$(grep -hE '^\S+ (error|critical) ' "$work"/n?/daemon.log || true)
[[ -z $bad ]] || fail "daemons logged errors: $bad"
echo "ok: all three daemons exited 0 after SIGTERM, no error logged"
echo PASS
