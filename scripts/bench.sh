#!/usr/bin/env bash
# Measures idem side by side with etcd and Redis: the same client
# (idem-bench), the same workloads, the same machine, one run.
#
#   bash scripts/bench.sh                  # 3 workloads x 16 and 64 connections x 3 targets
#   BENCH_SECONDS=3 bash scripts/bench.sh  # shorter runs (default 10 s each, plus 1 s warm-up)
#   BENCH_QUICK=1 bash scripts/bench.sh    # smoke test: reserve only, 1 and 16 connections, 2 s
#   BENCH_WORKLOADS="reserve replay" bash scripts/bench.sh   # some workloads only
#
# It installs what a fresh Debian machine lacks (etcd-server, redis-server,
# the Rust build dependencies), builds idem and idem-bench in release
# (honouring CARGO_TARGET_DIR; IDEM_BIN=path skips building idem), and
# starts, on 127.0.0.1 only:
#   - idem: scripts/cluster.sh's three nodes, data under bench/out/idem,
#     HTTP on IDEM_HTTP_BASE..+2 (default 8101-8103);
#   - etcd: three members (Debian's etcd, default fsync), data under
#     bench/out/etcd1-3, clients on 12379/22379/32379, peers on 12380/22380/32380
#     (BENCH_ETCD_CLIENT_PORTS / BENCH_ETCD_PEER_PORTS: three ports each);
#   - Redis: one node on 6390 (BENCH_REDIS_PORT), appendonly with
#     appendfsync always, data under bench/out/redis.
# Everything it started is stopped when it exits (also on Ctrl-C).
#
# Every run also reports the hardware's floor for a replicated write
# (concurrent fdatasyncs in the three idem data directories, on the disk all
# servers share, plus a loopback round trip, measured by idem-bench just
# before the load), p50 as a ratio to it, and the servers' CPU per operation.
# Reserve also runs with one connection: a lone write's latency.
#
# Workloads: reserve (put-if-absent of fresh keys), reserve-complete
# (reserve, then store the response under the token), replay (read back
# 1000 completed keys, linearizably). Output: a table on stdout,
# bench/results.json, and bench/chart.png (matplotlib) or bench/chart.svg.
# Raw per-run JSON and server logs stay in bench/out/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=bench/out
RUNS="$OUT/runs"
SECONDS_PER_RUN=${BENCH_SECONDS:-10}
WARMUP=1s
WORKLOADS=${BENCH_WORKLOADS:-reserve reserve-complete replay}
CONNECTIONS="16 64"
# Reserve also with one connection (latency against the floor).
RESERVE_CONNECTIONS="1 16 64"
TARGETS="idem etcd redis"
REPLAY_KEYS=1000
if [ "${BENCH_QUICK:-0}" = 1 ]; then
    SECONDS_PER_RUN=2
    WARMUP=500ms
    WORKLOADS="reserve"
    CONNECTIONS="16"
    RESERVE_CONNECTIONS="1 16"
fi
case "$SECONDS_PER_RUN" in
    '' | *[!0-9]*) echo "BENCH_SECONDS must be a whole number of seconds, got '$SECONDS_PER_RUN'" >&2; exit 2 ;;
esac
if [ "$SECONDS_PER_RUN" -lt 1 ] || [ "$SECONDS_PER_RUN" -gt 600 ]; then
    echo "BENCH_SECONDS must be 1 to 600" >&2
    exit 2
fi

export IDEM_HTTP_BASE=${IDEM_HTTP_BASE:-8101}
export IDEM_RAFT_BASE=${IDEM_RAFT_BASE:-7101}
export IDEM_DATA="$OUT/idem"
read -r -a ETCD_CLIENT_PORTS <<<"${BENCH_ETCD_CLIENT_PORTS:-12379 22379 32379}"
read -r -a ETCD_PEER_PORTS <<<"${BENCH_ETCD_PEER_PORTS:-12380 22380 32380}"
REDIS_PORT=${BENCH_REDIS_PORT:-6390}
if [ "${#ETCD_CLIENT_PORTS[@]}" -ne 3 ] || [ "${#ETCD_PEER_PORTS[@]}" -ne 3 ]; then
    echo "BENCH_ETCD_CLIENT_PORTS and BENCH_ETCD_PEER_PORTS take three ports each" >&2
    exit 2
fi

