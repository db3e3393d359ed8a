//! The guard's typed errors: a configuration that cannot work, and a
//! request it must refuse (each maps to one problem document in
//! [`crate::problem`]).

/// A configuration that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid idempotency configuration: {0}")]
pub struct ConfigError(pub String);

/// Why a guarded request is refused before anything is reserved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestRefused {
    #[error("the request has no {header} header, which this service requires")]
    KeyMissing { header: String },
    #[error("the {header} header is not a structured-field string or token: {why}")]
    KeyInvalid { header: String, why: String },
    #[error("the request has no {header} header, which names the caller here")]
    IdentityMissing { header: String },
    #[error("the request body is larger than {max} bytes")]
    BodyTooLarge { max: usize },
    #[error("the request body could not be read: {0}")]
    BodyUnreadable(String),
}
