#!/usr/bin/env bash
# A local three-node idem cluster of separate processes, for people and for
# the chaos scripts.
#
#   scripts/cluster.sh start          build (if needed) and start nodes 1-3
#   scripts/cluster.sh stop           stop every node (SIGTERM)
#   scripts/cluster.sh status         which nodes run; the cluster as node 1 sees it
#   scripts/cluster.sh kill N         kill -9 node N
#   scripts/cluster.sh restart N      (re)start node N
#
# Data and logs: ./data/nodeN/ (override with IDEM_DATA). HTTP on
# 127.0.0.1 ports 8101-8103; inter-node (Raft) traffic on 127.0.0.11-13
# ports 7101-7103, one loopback address per node so that
# scripts/partition.sh can cut links with iptables (override the port bases
# with IDEM_HTTP_BASE / IDEM_RAFT_BASE). IDEM_FAKETIME=1 starts the nodes
# under libfaketime so that scripts/skew.sh can move their wall clocks.
# Extra environment for one node can be given as
# IDEM_NODE_ENV_N="VAR=value VAR2=value". Each node gets a third of the
# CPUs for its async workers (IDEM_WORKER_THREADS overrides).
# IDEM_PEER_TLS=1 makes a CA and node certificates (./data/tls) and runs the
# nodes with mutual TLS between them; IDEM_HTTP_TLS=1 serves the API over
# HTTPS with the same certificates (clients: --ca-cert ./data/tls/ca/ca.pem). Node 1 draws the cluster's admin key
# into ./data/node1/admin.key; `start` makes a client key for namespace
# `default` in ./data/client.key and prints both.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${IDEM_DATA:-./data}
HTTP_BASE=${IDEM_HTTP_BASE:-8101}
RAFT_BASE=${IDEM_RAFT_BASE:-7101}
BIN=${IDEM_BIN:-}

http_addr() { echo "127.0.0.1:$((HTTP_BASE + $1 - 1))"; }
scheme() { if [ "${IDEM_HTTP_TLS:-0}" = 1 ]; then echo https; else echo http; fi; }
http_url() { echo "$(scheme)://$(http_addr "$1")"; }
# curl and the CLI trust the cluster CA when the API speaks HTTPS.
curl_tls() { if [ "${IDEM_HTTP_TLS:-0}" = 1 ]; then echo "--cacert $DATA/tls/ca/ca.pem"; fi; }
cli_tls() { if [ "${IDEM_HTTP_TLS:-0}" = 1 ]; then echo "--ca-cert $DATA/tls/ca/ca.pem"; fi; }
raft_addr() { echo "$(raft_ip "$1"):$((RAFT_BASE + $1 - 1))"; }
raft_ip() { echo "127.0.0.1$1"; }
peers() {
    local out="" n
    for n in 1 2 3; do out+="${out:+,}$n=$(raft_addr $n)/$(http_addr $n)"; done
    echo "$out"
}

binary() {
    if [ -n "$BIN" ]; then echo "$BIN"; return; fi
    local target="${CARGO_TARGET_DIR:-target}"
    if [ ! -x "$target/release/idem" ] || [ -n "$(find crates -newer "$target/release/idem" -name '*.rs' -print -quit)" ]; then
        . scripts/lib/deps.sh
        ensure_build_deps
        echo "building idem (release)..." >&2
        cargo build --release --locked --bin idem >&2
    fi
    echo "$target/release/idem"
}

