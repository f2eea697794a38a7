#!/usr/bin/env bash
# config/switchboard.service as CI can check it without systemd as PID 1:
#   1. `systemd-analyze verify` accepts it. verify also checks that ExecStart's binary
#      exists, so it runs on a copy whose ExecStart names the binary just built (the only
#      change; every other line is the shipped one).
#   2. `systemd-analyze security --offline=true` rates it "OK" or better (SAFE).
#   3. It declares what the daemon relies on: Type=notify and a watchdog.
# Usage: systemd_unit_test.sh UNIT_FILE SWITCHBOARD_BINARY
set -euo pipefail
unit=$1 binary=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

grep -q '^ExecStart=/usr/local/bin/switchboard ' "$unit" ||
  { echo "FAIL: ExecStart does not start /usr/local/bin/switchboard"; exit 1; }
sed "s#^ExecStart=/usr/local/bin/switchboard #ExecStart=$binary #" "$unit" >"$work/switchboard.service"

if ! out=$(systemd-analyze verify "$work/switchboard.service" 2>&1) || [[ -n $out ]]; then
  echo "FAIL: systemd-analyze verify:"; echo "$out"; exit 1
fi
echo "verify: clean"

report=$(systemd-analyze security --offline=true "$work/switchboard.service")
line=$(grep 'Overall exposure level' <<<"$report")
echo "$line"
rating=$(sed -E 's/.*: [0-9.]+ ([A-Z]+).*/\1/' <<<"$line")
case "$rating" in
  OK | SAFE) ;;
  *) echo "FAIL: rated $rating, want OK or SAFE"; grep '✗' <<<"$report"; exit 1 ;;
esac

for want in '^Type=notify$' '^WatchdogSec=' '^DynamicUser=yes$' '^StateDirectory=switchboard$' \
  '^SystemCallFilter=@system-service$' '^KillSignal=SIGTERM$'; do
  grep -Eq "$want" "$unit" || { echo "FAIL: the unit lacks $want"; exit 1; }
done
echo "PASS"