IDEM_URLS="http://127.0.0.1:$IDEM_HTTP_BASE,http://127.0.0.1:$((IDEM_HTTP_BASE + 1)),http://127.0.0.1:$((IDEM_HTTP_BASE + 2))"
ETCD_URLS="http://127.0.0.1:${ETCD_CLIENT_PORTS[0]},http://127.0.0.1:${ETCD_CLIENT_PORTS[1]},http://127.0.0.1:${ETCD_CLIENT_PORTS[2]}"
REDIS_URL="127.0.0.1:$REDIS_PORT"

say() { echo "bench: $*" >&2; }

# --- what a fresh machine lacks ----------------------------------------------

install_deps() {
    . scripts/lib/deps.sh
    ensure_build_deps
    local missing=()
    command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
    command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
    command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
    command -v curl >/dev/null 2>&1 || missing+=(curl)
    command -v python3 >/dev/null 2>&1 || missing+=(python3)
    if [ "${#missing[@]}" -gt 0 ]; then
        say "installing ${missing[*]}"
        local sudo
        sudo=$(idem_need_root)
        $sudo apt-get update -qq
        # The packages' own services are not wanted (the script starts its
        # own on other ports); in a container policy-rc.d already keeps them off.
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

build() {
    local target="${CARGO_TARGET_DIR:-target}"
    if [ -n "${IDEM_BIN:-}" ]; then
        say "using IDEM_BIN=$IDEM_BIN; building idem-bench (release)"
        cargo build --release --locked --bin idem-bench
    else
        say "building idem and idem-bench (release; RocksDB's first build takes a while)"
        cargo build --release --locked --bin idem --bin idem-bench
        IDEM_BIN="$target/release/idem"
    fi
    export IDEM_BIN
    BENCH_BIN="$target/release/idem-bench"
}

# --- servers -----------------------------------------------------------------

ETCD_PIDS=()
REDIS_PID=""
IDEM_STARTED=0

# Stops what this script started (by pid; idem through cluster.sh's pid files).
stop_all() {
    local pid
    if [ "$IDEM_STARTED" = 1 ]; then scripts/cluster.sh stop >/dev/null 2>&1 || true; fi
    IDEM_STARTED=0
    for pid in "${ETCD_PIDS[@]}" $REDIS_PID; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${ETCD_PIDS[@]}" $REDIS_PID; do
        wait "$pid" 2>/dev/null || true
    done
    ETCD_PIDS=()
    REDIS_PID=""
}
trap stop_all EXIT
trap 'exit 130' INT TERM

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

check_ports_free() {
    local port
    for port in "$IDEM_HTTP_BASE" $((IDEM_HTTP_BASE + 1)) $((IDEM_HTTP_BASE + 2)) \
        "$IDEM_RAFT_BASE" $((IDEM_RAFT_BASE + 1)) $((IDEM_RAFT_BASE + 2)) \
        "${ETCD_CLIENT_PORTS[@]}" "${ETCD_PEER_PORTS[@]}" "$REDIS_PORT"; do
        if port_in_use "$port"; then
            say "127.0.0.1:$port is already in use (a dev cluster? set IDEM_HTTP_BASE/IDEM_RAFT_BASE for idem)"
            exit 1
        fi
    done
}

# wait_for DESCRIPTION SECONDS COMMAND...: retry COMMAND every 0.2 s.
wait_for() {
    local what=$1 seconds=$2 i
    shift 2
    for i in $(seq 1 $((seconds * 5))); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.2
    done
    say "$what not ready after $seconds s"
    return 1
}

start_idem() {
    rm -rf "$IDEM_DATA"
    IDEM_STARTED=1
    scripts/cluster.sh start >&2
    if [ -s "$IDEM_DATA/node1/admin.key" ]; then export IDEM_API_KEY_FILE="$IDEM_DATA/node1/admin.key"; else unset IDEM_API_KEY_FILE; fi
}

start_etcd() {
    local n cluster=""
    for n in 0 1 2; do
        cluster+="${cluster:+,}etcd$((n + 1))=http://127.0.0.1:${ETCD_PEER_PORTS[$n]}"
    done
    for n in 0 1 2; do
        local name="etcd$((n + 1))" client="http://127.0.0.1:${ETCD_CLIENT_PORTS[$n]}"
        rm -rf "${OUT:?}/$name"
        etcd --name "$name" --data-dir "$OUT/$name" \
            --listen-client-urls "$client" --advertise-client-urls "$client" \
            --listen-peer-urls "http://127.0.0.1:${ETCD_PEER_PORTS[$n]}" \
            --initial-advertise-peer-urls "http://127.0.0.1:${ETCD_PEER_PORTS[$n]}" \
            --initial-cluster "$cluster" --initial-cluster-token idem-bench --initial-cluster-state new \
            >"$OUT/$name.log" 2>&1 &
        ETCD_PIDS+=($!)
    done
    for n in 0 1 2; do
        wait_for "etcd member $((n + 1))" 30 etcd_healthy "${ETCD_CLIENT_PORTS[$n]}" ||
            { tail -5 "$OUT/etcd$((n + 1)).log" >&2; exit 1; }
    done
    say "etcd ready: $ETCD_URLS"
}

etcd_healthy() { curl -sf "http://127.0.0.1:$1/health" | grep -q '"health":"true"'; }

start_redis() {
    rm -rf "$OUT/redis"
    mkdir -p "$OUT/redis"
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --appendonly yes --appendfsync always \
        --dir "$PWD/$OUT/redis" --save '' --daemonize no >"$OUT/redis.log" 2>&1 &
    REDIS_PID=$!
    wait_for "redis" 20 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping || { tail -5 "$OUT/redis.log" >&2; exit 1; }
    say "redis ready: $REDIS_URL"
}

# --- the runs ----------------------------------------------------------------

pids_of() {
    case "$1" in
        idem) cat "$IDEM_DATA"/node*/pid | paste -sd, ;;
        etcd) local IFS=,; echo "${ETCD_PIDS[*]}" ;;
        redis) echo "$REDIS_PID" ;;
    esac
}

