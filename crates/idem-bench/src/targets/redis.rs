//! Redis, one node: reserve is `SET key in_progress NX PX lease`, complete
//! is `SET key value PX retain`, replay is `GET key`.

use super::Reservation;
use crate::error::OpError;
use crate::plan::{Endpoint, Plan};
use crate::resp::{RespConnection, RespValue};
use crate::stats::{OpResult, Outcome, RedisReply, Reply};

/// Every benchmark key lives under this prefix.
pub const KEY_PREFIX: &str = "idem-bench:";
/// How long a completed value is kept: idem's default retention (24 h).
pub const RETAIN_MS: u64 = 86_400_000;

pub struct RedisClient {
    connection: RespConnection,
    lease_ms: String,
    value: String,
}

impl RedisClient {
    pub fn new(endpoint: Endpoint, plan: &Plan) -> RedisClient {
        RedisClient {
            connection: RespConnection::new(endpoint.authority, plan.timeout),
            lease_ms: plan.lease_ms.to_string(),
            value: plan.value.clone(),
        }
    }

    pub async fn reserve(&mut self, key: &str) -> Reservation {
        let key = format!("{KEY_PREFIX}{key}");
        let args: [&[u8]; 6] = [
            b"SET",
            key.as_bytes(),
            b"in_progress",
            b"NX",
            b"PX",
            self.lease_ms.as_bytes(),
        ];
        match self.connection.command(&args).await {
            Ok(RespValue::Simple(s)) if s == "OK" => Reservation::Granted {
                token: 0,
                reply: Reply::Redis(RedisReply::Ok),
            },
            Ok(RespValue::Bulk(None)) => Reservation::Refused(OpResult::new(
                Outcome::Conflict,
                Reply::Redis(RedisReply::Nil),
            )),
            Ok(other) => Reservation::Refused(unexpected(other)),
            Err(error) => Reservation::Refused(error.into()),
        }
    }

    pub async fn complete(&mut self, key: &str) -> OpResult {
        let key = format!("{KEY_PREFIX}{key}");
        let retain = RETAIN_MS.to_string();
        let args: [&[u8]; 5] = [
            b"SET",
            key.as_bytes(),
            self.value.as_bytes(),
            b"PX",
            retain.as_bytes(),
        ];
        match self.connection.command(&args).await {
            Ok(RespValue::Simple(s)) if s == "OK" => {
                OpResult::new(Outcome::Ok, Reply::Redis(RedisReply::Ok))
            }
            Ok(other) => unexpected(other),
            Err(error) => error.into(),
        }
    }

    pub async fn replay(&mut self, key: &str) -> OpResult {
        let key = format!("{KEY_PREFIX}{key}");
        match self.connection.command(&[b"GET", key.as_bytes()]).await {
            Ok(RespValue::Bulk(Some(_))) => {
                OpResult::new(Outcome::Ok, Reply::Redis(RedisReply::Value))
            }
            Ok(RespValue::Bulk(None)) => {
                OpResult::unexpected(Reply::Redis(RedisReply::Nil), "GET found no key")
            }
            Ok(other) => unexpected(other),
            Err(error) => error.into(),
        }
    }
}

fn unexpected(value: RespValue) -> OpResult {
    match value {
        RespValue::Error(message) => OpResult::unexpected(Reply::Redis(RedisReply::Error), message),
        other => OpError::Protocol(format!("unexpected reply {other:?}")).into(),
    }
}
