//! A follower serves linearizable reads itself (read index): it asks the
//! leader how far it must have applied, so it never answers with a state
//! older than a write acknowledged before the read began; cut off from the
//! leader, it refuses instead of guessing.

use idem_core::{PlantedBug, Record};

use crate::support::*;

/// A write acknowledged while one follower is cut off from the others, then
/// read on both followers. `Err` says what went wrong.
async fn reads_after_an_acknowledged_write(planted: Option<PlantedBug>) -> Result<(), String> {
    let c = TestCluster::start(3, |config| config.planted_bug = planted).await;
    let leader = c.leader().await;
    let [near, far] = c.others(leader)[..] else {
        panic!("three nodes")
    };
    c.net.partition(&[&[leader, near], &[far]]);

    let reserved = c.execute(leader, reserve("order-7", 30_000)).await;
    let token = granted(&reserved.expect("reserve")).expect("granted");
    c.execute(leader, complete("order-7", token, "shipped"))
        .await
        .expect("complete is acknowledged by the leader and `near`");

    match c.read(near, "order-7").await {
        Ok(Some(Record::Completed(_))) => {}
        Ok(stale) => {
            return Err(format!(
                "node {near} answered a state older than an acknowledged write: {stale:?}"
            ))
        }
        Err(e) => {
            return Err(format!(
                "node {near}, in touch with the leader, cannot read: {e}"
            ))
        }
    }
    let who = format!("node {far}, cut off from the leader,");
    completed_or_refused(&who, c.read(far, "order-7").await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_never_reads_a_state_older_than_an_acknowledged_write() {
    reads_after_an_acknowledged_write(None)
        .await
        .expect("linearizable reads");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_stale_reads_are_caught() {
    must_catch(
        reads_after_an_acknowledged_write(Some(PlantedBug::StaleReads)).await,
        "older than an acknowledged write",
    );
}
