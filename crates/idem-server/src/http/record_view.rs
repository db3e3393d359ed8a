//! A record as `GET /v1/ns/{ns}/keys/{key}` shows it.

use idem_core::{FencingToken, KeyId, Record, Stamp, StoredResponse};
use serde::Serialize;

/// The record of one key, judged at the time of the read. Every field is a
/// fact of the record except `lease_expired` and the `*_remaining_ms`,
/// which are judged at the read's time (both the cluster-time and the
/// monotonic bound).
#[derive(Debug, Clone, Serialize)]
pub struct RecordView {
    pub namespace: String,
    pub key: String,
    #[serde(flatten)]
    pub state: StateView,
}

/// The state-specific part (`"state"` names it).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum StateView {
    /// Minted by the server, not reserved yet.
    Minted {
        minted_at_ms: u64,
        retain_until_ms: u64,
        retain_remaining_ms: u64,
    },
    /// Owned by the holder of `token` under a lease.
    InProgress {
        token: FencingToken,
        fingerprint: Option<String>,
        lease_ms: u64,
        lease_expires_at_ms: u64,
        lease_remaining_ms: u64,
        lease_expired: bool,
        retain_ms: u64,
        minted: bool,
        /// The owner marked the key committing.
        committing: bool,
        /// Every token that marked the key committing since it was first
        /// reserved (kept until it completes), the owner's included.
        committing_tokens: Vec<FencingToken>,
    },
    /// Released while earlier owners had marked it committing: free to
    /// reserve, and the next owner is told about `committing_tokens`.
    Released {
        token: FencingToken,
        fingerprint: Option<String>,
        released_at_ms: u64,
        retain_until_ms: u64,
        retain_remaining_ms: u64,
        committing_tokens: Vec<FencingToken>,
    },
    /// Finished; `response` is replayed to every retry until `retain_until_ms`.
    Completed {
        token: FencingToken,
        fingerprint: Option<String>,
        completed_at_ms: u64,
        retain_until_ms: u64,
        retain_remaining_ms: u64,
        response: StoredResponse,
    },
}

impl RecordView {
    pub fn new(id: &KeyId, record: Record, now: &Stamp) -> Self {
        let state = match record {
            Record::Minted(m) => StateView::Minted {
                minted_at_ms: m.minted_at.hlc.wall_ms,
                retain_until_ms: m.retention().wall_ms(),
                retain_remaining_ms: m.retention().remaining_ms(now),
            },
            Record::InProgress(r) => StateView::InProgress {
                token: r.token,
                fingerprint: r.fingerprint.as_ref().map(|f| f.as_str().to_owned()),
                lease_ms: r.lease_duration.as_ms(),
                lease_expires_at_ms: r.lease().wall_ms(),
                lease_remaining_ms: r.lease().remaining_ms(now),
                lease_expired: r.lease().has_passed(now),
                retain_ms: r.retain.as_ms(),
                minted: r.minted,
                committing: r.owner_committing(),
                committing_tokens: r.committing,
            },
            Record::Released(k) => StateView::Released {
                token: k.token,
                fingerprint: k.fingerprint.as_ref().map(|f| f.as_str().to_owned()),
                released_at_ms: k.released_at.hlc.wall_ms,
                retain_until_ms: k.retention().wall_ms(),
                retain_remaining_ms: k.retention().remaining_ms(now),
                committing_tokens: k.committing,
            },
            Record::Completed(c) => StateView::Completed {
                token: c.token,
                fingerprint: c.fingerprint.as_ref().map(|f| f.as_str().to_owned()),
                completed_at_ms: c.completed_at.hlc.wall_ms,
                retain_until_ms: c.retention().wall_ms(),
                retain_remaining_ms: c.retention().remaining_ms(now),
                response: c.response,
            },
        };
        RecordView {
            namespace: id.namespace.as_str().to_owned(),
            key: id.key.as_str().to_owned(),
            state,
        }
    }
}
