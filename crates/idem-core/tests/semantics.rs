//! One test per row of the semantics table in the design brief, plus the
//! time model's corner cases. Each runs the real `apply` on an in-memory
//! store through the simulated leader in `common/sim.rs`.

mod common;

use common::sim::{id, response, token_of, Nodes, Sim, NS};
use idem_core::*;

// ---- reserve ---------------------------------------------------------------

#[test]
fn reserve_of_an_absent_key_grants_the_log_index_as_token() {
    let mut sim = Sim::new();
    let wall = sim.wall_ms();
    let o = sim.reserve("order-1", Some("fp"), Some(30_000));
    let ReserveOutcome::Reserved {
        token,
        lease_expires_at_ms,
        lease_remaining_ms,
        takeover,
        resumed,
        previous_committing,
    } = o
    else {
        panic!("{o:?}")
    };
    assert!(!resumed && previous_committing.is_empty());
    assert_eq!(token, FencingToken(sim.index));
    assert_eq!(lease_expires_at_ms, wall + 30_000);
    assert_eq!(lease_remaining_ms, 30_000);
    assert!(!takeover);
    let Some(Record::InProgress(r)) = sim.get("order-1") else {
        panic!("not in progress")
    };
    assert_eq!(r.token, token);
    assert_eq!(r.fingerprint, Some(Fingerprint::new("fp").unwrap()));
}

#[test]
fn reserve_uses_the_namespace_defaults_when_the_request_is_silent() {
    let mut sim = Sim::new();
    let token = token_of(&sim.reserve("a", None, None));
    let Some(Record::InProgress(r)) = sim.get("a") else {
        panic!()
    };
    assert_eq!(r.token, token);
    assert_eq!(r.lease_duration, LeaseDuration::DEFAULT);
    assert_eq!(r.retain, RetainDuration::DEFAULT);
}

#[test]
fn reserve_while_the_lease_is_live_is_in_progress_with_retry_after() {
    let mut sim = Sim::new();
    sim.reserve("k", Some("fp"), Some(10_000));
    sim.advance(4_000);
    let o = sim.reserve("k", Some("fp"), Some(10_000));
    assert_eq!(
        o,
        ReserveOutcome::InProgress {
            retry_after_ms: 6_000
        }
    );
}

#[test]
fn reserve_after_the_lease_expired_takes_over_with_a_larger_token() {
    let mut sim = Sim::new();
    let first = token_of(&sim.reserve("k", Some("fp"), Some(1_000)));
    sim.advance(1_000);
    let o = sim.reserve("k", Some("fp"), Some(1_000));
    let ReserveOutcome::Reserved {
        token, takeover, ..
    } = o
    else {
        panic!("{o:?}")
    };
    assert!(takeover);
    assert!(token > first);
    // The old owner has lost the key.
    assert_eq!(
        sim.heartbeat("k", first, None),
        HeartbeatOutcome::Lost(LostKey::Superseded { current: token })
    );
    assert_eq!(
        sim.complete("k", first, "x"),
        CompleteOutcome::Lost(LostKey::Superseded { current: token })
    );
}

#[test]
fn reserve_of_a_completed_key_replays_the_stored_response() {
    let mut sim = Sim::new();
    let token = token_of(&sim.reserve("k", Some("fp"), None));
    sim.complete("k", token, "{\"id\":1}");
    sim.advance(60_000);
    assert_eq!(
        sim.reserve("k", Some("fp"), None),
        ReserveOutcome::Completed {
            token,
            response: response("{\"id\":1}")
        }
    );
}

#[test]
fn fingerprint_mismatch_on_an_in_progress_key_is_refused_and_changes_nothing() {
    let mut sim = Sim::new();
    sim.reserve("k", Some("fp-1"), None);
    let before = sim.store.records.clone();
    assert_eq!(
        sim.reserve("k", Some("fp-2"), None),
        ReserveOutcome::FingerprintMismatch
    );
    assert_eq!(
        sim.reserve("k", None, None),
        ReserveOutcome::FingerprintMismatch
    );
    assert_eq!(sim.store.records, before);
}

#[test]
fn fingerprint_mismatch_on_an_expired_in_progress_key_does_not_take_over() {
    let mut sim = Sim::new();
    sim.reserve("k", Some("fp-1"), Some(1_000));
    sim.advance(5_000);
    assert_eq!(
        sim.reserve("k", Some("fp-2"), None),
        ReserveOutcome::FingerprintMismatch
    );
}

