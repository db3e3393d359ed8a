//! Making the harness's API keys once the cluster is first ready: node 1's
//! bootstrap admin key, and a client key made with it (kept in
//! [`crate::client_keys`]).

use std::path::Path;
use std::time::Duration;

use crate::client_keys::ApiKeys;
use crate::error::HarnessError;
use crate::http::Connection;
use crate::nodes::Nodes;

/// Waits for the admin key in `data` (node 1's data directory) to work on
/// `node`, then makes a client key of every namespace with it.
pub async fn bootstrap(node: u32, data: &Path, within: Duration) -> Result<(), HarnessError> {
    let deadline = tokio::time::Instant::now() + within;
    let file = data.join("admin.key");
    let admin = loop {
        if let Ok(text) = std::fs::read_to_string(&file) {
            let key = text.trim().to_string();
            let mut conn = Connection::new(Nodes::http_addr(node), Duration::from_secs(2))
                .with_key(Some(key.clone()));
            if let Ok(r) = conn.send(hyper::Method::GET, "/v1/auth/keys", None).await {
                if r.status == 200 {
                    break key;
                }
            }
        }
        if tokio::time::Instant::now() > deadline {
            return Err(HarnessError::NotReady(format!(
                "the admin key in {} did not work within {within:?}",
                file.display()
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let body = serde_json::json!({"name": "jepsen", "role": "client", "namespaces": ["*"]});
    let mut conn = Connection::new(Nodes::http_addr(node), Duration::from_secs(5))
        .with_key(Some(admin.clone()));
    let reply = conn
        .send(
            hyper::Method::POST,
            "/v1/auth/keys",
            Some(body.to_string().into_bytes()),
        )
        .await
        .map_err(|e| HarnessError::NotReady(format!("creating the client key: {e:?}")))?;
    let created: serde_json::Value = serde_json::from_slice(&reply.body).unwrap_or_default();
    let Some(client) = created["key"].as_str().filter(|_| reply.status == 201) else {
        return Err(HarnessError::NotReady(format!(
            "creating the client key: HTTP {} {created}",
            reply.status
        )));
    };
    crate::client_keys::set(ApiKeys {
        admin,
        client: client.to_string(),
    });
    Ok(())
}
