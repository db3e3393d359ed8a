#!/usr/bin/env bash
# What `idem proxy` costs, in one run: the same generator (idem-bench
# --target http) against a Rust upstream (idem-bench-upstream, so the
# upstream is not the bottleneck) straight and through the proxy, on a fresh
# local three-node cluster (scripts/cluster.sh, loopback only). Rounds
# alternate the order. Through the proxy, a fresh key runs the request
# (reserve, committing mark, the upstream call, complete: three idem writes);
# a repeated key is a replay (one linearizable read).
#
#   bash scripts/bench-proxy.sh                   # 3 rounds, 6 s, 16 and 64 connections
#   PROXY_ROUNDS=5 PROXY_SECONDS=8 PROXY_CONNS="1 16 64" bash scripts/bench-proxy.sh
#
# Prints one line per run and, per connection count, medians and ratios;
# raw JSON in bench/out/proxy/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${PROXY_ROUNDS:-3}
SECS=${PROXY_SECONDS:-6}
CONNS=${PROXY_CONNS:-16 64}
OUT=bench/out/proxy
rm -rf "$OUT"
mkdir -p "$OUT"
. scripts/lib/deps.sh
ensure_build_deps
command -v python3 >/dev/null 2>&1 || ensure_packages python3
cargo build --release --locked --bin idem --bin idem-bench --bin idem-bench-upstream >&2
T="${CARGO_TARGET_DIR:-target}/release"
export IDEM_HTTP_BASE=${IDEM_HTTP_BASE:-8101}
NODES="http://127.0.0.1:$IDEM_HTTP_BASE,http://127.0.0.1:$((IDEM_HTTP_BASE + 1)),http://127.0.0.1:$((IDEM_HTTP_BASE + 2))"
UPSTREAM=127.0.0.1:${PROXY_UPSTREAM_PORT:-9001}
PROXY=127.0.0.1:${PROXY_PORT:-8090}
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    IDEM_DATA="$OUT/data" scripts/cluster.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
IDEM_BIN="$T/idem" IDEM_DATA="$OUT/data" scripts/cluster.sh start >/dev/null
export IDEM_PROXY_API_KEY_FILE="$OUT/data/node1/admin.key"
"$T/idem-bench-upstream" --listen "$UPSTREAM" &
PIDS+=($!)
"$T/idem" proxy --listen "$PROXY" --upstream "http://$UPSTREAM" --namespace bench-proxy \
    --nodes "$NODES" >"$OUT/proxy.log" 2>&1 &
PIDS+=($!)
for i in $(seq 1 100); do
    if curl -s -o /dev/null -X POST -H 'idempotency-key: warm' "http://$PROXY/charges" \
        && curl -sf "http://127.0.0.1:$IDEM_HTTP_BASE/ready" >/dev/null; then break; fi
    sleep 0.1
done

one() {
    local name=$1 url=$2 workload=$3 conns=$4 round=$5 json
    json="$OUT/$name-$workload-$conns-$round.json"
    timeout $((SECS + 120)) "$T/idem-bench" --target http --url "$url" --workload "$workload" \
        --connections "$conns" --duration "${SECS}s" --warmup 1s \
        --run-id "proxy-$name-$workload-$conns-$round" --quiet --json "$json" >/dev/null
    python3 - "$json" "$name" "$workload" "$conns" "$round" <<'PY'
import json, sys
path, name, workload, conns, rnd = sys.argv[1:]
r = json.load(open(path))
lat = r["latency_us"]
print(f"{name:>8} {workload:>7} {conns:>3} conns round {rnd}: {r['throughput_ops_per_s']:>9.0f} ops/s  "
      f"p50 {lat['p50']/1000:.3f} ms  p99 {lat['p99']/1000:.3f} ms  errors {r['counts']['error']}")
PY
}

for round in $(seq 1 "$ROUNDS"); do
    for conns in $CONNS; do
        if [ $((round % 2)) -eq 1 ]; then
            one direct "http://$UPSTREAM" reserve "$conns" "$round"
            one proxy "http://$PROXY" reserve "$conns" "$round"
            one proxy "http://$PROXY" replay "$conns" "$round"
        else
            one proxy "http://$PROXY" replay "$conns" "$round"
            one proxy "http://$PROXY" reserve "$conns" "$round"
            one direct "http://$UPSTREAM" reserve "$conns" "$round"
        fi
    done
done | tee "$OUT/lines.txt"
echo "== medians of $ROUNDS rounds (direct = the upstream alone; proxy fresh = a new key, the request runs; proxy replay = a repeated key)"
python3 - "$OUT" <<'PY'
import glob, json, os, statistics, sys
out = sys.argv[1]
runs = {}
for path in glob.glob(os.path.join(out, "*.json")):
    name, workload, conns, _ = os.path.basename(path)[:-5].split("-")
    r = json.load(open(path))
    runs.setdefault((int(conns), name, workload), []).append(
        (r["throughput_ops_per_s"], r["latency_us"]["p50"] / 1000, r["latency_us"]["p99"] / 1000))
def med(key, i):
    return statistics.median(x[i] for x in runs[key])
for conns in sorted({k[0] for k in runs}):
    d = (conns, "direct", "reserve")
    for label, key in (("direct", d), ("proxy fresh", (conns, "proxy", "reserve")), ("proxy replay", (conns, "proxy", "replay"))):
        if key not in runs:
            continue
        ops, p50, p99 = med(key, 0), med(key, 1), med(key, 2)
        ratio = "" if key == d else (
            f"   throughput x{ops / med(d, 0):.3f}, p50 +{p50 - med(d, 1):.3f} ms, p99 +{p99 - med(d, 2):.3f} ms")
        print(f"{conns:>3} conns {label:>13}: {ops:>9,.0f} ops/s  p50 {p50:.3f} ms  p99 {p99:.3f} ms{ratio}")
PY