#[test]
fn fingerprint_mismatch_on_a_completed_key_is_refused_and_changes_nothing() {
    let mut sim = Sim::new();
    let token = token_of(&sim.reserve("k", Some("fp-1"), None));
    sim.complete("k", token, "done");
    let before = sim.store.records.clone();
    assert_eq!(
        sim.reserve("k", Some("fp-2"), None),
        ReserveOutcome::FingerprintMismatch
    );
    assert_eq!(sim.store.records, before);
}

#[test]
fn a_forgotten_key_is_free_again() {
    let mut sim = Sim::new();
    let first = token_of(&sim.reserve_with("k", Some("fp-1"), None, Some(2_000)));
    sim.complete("k", first, "done");
    sim.advance(1_999);
    assert!(matches!(
        sim.reserve("k", Some("fp-1"), None),
        ReserveOutcome::Completed { .. }
    ));
    sim.advance(1);
    assert_eq!(sim.get("k"), None);
    // Any request may use the key once it is forgotten.
    let o = sim.reserve("k", Some("fp-2"), None);
    let ReserveOutcome::Reserved {
        token, takeover, ..
    } = o
    else {
        panic!("{o:?}")
    };
    assert!(token > first);
    assert!(!takeover);
}

#[test]
fn a_key_judged_forgotten_stays_forgotten_under_the_next_leader() {
    let mut sim = Sim::new();
    let first = token_of(&sim.reserve_with("k", Some("fp-1"), None, Some(2_000)));
    sim.complete("k", first, "done");
    sim.advance(2_000);
    // The stale owner's heartbeat is judged after the retention ended: the
    // key is absent, and that judgement is written to the log's state.
    assert_eq!(
        sim.heartbeat("k", first, None),
        HeartbeatOutcome::Lost(LostKey::Absent)
    );
    // A new leader counts retention again from its term start, so by its
    // clock alone the completion would still be retained; it must not come
    // back after the key was answered as absent.
    sim.new_term();
    sim.advance(100);
    let o = sim.reserve("k", Some("fp-1"), None);
    assert!(
        matches!(
            o,
            ReserveOutcome::Reserved {
                takeover: false,
                ..
            }
        ),
        "{o:?}"
    );
}

// ---- heartbeat -------------------------------------------------------------

#[test]
fn heartbeat_by_the_owner_extends_the_lease() {
    let mut sim = Sim::new();
    let token = token_of(&sim.reserve("k", None, Some(1_000)));
    sim.advance(900);
    let wall = sim.wall_ms();
    assert_eq!(
        sim.heartbeat("k", token, Some(2_000)),
        HeartbeatOutcome::Extended {
            token,
            lease_expires_at_ms: wall + 2_000,
            lease_remaining_ms: 2_000,
            committing: false,
        }
    );
    sim.advance(1_500);
    // 2.4 s after the grant, but 1.5 s after the heartbeat: still owned.
    assert!(matches!(
        sim.reserve("k", None, None),
        ReserveOutcome::InProgress {
            retry_after_ms: 500
        }
    ));
}

#[test]
fn heartbeat_with_a_stale_or_unknown_token_is_refused_and_changes_nothing() {
    let mut sim = Sim::new();
    let old = token_of(&sim.reserve("k", None, Some(1_000)));
    sim.advance(1_000);
    let new = token_of(&sim.reserve("k", None, Some(1_000)));
    let before = sim.store.records.clone();
    assert_eq!(
        sim.heartbeat("k", old, None),
        HeartbeatOutcome::Lost(LostKey::Superseded { current: new })
    );
    assert_eq!(
        sim.heartbeat("k", FencingToken(new.0 + 100), None),
        HeartbeatOutcome::Lost(LostKey::Superseded { current: new })
    );
    assert_eq!(
        sim.heartbeat("other", new, None),
        HeartbeatOutcome::Lost(LostKey::Absent)
    );
    assert_eq!(sim.store.records, before);
}

#[test]
fn heartbeat_after_completion_is_refused() {
    let mut sim = Sim::new();
    let token = token_of(&sim.reserve("k", None, None));
    sim.complete("k", token, "done");
    assert_eq!(
        sim.heartbeat("k", token, None),
        HeartbeatOutcome::Lost(LostKey::Completed { by: token })
    );
}

// ---- complete --------------------------------------------------------------

#[test]
fn complete_by_the_owner_stores_the_response_for_its_retention() {
    let mut sim = Sim::new();
    let token = token_of(&sim.reserve_with("k", Some("fp"), None, Some(60_000)));
    let wall = sim.wall_ms();
    assert_eq!(
        sim.complete("k", token, "ok"),
        CompleteOutcome::Completed {
            token,
            retain_until_ms: wall + 60_000,
            retain_remaining_ms: 60_000,
        }
    );
    let Some(Record::Completed(c)) = sim.get("k") else {
        panic!()
    };
    assert_eq!(c.response, response("ok"));
    assert_eq!(c.token, token);
}

