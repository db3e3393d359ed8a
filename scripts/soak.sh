#!/usr/bin/env bash
# Soak: a steady reserve+complete workload with a 60-second retention for
# SOAK_SECONDS (default 600) against a local three-node cluster, sampling
# each node's RSS and data-directory size every SOAK_SAMPLE seconds. With
# retention working (purges, log compaction, RocksDB compaction) both stay
# flat once the first retention window has passed; the script reports the
# slope of each over the second half of the run.
#
#   bash scripts/soak.sh                      # 10 minutes at 300 req/s
#   SOAK_SECONDS=120 SOAK_RATE=200 bash scripts/soak.sh
#
# Writes bench/soak.csv (samples) and bench/soak.json (summary). Only
# loopback; stops by itself. IDEM_BIN / IDEM_BENCH_BIN skip the build.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TOTAL=${SOAK_SECONDS:-600}
RATE=${SOAK_RATE:-300}
SAMPLE=${SOAK_SAMPLE:-10}
RETAIN_MS=${SOAK_RETAIN_MS:-60000}
OUT=bench/out/soak
export IDEM_DATA=$OUT/data
export IDEM_HTTP_BASE=${IDEM_HTTP_BASE:-8701}
export IDEM_RAFT_BASE=${IDEM_RAFT_BASE:-7701}

. scripts/lib/deps.sh
ensure_release_bins
BENCH=$IDEM_BENCH_BIN

rm -rf "$OUT" && mkdir -p "$OUT"
cleanup() {
    [ -n "${load_pid:-}" ] && kill "$load_pid" 2>/dev/null || true
    scripts/cluster.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
scripts/cluster.sh start

urls=$(for n in 0 1 2; do printf "http://127.0.0.1:%d," $((IDEM_HTTP_BASE + n)); done | sed 's/,$//')
"$BENCH" --target idem --url "$urls" --workload reserve-complete --rate "$RATE" \
    --duration "${SECONDS_TOTAL}s" --warmup 0s --retain-ms "$RETAIN_MS" --lease-ms 5000 \
    --connections 16 --quiet --json "$OUT/load.json" > "$OUT/load.txt" 2>&1 &
load_pid=$!

echo "t_s,node,rss_kb,disk_bytes" > bench/soak.csv
start=$(date +%s)
while kill -0 "$load_pid" 2>/dev/null; do
    t=$(( $(date +%s) - start ))
    for n in 1 2 3; do
        pid=$(cat "$IDEM_DATA/node$n/pid")
        rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
        # A snapshot's checkpoint directory can vanish while du walks it;
        # du then exits non-zero but still prints the total.
        disk=$(du -sb "$IDEM_DATA/node$n" 2>/dev/null | cut -f1 || true)
        echo "$t,$n,$rss,$disk" >> bench/soak.csv
    done
    printf "\rsoak: %4ds of %ds" "$t" "$SECONDS_TOTAL" >&2
    sleep "$SAMPLE"
done
echo >&2
wait "$load_pid" || true
cat "$OUT/load.txt"

python3 - "$SECONDS_TOTAL" "$RATE" "$RETAIN_MS" <<'PY'
import csv, json, sys
total, rate, retain = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
rows = list(csv.DictReader(open("bench/soak.csv")))
def slope(points):
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    den = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / den if den else 0.0
summary = {"seconds": total, "rate_per_s": rate, "retain_ms": retain, "nodes": {}}
print(f"{'node':>4} {'rss MiB (end)':>14} {'rss slope KiB/min':>18} {'disk MiB (end)':>15} {'disk slope KiB/min':>19}")
for node in ("1", "2", "3"):
    pts = [r for r in rows if r["node"] == node]
    half = [r for r in pts if float(r["t_s"]) >= total / 2]
    rss = slope([(float(r["t_s"]), float(r["rss_kb"])) for r in half]) * 60
    disk = slope([(float(r["t_s"]), float(r["disk_bytes"]) / 1024) for r in half]) * 60
    end = pts[-1] if pts else {"rss_kb": 0, "disk_bytes": 0}
    summary["nodes"][node] = {
        "rss_kb_end": int(end["rss_kb"]), "rss_slope_kib_per_min": round(rss, 1),
        "disk_bytes_end": int(end["disk_bytes"]), "disk_slope_kib_per_min": round(disk, 1),
    }
    print(f"{node:>4} {int(end['rss_kb'])/1024:14.1f} {rss:18.1f} {int(end['disk_bytes'])/2**20:15.1f} {disk:19.1f}")
json.dump(summary, open("bench/soak.json", "w"), indent=2)
print("wrote bench/soak.csv and bench/soak.json (slopes over the second half of the run)")
PY
