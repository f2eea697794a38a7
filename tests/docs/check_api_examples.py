#!/usr/bin/env python3
"""Runs the curl examples of docs/api.md against a live daemon and checks their answers.

Usage: check_api_examples.py SWITCHBOARD_BINARY DOC.md [--env NAME=VALUE]... [--setup COMMAND]

--env sets a variable for the daemon and the examples alike (docs/admin.md: ADMIN_TOKEN).
--setup runs COMMAND (split as a shell would, the daemon's base URL appended) before the
examples and leaves it running until they are done: the state they look at (docs/admin.md: a
room with two members). Its first line of output is a JSON object of shell variables for the
examples.

Each ```sh block containing curl is run (bash, with 127.0.0.1:8080 replaced by the daemon's
address); the ```http block that follows gives the expected status line and JSON body. String
values written as an ellipsis are not compared; every other value, and the set of keys, must
match. $API_KEY and $TICKET are set from the latest response that carried them.
"""
import argparse
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile


def blocks(markdown):
    """Yields (language, text) for each fenced block, in order."""
    for m in re.finditer(r"```(\w*)\n(.*?)```", markdown, re.S):
        yield m.group(1), m.group(2)


def matches(expected, actual, path="body"):
    if isinstance(expected, str) and expected == "\u2026":
        return []
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        problems = []
        for i, (e, a) in enumerate(zip(expected, actual)):
            problems += matches(e, a, f"{path}[{i}]")
        return problems
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected an object, got {actual!r}"]
        problems = []
        if set(expected) != set(actual):
            problems.append(f"{path}: keys {sorted(actual)} != documented {sorted(expected)}")
        for k in expected:
            if k in actual:
                problems += matches(expected[k], actual[k], f"{path}.{k}")
        return problems
    if expected != actual:
        return [f"{path}: {actual!r} != documented {expected!r}"]
    return []


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("doc")
    parser.add_argument("--env", action="append", default=[])
    parser.add_argument("--setup")
    args = parser.parse_args()
    text = open(args.doc, encoding="utf-8").read()
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, SERVER_HOST="127.0.0.1", SERVER_PORT="0",
                   DB_PATH=os.path.join(tmp, "docs.db"), WEB_ROOT="",
                   ARGON2_OPSLIMIT="1", ARGON2_MEMLIMIT="8192", LOG_LEVEL="warn")
        env.update(item.split("=", 1) for item in args.env)
        daemon = subprocess.Popen([args.binary], env=env, stdout=subprocess.PIPE, text=True)
        setup = None
        try:
            line = daemon.stdout.readline()
            m = re.match(r"listening on (http://\S+)", line)
            if not m:
                print(f"daemon did not start: {line!r}")
                return 1
            base = m.group(1)
            if args.setup:
                setup = subprocess.Popen(shlex.split(args.setup) + [base], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, text=True)
                first = setup.stdout.readline()
                try:
                    env.update({k: str(v) for k, v in json.loads(first).items()})
                except json.JSONDecodeError:
                    print(f"setup failed: {first!r}")
                    return 1
            return run_examples(text, base, env)
        finally:
            if setup:
                setup.stdin.close()
                try:
                    setup.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    setup.kill()
                    setup.wait()
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(timeout=20)
            except subprocess.TimeoutExpired:
                daemon.kill()
                print("daemon did not stop on SIGTERM")
                return 1


def run_examples(text, base, env):
    failures = 0
    examples = 0
    pending = None
    shell_env = dict(env)
    for lang, body in blocks(text):
        if lang == "sh" and "curl" in body:
            pending = body.replace("http://127.0.0.1:8080", base)
            continue
        if lang != "http" or pending is None:
            continue
        command, pending = pending, None
        examples += 1
        out = subprocess.run(["bash", "-c", command], env=shell_env, capture_output=True,
                             text=True, timeout=30).stdout
        head, _, got_body = out.replace("\r\n", "\n").partition("\n\n")
        want_head, _, want_body = body.strip().partition("\n\n")
        want_status = want_head.splitlines()[0].split()[1]
        got_status = head.splitlines()[0].split()[1] if head else "(none)"
        problems = []
        if got_status != want_status:
            problems.append(f"status {got_status} != documented {want_status}")
        try:
            got_json = json.loads(got_body)
            problems += matches(json.loads(want_body), got_json)
            for key, var in (("api_key", "API_KEY"), ("ticket", "TICKET")):
                if isinstance(got_json, dict) and key in got_json:
                    shell_env[var] = got_json[key]
        except json.JSONDecodeError as e:
            problems.append(f"not JSON: {e}: {got_body!r}")
        if problems:
            failures += 1
            print(f"FAIL: {command.strip()}")
            for p in problems:
                print(f"    {p}")
    print(f"{examples} examples, {failures} failed")
    return 1 if failures or examples == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
