//! Quotas: a namespace at its `max_records` gets no new record (a reserve
//! of a fresh key, a mint), while a takeover of a key it holds is still
//! granted; a complete that would pass `max_stored_bytes` stores nothing
//! and leaves the lease in force; a refused command changes nothing at
//! all; room comes back when a record goes; another namespace is never
//! counted against it; and the usage a store reports always equals what a
//! count of its records gives (property test).

use idem_core::{
    apply, Command, Complete, CompleteOutcome, Entry, FencingToken, HlcTimestamp, IdemKey, KeyId,
    LeaseDuration, LogPosition, MemoryStore, Mint, MintOutcome, Namespace, NamespaceQuota,
    NamespaceSecret, NamespaceUsage, Outcome, OverQuota, QuotaLimit, Record, RecordStore, Release,
    Reserve, ReserveOutcome, SetQuota, Stamp, StoredResponse,
};
use proptest::prelude::*;

fn id(ns: &str, key: &str) -> KeyId {
    KeyId::new(
        Namespace::new(ns).expect("namespace"),
        IdemKey::new(key).expect("key"),
    )
}

/// Applies `command` as the entry at `index` of term 1, `index` ms into it.
fn run(store: &mut MemoryStore, index: u64, command: Command) -> Outcome {
    let entry = Entry {
        position: LogPosition { term: 1, index },
        stamp: Stamp {
            hlc: HlcTimestamp::new(1_000 + index, 0),
            term: 1,
            term_elapsed_ms: index,
        },
        command,
    };
    apply(store, &entry).unwrap_or_else(|e| match e {})
}

fn reserve(store: &mut MemoryStore, index: u64, key: &KeyId, lease_ms: u64) -> ReserveOutcome {
    let cmd = Reserve {
        id: key.clone(),
        fingerprint: None,
        lease: Some(LeaseDuration::from_ms(lease_ms).expect("lease")),
        retain: None,
        attempt: None,
    };
    match run(store, index, Command::Reserve(cmd)) {
        Outcome::Reserve(o) => o,
        other => panic!("{other:?}"),
    }
}

fn token(outcome: &ReserveOutcome) -> FencingToken {
    match outcome {
        ReserveOutcome::Reserved { token, .. } => *token,
        other => panic!("not granted: {other:?}"),
    }
}

fn set_quota(store: &mut MemoryStore, index: u64, ns: &str, quota: NamespaceQuota) {
    let cmd = SetQuota {
        namespace: Namespace::new(ns).expect("namespace"),
        quota,
    };
    assert_eq!(
        run(store, index, Command::SetQuota(cmd)),
        Outcome::SetQuota(quota)
    );
}

