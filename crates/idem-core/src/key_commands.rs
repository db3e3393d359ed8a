//! Applying what changes API keys, and judging whether the key a command
//! was made with is still in force (see [`crate::command::ByKey`]).

use crate::api_key::{in_force, ApiKeyId, NotAuthenticated};
use crate::command::ApiKeyCommand;
use crate::outcome::ApiKeyOutcome;
use crate::store::RecordStore;
use crate::time::Stamp;

/// Whether `key` is in force at `now` (cluster time): the inner `Err` says
/// why not.
pub fn key_in_force<S: RecordStore>(
    store: &S,
    key: &ApiKeyId,
    now: &Stamp,
) -> Result<Result<(), NotAuthenticated>, S::Error> {
    Ok(in_force(store.api_key(key)?.as_ref(), now.hlc.wall_ms))
}

/// Applies an API key command at `now`: create once, revoke for good,
/// rotate, set the secret once.
pub(crate) fn apply_api_key<S: RecordStore>(
    store: &mut S,
    cmd: &ApiKeyCommand,
    now: &Stamp,
) -> Result<ApiKeyOutcome, S::Error> {
    Ok(match cmd {
        ApiKeyCommand::Create(record) => {
            let id = record.id.clone();
            if store.api_key(&id)?.is_some() {
                ApiKeyOutcome::Exists { id }
            } else {
                store.put_api_key(record.clone())?;
                ApiKeyOutcome::Created { id }
            }
        }
        ApiKeyCommand::Revoke(id) => match store.api_key(id)? {
            None => ApiKeyOutcome::NotFound { id: id.clone() },
            Some(mut record) => {
                if !record.revoked {
                    record.revoked = true;
                    store.put_api_key(record)?;
                }
                ApiKeyOutcome::Revoked { id: id.clone() }
            }
        },
        ApiKeyCommand::SetSecret(secret) => {
            if store.auth_secret()?.is_some() {
                ApiKeyOutcome::SecretAlreadySet
            } else {
                store.set_auth_secret(secret.clone())?;
                ApiKeyOutcome::SecretSet
            }
        }
        ApiKeyCommand::Rotate {
            old,
            new,
            old_expires_at_ms,
        } => {
            let old_record = store.api_key(old)?;
            let Some(mut old_record) =
                old_record.filter(|r| in_force(Some(r), now.hlc.wall_ms).is_ok())
            else {
                return Ok(ApiKeyOutcome::NotFound { id: old.clone() });
            };
            if store.api_key(&new.id)?.is_some() {
                return Ok(ApiKeyOutcome::Exists { id: new.id.clone() });
            }
            let until = old_record
                .expires_at_ms
                .map_or(*old_expires_at_ms, |at| at.min(*old_expires_at_ms));
            old_record.expires_at_ms = Some(until);
            store.put_api_key(old_record)?;
            store.put_api_key(new.clone())?;
            ApiKeyOutcome::Rotated {
                old: old.clone(),
                new: new.id.clone(),
                old_expires_at_ms: until,
            }
        }
    })
}
