//! A Raft type config for the store's tests.

openraft::declare_raft_types!(
    pub TestTypes:
        D = idem_core::StampedBatch,
        R = idem_store::AppliedOutcomes,
        NodeId = u64,
        Node = openraft::BasicNode,
        Entry = openraft::Entry<TestTypes>,
        SnapshotData = tokio::fs::File,
);
