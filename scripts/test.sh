#!/usr/bin/env bash
# Runs all of idem's tests. Installs what a fresh machine lacks first.
#
#   bash scripts/test.sh            # everything: cargo tests, then the chaos
#                                   # harness (jepsen/ci.sh; needs root)
#   bash scripts/test.sh -p idem-core   # extra arguments go to cargo test
#                                       # (and skip the chaos runs)
#
# Tests build in the release profile, the same one benchmarks use, so the
# slow RocksDB C++ build happens once. Set CARGO_TARGET_DIR to keep builds
# outside the checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/deps.sh
ensure_build_deps
# No module of the main crates imports another in a circle (layering).
command -v python3 >/dev/null 2>&1 || ensure_packages python3
for src in crates/{idem-core,idem-store,idem-cluster,idem-server,idem-client,idem-tower,idem-proxy,idem-bench}/src \
    jepsen/{checker,harness}/src; do
    python3 scripts/lib/module_cycles.py "$src"
done
cargo test --workspace --release --locked "$@"
if [ "$#" -eq 0 ]; then
    bash jepsen/ci.sh
fi
