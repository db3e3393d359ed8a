# Installs what building and testing idem needs on a fresh Debian machine.
# Sourced by scripts/test.sh, scripts/cluster.sh, jepsen/ci.sh and .ci/run;
# safe to run again (it installs only what is missing).

idem_need_root() {
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 && echo sudo
    fi
}

# Installs those of the given Debian packages that are missing.
ensure_packages() {
    local missing=() pkg
    for pkg in "$@"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "idem: installing ${missing[*]}" >&2
        local sudo
        sudo=$(idem_need_root)
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

# clang/libclang for RocksDB's bindings and C++ build; libfaketime for the
# clock-skew tests.
ensure_build_deps() {
    ensure_packages clang libclang-dev pkg-config faketime libfaketime
    if ! command -v cargo >/dev/null 2>&1; then
        echo "idem: cargo is not installed (https://rustup.rs)" >&2
        return 1
    fi
}

# What the chaos harness needs: network namespaces (iproute2), iptables for
# the faults, libfaketime for clock skew, curl for the fault scripts.
ensure_chaos_deps() {
    ensure_packages iproute2 iptables faketime libfaketime curl
}

# For the measuring scripts (soak, growth): builds idem and idem-bench in
# release unless IDEM_BIN and IDEM_BENCH_BIN both name binaries already, and
# exports IDEM_BIN and IDEM_BENCH_BIN.
ensure_release_bins() {
    local target="${CARGO_TARGET_DIR:-target}"
    if [ -z "${IDEM_BIN:-}" ] || [ -z "${IDEM_BENCH_BIN:-}" ]; then
        ensure_build_deps
        cargo build --release --locked --bin idem --bin idem-bench
    fi
    export IDEM_BIN=${IDEM_BIN:-$target/release/idem}
    export IDEM_BENCH_BIN=${IDEM_BENCH_BIN:-$target/release/idem-bench}
}
