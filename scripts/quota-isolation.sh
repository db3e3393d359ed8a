#!/usr/bin/env bash
# Does a namespace over its quota leave the others alone? On one local
# three-node cluster (scripts/cluster.sh, keys on): namespace `victim`
# reserves fresh keys alone, then again while namespace `noisy`, whose
# quota allows 100 requests per second per node, floods the same nodes
# with as many reserves as it can (closed loop, all refused 429 past its
# rate). Alternated rounds; prints victim's throughput alone and beside
# the flood, their ratio (the goal: at least 0.8), and what noisy got.
#
#   bash scripts/quota-isolation.sh            # 3 rounds, 8 s per run
#   ISO_ROUNDS=5 ISO_SECONDS=10 ISO_CONNS=16 bash scripts/quota-isolation.sh
#
# Both generators run on this machine, beside the nodes: the flood costs
# the victim the CPU its own generator burns too, as it would a tenant on
# a shared host. Raw JSON in bench/out/quota/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ISO_ROUNDS:-3}
SECS=${ISO_SECONDS:-8}
CONNS=${ISO_CONNS:-16}
RATE=${ISO_NOISY_RATE:-100}
OUT=bench/out/quota
rm -rf "$OUT"
mkdir -p "$OUT"
. scripts/lib/deps.sh
ensure_build_deps
cargo build --release --locked --bin idem --bin idem-bench >&2
target="${CARGO_TARGET_DIR:-target}"
BIN="$target/release/idem"
BENCH="$target/release/idem-bench"
export IDEM_DATA="$OUT/data"
trap 'scripts/cluster.sh stop >/dev/null 2>&1 || true' EXIT
IDEM_BIN="$BIN" scripts/cluster.sh start >/dev/null
URL=http://127.0.0.1:8101
URLS="$URL,http://127.0.0.1:8102,http://127.0.0.1:8103"
admin="$IDEM_DATA/node1/admin.key"
for ns in victim noisy; do
    "$BIN" auth create --url "$URL" --api-key-file "$admin" --name "$ns" --role client \
        --namespace "$ns" --print-key > "$OUT/$ns.key"
done
curl -sf -X PUT -H "Authorization: Bearer $(cat "$admin")" -H 'content-type: application/json' \
    -d "{\"max_requests_per_s\": $RATE}" "$URL/v1/ns/noisy/quota" >/dev/null
sleep 1.5

run() {
    local ns=$1 tag=$2
    "$BENCH" --target idem --url "$URLS" --workload reserve --connections "$CONNS" \
        --duration "${SECS}s" --warmup 1s --namespace "$ns" --api-key-file "$OUT/$ns.key" \
        --run-id "iso-$tag" --quiet --json "$OUT/$tag.json" >/dev/null
}

for round in $(seq 1 "$ROUNDS"); do
    run victim "alone-$round"
    run noisy "noisy-$round" &
    flood=$!
    run victim "beside-$round"
    wait "$flood"
done
python3 - "$OUT" "$ROUNDS" "$RATE" <<'PY'
import json, statistics, sys
out, rounds, rate = sys.argv[1], int(sys.argv[2]), sys.argv[3]
load = lambda tag: json.load(open(f"{out}/{tag}.json"))
alone = [load(f"alone-{r}")["throughput_ops_per_s"] for r in range(1, rounds + 1)]
beside = [load(f"beside-{r}")["throughput_ops_per_s"] for r in range(1, rounds + 1)]
for r in range(1, rounds + 1):
    n = load(f"noisy-{r}")
    print(f"round {r}: victim alone {alone[r-1]:.0f} ops/s, beside the flood {beside[r-1]:.0f} "
          f"({beside[r-1] / alone[r-1]:.3f}); noisy answered {n['counts']['by_status']}")
ratio = statistics.median(beside) / statistics.median(alone)
print(f"median: victim alone {statistics.median(alone):.0f} ops/s, beside noisy (quota {rate}/s per node) "
      f"{statistics.median(beside):.0f} ops/s: ratio {ratio:.3f} (goal >= 0.8)")
PY
