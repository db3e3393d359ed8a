//! Reserves that wait for an in-flight result, and reserves resumed by
//! their attempt after the reply was lost: on every node, across a leader
//! change, and never with a wrong answer.

use std::time::Duration;

use idem_core::{Command, Outcome, Release, ReserveOutcome};

use crate::support::*;

const OWNER: &str = "owner-attempt-000000000000";

fn replayed(o: &Outcome) -> Option<idem_core::FencingToken> {
    match o {
        Outcome::Reserve(ReserveOutcome::Completed { token, .. }) => Some(*token),
        _ => None,
    }
}

/// Starts a waiting reserve of `name` on every node; returns once each
/// node holds it.
async fn wait_on_every_node(
    c: &TestCluster,
    name: &str,
    wait: Duration,
) -> Vec<(
    u64,
    tokio::task::JoinHandle<Result<Outcome, idem_cluster::ClusterError>>,
)> {
    let mut waiters = Vec::new();
    for (id, n) in &c.nodes {
        let node = n.node.clone();
        let cmd = reserve_cmd(name, 30_000);
        waiters.push((
            *id,
            tokio::spawn(async move { node.reserve_waiting(cmd, None, wait).await }),
        ));
    }
    for (id, n) in &c.nodes {
        let node = n.node.clone();
        eventually(
            Duration::from_secs(5),
            &format!("node {id} holds a waiter"),
            || {
                let node = node.clone();
                async move { node.waiting_reserves() >= 1 }
            },
        )
        .await;
    }
    waiters
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiters_on_every_node_get_the_replay_once_the_owner_completes() {
    let c = TestCluster::start(3, |_| {}).await;
    let leader = c.leader().await;
    let token =
        granted(&c.execute(leader, reserve("order-1", 30_000)).await.unwrap()).expect("granted");
    let waiters = wait_on_every_node(&c, "order-1", Duration::from_secs(20)).await;
    c.execute(leader, complete("order-1", token, "shipped"))
        .await
        .expect("complete");
    for (id, waiter) in waiters {
        let answer = tokio::time::timeout(Duration::from_secs(10), waiter)
            .await
            .expect("answered well before its wait ran out")
            .unwrap()
            .expect("answered");
        assert_eq!(replayed(&answer), Some(token), "node {id}: {answer:?}");
    }
    for n in c.nodes.values() {
        assert_eq!(n.node.waiting_reserves(), 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_grants_the_key_to_exactly_one_waiter() {
    let c = TestCluster::start(3, |_| {}).await;
    let leader = c.leader().await;
    let token =
        granted(&c.execute(leader, reserve("order-2", 30_000)).await.unwrap()).expect("granted");
    let waiters = wait_on_every_node(&c, "order-2", Duration::from_secs(3)).await;
    let released = c
        .execute(
            leader,
            Command::Release(Release {
                id: key("order-2"),
                token,
                not_committed: false,
            }),
        )
        .await
        .expect("release");
    assert!(matches!(released, Outcome::Release(_)), "{released:?}");
    let mut grants = Vec::new();
    for (id, waiter) in waiters {
        match waiter.await.unwrap().expect("answered") {
            Outcome::Reserve(ReserveOutcome::Reserved {
                token: t, takeover, ..
            }) => {
                assert!(!takeover, "node {id}: a released key is granted fresh");
                assert!(t > token);
                grants.push(t);
            }
            // The others wait out their three seconds against the new owner.
            Outcome::Reserve(ReserveOutcome::InProgress { .. }) => {}
            other => panic!("node {id}: {other:?}"),
        }
    }
    assert_eq!(grants.len(), 1, "one new owner: {grants:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiter_gets_the_key_when_the_lease_runs_out_and_a_short_wait_gets_409() {
    let c = TestCluster::start(3, |_| {}).await;
    let leader = c.leader().await;
    let follower = c.others(leader)[0];
    let reserved_at = tokio::time::Instant::now();
    let token =
        granted(&c.execute(leader, reserve("order-3", 1_000)).await.unwrap()).expect("granted");
    let short = c
        .node(follower)
        .reserve_waiting(
            reserve_cmd("order-3", 1_000),
            None,
            Duration::from_millis(200),
        )
        .await
        .expect("answered");
    assert!(
        matches!(short, Outcome::Reserve(ReserveOutcome::InProgress { .. })),
        "{short:?}"
    );
    let long = c
        .node(follower)
        .reserve_waiting(reserve_cmd("order-3", 1_000), None, Duration::from_secs(10))
        .await
        .expect("answered");
    let held = reserved_at.elapsed();
    match long {
        Outcome::Reserve(ReserveOutcome::Reserved {
            token: t, takeover, ..
        }) => {
            assert!(takeover && t > token, "{long:?}");
            assert!(held >= Duration::from_millis(1_000), "{held:?}");
            assert!(held < Duration::from_secs(5), "woken when due: {held:?}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiters_across_a_leader_change_get_the_replay_or_an_error_never_a_grant() {
    let c = TestCluster::start(3, |_| {}).await;
    let old = c.leader().await;
    let token =
        granted(&c.execute(old, reserve("order-4", 30_000)).await.unwrap()).expect("granted");
    let waiters = wait_on_every_node(&c, "order-4", Duration::from_secs(15)).await;
    c.net.isolate(old);
    let rest = c.others(old);
    let new = c.leader_among(&rest).await;
    assert_ne!(new, old);
    // The owner still holds its lease: it completes through the new leader.
    let mut completed = false;
    for _ in 0..50 {
        if c.execute(new, complete("order-4", token, "shipped"))
            .await
            .is_ok()
        {
            completed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(completed, "the new leader took the completion");
    for (id, waiter) in waiters {
        let answer = waiter.await.unwrap();
        match &answer {
            Ok(o) if replayed(o) == Some(token) => {}
            // The isolated old leader cannot confirm anything: it may say
            // so, or (once its wait is up) still report the key in progress.
            Err(_) | Ok(Outcome::Reserve(ReserveOutcome::InProgress { .. })) if id == old => {}
            other => panic!("node {id}: {other:?}"),
        }
    }
    c.net.heal();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reserve_whose_reply_was_lost_is_resumed_by_its_retry() {
    let c = TestCluster::start(3, |_| {}).await;
    let leader = c.leader().await;
    let follower = c.others(leader)[0];
    // The follower forwards the reserve; the leader writes it, but its
    // reply takes longer than the follower waits (2 s): the caller gets an
    // error and does not know whether it holds the key.
    c.net.delay(leader, follower, Duration::from_secs(3));
    let first = c
        .execute(
            follower,
            Command::Reserve(reserve_by("order-5", 30_000, OWNER)),
        )
        .await;
    assert!(first.is_err(), "the reply was lost: {first:?}");
    c.net.heal();
    // Another attempt is refused; the same attempt resumes its grant.
    let other = c
        .execute(
            leader,
            Command::Reserve(reserve_by("order-5", 30_000, "someone-else-0000000000000")),
        )
        .await
        .expect("answered");
    assert!(
        matches!(other, Outcome::Reserve(ReserveOutcome::InProgress { .. })),
        "{other:?}"
    );
    let retry = c
        .execute(
            follower,
            Command::Reserve(reserve_by("order-5", 30_000, OWNER)),
        )
        .await
        .expect("answered");
    let Outcome::Reserve(ReserveOutcome::Reserved {
        token,
        resumed: true,
        ..
    }) = retry
    else {
        panic!("not resumed: {retry:?}")
    };
    match c.read(leader, "order-5").await.expect("read") {
        Some(idem_core::Record::InProgress(r)) => assert_eq!(r.token, token),
        other => panic!("{other:?}"),
    }
}
