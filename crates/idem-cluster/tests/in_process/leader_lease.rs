//! The leader lease: a leader reads without a quorum round only while no
//! other node can have become leader. Cut off from the majority, it stops
//! serving reads before a successor can accept a write.

use idem_core::PlantedBug;

use crate::support::*;

/// The leader is isolated after a reserve, a successor is elected and the
/// key is completed there; then the old leader is asked. `Err` says what
/// went wrong.
async fn read_on_an_isolated_leader(planted: Option<PlantedBug>) -> Result<(), String> {
    let c = TestCluster::start(3, |config| config.planted_bug = planted).await;
    let old = c.leader().await;
    let reserved = c.execute(old, reserve("order-9", 30_000)).await;
    let token = granted(&reserved.expect("reserve")).expect("granted");

    c.net.isolate(old);
    let others = c.others(old);
    let new = c.leader_among(&others).await;
    c.execute(new, complete("order-9", token, "shipped"))
        .await
        .expect("the new leader completes the key");

    let who = format!("the isolated old leader {old}, after leader {new} completed the key,");
    completed_or_refused(&who, c.read(old, "order-9").await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_isolated_leader_stops_reading_before_a_successor_can_write() {
    read_on_an_isolated_leader(None)
        .await
        .expect("no stale read");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_long_lease_is_caught() {
    must_catch(
        read_on_an_isolated_leader(Some(PlantedBug::LongLease)).await,
        "isolated old leader",
    );
}
