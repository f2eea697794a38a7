#!/usr/bin/env python3
"""The "Several daemons (cluster)" block of docs/benchmarks.md, from bench/cluster.sh's
results: medians over the rounds of each case, and what the daemons logged."""
import argparse
import json
import re
import statistics
import sys

p = argparse.ArgumentParser()
for name in ("results", "daemon-log", "out", "commit", "base", "date", "load-before",
             "load-after", "repeats", "timing", "connections", "pg-version", "redis-version"):
    p.add_argument("--" + name, required=True)
p.add_argument("--quick", action="store_true")
a = p.parse_args()

runs = {}
for line in open(a.results):
    r = json.loads(line)
    runs.setdefault(r["label"], []).append(r)


def med(label, key):
    vals = [r[key] for r in runs.get(label, []) if isinstance(r.get(key), (int, float))]
    return statistics.median(vals) if vals else float("nan")


def med_each(label, key):
    """The element-wise median of a per-daemon list."""
    lists = [r[key] for r in runs.get(label, []) if isinstance(r.get(key), list)]
    if not lists:
        return []
    return [statistics.median(v[i] for v in lists) for i in range(min(map(len, lists)))]


def f(x, digits=2):
    return "n/a" if x != x else f"{x:,.{digits}f}"


def n(x):
    return "n/a" if x != x else f"{x:,.0f}"


def ok_rounds(label):
    rs = runs.get(label, [])
    return sum(1 for r in rs if r.get("ok")), len(rs)


names = {"alone": "alone (no Redis)", "cluster-1": "cluster-1 (both users on one daemon)",
         "cluster-2": "cluster-2 (users on different daemons)",
         "cluster-3": "cluster-3 (users on different daemons)"}
daemons = {"alone": 1, "cluster-1": 1, "cluster-2": 2, "cluster-3": 3}

b = ["<!-- cluster:begin -->", "",
     f"Measured {a.date} UTC by `bench/cluster.sh` on {a.commit}"
     + (" (QUICK=1: a dry run)" if a.quick else "")
     + f", {a.repeats} round(s) of every case in rotating order, fresh daemons per case, medians; "
     f"`{a.timing}`; PostgreSQL {a.pg_version} and redis-server {a.redis_version} (no "
     f"persistence) on loopback, on the same 2 cores as the daemons and the generator; load "
     f"{a.load_before} before, {a.load_after} after.", ""]

