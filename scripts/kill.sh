#!/usr/bin/env bash
# kill -9 a node of the local cluster, optionally restarting it later.
#
#   scripts/kill.sh 2               # kill node 2
#   scripts/kill.sh leader 5        # kill the leader, restart it after 5 s
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/chaos.sh
n=${1:?usage: kill.sh N|leader [RESTART_AFTER_SECONDS]}
if [ "$n" = leader ]; then n=$(current_leader) || { echo "no leader known" >&2; exit 1; }; fi
scripts/cluster.sh kill "$n"
if [ -n "${2:-}" ]; then
    sleep "$2"
    scripts/cluster.sh restart "$n"
fi
