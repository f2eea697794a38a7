#!/usr/bin/env bash
# CI stage: the container image and compose.yaml, built and run for real with podman.
#   1. a debian:bookworm-slim base image from Debian's own packages (debootstrap; no registry
#      is needed), cached as a rootfs tarball in $SWITCHBOARD_CACHE_DIR (default
#      ~/.cache/switchboard);
#   2. the Dockerfile built unchanged (--pull=never, --format docker to keep HEALTHCHECK);
#      its own layers must stay under 150 MB;
#   3. the image run: healthy by its own HEALTHCHECK (switchboard --probe), runs as non-root,
#      a registration and a WebSocket session through it, SIGTERM stops it with exit 0 inside
#      the stop timeout, an account registered before a restart works after it (the volume);
#   4. compose.yaml with podman-compose: up, a registration and a wss:// session through its
#      nginx, down.
# Everything listens on 127.0.0.1 only, and every container, volume, network and image tag
# it creates is removed on exit, also on failure (the images stay, as a build cache).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
source tests/deploy/lib.sh

cache=${SWITCHBOARD_CACHE_DIR:-$HOME/.cache/switchboard}
base_tar="$cache/debian-bookworm-minbase.tar"
base_image=docker.io/library/debian:bookworm-slim
# Stable tags: the images stay as a build cache for the next run (containers do not).
image=localhost/switchboard:ci
nginx_image=localhost/switchboard-ci-nginx:latest
run_id=switchboard-ci-$$
volume=$run_id-data
work=$(mktemp -d)
stage_start=$SECONDS
step() { printf -- '--- %s (+%d s)\n' "$1" $((SECONDS - stage_start)); }

scripts/install-deps.sh --container

# The sandbox settings machine-facts.md describes, as a file so that podman-compose (which
# calls podman itself) uses them too.
cat >"$work/containers.conf" <<'CONF'
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
netns = "host"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
CONF
export CONTAINERS_CONF="$work/containers.conf"

cleanup() {
  local status=$?
  set +e
  if [[ -f $work/compose.env ]]; then
    (set -a && source "$work/compose.env" && podman-compose -p "$run_id" -f compose.yaml down -v) \
      >/dev/null 2>&1
  fi
  podman ps -aq --filter "label=$run_id" | xargs -r podman rm -f -t 0 >/dev/null 2>&1
  podman volume rm -f "$volume" "${run_id}_switchboard-data" >/dev/null 2>&1
  podman network rm -f "${run_id}_default" >/dev/null 2>&1
  stop_all
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT

# --- 1. the base image -------------------------------------------------------------------
step "base image"
if ! podman image exists "$base_image"; then
  if [[ ! -s $base_tar ]]; then
    mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources)
    echo "building $base_image with debootstrap from $mirror (cached in $base_tar)"
    mkdir -p "$cache"
    debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" ||
      { tail -20 "$work/debootstrap.log"; fail "debootstrap"; }
    # Written under another name, then renamed: a run that dies midway leaves no bad cache.
    tar -C "$work/rootfs" -c . >"$base_tar.tmp.$$"
    mv "$base_tar.tmp.$$" "$base_tar"
    rm -rf "$work/rootfs"
  fi
  podman import - localhost/debian:bookworm <"$base_tar" >/dev/null
  podman tag localhost/debian:bookworm "$base_image"
fi

# --- 2. the image --------------------------------------------------------------------------
step "podman build"
podman build --pull=never --format docker --jobs 1 -t "$image" . >"$work/build.log" 2>&1 ||
  { tail -40 "$work/build.log"; fail "podman build"; }
size=$(podman image inspect -f '{{.Size}}' "$image")
base_size=$(podman image inspect -f '{{.Size}}' "$base_image")
own_mb=$(((size - base_size) / 1000000))
echo "image: $((size / 1000000)) MB in all, $own_mb MB in its own layers above the base"
podman history --format '{{.Size}}\t{{.CreatedBy}}' "$image" | head -12 | cut -c1-110
((own_mb < 150)) || fail "the image's own layers take $own_mb MB, over 150 MB"
[[ $(podman image inspect -f '{{.Config.Healthcheck.Test}}' "$image") == *--probe* ]] ||
  fail "the image has no HEALTHCHECK (built without --format docker?)"

