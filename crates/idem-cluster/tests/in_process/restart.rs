//! A node stopped and started again from its data directory: its shutdown
//! let go of everything (the store opens again in the same process), and
//! once back it never answers a read with a state older than a write that
//! was acknowledged while it was down, even while it cannot reach the
//! leader yet.

use idem_core::{PlantedBug, Record};

use crate::support::*;

/// A follower misses a write while stopped, and is started again cut off
/// from the leader. `Err` says what went wrong.
async fn read_after_a_restart(planted: Option<PlantedBug>) -> Result<(), String> {
    let mut c = TestCluster::start(3, |config| config.planted_bug = planted).await;
    let leader = c.leader().await;
    let [follower, other] = c.others(leader)[..] else {
        panic!("three nodes")
    };
    let before = c.execute(leader, reserve("before", 30_000)).await;
    granted(&before.expect("reserve")).expect("granted");

    c.stop(follower).await;
    let missed = c.execute(leader, reserve("missed", 30_000)).await;
    let token = granted(&missed.expect("two of three still write")).expect("granted");
    c.execute(leader, complete("missed", token, "done"))
        .await
        .expect("complete");

    // Back, but hearing nothing yet: it has only its own, older state.
    c.net.partition(&[&[leader, other], &[follower]]);
    c.restart(follower).await;
    let who = format!("node {follower}, just restarted and cut off,");
    completed_or_refused(&who, c.read(follower, "missed").await)?;
    match c.read(follower, "before").await {
        Ok(Some(Record::InProgress(_))) | Err(_) => {}
        other => return Err(format!("node {follower} lost a write it had: {other:?}")),
    }

    // Healed, it catches up and serves the write it missed.
    c.net.heal();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match c.read(follower, "missed").await {
            Ok(Some(Record::Completed(_))) => break,
            other if tokio::time::Instant::now() > deadline => {
                return Err(format!("node {follower}, healed, still reads {other:?}"))
            }
            _ => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_follower_never_reads_a_state_older_than_what_it_missed() {
    read_after_a_restart(None)
        .await
        .expect("no stale read after a restart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_stale_reads_are_caught_after_a_restart() {
    must_catch(
        read_after_a_restart(Some(PlantedBug::StaleReads)).await,
        "older than an acknowledged write",
    );
}
