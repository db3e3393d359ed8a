//! The JSON replies of the key routes, as the server writes them.

use idem_core::{FencingToken, StoredResponse};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub(crate) enum ReserveReply {
    Reserved {
        token: FencingToken,
        lease_remaining_ms: u64,
        takeover: bool,
        resumed: bool,
        previous_committing_tokens: Vec<FencingToken>,
    },
    Completed {
        response: StoredResponse,
        token: FencingToken,
    },
    InProgress {
        retry_after_ms: u64,
    },
}

#[derive(Debug, Deserialize)]
pub(crate) struct HeartbeatReply {
    pub lease_remaining_ms: u64,
    pub committing: bool,
}

#[derive(Debug, Deserialize)]
pub(crate) struct CompleteReply {
    pub token: FencingToken,
    pub retain_remaining_ms: u64,
    pub replayed: bool,
}
