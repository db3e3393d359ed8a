#!/usr/bin/env bash
# Before and after in one run: alternates two idem binaries on fresh
# three-node clusters (scripts/cluster.sh, loopback only) under the same
# load generator, so that a change is judged against the run-to-run noise
# of this machine rather than against an old number.
#
#   bash scripts/ab.sh OLD_IDEM NEW_IDEM                 # 3 rounds, 6 s per run
#   AB_ROUNDS=5 AB_SECONDS=8 bash scripts/ab.sh OLD NEW
#   AB_EXTRA_B=--attempts bash scripts/ab.sh NEW NEW     # the same build, B's
#                                                        # reserves carrying attempt ids
#   AB_ENV_A="IDEM_NO_AUTH=true" AB_ENV_B="IDEM_PEER_TLS=1 IDEM_HTTP_TLS=1" bash scripts/ab.sh NEW NEW
#                                   # each variant's environment for cluster.sh:
#                                   # here auth and TLS off against both on
#
# Each round starts a fresh cluster of A, runs every workload, stops it, then
# does the same for B (the order flips every round). Workloads: reserve at
# 16 and 64 connections, reserve-complete at 16, replay at 64. Prints one
# line per run (ops/s and p99) and the per-workload ranges; raw JSON in
# bench/out/ab/. Builds idem-bench (release) first.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$#" -ne 2 ] || [ ! -x "$1" ] || [ ! -x "$2" ]; then
    echo "usage: scripts/ab.sh OLD_IDEM_BINARY NEW_IDEM_BINARY" >&2
    exit 2
fi
A=$(realpath "$1")
B=$(realpath "$2")
ROUNDS=${AB_ROUNDS:-3}
read -r -a EXTRA_A <<<"${AB_EXTRA_A:-}"
read -r -a EXTRA_B <<<"${AB_EXTRA_B:-}"
read -r -a ENV_A <<<"${AB_ENV_A:-}"
read -r -a ENV_B <<<"${AB_ENV_B:-}"
SECS=${AB_SECONDS:-6}
OUT=bench/out/ab
rm -rf "$OUT"
mkdir -p "$OUT"
. scripts/lib/deps.sh
ensure_build_deps
cargo build --release --locked --bin idem-bench >&2
BENCH="${CARGO_TARGET_DIR:-target}/release/idem-bench"
export IDEM_HTTP_BASE=${IDEM_HTTP_BASE:-8101}
# The nodes' URLs: https:// for a variant whose environment has
# IDEM_HTTP_TLS=1 (scripts/cluster.sh then serves HTTPS).
urls() {
    local scheme=$1
    echo "$scheme://127.0.0.1:$IDEM_HTTP_BASE,$scheme://127.0.0.1:$((IDEM_HTTP_BASE + 1)),$scheme://127.0.0.1:$((IDEM_HTTP_BASE + 2))"
}
trap 'IDEM_DATA="$OUT/data" scripts/cluster.sh stop >/dev/null 2>&1 || true' EXIT

ready() {
    local i
    for i in $(seq 1 100); do
        if curl -sfk "${URLS%%,*}/ready" >/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "cluster not ready" >&2
    return 1
}

# utime + stime of the three nodes so far, in clock ticks.
node_cpu_ticks() {
    local n pid total=0 t
    for n in 1 2 3; do
        pid=$(cat "$OUT/data/node$n/pid" 2>/dev/null) || continue
        t=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null) || continue
        total=$((total + t))
    done
    echo "$total"
}

