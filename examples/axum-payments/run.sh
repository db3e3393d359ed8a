#!/usr/bin/env bash
# One command: the axum payments example (IdempotencyLayer) on a local
# three-node cluster. Installs what a fresh machine lacks, builds, starts the
# cluster in the background (scripts/cluster.sh; kept if already running)
# and the service on 127.0.0.1:9100 in the foreground (charges in
# ./data/payments.jsonl). `scripts/cluster.sh stop` stops the cluster.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib/deps.sh
ensure_build_deps
cargo build --release --locked --bin idem --bin axum-payments
TARGET="${CARGO_TARGET_DIR:-target}/release"
IDEM_BIN="$TARGET/idem" scripts/cluster.sh start
mkdir -p data
exec "$TARGET/axum-payments" --ledger data/payments.jsonl "$@"