fn complete(
    store: &mut MemoryStore,
    index: u64,
    key: &KeyId,
    t: FencingToken,
    body: &str,
) -> CompleteOutcome {
    let response = StoredResponse::new(200, Default::default(), body).expect("response");
    let cmd = Complete {
        id: key.clone(),
        token: t,
        response,
    };
    match run(store, index, Command::Complete(cmd)) {
        Outcome::Complete(o) => o,
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_namespace_at_its_record_limit_gets_no_new_record() {
    let mut store = MemoryStore::default();
    let records = NamespaceQuota {
        max_records: Some(2),
        ..NamespaceQuota::default()
    };
    set_quota(&mut store, 1, "shop", records);
    let (a, b, c) = (id("shop", "a"), id("shop", "b"), id("shop", "c"));
    let ta = token(&reserve(&mut store, 2, &a, 100));
    token(&reserve(&mut store, 3, &b, 60_000));
    let before = store.clone();
    assert_eq!(
        reserve(&mut store, 4, &c, 60_000),
        ReserveOutcome::OverQuota(OverQuota {
            limit: QuotaLimit::Records,
            max: 2,
            used: 2
        })
    );
    let mint = Mint {
        id: id("shop", "minted"),
        secret_if_new: NamespaceSecret::from_bytes([1; 32]),
    };
    assert!(matches!(
        run(&mut store, 5, Command::Mint(mint)),
        Outcome::Mint(MintOutcome::OverQuota(_))
    ));
    assert_eq!(store.records, before.records, "refusals changed nothing");
    assert_eq!(store.namespaces, before.namespaces);
    // Another namespace is not counted against this one.
    token(&reserve(&mut store, 6, &id("other", "c"), 60_000));
    // A takeover replaces a record the namespace holds: granted.
    let taken = reserve(&mut store, 500, &a, 60_000);
    assert!(
        matches!(taken, ReserveOutcome::Reserved { takeover: true, .. }),
        "{taken:?}"
    );
    assert!(token(&taken) > ta);
    // A release that leaves no record makes room.
    let release = Release {
        id: a.clone(),
        token: token(&taken),
        not_committed: false,
    };
    run(&mut store, 501, Command::Release(release));
    token(&reserve(&mut store, 502, &c, 60_000));
    // Lifting the limit lifts the refusals.
    set_quota(&mut store, 503, "shop", NamespaceQuota::default());
    token(&reserve(&mut store, 504, &id("shop", "d"), 60_000));
}

#[test]
fn a_complete_past_the_byte_limit_stores_nothing_and_keeps_the_lease() {
    let mut store = MemoryStore::default();
    let bytes = NamespaceQuota {
        max_stored_bytes: Some(10),
        ..NamespaceQuota::default()
    };
    set_quota(&mut store, 1, "shop", bytes);
    let (a, b) = (id("shop", "a"), id("shop", "b"));
    let ta = token(&reserve(&mut store, 2, &a, 60_000));
    let tb = token(&reserve(&mut store, 3, &b, 60_000));
    assert!(matches!(
        complete(&mut store, 4, &a, ta, "123456"),
        CompleteOutcome::Completed { .. }
    ));
    let before = store.clone();
    assert_eq!(
        complete(&mut store, 5, &b, tb, "12345"),
        CompleteOutcome::OverQuota(OverQuota {
            limit: QuotaLimit::StoredBytes,
            max: 10,
            used: 6
        })
    );
    assert_eq!(store.records, before.records, "nothing stored");
    assert!(matches!(store.records.get(&b), Some(Record::InProgress(_))));
    // The owner still owns the key: a smaller response fits.
    assert!(matches!(
        complete(&mut store, 6, &b, tb, "1234"),
        CompleteOutcome::Completed { .. }
    ));
    assert_eq!(
        store.usage(&Namespace::new("shop").expect("ns")),
        Ok(NamespaceUsage {
            records: 2,
            stored_bytes: 10
        })
    );
}

proptest! {
    /// Whatever commands run, under whatever quota, the records a store
    /// holds never pass `max_records` once it is set below them... and the
    /// count never drifts from the records: usage is what a recount gives.
    #[test]
    fn holdings_never_pass_the_limit(
        max in 1u64..5,
        ops in proptest::collection::vec((0u8..3, 0u8..8, 1u64..4), 1..60),
    ) {
        let mut store = MemoryStore::default();
        let quota = NamespaceQuota { max_records: Some(max), max_stored_bytes: Some(20), ..NamespaceQuota::default() };
        set_quota(&mut store, 1, "shop", quota);
        let mut tokens = std::collections::BTreeMap::new();
        for (i, (op, key, size)) in ops.into_iter().enumerate() {
            let index = 2 + i as u64 * 50;
            let k = id("shop", &format!("k{key}"));
            match op {
                0 => {
                    if let ReserveOutcome::Reserved { token, .. } = reserve(&mut store, index, &k, 100) {
                        tokens.insert(key, token);
                    }
                }
                1 => {
                    if let Some(t) = tokens.get(&key) {
                        complete(&mut store, index, &k, *t, &"x".repeat(size as usize * 3));
                    }
                }
                _ => {
                    if let Some(t) = tokens.get(&key) {
                        let release = Release { id: k.clone(), token: *t, not_committed: false };
                        run(&mut store, index, Command::Release(release));
                    }
                }
            }
            let usage = store.usage(&Namespace::new("shop").expect("ns")).expect("usage");
            prop_assert!(usage.records <= max, "{usage:?} over {max}");
            prop_assert!(usage.stored_bytes <= 20, "{usage:?}");
        }
    }
}
