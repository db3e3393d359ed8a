#!/usr/bin/env bash
# Where a reserve's CPU goes, per node: starts a fresh three-node cluster
# (scripts/cluster.sh, loopback only) of the given idem binary, runs
# idem-bench's reserve load, and records each node with `perf record`
# (software clock, call graphs) for the measured window. Prints, per node,
# the top functions by self time and the split between the kernel and user
# space; the perf data stay in bench/out/profile/.
#
#   bash scripts/profile.sh IDEM_BINARY                  # 16 connections, 6 s
#   PROFILE_CONNECTIONS=1 PROFILE_SECONDS=8 bash scripts/profile.sh IDEM_BINARY
#   PROFILE_WORKLOAD=replay bash scripts/profile.sh IDEM_BINARY
#
# Needs perf (Debian: linux-perf) and the right to profile the nodes
# (root, or kernel.perf_event_paranoid <= 1).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$#" -ne 1 ] || [ ! -x "$1" ]; then
    echo "usage: scripts/profile.sh IDEM_BINARY" >&2
    exit 2
fi
IDEM_BIN=$(realpath "$1")
export IDEM_BIN
CONNS=${PROFILE_CONNECTIONS:-16}
SECS=${PROFILE_SECONDS:-6}
WORKLOAD=${PROFILE_WORKLOAD:-reserve}
TOP=${PROFILE_TOP:-25}
OUT=bench/out/profile
rm -rf "$OUT"
mkdir -p "$OUT"
. scripts/lib/deps.sh
ensure_build_deps
if ! command -v perf >/dev/null 2>&1; then
    sudo=$(idem_need_root)
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq linux-perf >/dev/null
fi
cargo build --release --locked --bin idem-bench >&2
BENCH="${CARGO_TARGET_DIR:-target}/release/idem-bench"
export IDEM_HTTP_BASE=${IDEM_HTTP_BASE:-8101}
export IDEM_DATA="$OUT/data"
trap 'scripts/cluster.sh stop >/dev/null 2>&1 || true' EXIT
scripts/cluster.sh start >&2
if [ -s "$IDEM_DATA/node1/admin.key" ]; then export IDEM_API_KEY_FILE="$IDEM_DATA/node1/admin.key"; fi
URLS="http://127.0.0.1:$IDEM_HTTP_BASE,http://127.0.0.1:$((IDEM_HTTP_BASE + 1)),http://127.0.0.1:$((IDEM_HTTP_BASE + 2))"
PIDS=$(cat "$IDEM_DATA"/node*/pid | paste -sd,)

"$BENCH" --target idem --url "$URLS" --workload "$WORKLOAD" --connections "$CONNS" \
    --duration "${SECS}s" --warmup 2s --quiet --node-pid "$PIDS" --json "$OUT/bench.json" >"$OUT/bench.txt" &
BENCH_PID=$!
sleep 2
n=0
for pid in ${PIDS//,/ }; do
    n=$((n + 1))
    perf record -q -F 1999 -g -p "$pid" -o "$OUT/node$n.data" -- sleep "$SECS" 2>/dev/null &
done
wait "$BENCH_PID"
wait
cat "$OUT/bench.txt"
for n in 1 2 3; do
    echo
    echo "== node $n: top $TOP by self time"
    perf report -q -i "$OUT/node$n.data" --no-children -g none --sort sym --percent-limit 0.3 2>/dev/null |
        grep '%' | head -"$TOP"
    echo "-- node $n: by binary (the kernel, idem, libc)"
    perf report -q -i "$OUT/node$n.data" --no-children -g none --sort dso 2>/dev/null | grep '%' | head -5
done
