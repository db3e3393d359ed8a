//! Commands that travel together: many concurrent proposals, one submission.
//!
//! Used twice:
//! - On the leader, group commit above Raft: one log entry (one append, one
//!   sync on every node, one round of replication) carries many commands;
//!   the batcher turns concurrent proposals into few entries.
//! - On a follower, forwarding: the commands its clients send are carried to
//!   the leader in one request per batch instead of one round trip each.
//!
//! One task takes the first queued proposal, drains whatever else is queued
//! at that moment (up to [`idem_core::MAX_BATCH`] commands and
//! [`MAX_BATCH_BYTES`]), and submits them together, while at most
//! `in_flight` submissions are on their way. At low load a batch is one
//! command and is submitted at once (no waiting for company).
//!
//! Every proposer gets the result of its own command. An error of the whole
//! submission (not leader, timeout, unavailable) goes to every proposer in
//! it; a command refused by the state machine (its entry was stamped in a
//! term that ended) is answered [`ClusterError::LeadershipChanged`].
//!
//! The batching task belongs to the node's [`NodeTasks`]; each submission
//! runs in a task of the batching task's own, so all of them end at
//! shutdown.

use std::future::Future;
use std::sync::Arc;

use idem_core::{Command, Outcome};
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::task::JoinSet;

use crate::error::ClusterError;
use crate::tasks::NodeTasks;

/// What one proposer waits for.
type Reply = oneshot::Sender<Result<Outcome, ClusterError>>;

/// What a submission answers: one result per command, in order, or an error
/// of the whole batch.
pub(crate) type BatchResult = Result<Vec<Result<Outcome, ClusterError>>, ClusterError>;

/// The sending side: cheap to clone, one per node.
#[derive(Clone)]
pub(crate) struct Batcher {
    queue: mpsc::UnboundedSender<(Command, Reply)>,
}

impl Batcher {
    /// Starts the batching task. `submit` carries out one batch (1 to
    /// `max_batch` commands) and answers one result per command, in order.
    pub(crate) fn spawn<F, Fut>(
        tasks: &NodeTasks,
        max_batch: usize,
        in_flight: usize,
        submit: F,
    ) -> Batcher
    where
        F: Fn(Vec<Command>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = BatchResult> + Send + 'static,
    {
        let (queue, rx) = mpsc::unbounded_channel();
        tasks.spawn(run(
            rx,
            max_batch.clamp(1, idem_core::MAX_BATCH),
            in_flight.max(1),
            submit,
        ));
        Batcher { queue }
    }

    /// Proposes one command and waits for its own outcome.
    pub(crate) async fn propose(&self, command: Command) -> Result<Outcome, ClusterError> {
        let (tx, rx) = oneshot::channel();
        self.queue
            .send((command, tx))
            .map_err(|_| ClusterError::Unavailable("the proposer has stopped".into()))?;
        rx.await
            .unwrap_or_else(|_| Err(ClusterError::Unavailable("the proposer has stopped".into())))
    }
}

/// A batch stops growing at this many bytes of (bincode-encoded) commands,
/// so entries stay far below the transport's frame limit; a command larger
/// than this goes alone.
pub(crate) const MAX_BATCH_BYTES: u64 = 512 * 1024;

async fn run<F, Fut>(
    mut rx: mpsc::UnboundedReceiver<(Command, Reply)>,
    max_batch: usize,
    in_flight: usize,
    submit: F,
) where
    F: Fn(Vec<Command>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = BatchResult> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(in_flight));
    // The submissions on their way; dropped (so stopped) with this task.
    let mut submissions = JoinSet::new();
    // A proposal that did not fit into the previous batch: it starts the next.
    let mut carried = None;
    loop {
        while submissions.try_join_next().is_some() {}
        // Wait for a free slot first: while batches are in flight, new
        // proposals queue up and go out together in the next one.
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let first = match carried.take() {
            Some(first) => first,
            None => match rx.recv().await {
                Some(first) => first,
                None => return,
            },
        };
        let mut bytes = encoded_size(&first.0);
        let mut batch = vec![first];
        while batch.len() < max_batch {
            let Ok(next) = rx.try_recv() else { break };
            bytes += encoded_size(&next.0);
            if bytes > MAX_BATCH_BYTES {
                carried = Some(next);
                break;
            }
            batch.push(next);
        }
        let (commands, replies): (Vec<Command>, Vec<Reply>) = batch.into_iter().unzip();
        let write = submit(commands);
        submissions.spawn(async move {
            let result = write.await;
            drop(permit);
            answer(replies, result);
        });
    }
}

fn encoded_size(command: &Command) -> u64 {
    bincode::serialized_size(command).unwrap_or(MAX_BATCH_BYTES)
}

