//! The cluster's first API key: one node of a new cluster (the lowest id
//! of the initial members) draws the cluster's auth secret and an admin
//! key, writes the key to a file only its user can read, and proposes both
//! through the log. A node that joins never draws one.
//!
//! Both are written to `auth-bootstrap.json` in the data directory before
//! the node first starts, so that a crash before they are applied only
//! delays them: on every start the file is found and proposed again (both
//! proposals are idempotent), and it is deleted once the admin key works.
//! A cluster made by a release without API keys has no secret: its
//! bootstrapping node draws them the same way once it finds none.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use idem_core::{
    authenticate, key_hash, ApiKeyCommand, ApiKeyId, ApiKeyOutcome, ApiKeyRecord, AuthSecret,
    Command, NamespaceScope, Outcome, PresentedKey, Role,
};
use serde::{Deserialize, Serialize};

use crate::backend::{auth_secret, Backend, Freshness};

/// The pending bootstrap in the data directory.
const PENDING_FILE: &str = "auth-bootstrap.json";
/// Where the admin key goes unless told otherwise.
pub const DEFAULT_ADMIN_KEY_FILE: &str = "admin.key";
/// The admin key's name in `idem auth list`.
const ADMIN_KEY_NAME: &str = "bootstrap admin";

#[derive(Serialize, Deserialize)]
struct Pending {
    secret: AuthSecret,
    admin_key: String,
}

/// What a bootstrapping node proposes until it is applied.
struct AuthBootstrap {
    pending_path: PathBuf,
    secret: AuthSecret,
    admin: PresentedKey,
}

/// A file only its owner may read and write, written in full and synced.
pub fn write_private(path: &Path, contents: &[u8]) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Reads an admin key from `path` (its text, surrounding whitespace
/// ignored).
pub fn read_key_file(path: &Path) -> Result<PresentedKey, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the API key in {}: {e}", path.display()))?;
    PresentedKey::parse(text.trim()).map_err(|_| {
        format!(
            "{} does not hold an API key (idem_<16 hex digits>_<43 characters>)",
            path.display()
        )
    })
}

/// What the bootstrapping node does once it runs: propose a pending
/// bootstrap, or see whether the cluster has a secret and make one if not.
pub struct BootstrapTask {
    data: PathBuf,
    admin_key_file: PathBuf,
    pending: Option<AuthBootstrap>,
}

impl BootstrapTask {
    /// Run before the node starts, on the node that bootstraps a cluster
    /// (or on any node with a pending bootstrap left). On the first start
    /// (no store in `data` yet) it writes the pending bootstrap at once.
    pub fn prepare(
        data: &Path,
        bootstraps: bool,
        admin_key_file: &Path,
    ) -> Result<Option<BootstrapTask>, String> {
        let mut task = BootstrapTask {
            data: data.to_owned(),
            admin_key_file: admin_key_file.to_owned(),
            pending: AuthBootstrap::read(data)?,
        };
        if task.pending.is_none() && !bootstraps {
            return Ok(None);
        }
        if task.pending.is_none() && !data.join("db").exists() {
            task.pending = Some(AuthBootstrap::draw(data, admin_key_file)?);
        }
        Ok(Some(task))
    }

    /// Until the cluster has an auth secret and (if this node drew one) its
    /// admin key works. Runs until done, or until aborted at shutdown.
    pub async fn run<B: Backend>(self, backend: B) {
        let pending = match self.pending {
            Some(p) => p,
            None => loop {
                match auth_secret(&backend, Freshness::Linearizable).await {
                    Ok((Some(_), _)) => return,
                    Ok(_) => match AuthBootstrap::draw(&self.data, &self.admin_key_file) {
                        Ok(p) => break p,
                        Err(e) => {
                            tracing::error!("cannot prepare the auth bootstrap: {e}");
                            return;
                        }
                    },
                    Err(e) => tracing::debug!("auth bootstrap: waiting for the cluster: {e}"),
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            },
        };
        pending.complete(backend).await;
    }
}

impl AuthBootstrap {
    /// The pending bootstrap in `data`, if one is left.
    fn read(data: &Path) -> Result<Option<AuthBootstrap>, String> {
        let pending_path = data.join(PENDING_FILE);
        if !pending_path.exists() {
            return Ok(None);
        }
        let bytes = std::fs::read(&pending_path)
            .map_err(|e| format!("cannot read {}: {e}", pending_path.display()))?;
        let pending: Pending = serde_json::from_slice(&bytes)
            .map_err(|e| format!("{} is damaged: {e}", pending_path.display()))?;
        let admin = PresentedKey::parse(&pending.admin_key)
            .map_err(|_| format!("{} holds no valid admin key", pending_path.display()))?;
        Ok(Some(AuthBootstrap {
            pending_path,
            secret: pending.secret,
            admin,
        }))
    }