#[test]
fn repeating_the_same_completion_is_idempotent() {
    let mut sim = Sim::new();
    let token = token_of(&sim.reserve("k", None, None));
    let CompleteOutcome::Completed {
        retain_until_ms,
        retain_remaining_ms,
        ..
    } = sim.complete("k", token, "ok")
    else {
        panic!()
    };
    let before = sim.store.records.clone();
    sim.advance(10);
    assert_eq!(
        sim.complete("k", token, "ok"),
        CompleteOutcome::AlreadyCompleted {
            token,
            retain_until_ms,
            retain_remaining_ms: retain_remaining_ms - 10,
        }
    );
    assert_eq!(sim.store.records, before);
}

#[test]
fn a_different_completion_by_the_same_owner_is_refused() {
    let mut sim = Sim::new();
    let token = token_of(&sim.reserve("k", None, None));
    sim.complete("k", token, "first");
    let before = sim.store.records.clone();
    assert_eq!(
        sim.complete("k", token, "second"),
        CompleteOutcome::ConflictingResponse { token }
    );
    assert_eq!(sim.store.records, before);
}

#[test]
fn complete_with_a_stale_token_is_refused_and_changes_nothing() {
    let mut sim = Sim::new();
    let old = token_of(&sim.reserve("k", Some("fp"), Some(1_000)));
    sim.advance(1_000);
    let new = token_of(&sim.reserve("k", Some("fp"), Some(1_000)));
    let before = sim.store.records.clone();
    assert_eq!(
        sim.complete("k", old, "late"),
        CompleteOutcome::Lost(LostKey::Superseded { current: new })
    );
    assert_eq!(sim.store.records, before);
    // ...and after the new owner completes, the old token still cannot.
    sim.complete("k", new, "ok");
    assert_eq!(
        sim.complete("k", old, "late"),
        CompleteOutcome::Lost(LostKey::Completed { by: new })
    );
}

#[test]
fn an_owner_whose_lease_ran_out_but_was_not_taken_over_may_complete() {
    let mut sim = Sim::new();
    let token = token_of(&sim.reserve("k", None, Some(1_000)));
    sim.advance(5_000);
    assert!(matches!(
        sim.complete("k", token, "slow but fine"),
        CompleteOutcome::Completed { .. }
    ));
}

// ---- release ---------------------------------------------------------------

#[test]
fn release_by_the_owner_frees_the_key() {
    let mut sim = Sim::new();
    let token = token_of(&sim.reserve("k", Some("fp"), None));
    assert_eq!(sim.release("k", token), ReleaseOutcome::Released { token });
    assert_eq!(sim.get("k"), None);
    let o = sim.reserve("k", Some("other"), None);
    assert!(
        matches!(
            o,
            ReserveOutcome::Reserved {
                takeover: false,
                ..
            }
        ),
        "{o:?}"
    );
    assert_eq!(
        sim.complete("k", token, "x"),
        CompleteOutcome::Lost(LostKey::Superseded {
            current: token_of(&o)
        })
    );
}

#[test]
fn release_with_a_stale_token_is_refused_and_changes_nothing() {
    let mut sim = Sim::new();
    let old = token_of(&sim.reserve("k", None, Some(1_000)));
    sim.advance(1_000);
    let new = token_of(&sim.reserve("k", None, Some(1_000)));
    let before = sim.store.records.clone();
    assert_eq!(
        sim.release("k", old),
        ReleaseOutcome::Lost(LostKey::Superseded { current: new })
    );
    assert_eq!(sim.store.records, before);
}

// ---- get -------------------------------------------------------------------

#[test]
fn get_shows_the_record_or_nothing() {
    let mut sim = Sim::new();
    assert_eq!(sim.get("k"), None);
    let token = token_of(&sim.reserve("k", None, None));
    assert_eq!(sim.get("k").and_then(|r| r.token()), Some(token));
    assert_eq!(sim.get("k").map(|r| r.state_name()), Some("in_progress"));
}

// ---- the time model --------------------------------------------------------

#[test]
fn a_wall_clock_jump_forward_does_not_end_a_lease() {
    let mut sim = Sim::new();
    sim.reserve("k", None, Some(10_000));
    sim.skew(10 * 60_000);
    sim.advance(1_000);
    let o = sim.reserve("k", None, Some(10_000));
    assert_eq!(
        o,
        ReserveOutcome::InProgress {
            retry_after_ms: 9_000
        }
    );
}

