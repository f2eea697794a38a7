#!/usr/bin/env python3
"""Runs docs/webhooks.md's signature checks (the Node and the Python snippet) against a real
signed delivery: a daemon with webhooks on posts user_registered to a receiver here.

Usage: check_webhook_snippets.py SWITCHBOARD_BINARY docs/webhooks.md

Each snippet must accept the delivery as received, and refuse it with the body changed by
one byte, with another secret, with a `t` 301 seconds in the past or the future, and with a
header that is not a signature.
"""
import http.server
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import urllib.request

SECRET = "docs-webhook-secret-0123456789abcdef"
EXPECTED = [True, False, False, False, False, False]

NODE_DRIVER = """
const fs = require("node:fs");
const body = fs.readFileSync(process.env.BODY_FILE);
const secret = process.env.SECRET, header = process.env.HEADER;
const t = Number(/t=(\\d+)/.exec(header)[1]);
console.log(JSON.stringify([
  verifySwitchboard(secret, header, body),
  verifySwitchboard(secret, header, Buffer.concat([body, Buffer.from(" ")])),
  verifySwitchboard(secret + "x", header, body),
  verifySwitchboard(secret, header, body, t + 301),
  verifySwitchboard(secret, header, body, t - 301),
  verifySwitchboard(secret, "not a signature", body),
]));
"""

PYTHON_DRIVER = """
import json, os, re
body = open(os.environ["BODY_FILE"], "rb").read()
secret, header = os.environ["SECRET"].encode(), os.environ["HEADER"]
t = int(re.search(r"t=(\\d+)", header).group(1))
print(json.dumps([
    verify_switchboard(secret, header, body),
    verify_switchboard(secret, header, body + b" "),
    verify_switchboard(secret + b"x", header, body),
    verify_switchboard(secret, header, body, now=t + 301),
    verify_switchboard(secret, header, body, now=t - 301),
    verify_switchboard(secret, "not a signature", body),
]))
"""


def snippet(markdown, lang, name):
    for m in re.finditer(r"```(\w*)\n(.*?)```", markdown, re.S):
        if m.group(1) == lang and name in m.group(2):
            return m.group(2)
    return None


class Receiver(http.server.BaseHTTPRequestHandler):
    deliveries = []
    arrived = threading.Event()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        Receiver.deliveries.append((dict(self.headers), body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
        Receiver.arrived.set()

    def log_message(self, *args):
        pass


def run(cmd, env):
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        return None, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1]), out.stderr


def main():
    binary, doc = sys.argv[1], sys.argv[2]
    text = open(doc, encoding="utf-8").read()
    js, py = snippet(text, "js", "verifySwitchboard"), snippet(text, "python", "verify_switchboard")
    if not js or not py:
        print("docs/webhooks.md lacks the js or the python signature check")
        return 1
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, SERVER_HOST="127.0.0.1", SERVER_PORT="0",
                   DB_PATH=os.path.join(tmp, "docs.db"), WEB_ROOT="",
                   ARGON2_OPSLIMIT="1", ARGON2_MEMLIMIT="8192", LOG_LEVEL="warn",
                   WEBHOOK_URL=f"http://127.0.0.1:{server.server_address[1]}/hook",
                   WEBHOOK_SECRET=SECRET)
        daemon = subprocess.Popen([binary], env=env, stdout=subprocess.PIPE, text=True)
        try:
            m = re.match(r"listening on (http://\S+)", daemon.stdout.readline())
            if not m:
                print("daemon did not start")
                return 1
            request = urllib.request.Request(
                m.group(1) + "/register", method="POST",
                data=json.dumps({"Username": "docs_user", "Password": "correct horse"}).encode(),
                headers={"Content-Type": "application/json"})
            urllib.request.urlopen(request, timeout=10).read()
            if not Receiver.arrived.wait(10):
                print("no webhook arrived within 10 s")
                return 1
        finally:
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(timeout=20)
            except subprocess.TimeoutExpired:
                daemon.kill()
            server.shutdown()
        headers, body = Receiver.deliveries[0]
        header = headers.get("X-Switchboard-Signature", "")
        if json.loads(body).get("event") != "user_registered":
            print(f"unexpected delivery: {body!r}")
            return 1
        body_file = os.path.join(tmp, "body")
        with open(body_file, "wb") as f:
            f.write(body)
        run_env = dict(os.environ, BODY_FILE=body_file, SECRET=SECRET, HEADER=header)
        failures = 0
        for name, cmd in (("node", ["node", "-e", js + NODE_DRIVER]),
                          ("python", [sys.executable, "-c", py + PYTHON_DRIVER])):
            got, err = run(cmd, run_env)
            if got != EXPECTED:
                print(f"{name} snippet: {got} != {EXPECTED}\n{err}")
                failures += 1
            else:
                print(f"{name} snippet: ok")
        return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
