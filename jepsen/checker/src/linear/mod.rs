//! Check (4), linearizability, key by key (a history is linearizable iff
//! each key's subhistory is, since keys are independent objects): prepare
//! the key's operations ([`prepare`]), search for a legal order
//! ([`search`], memo in [`visited`]), and turn the outcome into a verdict.

pub mod prepare;
pub mod search;
pub mod visited;

use crate::by_key::KeyOps;
use crate::verdict::{CheckName, KeyVerdict, Linearizability, Violation};
use prepare::Prepared;
use search::{search, Found, Furthest};
use std::collections::HashSet;

/// The verdict on one key, and the violation to report if it is not
/// linearizable. `acked` holds the tokens of every acknowledged grant in
/// the history (all keys).
pub fn check_key(
    key: &KeyOps<'_>,
    acked: &HashSet<u64>,
    max_states: usize,
) -> (KeyVerdict, Option<Violation>) {
    let p = Prepared::new(&key.ops);
    let (found, states) = search(&p, acked, max_states);
    let total = p.oks.len();
    let (result, violation) = match found {
        Found::Linearizable => (Linearizability::Linearizable, None),
        Found::NotLinearizable { furthest } => {
            let state = furthest.state.describe(&p.symbols);
            let ops: Vec<u64> = blocked(&p, &furthest)
                .filter_map(|e| e.first().copied())
                .collect();
            let events = blocked(&p, &furthest).flatten().copied().collect();
            let message = format!(
                "no order of the key's operations obeys the model: at best {} of {total} \
                 acknowledged operations could be placed; then the record was {state}, and \
                 none of the operations invoked at events {ops:?} (one of which had to come \
                 next) could be answered as it was",
                furthest.placed,
            );
            let result = Linearizability::NotLinearizable {
                ops,
                placed: furthest.placed,
                total,
                state,
            };
            let violation = Violation::new(CheckName::Linearizability, key.key, message, events);
            (result, Some(violation))
        }
        Found::GaveUp { furthest } => {
            let reason = format!(
                "gave up after {states} configurations (max_states_per_key {max_states}); \
                 at best {} of {total} acknowledged operations were placed",
                furthest.placed
            );
            (Linearizability::Unknown { reason }, None)
        }
    };
    let indeterminate = key.ops.iter().filter(|op| op.is_indeterminate()).count();
    let verdict = KeyVerdict {
        key: key.key.to_string(),
        ops: total + indeterminate,
        indeterminate,
        states,
        result,
    };
    (verdict, violation)
}

/// The event indices of each blocked operation.
fn blocked<'a>(p: &'a Prepared, f: &'a Furthest) -> impl Iterator<Item = &'a Vec<u64>> {
    f.blocked
        .iter()
        .filter_map(|&j| p.oks.get(j))
        .map(|op| &op.events)
}

#[cfg(test)]
mod tests;
