//! Client operations: each invocation paired with its completion (by
//! `process`), which is what every checker reads.
//!
//! Pairing never panics: an event that breaks the pairing rules becomes a
//! `malformed` note and the pairing carries on with the most cautious reading
//! (an operation whose completion is missing or unusable is treated as
//! indeterminate, like an `info`).

use crate::history::{Event, EventBody, Outcome, Request};
use crate::malformed::Malformed;
use std::collections::HashMap;

/// Where an event sits in the history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Position in the slice of events: the recording order, which decides
    /// which of two events came first.
    pub seq: usize,
    /// The event's `index` field, used to name it in reports.
    pub index: u64,
    /// Harness monotonic time, ns since the run began.
    pub time_ns: u64,
}

impl Stamp {
    fn of(seq: usize, event: &Event) -> Self {
        Stamp {
            seq,
            index: event.index,
            time_ns: event.time_ns,
        }
    }
}

/// How an operation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// A definite answer.
    Ok { at: Stamp, outcome: Outcome },
    /// Certainly did not happen.
    Fail { at: Stamp, error: String },
    /// May or may not have happened, at any time after the invocation.
    Info { at: Stamp, error: String },
    /// No completion before the history ended: judged like `Info`.
    Open,
}

/// One client operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Op {
    pub process: u64,
    pub node: u32,
    pub key: String,
    pub request: Request,
    pub invoke: Stamp,
    pub end: End,
}

impl Op {
    /// The definite answer, if the operation got one.
    pub fn outcome(&self) -> Option<&Outcome> {
        match &self.end {
            End::Ok { outcome, .. } => Some(outcome),
            _ => None,
        }
    }

    /// The stamp of the `ok` event, if the operation got a definite answer.
    pub fn ok_at(&self) -> Option<Stamp> {
        match &self.end {
            End::Ok { at, .. } => Some(*at),
            _ => None,
        }
    }

    /// Whether the operation may have taken effect (it did not `fail`).
    pub fn may_have_happened(&self) -> bool {
        !matches!(self.end, End::Fail { .. })
    }

    /// Whether its outcome is unknown (`info`, or no completion at all).
    pub fn is_indeterminate(&self) -> bool {
        matches!(self.end, End::Info { .. } | End::Open)
    }

    /// The completion event, if there is one.
    pub fn end_at(&self) -> Option<Stamp> {
        match &self.end {
            End::Ok { at, .. } | End::Fail { at, .. } | End::Info { at, .. } => Some(*at),
            End::Open => None,
        }
    }

    /// The event indices that show this operation: its invocation and, if
    /// any, its completion.
    pub fn event_indices(&self) -> Vec<u64> {
        let mut v = vec![self.invoke.index];
        v.extend(self.end_at().map(|at| at.index));
        v
    }

    /// If this is an acknowledged grant, its token (a resume grants
    /// nothing new: it returns the token its attempt already holds).
    pub fn granted_token(&self) -> Option<u64> {
        match self.outcome() {
            Some(Outcome::Reserved {
                token,
                resumed: false,
                ..
            }) => Some(*token),
            _ => None,
        }
    }
}

/// Every operation of a history, in invocation order, and what was wrong
/// with the history's shape.
#[derive(Debug, Default)]
pub struct Paired {
    pub ops: Vec<Op>,
    pub malformed: Malformed,
}

