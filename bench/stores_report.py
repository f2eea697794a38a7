#!/usr/bin/env python3
"""Turns the JSON lines of bench/stores.sh into the "Account stores" section of
docs/benchmarks.md: the block between the account-stores markers is replaced, or appended
under its heading when the file has none. bench/report.py keeps the block when it rewrites
the rest of the file."""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess

BEGIN = "<!-- account-stores:begin -->"
END = "<!-- account-stores:end -->"
HEADING = "## Account stores"
STORES = [("sqlite", "SQLite"), ("postgresql", "PostgreSQL")]


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""


def load(path):
    """Runs by (store, case), from labels "STORE/CASE", in the order they ran."""
    runs = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            r = json.loads(line)
            store, _, case = r.get("label", "").partition("/")
            runs.setdefault((store, case), []).append(r)
    return runs


def median(runs, key):
    values = [r.get(key) for r in runs]
    values = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return statistics.median(values) if values else None


def fmt(v, unit=""):
    if v is None:
        return "n/a"
    if abs(v) >= 100:
        s = f"{v:,.0f}"
    elif abs(v) >= 10:
        s = f"{v:.1f}"
    else:
        s = f"{v:.2f}"
    return s + unit


def ratio(pg, lite, kind):
    """PostgreSQL's figure over SQLite's, and which way that is. kind: "rate" (higher is
    better), "time" (lower is better) or "cpu" (lower is better)."""
    if not pg or not lite:
        return "n/a"
    r = pg / lite
    if abs(r - 1) < 0.005:
        return "1.00×"
    if kind == "rate":
        word = "faster" if r > 1 else "slower"
    elif kind == "time":
        word = "slower" if r > 1 else "faster"
    else:
        word = "more" if r > 1 else "less"
    return f"{r:.2f}× ({word})"


def total_cpu(runs, server_key, db_key):
    """Daemon plus database CPU per operation, per run, then the median."""
    totals = []
    for r in runs:
        a, b = r.get(server_key), r.get(db_key, 0)
        if isinstance(a, (int, float)):
            totals.append(a + (b or 0))
    return statistics.median(totals) if totals else None


