//! The expiry index follows the records: every stored record is indexed by
//! its forget deadline, updates move it, purges remove it, and a snapshot
//! install rebuilds it.

mod common;

use common::TestTypes;
use idem_core::*;
use idem_store::Store;

use idem_store::{LeaderId, LogId};
use openraft::EntryPayload;
type Entry = idem_store::Entry<openraft::impls::BasicNode>;

fn id(key: &str) -> KeyId {
    KeyId::new(Namespace::new("ns").unwrap(), IdemKey::new(key).unwrap())
}

fn stamp(wall_ms: u64) -> Stamp {
    Stamp {
        hlc: HlcTimestamp::new(wall_ms, 0),
        term: 1,
        term_elapsed_ms: wall_ms - 1_000_000,
    }
}

fn entry(index: u64, wall_ms: u64, command: Command) -> Entry {
    Entry {
        log_id: LogId::new(
            LeaderId {
                term: 1,
                node_id: 1,
            },
            index,
        ),
        payload: EntryPayload::Normal(StampedBatch::one(stamp(wall_ms), command)),
    }
}

fn reserve(key: &str, retain_ms: u64) -> Command {
    Command::Reserve(Reserve {
        id: id(key),
        fingerprint: None,
        lease: Some(LeaseDuration::from_ms(1_000).unwrap()),
        retain: Some(RetainDuration::from_ms(retain_ms).unwrap()),
        attempt: None,
    })
}

/// `entry` is the log index of the (one-command) entry that granted the key.
fn complete(key: &str, entry: u64) -> Command {
    Command::Complete(Complete {
        id: id(key),
        token: FencingToken(entry << BATCH_BITS),
        response: StoredResponse::new(200, Default::default(), "ok").unwrap(),
    })
}

#[tokio::test]
async fn the_index_lists_due_records_in_deadline_order_and_follows_changes() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::<TestTypes>::open(dir.path()).unwrap();
    let t = 1_000_000;
    store
        .state_machine
        .apply_committed(vec![
            entry(1, t, reserve("late", 10_000)),
            entry(2, t, reserve("soon", 2_000)),
            entry(3, t + 10, complete("soon", 2)),
        ])
        .await
        .unwrap();
    let r = &store.reader;
    // "soon": completed at t+10, retained 2 s. "late": abandoned, lease 1 s + 10 s.
    assert_eq!(r.due_for_purge(t + 2_009, 10).unwrap(), Vec::<KeyId>::new());
    assert_eq!(r.due_for_purge(t + 2_010, 10).unwrap(), vec![id("soon")]);
    assert_eq!(
        r.due_for_purge(t + 20_000, 10).unwrap(),
        vec![id("soon"), id("late")]
    );
    assert_eq!(r.due_for_purge(t + 20_000, 1).unwrap(), vec![id("soon")]);

    let purge = Command::Purge(Purge {
        ids: vec![id("soon"), id("late")],
    });
    let out = store
        .state_machine
        .apply_committed(vec![entry(4, t + 5_000, purge)])
        .await
        .unwrap();
    let Some(Outcome::Purge(p)) = out.into_iter().flatten().next() else {
        panic!("no purge outcome")
    };
    assert_eq!(p.purged, vec![id("soon")]);
    assert_eq!(p.next_due_in_ms, Some(6_000));
    assert_eq!(r.due_for_purge(t + 20_000, 10).unwrap(), vec![id("late")]);

    // A follower that installs a snapshot gets the same index.
    let other_dir = tempfile::tempdir().unwrap();
    let mut other = Store::<TestTypes>::open(other_dir.path()).unwrap();
    common::copy_snapshot(&mut store, &mut other).await;
    assert_eq!(
        other.reader.due_for_purge(t + 20_000, 10).unwrap(),
        vec![id("late")]
    );
    assert!(other.reader.raw_record(&id("late")).unwrap().is_some());
}
