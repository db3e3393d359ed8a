//! Quotas in RocksDB: a quota set through the log holds across a restart
//! and travels in snapshots (replacing the follower's own); the usage the
//! state machine counts as it applies (what the quota is judged against)
//! always equals a recount of the records, across batches, deletions, a
//! restart and a snapshot install.

mod common;

use common::{copy_snapshot, TestTypes};
use idem_core::*;
use idem_store::Store;

use idem_store::{LeaderId, LogId};
use openraft::EntryPayload;
type Entry = idem_store::Entry<openraft::impls::BasicNode>;

fn ns() -> Namespace {
    Namespace::new("shop").unwrap()
}

fn key(k: &str) -> KeyId {
    KeyId::new(ns(), IdemKey::new(k).unwrap())
}

fn entry(index: u64, commands: Vec<Command>) -> Entry {
    let stamp = Stamp {
        hlc: HlcTimestamp::new(1_000_000 + index, 0),
        term: 1,
        term_elapsed_ms: index,
    };
    Entry {
        log_id: LogId::new(
            LeaderId {
                term: 1,
                node_id: 1,
            },
            index,
        ),
        payload: EntryPayload::Normal(StampedBatch::new(stamp, commands).unwrap()),
    }
}

fn reserve(k: &str) -> Command {
    Command::Reserve(Reserve {
        id: key(k),
        fingerprint: None,
        lease: None,
        retain: None,
        attempt: None,
    })
}

fn quota(max_records: u64) -> Command {
    Command::SetQuota(SetQuota {
        namespace: ns(),
        quota: NamespaceQuota {
            max_records: Some(max_records),
            ..NamespaceQuota::default()
        },
    })
}

fn outcomes_of(out: Vec<Vec<Outcome>>) -> Vec<Outcome> {
    out.into_iter().flatten().collect()
}

fn granted(o: &Outcome) -> Option<FencingToken> {
    match o {
        Outcome::Reserve(ReserveOutcome::Reserved { token, .. }) => Some(*token),
        _ => None,
    }
}

fn over(o: &Outcome) -> bool {
    matches!(o, Outcome::Reserve(ReserveOutcome::OverQuota(_)))
}

#[tokio::test]
async fn the_counted_usage_is_a_recount_across_restarts_and_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let tokens: Vec<FencingToken>;
    {
        let mut store = Store::<TestTypes>::open(dir.path()).unwrap();
        // Two records before the quota exists; the quota is set with room
        // for three; one batch then reserves three more keys: one fits.
        let out = outcomes_of(
            store
                .state_machine
                .apply_committed(vec![
                    entry(1, vec![reserve("a"), reserve("b")]),
                    entry(2, vec![quota(3)]),
                    entry(3, vec![reserve("c"), reserve("d"), reserve("e")]),
                ])
                .await
                .unwrap(),
        );
        tokens = out.iter().filter_map(granted).collect();
        assert_eq!(tokens.len(), 3, "{out:?}");
        assert_eq!(out.iter().filter(|o| over(o)).count(), 2, "{out:?}");
        assert_eq!(store.reader.namespace_usage(&ns()).unwrap().records, 3);
        // A release makes room, in the same batch as the reserve that uses it.
        let release = Command::Release(Release {
            id: key("a"),
            token: tokens[0],
            not_committed: false,
        });
        let out = outcomes_of(
            store
                .state_machine
                .apply_committed(vec![entry(4, vec![release, reserve("d"), reserve("e")])])
                .await
                .unwrap(),
        );
        assert!(granted(&out[1]).is_some() && over(&out[2]), "{out:?}");
    }
    // After a restart the count is made again from the records.
    let mut store = Store::<TestTypes>::open(dir.path()).unwrap();
    assert_eq!(
        store.reader.namespace_quota(&ns()).unwrap().max_records,
        Some(3)
    );
    let out = outcomes_of(
        store
            .state_machine
            .apply_committed(vec![entry(5, vec![reserve("f")])])
            .await
            .unwrap(),
    );
    assert!(over(&out[0]), "{out:?}");

    // A follower with a quota and records of its own (two: its count must
    // not survive the install) gets the leader's.
    let other = tempfile::tempdir().unwrap();
    let mut follower = Store::<TestTypes>::open(other.path()).unwrap();
    follower
        .state_machine
        .apply_committed(vec![entry(1, vec![quota(100), reserve("x"), reserve("y")])])
        .await
        .unwrap();
    copy_snapshot(&mut store, &mut follower).await;
    assert_eq!(
        follower.reader.namespace_quota(&ns()).unwrap().max_records,
        Some(3)
    );
    assert_eq!(follower.reader.namespace_usage(&ns()).unwrap().records, 3);
    let out = outcomes_of(
        follower
            .state_machine
            .apply_committed(vec![entry(6, vec![reserve("g")])])
            .await
            .unwrap(),
    );
    assert!(
        over(&out[0]),
        "the follower counts the snapshot's records: {out:?}"
    );
}
