//! A Raft type config for the store's tests.

openraft::declare_raft_types!(
    pub TestTypes:
        D = idem_core::StampedBatch,
        R = idem_store::AppliedOutcomes,
        NodeId = u64,
        Node = openraft::impls::BasicNode,
);

/// Builds a snapshot of `from` and installs it on `to`, as a follower
/// installs the leader's. (Not every test file that includes this module
/// uses it.)
#[allow(dead_code)]
pub async fn copy_snapshot(
    from: &mut idem_store::Store<TestTypes>,
    to: &mut idem_store::Store<TestTypes>,
) {
    use openraft::storage::{RaftSnapshotBuilder, RaftStateMachine};
    use tokio::io::AsyncWriteExt;
    let mut snapshot = from
        .state_machine
        .get_snapshot_builder()
        .await
        .build_snapshot()
        .await
        .unwrap();
    // What the network layer does: the leader's bytes into a file of the
    // follower's.
    let mut incoming = to.state_machine.snapshot_inbox().file().unwrap();
    tokio::io::copy(&mut snapshot.snapshot, &mut incoming)
        .await
        .unwrap();
    incoming.flush().await.unwrap();
    to.state_machine
        .install_snapshot(&snapshot.meta, incoming)
        .await
        .unwrap();
}
