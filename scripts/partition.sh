#!/usr/bin/env bash
# Cuts inter-node links of the local cluster (scripts/cluster.sh). Clients
# still reach every node; only the nodes lose each other. Needs root.
#
#   scripts/partition.sh 1 2,3      # groups: 1 | 2 3 (cut every link between groups)
#   scripts/partition.sh leader     # isolate the current leader
#   scripts/partition.sh ring       # bridge: 1 and 3 cut apart, 2 sees both
#   scripts/partition.sh loss 30    # drop 30% of inter-node packets
#
# Undo with scripts/heal.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/chaos.sh
chaos_need_root
chaos_chain
case "${1:-}" in
    leader)
        leader=$(current_leader) || { echo "no leader known" >&2; exit 1; }
        for n in 1 2 3; do [ "$n" = "$leader" ] || chaos_cut "$leader" "$n"; done
        echo "node $leader (the leader) isolated"
        ;;
    ring)
        chaos_cut 1 3
        echo "nodes 1 and 3 cut apart; node 2 sees both"
        ;;
    loss)
        pct=${2:?usage: partition.sh loss PERCENT}
        p=$(python3 -c "print(f'{int(\"$pct\")/100:.2f}')")
        for a in 1 2 3; do
            iptables -w -A "$CHAIN" -s "$(node_ip "$a")" -m statistic --mode random --probability "$p" -j DROP
        done
        echo "dropping $pct% of inter-node packets"
        ;;
    ""|-h|--help)
        sed -n '2,11p' "$0"; exit 2
        ;;
    *)
        [ "$#" -ge 2 ] || { sed -n '2,11p' "$0"; exit 2; }
        groups=("$@")
        for ((i = 0; i < ${#groups[@]}; i++)); do
            for ((j = i + 1; j < ${#groups[@]}; j++)); do
                for a in ${groups[$i]//,/ }; do
                    for b in ${groups[$j]//,/ }; do chaos_cut "$a" "$b"; done
                done
            done
        done
        echo "partitioned: ${groups[*]// / | }"
        ;;
esac
