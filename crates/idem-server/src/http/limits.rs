//! How much a request may carry, checked before anything reaches the cluster.

use std::time::Duration;

/// Size limits of the HTTP API. A request over a limit gets 413 and changes
/// nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiLimits {
    /// The largest request body accepted, in bytes. It must leave room for a
    /// completion's JSON around the largest stored response (escaping can
    /// grow a body), so it is a little larger than
    /// [`ApiLimits::max_stored_response_bytes`] by default.
    pub max_request_body_bytes: usize,
    /// The largest response a completion may store: its body plus its header
    /// names and values, in bytes, as the client's service produced them.
    pub max_stored_response_bytes: usize,
    /// How long a request body may take to arrive (a client that stalls
    /// mid-body gets 408 instead of holding the connection).
    pub body_read_timeout: Duration,
}

impl ApiLimits {
    /// 30 s for a whole request body.
    pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
    /// How much of a body past the limit is still read (and thrown away)
    /// so that a client that writes its whole body before reading gets its
    /// 413 instead of a reset connection; a larger body is cut off.
    pub const MAX_DRAINED_BYTES: u64 = 16 * 1024 * 1024;

    /// 1 MiB of stored response.
    pub const DEFAULT_MAX_STORED_RESPONSE_BYTES: usize = 1024 * 1024;
    /// 1 MiB plus 256 KiB for the JSON around it.
    pub const DEFAULT_MAX_REQUEST_BODY_BYTES: usize =
        Self::DEFAULT_MAX_STORED_RESPONSE_BYTES + 256 * 1024;
}

impl Default for ApiLimits {
    fn default() -> Self {
        ApiLimits {
            max_request_body_bytes: Self::DEFAULT_MAX_REQUEST_BODY_BYTES,
            max_stored_response_bytes: Self::DEFAULT_MAX_STORED_RESPONSE_BYTES,
            body_read_timeout: Self::DEFAULT_BODY_READ_TIMEOUT,
        }
    }
}
