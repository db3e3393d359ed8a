//! One key's operations made ready for the search: acknowledged and
//! indeterminate operations apart, each in invocation order, in the model's
//! terms. Failed operations did not happen and are left out; so are
//! indeterminate reads and heartbeats, which cannot change the record.

use crate::history::Request;
use crate::model::op::{Call, ModelOp};
use crate::model::symbols::Symbols;
use crate::ops::Op;
use std::collections::HashMap;

/// An operation placed by the search.
#[derive(Debug, Clone)]
pub struct LinOp {
    pub op: ModelOp,
    /// Position of the invocation.
    pub invoke: usize,
    /// Position of the `ok`; `usize::MAX` for an indeterminate operation,
    /// which may take effect at any time after its invocation.
    pub ret: usize,
    /// The operation's event indices (invocation, then completion if any).
    pub events: Vec<u64>,
    /// Indeterminate operations with the same call are interchangeable;
    /// they share a class, and the search tries one of them at a time.
    pub class: u32,
}

/// A key's operations, ready for the search.
#[derive(Debug, Default)]
pub struct Prepared {
    /// Acknowledged operations, in invocation order.
    pub oks: Vec<LinOp>,
    /// Indeterminate operations that may write, in invocation order.
    pub infos: Vec<LinOp>,
    /// The members of each class of `infos` (indices), in invocation order.
    pub classes: Vec<Vec<usize>>,
    /// For each `j`, the least [`ModelOp::last_token`] of `oks[j..]`
    /// (`u64::MAX`: none has one); one more entry, `u64::MAX`, at the end.
    pub last_token_from: Vec<u64>,
    pub symbols: Symbols,
}

impl Prepared {
    /// `ops` must be in invocation order.
    pub fn new(ops: &[&Op]) -> Prepared {
        let mut p = Prepared::default();
        // An attempt id that only one operation carries can resume
        // nothing: it is interned as no attempt, so that such reserves
        // stay interchangeable (one class) as before attempts existed.
        let mut uses: HashMap<&str, usize> = HashMap::new();
        for op in ops {
            if let Request::Reserve {
                attempt: Some(a), ..
            } = &op.request
            {
                *uses.entry(a.as_str()).or_default() += 1;
            }
        }
        p.symbols.share_attempts(
            uses.into_iter()
                .filter(|(_, n)| *n > 1)
                .map(|(a, _)| a.to_string()),
        );
        let mut classes: HashMap<Call, u32> = HashMap::new();
        for op in ops.iter().filter(|op| op.may_have_happened()) {
            let model = ModelOp::of(op, &mut p.symbols);
            let lin = |ret, class| LinOp {
                op: model,
                invoke: op.invoke.seq,
                ret,
                events: op.event_indices(),
                class,
            };
            match op.ok_at() {
                Some(at) => p.oks.push(lin(at.seq, 0)),
                None if model.may_write() => {
                    let next = classes.len() as u32;
                    let class = *classes.entry(model.call).or_insert(next);
                    if class == next {
                        p.classes.push(Vec::new());
                    }
                    p.classes[class as usize].push(p.infos.len());
                    p.infos.push(lin(usize::MAX, class));
                }
                None => {}
            }
        }
        p.last_token_from = vec![u64::MAX; p.oks.len() + 1];
        for j in (0..p.oks.len()).rev() {
            let own = p.oks[j].op.last_token().unwrap_or(u64::MAX);
            p.last_token_from[j] = own.min(p.last_token_from[j + 1]);
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Request;
    use crate::ops::pair;
    use crate::testing::*;

    #[test]
    fn keeps_acknowledged_and_indeterminate_writes_and_drops_the_rest() {
        let mut h = EventsBuilder::default();
        h.call(1, "k", reserve("a"), granted(10)); // ok
        h.push(invoke(2, "k", reserve("a")));
        h.push(info(2)); // indeterminate write
        h.push(invoke(3, "k", Request::Get));
        h.push(info(3)); // indeterminate read: dropped
        h.push(invoke(4, "k", heartbeat(10)));
        h.push(fail(4)); // failed: dropped
        h.push(invoke(5, "k", reserve("a"))); // never answered: indeterminate
        let paired = pair(&h.events);
        let ops: Vec<&Op> = paired.ops.iter().collect();
        let p = Prepared::new(&ops);
        assert_eq!(p.oks.len(), 1);
        assert_eq!(p.oks[0].events, vec![0, 1]);
        assert_eq!(p.infos.len(), 2);
        assert_eq!(p.infos[0].ret, usize::MAX);
        assert_eq!(p.infos[0].class, p.infos[1].class, "same call, same class");
        assert_eq!(p.classes, vec![vec![0, 1]]);
    }
}