#[test]
fn monotonic_time_alone_does_not_end_a_lease_while_the_hlc_deadline_is_ahead() {
    let mut sim = Sim::new();
    sim.reserve("k", None, Some(1_000));
    // The wall clock steps back a minute: cluster time is steered back by
    // a tenth of real time, no more, so the HLC bound passes at 1/0.9 of
    // the lease, not a minute later.
    sim.skew(-60_000);
    sim.advance(1_100);
    assert!(matches!(
        sim.reserve("k", None, None),
        ReserveOutcome::InProgress { retry_after_ms: 10 }
    ));
    sim.advance(12);
    assert!(matches!(
        sim.reserve("k", None, None),
        ReserveOutcome::Reserved { takeover: true, .. }
    ));
}

#[test]
fn every_clock_ten_minutes_ahead_for_five_seconds_holds_no_lease_late() {
    let mut sim = Sim::new();
    sim.reserve("k", None, Some(2_000));
    sim.skew_nodes(Nodes::All, 600_000);
    for _ in 0..5 {
        sim.advance(1_000);
        sim.reserve("other", None, None);
    }
    sim.correct_nodes(Nodes::All);
    sim.reserve("k2", None, Some(2_000));
    sim.advance(2_000);
    assert!(matches!(
        sim.reserve("k2", None, None),
        ReserveOutcome::InProgress { .. }
    ));
    // Cluster time was 0.5 s ahead and is steered back at a tenth: the
    // lease ends at most 2/0.9 s after it began.
    sim.advance(223);
    assert!(matches!(
        sim.reserve("k2", None, None),
        ReserveOutcome::Reserved { takeover: true, .. }
    ));
}

#[test]
fn a_new_leader_counts_the_lease_from_its_term_start() {
    let mut sim = Sim::new();
    sim.reserve("k", None, Some(10_000));
    sim.advance(8_000);
    sim.new_term();
    sim.advance(3_000);
    // 11 s since the grant, but only 3 s into the new term: a new leader
    // cannot know how long ago the grant was, so it waits a full lease.
    assert_eq!(
        sim.reserve("k", None, None),
        ReserveOutcome::InProgress {
            retry_after_ms: 7_000
        }
    );
    sim.advance(7_000);
    assert!(matches!(
        sim.reserve("k", None, None),
        ReserveOutcome::Reserved { takeover: true, .. }
    ));
}

#[test]
fn a_fast_new_leader_still_waits_a_full_lease() {
    let mut sim = Sim::new();
    sim.reserve("k", None, Some(5_000));
    sim.new_term();
    sim.skew(3_600_000);
    sim.advance(4_999);
    assert!(matches!(
        sim.reserve("k", None, None),
        ReserveOutcome::InProgress { retry_after_ms: 1 }
    ));
}

#[test]
fn retention_also_waits_for_both_bounds() {
    let mut sim = Sim::new();
    let token = token_of(&sim.reserve_with("k", None, None, Some(5_000)));
    sim.complete("k", token, "ok");
    sim.skew(86_400_000);
    sim.advance(100);
    assert!(matches!(
        sim.reserve("k", None, None),
        ReserveOutcome::Completed { .. }
    ));
    assert!(sim.get("k").is_some());
    let purged = sim.purge(&["k"]);
    assert!(purged.purged.is_empty());
    sim.advance(5_000);
    assert_eq!(sim.get("k"), None);
}

#[test]
fn an_entry_stamped_in_another_term_is_refused() {
    let mut sim = Sim::new();
    let stamp = sim.stamp();
    let entry = Entry {
        position: LogPosition {
            term: stamp.term + 1,
            index: 99,
        },
        stamp,
        command: Command::Release(Release {
            id: id("k"),
            token: FencingToken(1),
            not_committed: false,
        }),
    };
    let before = sim.store.clone();
    let o = apply(&mut sim.store, &entry).unwrap_or_else(|e| match e {});
    assert_eq!(
        o,
        Outcome::Refused(Refusal::StampFromAnotherTerm {
            stamp_term: 1,
            entry_term: 2
        })
    );
    assert_eq!(sim.store, before);
}

#[test]
fn an_entry_stamped_in_an_older_term_than_applied_time_is_refused() {
    let mut sim = Sim::new();
    sim.new_term();
    sim.reserve("k", None, None);
    let mut stamp = sim.stamp();
    stamp.term = 1;
    let entry = Entry {
        position: LogPosition { term: 1, index: 99 },
        stamp,
        command: Command::Reserve(Reserve {
            id: id("j"),
            fingerprint: None,
            lease: None,
            retain: None,
            attempt: None,
        }),
    };
    let before = sim.store.clone();
    let o = apply(&mut sim.store, &entry).unwrap_or_else(|e| match e {});
    assert_eq!(
        o,
        Outcome::Refused(Refusal::StaleStamp {
            stamp_term: 1,
            applied_term: 2
        })
    );
    assert_eq!(sim.store, before);
}

