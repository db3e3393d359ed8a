//! Why a piece of input was refused before it could become a command.
//!
//! Every constructor of a validated type returns one of these. The HTTP edge
//! maps them to a 4xx problem+json; nothing here knows about HTTP.

use thiserror::Error;

/// Input that breaks one of the domain's rules. The message is meant for the
/// person who sent the request, so it says what the rule is.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum InvalidInput {
    #[error("key must be 1 to {max} bytes long, got {len}")]
    KeyLength { len: usize, max: usize },
    #[error("key must not contain control characters (found U+{code:04X})")]
    KeyControlCharacter { code: u32 },
    #[error("namespace must be 1 to {max} characters of a-z, 0-9, '-', '_' or '.', starting with a letter or digit")]
    NamespaceSyntax { max: usize },
    #[error("fingerprint must be 1 to {max} bytes long, got {len}")]
    FingerprintLength { len: usize, max: usize },
    #[error("fingerprint must not contain control characters")]
    FingerprintControlCharacter,
    #[error("{what} must be between {min} and {max} milliseconds, got {got}")]
    DurationOutOfRange {
        what: &'static str,
        got: u64,
        min: u64,
        max: u64,
    },
    #[error("response status must be between 100 and 599, got {0}")]
    ResponseStatus(u16),
    #[error("response may carry at most {max} headers, got {got}")]
    TooManyHeaders { got: usize, max: usize },
    #[error("response header name {0:?} is not a valid HTTP header name")]
    HeaderName(String),
    #[error("response header {0:?} has a value with control characters")]
    HeaderValue(String),
    #[error("derive payload is not valid JSON: {0}")]
    DerivePayload(String),
    #[error("derive payload is nested deeper than {max} levels")]
    DerivePayloadTooDeep { max: usize },
    #[error("attempt must be a random id with room for at least {min_bits} bits: 22 or more base64url characters, or 32 or more hex digits (a UUID), at most {max_len} characters")]
    AttemptId { min_bits: usize, max_len: usize },
    #[error("namespace secret must be {expected} bytes, got {got}")]
    SecretLength { got: usize, expected: usize },
    #[error("an API key is idem_, 16 hex digits, _, and 43 base64url characters")]
    ApiKey,
}
