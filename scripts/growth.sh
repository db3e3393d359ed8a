#!/usr/bin/env bash
# Growth and cost: reserve throughput with about ten thousand and about ten
# million live keys on idem's local three-node cluster, and what each live
# key costs in disk and memory.
#
#   bash scripts/growth.sh                      # 10 million keys (about 40 min here)
#   GROWTH_KEYS=1000000 bash scripts/growth.sh  # a smaller end point
#
# Keys are reserved with a one-hour lease and the namespace's 24-hour
# retention, so every key filled stays live for the whole run. Throughput is
# measured with fresh keys (idem-bench's reserve workload, 16 and 64
# connections, GROWTH_SECONDS each, default 5) first at GROWTH_SMALL live
# keys (default 10,000), then again after filling to GROWTH_KEYS. The
# measuring runs add keys too; the table shows the live keys before each.
# Disk is each node's whole data directory (RocksDB, snapshot file); bytes
# per key divide it by the live keys. Memory is each node's RSS.
#
# Writes bench/growth.json; only loopback; stops the cluster when done.
# IDEM_BIN / IDEM_BENCH_BIN skip the build.
set -euo pipefail
cd "$(dirname "$0")/.."
SMALL=${GROWTH_SMALL:-10000}
LARGE=${GROWTH_KEYS:-10000000}
MEASURE=${GROWTH_SECONDS:-5}
FILL_CONNECTIONS=${GROWTH_FILL_CONNECTIONS:-128}
OUT=bench/out/growth
export IDEM_DATA=$OUT/data
export IDEM_HTTP_BASE=${IDEM_HTTP_BASE:-8901}
export IDEM_RAFT_BASE=${IDEM_RAFT_BASE:-7901}
for v in SMALL LARGE MEASURE FILL_CONNECTIONS; do
    case "${!v}" in
        '' | *[!0-9]*) echo "growth: $v must be a whole number, got '${!v}'" >&2; exit 2 ;;
    esac
done
if [ "$SMALL" -ge "$LARGE" ]; then
    echo "growth: GROWTH_SMALL ($SMALL) must be below GROWTH_KEYS ($LARGE)" >&2
    exit 2
fi

. scripts/lib/deps.sh
ensure_release_bins
BENCH=$IDEM_BENCH_BIN

rm -rf "$OUT" && mkdir -p "$OUT/runs"
cleanup() { scripts/cluster.sh stop >/dev/null 2>&1 || true; }
trap cleanup EXIT
scripts/cluster.sh start >&2
if [ -s "$IDEM_DATA/node1/admin.key" ]; then export IDEM_API_KEY_FILE="$IDEM_DATA/node1/admin.key"; else unset IDEM_API_KEY_FILE; fi
urls=$(for n in 0 1 2; do printf "http://127.0.0.1:%d," $((IDEM_HTTP_BASE + n)); done | sed 's/,$//')

live=0   # keys granted so far (every 201 of a fresh key is one more live key)
run=0
# bench NAME CONNECTIONS DURATION: one reserve run of fresh keys; adds its grants to $live.
bench() {
    local name=$1 connections=$2 seconds=$3
    run=$((run + 1))
    local json="$OUT/runs/$run-$name.json"
    "$BENCH" --target idem --url "$urls" --workload reserve --connections "$connections" \
        --duration "$seconds" --warmup 0s --lease-ms 3600000 \
        --run-id "growth-$run" --quiet --json "$json" > "$OUT/runs/$run-$name.txt" 2>&1 || {
        cat "$OUT/runs/$run-$name.txt" >&2
        echo "growth: run $name failed" >&2
        exit 1
    }
    # No warm-up, so every grant is counted: each 201 is one more live key.
    # (A request that timed out may have created a key as well; those are
    # in the errors column and not counted.)
    local added
    added=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["counts"]["ok"])' "$json")
    live=$((live + added))
}

fill_to() {
    # Chunks of at most a minute, sized by the last chunk's rate (a first
    # guess on the high side, so the first chunk falls short, not over).
    local goal=$1 started rate=20000 left chunk_ms
    started=$(date +%s)
    while [ "$live" -lt "$goal" ]; do
        left=$((goal - live))
        chunk_ms=$(( left * 1000 / rate + 100 ))
        [ "$chunk_ms" -gt 60000 ] && chunk_ms=60000
        bench fill "$FILL_CONNECTIONS" "${chunk_ms}ms"
        rate=$(python3 -c 'import json,sys; print(max(100, int(json.load(open(sys.argv[1]))["throughput_ops_per_s"])))' \
            "$(ls -t "$OUT"/runs/*-fill.json | head -1)")
        printf "\rgrowth: %d of %d keys (%d/s, %ds)" "$live" "$goal" "$rate" $(( $(date +%s) - started )) >&2
    done
    echo >&2
}

