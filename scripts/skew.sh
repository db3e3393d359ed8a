#!/usr/bin/env bash
# Moves the wall clock of nodes of the local cluster; the monotonic clock is
# untouched (as with a real NTP step). The cluster must have been started
# with IDEM_FAKETIME=1 scripts/cluster.sh start.
#
#   scripts/skew.sh 1 +300          # node 1 five minutes ahead
#   scripts/skew.sh 2 -30           # node 2 thirty seconds behind
#   scripts/skew.sh all +120        # every node
#   scripts/skew.sh strobe 1 +60 20 # node 1 flips between +0 and +60 s for 20 s
#   scripts/skew.sh 1 0             # back to true time (or scripts/heal.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/chaos.sh
set_offset() {
    local f="$DATA/node$1/clock"
    [ -f "$f" ] || { echo "node $1 was not started under libfaketime (IDEM_FAKETIME=1 scripts/cluster.sh start)" >&2; exit 1; }
    printf '%+d\n' "$2" > "$f"
}
case "${1:-}" in
    strobe)
        n=${2:?}; off=${3:?}; secs=${4:-20}
        end=$((SECONDS + secs))
        while [ "$SECONDS" -lt "$end" ]; do
            set_offset "$n" "$off"; sleep 1.5; set_offset "$n" 0; sleep 1.5
        done
        echo "node $n strobed for $secs s; back at true time"
        ;;
    all)
        for n in 1 2 3; do set_offset "$n" "${2:?usage: skew.sh all OFFSET}"; done
        echo "every node's clock at ${2} s"
        ;;
    [123])
        set_offset "$1" "${2:?usage: skew.sh N OFFSET}"
        echo "node $1's clock at ${2} s (applies within 1 s)"
        ;;
    *) sed -n '2,12p' "$0"; exit 2 ;;
esac