# Closed-loop relay.
alone_total = med("relay50/alone", "server_cpu_us_per_msg")
b += ["**Relay, closed loop, 50 pairs** (1 generator thread; CPU per relayed message: the "
      "daemons' sum, each daemon's, and redis-server's):", "",
      "| case | daemons | messages/s | CPU per message, daemons | each daemon | Redis | "
      "daemons + Redis | vs alone | cores used | p50 | p99 |",
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
totals = {}
for c in ("alone", "cluster-1", "cluster-2", "cluster-3"):
    label = "relay50/" + c
    srv = med(label, "server_cpu_us_per_msg")
    redis = med(label, "redis_cpu_us_per_msg") if c != "alone" else 0.0
    total = srv + redis
    totals[c] = total
    each = med_each(label, "server_cpu_us_per_msg_each")
    cores = med(label, "server_cpu_cores") + (med(label, "redis_cpu_cores") if c != "alone" else 0)
    b.append(f"| {names[c]} | {daemons[c]} | {n(med(label, 'messages_per_sec'))} | {f(srv)} µs | "
             + (" / ".join(f(x) for x in each) + " µs" if each else "") + " | "
             + (f"{f(redis)} µs" if c != "alone" else "") + f" | {f(total)} µs | "
             f"{f(total / alone_total)}× | {f(cores)} | {f(med(label, 'latency_p50_ms'))} ms | "
             f"{f(med(label, 'latency_p99_ms'))} ms |")

# Open loop at 20,000/s.
b += ["", "**Relay, open loop, 20,000 messages/s offered, 500 pairs** (held: delivered at least "
      "90% of the offered rate in every round):", "",
      "| case | delivered/s | held | CPU per message, daemons | Redis | p50 | p99 | p99.9 |",
      "|---|---:|---|---:|---:|---:|---:|---:|"]
for c in ("alone", "cluster-2"):
    label = "open20k/" + c
    good, total_rounds = ok_rounds(label)
    b.append(f"| {names[c]} | {n(med(label, 'messages_per_sec'))} | "
             f"{'yes' if good == total_rounds and total_rounds else 'no'} ({good}/{total_rounds}) | "
             f"{f(med(label, 'server_cpu_us_per_msg'))} µs | "
             + (f"{f(med(label, 'redis_cpu_us_per_msg'))} µs" if c != "alone" else "")
             + f" | {f(med(label, 'latency_p50_ms'))} ms | {f(med(label, 'latency_p99_ms'))} ms | "
             f"{f(med(label, 'latency_p999_ms'))} ms |")

# Connects.
b += ["", f"**Connects**: {int(a.connections):,} WebSocket connections opened and greeted (API "
      "key in the header, 256 handshakes in flight, 2 generator threads), connection c on "
      "daemon c % n; the users were registered before, by another daemon, so every key comes "
      "from the daemon's preload or PostgreSQL:", "",
      "| case | connections/s | set-up p50 | set-up p99 | CPU per connect, daemons | Redis | "
      "PostgreSQL |", "|---|---:|---:|---:|---:|---:|---:|"]
for c in ("alone", "cluster-2"):
    label = "connect/" + c
    b.append(f"| {names[c]} | {n(med(label, 'connections_per_sec'))} | "
             f"{f(med(label, 'setup_p50_ms'))} ms | {f(med(label, 'setup_p99_ms'))} ms | "
             f"{f(med(label, 'server_cpu_us_per_conn'), 1)} µs | "
             + (f"{f(med(label, 'redis_cpu_us_per_conn'), 1)} µs" if c != "alone" else "")
             + f" | {f(med(label, 'db_cpu_us_per_conn'), 1)} µs |")

# Before / after for the single daemon.
before = med("relay50/sqlite-base", "server_cpu_us_per_msg")
after = med("relay50/sqlite-this", "server_cpu_us_per_msg")
b += ["", f"**One daemon before and after the Hub interface** (SQLite, no Redis; {a.base} is the "
      "commit before it; closed loop, 50 pairs, in the same rounds):", "",
      "| daemon | CPU per relayed message | vs before | messages/s | per round (µs) |",
      "|---|---:|---:|---:|---|"]
for label, title, cpu in (("relay50/sqlite-base", f"before ({a.base})", before),
                          ("relay50/sqlite-this", f"this tree ({a.commit})", after)):
    per_round = ", ".join(f"{r['server_cpu_us_per_msg']:.2f}" for r in runs.get(label, [])
                          if "server_cpu_us_per_msg" in r)
    b.append(f"| {title} | {f(cpu)} µs | {f(cpu / before, 3)}× | "
             f"{n(med(label, 'messages_per_sec'))} | {per_round} |")

# What the daemons logged (LOG_LEVEL=warn): every warning or error, by case.
logged = {}
for line in open(a.daemon_log):
    m = re.match(r"(\S+) daemon \d+: (.*)", line.rstrip("\n"))
    # libpq prints the server's notices (CREATE TABLE IF NOT EXISTS at every start) itself.
    if not m or m.group(2).startswith("NOTICE:"):
        continue
    # Without the time and the thread; lines that differ only in numbers (ids, ports,
    # counts) are one kind, shown by its first example.
    text = re.sub(r"^\d{4}-\d\d-\d\dT[\d:.]+ ", "", m.group(2))
    text = re.sub(r"\[\d+\] ", "", text).strip()
    kinds = logged.setdefault(m.group(1), {})
    kind = kinds.setdefault(re.sub(r"\d+", "N", text), [0, text])
    kind[0] += 1
if logged:
    b += ["", "What the daemons logged (LOG_LEVEL=warn), by case, over all rounds (lines that "
          "differ only in numbers counted together, the first shown):", ""]
    for case, kinds in sorted(logged.items()):
        for count, text in sorted(kinds.values(), key=lambda kv: -kv[0])[:5]:
            b.append(f"- {case}: {count}× `{text[:240]}`")
else:
    b += ["", "No daemon logged a warning or an error (LOG_LEVEL=warn) in any case."]
problems = [(label, r.get("problems")) for label, rs in runs.items() for r in rs
            if not r.get("ok")]
if problems:
    b += ["", "Rounds the generator flagged: " + "; ".join(
        f"{label}: {', '.join(pr or [])}" for label, pr in problems)]

# What the figures say, in words (the numbers from this run).
def rate(label):
    return med(label, "messages_per_sec")


hop = totals["cluster-1"] - totals["alone"]
redis1 = med("relay50/cluster-1", "redis_cpu_us_per_msg")
redis_max = max(med("relay50/" + c, "redis_cpu_us_per_msg") for c in ("cluster-1", "cluster-2",
                                                                       "cluster-3"))
each2 = med_each("relay50/cluster-2", "server_cpu_us_per_msg_each")
b += ["", f"**What a Redis hop costs.** With both users of a pair on one daemon (cluster-1), a "
      f"relayed message costs {f(med('relay50/cluster-1', 'server_cpu_us_per_msg'))} µs of the "
      f"daemon's CPU and {f(redis1)} µs of redis-server's (the EVALSHA of the rules check and "
      f"the PUBLISH, then the delivery to the subscriber), {f(totals['cluster-1'])} µs in all "
      f"against {f(totals['alone'])} µs alone: {f(hop)} µs more, "
      f"{f(totals['cluster-1'] / totals['alone'])}× the CPU. With the users on two daemons it "
      f"is {f(totals['cluster-2'])} µs in all "
      + (f"({' + '.join(f(x) for x in each2)} µs on the two daemons) " if each2 else "")
      + f"against {f(totals['alone'])} µs. At 20,000 messages/s offered (open loop, 500 pairs) "
      f"the one-way latency was p50 {f(med('open20k/cluster-2', 'latency_p50_ms'))} ms / p99 "
      f"{f(med('open20k/cluster-2', 'latency_p99_ms'))} ms across two daemons against "
      f"{f(med('open20k/alone', 'latency_p50_ms'))} ms / "
      f"{f(med('open20k/alone', 'latency_p99_ms'))} ms alone; a connect costs "
      f"{f(med('connect/cluster-2', 'server_cpu_us_per_conn'), 1)} µs on the daemons and "
      f"{f(med('connect/cluster-2', 'redis_cpu_us_per_conn'), 1)} µs in Redis against "
      f"{f(med('connect/alone', 'server_cpu_us_per_conn'), 1)} µs alone.",
      "",
      f"**From one to three daemons.** The closed loop delivered {n(rate('relay50/cluster-1'))}, "
      f"{n(rate('relay50/cluster-2'))} and {n(rate('relay50/cluster-3'))} messages/s with 1, 2 "
      f"and 3 daemons ({n(rate('relay50/alone'))} alone). That is no scaling figure: this "
      "machine has 2 cores, shared by the daemons, redis-server, PostgreSQL's idle backends, "
      "the generator and anything else running, so a second or third daemon adds no core; "
      "it adds processes that take turns on the same two, and a relay that crosses daemons "
      "wakes two of them. What the figures do show is the cost of a message, which a machine "
      "with a core per daemon would spread over the daemons (each user's socket work stays on "
      "its own daemon), and the part that does not spread: one redis-server thread does the "
      f"rules check and the routing of every relay of the cluster, at {f(redis1)} to "
      f"{f(redis_max)} µs per message here, so one Redis core caps a cluster at roughly "
      f"{n(1e6 / redis_max)} relayed messages/s whatever the number of daemons.",
      ""]


def spread(label):
    vals = [r["server_cpu_us_per_msg"] for r in runs.get(label, []) if "server_cpu_us_per_msg" in r]
    return f"{f(min(vals))}–{f(max(vals))}" if vals else "n/a"


b += [f"**Without REDIS_URL, against {a.base}:** this tree alone on SQLite spent {f(after)} µs "
      f"per relayed message (rounds {spread('relay50/sqlite-this')}) against {f(before)} µs "
      f"(rounds {spread('relay50/sqlite-base')}) before the Hub interface: "
      f"{f(after / before, 3)}×, medians of rounds run side by side.", ""]
b += ["```sh", "bench/cluster.sh          # REPEATS=3; QUICK=1 for a dry run; BASE=<commit>",
      "# each case, by hand, with the daemons started as the script starts them:",
      "switchboard-bench --url http://127.0.0.1:P1,http://127.0.0.1:P2 --server-pid PID1,PID2 \\",
      "  --redis-pid REDIS_PID --db-pid POSTMASTER_PID --scenario relay --mode closed --pairs 50 \\",
      f"  --threads 1 {a.timing}", "```", "", "<!-- cluster:end -->"]
print("\n".join(b))
