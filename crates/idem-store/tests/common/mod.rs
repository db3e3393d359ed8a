//! A Raft type config for the store's tests.

openraft::declare_raft_types!(
    pub TestTypes:
        D = idem_core::StampedCommand,
        R = idem_store::AppliedOutcome,
        NodeId = u64,
        Node = openraft::BasicNode,
        Entry = openraft::Entry<TestTypes>,
        SnapshotData = tokio::fs::File,
);
