#!/usr/bin/env bash
# One command for a newcomer: installs what a fresh machine lacks, builds
# idem, and runs a local three-node cluster in the foreground (data under
# ./data, HTTP on 8101-8103) until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/deps.sh
ensure_build_deps
cargo build --release --locked --bin idem
exec "${CARGO_TARGET_DIR:-target}/release/idem" dev --data ./data "$@"
