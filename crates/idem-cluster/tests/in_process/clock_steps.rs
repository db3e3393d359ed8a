//! Wall clocks that step: a lease never ends early, none is held late by
//! more than the written bound, the cluster does not stall, and a wrong
//! wall clock never makes a follower refuse the leader or the leader step
//! down.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use idem_cluster::{system_wall_ms, ClusterNode, NodeId};
use idem_core::{Outcome, Record, ReserveOutcome};
use tokio::time::Instant;

use crate::support::*;

const TEN_MINUTES_MS: i64 = 600_000;
const LEASE_MS: u64 = 2_000;

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
    // Wall clocks read ten minutes ahead: cluster time does not follow
    // them, and the leader's monotonic clock holds the lease anyway.
    for id in c.nodes.keys().copied() {
        let retry = c.execute(id, reserve("held", 20_000)).await.expect("retry");
        assert!(in_progress(&retry), "node {id}, clocks +10 min: {retry:?}");
        let fresh = c.execute(id, reserve(&format!("ahead-{id}"), 20_000)).await;
        granted(&fresh.expect("the cluster serves")).expect("granted");
    }

    for id in c.nodes.keys() {
        c.clocks(*id).step(-TEN_MINUTES_MS);
    }
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

/// Keeps writing fresh keys through every node until told to stop;
/// counts the grants.
fn load(
    nodes: Vec<ClusterNode>,
    stop: Arc<AtomicBool>,
) -> (tokio::task::JoinHandle<()>, Arc<AtomicU64>) {
    let grants = Arc::new(AtomicU64::new(0));
    let counted = grants.clone();
    let task = tokio::spawn(async move {
        let mut n = 0u64;
        while !stop.load(Ordering::SeqCst) {
            n += 1;
            let via = &nodes[(n % nodes.len() as u64) as usize];
            if let Ok(o) = via.execute(reserve(&format!("load-{n}"), 30_000)).await {
                if granted(&o).is_some() {
                    counted.fetch_add(1, Ordering::SeqCst);
                }
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    (task, grants)
}

/// Polls a reserve of `name` (which a worker reserved at `sent` for
/// `LEASE_MS`, then died) until it is taken over; the time it took since
/// `sent`. Fails if the takeover came before the lease ran out.
async fn taken_over(c: &TestCluster, via: NodeId, name: &str, sent: Instant) -> Duration {
    loop {
        let answered = c.execute(via, reserve(name, LEASE_MS)).await;
        let now = Instant::now();
        match answered {
            Ok(Outcome::Reserve(ReserveOutcome::Reserved { takeover, .. })) => {
                assert!(takeover, "{name}: granted as new");
                let held = now - sent;
                assert!(
                    held >= Duration::from_millis(LEASE_MS),
                    "{name}: a {LEASE_MS} ms lease ended after {held:?}"
                );
                return held;
            }
            Ok(o) => assert!(in_progress(&o), "{name}: {o:?}"),
            Err(_) => {} // retryable (an election, a timeout)
        }
        assert!(
            now - sent < Duration::from_secs(60),
            "{name} never taken over"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Reads `name` until it is forgotten; the time since `completed`.
async fn forgotten(c: &TestCluster, via: NodeId, name: &str, completed: Instant) -> Duration {
    loop {
        let read = c.read(via, name).await;
        let now = Instant::now();
        match read {
            Ok(None) => return now - completed,
            Ok(Some(Record::Completed(_))) | Err(_) => {}
            Ok(other) => panic!("{name}: {other:?}"),
        }
        assert!(
            now - completed < Duration::from_secs(60),
            "{name} never forgotten"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The scenario: the wall clocks of `stepped` nodes (the leader
/// first) step by `by_ms` and stay there for five seconds while traffic
/// flows, and are corrected. Workers that reserved with a 2-s lease
/// (during the step, and just after it) die; a completion with a 2-s
/// retention is stored just after it. Every lease must be taken over and
/// the completion forgotten well within two lease lengths (no leader
/// change happens here, so no failover is added); the leader must not
/// change.
async fn step_held_for_five_seconds_then_corrected(stepped: usize, by_ms: i64) {
    let c = TestCluster::start(3, |_| {}).await;
    let leader = c.leader().await;
    let term = c.node(leader).status().term;
    let mut order = vec![leader];
    order.extend(c.others(leader));
    let stop = Arc::new(AtomicBool::new(false));
    let nodes: Vec<ClusterNode> = c.nodes.values().map(|n| n.node.clone()).collect();
    let (load_task, grants) = load(nodes, stop.clone());

    for id in &order[..stepped] {
        c.clocks(*id).step(by_ms);
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    let during = Instant::now();
    let o = c.execute(leader, reserve("died-during", LEASE_MS)).await;
    granted(&o.expect("served while stepped")).expect("granted");
    tokio::time::sleep(Duration::from_secs(1)).await;
    for id in &order[..stepped] {
        c.clocks(*id).step(-by_ms);
    }
    let after = Instant::now();
    let o = c.execute(order[1], reserve("died-after", LEASE_MS)).await;
    granted(&o.expect("served after the correction")).expect("granted");
    let o = c
        .execute(leader, reserve_retained("short", 30_000, LEASE_MS))
        .await;
    let token = granted(&o.expect("reserve")).expect("granted");
    let o = c.execute(leader, complete("short", token, "done")).await;
    assert!(
        matches!(o, Ok(Outcome::Complete(_))),
        "complete answered {o:?}"
    );
    let completed = Instant::now();

    let (during_held, after_held, forgot) = tokio::join!(
        taken_over(&c, order[2], "died-during", during),
        taken_over(&c, leader, "died-after", after),
        forgotten(&c, order[1], "short", completed),
    );
    stop.store(true, Ordering::SeqCst);
    load_task.await.expect("load task");
    println!(
        "{stepped} node(s) {by_ms:+} ms for 5 s: 2-s leases taken over after {during_held:?} \
         (granted while stepped) and {after_held:?} (after); 2-s retention forgotten after \
         {forgot:?}; {} grants under load",
        grants.load(Ordering::SeqCst)
    );
    let bound = Duration::from_millis(2 * LEASE_MS);
    for (what, took) in [
        ("lease granted while stepped", during_held),
        ("lease granted after", after_held),
        ("retention", forgot),
    ] {
        assert!(took <= bound, "{what}: {took:?}, more than {bound:?}");
    }
    assert!(grants.load(Ordering::SeqCst) > 0, "the load got nothing");
    let now = c.node(leader).status();
    assert_eq!(
        (now.leader, now.term),
        (Some(leader), term),
        "a wrong wall clock made the leader change"
    );
    let stamp_ahead = c
        .node(leader)
        .status()
        .cluster_time_ms
        .abs_diff(system_wall_ms());
    assert!(
        stamp_ahead < 2_000,
        "cluster time is {stamp_ahead} ms from true time"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_clock_ten_minutes_ahead_for_five_seconds_holds_nothing_late() {
    step_held_for_five_seconds_then_corrected(3, TEN_MINUTES_MS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_clock_ten_minutes_behind_for_five_seconds_holds_nothing_late() {
    step_held_for_five_seconds_then_corrected(3, -TEN_MINUTES_MS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clocks_ten_minutes_ahead_for_five_seconds_hold_nothing_late() {
    step_held_for_five_seconds_then_corrected(2, TEN_MINUTES_MS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leaders_clock_ten_minutes_ahead_for_five_seconds_holds_nothing_late() {
    step_held_for_five_seconds_then_corrected(1, TEN_MINUTES_MS).await;
}

/// A leader whose wall clock stays ten minutes ahead keeps leading: its
/// followers accept its stamps (its cluster time follows real time, steered
/// a tenth faster at most), its writes commit, and cluster time stays near
/// true time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_whose_wall_clock_runs_ahead_keeps_leading_at_true_time() {
    let c = TestCluster::start(3, |_| {}).await;
    let fast = c.leader().await;
    let term = c.node(fast).status().term;
    c.clocks(fast).step(TEN_MINUTES_MS);
    let start = Instant::now();
    for i in 0..20 {
        let o = c.execute(fast, reserve(&format!("k{i}"), 20_000)).await;
        granted(&o.expect("committed")).expect("granted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let elapsed = start.elapsed().as_millis() as u64;
    let status = c.node(fast).status();
    assert_eq!((status.leader, status.term), (Some(fast), term));
    let ahead = status.cluster_time_ms.saturating_sub(system_wall_ms());
    assert!(
        ahead <= elapsed / 10 + 100,
        "cluster time {ahead} ms ahead of true time after {elapsed} ms"
    );
    let me = status
        .members
        .iter()
        .find(|m| m.id == fast)
        .expect("member");
    let off = me.wall_offset_ms.expect("measured");
    assert!(
        (off - TEN_MINUTES_MS).abs() < 5_000,
        "the leader's wall clock is reported {off} ms from cluster time"
    );
}
