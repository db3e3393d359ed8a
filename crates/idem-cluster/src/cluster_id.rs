//! The cluster's id: what every inter-node connection presents first (see
//! [`crate::peer_hello`]), so that nodes of two clusters never mix, with
//! TLS or without.
//!
//! A new cluster's members derive it from the cluster's name and initial
//! members (the same `--peers` on every one, so they agree without having
//! spoken), and each keeps it in `cluster-id` in its data directory. A node
//! that joins has none until the first peer that has one speaks to it; it
//! adopts that one and keeps it. A data directory from a release without
//! ids derives one the same way, from the members it is started with.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use crate::types::{NodeAddr, NodeId};

/// File in the data directory.
const FILE: &str = "cluster-id";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClusterId(pub [u8; 16]);

impl ClusterId {
    /// The id of a cluster named `name` whose initial members are
    /// `members`.
    pub fn derive(name: &str, members: &BTreeMap<NodeId, NodeAddr>) -> ClusterId {
        let mut h = Sha256::new();
        h.update(b"idem cluster id v1\0");
        h.update(name.as_bytes());
        for (id, addr) in members {
            h.update(b"\0");
            h.update(id.to_string().as_bytes());
            h.update(b"=");
            h.update(addr.raft.as_bytes());
        }
        let digest = h.finalize();
        let mut id = [0u8; 16];
        id.copy_from_slice(&digest[..16]);
        ClusterId(id)
    }

    pub fn to_hex(self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn from_hex(text: &str) -> Option<ClusterId> {
        let text = text.trim();
        if text.len() != 32 {
            return None;
        }
        let mut id = [0u8; 16];
        for (i, byte) in id.iter_mut().enumerate() {
            *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(ClusterId(id))
    }
}

/// A peer of another cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a node of another cluster (id {}) called; this node is of cluster {}", .theirs.to_hex(), .ours.to_hex())]
pub struct OtherCluster {
    pub ours: ClusterId,
    pub theirs: ClusterId,
}

/// This node's cluster id, once known, and where it is kept.
#[derive(Debug)]
pub struct ClusterIdentity {
    path: PathBuf,
    id: Mutex<Option<ClusterId>>,
}

impl ClusterIdentity {
    /// The id kept in `data_dir`; without one, a joining node has none yet
    /// and any other derives it (and keeps it).
    pub fn open(
        data_dir: &Path,
        join: bool,
        name: &str,
        members: &BTreeMap<NodeId, NodeAddr>,
    ) -> Result<ClusterIdentity, String> {
        let path = data_dir.join(FILE);
        let identity = |id| ClusterIdentity {
            path: path.clone(),
            id: Mutex::new(id),
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => match ClusterId::from_hex(&text) {
                Some(id) => Ok(identity(Some(id))),
                None => Err(format!(
                    "{} does not hold a cluster id (32 hex digits)",
                    path.display()
                )),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if join {
                    return Ok(identity(None));
                }
                let id = ClusterId::derive(name, members);
                let me = identity(Some(id));
                me.keep(id)?;
                Ok(me)
            }
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    /// An identity that is not kept anywhere (in-process tests).
    pub fn fixed(id: ClusterId) -> ClusterIdentity {
        ClusterIdentity {
            path: PathBuf::new(),
            id: Mutex::new(Some(id)),
        }
    }

    pub fn current(&self) -> Option<ClusterId> {
        *self
            .id
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether a peer presenting `theirs` is of this cluster. A node
    /// without an id yet (it is joining) adopts the first one presented; a
    /// peer without one (joining) is let in, to adopt ours.
    pub fn admit(&self, theirs: Option<ClusterId>) -> Result<(), OtherCluster> {
        let mut id = self
            .id
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match (*id, theirs) {
            (Some(ours), Some(theirs)) if ours != theirs => Err(OtherCluster { ours, theirs }),
            (None, Some(theirs)) => {
                if let Err(e) = self.keep(theirs) {
                    tracing::warn!("cluster id {} adopted but not kept: {e}", theirs.to_hex());
                }
                *id = Some(theirs);
                tracing::info!("joined cluster {}", theirs.to_hex());
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn keep(&self, id: ClusterId) -> Result<(), String> {
        if self.path.as_os_str().is_empty() {
            return Ok(());
        }
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let tmp = self.path.with_extension("tmp");
        std::fs::write(&tmp, format!("{}\n", id.to_hex()))
            .and_then(|()| std::fs::File::open(&tmp)?.sync_all())
            .and_then(|()| std::fs::rename(&tmp, &self.path))
            .map_err(|e| format!("cannot write {}: {e}", self.path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(addrs: &[&str]) -> BTreeMap<NodeId, NodeAddr> {
        addrs
            .iter()
            .enumerate()
            .map(|(i, a)| {
                (
                    i as NodeId + 1,
                    NodeAddr {
                        raft: a.to_string(),
                        http: String::new(),
                    },
                )
            })
            .collect()
    }

    #[test]
    fn members_agree_on_the_id_and_another_cluster_differs() {
        let a = members(&["10.0.0.1:7101", "10.0.0.2:7101"]);
        let b = members(&["10.0.0.1:7101", "10.0.0.3:7101"]);
        assert_eq!(ClusterId::derive("idem", &a), ClusterId::derive("idem", &a));
        assert_ne!(ClusterId::derive("idem", &a), ClusterId::derive("idem", &b));
        assert_ne!(
            ClusterId::derive("idem", &a),
            ClusterId::derive("other", &a)
        );
        let id = ClusterId::derive("idem", &a);
        assert_eq!(ClusterId::from_hex(&id.to_hex()), Some(id));
        assert_eq!(ClusterId::from_hex("zz"), None);
    }

    #[test]
    fn a_joiner_adopts_the_first_id_and_then_refuses_others() {
        let dir = tempfile::tempdir().expect("dir");
        let joiner =
            ClusterIdentity::open(dir.path(), true, "idem", &members(&["a:1"])).expect("open");
        assert_eq!(joiner.current(), None);
        let ours = ClusterId([1; 16]);
        assert!(joiner.admit(Some(ours)).is_ok());
        assert_eq!(joiner.current(), Some(ours));
        assert!(joiner.admit(Some(ClusterId([2; 16]))).is_err());
        assert!(joiner.admit(None).is_ok());
        // Kept across restarts.
        let again =
            ClusterIdentity::open(dir.path(), true, "idem", &members(&["a:1"])).expect("open");
        assert_eq!(again.current(), Some(ours));
    }
}
