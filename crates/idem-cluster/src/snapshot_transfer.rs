//! A follower's side of a snapshot transfer: the leader's snapshot arrives
//! in pieces ([`SnapshotChunk`], sent in order by the leader's
//! `network::PeerConnection`, each answered before the next); they are
//! written into a file of the store's snapshot inbox, and the last one
//! hands the whole file to Raft, whose install verifies it before it
//! replaces anything.
//!
//! One transfer at a time: a piece that starts a transfer (offset 0)
//! replaces whatever was being received; a piece that does not continue
//! the current transfer (another leader, another snapshot, a gap) is
//! refused, and the leader starts over.

use tokio::io::{AsyncSeekExt, AsyncWriteExt};
use tokio::sync::Mutex;

use idem_store::SnapshotInbox;
use openraft::raft::SnapshotResponse;

use crate::rpc::SnapshotChunk;
use crate::types::{IdemTypes, LogId, Raft, Snapshot, Vote};

/// The transfer being received.
struct Incoming {
    vote: Vote,
    last_log_id: Option<LogId>,
    next_offset: u64,
    file: tokio::fs::File,
}

pub(crate) struct SnapshotReceiver {
    inbox: SnapshotInbox,
    incoming: Mutex<Option<Incoming>>,
}

impl SnapshotReceiver {
    pub(crate) fn new(inbox: SnapshotInbox) -> Self {
        SnapshotReceiver {
            inbox,
            incoming: Mutex::new(None),
        }
    }

    /// Takes one piece; `Ok(None)`: send the next, `Ok(Some)`: installed.
    pub(crate) async fn receive(
        &self,
        raft: &Raft,
        chunk: SnapshotChunk,
    ) -> Result<Option<SnapshotResponse<IdemTypes>>, String> {
        let mut incoming = self.incoming.lock().await;
        if chunk.offset == 0 {
            let file = self
                .inbox
                .file()
                .map_err(|e| format!("cannot receive a snapshot: {e}"))?;
            *incoming = Some(Incoming {
                vote: chunk.vote,
                last_log_id: chunk.meta.last_log_id,
                next_offset: 0,
                file,
            });
        }
        let Some(current) = incoming.as_mut() else {
            return Err("no snapshot transfer under way: start at offset 0".into());
        };
        if current.vote != chunk.vote
            || current.last_log_id != chunk.meta.last_log_id
            || current.next_offset != chunk.offset
        {
            *incoming = None;
            return Err(format!(
                "snapshot piece at {} does not continue the transfer under way",
                chunk.offset
            ));
        }
        let write = async {
            current.file.write_all(&chunk.data).await?;
            if chunk.done {
                current.file.flush().await?;
                current.file.rewind().await?;
            }
            Ok::<(), std::io::Error>(())
        };
        if let Err(e) = write.await {
            *incoming = None;
            return Err(format!("cannot write the received snapshot: {e}"));
        }
        current.next_offset += chunk.data.len() as u64;
        if !chunk.done {
            return Ok(None);
        }
        let Some(done) = incoming.take() else {
            return Err("snapshot transfer lost".into());
        };
        let snapshot = Snapshot {
            meta: chunk.meta,
            snapshot: done.file,
        };
        raft.install_full_snapshot(done.vote, snapshot)
            .await
            .map(Some)
            .map_err(|fatal| format!("installing the snapshot failed: {fatal}"))
    }
}
