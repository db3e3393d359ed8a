//! Any HTTP service, with or without `idem proxy` in front: a reserve is a
//! `POST /charges` under a fresh `Idempotency-Key` (the service runs it),
//! a replay repeats one of the populated keys (through the proxy, the stored
//! answer; straight to the service, it runs again). Any 2xx counts.

use super::{excerpt, Reservation};
use crate::http_conn::HttpConnection;
use crate::plan::{Endpoint, Plan};
use crate::stats::{OpResult, Outcome, Reply};

/// The path every request goes to.
pub const PATH: &str = "/charges";

pub struct HttpServiceClient {
    connection: HttpConnection,
    body: Vec<u8>,
}

impl HttpServiceClient {
    pub fn new(endpoint: Endpoint, plan: &Plan) -> HttpServiceClient {
        HttpServiceClient {
            connection: HttpConnection::new(endpoint, plan.timeout).with_tls(plan.tls.clone()),
            body: format!("{{\"amount\":100,\"note\":\"{}\"}}", plan.value).into_bytes(),
        }
    }

    pub async fn reserve(&mut self, key: &str) -> Reservation {
        match self.send(key).await {
            Ok(reply) => Reservation::Granted { token: 0, reply },
            Err(result) => Reservation::Refused(result),
        }
    }

    /// Nothing to do: the request's answer is stored (by the proxy, if
    /// there is one) when it runs. Only populating calls this; the plan
    /// refuses reserve-complete for this target.
    pub fn complete(&self) -> OpResult {
        OpResult::new(Outcome::Ok, Reply::Http(200))
    }

    pub async fn replay(&mut self, key: &str) -> OpResult {
        match self.send(key).await {
            Ok(reply) => OpResult::new(Outcome::Ok, reply),
            Err(result) => result,
        }
    }

    async fn send(&mut self, key: &str) -> Result<Reply, OpResult> {
        let headers = [("idempotency-key", key)];
        match self
            .connection
            .post_json_with(PATH, &headers, self.body.clone())
            .await
        {
            Ok(reply) if (200..300).contains(&reply.status) => Ok(Reply::Http(reply.status)),
            Ok(reply) if reply.status == 409 => {
                Err(OpResult::new(Outcome::Conflict, Reply::Http(409)))
            }
            Ok(reply) => Err(OpResult::unexpected(
                Reply::Http(reply.status),
                excerpt(&reply.body),
            )),
            Err(error) => Err(error.into()),
        }
    }
}
