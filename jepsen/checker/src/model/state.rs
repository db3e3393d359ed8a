//! A record's state in the model: what it holds, and the largest token the
//! key has had. While the record exists its token *is* that largest token
//! (every grant takes a token larger than any before it and replaces the
//! record), so the record itself stores none.
//!
//! A grant that nobody saw (an indeterminate reserve that the search lets
//! take effect) has a token that is known only to exceed the previous one:
//! [`Token::Unknown`]. A later observation of the record binds it.

use super::symbols::{Sym, Symbols};
use std::collections::HashSet;

/// The largest token the key has had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Token {
    Known(u64),
    /// Some value `>= floor` that is not the token of any acknowledged grant.
    Unknown {
        floor: u64,
    },
}

/// What the record holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Record {
    Absent,
    InProgress {
        fp: Sym,
        /// The attempt the key was granted to (`NO_ATTEMPT`: none).
        attempt: Sym,
        marks: Marks,
    },
    Completed {
        fp: Sym,
        resp: Sym,
    },
    /// Released while earlier owners had marked it committing.
    Released {
        fp: Sym,
    },
}

/// What a reservation knows of committing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Marks {
    /// The owner marked the key committing.
    pub owner: bool,
    /// Earlier owners did (a grant reports `previous_committing`).
    pub earlier: bool,
    /// The grant was a takeover (a resume echoes it).
    pub takeover: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct State {
    pub token: Token,
    pub record: Record,
}

impl State {
    /// A key never used: absent, no token yet (tokens are positive).
    pub const INITIAL: State = State {
        token: Token::Known(0),
        record: Record::Absent,
    };

    /// The same state with the record forgotten (the token is kept).
    pub fn forgotten(self) -> State {
        State {
            record: Record::Absent,
            ..self
        }
    }

    /// The state in words, for reports.
    pub fn describe(&self, symbols: &Symbols) -> String {
        let token = match self.token {
            Token::Known(t) => format!("token {t}"),
            Token::Unknown { floor } => format!("an unseen token >= {floor}"),
        };
        match self.record {
            Record::Absent => format!("absent (largest token so far: {token})"),
            Record::InProgress { fp, marks, .. } => {
                format!(
                    "in progress under {token}, fingerprint {:?}{}{}",
                    symbols.fp_name(fp),
                    if marks.owner {
                        ", owner committing"
                    } else {
                        ""
                    },
                    if marks.earlier {
                        ", earlier owners committing"
                    } else {
                        ""
                    },
                )
            }
            Record::Released { fp } => format!(
                "released by {token} with earlier owners committing, fingerprint {:?}",
                symbols.fp_name(fp)
            ),
            Record::Completed { fp, resp } => {
                let response = symbols.resp_value(resp).map_or_else(
                    || "?".to_string(),
                    |r| format!("{} {:?}", r.status, shorten(&r.body)),
                );
                format!(
                    "completed under {token}, fingerprint {:?}, response {response}",
                    symbols.fp_name(fp)
                )
            }
        }
    }
}

fn shorten(s: &str) -> String {
    const MAX: usize = 60;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        s.chars().take(MAX).chain("...".chars()).collect()
    }
}

impl Token {
    /// The least value the token can have (it never decreases).
    pub fn lowest(self) -> u64 {
        match self {
            Token::Known(k) => k,
            Token::Unknown { floor } => floor,
        }
    }

    /// Whether a grant of token `t` can come after this one (`t` larger).
    pub fn precedes(self, t: u64) -> bool {
        match self {
            Token::Known(k) => t > k,
            Token::Unknown { floor } => t > floor,
        }
    }

    /// The token of a grant nobody saw: larger than this one.
    ///
    /// After an unseen token, another unseen grant keeps the same floor
    /// (strictly it would be one higher). The search may stack any number
    /// of indeterminate grants, and a floor per depth would make each stack
    /// a new state; since tokens are log indices with gaps anyway, knowing
    /// "above the last token seen" loses nothing worth the blow-up.
    pub fn next_unseen(self) -> Token {
        match self {
            Token::Known(k) => Token::Unknown {
                floor: k.saturating_add(1),
            },
            unseen @ Token::Unknown { .. } => unseen,
        }
    }

    /// If this token can be `t`: the token bound to `t`. `acked` holds the
    /// tokens of every acknowledged grant, which an unseen token is not.
    pub fn bind(self, t: u64, acked: &HashSet<u64>) -> Option<Token> {
        let possible = match self {
            Token::Known(k) => k == t,
            Token::Unknown { floor } => t >= floor && !acked.contains(&t),
        };
        possible.then_some(Token::Known(t))
    }

    /// Whether this token can be other than `t`.
    pub fn can_differ(self, t: u64) -> bool {
        match self {
            Token::Known(k) => k != t,
            Token::Unknown { .. } => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unseen_token_binds_to_a_larger_value_that_no_acknowledged_grant_has() {
        let acked: HashSet<u64> = [12].into();
        let u = Token::Known(10).next_unseen();
        assert_eq!(u, Token::Unknown { floor: 11 });
        assert_eq!(u.bind(11, &acked), Some(Token::Known(11)));
        assert_eq!(u.bind(10, &acked), None);
        assert_eq!(u.bind(12, &acked), None);
        assert!(u.can_differ(11));
        assert_eq!(u.lowest(), 11);
        assert!(u.precedes(12));
        assert!(!u.precedes(11));
        assert_eq!(u.next_unseen(), u, "stacked unseen grants share a floor");
    }

    #[test]
    fn a_known_token_binds_only_to_itself() {
        let acked = HashSet::new();
        assert_eq!(Token::Known(5).bind(5, &acked), Some(Token::Known(5)));
        assert_eq!(Token::Known(5).bind(6, &acked), None);
        assert!(!Token::Known(5).can_differ(5));
        assert!(Token::Known(5).precedes(6));
        assert!(!Token::Known(5).precedes(5));
    }
}
