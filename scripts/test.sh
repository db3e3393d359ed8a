#!/usr/bin/env bash
# Runs all of idem's tests. Installs what a fresh machine lacks first.
#
#   bash scripts/test.sh            # everything
#   bash scripts/test.sh -p idem-core   # extra arguments go to cargo test
#
# Tests build in the release profile, the same one benchmarks use, so the
# slow RocksDB C++ build happens once. Set CARGO_TARGET_DIR to keep builds
# outside the checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/deps.sh
ensure_build_deps
cargo test --workspace --release --locked "$@"
