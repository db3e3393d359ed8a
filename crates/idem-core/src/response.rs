//! The response a completed side effect produced, stored for replay.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::InvalidInput;

/// What the client's own service answered the first time: replayed byte for
/// byte to every retry until the key's retention ends. Headers are kept in a
/// sorted map so that equal responses serialise identically.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "UncheckedResponse")]
pub struct StoredResponse {
    status: u16,
    headers: BTreeMap<String, String>,
    body: String,
}

/// The wire shape of a response before its rules are checked.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UncheckedResponse {
    pub status: u16,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub body: String,
}

impl StoredResponse {
    pub const MAX_HEADERS: usize = 64;

    pub fn new(
        status: u16,
        headers: BTreeMap<String, String>,
        body: impl Into<String>,
    ) -> Result<Self, InvalidInput> {
        if !(100..=599).contains(&status) {
            return Err(InvalidInput::ResponseStatus(status));
        }
        if headers.len() > Self::MAX_HEADERS {
            return Err(InvalidInput::TooManyHeaders {
                got: headers.len(),
                max: Self::MAX_HEADERS,
            });
        }
        for (name, value) in &headers {
            if name.is_empty() || !name.bytes().all(is_header_name_byte) {
                return Err(InvalidInput::HeaderName(name.clone()));
            }
            if value.chars().any(|c| c.is_control() && c != '\t') {
                return Err(InvalidInput::HeaderValue(name.clone()));
            }
        }
        Ok(StoredResponse {
            status,
            headers,
            body: body.into(),
        })
    }

    pub fn status(&self) -> u16 {
        self.status
    }

    pub fn headers(&self) -> &BTreeMap<String, String> {
        &self.headers
    }

    pub fn body(&self) -> &str {
        &self.body
    }

    /// Bytes this response occupies, for size limits at the edge.
    pub fn approximate_size(&self) -> usize {
        self.body.len()
            + self
                .headers
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>()
    }
}

impl TryFrom<UncheckedResponse> for StoredResponse {
    type Error = InvalidInput;
    fn try_from(r: UncheckedResponse) -> Result<Self, Self::Error> {
        StoredResponse::new(r.status, r.headers, r.body)
    }
}

/// RFC 9110 `token` characters.
fn is_header_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}
