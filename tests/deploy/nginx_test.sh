#!/usr/bin/env bash
# Real nginx, running config/nginx/switchboard.conf (templated only for ports, certificate
# directory and 127.0.0.1 listens), in front of the real daemon, with a self-signed
# certificate.
#
#   nginx_test.sh BINARY REPO proxy   REST over https, a wss:// session with a large SDP,
#                                     /metrics and /admin/ refused, oversized bodies refused,
#                                     the client's address believed only from a trusted proxy
#   nginx_test.sh BINARY REPO idle    the shipped /ws read timeout is above the daemon's
#                                     default ping interval; scaled down (3 s timeout), a
#                                     wss:// session idle for 8 s still relays with pings every
#                                     second, and is cut by nginx without them
set -euo pipefail
binary=$1 repo=$2 mode=$3
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
work=$(mktemp -d)
trap 'stop_all; rm -rf "$work"' EXIT

conf="$repo/config/nginx/switchboard.conf"
make_cert "$work/tls"
export NODE_EXTRA_CA_CERTS="$work/tls/fullchain.pem"
session() { node --experimental-websocket --no-warnings "$here/ws_session.mjs" "$@"; }
curl_tls() { curl -s --max-time 10 --cacert "$work/tls/fullchain.pem" "$@"; }

if [[ $mode == idle ]]; then
  # The shipped pairing: /ws waits 75 s for the daemon, whose default ping interval is shorter.
  for line in '        proxy_read_timeout 75s;' '        proxy_send_timeout 75s;'; do
    grep -qxF "$line" "$conf" || fail "$conf lost the line '$line' this test scales down"
  done
  default_ping=$("$binary" --help | sed -nE 's/.*seconds of silence before a ping \(default ([0-9]+)\).*/\1/p')
  [[ -n $default_ping ]] || fail "--help no longer states the default ws_ping_interval"
  ((default_ping < 75)) || fail "the default ws_ping_interval ($default_ping s) is not below nginx's 75 s"
  echo "ok: the shipped 75 s read timeout is above the default ${default_ping} s ping interval"

  # The same mechanism at a twenty-fifth of the scale, so that it costs seconds, not minutes:
  # the shipped file with only the two /ws timeouts at 3 s.
  sed -e 's/^        proxy_read_timeout 75s;/        proxy_read_timeout 3s;/' \
    -e 's/^        proxy_send_timeout 75s;/        proxy_send_timeout 3s;/' "$conf" >"$work/scaled.conf"
  start_daemon "$work/d" "$binary" WS_PING_INTERVAL=1
  start_nginx "$work/n" "$work/scaled.conf" "$daemon_port" "$work/tls"
  session "https://127.0.0.1:$nginx_port" --idle 8 || fail "idle session through nginx"

  # The control: without pings inside the timeout nginx does cut the same session, so it is
  # the daemon's pings (and not a timeout that never applied) that kept the first one open.
  start_daemon "$work/c" "$binary" WS_PING_INTERVAL=60
  start_nginx "$work/cn" "$work/scaled.conf" "$daemon_port" "$work/tls"
  if session "https://127.0.0.1:$nginx_port" --idle 8 >"$work/control.out" 2>&1; then
    fail "a session without pings outlived nginx's 3 s read timeout: $(cat "$work/control.out")"
  fi
  grep -q 'closed while idle' "$work/control.out" ||
    fail "the session without pings failed otherwise: $(cat "$work/control.out")"
  echo "ok: without pings, nginx closes the idle session: $(tail -n 1 "$work/control.out")"
  echo PASS
  exit 0
fi

# Failed sign-ins are logged with the client address and throttled per address: the two
# ways to see which address the daemon believes. One free failure per account, four per
# address, then a lock-out long enough that it cannot expire during the test.
throttle=(LOGIN_FREE_FAILURES=1 LOGIN_LOCKOUT_BASE=120 LOGIN_LOCKOUT_MAX=120)

# bad_login SOURCE_ADDRESS USERNAME [curl args...]: a wrong password through nginx from
# SOURCE_ADDRESS (any 127/8 address is local); prints the status.
bad_login() {
  local from=$1 user=$2
  shift 2
  curl_tls -o /dev/null -w '%{http_code}' --interface "$from" "$@" \
    -H 'Content-Type: application/json' -d "{\"Username\":\"$user\",\"Password\":\"wrong password\"}" \
    "https://127.0.0.1:$nginx_port/regenerate"
}
logged_from() { grep -q "failed password username=$1 remote_addr=$2\$" "$3/daemon.log"; }

