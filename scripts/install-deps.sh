#!/usr/bin/env bash
# Installs the Debian 12 packages switchboard needs to build, test and run.
# Idempotent: asks apt only for what dpkg does not already report installed,
# so a second run on a ready machine takes well under a second.
#
#   scripts/install-deps.sh            build + runtime packages
#   scripts/install-deps.sh --test     also the test toolchain (clang for fuzzing/TSan,
#                                      PostgreSQL, Redis, promtool from prometheus, ccache)
#   scripts/install-deps.sh --browser  also chromium, coturn and node (browser tests), Redis and
#                                      PostgreSQL (the cluster call)
#   scripts/install-deps.sh --container  also podman, debootstrap, podman-compose and nginx
#                                      (the container stage and the nginx test)
set -euo pipefail

packages=(
  build-essential cmake pkg-config ninja-build
  libboost1.81-all-dev nlohmann-json3-dev libsqlitecpp-dev libsqlite3-dev
  libsodium-dev libspdlog-dev libfmt-dev libssl-dev libpq-dev libsystemd-dev libhiredis-dev
  googletest libgtest-dev sqlite3 curl ca-certificates
)
for arg in "$@"; do
  case "$arg" in
    --test) packages+=(clang-14 libclang-rt-14-dev llvm-14 python3 postgresql redis-server prometheus nginx openssl systemd ccache) ;;
    --browser) packages+=(chromium coturn nodejs npm redis-server postgresql) ;;
    --container) packages+=(podman runc debootstrap podman-compose golang-github-containernetworking-plugin-dnsname nginx openssl systemd) ;;
    *) echo "install-deps.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  # The `nodejs`/`npm` packages are optional when a node is already on PATH
  # (many images ship their own); don't fight it.
  if [[ "$p" == nodejs || "$p" == npm ]] && command -v "${p/nodejs/node}" >/dev/null 2>&1; then
    continue
  fi
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  if [[ $(id -u) -ne 0 ]]; then sudo=sudo; else sudo=; fi
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
