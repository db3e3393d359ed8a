//! API keys: presented keys round-trip and never panic on input; only the
//! right secret authenticates; revoked and expired keys never do; and each
//! role may do exactly its own actions (a client only in its namespaces).

use std::collections::BTreeSet;

use idem_core::{
    apply, authenticate, authorize, key_hash, Action, ApiKeyCommand, ApiKeyId, ApiKeyOutcome,
    ApiKeyRecord, AuthSecret, Command, Entry, Forbidden, HlcTimestamp, LogPosition, MemoryStore,
    Namespace, NamespaceScope, NotAuthenticated, Outcome, PresentedKey, RecordStore, Role, Stamp,
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

/// Applies `command` as the entry at `index` of term 1.
fn run(store: &mut MemoryStore, index: u64, command: ApiKeyCommand) -> ApiKeyOutcome {
    let entry = Entry {
        position: LogPosition { term: 1, index },
        stamp: Stamp {
            hlc: HlcTimestamp::new(1_000 + index, 0),
            term: 1,
            term_elapsed_ms: index,
        },
        command: Command::ApiKey(command),
    };
    match apply(store, &entry).unwrap_or_else(|e| match e {}) {
        Outcome::ApiKey(o) => o,
        other => panic!("{other:?}"),
    }
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