# --- 3. the image, run -------------------------------------------------------------------
# run_app NAME PORT: the image on the host's network, listening on 127.0.0.1:PORT.
run_app() {
  # (stderr kept aside: without systemd, podman complains it cannot schedule the periodic
  # health check; `podman healthcheck run` below runs it on demand instead.)
  podman run -d --name "$1" --label "$run_id" --network host \
    -e SERVER_HOST=127.0.0.1 -e SERVER_PORT="$2" -e DRAIN_SECONDS=2 \
    -v "$volume:/var/lib/switchboard" "$image" >/dev/null 2>"$work/run-$1.err" ||
    { cat "$work/run-$1.err"; fail "podman run $1"; }
  wait_until 60 curl -sf "http://127.0.0.1:$2/healthz" ||
    { podman logs "$1" | tail -20; fail "container $1 did not come up"; }
}
session() { node --experimental-websocket --no-warnings tests/deploy/ws_session.mjs "$@"; }

step "podman run"
port=$(free_port)
run_app "$run_id-a" "$port"
podman healthcheck run "$run_id-a" || fail "the image's HEALTHCHECK (switchboard --probe) failed"
[[ $(podman exec "$run_id-a" id -u) != 0 ]] || fail "the daemon runs as root"
echo "ok: healthy by its HEALTHCHECK, running as uid $(podman exec "$run_id-a" id -u)"

code=$(curl -s -o "$work/reg.json" -w '%{http_code}' -H 'Content-Type: application/json' \
  -d '{"Username":"kept_user","Password":"correct horse battery"}' "http://127.0.0.1:$port/register")
[[ $code == 201 ]] || fail "register in the container: $code $(cat "$work/reg.json")"
key=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["api_key"])' <"$work/reg.json")
echo "ok: registration through the container"
session "http://127.0.0.1:$port" || fail "WebSocket session through the container"

# SIGTERM (the image's STOPSIGNAL): exit 0 before podman's timeout would SIGKILL it (137).
start=$SECONDS
podman stop -t 30 "$run_id-a" >/dev/null 2>&1
status=$(podman inspect -f '{{.State.ExitCode}}' "$run_id-a")
[[ $status == 0 ]] || { podman logs "$run_id-a" | tail; fail "exit status $status after SIGTERM"; }
echo "ok: SIGTERM -> exit 0 after $((SECONDS - start)) s (DRAIN_SECONDS=2, stop timeout 30 s)"

# A new container on the same volume: the account and its key are still there.
port=$(free_port)
run_app "$run_id-b" "$port"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "X-API-Key: $key" "http://127.0.0.1:$port/ws-ticket")
[[ $code == 200 ]] || fail "the key registered before the restart: $code"
echo "ok: an account registered before the restart works after it"
podman stop -t 30 "$run_id-b" >/dev/null 2>&1

# --- 4. compose ----------------------------------------------------------------------------
step "podman-compose"
# Debian's nginx stands in for the nginx image (no registry here); like the official image it
# reads /etc/nginx/conf.d/ and runs in the foreground.
cat >"$work/nginx.Dockerfile" <<'DOCKERFILE'
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends nginx \
 && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/default
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
DOCKERFILE
podman image exists "$nginx_image" ||
  podman build --pull=never -q -t "$nginx_image" -f "$work/nginx.Dockerfile" "$work" >/dev/null
make_cert "$work/tls"
https_port=$(free_port)
cat >"$work/compose.env" <<ENV
SWITCHBOARD_IMAGE=$image
NGINX_IMAGE=$nginx_image
HTTPS_PUBLISH=127.0.0.1:$https_port
HTTP_PUBLISH=127.0.0.1:$(free_port)
TLS_DIR=$work/tls
DRAIN_SECONDS=1
ENV
compose() { (set -a && source "$work/compose.env" && podman-compose -p "$run_id" -f compose.yaml "$@"); }
compose up -d --no-build switchboard nginx >"$work/compose.log" 2>&1 ||
  { tail -30 "$work/compose.log"; fail "podman-compose up"; }
base="https://127.0.0.1:$https_port"
export NODE_EXTRA_CA_CERTS="$work/tls/fullchain.pem"
wait_until 60 curl -sf --cacert "$work/tls/fullchain.pem" "$base/healthz" ||
  { compose logs 2>&1 | tail -30; fail "compose: nginx -> switchboard did not answer"; }
code=$(curl -s --cacert "$work/tls/fullchain.pem" -o /dev/null -w '%{http_code}' \
  -H 'Content-Type: application/json' \
  -d '{"Username":"compose_user","Password":"correct horse battery"}' "$base/register")
[[ $code == 201 ]] || fail "compose: register through nginx: $code"
echo "ok: compose: registration over https through nginx"
session "$base" || fail "compose: wss:// session through nginx"
compose down -v >"$work/compose-down.log" 2>&1 || { tail "$work/compose-down.log"; fail "compose down"; }
rm -f "$work/compose.env"
[[ -z $(podman ps -aq --filter "label=com.docker.compose.project=$run_id") ]] ||
  fail "compose down left containers"
step "container stage passed"
