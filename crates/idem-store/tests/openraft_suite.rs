//! openraft's own storage test suite, run against the RocksDB store.

use idem_store::{LogStore, StateMachineStore, Store};
use openraft::testing::log::{StoreBuilder, Suite};
use openraft::StorageError;

mod common;
use common::TestTypes;

struct Builder;

impl StoreBuilder<TestTypes, LogStore<TestTypes>, StateMachineStore<TestTypes>, tempfile::TempDir>
    for Builder
{
    async fn build(
        &self,
    ) -> Result<
        (
            tempfile::TempDir,
            LogStore<TestTypes>,
            StateMachineStore<TestTypes>,
        ),
        StorageError<TestTypes>,
    > {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::<TestTypes>::open(dir.path()).expect("open store");
        Ok((dir, store.log, store.state_machine))
    }
}

#[tokio::test]
async fn the_store_passes_openraft_storage_suite() {
    if let Err(e) = Suite::test_all(Builder).await {
        panic!("openraft storage suite: {e}");
    }
}
