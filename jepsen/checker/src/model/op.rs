//! An operation as the model sees it: the call and what it answered, with
//! fingerprints and responses interned. An indeterminate operation's answer
//! is [`Answer::Unknown`].

use super::state::Token;
use super::symbols::{Sym, Symbols};
use crate::history::{Outcome, Request};
use crate::ops::Op;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Call {
    Reserve { fp: Sym, attempt: Sym },
    Heartbeat { token: u64, committing: bool },
    Complete { token: u64, resp: Sym },
    Release { token: u64, not_committed: bool },
    Get,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Answer {
    Unknown,
    Reserved {
        token: u64,
        takeover: bool,
        resumed: bool,
        /// `previous_committing` was not empty.
        previous: bool,
    },
    Replayed {
        token: u64,
        resp: Sym,
    },
    InProgress,
    FingerprintMismatch,
    Extended {
        token: u64,
    },
    Completed {
        token: u64,
        replayed: bool,
    },
    Conflicting {
        token: u64,
    },
    KeyLost,
    Released {
        token: u64,
    },
    ReleaseRefused {
        token: u64,
    },
    NotFound,
    RecordInProgress {
        token: u64,
        fp: Sym,
    },
    RecordReleased {
        token: u64,
        fp: Sym,
    },
    RecordCompleted {
        token: u64,
        fp: Sym,
        resp: Sym,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ModelOp {
    pub call: Call,
    pub answer: Answer,
}

impl ModelOp {
    /// The model's view of `op` (which must not have failed: a failed
    /// operation is simply not part of the model's history).
    pub fn of(op: &Op, symbols: &mut Symbols) -> ModelOp {
        let call = match &op.request {
            Request::Reserve {
                fingerprint,
                attempt,
                ..
            } => Call::Reserve {
                fp: symbols.fp(fingerprint),
                attempt: symbols.attempt(attempt.as_deref()),
            },
            Request::Heartbeat {
                token, committing, ..
            } => Call::Heartbeat {
                token: *token,
                committing: *committing,
            },
            Request::Complete { token, response } => Call::Complete {
                token: *token,
                resp: symbols.resp(response),
            },
            Request::Release {
                token,
                not_committed,
            } => Call::Release {
                token: *token,
                not_committed: *not_committed,
            },
            Request::Get => Call::Get,
        };
        let answer = match op.outcome() {
            None => Answer::Unknown,
            Some(o) => answer(o, symbols),
        };
        ModelOp { call, answer }
    }

    /// Whether the operation may change the record if it took effect. An
    /// indeterminate read or plain heartbeat never does, so the search
    /// leaves it out (a committing heartbeat may mark the key).
    pub fn may_write(&self) -> bool {
        self.answer != Answer::Unknown
            || matches!(
                self.call,
                Call::Reserve { .. }
                    | Call::Complete { .. }
                    | Call::Release { .. }
                    | Call::Heartbeat {
                        committing: true,
                        ..
                    }
            )
    }

    /// Whether the operation presents a token below every token the key can
    /// have from now on (tokens only grow), so it can never act again.
    pub fn is_spent(&self, current: Token) -> bool {
        match self.call {
            Call::Heartbeat { token, .. }
            | Call::Complete { token, .. }
            | Call::Release { token, .. } => token < current.lowest(),
            Call::Reserve { .. } | Call::Get => false,
        }
    }

    /// The largest value the key's least possible token
    /// ([`Token::lowest`]) may have for the operation to be answered as it
    /// was: the token it saw (a fresh grant: one below the token it got).
    /// Tokens only grow, so once the key's lowest token is above this, the
    /// operation can never be placed. `None`: its answer names no token.
    pub fn last_token(&self) -> Option<u64> {
        match self.answer {
            Answer::Reserved {
                token,
                resumed: false,
                ..
            } => Some(token.saturating_sub(1)),
            Answer::Reserved { token, .. }
            | Answer::Replayed { token, .. }
            | Answer::Extended { token }
            | Answer::Completed { token, .. }
            | Answer::Conflicting { token }
            | Answer::Released { token }
            | Answer::ReleaseRefused { token }
            | Answer::RecordInProgress { token, .. }
            | Answer::RecordReleased { token, .. }
            | Answer::RecordCompleted { token, .. } => Some(token),
            Answer::Unknown
            | Answer::InProgress
            | Answer::FingerprintMismatch
            | Answer::KeyLost
            | Answer::NotFound => None,
        }
    }

    /// Whether the operation never writes: with its answer, every
    /// transition leaves the record as it is (up to forgetting it, or
    /// binding an unseen token). Indeterminate operations are not reads:
    /// the search may leave them out instead.
    pub fn is_read(&self) -> bool {
        match self.answer {
            Answer::Unknown | Answer::Reserved { .. } | Answer::Released { .. } => false,
            Answer::Completed { replayed, .. } => replayed,
            Answer::Replayed { .. }
            | Answer::InProgress
            | Answer::FingerprintMismatch
            | Answer::Extended { .. }
            | Answer::Conflicting { .. }
            | Answer::KeyLost
            | Answer::ReleaseRefused { .. }
            | Answer::NotFound
            | Answer::RecordInProgress { .. }
            | Answer::RecordReleased { .. }
            | Answer::RecordCompleted { .. } => true,
        }
    }
}

fn answer(o: &Outcome, symbols: &mut Symbols) -> Answer {
    match o {
        Outcome::Reserved {
            token,
            takeover,
            resumed,
            previous_committing,
        } => Answer::Reserved {
            token: *token,
            takeover: *takeover,
            resumed: *resumed,
            previous: !previous_committing.is_empty(),
        },
        Outcome::Replayed { token, response } => Answer::Replayed {
            token: *token,
            resp: symbols.resp(response),
        },
        Outcome::InProgress => Answer::InProgress,
        Outcome::FingerprintMismatch => Answer::FingerprintMismatch,
        Outcome::Extended { token } => Answer::Extended { token: *token },
        Outcome::Completed { token, replayed } => Answer::Completed {
            token: *token,
            replayed: *replayed,
        },
        Outcome::ConflictingCompletion { token } => Answer::Conflicting { token: *token },
        Outcome::KeyLost { .. } => Answer::KeyLost,
        Outcome::Released { token } => Answer::Released { token: *token },
        Outcome::ReleaseRefused { token } => Answer::ReleaseRefused { token: *token },
        Outcome::RecordReleased { token, fingerprint } => Answer::RecordReleased {
            token: *token,
            fp: symbols.fp(fingerprint),
        },
        Outcome::NotFound => Answer::NotFound,
        Outcome::RecordInProgress { token, fingerprint } => Answer::RecordInProgress {
            token: *token,
            fp: symbols.fp(fingerprint),
        },
        Outcome::RecordCompleted {
            token,
            fingerprint,
            response,
        } => Answer::RecordCompleted {
            token: *token,
            fp: symbols.fp(fingerprint),
            resp: symbols.resp(response),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::symbols::NO_ATTEMPT;

    fn op(call: Call, answer: Answer) -> ModelOp {
        ModelOp { call, answer }
    }

    #[test]
    fn an_operation_with_a_token_left_behind_is_spent() {
        let release = op(
            Call::Release {
                token: 10,
                not_committed: false,
            },
            Answer::Unknown,
        );
        assert!(!release.is_spent(Token::Known(10)));
        assert!(release.is_spent(Token::Known(11)));
        assert!(release.is_spent(Token::Unknown { floor: 11 }));
        assert!(!release.is_spent(Token::Unknown { floor: 10 }));
        assert!(!op(
            Call::Reserve {
                fp: 0,
                attempt: NO_ATTEMPT
            },
            Answer::Unknown
        )
        .is_spent(Token::Known(99)));
    }

    #[test]
    fn reads_are_the_answers_that_never_write() {
        let get = |answer| op(Call::Get, answer).is_read();
        assert!(get(Answer::NotFound));
        assert!(!get(Answer::Unknown));
        let complete = |replayed| {
            op(
                Call::Complete { token: 1, resp: 0 },
                Answer::Completed { token: 1, replayed },
            )
            .is_read()
        };
        assert!(complete(true));
        assert!(!complete(false));
        let grant = Answer::Reserved {
            token: 1,
            takeover: false,
            resumed: false,
            previous: false,
        };
        assert!(!op(
            Call::Reserve {
                fp: 0,
                attempt: NO_ATTEMPT
            },
            grant
        )
        .is_read());
        assert!(!op(Call::Get, Answer::Unknown).may_write());
        assert!(op(
            Call::Release {
                token: 1,
                not_committed: false
            },
            Answer::Unknown
        )
        .may_write());
    }
}
