#!/usr/bin/env python3
"""Turns the JSON lines of bench/run.sh into docs/benchmarks.md."""
import argparse
import datetime
import statistics
import json
import os
import platform
import subprocess


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""


def load(path):
    """Results by (label, server). A case run more than once (REPEATS) gives the median of
    each figure, and keeps its runs, in order, under "runs"."""
    runs = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                r = json.loads(line)
                runs.setdefault((r["label"], r["server"]), []).append(r)
    out = {}
    for key, rs in runs.items():
        merged = dict(rs[-1])
        for field, value in rs[-1].items():
            values = [r.get(field) for r in rs]
            if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
                merged[field] = statistics.median(values)
        merged["ok"] = all(r.get("ok", False) for r in rs)
        merged["problems"] = [p for r in rs for p in r.get("problems", [])]
        merged["runs"] = rs
        out[key] = merged
    return out


def repeat_lines(res):
    """Each repeat of the cases with a CPU target, both servers side by side: the spread
    behind the medians."""
    cases = [("relay-closed-50", "50 pairs"), ("relay-closed-500", "500 pairs"),
             ("relay-open-20k", "20,000/s")]
    out = ["| case | repeat | switchboard µs/msg | PeerJS µs/msg | ratio | switchboard msg/s | PeerJS msg/s | ratio |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for label, text in cases:
        sb = res.get((label, "switchboard"), {}).get("runs", [])
        pj = res.get((label, "peerjs"), {}).get("runs", [])
        for i, (a, b) in enumerate(zip(sb, pj), 1):
            ca, cb = a.get("server_cpu_us_per_msg"), b.get("server_cpu_us_per_msg")
            ma, mb = a.get("messages_per_sec"), b.get("messages_per_sec")
            cpu_ratio = f"{cb / ca:.2f}×" if ca and cb else "n/a"
            msg_ratio = f"{ma / mb:.2f}×" if ma and mb else "n/a"
            out.append(f"| {text} | {i} | {fmt(ca)} | {fmt(cb)} | {cpu_ratio} | {fmt(ma)} | {fmt(mb)} | {msg_ratio} |")
    several = any(len(r.get("runs", [])) > 1 for r in res.values())
    return out if several and len(out) > 2 else []


def fmt(v, unit=""):
    if v is None:
        return "n/a"
    if isinstance(v, (int, float)):
        if abs(v) >= 100:
            s = f"{v:,.0f}"
        elif abs(v) >= 10:
            s = f"{v:.1f}"
        else:
            s = f"{v:.2f}"
    else:
        s = str(v)
    return s + unit


CATEGORIES = [
    # The lexer appends every character of a string to its token buffer with push_back; the
    # serializer also writes through push_back, but relays no longer serialise.
    ("JSON parse: nlohmann lexer and DOM build", r"nlohmann.*(lexer|parser|sax|from_chars)|strtou?ll?_|strtoul|strtod|__GI_____strto|basic_string.*::push_back"),
    ("JSON serialise: nlohmann dump", r"serializer|dump_escaped"),
    ("JSON DOM copy and destroy", r"nlohmann|_Rb_tree|std::map"),
    ("depth pre-scan (json_too_deep)", r"json_too_deep"),
    ("malloc / free", r"malloc|free|_int_|operator new|operator delete|tcache|memalign"),
    ("memcpy / memcmp / strlen", r"__mem|__str|memcpy|memmove"),
    ("mutexes (user side)", r"pthread_mutex|lll_lock|lll_unlock|pthread_cond"),
    ("Asio / Beast (event loop, WebSocket framing)", r"boost::"),
    ("switchboard code (hub, rooms, session)", r"switchboard::"),
]
KERNEL = [
    ("kernel: scheduler, wake-ups, futex", r"finish_task_switch|schedule|_raw_spin|try_to_wake_up|ttwu|futex|enqueue_|dequeue_|select_task|update_curr|pick_next|__switch_to|psi_|switch_mm|wake_up|rseq"),
    ("kernel: epoll", r"ep_|epoll"),
    ("kernel: syscall entry and exit", r"entry_SYSCALL|syscall_|do_syscall|exit_to_user|__x64_sys"),
]


def summarize_profile(text, us_per_msg):
    """Groups perf's self time by symbol into categories; returns markdown lines."""
    import re
    totals = {}
    top = []
    for line in text.splitlines():
        m = re.match(r"\s*([0-9.]+)%\s+\[(.)\]\s+(.*)", line)
        if not m:
            continue
        pct, kind, sym = float(m.group(1)), m.group(2), m.group(3).strip()
        name = None
        if kind == "k":
            for cat, rx in KERNEL:
                if re.search(rx, sym):
                    name = cat
                    break
            name = name or "kernel: TCP/IP over loopback, socket calls, copies"
        else:
            for cat, rx in CATEGORIES:
                if re.search(rx, sym):
                    name = cat
                    break
            name = name or "other user space"
        totals[name] = totals.get(name, 0.0) + pct
        short = sym
        for _ in range(8):
            short = re.sub(r"<[^<>]*>", "", short)
        short = re.sub(r"nlohmann::json_abi_v3_11_2::", "nlohmann::", short)
        top.append((pct, f"[{kind}] {short[:110]}"))
    if not totals:
        return []
    out = ["| where | share of daemon CPU | µs per relayed message |", "|---|---:|---:|"]
    for name, pct in sorted(totals.items(), key=lambda kv: -kv[1]):
        per = f"{pct / 100 * us_per_msg:.2f}" if us_per_msg else "n/a"
        out.append(f"| {name} | {pct:.1f}% | {per} |")
    out.append("")
    out.append("The 20 hottest symbols (self time, template arguments elided):")
    out.append("")
    out.append("```")
    for pct, sym in sorted(top, key=lambda t: -t[0])[:20]:
        out.append(f"{pct:6.2f}%  {sym}")
    out.append("```")
    return out


# Sections other scripts write into the report between markers (this run measures none,
# so a regeneration keeps them as they are): heading, marker name.
KEPT_SECTIONS = [("Account stores", "account-stores"),  # bench/stores.sh
                 ("Session resume on the relay path", "resume-cost"),  # bench/resume_cost.sh
                 ("Metrics on the relay path", "metrics-cost"),  # bench/metrics_cost.sh
                 ("Several daemons (cluster)", "cluster")]  # bench/cluster.sh


def kept_sections(path):
    """The marked sections of the report being replaced, each with its heading."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return []
    out = []
    for heading, name in KEPT_SECTIONS:
        begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
        start = text.find(begin)
        stop = text.find(end, start) if start >= 0 else -1
        if start >= 0 and stop >= 0:
            out.append(f"## {heading}\n\n" + text[start:stop + len(end)] + "\n")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--commands", required=True)
    ap.add_argument("--profile")
    ap.add_argument("--profile-run")
    ap.add_argument("--peerjs-version", default="?")
    ap.add_argument("--analysis")
    ap.add_argument("--out", required=True)
    ap.add_argument("--load", default="?")
    ap.add_argument("--date", help="when the measurements ran (default: now)")
    ap.add_argument("--commit", help="the daemon's commit, when the report is written later "
                    "from kept results (default: the checkout's HEAD)")
    ap.add_argument("--load-after", default="?")
    a = ap.parse_args()
    res = load(a.results)

    def get(label, server, key):
        r = res.get((label, server))
        return None if r is None else r.get(key)

    # (label, metric text, key, unit, higher is better, target ratio or None, absolute check)
    rows = [
        ("relay-closed-50", "relayed messages/s, 50 pairs, closed loop", "messages_per_sec", "", True, None, None),
        ("relay-closed-50", "server CPU per message, 50 pairs", "server_cpu_us_per_msg", " µs", False, 3, None),
        ("relay-closed-50", "server CPU used, 50 pairs (cores)", "server_cpu_cores", "", None, None, None),
        ("relay-closed-50", "one-way latency p50, 50 pairs", "latency_p50_ms", " ms", False, None, None),
        ("relay-closed-50", "one-way latency p99, 50 pairs", "latency_p99_ms", " ms", False, None, None),
        ("relay-closed-500", "relayed messages/s, 500 pairs, closed loop", "messages_per_sec", "", True, None, None),
        ("relay-closed-500", "server CPU per message, 500 pairs", "server_cpu_us_per_msg", " µs", False, 3, None),
        ("relay-closed-500", "server CPU used, 500 pairs (cores)", "server_cpu_cores", "", None, None, None),
        ("relay-closed-500", "one-way latency p50, 500 pairs", "latency_p50_ms", " ms", False, None, None),
        ("relay-closed-500", "one-way latency p99, 500 pairs", "latency_p99_ms", " ms", False, None, None),
        ("relay-closed-500", "one-way latency p99.9, 500 pairs", "latency_p999_ms", " ms", False, None, None),
        ("relay-open-20k", "delivered messages/s, 20,000/s offered, 500 pairs", "messages_per_sec", "", True, None, None),
        ("relay-open-20k", "server CPU per message at 20,000/s", "server_cpu_us_per_msg", " µs", False, 2.5, None),
        ("relay-open-20k", "server CPU used at 20,000/s (cores)", "server_cpu_cores", "", None, None, None),
        ("relay-open-20k", "one-way latency p50 at 20,000/s", "latency_p50_ms", " ms", False, None, None),
        ("relay-open-20k", "one-way latency p99 at 20,000/s", "latency_p99_ms", " ms", False, None, ("<", 2.0)),
        ("relay-open-20k", "one-way latency p99.9 at 20,000/s", "latency_p999_ms", " ms", False, None, None),
        ("connect", "connections/s (authenticated, greeted)", "connections_per_sec", "", True, None, None),
        ("connect", "connection set-up p50", "setup_p50_ms", " ms", False, None, None),
        ("connect", "connection set-up p99", "setup_p99_ms", " ms", False, None, None),
        ("idle", "server RSS per idle connection", "server_rss_per_conn_bytes", " B", False, None, ("<", 4096)),
        ("idle", "idle connections held", "connected", "", None, None, None),
    ]
    lines = []
    lines.append("| scenario | switchboard | PeerJS | switchboard vs PeerJS | target | met |")
    lines.append("|---|---:|---:|---:|---|---|")
    for label, text, key, unit, higher, target, absolute in rows:
        sb = get(label, "switchboard", key)
        pj = get(label, "peerjs", key)
        ratio = ""
        r = None
        if isinstance(sb, (int, float)) and isinstance(pj, (int, float)) and sb > 0 and pj > 0 and higher is not None:
            r = sb / pj if higher else pj / sb
            ratio = f"{r:.2f}× {'better' if r >= 1 else 'worse'}"
        goals = []
        met = []
        if target is not None:
            goals.append(f"≥{target:g}× better" if target != 1 else "≤ PeerJS")
            met.append(r is not None and r >= target)
        if absolute is not None:
            op, limit = absolute
            goals.append(f"{op} {limit:g}{unit}")
            met.append(isinstance(sb, (int, float)) and sb < limit)
        mark = "" if not met else ("yes" if all(met) else "**no**")
        lines.append(f"| {text} | {fmt(sb, unit)} | {fmt(pj, unit)} | {ratio} | {', '.join(goals)} | {mark} |")

    rooms = res.get(("rooms-50", "switchboard"))
    rooms_lines = []
    if rooms:
        rooms_lines = [
            "| rooms, 50 pairs (switchboard only) | value |",
            "|---|---:|",
            f"| create + join + leave + leave cycles/s | {fmt(rooms.get('cycles_per_sec'))} |",
            f"| room operations/s | {fmt(rooms.get('room_ops_per_sec'))} |",
            f"| cycle time p50 / p99 | {fmt(rooms.get('cycle_p50_ms'), ' ms')} / {fmt(rooms.get('cycle_p99_ms'), ' ms')} |",
            f"| server CPU per cycle | {fmt(rooms.get('server_cpu_us_per_cycle'), ' µs')} |",
            f"| server CPU used (cores) | {fmt(rooms.get('server_cpu_cores'))} |",
        ]

    problems = []
    for (label, server), r in sorted(res.items()):
        if not r.get("ok", False):
            problems.append(f"- {label} / {server}: {'; '.join(r.get('problems', []))}")

    client_lines = ["| case | server | generator CPU (cores) | server CPU (cores) |", "|---|---|---:|---:|"]
    for (label, server), r in sorted(res.items()):
        if "client_cpu_cores" in r:
            client_lines.append(f"| {label} | {server} | {fmt(r.get('client_cpu_cores'))} | {fmt(r.get('server_cpu_cores'))} |")

    cpu_model = sh("lscpu | sed -n 's/^Model name:[[:space:]]*//p'")
    mem_gib = sh("free -g | awk '/Mem:/ {print $2}'")
    dirty = " with local changes" if sh("git status --porcelain -- src include") else ""
    machine = [
        f"- date: {a.date or datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- `nproc`: {sh('nproc')}",
        f"- CPU (`lscpu`): {cpu_model}",
        f"- kernel: {platform.release()} ({sh('uname -v')})",
        f"- memory: {mem_gib} GiB; open-file limit per process: {sh('ulimit -Hn')}",
        f"- switchboard: commit {a.commit or sh('git rev-parse --short HEAD') + dirty}, release preset (`-O3`), {sh('g++ --version | head -n1')}",
        f"- load average (1, 5, 15 min) when the measurements started: {a.load}; when they ended: {a.load_after}",
        f"- PeerJS server {a.peerjs_version} (npm `peer`) on Node.js {sh('node --version')}",
    ]

    with open(a.commands) as f:
        commands = [line.rstrip() for line in f if line.strip()]

    profile = ""
    if a.profile and os.path.exists(a.profile):
        with open(a.profile) as f:
            profile = f.read().strip()
    profile_run = None
    if a.profile_run and os.path.exists(a.profile_run):
        try:
            with open(a.profile_run) as f:
                profile_run = json.loads(f.read().strip().splitlines()[-1])
        except (ValueError, IndexError):
            profile_run = None
    analysis = ""
    if a.analysis and os.path.exists(a.analysis):
        with open(a.analysis) as f:
            analysis = f.read().strip()

    doc = []
    doc.append("# Benchmarks: switchboard and PeerJS server, side by side\n")
    doc.append("Both servers measured in the same run, on the same machine, by the same load generator "
               "(`switchboard-bench`, C++ on Asio with WebSocket clients of its own: it reads whatever a socket holds, "
               "writes everything queued for a socket in one gathered write, and masks with the all-zero key, "
               "so it costs less than the servers it measures; in `bench/`), which speaks each "
               "server's protocol through an adapter. This file is written by `bench/run.sh`; the analysis "
               "section comes from `bench/analysis.md`.\n")
    doc.append("## Results\n")
    doc.append("\n".join(lines) + "\n")
    doc.append("Ratios are how many times better switchboard does (higher throughput, or lower CPU, "
               "latency, memory); `n/a` means the figure could not be measured.\n")
    repeats = repeat_lines(res)
    if repeats:
        doc.append("Each case ran against the two servers back to back, several times; the table above "
                   "gives each figure's median, and these are the runs behind the CPU and throughput "
                   "medians:\n")
        doc.append("\n".join(repeats) + "\n")
    if rooms_lines:
        doc.append("\n".join(rooms_lines) + "\n")
    if problems:
        doc.append("Problems the generator reported in this run:\n")
        doc.append("\n".join(problems) + "\n")
    doc.append("## What is measured\n")
    doc.append("""- **relay**: N pairs of connections, each pair in its own room (switchboard: CreateRoom,
  JoinRoom; PeerJS: two peer ids), exchanging messages the size of a negotiation's: every
  fifth an SDP offer (about 3 KB), the others ICE candidates (about 350 B), each carrying its
  send time. *Closed loop*: each side keeps 2 messages in flight towards its peer and answers
  every message it receives, so the server runs as fast as it can (saturated). *Open loop*:
  20,000 messages/s in total are sent on a fixed schedule whatever comes back, each stamped
  with its scheduled time, so a late generator or server shows up as latency. The generator
  sends what is due every 100 µs (`--tick-us`), so a message waits at most that long before
  it leaves (runs before commit 0233eec used 1 ms ticks, which added about 1 ms to every
  latency figure and made the server's wake-ups fewer and fuller).
  Latency is one-way, send to receive (both ends live in the generator: one clock).
  *Server CPU per message* is the server's utime + stime (from `/proc/PID/stat`) over the
  measured window, divided by the messages delivered in it.
- **connect**: C users exist beforehand (switchboard: registered with POST /register), then
  C WebSocket connections are opened with at most 256 handshakes in flight; a connection
  counts when the server's first message arrives (switchboard: Welcome after `X-API-Key`
  authentication; PeerJS: OPEN). Set-up time is TCP connect to that first message.
- **idle**: C connections opened as above and held; the server's VmRSS (`/proc/PID/status`)
  just before opening and 3 s after the last one is greeted, divided by C. The generator and
  the server each hold C descriptors, under this machine's 20,000 per process.
- **rooms** (switchboard only; PeerJS has no rooms): per pair, A creates a room, B joins,
  B leaves, A leaves, and again; cycles completed per second.
- Every case starts a fresh server process; nothing is pinned to a core, and the generator
  shares the machine's cores with the server: one thread per core but one (here 1) in the
  relay cases, so that the server keeps a core to itself, and 2 threads in the connect and
  idle cases, where a handshake costs the generator about what it costs the server (see the
  comment in `bench/run.sh`). Both servers are driven the same way.
""")
    doc.append("### Generator and server CPU\n")
    doc.append("\n".join(client_lines) + "\n")
    doc.append("## How the servers ran\n")
    doc.append("""switchboard (release build) with the per-connection limits out of the way, since one
generator plays thousands of users from one address, and a cheap password hash so that
registering 9,000 users is quick (neither is on a measured path):

```sh
SERVER_HOST=127.0.0.1 SERVER_PORT=0 DB_PATH=/dev/shm/.../bench.db \\
RATE_LIMIT_PER_SEC=1000000 RATE_LIMIT_BURST=1000000 MAX_CONNECTIONS_PER_IP=100000 \\
MAX_CONNECTIONS=100000 ARGON2_OPSLIMIT=1 ARGON2_MEMLIMIT=8192 WS_SEND_QUEUE=100000 \\
LOG_LEVEL=warn build/release/switchboard
```

It prints `listening on http://127.0.0.1:PORT`, which `run.sh` reads. Everything else is the
default: `IO_THREADS=0` (one I/O thread per core).

PeerJS server with its defaults except the concurrent-user limit (5,000 by default, below the
idle case), started by `bench/peerjs-server.mjs` (`PeerServer({host: "127.0.0.1", port: 0,
concurrent_limit: 1000000})`), one Node.js process. Its clients connect to
`/peerjs?key=peerjs&id=ID&token=TOKEN` and send `{"type": "OFFER"|"CANDIDATE", "dst", "payload"}`.
""")
    doc.append("## Machine\n")
    doc.append("\n".join(machine) + "\n")
    doc.append("## Commands\n")
    doc.append("```sh\nbench/run.sh        # all of the below, then this file\n```\n")
    doc.append("which runs, each against a fresh server (`run.sh` adds `--users-file`, `--json` and "
               "`--label`, which only keep books):\n")
    doc.append("```sh\n" + "\n".join(commands) + "\n```\n")
    if profile:
        doc.append("## Profile of the daemon\n")
        us = profile_run.get("server_cpu_us_per_msg") if profile_run else None
        intro = ("`perf record -F 499 -g -p PID` on the daemon for 8 s of the 50-pair closed-loop "
                 "relay, self time grouped by symbol")
        if profile_run and profile_run.get("messages_per_sec"):
            intro += (f"; while profiled it relayed {fmt(profile_run['messages_per_sec'])} messages/s "
                      f"at {fmt(us, ' µs')} of daemon CPU per message, which the last column "
                      "divides up")
        doc.append(intro + ".\n")
        doc.append("\n".join(summarize_profile(profile, us)) + "\n")
    if analysis:
        doc.append(analysis + "\n")
    doc.extend(kept_sections(a.out))
    with open(a.out, "w") as f:
        f.write("\n".join(doc))


if __name__ == "__main__":
    main()
