#!/usr/bin/env bash
# The chaos part of `scripts/test.sh`: the planted-bug runs (each must find
# its bug), a short run with partition and clock nemeses against the real
# build (about 2.5 minutes; it must find nothing), and a short storm of
# retried requests through `idem proxy` under partitions and kills (about 45
# s; no request may run twice). Needs root; without it
# this says so and fails, as a test that cannot run must not pass.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/deps.sh
ensure_chaos_deps
if [ "$(id -u)" -ne 0 ]; then
    echo "jepsen/ci.sh: the chaos tests need root (network namespaces, iptables); run scripts/test.sh as root" >&2
    exit 2
fi
target="${CARGO_TARGET_DIR:-target}"
export CHAOS_OUT="${CHAOS_OUT:-chaos-out}"
mkdir -p "$CHAOS_OUT"
bash jepsen/planted.sh
echo "== chaos run: partition and clock nemeses, ${CHAOS_SECONDS:-150} s" >&2
"$target/release/idem-jepsen" run --idem "$target/release/idem" \
    --nemesis partition,clock --time "${CHAOS_SECONDS:-150}" --out "$CHAOS_OUT/ci"
echo "== proxy storm: partition and kill nemeses, ${PROXY_STORM_SECONDS:-40} s" >&2
"$target/release/idem-jepsen" run --idem "$target/release/idem" --proxy \
    --nemesis partition,kill --time "${PROXY_STORM_SECONDS:-40}" --out "$CHAOS_OUT/proxy"
