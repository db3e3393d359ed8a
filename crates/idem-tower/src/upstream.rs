//! How an upstream call can fail, as the guard must know it: whether the
//! request left. (The call itself is an `FnOnce` the guard is handed per
//! request, so it is made at most once.)

/// Why the upstream gave no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamFailure {
    /// The request never reached it (the connection was refused): nothing
    /// ran, a retry is safe.
    #[error("the upstream could not be reached: {0}")]
    NotSent(String),
    /// The request may have reached it (the connection broke, or no answer
    /// could be read): its outcome is unknown.
    #[error("the upstream's answer was lost: {0}")]
    MaybeSent(String),
}
