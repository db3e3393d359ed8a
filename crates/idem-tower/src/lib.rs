//! idem-tower: `Idempotency-Key` handling for any HTTP service, on idem.
//!
//! It owns the guard, the engine that turns one request carrying a key into
//! at most one call of the upstream: the key and fingerprint checks, the
//! reservation (resumable, so a lost reply never strands a key), waiting for
//! a duplicate's answer, marking the reservation committing before the
//! call, the fencing token in a request header, what is stored and
//! replayed, and every outcome it cannot know. It has two faces: the
//! `tower` layer here ([`IdempotencyLayer`], for axum and hyper services)
//! and `idem proxy` (crate `idem-proxy`), a reverse proxy that uses the same
//! [`Guard`]. It reaches idem only through `idem-client`, and must not link
//! the store (no RocksDB) or know anything of the cluster's insides.
//! Behaviour and every choice the IETF draft leaves open: `docs/PROXY.md`.

mod body;
mod config;
mod error;
mod execute;
mod fingerprint;
mod guard;
mod key_header;
mod layer;
mod metrics;
mod problem;
mod respond;
mod scope;
mod stored;
mod upstream;

pub use body::read_body;
pub use config::{FailMode, GuardConfig, StorePolicy};
pub use error::{ConfigError, RequestRefused};
pub use execute::{stores, PREVIOUS_TOKENS_HEADER};
pub use fingerprint::request_fingerprint;
pub use guard::Guard;
pub use key_header::{RequestKey, MAX_KEY_BYTES};
pub use layer::{IdempotencyLayer, IdempotencyService};
pub use metrics::{GuardMetrics, GuardOutcome};
pub use problem::{GuardProblem, PROBLEM_JSON, PROBLEM_TYPE_PREFIX};
pub use respond::REPLAYED_HEADER;
pub use scope::{ScopedKey, IDEM_KEY_MAX};
pub use stored::{UpstreamResponse, BODY_ENCODING_HEADER, TOO_LARGE_HEADER};
pub use upstream::UpstreamFailure;
