//! Corrupt or truncated data is reported at start-up with a clear error,
//! never silently used.

use idem_store::{codec, Store, StoreError};
use idem_store::{LeaderId, LogId};
use openraft::storage::{RaftSnapshotBuilder, RaftStateMachine};
use openraft::EntryPayload;
type Entry = idem_store::Entry<openraft::impls::BasicNode>;

mod common;
use common::TestTypes;

fn blank(index: u64) -> Entry {
    Entry {
        log_id: LogId::new(
            LeaderId {
                term: 1,
                node_id: 1,
            },
            index,
        ),
        payload: EntryPayload::Blank,
    }
}

fn raw_db(dir: &std::path::Path) -> rocksdb::DB {
    let opts = rocksdb::Options::default();
    rocksdb::DB::open_cf(
        &opts,
        dir.join("db"),
        [
            "log",
            "raft",
            "records",
            "namespaces",
            "sm",
            "expiry",
            "auth",
            "quotas",
        ],
    )
    .expect("raw open")
}

fn write_log(dir: &std::path::Path, entries: &[(u64, Vec<u8>)]) {
    let db = raw_db(dir);
    let cf = db.cf_handle("log").expect("log cf");
    for (index, bytes) in entries {
        db.put_cf(cf, index.to_be_bytes(), bytes).expect("put");
    }
}

fn open_err(dir: &std::path::Path) -> String {
    match Store::<TestTypes>::open(dir) {
        Ok(_) => panic!("a corrupt store opened"),
        Err(e) => {
            assert!(matches!(e, StoreError::Corrupt { .. }), "{e}");
            e.to_string()
        }
    }
}

#[test]
fn a_healthy_store_reopens_and_reports_its_log() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::<TestTypes>::open(dir.path()).unwrap());
    write_log(
        dir.path(),
        &[
            (1, codec::encode(&blank(1)).unwrap()),
            (2, codec::encode(&blank(2)).unwrap()),
        ],
    );
    let store = Store::<TestTypes>::open(dir.path()).unwrap();
    assert_eq!(store.report.log_entries, 2);
    assert_eq!(store.report.last_log_index, Some(2));
}

#[test]
fn a_log_entry_that_does_not_decode_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::<TestTypes>::open(dir.path()).unwrap());
    write_log(
        dir.path(),
        &[
            (1, codec::encode(&blank(1)).unwrap()),
            (2, vec![1, 0xde, 0xad, 0xbe, 0xef]),
        ],
    );
    let e = open_err(dir.path());
    assert!(e.contains("log entry 2"), "{e}");
}

#[test]
fn a_gap_in_the_log_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::<TestTypes>::open(dir.path()).unwrap());
    write_log(
        dir.path(),
        &[
            (1, codec::encode(&blank(1)).unwrap()),
            (3, codec::encode(&blank(3)).unwrap()),
        ],
    );
    let e = open_err(dir.path());
    assert!(e.contains("entry 2 is missing"), "{e}");
}

#[test]
fn an_entry_stored_under_the_wrong_index_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::<TestTypes>::open(dir.path()).unwrap());
    write_log(dir.path(), &[(1, codec::encode(&blank(7)).unwrap())]);
    let e = open_err(dir.path());
    assert!(e.contains("log entry 1"), "{e}");
}

#[test]
fn corrupt_state_machine_metadata_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::<TestTypes>::open(dir.path()).unwrap());
    {
        let db = raw_db(dir.path());
        let cf = db.cf_handle("sm").expect("sm cf");
        db.put_cf(cf, b"last_applied", [1u8, 0xff, 0xff])
            .expect("put");
    }
    let e = open_err(dir.path());
    assert!(e.contains("last applied"), "{e}");
}

#[tokio::test]
async fn a_truncated_snapshot_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut store = Store::<TestTypes>::open(dir.path()).unwrap();
        store
            .state_machine
            .apply_committed(vec![blank(1), blank(2)])
            .await
            .unwrap();
        let mut builder = store.state_machine.get_snapshot_builder().await;
        builder.build_snapshot().await.unwrap();
    }
    let snaps: Vec<_> = std::fs::read_dir(dir.path().join("snapshots"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(snaps.len(), 1, "{snaps:?}");
    let bytes = std::fs::read(&snaps[0]).unwrap();
    std::fs::write(&snaps[0], &bytes[..bytes.len() - 3]).unwrap();
    let e = open_err(dir.path());
    assert!(e.contains("snapshot"), "{e}");
}
