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
use super::state::{Marks, Record, State, Token};
use super::symbols::{Sym, NO_ATTEMPT};
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
        R::InProgress { fp, .. } => bind(token, R::Completed { fp, resp }),
        _ => None,
    };
    // release(token) freeing the key; refused to a committing owner that
    // does not assert it did not commit
    let free = |token: u64, not_committed: bool| match s.record {
        R::InProgress { fp, marks, .. } if !marks.owner || not_committed => {
            let left = if marks.earlier {
                R::Released { fp }
            } else {
                R::Absent
            };
            bind(token, left)
        }
        _ => None,
    };
    let unless_held_by = |token: u64| match s.record {
        R::Absent | R::Released { .. } => Some(s),
        R::InProgress { .. } | R::Completed { .. } => s.token.can_differ(token).then_some(s),
    };
    // Whether a reserve by `attempt` with `fp` resumes the reservation.
    let resumes = |fp: Sym, attempt: Sym| {
        matches!(s.record, R::InProgress { fp: f, attempt: a, .. }
            if f == fp && a == attempt && attempt != NO_ATTEMPT)
    };
    // The reservation a grant to `attempt` leaves, and whether it reports
    // earlier committing owners; `None` if the record cannot be granted.
    let granted = |fp: Sym, attempt: Sym| -> Option<(Record, bool, bool)> {
        let fresh = |takeover, earlier| {
            let marks = Marks {
                owner: false,
                earlier,
                takeover,
            };
            Some((R::InProgress { fp, attempt, marks }, takeover, earlier))
        };
        match s.record {
            R::Absent => fresh(false, false),
            R::InProgress { fp: f, marks, .. } if f == fp && !resumes(fp, attempt) => {
                fresh(true, marks.earlier || marks.owner)
            }
            R::Released { fp: f } if f == fp => fresh(true, true),
            _ => None,
        }
    };
    match (op.call, op.answer) {
        (C::Reserve { fp, attempt }, A::Unknown) => {
            // A resume changes nothing the model holds: the same as leaving
            // the operation out, which the search also tries. (Taking it
            // as a step of its own would double the configurations for
            // every such operation still open.)
            if resumes(fp, attempt) {
                return None;
            }
            granted(fp, attempt).map(|(record, _, _)| State {
                token: s.token.next_unseen(),
                record,
            })
        }
        (
            C::Reserve { fp, attempt },
            A::Reserved {
                token,
                takeover,
                resumed: true,
                previous,
            },
        ) => match s.record {
            R::InProgress { marks, .. }
                if resumes(fp, attempt)
                    && marks.takeover == takeover
                    && marks.earlier == previous =>
            {
                bind(token, s.record)
            }
            _ => None,
        },
        (
            C::Reserve { fp, attempt },
            A::Reserved {
                token,
                takeover,
                resumed: false,
                previous,
            },
        ) => {
            let (record, t, p) = granted(fp, attempt)?;
            (t == takeover && p == previous && s.token.precedes(token)).then_some(State {
                token: Token::Known(token),
                record,
            })
        }
        (C::Reserve { fp, .. }, A::Replayed { token, resp }) => match s.record {
            R::Completed { fp: f, resp: r } if f == fp && r == resp => bind(token, s.record),
            _ => None,
        },
        (C::Reserve { fp, attempt }, A::InProgress) => (matches!(
            s.record,
            R::InProgress { fp: f, .. } if f == fp
        ) && !resumes(fp, attempt))
        .then_some(s),
        (C::Reserve { fp, .. }, A::FingerprintMismatch) => matches!(
            s.record,
            R::InProgress { fp: f, .. } | R::Completed { fp: f, .. } | R::Released { fp: f }
                if f != fp
        )
        .then_some(s),
        (C::Heartbeat { token, committing }, A::Extended { token: t }) if t == token => {
            match s.record {
                R::InProgress {
                    fp,
                    attempt,
                    mut marks,
                } => {
                    marks.owner |= committing;
                    bind(token, R::InProgress { fp, attempt, marks })
                }
                _ => None,
            }
        }
        // An unanswered committing heartbeat that took effect.
        (
            C::Heartbeat {
                token,
                committing: true,
            },
            A::Unknown,
        ) => match s.record {
            // Already marked: no change (left out instead, as above).
            R::InProgress {
                fp,
                attempt,
                mut marks,
            } if !marks.owner => {
                marks.owner = true;
                bind(token, R::InProgress { fp, attempt, marks })
            }
            _ => None,
        },
        (C::Heartbeat { token, .. }, A::KeyLost) | (C::Release { token, .. }, A::KeyLost) => {
            match s.record {
                R::InProgress { .. } => s.token.can_differ(token).then_some(s),
                R::Absent | R::Completed { .. } | R::Released { .. } => Some(s),
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
        (
            C::Release {
                token,
                not_committed,
            },
            A::Unknown,
        ) => free(token, not_committed),
        (
            C::Release {
                token,
                not_committed,
            },
            A::Released { token: t },
        ) if t == token => free(token, not_committed),
        (
            C::Release {
                token,
                not_committed: false,
            },
            A::ReleaseRefused { token: t },
        ) if t == token => match s.record {
            R::InProgress { marks, .. } if marks.owner => bind(token, s.record),
            _ => None,
        },
        (C::Get, A::NotFound) => (s.record == R::Absent).then_some(s),
        (C::Get, A::RecordInProgress { token, fp }) => match s.record {
            R::InProgress { fp: f, .. } if f == fp => bind(token, s.record),
            _ => None,
        },
        (C::Get, A::RecordReleased { token, fp }) => match s.record {
            R::Released { fp: f } if f == fp => bind(token, s.record),
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
    use crate::model::state::Marks;
    use crate::model::symbols::NO_ATTEMPT;

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
    const TAKEN_A: Record = Record::InProgress {
        fp: A,
        attempt: NO_ATTEMPT,
        marks: Marks {
            owner: false,
            earlier: false,
            takeover: true,
        },
    };
    const X: Sym = 7;

    fn held(attempt: Sym, owner: bool, earlier: bool) -> Record {
        Record::InProgress {
            fp: A,
            attempt,
            marks: Marks {
                owner,
                earlier,
                takeover: earlier,
            },
        }
    }

    fn reserved(token: u64, takeover: bool, resumed: bool, previous: bool) -> Answer {
        Answer::Reserved {
            token,
            takeover,
            resumed,
            previous,
        }
    }

    #[test]
    fn only_the_owners_attempt_resumes_and_it_keeps_the_token() {
        let by_x = Call::Reserve { fp: A, attempt: X };
        let mine = st(10, held(X, false, false));
        assert_eq!(
            next(mine, by_x, reserved(10, false, true, false)),
            vec![mine]
        );
        // Its own attempt is never told in_progress, nor granted anew.
        assert_eq!(next(mine, by_x, Answer::InProgress), vec![]);
        assert_eq!(next(mine, by_x, reserved(12, true, false, false)), vec![]);
        // Another attempt (or none) cannot resume it.
        let theirs = st(10, held(NO_ATTEMPT, false, false));
        assert_eq!(next(theirs, by_x, reserved(10, false, true, false)), vec![]);
        // Nor can the same attempt with another request.
        let by_x_b = Call::Reserve { fp: B, attempt: X };
        assert_eq!(next(mine, by_x_b, reserved(10, false, true, false)), vec![]);
    }

    #[test]
    fn a_takeover_reports_committing_owners_until_the_key_completes() {
        let hb = Call::Heartbeat {
            token: 10,
            committing: true,
        };
        let marked = next(
            st(10, held(NO_ATTEMPT, false, false)),
            hb,
            Answer::Extended { token: 10 },
        );
        assert_eq!(marked, vec![st(10, held(NO_ATTEMPT, true, false))]);
        let reserve_a = Call::Reserve {
            fp: A,
            attempt: NO_ATTEMPT,
        };
        let from = st(10, held(NO_ATTEMPT, true, false));
        // Must say so; forgotten first, it cannot.
        assert_eq!(
            next(from, reserve_a, reserved(12, true, false, true)),
            vec![st(12, held(NO_ATTEMPT, false, true))]
        );
        assert_eq!(
            next(from, reserve_a, reserved(12, true, false, false)),
            vec![]
        );
        // A second takeover still reports the first owner.
        let second = st(12, held(NO_ATTEMPT, false, true));
        assert_eq!(
            next(second, reserve_a, reserved(14, true, false, true)),
            vec![st(14, held(NO_ATTEMPT, false, true))]
        );
        assert_eq!(
            next(second, reserve_a, reserved(14, true, false, false)),
            vec![]
        );
    }

    #[test]
    fn a_committing_owner_releases_only_asserting_and_history_survives_a_release() {
        let rel = |not_committed| Call::Release {
            token: 10,
            not_committed,
        };
        let marked = st(10, held(NO_ATTEMPT, true, false));
        assert_eq!(
            next(marked, rel(false), Answer::ReleaseRefused { token: 10 }),
            vec![marked]
        );
        assert_eq!(
            next(marked, rel(false), Answer::Released { token: 10 }),
            vec![]
        );
        assert_eq!(
            next(marked, rel(true), Answer::Released { token: 10 }),
            vec![st(10, ABSENT)]
        );
        // Earlier owners' marks stay in a released record.
        let inherited = st(10, held(NO_ATTEMPT, false, true));
        let released = st(10, Record::Released { fp: A });
        assert_eq!(
            next(inherited, rel(false), Answer::Released { token: 10 }),
            vec![released]
        );
        let reserve_a = Call::Reserve {
            fp: A,
            attempt: NO_ATTEMPT,
        };
        assert_eq!(
            next(released, reserve_a, reserved(12, true, false, true)),
            vec![st(12, held(NO_ATTEMPT, false, true))]
        );
        assert_eq!(
            next(
                released,
                Call::Reserve {
                    fp: B,
                    attempt: NO_ATTEMPT
                },
                Answer::FingerprintMismatch
            ),
            vec![released]
        );
    }

    const HELD_A: Record = Record::InProgress {
        fp: A,
        attempt: NO_ATTEMPT,
        marks: Marks {
            owner: false,
            earlier: false,
            takeover: false,
        },
    };
    const DONE_A: Record = Record::Completed { fp: A, resp: R1 };

    #[test]
    fn reserve_grants_a_larger_token_from_absent_and_takes_over_only_the_same_fingerprint() {
        let grant = |takeover| Answer::Reserved {
            token: 12,
            takeover,
            resumed: false,
            previous: false,
        };
        let reserve_a = Call::Reserve {
            fp: A,
            attempt: NO_ATTEMPT,
        };
        assert_eq!(
            next(st(10, ABSENT), reserve_a, grant(false)),
            vec![st(12, HELD_A)]
        );
        assert_eq!(next(st(12, ABSENT), reserve_a, grant(false)), vec![]);
        assert_eq!(
            next(st(10, HELD_A), reserve_a, grant(true)),
            vec![st(12, TAKEN_A)]
        );
        assert_eq!(next(st(10, ABSENT), reserve_a, grant(true)), vec![]);
        let held_b = Record::InProgress {
            fp: B,
            attempt: NO_ATTEMPT,
            marks: Marks {
                owner: false,
                earlier: false,
                takeover: false,
            },
        };
        assert_eq!(next(st(10, held_b), reserve_a, grant(true)), vec![]);
        // a live record may have been forgotten (abandoned) before the grant
        assert_eq!(
            next(st(10, held_b), reserve_a, grant(false)),
            vec![st(12, HELD_A)]
        );
    }

    #[test]
    fn reserve_answers_on_an_existing_record() {
        let (a, b) = (
            Call::Reserve {
                fp: A,
                attempt: NO_ATTEMPT,
            },
            Call::Reserve {
                fp: B,
                attempt: NO_ATTEMPT,
            },
        );
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
        let hb = Call::Heartbeat {
            token: 10,
            committing: false,
        };
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
        let rel = Call::Release {
            token: 10,
            not_committed: false,
        };
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
        let reserve_a = Call::Reserve {
            fp: A,
            attempt: NO_ATTEMPT,
        };
        assert_eq!(
            next(st(10, ABSENT), reserve_a, Answer::Unknown),
            vec![unseen]
        );
        let unseen_takeover = State {
            record: TAKEN_A,
            ..unseen
        };
        assert_eq!(
            next(st(10, HELD_A), reserve_a, Answer::Unknown),
            vec![unseen_takeover, unseen]
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
            resumed: false,
            previous: false,
        };
        assert_eq!(next(unseen, reserve_a, later), vec![st(12, TAKEN_A)]);
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
        let r = Call::Release {
            token: 10,
            not_committed: false,
        };
        assert_eq!(
            next(st(10, HELD_A), r, Answer::Unknown),
            vec![st(10, ABSENT)]
        );
        assert_eq!(next(st(10, DONE_A), r, Answer::Unknown), vec![]);
    }
}
