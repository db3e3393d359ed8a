#!/usr/bin/env bash
# SIGSTOP a node of the local cluster for a while, then SIGCONT.
#
#   scripts/pause.sh 1 5            # freeze node 1 for 5 s
#   scripts/pause.sh leader 10      # freeze the leader for 10 s
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/chaos.sh
n=${1:?usage: pause.sh N|leader SECONDS}
secs=${2:?usage: pause.sh N|leader SECONDS}
if [ "$n" = leader ]; then n=$(current_leader) || { echo "no leader known" >&2; exit 1; }; fi
pid=$(node_pid "$n") || { echo "node $n is not running" >&2; exit 1; }
kill -STOP "$pid"
echo "node $n paused for $secs s"
trap 'kill -CONT "$pid" 2>/dev/null' EXIT
sleep "$secs"
echo "node $n resumed"
