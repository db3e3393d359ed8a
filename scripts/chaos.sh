#!/usr/bin/env bash
# A chaos run of the harness in jepsen/ (needs root): three idem nodes in
# network namespaces of their own, concurrent clients, nemeses, and the
# checks of the recorded history. Exits non-zero on any violation.
#
#   scripts/chaos.sh --time 120 --nemesis partition,clock
#   scripts/chaos.sh --time 600 --nemesis all --out chaos-all
#   scripts/chaos.sh --time 60 --nemesis kill,pause --seed 42
#
# Nemeses: partition (halves, isolate-leader, ring), loss, kill, pause, clock
# (bumps, strobing and lasting steps), all. The report goes to --out (default chaos-out/):
# summary.txt, timeline.svg, history.jsonl, check.json, node logs. Other
# flags: see `idem-jepsen run --help`.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/deps.sh
ensure_build_deps
ensure_chaos_deps
if [ "$(id -u)" -ne 0 ]; then
    echo "chaos.sh: the harness creates network namespaces and iptables rules; run it as root (sudo)" >&2
    exit 2
fi
target="${CARGO_TARGET_DIR:-target}"
if [ -z "${IDEM_BIN:-}" ]; then
    cargo build --release --locked --bin idem --bin idem-jepsen >&2
fi
exec "$target/release/idem-jepsen" run --idem "${IDEM_BIN:-$target/release/idem}" "$@"
