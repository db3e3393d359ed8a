//! API keys and the auth secret in RocksDB: applied through the log, kept
//! across a restart, carried by snapshots (a snapshot replaces the keys a
//! follower had), and read through the state reader.

mod common;

use common::{copy_snapshot, TestTypes};
use idem_core::*;
use idem_store::Store;

use idem_store::{LeaderId, LogId};
use openraft::EntryPayload;
type Entry = idem_store::Entry<openraft::impls::BasicNode>;

fn entry(index: u64, command: ApiKeyCommand) -> Entry {
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
        payload: EntryPayload::Normal(
            StampedBatch::new(stamp, vec![Command::ApiKey(command)]).unwrap(),
        ),
    }
}

fn key_record(secret: &AuthSecret, key: &PresentedKey) -> ApiKeyRecord {
    ApiKeyRecord {
        id: key.id().clone(),
        name: "ci".into(),
        role: Role::Client,
        scope: NamespaceScope::All,
        hash: key_hash(secret, key),
        expires_at_ms: None,
        revoked: false,
    }
}

#[tokio::test]
async fn keys_survive_a_restart_and_travel_in_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let secret = AuthSecret::from_bytes([3; 32]);
    let kept = PresentedKey::new(ApiKeyId::from_bytes([1; 8]), [1; 32]);
    let revoked = PresentedKey::new(ApiKeyId::from_bytes([2; 8]), [2; 32]);
    {
        let mut store = Store::<TestTypes>::open(dir.path()).unwrap();
        let out = store
            .state_machine
            .apply_committed(vec![
                entry(1, ApiKeyCommand::SetSecret(secret.clone())),
                entry(2, ApiKeyCommand::Create(key_record(&secret, &kept))),
                entry(3, ApiKeyCommand::Create(key_record(&secret, &revoked))),
                entry(4, ApiKeyCommand::Revoke(revoked.id().clone())),
            ])
            .await
            .unwrap();
        assert_eq!(
            out[3],
            vec![Outcome::ApiKey(ApiKeyOutcome::Revoked {
                id: revoked.id().clone()
            })]
        );
    }
    let mut store = Store::<TestTypes>::open(dir.path()).unwrap();
    let read = |s: &Store<TestTypes>, k: &PresentedKey| s.reader.api_key(k.id()).unwrap();
    assert_eq!(store.reader.auth_secret().unwrap(), Some(secret.clone()));
    let r = read(&store, &kept);
    assert!(authenticate(r.as_ref(), &secret, &kept, 0).is_ok());
    let r = read(&store, &revoked);
    assert_eq!(
        authenticate(r.as_ref(), &secret, &revoked, 0),
        Err(NotAuthenticated::Revoked)
    );

    // A follower that had a key of its own gets exactly the leader's.
    let other_dir = tempfile::tempdir().unwrap();
    let mut follower = Store::<TestTypes>::open(other_dir.path()).unwrap();
    let stray = PresentedKey::new(ApiKeyId::from_bytes([9; 8]), [9; 32]);
    follower
        .state_machine
        .apply_committed(vec![entry(
            1,
            ApiKeyCommand::Create(key_record(&secret, &stray)),
        )])
        .await
        .unwrap();
    copy_snapshot(&mut store, &mut follower).await;
    assert_eq!(follower.reader.auth_secret().unwrap(), Some(secret.clone()));
    assert_eq!(read(&follower, &kept), read(&store, &kept));
    assert_eq!(read(&follower, &revoked), read(&store, &revoked));
    assert_eq!(
        read(&follower, &stray),
        None,
        "the snapshot replaced its keys"
    );
}
