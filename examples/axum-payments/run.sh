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
# The service's own client key, for namespace payments only (made once
# with the cluster's admin key).
if [ ! -s data/payments.key ]; then
    (umask 077; "$TARGET/idem" auth create --api-key-file data/node1/admin.key --name axum-payments \
        --role client --namespace payments --print-key > data/payments.key.tmp) \
        && mv data/payments.key.tmp data/payments.key
fi
exec "$TARGET/axum-payments" --ledger data/payments.jsonl --api-key-file data/payments.key "$@"