#[test]
fn the_applied_clock_never_goes_backwards() {
    let clock = AppliedClock(Stamp {
        hlc: HlcTimestamp::new(1_000, 3),
        term: 2,
        term_elapsed_ms: 500,
    });
    let earlier = Stamp {
        hlc: HlcTimestamp::new(900, 0),
        term: 2,
        term_elapsed_ms: 400,
    };
    assert_eq!(clock.advance(&earlier).map(|c| c.now()), Ok(clock.now()));
    let next_term = Stamp {
        hlc: HlcTimestamp::new(950, 0),
        term: 3,
        term_elapsed_ms: 10,
    };
    let moved = clock.advance(&next_term).map(|c| c.now());
    assert_eq!(
        moved,
        Ok(Stamp {
            hlc: HlcTimestamp::new(1_000, 3),
            term: 3,
            term_elapsed_ms: 10
        })
    );
}

// ---- purge -----------------------------------------------------------------

#[test]
fn purge_deletes_only_what_is_due() {
    let mut sim = Sim::new();
    let a = token_of(&sim.reserve_with("a", None, None, Some(1_000)));
    sim.complete("a", a, "ok");
    let b = token_of(&sim.reserve_with("b", None, None, Some(10_000)));
    sim.complete("b", b, "ok");
    // An abandoned reservation: lease 1 s plus retention 1 s.
    sim.reserve_with("c", None, Some(1_000), Some(1_000));
    sim.advance(2_000);
    let out = sim.purge(&["a", "b", "c", "never"]);
    assert_eq!(out.purged, vec![id("a"), id("c")]);
    assert_eq!(out.skipped, 2);
    // "b" is due 8 s later.
    assert_eq!(out.next_due_in_ms, Some(8_000));
    assert!(sim.get("b").is_some());
}

// ---- namespaces, mint, derive ---------------------------------------------

fn ns() -> Namespace {
    Namespace::new(NS).unwrap()
}

fn set_policy(sim: &mut Sim, change: PolicyChange, secret: u8) -> NamespacePolicy {
    let cmd = Command::SetPolicy(SetPolicy {
        namespace: ns(),
        change,
        secret_if_new: NamespaceSecret::from_bytes([secret; 32]),
    });
    match sim.submit(cmd) {
        Outcome::SetPolicy(p) => p,
        o => panic!("{o:?}"),
    }
}

fn mint(sim: &mut Sim, key: &IdemKey) -> MintOutcome {
    let cmd = Command::Mint(Mint {
        id: KeyId::new(ns(), key.clone()),
        secret_if_new: NamespaceSecret::from_bytes([7; 32]),
    });
    match sim.submit(cmd) {
        Outcome::Mint(m) => m,
        o => panic!("{o:?}"),
    }
}

fn derive(sim: &mut Sim, payload: &str, secret: u8) -> IdemKey {
    let cmd = Command::Derive(Derive {
        namespace: ns(),
        payload: CanonicalPayload::from_json(payload).unwrap(),
        secret_if_new: NamespaceSecret::from_bytes([secret; 32]),
    });
    match sim.submit(cmd) {
        Outcome::Derive(d) => d.key,
        o => panic!("{o:?}"),
    }
}

#[test]
fn namespace_policy_sets_the_defaults_for_its_keys() {
    let mut sim = Sim::new();
    let policy = set_policy(
        &mut sim,
        PolicyChange {
            default_lease: Some(LeaseDuration::from_ms(2_000).unwrap()),
            ..Default::default()
        },
        1,
    );
    assert_eq!(policy.default_lease.as_ms(), 2_000);
    assert_eq!(policy.default_retain, RetainDuration::DEFAULT);
    sim.reserve("k", None, None);
    let Some(Record::InProgress(r)) = sim.get("k") else {
        panic!()
    };
    assert_eq!(r.lease_duration.as_ms(), 2_000);
}

#[test]
fn a_namespace_that_requires_minted_keys_refuses_others() {
    let mut sim = Sim::new();
    set_policy(
        &mut sim,
        PolicyChange {
            require_minted_keys: Some(true),
            ..Default::default()
        },
        1,
    );
    assert_eq!(
        sim.reserve("made-up", None, None),
        ReserveOutcome::KeyNotMinted
    );
    let key = minted_key(sim.wall_ms(), [9; 10]);
    assert!(matches!(mint(&mut sim, &key), MintOutcome::Minted { .. }));
    assert_eq!(mint(&mut sim, &key), MintOutcome::KeyExists);
    let token = token_of(&sim.reserve(key.as_str(), None, None));
    // A released minted key can be reserved again.
    sim.release(key.as_str(), token);
    assert_eq!(
        sim.get(key.as_str()).map(|r| r.state_name()),
        Some("minted")
    );
    assert!(matches!(
        sim.reserve(key.as_str(), None, None),
        ReserveOutcome::Reserved { .. }
    ));
}

