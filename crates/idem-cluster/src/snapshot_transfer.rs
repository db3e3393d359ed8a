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
        let Some((vote, snapshot)) = self.take_piece(chunk).await? else {
            return Ok(None);
        };
        raft.install_full_snapshot(vote, snapshot)
            .await
            .map(Some)
            .map_err(|fatal| format!("installing the snapshot failed: {fatal}"))
    }

    /// Writes one piece where it belongs; the last one gives back the whole
    /// snapshot, rewound, with the leader's vote.
    async fn take_piece(&self, chunk: SnapshotChunk) -> Result<Option<(Vote, Snapshot)>, String> {
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
        Ok(Some((
            done.vote,
            Snapshot {
                meta: chunk.meta,
                snapshot: done.file,
            },
        )))
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;

    use super::*;
    use crate::types::NodeAddr;
    use idem_store::LeaderId;

    fn receiver(dir: &std::path::Path) -> SnapshotReceiver {
        let store = crate::types::Store::open(dir).expect("store");
        SnapshotReceiver::new(store.state_machine.snapshot_inbox())
    }

    fn piece(term: u64, index: u64, offset: u64, data: &[u8], done: bool) -> SnapshotChunk {
        SnapshotChunk {
            vote: Vote::new_committed(term, 1),
            meta: idem_store::SnapshotMeta::<NodeAddr> {
                last_log_id: Some(LogId::new(LeaderId { term, node_id: 1 }, index)),
                last_membership: Default::default(),
            },
            offset,
            data: data.to_vec(),
            done,
        }
    }

    async fn contents(snapshot: Snapshot) -> Vec<u8> {
        let mut file = snapshot.snapshot;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).await.expect("read");
        bytes
    }

    #[tokio::test]
    async fn pieces_in_order_make_the_whole_file() {
        let dir = tempfile::tempdir().expect("dir");
        let r = receiver(dir.path());
        assert!(r
            .take_piece(piece(2, 9, 0, b"abc", false))
            .await
            .expect("first")
            .is_none());
        assert!(r
            .take_piece(piece(2, 9, 3, b"de", false))
            .await
            .expect("second")
            .is_none());
        let (vote, snapshot) = r
            .take_piece(piece(2, 9, 5, b"f", true))
            .await
            .expect("last")
            .expect("whole");
        assert_eq!(vote, Vote::new_committed(2, 1));
        assert_eq!(snapshot.meta.last_log_id.map(|l| l.index), Some(9));
        assert_eq!(contents(snapshot).await, b"abcdef");
    }

    #[tokio::test]
    async fn a_piece_that_does_not_continue_the_transfer_is_refused_and_ends_it() {
        let dir = tempfile::tempdir().expect("dir");
        let r = receiver(dir.path());
        // Nothing under way.
        let e = r
            .take_piece(piece(2, 9, 3, b"x", true))
            .await
            .expect_err("no start");
        assert!(e.contains("offset 0"), "{e}");
        // A gap.
        r.take_piece(piece(2, 9, 0, b"abc", false))
            .await
            .expect("start");
        let e = r
            .take_piece(piece(2, 9, 4, b"x", false))
            .await
            .expect_err("gap");
        assert!(e.contains("does not continue"), "{e}");
        // The transfer is gone: its next piece is refused too.
        assert!(r.take_piece(piece(2, 9, 3, b"d", true)).await.is_err());
        // Another leader's or another snapshot's piece.
        r.take_piece(piece(2, 9, 0, b"abc", false))
            .await
            .expect("start");
        assert!(r.take_piece(piece(3, 9, 3, b"d", true)).await.is_err());
        r.take_piece(piece(2, 9, 0, b"abc", false))
            .await
            .expect("start");
        assert!(r.take_piece(piece(2, 10, 3, b"d", true)).await.is_err());
        // A new start replaces a transfer under way.
        r.take_piece(piece(2, 9, 0, b"abc", false))
            .await
            .expect("start");
        r.take_piece(piece(4, 12, 0, b"xy", false))
            .await
            .expect("restart");
        let (_, snapshot) = r
            .take_piece(piece(4, 12, 2, b"z", true))
            .await
            .expect("last")
            .expect("whole");
        assert_eq!(contents(snapshot).await, b"xyz");
    }
}