pid_of() {
    local f="$DATA/node$1/pid"
    [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && cat "$f"
}

# The three nodes share this machine's CPUs: each runs its async tasks on
# a third of them (at least one thread), unless IDEM_WORKER_THREADS is set.
# Measured on 2 cores: one worker each instead of two costs less CPU per
# request (fewer wake-ups of idle workers) at the same throughput or more.
worker_share() {
    local cpus
    cpus=$(nproc 2>/dev/null || echo 3)
    echo $(( cpus / 3 > 0 ? cpus / 3 : 1 ))
}

# A cluster CA and a certificate per node (IDEM_PEER_TLS=1 or
# IDEM_HTTP_TLS=1), made once; each names the node's Raft and HTTP hosts.
make_certs() {
    local bin=$1 n
    [ -f "$DATA/tls/ca/ca.pem" ] || "$bin" certs ca --out "$DATA/tls/ca" >/dev/null
    for n in 1 2 3; do
        [ -f "$DATA/tls/node$n.pem" ] || "$bin" certs node --ca "$DATA/tls/ca" --name "node$n" \
            --host "$(raft_ip "$n")" --host 127.0.0.1 --out "$DATA/tls" >/dev/null
    done
}

start_node() {
    local n=$1 bin=$2
    if pid_of "$n" >/dev/null; then echo "node $n already running (pid $(pid_of "$n"))"; return; fi
    mkdir -p "$DATA/node$n"
    local envvar="IDEM_NODE_ENV_$n" faketime=()
    if [ "${IDEM_FAKETIME:-0}" = 1 ]; then
        [ -f "$DATA/node$n/clock" ] || echo "+0" > "$DATA/node$n/clock"
        faketime=(LD_PRELOAD=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1
            FAKETIME_TIMESTAMP_FILE="$(cd "$DATA/node$n" && pwd)/clock"
            FAKETIME_CACHE_DURATION=1 FAKETIME_DONT_FAKE_MONOTONIC=1)
    fi
    local tls=()
    if [ "${IDEM_PEER_TLS:-0}" = 1 ]; then
        make_certs "$bin"
        tls=(--peer-ca "$DATA/tls/ca/ca.pem" --peer-cert "$DATA/tls/node$n.pem" --peer-key "$DATA/tls/node$n.key")
    fi
    if [ "${IDEM_HTTP_TLS:-0}" = 1 ]; then
        make_certs "$bin"
        tls+=(--tls-cert "$DATA/tls/node$n.pem" --tls-key "$DATA/tls/node$n.key")
    fi
    # shellcheck disable=SC2086
    env "${faketime[@]}" IDEM_WORKER_THREADS="${IDEM_WORKER_THREADS:-$(worker_share)}" \
        ${!envvar:-} "$bin" start --id "$n" --data "$DATA/node$n" "${tls[@]}" \
        --http "$(http_addr "$n")" --raft "$(raft_addr "$n")" --peers "$(peers)" \
        >>"$DATA/node$n/idem.log" 2>&1 &
    echo $! > "$DATA/node$n/pid"
    echo "node $n: pid $!, $(http_url "$n")"
}

# The admin key node 1 drew when it bootstrapped the cluster, and a client
# key for namespace `default` made with it (once; kept in $DATA/client.key).
ensure_keys() {
    local bin=$1 admin="$DATA/node1/admin.key" client="$DATA/client.key" url i
    url="$(http_url 1)"
    # A build from before API keys (scripts/ab.sh runs old ones) has none.
    "$bin" auth --help >/dev/null 2>&1 || return 0
    for i in $(seq 1 100); do
        # shellcheck disable=SC2046
        [ -s "$admin" ] && "$bin" auth list --url "$url" $(cli_tls) --api-key-file "$admin" >/dev/null 2>&1 && break
        sleep 0.1
    done
    if [ ! -s "$client" ]; then
        # shellcheck disable=SC2046
        (umask 077; "$bin" auth create --url "$url" $(cli_tls) --api-key-file "$admin" --name dev-client \
            --role client --namespace default --print-key > "$client.tmp") && mv "$client.tmp" "$client"
    fi
    echo "admin key:  $(cat "$admin")  ($admin)"
    echo "client key: $(cat "$client")  ($client, namespace default)"
    echo "try:        export IDEM_API_KEY=\$(cat $client)"
}

auth_header() {
    local admin="$DATA/node1/admin.key"
    [ -s "$admin" ] && echo "Authorization: Bearer $(cat "$admin")" || echo "X-No-Key: 1"
}

wait_ready() {
    local n=$1 i
    for i in $(seq 1 300); do
        # shellcheck disable=SC2046
        if curl -sf $(curl_tls) "$(http_url "$n")/ready" >/dev/null 2>&1; then return 0; fi
        if ! pid_of "$n" >/dev/null; then echo "node $n exited; see $DATA/node$n/idem.log" >&2; tail -5 "$DATA/node$n/idem.log" >&2; return 1; fi
        sleep 0.1
    done
    echo "node $n not ready after 30 s; see $DATA/node$n/idem.log" >&2
    return 1
}

case "${1:-}" in
    start)
        bin=$(binary)
        for n in 1 2 3; do start_node "$n" "$bin"; done
        for n in 1 2 3; do wait_ready "$n"; done
        echo "cluster ready"
        ensure_keys "$bin"
        ;;
    stop)
        for n in 1 2 3; do
            if pid=$(pid_of "$n"); then kill -TERM "$pid" && echo "node $n stopped"; fi
            rm -f "$DATA/node$n/pid"
        done
        ;;
    status)
        for n in 1 2 3; do
            if pid=$(pid_of "$n"); then echo "node $n: running (pid $pid) $(http_url "$n")"; else echo "node $n: stopped"; fi
        done
        for n in 1 2 3; do
            # shellcheck disable=SC2046
            if curl -sf $(curl_tls) -H "$(auth_header)" "$(http_url "$n")/v1/cluster" 2>/dev/null; then echo; break; fi
        done
        ;;
    kill)
        n=${2:?usage: cluster.sh kill N}
        if pid=$(pid_of "$n"); then kill -KILL "$pid"; echo "node $n killed (pid $pid)"; else echo "node $n not running"; fi
        rm -f "$DATA/node$n/pid"
        ;;
    restart)
        n=${2:?usage: cluster.sh restart N}
        if pid=$(pid_of "$n"); then kill -TERM "$pid"; sleep 0.5; fi
        start_node "$n" "$(binary)"
        wait_ready "$n"
        ;;
    *)
        sed -n '2,24p' "$0"
        exit 2
        ;;
esac