url_of() {
    case "$1" in
        idem) echo "$IDEM_URLS" ;;
        etcd) echo "$ETCD_URLS" ;;
        redis) echo "$REDIS_URL" ;;
    esac
}

run_one() {
    local target=$1 workload=$2 connections=$3
    local json="$RUNS/$target-$workload-$connections.json"
    local keys=()
    if [ "$workload" = replay ]; then keys=(--keys "$REPLAY_KEYS"); fi
    say "$target $workload, $connections connections, ${SECONDS_PER_RUN}s"
    # The generator stops by itself; the timeout is a backstop.
    if ! timeout $((SECONDS_PER_RUN + 120)) "$BENCH_BIN" --target "$target" --url "$(url_of "$target")" \
        --workload "$workload" --connections "$connections" --duration "${SECONDS_PER_RUN}s" \
        --warmup "$WARMUP" "${keys[@]}" --run-id "$RUN_ID-$workload-$connections" --quiet --json "$json" \
        --floor-dir "$IDEM_DATA/node1" --floor-dir "$IDEM_DATA/node2" --floor-dir "$IDEM_DATA/node3" \
        --floor-rounds 500 --node-pid "$(pids_of "$target")" \
        | sed 's/^/    /' >&2; then
        say "$target $workload $connections: the run failed (see above)"
        FAILED=$((FAILED + 1))
    fi
}

write_meta() {
    python3 - "$OUT/meta.json" <<EOF
import json, os, platform, subprocess, sys
def out(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
    except Exception:
        return ""
json.dump({
    "date_utc": out("date", "-u", "+%Y-%m-%dT%H:%M:%SZ"),
    "idem_commit": out("git", "rev-parse", "--short", "HEAD"),
    "seconds_per_run": $SECONDS_PER_RUN,
    "warmup": "$WARMUP",
    "quick": "${BENCH_QUICK:-0}" == "1",
    "cpus": os.cpu_count(),
    "kernel": platform.release(),
    "etcd": out("etcd", "--version").splitlines()[0] if out("etcd", "--version") else "",
    "redis": out("redis-server", "--version"),
    "setup": "all on one machine over loopback: idem 3 nodes, etcd 3 members (default fsync), "
             "redis 1 node (appendfsync always), and the load generator",
}, open(sys.argv[1], "w"), indent=2)
EOF
}

main() {
    install_deps
    build
    mkdir -p "$OUT"
    rm -rf "$RUNS"
    mkdir -p "$RUNS"
    check_ports_free
    start_idem
    start_etcd
    start_redis
    write_meta
    # Every run gets keys of its own: "<run id>-<workload>-<connections>-...".
    RUN_ID="b$(date +%s)"
    FAILED=0
    local workload connections target
    for workload in $WORKLOADS; do
        local conns=$CONNECTIONS
        if [ "$workload" = reserve ]; then conns=$RESERVE_CONNECTIONS; fi
        for connections in $conns; do
            for target in $TARGETS; do
                run_one "$target" "$workload" "$connections"
            done
        done
    done
    stop_all
    python3 bench/report.py "$RUNS" "$OUT/meta.json" bench/results.json bench/chart
    if [ "$FAILED" -gt 0 ]; then
        say "$FAILED run(s) failed"
        exit 1
    fi
}

main "$@"
