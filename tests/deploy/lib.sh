# Shared helpers for the deployment tests (sourced, not run). Everything started here binds
# 127.0.0.1 and is stopped by the caller's EXIT trap (stop_all), even on failure.

started_pids=()

fail() {
  echo "FAIL: $*"
  exit 1
}

# Waits (at most $2 seconds) until the command in the remaining arguments succeeds.
wait_until() {
  local limit=$1
  shift
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

# A port that was free a moment ago on 127.0.0.1 (for servers that cannot take port 0).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_daemon DIR BINARY [ENV=VALUE...]: runs the daemon on a free port with its database
# in DIR; sets daemon_port and daemon_pid. Its stderr (the log) goes to DIR/daemon.log.
start_daemon() {
  launch_daemon "$@"
  await_daemon "$1"
}

# launch_daemon DIR BINARY [ENV=VALUE...]: start_daemon without the wait, so that several
# daemons start side by side; sets daemon_pid. await_daemon DIR then sets daemon_port.
launch_daemon() {
  local dir=$1 binary=$2
  shift 2
  mkdir -p "$dir"
  env SERVER_HOST=127.0.0.1 SERVER_PORT=0 DB_PATH="$dir/switchboard.db" WEB_ROOT="$dir" \
    "$@" "$binary" >"$dir/daemon.out" 2>"$dir/daemon.log" &
  daemon_pid=$!
  started_pids+=("$daemon_pid")
}

await_daemon() {
  local dir=$1
  wait_until 30 grep -q '^listening on ' "$dir/daemon.out" ||
    { cat "$dir/daemon.log"; fail "the daemon in $dir did not start"; }
  daemon_port=$(sed -nE 's/^listening on http:\/\/127\.0\.0\.1:([0-9]+)$/\1/p' "$dir/daemon.out")
}

# start_redis DIR: a redis-server of the test's own on a free loopback port, nothing saved
# to disk; sets redis_port.
start_redis() {
  local dir=$1
  mkdir -p "$dir"
  redis_port=$(free_port)
  (cd "$dir" && exec redis-server --port "$redis_port" --bind 127.0.0.1 --save '' \
    --appendonly no --daemonize no >"$dir/redis.log" 2>&1) &
  started_pids+=("$!")
  wait_until 10 redis-cli -p "$redis_port" ping ||
    { cat "$dir/redis.log"; fail "redis-server did not start"; }
}

# postgres_database: a fresh empty database on the run's shared PostgreSQL server, the one
# ctest's `postgres` fixture started (its URL is the first line of the file
# SWITCHBOARD_TEST_PG_STATE names; register the test with FIXTURES_REQUIRED postgres); sets
# db_url.
postgres_database() {
  local state=${SWITCHBOARD_TEST_PG_STATE:-} server name
  [[ -n $state && -s $state ]] ||
    fail "no PostgreSQL: run this through ctest (fixture postgres), or set SWITCHBOARD_TEST_PG_STATE"
  server=$(head -n 1 "$state")
  name="deploy_$$_$RANDOM"
  psql "$server" -qc "CREATE DATABASE $name TEMPLATE template0" >/dev/null ||
    fail "cannot create a database on $server"
  db_url=${server/\/postgres\?//$name?}
}

# template_nginx CONF OUT HTTPS_PORT HTTP_PORT UPSTREAM_PORT CERT_DIR: the shipped server
# config with only its ports, its certificate directory and its listen addresses (127.0.0.1,
# no IPv6) changed. Fails if the shipped file no longer has the lines this replaces.
template_nginx() {
  local conf=$1 out=$2 https=$3 http=$4 upstream=$5 certs=$6
  for line in '    listen 443 ssl;' '    listen 80;' '    server 127.0.0.1:8080;' \
    '    ssl_certificate     /etc/nginx/tls/fullchain.pem;'; do
    grep -qxF "$line" "$conf" || fail "$conf lost the line '$line' the tests template"
  done
  sed -e "s#^    listen 443 ssl;#    listen 127.0.0.1:$https ssl;#" \
    -e "s#^    listen 80;#    listen 127.0.0.1:$http;#" \
    -e '/^    listen \[::\]:/d' \
    -e "s#^    server 127.0.0.1:8080;#    server 127.0.0.1:$upstream;#" \
    -e "s#/etc/nginx/tls/#$certs/#" "$conf" >"$out"
}

# template_cluster_nginx CONF OUT HTTPS_PORT HTTP_PORT CERT_DIR PORT1 PORT2 PORT3: the shipped
# cluster config (config/nginx/switchboard-cluster.conf) with its listens changed as above and
# its three daemons' ports 8081-8083 replaced by PORT1-PORT3 (each line's parameters kept).
template_cluster_nginx() {
  local conf=$1 out=$2 https=$3 http=$4 certs=$5
  shift 5
  local edits=() i=1 port
  for line in '    listen 443 ssl;' '    listen 80;' \
    '    ssl_certificate     /etc/nginx/tls/fullchain.pem;'; do
    grep -qxF "$line" "$conf" || fail "$conf lost the line '$line' the tests template"
  done
  for port in "$@"; do
    grep -qE "^    server 127\.0\.0\.1:808$i[ ;]" "$conf" ||
      fail "$conf lost the upstream line 'server 127.0.0.1:808$i' the tests template"
    edits+=(-e "s#^    server 127\.0\.0\.1:808$i\([ ;]\)#    server 127.0.0.1:$port\1#")
    i=$((i + 1))
  done
  sed -e "s#^    listen 443 ssl;#    listen 127.0.0.1:$https ssl;#" \
    -e "s#^    listen 80;#    listen 127.0.0.1:$http;#" \
    -e '/^    listen \[::\]:/d' "${edits[@]}" \
    -e "s#/etc/nginx/tls/#$certs/#" "$conf" >"$out"
}

# make_cert DIR: a self-signed certificate for 127.0.0.1 and localhost, as fullchain.pem and
# privkey.pem (the names the shipped config uses).
make_cert() {
  mkdir -p "$1"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=localhost -addext 'subjectAltName=IP:127.0.0.1,DNS:localhost' \
    -keyout "$1/privkey.pem" -out "$1/fullchain.pem" 2>/dev/null
}

# start_nginx DIR CONF UPSTREAM_PORT CERT_DIR: real nginx in the foreground with the shipped
# server config (templated) inside a minimal main config; sets nginx_port (https) and
# nginx_pid.
start_nginx() {
  local dir=$1 conf=$2 upstream=$3 certs=$4
  mkdir -p "$dir"
  nginx_port=$(free_port)
  template_nginx "$conf" "$dir/switchboard.conf" "$nginx_port" "$(free_port)" "$upstream" "$certs"
  run_nginx "$dir" "$certs"
}

# run_nginx DIR CERT_DIR: nginx with DIR/switchboard.conf (templated already, listening on
# nginx_port) inside a minimal main config. The access log (DIR/logs/access.log) names, for
# each request, the path, the status, and every upstream tried with its answer, e.g.
# "/ws 101 127.0.0.1:5001, 127.0.0.1:5002 503, 101" for a retry on another daemon.
run_nginx() {
  local dir=$1 certs=$2
  mkdir -p "$dir/logs"
  cat >"$dir/nginx.conf" <<CONF
worker_processes 1;
error_log $dir/logs/error.log warn;
$( ((EUID == 0)) && echo 'user root root;')
events { worker_connections 256; }
http {
    log_format upstreams '\$uri \$status \$upstream_addr \$upstream_status';
    access_log $dir/logs/access.log upstreams;
    client_body_temp_path $dir/client_body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    include $dir/switchboard.conf;
}
CONF
  nginx -p "$dir" -c "$dir/nginx.conf" -g "daemon off; pid $dir/nginx.pid;" 2>>"$dir/logs/stderr" &
  nginx_pid=$!
  started_pids+=("$nginx_pid")
  wait_until 20 curl -sf --cacert "$certs/fullchain.pem" "https://127.0.0.1:$nginx_port/healthz" ||
    { cat "$dir/logs/stderr" "$dir/logs/error.log" 2>/dev/null; fail "nginx did not start"; }
}

# Stops everything started above (TERM, then KILL after 10 s), for an EXIT trap.
stop_all() {
  local pid
  for pid in "${started_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${started_pids[@]}"; do
    wait_until 10 bash -c "! kill -0 $pid" || kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}
