//! The systems under test, behind one enum: each offers reserve (put if
//! absent), complete (store the value under the reservation) and replay
//! (read a completed key back, linearizably).

pub mod etcd;
pub mod http;
pub mod idem;
pub mod redis;

use crate::args::TargetKind;
use crate::plan::Plan;
use crate::stats::{OpResult, Reply};

/// What reserve got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    /// The key is ours; `token` is what complete must present (idem's fencing
    /// token, etcd's revision, 0 for Redis).
    Granted { token: u64, reply: Reply },
    /// Not granted: a conflict or an error, as it will be counted.
    Refused(OpResult),
}

/// A connection to the system under test.
pub enum TargetClient {
    Idem(idem::IdemClient),
    Etcd(etcd::EtcdClient),
    Redis(redis::RedisClient),
    Http(http::HttpServiceClient),
}

impl TargetClient {
    /// The client for connection number `connection` (it connects lazily).
    pub fn for_connection(plan: &Plan, connection: usize) -> TargetClient {
        let endpoint = plan.endpoint_for(connection).clone();
        match plan.target {
            TargetKind::Idem => TargetClient::Idem(idem::IdemClient::new(endpoint, plan)),
            TargetKind::Etcd => TargetClient::Etcd(etcd::EtcdClient::new(endpoint, plan)),
            TargetKind::Redis => TargetClient::Redis(redis::RedisClient::new(endpoint, plan)),
            TargetKind::Http => TargetClient::Http(http::HttpServiceClient::new(endpoint, plan)),
        }
    }

    pub async fn reserve(&mut self, key: &str) -> Reservation {
        match self {
            TargetClient::Idem(client) => client.reserve(key).await,
            TargetClient::Etcd(client) => client.reserve(key).await,
            TargetClient::Redis(client) => client.reserve(key).await,
            TargetClient::Http(client) => client.reserve(key).await,
        }
    }

    pub async fn complete(&mut self, key: &str, token: u64) -> OpResult {
        match self {
            TargetClient::Idem(client) => client.complete(key, token).await,
            TargetClient::Etcd(client) => client.complete(key).await,
            TargetClient::Redis(client) => client.complete(key).await,
            TargetClient::Http(client) => client.complete(),
        }
    }

    pub async fn replay(&mut self, key: &str) -> OpResult {
        match self {
            TargetClient::Idem(client) => client.replay(key).await,
            TargetClient::Etcd(client) => client.replay(key).await,
            TargetClient::Redis(client) => client.replay(key).await,
            TargetClient::Http(client) => client.replay(key).await,
        }
    }
}

/// The first bytes of a reply body, for error reports.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
    text.trim().to_string()
}
