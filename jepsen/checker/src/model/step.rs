//! The model's transitions: from a state and an operation (with its
//! answer), every state the record may be in afterwards. None: the answer
//! is impossible there.
//!
//! Two sources of nondeterminism:
//! - a record may be forgotten (become absent, its token kept) at any point:
//!   a completed one once its retention ends, an in-progress one once it is
//!   abandoned. When is judged by the replay check, not here; so every
//!   operation may also apply to the forgotten state;
//! - an indeterminate write that takes effect (the search also tries leaving
//!   it out) does what a successful call would: reserve grants (an unseen
//!   token) or takes over, complete stores, release frees. Its other
//!   possible answers change nothing, which is the same as leaving it out.

use super::op::{Answer, Call, ModelOp};
use super::state::{Record, State, Token};
use super::symbols::Sym;
use std::collections::HashSet;

/// At most two successor states (as is, and forgotten first), deduplicated.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Successors([Option<State>; 2]);

impl Successors {
    fn push(&mut self, s: Option<State>) {
        let Some(s) = s else { return };
        if self.0.contains(&Some(s)) {
            return;
        }
        if let Some(slot) = self.0.iter_mut().find(|x| x.is_none()) {
            *slot = Some(s);
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = State> + '_ {
        self.0.iter().flatten().copied()
    }
}

/// Every state the record may be in after `op`, the unforgotten one first.
/// `acked` holds the tokens of every acknowledged grant in the history.
pub fn successors(s: State, op: &ModelOp, acked: &HashSet<u64>) -> Successors {
    let mut out = Successors::default();
    out.push(apply(s, op, acked));
    if s.record != Record::Absent {
        out.push(apply(s.forgotten(), op, acked));
    }
    out
}

/// The transition from exactly `s`, without forgetting.
fn apply(s: State, op: &ModelOp, acked: &HashSet<u64>) -> Option<State> {
    use Answer as A;
    use Call as C;
    use Record as R;
    let bind = |token: u64, record: Record| {
        s.token
            .bind(token, acked)
            .map(|token| State { token, record })
    };
    // complete(token, resp) storing the response
    let store = |token: u64, resp: Sym| match s.record {
        R::InProgress { fp } => bind(token, R::Completed { fp, resp }),
        _ => None,
    };
    // release(token) freeing the key
    let free = |token: u64| match s.record {
        R::InProgress { .. } => bind(token, R::Absent),
        _ => None,
    };
    let unless_held_by = |token: u64| match s.record {
        R::Absent => Some(s),
        R::InProgress { .. } | R::Completed { .. } => s.token.can_differ(token).then_some(s),
    };
    match (op.call, op.answer) {
        (C::Reserve { fp }, A::Unknown) => match s.record {
            R::Absent => Some(State {
                token: s.token.next_unseen(),
                record: R::InProgress { fp },
            }),
            R::InProgress { fp: f } if f == fp => Some(State {
                token: s.token.next_unseen(),
                record: R::InProgress { fp },
            }),
            _ => None,
        },
        (C::Reserve { fp }, A::Reserved { token, takeover }) => {
            let from = match s.record {
                R::Absent => !takeover,
                R::InProgress { fp: f } => takeover && f == fp,
                R::Completed { .. } => false,
            };
            (from && s.token.precedes(token)).then_some(State {
                token: Token::Known(token),
                record: R::InProgress { fp },
            })
        }
        (C::Reserve { fp }, A::Replayed { token, resp }) => match s.record {
            R::Completed { fp: f, resp: r } if f == fp && r == resp => bind(token, s.record),
            _ => None,
        },
        (C::Reserve { fp }, A::InProgress) => {
            matches!(s.record, R::InProgress { fp: f } if f == fp).then_some(s)
        }
        (C::Reserve { fp }, A::FingerprintMismatch) => matches!(
            s.record,
            R::InProgress { fp: f } | R::Completed { fp: f, .. } if f != fp
        )
        .then_some(s),
        (C::Heartbeat { token }, A::Extended { token: t }) if t == token => match s.record {
            R::InProgress { .. } => bind(token, s.record),
            _ => None,
        },
        (C::Heartbeat { token }, A::KeyLost) | (C::Release { token }, A::KeyLost) => {
            match s.record {
                R::InProgress { .. } => s.token.can_differ(token).then_some(s),
                R::Absent | R::Completed { .. } => Some(s),
            }
        }
        (C::Complete { token, resp }, A::Unknown) => store(token, resp),
        (C::Complete { token, resp }, A::Completed { token: t, replayed }) if t == token => {
            match s.record {
                R::InProgress { .. } if !replayed => store(token, resp),
                R::Completed { resp: r, .. } if replayed && r == resp => bind(token, s.record),
                _ => None,
            }
        }
        (C::Complete { token, resp }, A::Conflicting { token: t }) if t == token => {
            match s.record {
                R::Completed { resp: r, .. } if r != resp => bind(token, s.record),
                _ => None,
            }
        }
        (C::Complete { token, .. }, A::KeyLost) => unless_held_by(token),
        (C::Release { token }, A::Unknown) => free(token),
        (C::Release { token }, A::Released { token: t }) if t == token => free(token),
        (C::Get, A::NotFound) => (s.record == R::Absent).then_some(s),
        (C::Get, A::RecordInProgress { token, fp }) => match s.record {
            R::InProgress { fp: f } if f == fp => bind(token, s.record),
            _ => None,
        },
        (C::Get, A::RecordCompleted { token, fp, resp }) => match s.record {
            R::Completed { fp: f, resp: r } if f == fp && r == resp => bind(token, s.record),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Sym = 0;
    const B: Sym = 1;
    const R1: Sym = 0;
    const R2: Sym = 1;

    fn st(token: u64, record: Record) -> State {
        State {
            token: Token::Known(token),
            record,
        }
    }

    fn next(s: State, call: Call, answer: Answer) -> Vec<State> {
        let acked: HashSet<u64> = [10, 12].into();
        successors(s, &ModelOp { call, answer }, &acked)
            .iter()
            .collect()
    }

    const ABSENT: Record = Record::Absent;
    const HELD_A: Record = Record::InProgress { fp: A };
    const DONE_A: Record = Record::Completed { fp: A, resp: R1 };

    #[test]
    fn reserve_grants_a_larger_token_from_absent_and_takes_over_only_the_same_fingerprint() {
        let grant = |takeover| Answer::Reserved {
            token: 12,
            takeover,
        };
        let reserve_a = Call::Reserve { fp: A };
        assert_eq!(
            next(st(10, ABSENT), reserve_a, grant(false)),
            vec![st(12, HELD_A)]
        );
        assert_eq!(next(st(12, ABSENT), reserve_a, grant(false)), vec![]);
        assert_eq!(
            next(st(10, HELD_A), reserve_a, grant(true)),
            vec![st(12, HELD_A)]
        );
        assert_eq!(next(st(10, ABSENT), reserve_a, grant(true)), vec![]);
        let held_b = Record::InProgress { fp: B };
        assert_eq!(next(st(10, held_b), reserve_a, grant(true)), vec![]);
        // a live record may have been forgotten (abandoned) before the grant
        assert_eq!(
            next(st(10, held_b), reserve_a, grant(false)),
            vec![st(12, HELD_A)]
        );
    }

    #[test]
    fn reserve_answers_on_an_existing_record() {
        let (a, b) = (Call::Reserve { fp: A }, Call::Reserve { fp: B });
        assert_eq!(
            next(st(10, HELD_A), a, Answer::InProgress),
            vec![st(10, HELD_A)]
        );
        assert_eq!(next(st(10, HELD_A), b, Answer::InProgress), vec![]);
        assert_eq!(
            next(st(10, HELD_A), b, Answer::FingerprintMismatch).len(),
            1
        );
        assert_eq!(
            next(st(10, DONE_A), b, Answer::FingerprintMismatch).len(),
            1
        );
        assert_eq!(next(st(10, DONE_A), a, Answer::FingerprintMismatch), vec![]);
        let replay = |token, resp| Answer::Replayed { token, resp };
        assert_eq!(
            next(st(10, DONE_A), a, replay(10, R1)),
            vec![st(10, DONE_A)]
        );
        assert_eq!(next(st(10, DONE_A), a, replay(10, R2)), vec![]);
        assert_eq!(next(st(10, DONE_A), a, replay(9, R1)), vec![]);
        assert_eq!(next(st(10, DONE_A), b, replay(10, R1)), vec![]);
    }

    #[test]
    fn heartbeat_extends_only_the_holder_and_anything_else_is_lost() {
        let hb = Call::Heartbeat { token: 10 };
        let ext = Answer::Extended { token: 10 };
        assert_eq!(next(st(10, HELD_A), hb, ext), vec![st(10, HELD_A)]);
        assert_eq!(next(st(12, HELD_A), hb, ext), vec![]);
        assert_eq!(next(st(10, DONE_A), hb, ext), vec![]);
        // lost: only if the holder's record is gone (forgotten)
        assert_eq!(
            next(st(10, HELD_A), hb, Answer::KeyLost),
            vec![st(10, ABSENT)]
        );
        assert_eq!(
            next(st(12, HELD_A), hb, Answer::KeyLost),
            vec![st(12, HELD_A), st(12, ABSENT)]
        );
    }

    #[test]
    fn complete_stores_replays_identically_and_refuses_a_different_response() {
        let c1 = Call::Complete {
            token: 10,
            resp: R1,
        };
        let c2 = Call::Complete {
            token: 10,
            resp: R2,
        };
        let done = |replayed| Answer::Completed {
            token: 10,
            replayed,
        };
        assert_eq!(next(st(10, HELD_A), c1, done(false)), vec![st(10, DONE_A)]);
        assert_eq!(next(st(12, HELD_A), c1, done(false)), vec![]);
        assert_eq!(next(st(10, DONE_A), c1, done(true)), vec![st(10, DONE_A)]);
        assert_eq!(next(st(10, DONE_A), c2, done(true)), vec![]);
        let conflict = Answer::Conflicting { token: 10 };
        assert_eq!(next(st(10, DONE_A), c2, conflict), vec![st(10, DONE_A)]);
        assert_eq!(next(st(10, DONE_A), c1, conflict), vec![]);
        assert_eq!(
            next(st(10, DONE_A), c1, Answer::KeyLost),
            vec![st(10, ABSENT)]
        );
    }

    #[test]
    fn release_frees_only_the_holder() {
        let rel = Call::Release { token: 10 };
        let ok = Answer::Released { token: 10 };
        assert_eq!(next(st(10, HELD_A), rel, ok), vec![st(10, ABSENT)]);
        assert_eq!(next(st(12, HELD_A), rel, ok), vec![]);
        assert_eq!(next(st(10, DONE_A), rel, ok), vec![]);
        assert_eq!(next(st(10, DONE_A), rel, Answer::KeyLost).len(), 2);
    }

    #[test]
    fn get_shows_the_record_as_it_is_or_forgotten() {
        assert_eq!(
            next(st(10, DONE_A), Call::Get, Answer::NotFound),
            vec![st(10, ABSENT)]
        );
        let seen = Answer::RecordInProgress { token: 10, fp: A };
        assert_eq!(next(st(10, HELD_A), Call::Get, seen), vec![st(10, HELD_A)]);
        assert_eq!(next(st(12, HELD_A), Call::Get, seen), vec![]);
        let done = Answer::RecordCompleted {
            token: 10,
            fp: A,
            resp: R2,
        };
        assert_eq!(next(st(10, DONE_A), Call::Get, done), vec![]);
    }

    #[test]
    fn an_indeterminate_reserve_grants_an_unseen_token_that_a_later_read_binds() {
        let unseen = State {
            token: Token::Unknown { floor: 11 },
            record: HELD_A,
        };
        let reserve_a = Call::Reserve { fp: A };
        assert_eq!(
            next(st(10, ABSENT), reserve_a, Answer::Unknown),
            vec![unseen]
        );
        assert_eq!(
            next(st(10, HELD_A), reserve_a, Answer::Unknown),
            vec![unseen]
        );
        assert_eq!(
            next(st(10, DONE_A), reserve_a, Answer::Unknown),
            vec![unseen]
        );
        let seen = |token| Answer::RecordInProgress { token, fp: A };
        assert_eq!(next(unseen, Call::Get, seen(11)), vec![st(11, HELD_A)]);
        assert_eq!(
            next(unseen, Call::Get, seen(12)),
            vec![],
            "12 is an acked grant"
        );
        assert_eq!(next(unseen, Call::Get, seen(10)), vec![]);
        let later = Answer::Reserved {
            token: 12,
            takeover: true,
        };
        assert_eq!(next(unseen, reserve_a, later), vec![st(12, HELD_A)]);
    }

    #[test]
    fn indeterminate_complete_and_release_act_only_for_the_holder() {
        let c = Call::Complete {
            token: 10,
            resp: R1,
        };
        assert_eq!(
            next(st(10, HELD_A), c, Answer::Unknown),
            vec![st(10, DONE_A)]
        );
        assert_eq!(next(st(12, HELD_A), c, Answer::Unknown), vec![]);
        let r = Call::Release { token: 10 };
        assert_eq!(
            next(st(10, HELD_A), r, Answer::Unknown),
            vec![st(10, ABSENT)]
        );
        assert_eq!(next(st(10, DONE_A), r, Answer::Unknown), vec![]);
    }
}
