#!/usr/bin/env bash
# Removes every fault scripts/partition.sh added, resumes paused nodes and
# puts skewed clocks back to true time. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/chaos.sh
chaos_need_root
iptables -w -F "$CHAIN" 2>/dev/null || true
iptables -w -D INPUT -i lo -j "$CHAIN" 2>/dev/null || true
iptables -w -X "$CHAIN" 2>/dev/null || true
for n in 1 2 3; do
    if pid=$(node_pid "$n"); then kill -CONT "$pid" 2>/dev/null || true; fi
    [ -f "$DATA/node$n/clock" ] && echo "+0" > "$DATA/node$n/clock"
done
echo "healed: links restored, nodes resumed, clocks at true time"
