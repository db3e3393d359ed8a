//! The judging half of idem's chaos harness (`jepsen/`): the history format
//! that the harness records, the checkers that read it, and the report.
//!
//! It owns the rules a history must obey: no lease ends early, an
//! acknowledged completion is replayed byte for byte until its retention
//! ends, fencing tokens only grow, and every key's operations are
//! linearizable against a model of idem's record. It must not do I/O of its
//! own nor depend on any idem crate: idem is judged as a black box, from what
//! its clients saw.
//!
//! Use: parse a history ([`history::parse_history`]), [`check`] it, and
//! render the [`CheckReport`] with [`report::summary_text`] and
//! [`report::timeline_svg`]. [`ops`] (invocations paired with their
//! completions) and [`nemesis`] (fault windows) are public for callers that
//! want their own statistics.
//!
//! # The rules
//!
//! Invocations are paired with completions by `process`; what does not pair
//! is reported as malformed (which fails the run) and judged cautiously. A
//! `fail` did not happen; an `info`, or an invocation never answered, may
//! have happened at any time after its invocation, or never. "Before" and
//! "after" between events is their order in the history; durations use the
//! harness's clock (`time_ns`).
//!
//! 1. **No early expiry**, per key: for each acknowledged grant G2 and the
//!    acknowledged grant G1 with the next smaller token, unless a release or
//!    complete with G1's token that did not fail was invoked before G2 was
//!    acknowledged, G2's `ok` comes no earlier than G1's lease can have
//!    ended: `G1.invoke + G1.lease_ms`, pushed by every acknowledged
//!    heartbeat with G1's token (`hb.invoke + hb.lease_ms`). A heartbeat may
//!    also shorten the lease; the bound allows for that (see
//!    `checks::no_early_expiry`).
//! 2. **Replay**, per key: for an acknowledged completion of token t with
//!    response r (`retain_ms` R from the acknowledged reserve granted t),
//!    every `ok` operation invoked after the completion's `ok` and answered
//!    before the record's earliest possible storing time + R sees it: a
//!    reserve with its fingerprint is replayed (t, r) byte for byte, with
//!    another gets `fingerprint_mismatch`, a get shows it, heartbeat and
//!    release get `key_lost`, a complete with another token `key_lost`, with
//!    t a replayed `completed` (same r) or `conflicting_completion`.
//! 3. **Fencing**: (a) no two acknowledged grants share a token, on any
//!    keys; (b) per key, a grant invoked after another was acknowledged has
//!    a larger token; (c) an acknowledged `extended`, `completed` (not
//!    replayed) or `released` with token t, invoked after a grant with a
//!    larger token on the key was acknowledged, is a violation.
//! 4. **Linearizability**, per key: some order of the acknowledged
//!    operations and some of the indeterminate ones, each placed between
//!    its invocation and its answer, obeys the model of the record: absent,
//!    in progress (fingerprint) or completed (fingerprint, response), with
//!    the largest token so far; grants take larger tokens (a takeover only
//!    of an in-progress record with the same fingerprint); a record may be
//!    forgotten at any point (when is for checks 1 and 2). An indeterminate
//!    grant has a token nobody saw, which a later read may reveal. The
//!    search has a budget; beyond it the key's verdict is unknown, which
//!    fails the run.
//!
//! Inside: `checks` (rules 1 to 3), `model` (the record as a
//! nondeterministic state machine) and `linear` (the search).

mod by_key;
mod check;
mod checks;
pub mod history;
mod linear;
pub mod malformed;
mod model;
pub mod nemesis;
pub mod ops;
pub mod report;
#[cfg(test)]
mod testing;
mod verdict;

pub use check::check;
pub use verdict::{CheckLimits, CheckName, CheckReport, KeyVerdict, Linearizability, Violation};
