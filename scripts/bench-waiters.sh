#!/usr/bin/env bash
# A retry's latency to the result of a request in flight: reserve with
# `wait_ms` against polling on `Retry-After`, on a fresh local three-node
# cluster (scripts/cluster.sh, loopback only).
#
#   bash scripts/bench-waiters.sh            # 100 rounds
#   WAITER_ROUNDS=300 bash scripts/bench-waiters.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/deps.sh
ensure_build_deps
OUT=bench/out/waiters
rm -rf "$OUT"
mkdir -p "$OUT"
if [ -z "${IDEM_BIN:-}" ]; then
    cargo build --release --locked --bin idem >&2
fi
cargo build --release --locked --bin idem-waiters >&2
target="${CARGO_TARGET_DIR:-target}"
export IDEM_HTTP_BASE=${IDEM_HTTP_BASE:-8101}
URLS="http://127.0.0.1:$IDEM_HTTP_BASE,http://127.0.0.1:$((IDEM_HTTP_BASE + 1)),http://127.0.0.1:$((IDEM_HTTP_BASE + 2))"
trap 'IDEM_DATA="$OUT/data" scripts/cluster.sh stop >/dev/null 2>&1 || true' EXIT
IDEM_BIN="${IDEM_BIN:-$target/release/idem}" IDEM_DATA="$OUT/data" scripts/cluster.sh start >/dev/null
if [ -s "$OUT/data/node1/admin.key" ]; then export IDEM_API_KEY_FILE="$OUT/data/node1/admin.key"; else unset IDEM_API_KEY_FILE; fi
for _ in $(seq 1 100); do
    if curl -sf "http://127.0.0.1:$IDEM_HTTP_BASE/ready" >/dev/null; then break; fi
    sleep 0.1
done
"$target/release/idem-waiters" --url "$URLS" --rounds "${WAITER_ROUNDS:-100}"