sample() {  # sample LABEL: RSS and disk of every node, as JSON lines
    local label=$1
    for n in 1 2 3; do
        pid=$(cat "$IDEM_DATA/node$n/pid")
        rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
        disk=$(du -sb "$IDEM_DATA/node$n" 2>/dev/null | cut -f1 || true)
        echo "{\"point\":\"$label\",\"node\":$n,\"live_keys\":$live,\"rss_kb\":$rss,\"disk_bytes\":$disk}"
    done >> "$OUT/samples.jsonl"
}

measure() {  # measure LABEL: throughput at 16 and 64 connections
    local label=$1
    sample "$label"
    for c in 16 64; do
        echo "{\"point\":\"$label\",\"connections\":$c,\"live_keys_before\":$live,\"run\":$((run + 1))}" >> "$OUT/measures.jsonl"
        bench "$label-$c" "$c" "${MEASURE}s"
        echo "growth: $label, $c connections done ($live live keys)" >&2
    done
}

: > "$OUT/samples.jsonl"
: > "$OUT/measures.jsonl"
fill_to "$SMALL"
measure small
fill_to "$LARGE"
sleep 5
measure large
sample end

python3 - "$OUT" "$SMALL" "$LARGE" <<'PY'
import json, sys, glob, os
out, small, large = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
measures = [json.loads(l) for l in open(f"{out}/measures.jsonl")]
samples = [json.loads(l) for l in open(f"{out}/samples.jsonl")]
rows = []
for m in measures:
    run = glob.glob(f"{out}/runs/{m['run']}-*.json")[0]
    d = json.load(open(run))
    lat = d["latency_us"]
    rows.append({**m, "ops_per_s": d["throughput_ops_per_s"], "p50_ms": lat["p50"] / 1000,
                 "p99_ms": lat["p99"] / 1000, "errors": d["counts"]["error"]})
def per_point(label):
    s = [x for x in samples if x["point"] == label]
    return {"live_keys": s[0]["live_keys"], "rss_kb": [x["rss_kb"] for x in s],
            "disk_bytes": [x["disk_bytes"] for x in s]}
points = {label: per_point(label) for label in ("small", "large", "end")}
summary = {"small_goal": small, "large_goal": large, "runs": rows, "points": points}
ratios = {}
for c in (16, 64):
    a = [r for r in rows if r["point"] == "small" and r["connections"] == c]
    b = [r for r in rows if r["point"] == "large" and r["connections"] == c]
    if a and b:
        ratios[c] = b[0]["ops_per_s"] / a[0]["ops_per_s"]
summary["large_over_small"] = ratios
end, first = points["end"], points["small"]
keys = end["live_keys"]
summary["disk_bytes_per_live_key"] = [d / keys for d in end["disk_bytes"]]
summary["rss_bytes_per_live_key"] = [
    (e - s) * 1024 / (keys - first["live_keys"]) for e, s in zip(end["rss_kb"], first["rss_kb"])]
json.dump(summary, open("bench/growth.json", "w"), indent=2)
print(f"{'point':>6} {'conns':>5} {'live keys before':>17} {'ops/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6}")
for r in rows:
    print(f"{r['point']:>6} {r['connections']:>5} {r['live_keys_before']:>17,} {r['ops_per_s']:>8.0f} "
          f"{r['p50_ms']:>7.1f} {r['p99_ms']:>7.1f} {r['errors']:>6}")
for c, x in ratios.items():
    print(f"throughput at {large:,} keys / at {small:,} keys, {c} connections: {x:.2f}")
print(f"at the end, {keys:,} live keys: disk per node " +
      ", ".join(f"{d / 2**20:.0f} MiB" for d in end["disk_bytes"]) +
      f" = {', '.join(f'{b:.0f}' for b in summary['disk_bytes_per_live_key'])} bytes per key; RSS " +
      ", ".join(f"{r / 1024:.0f} MiB" for r in end["rss_kb"]) +
      f" (+{', '.join(f'{b:.1f}' for b in summary['rss_bytes_per_live_key'])} bytes per key since the small point)")
PY
