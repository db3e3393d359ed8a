#!/usr/bin/env bash
# The checks must fail when they should: runs the chaos harness against
# deliberately broken builds of idem (`--features planted-bugs`, one bug per
# run through IDEM_PLANTED_BUG) and requires each run to find a violation.
#
#   bash jepsen/planted.sh            # all five
#   bash jepsen/planted.sh stale-reads
#
# Needs root (network namespaces). Reports go to $CHAOS_OUT (default
# chaos-out/) as planted-<bug>/.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
out="${CHAOS_OUT:-chaos-out}"
planted="$target/release/idem-planted"

# The broken build goes to its own name; the normal `idem` is rebuilt after
# (cargo keeps both builds' artifacts, so switching back only relinks).
cargo build --release --locked -p idem-server --features planted-bugs --bin idem >&2
cp "$target/release/idem" "$planted"
cargo build --release --locked --bin idem --bin idem-jepsen >&2

# bug | nemeses that expose it | seconds
cases=(
    # Only cluster time running ahead of true time shows it: every clock
    # held ahead past the 30-s catch-up (clock-ahead) makes it jump, and
    # every lease then ends early by seconds. Before the catch-up, clocks
    # ahead only steer it a tenth faster (a 2-s lease ends up to 0.2 s
    # early), which the checker sees only when a takeover falls in that
    # window (a run on the cluster-time build, seed 1796176835185345788:
    # 13 ms early at 11.6 s, then 1.5 s early after the catch-up).
    "cluster-time-expiry|clock-ahead|90"
    "skip-fingerprint-check|none|20"
    "accept-stale-token|none|20"
    # A stale read needs a read on a follower cut off from a newer leader;
    # 60 s of `partition` once drew none (seed 1796206697119102689: VALID,
    # with and without the checker's stranded prune), so it runs longer.
    "stale-reads|partition|90"
    # Only a leader cut off from the majority shows it; `partition` also
    # draws splits that keep the leader with the majority, and one CI run
    # (seed 1795995803116760345) isolated it once and missed.
    "long-lease|isolate-leader|90"
)
failed=()
for c in "${cases[@]}"; do
    IFS='|' read -r bug nemesis secs <<<"$c"
    if [ "$#" -gt 0 ] && [[ " $* " != *" $bug "* ]]; then continue; fi
    echo "== planted bug $bug ($nemesis, $secs s): the checks must catch it" >&2
    if "$target/release/idem-jepsen" run --idem "$planted" --planted-bug "$bug" \
        --nemesis "$nemesis" --time "$secs" --out "$out/planted-$bug" --expect-violation \
        > "$out.planted-$bug.txt" 2>&1; then
        echo "   caught; see $out/planted-$bug/summary.txt" >&2
    else
        echo "   NOT caught (or the run failed); see $out/planted-$bug/summary.txt" >&2
        tail -20 "$out.planted-$bug.txt" >&2
        failed+=("$bug")
    fi
done
if [ "${#failed[@]}" -gt 0 ]; then
    echo "planted bugs not caught: ${failed[*]}" >&2
    exit 1
fi
echo "every planted bug was caught" >&2
