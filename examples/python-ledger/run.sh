#!/usr/bin/env bash
# One command: the Python ledger behind `idem proxy` on a local three-node
# cluster. Installs what a fresh machine lacks, builds idem, starts the
# cluster in the background (scripts/cluster.sh; kept if already running),
# the ledger on 127.0.0.1:9000 (charges in ./data/ledger.jsonl), and the
# proxy on 127.0.0.1:8080 (metrics on 9464) in the foreground. Ctrl-C stops
# the proxy and the ledger; `scripts/cluster.sh stop` stops the cluster.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib/deps.sh
ensure_build_deps
command -v python3 >/dev/null 2>&1 || ensure_packages python3
cargo build --release --locked --bin idem
IDEM="${CARGO_TARGET_DIR:-target}/release/idem"
IDEM_BIN="$IDEM" scripts/cluster.sh start
mkdir -p data
python3 examples/python-ledger/ledger.py --port 9000 --ledger data/ledger.jsonl &
LEDGER=$!
trap 'kill $LEDGER 2>/dev/null || true' EXIT
# The proxy's own client key, for namespace shop only (made once with the
# cluster's admin key).
if [ ! -s data/shop.key ]; then
    (umask 077; "$IDEM" auth create --api-key-file data/node1/admin.key --name python-ledger-proxy \
        --role client --namespace shop --print-key > data/shop.key.tmp) && mv data/shop.key.tmp data/shop.key
fi
IDEM_PROXY_API_KEY_FILE=data/shop.key \
"$IDEM" proxy --listen 127.0.0.1:8080 --metrics-listen 127.0.0.1:9464 \
    --upstream http://127.0.0.1:9000 --namespace shop \
    --nodes http://127.0.0.1:8101,http://127.0.0.1:8102,http://127.0.0.1:8103 "$@"
