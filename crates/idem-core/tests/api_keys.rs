//! API keys: presented keys round-trip and never panic on input; only the
//! right secret authenticates; revoked and expired keys never do; and each
//! role may do exactly its own actions (a client only in its namespaces).

use std::collections::BTreeSet;

use idem_core::{
    apply, authenticate, authorize, key_hash, Action, ApiKeyCommand, ApiKeyId, ApiKeyOutcome,
    ApiKeyRecord, AuthSecret, Command, Entry, Forbidden, HlcTimestamp, IdemKey, KeyId, LogPosition,
    MemoryStore, Namespace, NamespaceScope, NotAuthenticated, Outcome, PresentedKey, RecordStore,
    Reserve, Role, Stamp,
};
use proptest::prelude::*;

fn ns(n: &str) -> Namespace {
    Namespace::new(n).expect("namespace")
}

fn record(
    secret: &AuthSecret,
    key: &PresentedKey,
    role: Role,
    scope: NamespaceScope,
) -> ApiKeyRecord {
    ApiKeyRecord {
        id: key.id().clone(),
        name: "test".into(),
        role,
        scope,
        hash: key_hash(secret, key),
        expires_at_ms: None,
        revoked: false,
    }
}

#[test]
fn a_presented_key_has_one_shape() {
    let key = PresentedKey::new(ApiKeyId::from_bytes([0xab; 8]), [7; 32]);
    let text = key.reveal();
    assert!(text.starts_with("idem_abababababababab_"), "{text}");
    assert_eq!(PresentedKey::parse(&text), Ok(key.clone()));
    assert!(
        !format!("{key:?}").contains(&text[22..]),
        "Debug hides the secret"
    );
    for bad in [
        "",
        "idem_",
        "idem_abababababababab",
        "idem_ABABABABABABABAB_BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc",
        "idem_abab_BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc",
        "idem_abababababababab_short",
        "idem_abababababababab_BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=",
        "Bearer idem_abababababababab_BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc",
    ] {
        assert!(PresentedKey::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn each_role_does_its_own_actions_and_a_client_only_in_its_namespaces() {
    let secret = AuthSecret::from_bytes([1; 32]);
    let key = PresentedKey::new(ApiKeyId::from_bytes([2; 8]), [3; 32]);
    let shop = ns("shop");
    let other = ns("other");
    let client = record(
        &secret,
        &key,
        Role::Client,
        NamespaceScope::Only(BTreeSet::from([shop.clone()])),
    );
    assert_eq!(authorize(&client, Action::UseKeys(&shop)), Ok(()));
    assert_eq!(authorize(&client, Action::ReadNamespace(&shop)), Ok(()));
    assert!(matches!(
        authorize(&client, Action::UseKeys(&other)),
        Err(Forbidden::Namespace { .. })
    ));
    for action in [
        Action::ChangeNamespace(&shop),
        Action::Monitor,
        Action::Administer,
    ] {
        assert_eq!(
            authorize(&client, action),
            Err(Forbidden::Role { role: Role::Client })
        );
    }
    let monitor = record(&secret, &key, Role::Monitor, NamespaceScope::All);
    assert_eq!(authorize(&monitor, Action::Monitor), Ok(()));
    assert!(authorize(&monitor, Action::UseKeys(&shop)).is_err());
    assert!(authorize(&monitor, Action::Administer).is_err());
    let admin = record(
        &secret,
        &key,
        Role::Admin,
        NamespaceScope::Only(BTreeSet::new()),
    );
    for action in [
        Action::UseKeys(&other),
        Action::ChangeNamespace(&shop),
        Action::Monitor,
        Action::Administer,
    ] {
        assert_eq!(authorize(&admin, action), Ok(()));
    }
}

#[test]
fn revoked_and_expired_keys_and_wrong_secrets_are_refused() {
    let secret = AuthSecret::from_bytes([1; 32]);
    let key = PresentedKey::new(ApiKeyId::from_bytes([2; 8]), [3; 32]);
    let mut r = record(&secret, &key, Role::Client, NamespaceScope::All);
    assert!(authenticate(Some(&r), &secret, &key, 0).is_ok());
    assert_eq!(
        authenticate(None, &secret, &key, 0),
        Err(NotAuthenticated::Unknown)
    );
    let wrong = PresentedKey::new(key.id().clone(), [4; 32]);
    assert_eq!(
        authenticate(Some(&r), &secret, &wrong, 0),
        Err(NotAuthenticated::Unknown)
    );
    let other_cluster = AuthSecret::from_bytes([9; 32]);
    assert_eq!(
        authenticate(Some(&r), &other_cluster, &key, 0),
        Err(NotAuthenticated::Unknown)
    );
    r.expires_at_ms = Some(1_000);
    assert!(authenticate(Some(&r), &secret, &key, 999).is_ok());
    assert_eq!(
        authenticate(Some(&r), &secret, &key, 1_000),
        Err(NotAuthenticated::Expired)
    );
    r.revoked = true;
    assert_eq!(
        authenticate(Some(&r), &secret, &key, 0),
        Err(NotAuthenticated::Revoked)
    );
}

/// Applies `command` as the entry at `index` of term 1 (wall time
/// `1_000 + index`).
fn run(store: &mut MemoryStore, index: u64, command: ApiKeyCommand) -> ApiKeyOutcome {
    match run_command(store, index, Command::ApiKey(command)) {
        Outcome::ApiKey(o) => o,
        other => panic!("{other:?}"),
    }
}

fn run_command(store: &mut MemoryStore, index: u64, command: Command) -> Outcome {
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

#[test]
fn keys_are_created_once_revoked_for_good_and_the_secret_set_once() {
    let mut store = MemoryStore::default();
    let secret = AuthSecret::from_bytes([5; 32]);
    assert_eq!(
        run(&mut store, 1, ApiKeyCommand::SetSecret(secret.clone())),
        ApiKeyOutcome::SecretSet
    );
    let other = AuthSecret::from_bytes([6; 32]);
    assert_eq!(
        run(&mut store, 2, ApiKeyCommand::SetSecret(other)),
        ApiKeyOutcome::SecretAlreadySet
    );
    assert_eq!(
        store.auth_secret().unwrap_or_else(|e| match e {}),
        Some(secret.clone())
    );

    let key = PresentedKey::new(ApiKeyId::from_bytes([1; 8]), [2; 32]);
    let r = record(&secret, &key, Role::Client, NamespaceScope::All);
    let id = key.id().clone();
    assert_eq!(
        run(&mut store, 3, ApiKeyCommand::Create(r.clone())),
        ApiKeyOutcome::Created { id: id.clone() }
    );
    let mut admin = r.clone();
    admin.role = Role::Admin;
    assert_eq!(
        run(&mut store, 4, ApiKeyCommand::Create(admin)),
        ApiKeyOutcome::Exists { id: id.clone() },
        "an id is never reused, nor a key's role changed by creating it again"
    );
    let stored = store.api_key(&id).unwrap_or_else(|e| match e {});
    assert_eq!(stored.as_ref().map(|r| r.role), Some(Role::Client));
    assert!(authenticate(stored.as_ref(), &secret, &key, 0).is_ok());

    assert_eq!(
        run(&mut store, 5, ApiKeyCommand::Revoke(id.clone())),
        ApiKeyOutcome::Revoked { id: id.clone() }
    );
    assert_eq!(
        run(&mut store, 6, ApiKeyCommand::Revoke(id.clone())),
        ApiKeyOutcome::Revoked { id: id.clone() }
    );
    let stored = store.api_key(&id).unwrap_or_else(|e| match e {});
    assert_eq!(
        authenticate(stored.as_ref(), &secret, &key, 0),
        Err(NotAuthenticated::Revoked)
    );
    // Creating it again does not bring it back.
    assert_eq!(
        run(&mut store, 7, ApiKeyCommand::Create(r)),
        ApiKeyOutcome::Exists { id: id.clone() }
    );
    let unknown = ApiKeyId::from_bytes([9; 8]);
    assert_eq!(
        run(&mut store, 8, ApiKeyCommand::Revoke(unknown.clone())),
        ApiKeyOutcome::NotFound { id: unknown }
    );
}

fn role() -> impl Strategy<Value = Role> {
    prop_oneof![Just(Role::Client), Just(Role::Monitor), Just(Role::Admin)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn parsing_never_panics_and_every_key_round_trips(
        text in ".{0,80}",
        id in proptest::array::uniform8(any::<u8>()),
        bytes in proptest::array::uniform32(any::<u8>()),
    ) {
        let _ = PresentedKey::parse(&text);
        let key = PresentedKey::new(ApiKeyId::from_bytes(id), bytes);
        prop_assert_eq!(PresentedKey::parse(&key.reveal()), Ok(key));
    }

    #[test]
    fn only_the_exact_key_authenticates_and_only_while_valid(
        secret in proptest::array::uniform32(any::<u8>()),
        id in proptest::array::uniform8(any::<u8>()),
        bytes in proptest::array::uniform32(any::<u8>()),
        other in proptest::array::uniform32(any::<u8>()),
        role in role(),
        expires in proptest::option::of(0u64..1_000),
        revoked in any::<bool>(),
        now in 0u64..1_000,
    ) {
        let secret = AuthSecret::from_bytes(secret);
        let key = PresentedKey::new(ApiKeyId::from_bytes(id), bytes);
        let mut r = record(&secret, &key, role, NamespaceScope::All);
        r.expires_at_ms = expires;
        r.revoked = revoked;
        let valid = !revoked && expires.is_none_or(|at| now < at);
        prop_assert_eq!(authenticate(Some(&r), &secret, &key, now).is_ok(), valid);
        let forged = PresentedKey::new(key.id().clone(), other);
        if other != bytes {
            prop_assert!(authenticate(Some(&r), &secret, &forged, now).is_err());
        }
    }

    #[test]
    fn a_client_never_acts_outside_its_namespaces_and_only_an_admin_administers(
        role in role(),
        allowed in proptest::collection::btree_set("[a-c]", 0..3),
        asked in "[a-d]",
    ) {
        let secret = AuthSecret::from_bytes([0; 32]);
        let key = PresentedKey::new(ApiKeyId::from_bytes([0; 8]), [0; 32]);
        let scope = NamespaceScope::Only(allowed.iter().map(|n| ns(n)).collect());
        let r = record(&secret, &key, role, scope);
        let asked = ns(&asked);
        let uses = authorize(&r, Action::UseKeys(&asked)).is_ok();
        prop_assert_eq!(uses, role == Role::Admin || (role == Role::Client && allowed.contains(asked.as_str())));
        prop_assert_eq!(authorize(&r, Action::Administer).is_ok(), role == Role::Admin);
        prop_assert_eq!(authorize(&r, Action::ChangeNamespace(&asked)).is_ok(), role == Role::Admin);
        prop_assert_eq!(authorize(&r, Action::Monitor).is_ok(), role != Role::Client);
    }
}

fn reserve(key: &str) -> Command {
    Command::Reserve(Reserve {
        id: KeyId::new(ns("payments"), IdemKey::new(key).expect("key")),
        fingerprint: None,
        lease: None,
        retain: None,
        attempt: None,
    })
}

#[test]
fn a_command_made_with_a_key_takes_effect_only_while_the_key_is_in_force() {
    let mut store = MemoryStore::default();
    let secret = AuthSecret::from_bytes([5; 32]);
    run(&mut store, 1, ApiKeyCommand::SetSecret(secret.clone()));
    let key = PresentedKey::new(ApiKeyId::from_bytes([1; 8]), [2; 32]);
    let mut r = record(&secret, &key, Role::Client, NamespaceScope::All);
    // Expires at wall time 1_010: the entry at index 10 is past it.
    r.expires_at_ms = Some(1_010);
    run(&mut store, 2, ApiKeyCommand::Create(r));
    let id = key.id().clone();
    let with = |cmd: Command| cmd.made_with(Some(id.clone()));

    let granted = run_command(&mut store, 3, with(reserve("a")));
    assert!(granted.wrote_record(), "{granted:?}");
    assert_eq!(
        run_command(&mut store, 10, with(reserve("b"))),
        Outcome::KeyNotInForce(NotAuthenticated::Expired)
    );
    let unknown = ApiKeyId::from_bytes([9; 8]);
    assert_eq!(
        run_command(&mut store, 11, reserve("c").made_with(Some(unknown))),
        Outcome::KeyNotInForce(NotAuthenticated::Unknown)
    );
    let b = KeyId::new(ns("payments"), IdemKey::new("b").expect("key"));
    let c = KeyId::new(ns("payments"), IdemKey::new("c").expect("key"));
    assert_eq!(store.record(&b).unwrap_or_else(|e| match e {}), None);
    assert_eq!(store.record(&c).unwrap_or_else(|e| match e {}), None);

    // A revocation is final for every entry after it.
    let key2 = PresentedKey::new(ApiKeyId::from_bytes([3; 8]), [4; 32]);
    run(
        &mut store,
        12,
        ApiKeyCommand::Create(record(&secret, &key2, Role::Client, NamespaceScope::All)),
    );
    let id2 = key2.id().clone();
    run(&mut store, 13, ApiKeyCommand::Revoke(id2.clone()));
    assert_eq!(
        run_command(&mut store, 14, reserve("d").made_with(Some(id2))),
        Outcome::KeyNotInForce(NotAuthenticated::Revoked)
    );
    // Without a key (a cluster without auth) the command simply applies.
    assert!(run_command(&mut store, 15, reserve("d")).wrote_record());
}

#[test]
fn a_rotated_key_stays_in_force_until_its_grace_ends_beside_the_new_one() {
    let mut store = MemoryStore::default();
    let secret = AuthSecret::from_bytes([5; 32]);
    run(&mut store, 1, ApiKeyCommand::SetSecret(secret.clone()));
    let old = PresentedKey::new(ApiKeyId::from_bytes([1; 8]), [2; 32]);
    let scope = NamespaceScope::Only(BTreeSet::from([ns("payments")]));
    run(
        &mut store,
        2,
        ApiKeyCommand::Create(record(&secret, &old, Role::Client, scope.clone())),
    );
    let new = PresentedKey::new(ApiKeyId::from_bytes([7; 8]), [8; 32]);
    let new_record = record(&secret, &new, Role::Client, scope);
    let rotate = |new_record: ApiKeyRecord, until| ApiKeyCommand::Rotate {
        old: old.id().clone(),
        new: new_record,
        old_expires_at_ms: until,
    };
    assert_eq!(
        run(&mut store, 3, rotate(new_record.clone(), 1_020)),
        ApiKeyOutcome::Rotated {
            old: old.id().clone(),
            new: new.id().clone(),
            old_expires_at_ms: 1_020
        }
    );
    let at = |store: &MemoryStore, key: &PresentedKey, now| {
        let r = store.api_key(key.id()).unwrap_or_else(|e| match e {});
        authenticate(r.as_ref(), &secret, key, now).cloned()
    };
    assert!(at(&store, &old, 1_019).is_ok());
    assert_eq!(at(&store, &old, 1_020), Err(NotAuthenticated::Expired));
    assert!(at(&store, &new, 1_020).is_ok());
    // The grace never extends an earlier expiry, and a second rotation
    // with the same new id is refused.
    assert_eq!(
        run(&mut store, 4, rotate(new_record, 9_999)),
        ApiKeyOutcome::Exists {
            id: new.id().clone()
        }
    );
    let other = PresentedKey::new(ApiKeyId::from_bytes([9; 8]), [8; 32]);
    let other_record = record(&secret, &other, Role::Client, NamespaceScope::All);
    assert!(matches!(
        run(&mut store, 5, rotate(other_record.clone(), 9_999)),
        ApiKeyOutcome::Rotated {
            old_expires_at_ms: 1_020,
            ..
        }
    ));
    // A key past its expiry (or revoked) cannot be rotated.
    let late = PresentedKey::new(ApiKeyId::from_bytes([10; 8]), [8; 32]);
    assert_eq!(
        run(
            &mut store,
            30,
            rotate(
                record(&secret, &late, Role::Client, NamespaceScope::All),
                9_999
            )
        ),
        ApiKeyOutcome::NotFound {
            id: old.id().clone()
        }
    );
}
