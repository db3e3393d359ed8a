//! The reader's applied clock and last-applied log id are kept in memory
//! beside the database: after every apply and every snapshot install they
//! must equal what the database stores (what a reopened store reads).

mod common;

use common::TestTypes;
use idem_core::*;
use idem_store::Store;

use idem_store::{LeaderId, LogId};
use openraft::EntryPayload;
type Entry = idem_store::Entry<openraft::impls::BasicNode>;

fn log_id(term: u64, index: u64) -> LogId {
    LogId::new(LeaderId { term, node_id: 1 }, index)
}

fn reserve_entry(term: u64, index: u64, wall_ms: u64, key: &str) -> Entry {
    let stamp = Stamp {
        hlc: HlcTimestamp::new(wall_ms, 0),
        term,
        term_elapsed_ms: wall_ms - 1_000_000,
    };
    let command = Command::Reserve(Reserve {
        id: KeyId::new(Namespace::new("ns").unwrap(), IdemKey::new(key).unwrap()),
        fingerprint: None,
        lease: Some(LeaseDuration::from_ms(1_000).unwrap()),
        retain: None,
        attempt: None,
    });
    Entry {
        log_id: log_id(term, index),
        payload: EntryPayload::Normal(StampedBatch::new(stamp, vec![command]).unwrap()),
    }
}

fn seen(store: &Store<TestTypes>) -> (AppliedClock, Option<LogId>) {
    (store.reader.applied_clock(), store.reader.applied_log_id())
}

fn stored(dir: &std::path::Path) -> (AppliedClock, Option<LogId>) {
    seen(&Store::<TestTypes>::open(dir).unwrap())
}

#[tokio::test]
async fn the_reader_sees_what_each_apply_and_each_snapshot_install_stored() {
    let dir = tempfile::tempdir().unwrap();
    let t = 1_000_000;
    let mut steps = Vec::new();
    {
        let mut store = Store::<TestTypes>::open(dir.path()).unwrap();
        assert_eq!(seen(&store).1, None);
        store
            .state_machine
            .apply_committed(vec![reserve_entry(1, 1, t + 10, "a")])
            .await
            .unwrap();
        steps.push(seen(&store));
        assert_eq!(steps[0].1, Some(log_id(1, 1)));
        // A blank entry moves the log id, not the clock.
        store
            .state_machine
            .apply_committed(vec![Entry {
                log_id: log_id(2, 2),
                payload: EntryPayload::Blank,
            }])
            .await
            .unwrap();
        steps.push(seen(&store));
        assert_eq!(steps[1], (steps[0].0, Some(log_id(2, 2))));
        // Two entries in one call: the clock and id of the last.
        store
            .state_machine
            .apply_committed(vec![
                reserve_entry(2, 3, t + 20, "b"),
                reserve_entry(2, 4, t + 30, "c"),
            ])
            .await
            .unwrap();
        steps.push(seen(&store));
        assert_eq!(steps[2].1, Some(log_id(2, 4)));
        assert!(steps[2].0 .0.hlc > steps[0].0 .0.hlc, "{steps:?}");
    }
    assert_eq!(stored(dir.path()), steps[2], "memory and disk agree");

    // A snapshot installed on another store replaces both.
    let mut store = Store::<TestTypes>::open(dir.path()).unwrap();
    let other_dir = tempfile::tempdir().unwrap();
    {
        let mut other = Store::<TestTypes>::open(other_dir.path()).unwrap();
        other
            .state_machine
            .apply_committed(vec![reserve_entry(1, 1, t + 99, "z")])
            .await
            .unwrap();
        common::copy_snapshot(&mut store, &mut other).await;
        assert_eq!(seen(&other), steps[2]);
    }
    assert_eq!(stored(other_dir.path()), steps[2]);
}