one_variant() {
    local name=$1 bin=$2 round=$3 workload conns keys json extra
    local envs
    if [ "$name" = A ]; then extra=("${EXTRA_A[@]}"); envs=("${ENV_A[@]}"); else extra=("${EXTRA_B[@]}"); envs=("${ENV_B[@]}"); fi
    rm -rf "$OUT/data"
    # The previous variant's CA (if it spoke HTTPS) is gone with its data.
    unset IDEM_CA_CERT
    env "${envs[@]}" IDEM_BIN="$bin" IDEM_DATA="$OUT/data" scripts/cluster.sh start >/dev/null
    # A build with API keys drew an admin key; an older one has none.
    if [ -s "$OUT/data/node1/admin.key" ]; then export IDEM_API_KEY_FILE="$OUT/data/node1/admin.key"; else unset IDEM_API_KEY_FILE; fi
    if [[ " ${envs[*]} " == *" IDEM_HTTP_TLS=1 "* ]]; then
        URLS=$(urls https); export IDEM_CA_CERT="$OUT/data/tls/ca/ca.pem"
    else
        URLS=$(urls http); unset IDEM_CA_CERT
    fi
    ready
    for spec in reserve:16 reserve:64 reserve-complete:16 replay:64; do
        workload=${spec%%:*}
        conns=${spec##*:}
        keys=()
        if [ "$workload" = replay ]; then keys=(--keys 1000); fi
        json="$OUT/$name-$round-$workload-$conns.json"
        local cpu0 cpu1
        cpu0=$(node_cpu_ticks)
        timeout $((SECS + 120)) "$BENCH" --target idem --url "$URLS" --workload "$workload" \
            --connections "$conns" --duration "${SECS}s" --warmup 1s "${keys[@]}" "${extra[@]}" \
            --run-id "ab-$name-$round-$workload-$conns" --quiet --json "$json" >/dev/null
        cpu1=$(node_cpu_ticks)
        python3 - "$json" "$name" "$round" "$workload" "$conns" "$((cpu1 - cpu0))" "$SECS" "$(getconf CLK_TCK)" <<'PY'
import json, sys
path, name, rnd, workload, conns, ticks, secs, tck = sys.argv[1:]
r = json.load(open(path))
ops = r["throughput_ops_per_s"]
p99_ms = r["latency_us"]["p99"] / 1000
errors = r["counts"]["error"]
# The three nodes' CPU over the run (warm-up second included, so counted
# against the run's operations at its measured rate over secs + 1).
cpu_us = int(ticks) / int(tck) * 1e6 / max(ops * (int(secs) + 1), 1)
print(f"{name} round {rnd} {workload:>16} {conns:>2} conns: {ops:>10.0f} ops/s  p99 {p99_ms:.2f} ms  errors {errors}  cpu {cpu_us:.0f} us/op")
PY
    done
    IDEM_DATA="$OUT/data" scripts/cluster.sh stop >/dev/null
}

for round in $(seq 1 "$ROUNDS"); do
    if [ $((round % 2)) -eq 1 ]; then
        one_variant A "$A" "$round"; one_variant B "$B" "$round"
    else
        one_variant B "$B" "$round"; one_variant A "$A" "$round"
    fi
done | tee "$OUT/lines.txt"
echo "== ranges (A = $1, B = $2)"
python3 - "$OUT/lines.txt" <<'PY'
import collections, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    parts = line.split()
    name, workload, conns, ops = parts[0], parts[3], parts[4], float(parts[6])
    runs[(workload, conns, name)].append(ops)
p99s = collections.defaultdict(list)
cpus = collections.defaultdict(list)
for line in open(sys.argv[1]):
    parts = line.split()
    key = (parts[3], parts[4], parts[0])
    p99s[key].append(float(parts[9]))
    if "cpu" in parts:
        cpus[key].append(float(parts[parts.index("cpu") + 1]))
mean = lambda xs: sum(xs) / len(xs) if xs else float("nan")
for key in sorted({(w, c) for (w, c, _) in runs}):
    a, b = runs[key + ("A",)], runs[key + ("B",)]
    fmt = lambda xs: ", ".join(f"{x:,.0f}" for x in xs)
    print(f"{key[0]:>16} {key[1]:>2}: A {fmt(a)} | B {fmt(b)} | B/A of means {mean(b)/mean(a):.3f}"
          f" | p99 B/A {mean(p99s[key + ('B',)])/mean(p99s[key + ('A',)]):.2f}"
          f" | cpu/op A {mean(cpus[key + ('A',)]):.0f} us B {mean(cpus[key + ('B',)]):.0f} us")
PY