/// Hands each proposer its own result, or the batch's error.
fn answer(replies: Vec<Reply>, result: BatchResult) {
    match result {
        Ok(results) if results.len() == replies.len() => {
            for (reply, result) in replies.into_iter().zip(results) {
                let result = match result {
                    Ok(Outcome::Refused(_)) => Err(ClusterError::LeadershipChanged),
                    other => other,
                };
                let _ = reply.send(result);
            }
        }
        Ok(results) => {
            let why = format!(
                "the batch produced {} results for {} commands",
                results.len(),
                replies.len()
            );
            for reply in replies {
                let _ = reply.send(Err(ClusterError::Unavailable(why.clone())));
            }
        }
        Err(e) => {
            for reply in replies {
                let _ = reply.send(Err(e.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::time::Duration;

    use idem_core::{FencingToken, IdemKey, KeyId, Namespace, Refusal, Release, ReserveOutcome};

    use crate::tasks::NodeTasks;

    /// A command that names `n` (as a release's token), and the outcome a
    /// fake log gives it back (the same number, as a reserve's token).
    fn command(n: u64) -> Command {
        Command::Release(Release {
            id: KeyId::new(
                Namespace::new("ns").unwrap(),
                IdemKey::new(format!("k{n}")).unwrap(),
            ),
            token: FencingToken(n),
            not_committed: false,
        })
    }

    fn echo(c: &Command) -> Outcome {
        Outcome::Reserve(ReserveOutcome::Reserved {
            token: c.token().unwrap(),
            lease_expires_at_ms: 0,
            lease_remaining_ms: 0,
            takeover: false,
            resumed: false,
            previous_committing: Vec::new(),
        })
    }

    /// A fake log: records each batch it is given, takes a while per batch
    /// (like a sync), and answers each command with [`echo`].
    fn fake_log(
        batches: Arc<Mutex<Vec<Vec<Command>>>>,
    ) -> impl Fn(Vec<Command>) -> futures_like::BoxFut + Send + Sync + 'static {
        move |commands: Vec<Command>| {
            batches.lock().unwrap().push(commands.clone());
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(5)).await;
                Ok(commands.iter().map(|c| Ok(echo(c))).collect())
            }) as futures_like::BoxFut
        }
    }

    /// Proposes every command at once, each from a task of its own, and
    /// returns the answers in the order of `commands`.
    async fn propose_concurrently(
        batcher: &Batcher,
        commands: impl Iterator<Item = Command>,
    ) -> Vec<Result<Outcome, ClusterError>> {
        let calls: Vec<_> = commands
            .map(|c| {
                let b = batcher.clone();
                tokio::spawn(async move { b.propose(c).await })
            })
            .collect();
        let mut answers = Vec::new();
        for call in calls {
            answers.push(call.await.unwrap());
        }
        answers
    }

    mod futures_like {
        use super::*;
        pub type BoxFut = std::pin::Pin<Box<dyn Future<Output = BatchResult> + Send + 'static>>;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_proposals_share_entries_and_each_gets_its_own_outcome() {
        let tasks = NodeTasks::new();
        let batches = Arc::new(Mutex::new(Vec::new()));
        let batcher = Batcher::spawn(&tasks, 64, 1, fake_log(batches.clone()));
        let n = 500u64;
        let calls: Vec<_> = (1..=n)
            .map(|i| {
                let b = batcher.clone();
                tokio::spawn(async move { (i, b.propose(command(i)).await) })
            })
            .collect();
        for call in calls {
            let (i, result) = call.await.unwrap();
            assert_eq!(result.unwrap(), echo(&command(i)), "proposal {i}");
        }
        let batches = batches.lock().unwrap();
        let total: usize = batches.iter().map(Vec::len).sum();
        assert_eq!(total, n as usize, "every command is written exactly once");
        assert!(
            batches.len() < n as usize / 4,
            "{} entries for {n} proposals",
            batches.len()
        );
        assert!(batches.iter().all(|b| !b.is_empty() && b.len() <= 64));
    }

    #[tokio::test]
    async fn one_proposer_keeps_its_order_and_a_lone_command_goes_out_alone() {
        let tasks = NodeTasks::new();
        let batches = Arc::new(Mutex::new(Vec::new()));
        let batcher = Batcher::spawn(&tasks, 64, 2, fake_log(batches.clone()));
        // Sequential proposals at low load: one entry each, at once.
        for i in 1..=3 {
            assert_eq!(
                batcher.propose(command(i)).await.unwrap(),
                echo(&command(i))
            );
        }
        assert_eq!(batches.lock().unwrap().len(), 3);
        // Proposals queued in order go into the log in that order.
        batches.lock().unwrap().clear();
        let calls: Vec<_> = (10..60)
            .map(|i| {
                let b = batcher.clone();
                let (sent_tx, sent_rx) = oneshot::channel();
                let call = tokio::spawn(async move {
                    let reply = b.propose(command(i));
                    tokio::pin!(reply);
                    // Poll once so the proposal is queued before the next.
                    tokio::select! {
                        biased;
                        r = &mut reply => { let _ = sent_tx.send(()); r }
                        _ = std::future::ready(()) => { let _ = sent_tx.send(()); reply.await }
                    }
                });
                (call, sent_rx)
            })
            .collect();
        let mut waits = Vec::new();
        for (call, sent) in calls {
            sent.await.unwrap();
            waits.push(call);
        }
        for w in waits {
            w.await.unwrap().unwrap();
        }
        let written: Vec<u64> = batches
            .lock()
            .unwrap()
            .iter()
            .flatten()
            .map(|c| c.token().unwrap().0)
            .collect();
        assert_eq!(written, (10..60).collect::<Vec<_>>());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_refused_or_failed_entry_fails_every_command_in_it() {
        let tasks = NodeTasks::new();
        let seen = Arc::new(Mutex::new(0usize));
        let counter = seen.clone();
        // Every entry is refused by the state machine (one refusal per command).
        let refuse = move |commands: Vec<Command>| {
            *counter.lock().unwrap() += 1;
            async move {
                tokio::time::sleep(Duration::from_millis(5)).await;
                let why = Refusal::StaleStamp {
                    stamp_term: 1,
                    applied_term: 2,
                };
                Ok(vec![Ok(Outcome::Refused(why)); commands.len()])
            }
        };
        let batcher = Batcher::spawn(&tasks, 64, 1, refuse);
        for answer in propose_concurrently(&batcher, (1..=100).map(command)).await {
            assert!(matches!(answer, Err(ClusterError::LeadershipChanged)));
        }
        assert!(*seen.lock().unwrap() < 100);

        // An error of the write goes to every proposer, unchanged.
        let fail = |_: Vec<Command>| async {
            tokio::time::sleep(Duration::from_millis(5)).await;
            Err(ClusterError::NotLeader(Some(3)))
        };
        let batcher = Batcher::spawn(&tasks, 64, 1, fail);
        for answer in propose_concurrently(&batcher, (1..=20).map(command)).await {
            assert!(matches!(answer, Err(ClusterError::NotLeader(Some(3)))));
        }

        // Fewer outcomes than commands: nobody gets someone else's outcome.
        let short = |_: Vec<Command>| async { Ok(Vec::new()) };
        let batcher = Batcher::spawn(&tasks, 64, 1, short);
        assert!(matches!(
            batcher.propose(command(1)).await,
            Err(ClusterError::Unavailable(_))
        ));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn each_command_gets_its_own_result_within_a_batch() {
        let tasks = NodeTasks::new();
        // Forwarding: the leader answers each command of a batch on its own;
        // odd commands fail there, even ones succeed.
        let mixed = |commands: Vec<Command>| async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            Ok(commands
                .iter()
                .map(|c| match c.token().unwrap().0 % 2 {
                    0 => Ok(echo(c)),
                    _ => Err(ClusterError::NotLeader(None)),
                })
                .collect())
        };
        let batcher = Batcher::spawn(&tasks, 64, 2, mixed);
        let answers = propose_concurrently(&batcher, (1..=100).map(command)).await;
        for (i, answer) in (1..=100u64).zip(answers) {
            if i % 2 == 0 {
                assert_eq!(answer.unwrap(), echo(&command(i)), "command {i}");
            } else {
                assert!(
                    matches!(answer, Err(ClusterError::NotLeader(None))),
                    "command {i}"
                );
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_batch_stays_under_the_byte_budget() {
        let tasks = NodeTasks::new();
        let batches = Arc::new(Mutex::new(Vec::new()));
        let record = batches.clone();
        let log = move |commands: Vec<Command>| {
            record.lock().unwrap().push(commands.clone());
            async move {
                tokio::time::sleep(Duration::from_millis(5)).await;
                Ok(commands
                    .iter()
                    .map(|c| {
                        Ok(Outcome::Complete(idem_core::CompleteOutcome::Completed {
                            token: c.token().unwrap(),
                            retain_until_ms: 0,
                            retain_remaining_ms: 0,
                        }))
                    })
                    .collect())
            }
        };
        let batcher = Batcher::spawn(&tasks, 64, 1, log);
        let body = "x".repeat(200 * 1024);
        let commands = (1..=20).map(|i| {
            Command::Complete(idem_core::Complete {
                id: KeyId::new(
                    Namespace::new("ns").unwrap(),
                    IdemKey::new(format!("k{i}")).unwrap(),
                ),
                token: FencingToken(i),
                response: idem_core::StoredResponse::new(200, Default::default(), body.clone())
                    .unwrap(),
            })
        });
        for answer in propose_concurrently(&batcher, commands).await {
            answer.unwrap();
        }
        let batches = batches.lock().unwrap();
        assert_eq!(batches.iter().map(Vec::len).sum::<usize>(), 20);
        for b in batches.iter() {
            let bytes: u64 = b.iter().map(encoded_size).sum();
            assert!(
                bytes <= MAX_BATCH_BYTES,
                "{} commands, {bytes} bytes",
                b.len()
            );
        }
        assert!(batches.len() < 20, "some commands still share entries");
    }
}
