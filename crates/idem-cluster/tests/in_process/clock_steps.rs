//! Wall clocks that step: a lease never ends early, the cluster does not
//! stall, and a node whose clock runs ahead cannot commit its future stamps.

use std::time::Duration;

use idem_cluster::system_wall_ms;
use idem_core::{Outcome, Record, ReserveOutcome};

use crate::support::*;

const TEN_MINUTES_MS: i64 = 600_000;

fn in_progress(outcome: &Outcome) -> bool {
    matches!(outcome, Outcome::Reserve(ReserveOutcome::InProgress { .. }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_wall_clock_stepping_ahead_and_back_ends_no_lease_early_and_stalls_nothing() {
    let c = TestCluster::start(3, |_| {}).await;
    let leader = c.leader().await;
    let held = c
        .execute(leader, reserve("held", 20_000))
        .await
        .expect("reserve");
    granted(&held).expect("granted");

    for id in c.nodes.keys() {
        c.clocks(*id).step(TEN_MINUTES_MS);
    }
    // Stamps now read ten minutes ahead: by the HLC the lease has ended,
    // by the leader's monotonic clock it has not.
    for id in c.nodes.keys().copied() {
        let retry = c.execute(id, reserve("held", 20_000)).await.expect("retry");
        assert!(in_progress(&retry), "node {id}, clocks +10 min: {retry:?}");
        let fresh = c.execute(id, reserve(&format!("ahead-{id}"), 20_000)).await;
        granted(&fresh.expect("the cluster serves")).expect("granted");
    }

    for id in c.nodes.keys() {
        c.clocks(*id).step(-TEN_MINUTES_MS);
    }
    // Back to true time: the cluster carries on from its stamps.
    for id in c.nodes.keys().copied() {
        let fresh = c.execute(id, reserve(&format!("back-{id}"), 20_000)).await;
        granted(&fresh.expect("the cluster serves after the step back")).expect("granted");
        let retry = c.execute(id, reserve("held", 20_000)).await.expect("retry");
        assert!(
            in_progress(&retry),
            "node {id}, clocks corrected: {retry:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_whose_clock_runs_ahead_cannot_commit_and_is_replaced() {
    let c = TestCluster::start(3, |_| {}).await;
    let fast = c.leader().await;
    c.clocks(fast).step(TEN_MINUTES_MS);

    // Its stamps are refused by both followers, so this write cannot
    // commit with them; it fails, or (told "not the leader" once the
    // followers elected one of themselves) is carried to the new leader.
    let first = c.execute(fast, reserve("future", 20_000)).await;

    // The followers elect one of themselves and carry on.
    let others = c.others(fast);
    let new = c.leader_among(&others).await;
    assert_ne!(new, fast);
    let via = others[0];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match c.execute(via, reserve("present", 20_000)).await {
            // Granted now, or by an earlier try that timed out after all.
            Ok(outcome) if granted(&outcome).is_some() || in_progress(&outcome) => break,
            Ok(other) => panic!("a fresh key answered {other:?}"),
            Err(e) => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "no write within 10 s: {e}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    // Nothing stamped ten minutes ahead reached the state.
    for name in ["present", "future"] {
        match c.read(new, name).await.expect("read") {
            Some(Record::InProgress(r)) => {
                let ahead = r
                    .lease_renewed_at
                    .hlc
                    .wall_ms
                    .saturating_sub(system_wall_ms());
                assert!(
                    ahead < 5_000,
                    "{name} granted at a stamp {ahead} ms ahead of true time"
                );
            }
            None if name == "future" => assert!(first.is_err(), "acknowledged, but absent"),
            other => panic!("{name}: {other:?}"),
        }
    }
}