    /// Draws the secret, takes the admin key from `admin_key_file` if that
    /// file exists or draws one into it, and writes the pending bootstrap.
    fn draw(data: &Path, admin_key_file: &Path) -> Result<AuthBootstrap, String> {
        let admin = if admin_key_file.exists() {
            read_key_file(admin_key_file)?
        } else {
            let key = PresentedKey::new(
                ApiKeyId::from_bytes(rand::random::<[u8; 8]>()),
                rand::random::<[u8; 32]>(),
            );
            if let Some(dir) = admin_key_file.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            }
            write_private(admin_key_file, format!("{}\n", key.reveal()).as_bytes())?;
            key
        };
        let secret = AuthSecret::from_bytes(rand::random::<[u8; 32]>());
        let pending = Pending {
            secret: secret.clone(),
            admin_key: admin.reveal(),
        };
        let json = serde_json::to_vec(&pending).map_err(|e| e.to_string())?;
        std::fs::create_dir_all(data)
            .map_err(|e| format!("cannot create {}: {e}", data.display()))?;
        let pending_path = data.join(PENDING_FILE);
        write_private(&pending_path, &json)?;
        tracing::info!(
            "new cluster: its admin API key is in {} (readable only by this user); \
             keep it safe and remove it from this machine once you have made your own keys",
            admin_key_file.display()
        );
        Ok(AuthBootstrap {
            pending_path,
            secret,
            admin,
        })
    }

    fn admin_record(&self) -> ApiKeyRecord {
        ApiKeyRecord {
            id: self.admin.id().clone(),
            name: ADMIN_KEY_NAME.to_owned(),
            role: Role::Admin,
            scope: NamespaceScope::All,
            hash: key_hash(&self.secret, &self.admin),
            expires_at_ms: None,
            revoked: false,
        }
    }

    /// Proposes the secret and the admin key until the admin key
    /// authenticates on this node, then deletes the pending file. Runs
    /// until done (or the task is aborted at shutdown).
    async fn complete<B: Backend>(self, backend: B) {
        loop {
            match self.step(&backend).await {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => tracing::info!("auth bootstrap not applied yet: {e}"),
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        match std::fs::remove_file(&self.pending_path) {
            Ok(()) => tracing::info!("auth bootstrap applied: the admin key works"),
            Err(e) => tracing::warn!(
                "auth bootstrap applied, but {} could not be removed: {e}",
                self.pending_path.display()
            ),
        }
    }

    /// One round: `true` when done (the admin key authenticates here, or
    /// it never can).
    async fn step<B: Backend>(&self, backend: &B) -> Result<bool, String> {
        let propose = |command| async {
            match backend
                .execute(Command::ApiKey(command))
                .await
                .map_err(|e| e.to_string())?
            {
                Outcome::ApiKey(o) => Ok(o),
                other => Err(format!("unexpected outcome {other:?}")),
            }
        };
        propose(ApiKeyCommand::SetSecret(self.secret.clone())).await?;
        let view = backend
            .auth_view(self.admin.id().clone(), Freshness::Linearizable)
            .await
            .map_err(|e| e.to_string())?;
        let Some(secret) = view.secret else {
            // Not seen here yet (a read that is not linearizable, as in a
            // build with the stale-reads bug planted): ask again.
            return Ok(false);
        };
        if secret != self.secret {
            // Another secret was set first: this admin key could never
            // authenticate, so it is not stored at all.
            tracing::error!(
                "the cluster already has an auth secret from another bootstrap; this node's \
                 admin key in its data directory does not work: use the key of the node that \
                 bootstrapped the cluster"
            );
            return Ok(true);
        }
        match propose(ApiKeyCommand::Create(self.admin_record())).await? {
            ApiKeyOutcome::Created { .. } | ApiKeyOutcome::Exists { .. } => {}
            other => return Err(format!("unexpected outcome {other:?}")),
        }
        let view = backend
            .auth_view(self.admin.id().clone(), Freshness::Linearizable)
            .await
            .map_err(|e| e.to_string())?;
        Ok(authenticate(view.key.as_ref(), &self.secret, &self.admin, view.now_ms).is_ok())
    }
}