def build_block(a, runs):
    def m(store, case, key):
        return median(runs.get((store, case), []), key)

    rows = []

    def section(title):
        rows.append(f"| **{title}** | | | |")

    def row(text, case, key, unit, kind, db_only=False):
        lite = None if db_only else m("sqlite", case, key)
        pg = m("postgresql", case, key)
        lite_text = "— (in the daemon)" if db_only else fmt(lite, unit)
        rows.append(f"| {text} | {lite_text} | {fmt(pg, unit)} | "
                    f"{'' if db_only else ratio(pg, lite, kind)} |")

    def total_row(text, case, server_key, db_key):
        lite = total_cpu(runs.get(("sqlite", case), []), server_key, db_key)
        pg = total_cpu(runs.get(("postgresql", case), []), server_key, db_key)
        rows.append(f"| {text} | {fmt(lite, ' µs')} | {fmt(pg, ' µs')} | {ratio(pg, lite, 'cpu')} |")

    n = f"{a.connections:,}"
    section("register: 16 clients, one request in flight each; Argon2id at 1 pass, 8 KiB, "
            "so the store's insert and commit dominate")
    row("registrations/s", "register", "registrations_per_sec", "", "rate")
    row("latency p50", "register", "latency_p50_ms", " ms", "time")
    row("latency p99", "register", "latency_p99_ms", " ms", "time")
    row("daemon CPU per registration", "register", "server_cpu_us_per_registration", " µs", "cpu")
    row("PostgreSQL's CPU per registration", "register", "db_cpu_us_per_registration", " µs",
        "cpu", db_only=True)
    total_row("daemon + database CPU per registration", "register",
              "server_cpu_us_per_registration", "db_cpu_us_per_registration")
    section(f"connect, every API key looked up in the store (`CREDENTIAL_CACHE_SIZE=0`): "
            f"{n} connections, 256 handshakes in flight")
    row("connects/s", "connect-store", "connections_per_sec", "", "rate")
    row("set-up p50 (TCP connect to Welcome)", "connect-store", "setup_p50_ms", " ms", "time")
    row("set-up p99", "connect-store", "setup_p99_ms", " ms", "time")
    row("daemon CPU per connect", "connect-store", "server_cpu_us_per_conn", " µs", "cpu")
    row("PostgreSQL's CPU per connect", "connect-store", "db_cpu_us_per_conn", " µs", "cpu",
        db_only=True)
    total_row("daemon + database CPU per connect", "connect-store", "server_cpu_us_per_conn",
              "db_cpu_us_per_conn")
    section(f"connect with the default cache (reference: no store query, so the ratio is "
            f"this run's noise): {n} connections")
    row("connects/s", "connect-cache", "connections_per_sec", "", "rate")
    row("set-up p50", "connect-cache", "setup_p50_ms", " ms", "time")
    row("set-up p99", "connect-cache", "setup_p99_ms", " ms", "time")
    row("daemon CPU per connect", "connect-cache", "server_cpu_us_per_conn", " µs", "cpu")

    # The spread behind the medians: each repeat, both stores.
    spread = ["| repeat | first | SQLite reg/s | PostgreSQL reg/s | SQLite connects/s (store) | "
              "PostgreSQL connects/s (store) | SQLite connects/s (cache) | PostgreSQL connects/s (cache) |",
              "|---:|---|---:|---:|---:|---:|---:|---:|"]
    count = max((len(v) for v in runs.values()), default=0)
    for i in range(count):
        def at(store, case, key):
            rs = runs.get((store, case), [])
            return rs[i].get(key) if i < len(rs) else None
        first = "SQLite" if i % 2 == 0 else "PostgreSQL"
        spread.append(
            f"| {i + 1} | {first} | {fmt(at('sqlite', 'register', 'registrations_per_sec'))} | "
            f"{fmt(at('postgresql', 'register', 'registrations_per_sec'))} | "
            f"{fmt(at('sqlite', 'connect-store', 'connections_per_sec'))} | "
            f"{fmt(at('postgresql', 'connect-store', 'connections_per_sec'))} | "
            f"{fmt(at('sqlite', 'connect-cache', 'connections_per_sec'))} | "
            f"{fmt(at('postgresql', 'connect-cache', 'connections_per_sec'))} |")

    problems = []
    for (store, case), rs in sorted(runs.items()):
        for i, r in enumerate(rs, 1):
            if not r.get("ok", False):
                problems.append(f"- {store}/{case}, repeat {i}: {'; '.join(r.get('problems', []))}")

    with open(a.commands) as f:
        commands = []
        for line in f:
            line = line.rstrip("\n")
            if not line.strip():
                continue
            daemon, _, bench = line.partition("\t")
            commands.append(f"# daemon: {daemon} build/release/switchboard")
            commands.append(bench)

    cpu_model = sh("lscpu | sed -n 's/^Model name:[[:space:]]*//p'")
    mem_gib = sh("free -g | awk '/Mem:/ {print $2}'")
    dirty = " with local changes" if sh("git status --porcelain -- src include bench") else ""
    sqlite_version = sh("sqlite3 --version").split(" ")[0]
    date = a.date or datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")

    repeats = "1 repeat" if a.repeats == 1 else f"{a.repeats} repeats"
    b = [BEGIN]
    if a.quick:
        b.append(f"**QUICK run** (`QUICK=1 bench/stores.sh`: `{a.timing}`, {n} connections, "
                 f"{repeats}): a dry run of the script, not the measurement; "
                 "`bench/stores.sh` without `QUICK` writes the real figures here.\n")
    b.append("The same release daemon on each store, measured by `switchboard-bench` in one run "
             "(`bench/stores.sh`, which writes this section; `bench/report.py` keeps it). "
             f"Medians of {repeats}; within a repeat each case runs on both stores back "
             "to back, the first store alternating. The ratio column is PostgreSQL's figure over "
             "SQLite's: PostgreSQL is allowed to be slower, and this says by how much.\n")
    b.append("| | SQLite | PostgreSQL | PostgreSQL / SQLite |")
    b.append("|---|---:|---:|---:|")
    b.extend(rows)
    b.append("")
    b.append("""- Durability as in production on both: SQLite in WAL mode with `synchronous=FULL` (the
  daemon's settings), PostgreSQL with initdb's defaults (`fsync`, `synchronous_commit`,
  `full_page_writes` on). The SQLite file and PostgreSQL's data directory are in one scratch
  directory on the same disk, so each commit's fsync costs both the same.
- PostgreSQL runs on the same machine, reached over TCP on 127.0.0.1 (no network between them,
  which a real deployment usually has: add its round trip to every query).
- Every case gets a fresh database (a new SQLite file; `CREATE DATABASE` on the one PostgreSQL
  server) and a fresh daemon with its defaults otherwise: `WORKER_THREADS=2` (the threads that
  run Argon2 and every store query, so at most two queries at a time), `DB_POOL_SIZE=4`.
- **register**: each client POSTs `/register` with a new name as soon as its previous answer
  arrives, for the measured window after a warm-up; latency is request written to answer
  read. A registration is an Argon2id hash, made cheap here (`ARGON2_OPSLIMIT=1
  ARGON2_MEMLIMIT=8192` instead of 2 passes over 19 MiB) so that the stores' work is what
  differs, and one `INSERT` committed. An answer other than 201 counts as an error.
- **connect**: the users are registered first by the same daemon (not measured), then that
  many WebSocket connections authenticate with `X-API-Key`. With `CREDENTIAL_CACHE_SIZE=0`,
  each is one lookup by API-key hash on the worker pool (what `docs/accounts.md` asks of
  several daemons sharing one database); with the default cache every key was cached when
  its user registered, so no connect asks the store. (A freshly started daemon's cache is
  empty: its first connect per key asks the store either way.)
- *Daemon CPU* is the daemon's utime + stime (`/proc/PID/stat`) over the measured window
  divided by the operations in it; SQLite does its work there. *PostgreSQL's CPU* is the
  postmaster's and all its processes' (backends, WAL writer, checkpointer) over the same
  window (`--db-pid`). Both count in clock ticks of 10 ms: a connect's CPU is known to
  10 ms divided by the connections, TICK_US µs here.
""".replace("TICK_US", fmt(10_000 / a.connections) if a.connections else "?"))
    b.append("Each repeat, both stores (the spread behind the medians):\n")
    b.append("\n".join(spread) + "\n")
    if problems:
        b.append("Problems the generator reported in this run:\n")
        b.append("\n".join(problems) + "\n")
    b.append("Machine and versions:\n")
    b.append("\n".join([
        f"- date: {date}; switchboard commit {a.commit or sh('git rev-parse --short HEAD') + dirty}, "
        f"release preset (`-O3`), {sh('g++ --version | head -n1')}",
        f"- `nproc`: {sh('nproc')}; CPU: {cpu_model}; memory: {mem_gib} GiB; kernel {platform.release()}",
        f"- load average (1, 5, 15 min) when the measurements started: {a.load}; when they ended: {a.load_after}",
        f"- scratch directory (SQLite file and PostgreSQL data): {a.fs}",
        f"- PostgreSQL {a.pg_version}: {a.pg_settings}",
        f"- SQLite {sqlite_version or '?'} (the system library)",
    ]) + "\n")
    b.append("Commands (`bench/stores.sh` runs all of them; every daemon also gets run.sh's "
             "benchmark settings, `SERVER_HOST=127.0.0.1 SERVER_PORT=0 RATE_LIMIT_PER_SEC=1000000 "
             "RATE_LIMIT_BURST=1000000 MAX_CONNECTIONS_PER_IP=100000 MAX_CONNECTIONS=100000 "
             "ARGON2_OPSLIMIT=1 ARGON2_MEMLIMIT=8192 WS_SEND_QUEUE=100000 HASH_QUEUE_LIMIT=1000 "
             "LOG_LEVEL=warn`):\n")
    b.append("```sh\n" + ("QUICK=1 " if a.quick else "") + "bench/stores.sh\n" + "\n".join(commands) + "\n```")
    b.append(END)
    return "\n".join(b)


def splice(text, block):
    """`text` with its account-stores block replaced by `block`, or with the section appended."""
    start = text.find(BEGIN)
    end = text.find(END, start) if start >= 0 else -1
    if start >= 0 and end >= 0:
        return text[:start] + block + text[end + len(END):]
    if text and not text.endswith("\n"):
        text += "\n"
    return text + ("\n" if text else "") + HEADING + "\n\n" + block + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--commands", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--load", default="?")
    ap.add_argument("--load-after", default="?")
    ap.add_argument("--date")
    ap.add_argument("--commit")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--connections", type=int, default=0)
    ap.add_argument("--timing", default="?")
    ap.add_argument("--fs", default="?")
    ap.add_argument("--pg-version", default="?")
    ap.add_argument("--pg-settings", default="?")
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    block = build_block(a, load(a.results))
    text = ""
    if os.path.exists(a.out):
        with open(a.out) as f:
            text = f.read()
    with open(a.out, "w") as f:
        f.write(splice(text, block))


if __name__ == "__main__":
    main()
