//! # idem-client: the async Rust client for idem
//!
//! This crate owns what a service needs to use idem correctly by
//! construction: every route typed (outcomes as enums, problem documents as
//! a typed error), a list of nodes with failover, timeouts and jittered
//! backoff retries *only* where a retry cannot change the meaning, and a
//! [`Lease`] that heartbeats itself and knows at every moment, from this
//! process's monotonic clock, whether it is still confirmed. On top,
//! [`Client::run_once`] runs a closure at most once per key.
//!
//! It must not depend on the server or cluster crates: it speaks the HTTP
//! API (`docs/API.md`) and uses `idem-core` for its value types only.
//!
//! ```no_run
//! # async fn charge(_token: idem_core::FencingToken) -> Result<idem_core::StoredResponse, std::io::Error> { todo!() }
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use idem_client::{Client, ReserveOptions, RunError};
//!
//! let client = Client::new(["http://127.0.0.1:7001", "http://127.0.0.1:7002"])?;
//! let response = client
//!     .run_once(
//!         "payments",
//!         "order-42",
//!         ReserveOptions::new().fingerprint("sha256:9f86d08"),
//!         |lease| async move { charge(lease).await.map_err(RunError::NotRun) },
//!         |_token, _previous| async { Ok::<_, std::io::Error>(None) },
//!     )
//!     .await?;
//! # Ok(()) }
//! ```

mod backoff;
mod client;
mod config;
mod error;
mod key_ops;
mod lease;
mod path;
mod records;
mod replies;
mod reservation;
mod run_once;
mod tls;
mod transport;

pub use client::Client;
pub use config::{ApiKey, ClientConfig};
pub use error::{ClientError, LeaseLost, Problem, ProblemType};
pub use idem_core::{FencingToken, StoredResponse};
pub use key_ops::Heartbeat;
pub use lease::Lease;
pub use records::{ClusterStatus, Completed, KeyRecord, MemberStatus, MintedKey, NamespacePolicy};
pub use reservation::{new_attempt_id, Reservation, ReserveOptions};
pub use run_once::{RunError, RunOnceError};
pub use tls::ClientTls;
