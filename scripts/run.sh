#!/usr/bin/env bash
# Installs what is missing, builds the release binary and starts the daemon in the
# foreground on its defaults (http://127.0.0.1:8080, SQLite file switchboard.db, the demo
# page from web/). Extra arguments go to the daemon, e.g. scripts/run.sh --server-port 9000.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release
exec build/release/switchboard "$@"
