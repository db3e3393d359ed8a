//! Log entries carrying several commands: each command is applied at its
//! own virtual position (so tokens within an entry are distinct and
//! increasing), outcomes come back one per command in order, and an entry
//! refused as a whole refuses every command in it.

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

fn stamp(term: u64, wall_ms: u64) -> Stamp {
    Stamp {
        hlc: HlcTimestamp::new(wall_ms, 0),
        term,
        term_elapsed_ms: wall_ms - 1_000_000,
    }
}

fn batch(term: u64, index: u64, stamp: Stamp, commands: Vec<Command>) -> Entry {
    Entry {
        log_id: LogId::new(LeaderId { term, node_id: 1 }, index),
        payload: EntryPayload::Normal(StampedBatch::new(stamp, commands).unwrap()),
    }
}

fn reserve(key: &str) -> Command {
    Command::Reserve(Reserve {
        id: id(key),
        fingerprint: None,
        lease: Some(LeaseDuration::from_ms(1_000).unwrap()),
        retain: None,
        attempt: None,
    })
}

fn granted(outcome: &Outcome) -> FencingToken {
    match outcome {
        Outcome::Reserve(ReserveOutcome::Reserved { token, .. }) => *token,
        other => panic!("not a grant: {other:?}"),
    }
}

#[tokio::test]
async fn tokens_within_an_entry_are_distinct_and_increase_across_entries() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::<TestTypes>::open(dir.path()).unwrap();
    let t = 1_000_000;
    let keys: Vec<String> = (0..5).map(|i| format!("k{i}")).collect();
    let out = store
        .state_machine
        .apply_committed(vec![
            batch(1, 1, stamp(1, t), keys.iter().map(|k| reserve(k)).collect()),
            // The same key twice in one entry: the second is answered in
            // progress (the first grant is live), not granted again.
            batch(1, 2, stamp(1, t + 1), vec![reserve("x"), reserve("x")]),
            // A takeover after the lease, in a later one-command entry.
            batch(1, 3, stamp(1, t + 5_000), vec![reserve("k4")]),
        ])
        .await
        .unwrap();
    assert_eq!(out.iter().map(Vec::len).collect::<Vec<_>>(), vec![5, 2, 1]);
    let tokens: Vec<u64> = out[0].iter().map(|o| granted(o).0).collect();
    let first = 1 << BATCH_BITS;
    assert_eq!(tokens, (first..first + 5).collect::<Vec<_>>());
    assert_eq!(granted(&out[1][0]).0, 2 << BATCH_BITS);
    assert!(matches!(
        out[1][1],
        Outcome::Reserve(ReserveOutcome::InProgress { .. })
    ));
    let takeover = granted(&out[2][0]);
    assert_eq!(takeover.0, 3 << BATCH_BITS);
    assert!(takeover.0 > tokens[4]);
    // The stored records hold the tokens the outcomes reported.
    for (key, token) in keys.iter().zip(&tokens).take(4) {
        match store.reader.raw_record(&id(key)).unwrap() {
            Some(Record::InProgress(r)) => assert_eq!(r.token.0, *token),
            other => panic!("{key}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn an_entry_refused_as_a_whole_refuses_every_command_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::<TestTypes>::open(dir.path()).unwrap();
    let t = 1_000_000;
    // Stamped in term 1, appended in term 2: the stamp cannot be trusted.
    let out = store
        .state_machine
        .apply_committed(vec![batch(
            2,
            1,
            stamp(1, t),
            vec![reserve("a"), reserve("b"), reserve("c")],
        )])
        .await
        .unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].len(), 3);
    assert!(out[0].iter().all(|o| matches!(
        o,
        Outcome::Refused(Refusal::StampFromAnotherTerm {
            stamp_term: 1,
            entry_term: 2
        })
    )));
    for key in ["a", "b", "c"] {
        assert_eq!(store.reader.raw_record(&id(key)).unwrap(), None);
    }
}