# --- nginx trusted by the daemon ---------------------------------------------------------
start_daemon "$work/t" "$binary" TRUSTED_PROXIES=127.0.0.1 "${throttle[@]}"
start_nginx "$work/tn" "$conf" "$daemon_port" "$work/tls"
base="https://127.0.0.1:$nginx_port"

# REST over https.
code=$(curl_tls -o "$work/reg.json" -w '%{http_code}' -H 'Content-Type: application/json' \
  -d '{"Username":"carol","Password":"correct horse battery"}' "$base/register")
[[ $code == 201 ]] && grep -q '"api_key"' "$work/reg.json" || fail "register over https: $code"
echo "ok: POST /register over https -> 201"
# Plain http is redirected to https.
[[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$(sed -nE 's/^    listen 127.0.0.1:([0-9]+);$/\1/p' "$work/tn/switchboard.conf")/healthz") == 301 ]] ||
  fail "http is not redirected"
echo "ok: http -> 301 to https"

# A wss:// session whose offer message (65,000 bytes) is close to the daemon's 64 KiB limit.
session "$base" --sdp-bytes 65000 || fail "wss:// session with a 65000-byte offer"

# Operator routes do not exist from outside: nginx's own 404 page, not the daemon's JSON.
for path in /metrics /metrics/ /admin/rooms /admin/users/1; do
  code=$(curl_tls -o "$work/body" -w '%{http_code}' "$base$path")
  [[ $code == 404 ]] && grep -q nginx "$work/body" && ! grep -q '"error"' "$work/body" ||
    fail "$path through nginx: $code $(head -c 200 "$work/body")"
done
echo "ok: /metrics and /admin/ answered 404 by nginx itself"

# A body far above the REST limit stops at nginx.
code=$(head -c 20000 /dev/zero | tr '\0' a | curl_tls -o /dev/null -w '%{http_code}' \
  -H 'Content-Type: application/json' --data-binary @- "$base/register")
[[ $code == 413 ]] || fail "a 20 kB body: $code, want 413"
echo "ok: a 20 kB body -> 413"

# The daemon believes nginx: it logs and throttles the client's own address, and a client's
# forged X-Forwarded-For only comes before the address nginx appends.
[[ $(bad_login 127.0.0.2 ghost1) == 401 ]] || fail "first bad login"
logged_from ghost1 127.0.0.2 "$work/t" || fail "trusted proxy: the daemon did not see 127.0.0.2"
[[ $(bad_login 127.0.0.3 ghost2 -H 'X-Forwarded-For: 127.0.0.2') == 401 ]] || fail "forged XFF login"
logged_from ghost2 127.0.0.3 "$work/t" || fail "a forged X-Forwarded-For through nginx was believed"
for n in 3 4 5 6; do last=$(bad_login 127.0.0.2 "ghost$n"); done
[[ $last == 429 ]] || fail "127.0.0.2 not locked out after 5 failures: $last"
[[ $(bad_login 127.0.0.3 ghost7) == 401 ]] || fail "127.0.0.3 locked out with 127.0.0.2"
echo "ok: behind a trusted nginx, each client address is logged and throttled on its own"

# Straight to the daemon from a peer that is not a trusted proxy: X-Forwarded-For is ignored.
code=$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' --interface 127.0.0.4 \
  -H 'X-Forwarded-For: 127.0.0.9' -H 'Content-Type: application/json' \
  -d '{"Username":"ghost8","Password":"wrong password"}' "http://127.0.0.1:$daemon_port/regenerate")
[[ $code == 401 ]] || fail "direct bad login: $code"
logged_from ghost8 127.0.0.4 "$work/t" || fail "X-Forwarded-For from an untrusted peer was believed"
echo "ok: X-Forwarded-For from an untrusted peer changes nothing"

# --- nginx not trusted: every client is nginx's address ----------------------------------
start_daemon "$work/u" "$binary" "${throttle[@]}"
start_nginx "$work/un" "$conf" "$daemon_port" "$work/tls"
[[ $(bad_login 127.0.0.2 ghost1) == 401 ]] || fail "untrusted: first bad login"
logged_from ghost1 127.0.0.1 "$work/u" || fail "untrusted proxy: the daemon believed X-Forwarded-For"
for n in 2 3 4 5; do bad_login 127.0.0.2 "ghost$n" >/dev/null; done
[[ $(bad_login 127.0.0.3 ghost6) == 429 ]] || fail "untrusted: 127.0.0.3 should share nginx's lock-out"
echo "ok: behind an untrusted nginx, all clients share nginx's address"
echo PASS
