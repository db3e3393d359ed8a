# Shared by the fault scripts (partition.sh, heal.sh, skew.sh, kill.sh,
# pause.sh) that act on the local cluster of scripts/cluster.sh. Node N's
# inter-node traffic uses 127.0.0.1N, so iptables rules on the loopback
# interface can cut one link without touching client traffic (127.0.0.1).
# Every rule lives in one chain of our own, IDEM-CHAOS, so heal.sh removes
# exactly what these scripts added.

CHAIN=IDEM-CHAOS
DATA=${IDEM_DATA:-./data}

chaos_need_root() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "$(basename "$0"): needs root (iptables / signals to the nodes); run it with sudo" >&2
        exit 2
    fi
    . scripts/lib/deps.sh
    ensure_chaos_deps
}

chaos_chain() {
    iptables -w -N "$CHAIN" 2>/dev/null || true
    iptables -w -C INPUT -i lo -j "$CHAIN" 2>/dev/null || iptables -w -I INPUT -i lo -j "$CHAIN"
}

node_ip() { echo "127.0.0.1$1"; }

# Cuts the link between nodes $1 and $2 both ways.
chaos_cut() {
    iptables -w -A "$CHAIN" -s "$(node_ip "$1")" -d "$(node_ip "$2")" -j DROP
    iptables -w -A "$CHAIN" -s "$(node_ip "$2")" -d "$(node_ip "$1")" -j DROP
}

node_pid() {
    local f="$DATA/node$1/pid"
    [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && cat "$f"
}

# The leader as node 1, 2 or 3 sees it (the first that answers).
current_leader() {
    local n
    for n in 1 2 3; do
        curl -sf --max-time 1 "http://127.0.0.1:$((${IDEM_HTTP_BASE:-8101} + n - 1))/v1/cluster" 2>/dev/null \
            | python3 -c 'import json,sys; l=json.load(sys.stdin).get("leader"); print(l if l else "")' 2>/dev/null \
            | grep -E '^[0-9]+$' && return 0
    done
    return 1
}
