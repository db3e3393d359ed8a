//! A node stopped and started again from its data directory: its shutdown
//! let go of everything (the store opens again in the same process), and
//! once back it never answers a read with a state older than a write that
//! was acknowledged while it was down.

use idem_core::Record;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_follower_never_reads_a_state_older_than_what_it_missed() {
    let mut c = TestCluster::start(3, |_| {}).await;
    let leader = c.leader().await;
    let follower = c.others(leader)[0];
    let before = c
        .execute(leader, reserve("before", 30_000))
        .await
        .expect("reserve");
    granted(&before).expect("granted");

    c.stop(follower).await;
    let missed = c.execute(leader, reserve("missed", 30_000)).await;
    let token = granted(&missed.expect("two of three still write")).expect("granted");
    c.execute(leader, complete("missed", token, "done"))
        .await
        .expect("complete");

    c.restart(follower).await;
    // At once, before it can have caught up: a read waits for the read
    // index, or is refused; it never shows the state from before.
    completed_or_refused(
        &format!("node {follower}, just restarted,"),
        c.read(follower, "missed").await,
    )
    .expect("no stale read after a restart");
    match c.read(follower, "before").await {
        Ok(Some(Record::InProgress(_))) | Err(_) => {}
        other => panic!("node {follower} lost a write it had: {other:?}"),
    }
    // And it serves again: reads there succeed once it knows the leader.
    eventually(
        std::time::Duration::from_secs(10),
        "reads on the restarted node",
        || {
            let node = c.node(follower).clone();
            async move {
                node.read(idem_cluster::ReadRequest::Record(key("missed")))
                    .await
                    .is_ok()
            }
        },
    )
    .await;
}
