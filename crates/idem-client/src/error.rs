//! What can go wrong, typed: a problem document the cluster answered, a
//! transport failure, a lost lease.

use idem_core::FencingToken;
use serde_json::Value;

/// The kinds of problem the API answers (`type` after
/// `urn:idem:problem:`; see `docs/API.md`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProblemType {
    /// 503: certainly not applied; any retry is safe.
    NotApplied,
    /// 503: may have been applied; retry only with the same meaning.
    OutcomeUnknown,
    /// 503: the node cannot serve yet.
    NotReady,
    /// 409: the token no longer owns the key.
    KeyLost,
    /// 409: completed before with a different response.
    ConflictingCompletion,
    /// 409: the reservation is committing; release needs `not_committed`.
    ReleaseOfCommitting,
    /// 422: the key is bound to another request.
    FingerprintMismatch,
    /// 422: the namespace takes minted keys only.
    KeyNotMinted,
    /// 404: no record.
    KeyNotFound,
    /// Any other type (400s for bad input, 413, 415, 500, ...).
    Other(String),
}

impl ProblemType {
    fn parse(urn: &str) -> ProblemType {
        match urn.strip_prefix("urn:idem:problem:").unwrap_or(urn) {
            "not-applied" => ProblemType::NotApplied,
            "outcome-unknown" => ProblemType::OutcomeUnknown,
            "not-ready" => ProblemType::NotReady,
            "key-lost" => ProblemType::KeyLost,
            "conflicting-completion" => ProblemType::ConflictingCompletion,
            "release-of-committing" => ProblemType::ReleaseOfCommitting,
            "fingerprint-mismatch" => ProblemType::FingerprintMismatch,
            "key-not-minted" => ProblemType::KeyNotMinted,
            "key-not-found" => ProblemType::KeyNotFound,
            other => ProblemType::Other(other.to_owned()),
        }
    }
}

/// A problem+json document, as the cluster sent it.
#[derive(Debug, Clone)]
pub struct Problem {
    pub status: u16,
    pub kind: ProblemType,
    pub title: String,
    pub detail: String,
    /// The whole document, extension members included.
    pub document: Value,
}

impl Problem {
    /// Parses a reply body; a body that is not a problem document becomes
    /// an `Other` problem carrying it.
    pub(crate) fn from_reply(status: u16, body: &Value) -> Problem {
        let text = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        Problem {
            status,
            kind: ProblemType::parse(&text("type")),
            title: text("title"),
            detail: if text("detail").is_empty() {
                body.to_string()
            } else {
                text("detail")
            },
            document: body.clone(),
        }
    }

    /// An extension member that is a number (`token`, `current_token`, ...).
    pub fn number(&self, member: &str) -> Option<u64> {
        self.document.get(member).and_then(Value::as_u64)
    }

    /// Whether the request certainly changed nothing (so any retry is safe).
    pub fn certainly_not_applied(&self) -> bool {
        matches!(self.kind, ProblemType::NotApplied | ProblemType::NotReady)
    }
}

/// Why a lease no longer lets its holder commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseLost {
    /// A later grant (a takeover) owns the key.
    Superseded { current: FencingToken },
    /// The key is completed (perhaps by this lease, on an earlier try).
    Completed { by: FencingToken },
    /// The key has no reservation any more (released, or forgotten).
    Absent,
    /// No heartbeat could be confirmed before the lease would have run out:
    /// the holder must assume it lost the key.
    Unconfirmed,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    /// The cluster answered with a problem document.
    #[error("{} ({:?}): {}", .0.status, .0.kind, .0.detail)]
    Problem(Problem),
    /// No node could be reached (or none answered in time) while a retry
    /// was still safe; `applied_maybe` says whether the last try may have
    /// gone through.
    #[error("no node answered: {reason}")]
    Unreachable { reason: String, applied_maybe: bool },
    /// The lease was lost: do not commit the side effect.
    #[error("the lease was lost: {0:?}")]
    LeaseLost(LeaseLost),
    /// The reservation is marked committing: release it only by asserting
    /// that the side effect did not run, otherwise complete it.
    #[error("the lease is committing: complete it, or release it asserting it did not commit")]
    Committing,
    /// The cluster answered something this client does not understand.
    #[error("unexpected reply {status}: {body}")]
    UnexpectedReply { status: u16, body: String },
    /// A list of nodes or an option that cannot work.
    #[error("{0}")]
    Config(String),
}

impl ClientError {
    /// The problem document, if the cluster answered one.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            ClientError::Problem(p) => Some(p),
            _ => None,
        }
    }

    /// A 409 `key-lost` as the reason the lease was lost.
    pub(crate) fn into_lease_lost(self) -> ClientError {
        match &self {
            ClientError::Problem(p) if p.kind == ProblemType::KeyLost => {
                let why = match p.document.get("reason").and_then(Value::as_str) {
                    Some("superseded") => LeaseLost::Superseded {
                        current: FencingToken(p.number("current_token").unwrap_or(0)),
                    },
                    Some("completed") => LeaseLost::Completed {
                        by: FencingToken(p.number("completed_by_token").unwrap_or(0)),
                    },
                    _ => LeaseLost::Absent,
                };
                ClientError::LeaseLost(why)
            }
            _ => self,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn problem_documents_are_typed() {
        let p = Problem::from_reply(
            409,
            &json!({"type":"urn:idem:problem:key-lost","title":"t","status":409,
                    "detail":"token 3 was superseded","reason":"superseded","token":3,"current_token":9}),
        );
        assert_eq!(p.kind, ProblemType::KeyLost);
        assert_eq!(
            ClientError::Problem(p).into_lease_lost().to_string(),
            ClientError::LeaseLost(LeaseLost::Superseded {
                current: FencingToken(9)
            })
            .to_string()
        );
        let p = Problem::from_reply(503, &json!({"type":"urn:idem:problem:not-applied"}));
        assert!(p.certainly_not_applied());
        let p = Problem::from_reply(503, &json!({"type":"urn:idem:problem:outcome-unknown"}));
        assert!(!p.certainly_not_applied());
        let p = Problem::from_reply(400, &json!("not a problem"));
        assert!(matches!(p.kind, ProblemType::Other(_)));
    }
}
