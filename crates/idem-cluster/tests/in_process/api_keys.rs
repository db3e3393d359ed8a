//! API keys at each operation's linearization point: once a revocation is
//! acknowledged, no node accepts the key again, whether the operation goes
//! through the log (a fresh grant), is answered by a read (a replay, a
//! record read) or was already waiting when the key was revoked.

use std::time::Duration;

use idem_cluster::ClusterError;
use idem_cluster::ReadRequest;
use idem_core::{
    key_hash, ApiKeyCommand, ApiKeyId, ApiKeyOutcome, ApiKeyRecord, AuthSecret, Command,
    NamespaceScope, NotAuthenticated, Outcome, PresentedKey, Role,
};

use crate::support::*;

fn refused(answer: &Result<Outcome, ClusterError>) -> bool {
    matches!(
        answer,
        Ok(Outcome::KeyNotInForce(NotAuthenticated::Revoked))
            | Err(ClusterError::KeyNotInForce(NotAuthenticated::Revoked))
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_a_revocation_is_acknowledged_no_node_accepts_the_key() {
    let c = TestCluster::start(3, |_| {}).await;
    let leader = c.leader().await;
    let secret = AuthSecret::from_bytes([3; 32]);
    let presented = PresentedKey::new(ApiKeyId::from_bytes([1; 8]), [2; 32]);
    let id = presented.id().clone();
    let record = ApiKeyRecord {
        id: id.clone(),
        name: "svc".into(),
        role: Role::Client,
        scope: NamespaceScope::All,
        hash: key_hash(&secret, &presented),
        expires_at_ms: None,
        revoked: false,
    };
    for cmd in [
        ApiKeyCommand::SetSecret(secret),
        ApiKeyCommand::Create(record),
    ] {
        let o = c
            .execute(leader, Command::ApiKey(cmd))
            .await
            .expect("applied");
        assert!(
            matches!(
                o,
                Outcome::ApiKey(ApiKeyOutcome::SecretSet | ApiKeyOutcome::Created { .. })
            ),
            "{o:?}"
        );
    }
    let with_key = |cmd: Command| cmd.made_with(Some(id.clone()));

    // In force: a grant and a completion on each node, made with the key.
    for n in 1..=3 {
        let name = format!("done-{n}");
        let o = c
            .execute(n, with_key(reserve(&name, 30_000)))
            .await
            .expect("reserve");
        let token = granted(&o).expect("granted");
        let o = c
            .execute(n, with_key(complete(&name, token, "ok")))
            .await
            .expect("complete");
        assert!(o.wrote_record(), "{o:?}");
    }
    // A waiter on each node, made with the key, for a key someone else owns.
    let owner = granted(
        &c.execute(leader, reserve("busy", 30_000))
            .await
            .expect("owner"),
    )
    .expect("granted");
    let mut waiters = Vec::new();
    for (n, node) in &c.nodes {
        let node = node.node.clone();
        let by = Some(id.clone());
        waiters.push((
            *n,
            tokio::spawn(async move {
                node.reserve_waiting(reserve_cmd("busy", 30_000), by, Duration::from_secs(20))
                    .await
            }),
        ));
    }
    for (n, node) in &c.nodes {
        let node = node.node.clone();
        eventually(
            Duration::from_secs(5),
            &format!("node {n} holds a waiter"),
            || {
                let node = node.clone();
                async move { node.waiting_reserves() >= 1 }
            },
        )
        .await;
    }

    let o = c
        .execute(leader, Command::ApiKey(ApiKeyCommand::Revoke(id.clone())))
        .await
        .expect("revoked");
    assert_eq!(
        o,
        Outcome::ApiKey(ApiKeyOutcome::Revoked { id: id.clone() })
    );

    // At once, on every node: a fresh grant (through the log), a replay (a
    // read) and a record read are all refused, and nothing was written.
    for n in 1..=3 {
        let fresh = format!("fresh-{n}");
        let answer = c.execute(n, with_key(reserve(&fresh, 30_000))).await;
        assert!(refused(&answer), "node {n}, fresh grant: {answer:?}");
        let answer = c
            .execute(n, with_key(reserve(&format!("done-{n}"), 30_000)))
            .await;
        assert!(refused(&answer), "node {n}, replay: {answer:?}");
        let read = c
            .node(n)
            .read(ReadRequest::Record(key("done-1")), Some(&id))
            .await;
        assert!(
            matches!(
                read,
                Err(ClusterError::KeyNotInForce(NotAuthenticated::Revoked))
            ),
            "node {n}, read: {read:?}"
        );
        assert_eq!(c.read(n, &fresh).await.expect("read"), None, "node {n}");
    }
    // The waiters wake when the owner completes, and are refused too.
    c.execute(leader, complete("busy", owner, "done"))
        .await
        .expect("complete");
    for (n, waiter) in waiters {
        let answer = waiter.await.expect("waiter");
        assert!(refused(&answer), "node {n}, waiter: {answer:?}");
    }
}