#[test]
fn minted_keys_are_uuid_v7() {
    let key = minted_key(1_800_000_000_000, [1; 10]);
    let uuid = uuid::Uuid::parse_str(key.as_str()).unwrap();
    assert_eq!(uuid.get_version_num(), 7);
    assert_ne!(minted_key(1_800_000_000_000, [2; 10]), key);
}

#[test]
fn derive_is_deterministic_and_ignores_member_order_and_whitespace() {
    let mut sim = Sim::new();
    let a = derive(
        &mut sim,
        r#"{"amount": 100, "currency": "EUR", "to": {"iban": "X", "bic": "Y"}}"#,
        1,
    );
    // The second derive proposes another secret; the namespace keeps its first.
    let b = derive(
        &mut sim,
        r#"{"to":{"bic":"Y","iban":"X"},"currency":"EUR","amount":100}"#,
        2,
    );
    assert_eq!(a, b);
    assert_eq!(a.as_str().len(), 43);
    let c = derive(
        &mut sim,
        r#"{"amount": 101, "currency": "EUR", "to": {"iban": "X", "bic": "Y"}}"#,
        1,
    );
    assert_ne!(a, c);
}

#[test]
fn derived_keys_depend_on_the_secret() {
    let p = CanonicalPayload::from_json(r#"{"a":1}"#).unwrap();
    let k1 = derive_key(&NamespaceSecret::from_bytes([1; 32]), &p);
    let k2 = derive_key(&NamespaceSecret::from_bytes([2; 32]), &p);
    assert_ne!(k1, k2);
    assert_eq!(derive_key(&NamespaceSecret::from_bytes([1; 32]), &p), k1);
}

#[test]
fn canonical_payloads_are_checked() {
    assert_eq!(
        CanonicalPayload::from_json(r#"{ "b" : [1, 2], "a" : null }"#)
            .unwrap()
            .as_str(),
        r#"{"a":null,"b":[1,2]}"#
    );
    assert!(CanonicalPayload::from_json("{not json").is_err());
    let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
    assert!(matches!(
        CanonicalPayload::from_json(&deep),
        Err(InvalidInput::DerivePayloadTooDeep { .. })
    ));
    // From the log, only canonical text is accepted.
    let r: Result<CanonicalPayload, _> = serde_json::from_str(r#""{\"b\":1, \"a\":2}""#);
    assert!(r.is_err());
}

// ---- input validation -------------------------------------------------------

#[test]
fn keys_are_validated() {
    assert!(IdemKey::new("order-42/retry").is_ok());
    assert!(IdemKey::new("ü".repeat(127)).is_ok());
    assert_eq!(
        IdemKey::new(""),
        Err(InvalidInput::KeyLength { len: 0, max: 255 })
    );
    assert_eq!(
        IdemKey::new("x".repeat(256)),
        Err(InvalidInput::KeyLength { len: 256, max: 255 })
    );
    assert_eq!(
        IdemKey::new("a\nb"),
        Err(InvalidInput::KeyControlCharacter { code: 10 })
    );
    assert!(IdemKey::new("a\u{7f}").is_err());
    assert!(serde_json::from_str::<IdemKey>("\"a\\u0000\"").is_err());
}

#[test]
fn namespaces_are_short_slugs() {
    for ok in ["payments", "orders-eu.v2", "a", "0_x"] {
        assert!(Namespace::new(ok).is_ok(), "{ok}");
    }
    for bad in ["", "Payments", "-x", "a b", "a/b", &"x".repeat(65)] {
        assert!(Namespace::new(bad).is_err(), "{bad}");
    }
}

#[test]
fn durations_have_sane_bounds() {
    assert!(LeaseDuration::from_ms(99).is_err());
    assert!(LeaseDuration::from_ms(100).is_ok());
    assert!(LeaseDuration::from_ms(3_600_000).is_ok());
    assert!(LeaseDuration::from_ms(3_600_001).is_err());
    assert!(RetainDuration::from_ms(999).is_err());
    assert!(RetainDuration::from_ms(30 * 86_400_000).is_ok());
    assert!(RetainDuration::from_ms(u64::MAX).is_err());
    assert!(serde_json::from_str::<LeaseDuration>("0").is_err());
}

#[test]
fn responses_are_validated() {
    use std::collections::BTreeMap;
    assert!(StoredResponse::new(99, BTreeMap::new(), "").is_err());
    assert!(StoredResponse::new(600, BTreeMap::new(), "").is_err());
    let mut bad_name = BTreeMap::new();
    bad_name.insert("bad name".to_string(), "v".to_string());
    assert!(StoredResponse::new(200, bad_name, "").is_err());
    let mut bad_value = BTreeMap::new();
    bad_value.insert("x-a".to_string(), "v\r\nset-cookie: x".to_string());
    assert!(StoredResponse::new(200, bad_value, "").is_err());
    let ok: StoredResponse =
        serde_json::from_str(r#"{"status":201,"headers":{"location":"/o/1"},"body":"{}"}"#)
            .unwrap();
    assert_eq!(ok.status(), 201);
    assert!(serde_json::from_str::<StoredResponse>(r#"{"status":201,"extra":1}"#).is_err());
}

#[test]
fn records_round_trip_through_bincode_and_json() {
    let mut sim = Sim::new();
    let token = token_of(&sim.reserve("k", Some("fp"), None));
    sim.complete("k", token, "ok");
    sim.reserve("j", None, None);
    for record in sim.store.records.values() {
        let bytes = bincode::serialize(record).unwrap();
        assert_eq!(&bincode::deserialize::<Record>(&bytes).unwrap(), record);
        let text = serde_json::to_string(record).unwrap();
        assert_eq!(&serde_json::from_str::<Record>(&text).unwrap(), record);
    }
}

// ---- attempts: resumable reserves -------------------------------------------

fn reserve_by(sim: &mut Sim, key: &str, fp: Option<&str>, attempt: usize) -> ReserveOutcome {
    sim.reserve_as(key, fp, Some(1_000), None, Some(attempt))
}

#[test]
fn the_same_attempt_resumes_its_grant_with_the_same_token_and_a_new_lease() {
    let mut sim = Sim::new();
    let token = token_of(&reserve_by(&mut sim, "k", Some("fp"), 0));
    sim.advance(800);
    let o = reserve_by(&mut sim, "k", Some("fp"), 0);
    let ReserveOutcome::Reserved {
        token: again,
        lease_remaining_ms,
        resumed: true,
        takeover: false,
        ..
    } = o
    else {
        panic!("{o:?}")
    };
    assert_eq!(again, token);
    assert_eq!(lease_remaining_ms, 1_000);
    // The resume extended the lease: 1.5 s after the grant it still holds.
    sim.advance(700);
    assert!(matches!(
        reserve_by(&mut sim, "k", Some("fp"), 1),
        ReserveOutcome::InProgress { .. }
    ));
    // Its owner still holds it with the same token.
    assert!(matches!(
        sim.complete("k", token, "{}"),
        CompleteOutcome::Completed { .. }
    ));
}

#[test]
fn a_resume_needs_the_same_attempt_and_the_same_fingerprint() {
    let mut sim = Sim::new();
    token_of(&reserve_by(&mut sim, "k", Some("fp"), 0));
    // Another attempt, or none, is told the key is in progress.
    assert!(matches!(
        reserve_by(&mut sim, "k", Some("fp"), 1),
        ReserveOutcome::InProgress { .. }
    ));
    assert!(matches!(
        sim.reserve("k", Some("fp"), Some(1_000)),
        ReserveOutcome::InProgress { .. }
    ));
    // The same attempt with another request is a reused key.
    assert_eq!(
        reserve_by(&mut sim, "k", Some("other"), 0),
        ReserveOutcome::FingerprintMismatch
    );
    // A grant made without an attempt is never resumed.
    let mut sim = Sim::new();
    sim.reserve("j", None, Some(1_000));
    assert!(matches!(
        reserve_by(&mut sim, "j", None, 0),
        ReserveOutcome::InProgress { .. }
    ));
}

#[test]
fn an_owner_past_its_lease_resumes_until_someone_takes_over() {
    let mut sim = Sim::new();
    let token = token_of(&reserve_by(&mut sim, "k", None, 0));
    sim.advance(5_000);
    let o = reserve_by(&mut sim, "k", None, 0);
    assert!(
        matches!(o, ReserveOutcome::Reserved { token: t, resumed: true, .. } if t == token),
        "{o:?}"
    );
    sim.advance(5_000);
    let next = token_of(&reserve_by(&mut sim, "k", None, 1));
    assert!(next > token);
    // The first attempt comes back too late: the key is someone else's.
    assert!(matches!(
        reserve_by(&mut sim, "k", None, 0),
        ReserveOutcome::InProgress { .. }
    ));
}

#[test]
fn a_completed_key_replays_to_its_own_attempt_too() {
    let mut sim = Sim::new();
    let token = token_of(&reserve_by(&mut sim, "k", None, 0));
    sim.complete("k", token, "{\"ok\":1}");
    assert!(matches!(
        reserve_by(&mut sim, "k", None, 0),
        ReserveOutcome::Completed { token: t, .. } if t == token
    ));
}

// ---- committing ------------------------------------------------------------

#[test]
fn a_takeover_of_a_committing_reservation_names_the_tokens_that_may_have_acted() {
    let mut sim = Sim::new();
    let first = token_of(&sim.reserve("k", None, Some(1_000)));
    let o = sim.heartbeat_marking("k", first, None, true);
    assert!(
        matches!(
            o,
            HeartbeatOutcome::Extended {
                committing: true,
                ..
            }
        ),
        "{o:?}"
    );
    sim.advance(1_500);
    let o = sim.reserve("k", None, Some(1_000));
    let ReserveOutcome::Reserved {
        token: second,
        takeover: true,
        previous_committing,
        ..
    } = o
    else {
        panic!("{o:?}")
    };
    assert_eq!(previous_committing, vec![first]);
    let Some(Record::InProgress(r)) = sim.get("k") else {
        panic!()
    };
    assert_eq!(r.committing, vec![first]);
    // A second takeover, the second owner not committing: both are still
    // told about the first.
    sim.advance(1_500);
    let o = sim.reserve("k", None, Some(1_000));
    assert!(
        matches!(&o, ReserveOutcome::Reserved { previous_committing, .. } if previous_committing == &vec![first]),
        "{o:?}"
    );
    let third = token_of(&o);
    sim.heartbeat_marking("k", third, None, true);
    sim.advance(1_500);
    let o = sim.reserve("k", None, Some(1_000));
    assert!(
        matches!(&o, ReserveOutcome::Reserved { previous_committing, .. } if previous_committing == &vec![first, third]),
        "{o:?}"
    );
    assert!(second < third);
    // Completion ends the history.
    let fourth = token_of(&o);
    sim.complete("k", fourth, "{}");
    let Some(Record::Completed(_)) = sim.get("k") else {
        panic!()
    };
}

#[test]
fn a_committing_owner_releases_only_by_asserting_it_did_not_commit() {
    let mut sim = Sim::new();
    let token = token_of(&sim.reserve("k", None, Some(1_000)));
    sim.heartbeat_marking("k", token, None, true);
    assert_eq!(
        sim.release("k", token),
        ReleaseOutcome::Committing { token }
    );
    assert!(matches!(sim.get("k"), Some(Record::InProgress(_))));
    assert_eq!(
        sim.release_asserting("k", token, true),
        ReleaseOutcome::Released { token }
    );
    // It asserted it did not act, and nobody else did: no history is kept.
    assert_eq!(sim.get("k"), None);
}

#[test]
fn a_release_after_a_committing_takeover_keeps_the_history_for_the_next_grant() {
    let mut sim = Sim::new();
    let first = token_of(&sim.reserve("k", Some("fp"), Some(1_000)));
    sim.heartbeat_marking("k", first, None, true);
    sim.advance(1_500);
    let second = token_of(&sim.reserve("k", Some("fp"), Some(1_000)));
    // The second owner gives up without acting.
    assert_eq!(
        sim.release("k", second),
        ReleaseOutcome::Released { token: second }
    );
    let Some(Record::Released(r)) = sim.get("k") else {
        panic!("{:?}", sim.get("k"))
    };
    assert_eq!(r.committing, vec![first]);
    // The releaser owns nothing any more.
    assert_eq!(
        sim.heartbeat("k", second, None),
        HeartbeatOutcome::Lost(LostKey::Absent)
    );
    // The key stays bound to its request.
    assert_eq!(
        sim.reserve("k", Some("other"), Some(1_000)),
        ReserveOutcome::FingerprintMismatch
    );
    let o = sim.reserve("k", Some("fp"), Some(1_000));
    assert!(
        matches!(&o, ReserveOutcome::Reserved { takeover: true, previous_committing, .. } if previous_committing == &vec![first]),
        "{o:?}"
    );
}

#[test]
fn a_resume_echoes_the_takeover_and_the_committing_tokens() {
    let mut sim = Sim::new();
    let first = token_of(&sim.reserve("k", None, Some(1_000)));
    sim.heartbeat_marking("k", first, None, true);
    sim.advance(1_500);
    let second = token_of(&reserve_by(&mut sim, "k", None, 0));
    let o = reserve_by(&mut sim, "k", None, 0);
    assert_eq!(
        o,
        ReserveOutcome::Reserved {
            token: second,
            lease_expires_at_ms: sim.wall_ms() + 1_000,
            lease_remaining_ms: 1_000,
            takeover: true,
            resumed: true,
            previous_committing: vec![first],
        }
    );
}
