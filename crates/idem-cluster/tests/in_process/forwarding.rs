//! Any node serves any command: a follower carries it to the leader, and
//! commands that arrive together share log entries.

use std::collections::BTreeSet;

use idem_core::{CompleteOutcome, Outcome, Record, ReserveOutcome};

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_carries_commands_to_the_leader_and_every_node_reads_the_result() {
    let c = TestCluster::start(3, |_| {}).await;
    let leader = c.leader().await;
    let [a, b] = c.others(leader)[..] else {
        panic!("three nodes")
    };

    let first = c
        .execute(a, reserve("order-1", 30_000))
        .await
        .expect("reserve");
    let token = granted(&first).expect("the first reserve is granted");
    let retry = c
        .execute(b, reserve("order-1", 30_000))
        .await
        .expect("retry");
    assert!(
        matches!(retry, Outcome::Reserve(ReserveOutcome::InProgress { .. })),
        "a retry through another follower finds the key in progress: {retry:?}"
    );
    let done = c
        .execute(b, complete("order-1", token, "paid"))
        .await
        .expect("complete");
    assert!(
        matches!(done, Outcome::Complete(CompleteOutcome::Completed { .. })),
        "{done:?}"
    );
    for id in [leader, a, b] {
        match c.read(id, "order-1").await.expect("read") {
            Some(Record::Completed(done)) => assert_eq!(done.token, token, "node {id}"),
            other => panic!("node {id} reads {other:?}"),
        }
    }
    assert!(
        c.net.delivered("forward") >= 1,
        "the commands went through forwarding"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commands_share_log_entries_and_each_gets_its_own_grant() {
    let c = TestCluster::start(3, |_| {}).await;
    let leader = c.leader().await;
    let before = c.node(leader).status().last_log_index.expect("log");
    let nodes: Vec<_> = c.nodes.keys().copied().collect();
    // One follower's forwards arrive late, after commands sent after them.
    let slow = c.others(leader)[0];
    c.net
        .delay(slow, leader, std::time::Duration::from_millis(20));
    let calls: Vec<_> = (0..240)
        .map(|i| {
            let node = c.node(nodes[i % nodes.len()]).clone();
            tokio::spawn(async move { node.execute(reserve(&format!("k{i}"), 30_000)).await })
        })
        .collect();
    let mut tokens = BTreeSet::new();
    for call in calls {
        let outcome = call.await.expect("task").expect("reserve");
        let token = granted(&outcome).expect("every fresh key is granted");
        assert!(tokens.insert(token), "token {token:?} granted twice");
    }
    let entries = c.node(leader).status().last_log_index.expect("log") - before;
    assert!(
        entries < 120,
        "240 concurrent reserves took {entries} log entries; they should share"
    );
}
