# Shared by the bench scripts (sourced): stopping the daemon under test and writing a
# generated block into a document between its markers.

# Stops the daemon whose pid is in $server_pid: SIGTERM, up to 10 s for it to drain and exit,
# then SIGKILL. Nothing when none runs.
stop_server() {
  if [[ -n ${server_pid:-} ]]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
  fi
}

# write_block FILE NAME HEADING: standard input (a block that starts with
# `<!-- NAME:begin -->` and ends with `<!-- NAME:end -->`) replaces FILE's block of that
# name, or is appended under `## HEADING` when FILE has none yet.
write_block() {
  # The program as an argument: standard input is the block.
  python3 -c '
import sys
out, name, heading = sys.argv[1:]
block = sys.stdin.read().strip("\n")
begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
try:
    text = open(out).read()
except OSError:
    text = ""
s = text.find(begin)
e = text.find(end, s) if s >= 0 else -1
if s >= 0 and e >= 0:
    text = text[:s] + block + text[e + len(end):]
else:
    text = text.rstrip("\n") + f"\n\n## {heading}\n\n" + block + "\n"
open(out, "w").write(text)
' "$1" "$2" "$3"
}

# build_baseline COMMIT DIR: the release daemon of COMMIT, built in a git worktree at DIR (under
# build/, which git ignores) and kept there for the next run; prints the binary's path.
# BASE_BINARY, when set, is used instead (a baseline built elsewhere).
build_baseline() {
  local commit=$1 tree=$2
  if [[ -n ${BASE_BINARY:-} ]]; then
    echo "$BASE_BINARY"
    return
  fi
  if [[ ! -d $tree ]] ||
    [[ $(git -C "$tree" rev-parse HEAD) != $(git rev-parse "$commit^{commit}") ]]; then
    git worktree remove --force "$tree" 2>/dev/null || rm -rf "$tree"
    git worktree prune
    git worktree add -q --detach "$tree" "$commit"
  fi
  (cd "$tree" && cmake --preset release -DSWITCHBOARD_WERROR=OFF \
    -DSWITCHBOARD_BUILD_BENCH=OFF >/dev/null && cmake --build --preset release >/dev/null)
  echo "$tree/build/release/switchboard"
}

# PostgreSQL for a bench script, from the caller's $pg_bin, $pgdata (initdb done) and $pgdir
# (its log); sets $pg_started, $pg_port and $pg_pid, which stop_postgres reads.

as_pg() {  # initdb and pg_ctl refuse root: run them as the packaged postgres user then
  if [[ $EUID -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# Starts it on a free port (five tries: another process may take the port first); exits the
# script with the server's log when it cannot.
start_postgres() {
  local attempt port
  pg_port=
  for attempt in 1 2 3 4 5; do
    port=$(free_port)
    pg_started=1
    if as_pg "$pg_bin/pg_ctl" -D "$pgdata" -o "-p $port" -l "$pgdir/server.log" -w -t 60 \
      start >/dev/null 2>&1; then
      pg_port=$port
      break
    fi
    log "PostgreSQL did not start on port $port (attempt $attempt)"
  done
  [[ -n $pg_port ]] || { tail -n 20 "$pgdir/server.log" >&2; exit 1; }
  pg_pid=$(head -n1 "$pgdata/postmaster.pid")
}

stop_postgres() {
  [[ -n ${pg_started:-} ]] || return 0
  if ! as_pg "$pg_bin/pg_ctl" -D "$pgdata" -m fast -w -t 30 stop >/dev/null 2>&1; then
    as_pg "$pg_bin/pg_ctl" -D "$pgdata" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
  fi
  # A postmaster that outlived both (no pg_ctl answer at all): by its own pid.
  if [[ -n ${pg_pid:-} ]] && kill -0 "$pg_pid" 2>/dev/null; then
    kill -KILL "$pg_pid" 2>/dev/null || true
  fi
  pg_started=
}