/// Pairs invocations with completions.
pub fn pair(events: &[Event]) -> Paired {
    let mut out = Paired::default();
    // process -> position in `out.ops` of its outstanding invocation
    let mut outstanding: HashMap<u64, usize> = HashMap::new();
    for (seq, event) in events.iter().enumerate() {
        if event.index != seq as u64 {
            out.malformed.note(format!(
                "event at position {seq} has index {} (indices must count from 0 in recording order)",
                event.index
            ));
        }
        let stamp = Stamp::of(seq, event);
        match &event.body {
            EventBody::Invoke {
                process,
                node,
                key,
                request,
            } => {
                if let Some(prev) = outstanding.remove(process) {
                    out.malformed.note(format!(
                        "event {}: process {process} invoked again while its invocation at event {} is outstanding (that one is judged indeterminate)",
                        event.index, out.ops[prev].invoke.index
                    ));
                }
                outstanding.insert(*process, out.ops.len());
                out.ops.push(Op {
                    process: *process,
                    node: *node,
                    key: key.clone(),
                    request: request.clone(),
                    invoke: stamp,
                    end: End::Open,
                });
            }
            EventBody::Ok { process, .. }
            | EventBody::Fail { process, .. }
            | EventBody::Info { process, .. } => {
                let Some(pos) = outstanding.remove(process) else {
                    out.malformed.note(format!(
                        "event {}: completion for process {process}, which has no outstanding invocation",
                        event.index
                    ));
                    continue;
                };
                let op = &mut out.ops[pos];
                if stamp.time_ns < op.invoke.time_ns {
                    out.malformed.note(format!(
                        "event {}: completes the invocation at event {} but is timed before it",
                        event.index, op.invoke.index
                    ));
                }
                op.end = end_of(&event.body, stamp, &op.request, &mut out.malformed);
            }
            EventBody::Nemesis { .. } => {}
        }
    }
    out
}

fn end_of(body: &EventBody, at: Stamp, request: &Request, malformed: &mut Malformed) -> End {
    match body {
        EventBody::Ok { outcome, .. } if outcome.answers(request) => End::Ok {
            at,
            outcome: outcome.clone(),
        },
        EventBody::Ok { outcome, .. } => {
            malformed.note(format!(
                "event {}: a {} answered with outcome {} (judged indeterminate)",
                at.index,
                request.f(),
                outcome.kind()
            ));
            End::Info {
                at,
                error: format!("impossible outcome {}", outcome.kind()),
            }
        }
        EventBody::Fail { error, .. } => End::Fail {
            at,
            error: error.clone(),
        },
        EventBody::Info { error, .. } => End::Info {
            at,
            error: error.clone(),
        },
        // Not reached: the caller matches completions only.
        EventBody::Invoke { .. } | EventBody::Nemesis { .. } => End::Open,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{invoke, ok, EventsBuilder};

    #[test]
    fn pairs_by_process_and_leaves_the_unanswered_open() {
        let mut h = EventsBuilder::default();
        h.push(invoke(1, "k", Request::Get));
        h.push(invoke(2, "k", Request::Get));
        h.push(ok(2, Outcome::NotFound));
        h.push(ok(1, Outcome::NotFound));
        h.push(invoke(3, "k", Request::Get));
        let p = pair(&h.events);
        assert!(p.malformed.is_empty(), "{:?}", p.malformed);
        assert_eq!(p.ops.len(), 3);
        assert_eq!(p.ops[0].ok_at().map(|s| s.index), Some(3));
        assert_eq!(p.ops[1].ok_at().map(|s| s.index), Some(2));
        assert_eq!(p.ops[2].end, End::Open);
        assert!(p.ops[2].is_indeterminate());
    }

    #[test]
    fn a_stray_completion_and_a_double_invocation_are_malformed_not_fatal() {
        let mut h = EventsBuilder::default();
        h.push(ok(9, Outcome::NotFound));
        h.push(invoke(1, "k", Request::Get));
        h.push(invoke(1, "k", Request::Get));
        h.push(ok(1, Outcome::NotFound));
        let p = pair(&h.events);
        assert_eq!(p.malformed.len(), 2, "{:?}", p.malformed);
        assert_eq!(p.ops.len(), 2);
        assert_eq!(p.ops[0].end, End::Open);
        assert!(p.ops[1].outcome().is_some());
    }

    #[test]
    fn an_outcome_of_the_wrong_kind_is_malformed_and_indeterminate() {
        let mut h = EventsBuilder::default();
        h.push(invoke(1, "k", Request::Get));
        h.push(ok(1, Outcome::Extended { token: 3 }));
        let p = pair(&h.events);
        assert_eq!(p.malformed.len(), 1);
        assert!(p.ops[0].is_indeterminate());
    }

    #[test]
    fn indices_out_of_order_are_malformed() {
        let mut h = EventsBuilder::default();
        h.push(invoke(1, "k", Request::Get));
        h.events[0].index = 7;
        assert_eq!(pair(&h.events).malformed.len(), 1);
    }
}
