//! End-to-end: a node whose storage fails exits, instead of staying up with
//! Raft stopped, and the other two carry on.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use support::Cluster;

#[test]
fn a_follower_whose_database_vanishes_exits_and_the_cluster_carries_on() {
    let c = Arc::new(Cluster::start());
    let leader = c.leader();
    let follower = (0..3).find(|i| *i != leader).expect("a follower");
    // Take the database directory away from under the running follower: its
    // open files stay readable, but the next file RocksDB must create (a new
    // write-ahead log, a table, a checkpoint) cannot be, and Raft stops on
    // the storage error.
    std::fs::remove_dir_all(c.nodes[follower].data.join("db")).expect("remove the database");

    let deadline = Instant::now() + Duration::from_secs(120);
    let mut written = 0u64;
    let status = loop {
        if let Some(status) = c.exit_status(follower) {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the follower still runs after {written} writes; log:\n{}",
            c.log(follower)
        );
        c.reserve_fresh_keys(leader, &format!("w{written}"), 8, 100);
        written += 800;
    };
    assert!(!status.success(), "exited with {status}");
    let log = c.log(follower);
    assert!(log.contains("Raft has stopped"), "log:\n{log}");

    // Two of three still make a majority.
    let r = c.reserve(leader, "shop", "after", json!({"fingerprint": "fp"}));
    assert_eq!(r.status, 201, "{r:?}");
}
