//! Linearizable reads share quorum rounds.
//!
//! A read on the leader is linearizable once the leader has confirmed with a
//! quorum that it still leads, and has applied everything committed before
//! that confirmation (openraft's `ensure_linearizable`: one round of
//! heartbeats, then a wait for the state machine). Run once per read, that is
//! a quorum round per read: under load the rounds crowd the network and the
//! followers, and some miss their one-heartbeat timeout.
//!
//! Here one task runs the rounds, one at a time. A read that arrives while a
//! round is in flight waits for the next round, which starts as soon as the
//! current one ends and serves every read queued meanwhile. A read never
//! joins a round that started before it arrived: such a round may predate a
//! write that completed before the read began, and the read would miss it.
//! With that rule each read's answer reflects a confirmation made after the
//! read began, exactly as if it had run its own round.
//!
//! The result of a round (its value, or its error) goes to every read it
//! served. On the leader the value is the round's read index; on a follower
//! it is what the leader answered (see [`crate::follower_read`]).

use std::future::Future;

use tokio::sync::{mpsc, oneshot};

use crate::error::ClusterError;
use crate::tasks::NodeTasks;

type Waiter<T> = oneshot::Sender<Result<T, ClusterError>>;

/// The waiting side: cheap to clone, one per node.
pub(crate) struct ReadBarrier<T> {
    queue: mpsc::UnboundedSender<Waiter<T>>,
}

impl<T> Clone for ReadBarrier<T> {
    fn clone(&self) -> Self {
        ReadBarrier {
            queue: self.queue.clone(),
        }
    }
}

impl<T: Clone + Send + 'static> ReadBarrier<T> {
    /// Starts the task (owned by `tasks`) that runs `round` (one quorum
    /// confirmation, and what must follow it) whenever reads are waiting.
    pub(crate) fn spawn<F, Fut>(tasks: &NodeTasks, round: F) -> ReadBarrier<T>
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, ClusterError>> + Send + 'static,
    {
        let (queue, rx) = mpsc::unbounded_channel();
        tasks.spawn(run(rx, round));
        ReadBarrier { queue }
    }

    /// Waits for a round that started after this call and returns its
    /// value.
    pub(crate) async fn wait(&self) -> Result<T, ClusterError> {
        let stopped = || ClusterError::Unavailable("the read barrier has stopped".into());
        let (tx, rx) = oneshot::channel();
        self.queue.send(tx).map_err(|_| stopped())?;
        rx.await.unwrap_or_else(|_| Err(stopped()))
    }
}

async fn run<T: Clone, F, Fut>(mut rx: mpsc::UnboundedReceiver<Waiter<T>>, round: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, ClusterError>>,
{
    while let Some(first) = rx.recv().await {
        // Everyone queued now arrived before this round starts.
        let mut waiters = vec![first];
        while let Ok(next) = rx.try_recv() {
            waiters.push(next);
        }
        let result = round().await;
        for waiter in waiters {
            let _ = waiter.send(result.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    /// Rounds counted as they start and end; each takes a few ms.
    #[derive(Default)]
    struct Rounds {
        started: AtomicU64,
        finished: AtomicU64,
    }

    /// A barrier whose rounds answer with their own number.
    fn barrier(tasks: &NodeTasks, rounds: Arc<Rounds>, fail: bool) -> ReadBarrier<u64> {
        ReadBarrier::spawn(tasks, move || {
            let rounds = rounds.clone();
            async move {
                let number = rounds.started.fetch_add(1, Ordering::SeqCst) + 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
                rounds.finished.fetch_add(1, Ordering::SeqCst);
                if fail {
                    Err(ClusterError::NotLeader(Some(2)))
                } else {
                    Ok(number)
                }
            }
        })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn every_read_waits_for_a_round_that_started_after_it_arrived() {
        let rounds = Arc::new(Rounds::default());
        let tasks = NodeTasks::new();
        let barrier = barrier(&tasks, rounds.clone(), false);
        let mut tasks = Vec::new();
        for i in 0..200u64 {
            let (barrier, rounds) = (barrier.clone(), rounds.clone());
            tasks.push(tokio::spawn(async move {
                tokio::time::sleep(Duration::from_micros(i * 150)).await;
                let started_before = rounds.started.load(Ordering::SeqCst);
                let round = barrier.wait().await.expect("round succeeds");
                // Rounds run one after another, so a round that started
                // after this read arrived has number started_before + 1 or
                // later, and it must have finished.
                let finished = rounds.finished.load(Ordering::SeqCst);
                assert!(
                    finished > started_before,
                    "read returned after {finished} rounds, but {started_before} had started before it arrived"
                );
                assert!(
                    round > started_before,
                    "read got the value of round {round}, which started before it arrived"
                );
            }));
        }
        for task in tasks {
            task.await.expect("reader");
        }
        // 200 reads over ~30 ms with 5 ms rounds: far fewer rounds than reads.
        let total = rounds.finished.load(Ordering::SeqCst);
        assert!(total < 100, "{total} rounds for 200 reads");
        assert!(total >= 2, "{total} rounds");
    }

    #[tokio::test]
    async fn a_failed_round_fails_every_read_it_served() {
        let rounds = Arc::new(Rounds::default());
        let tasks = NodeTasks::new();
        let barrier = barrier(&tasks, rounds.clone(), true);
        let readers: Vec<_> = (0..10)
            .map(|_| {
                let barrier = barrier.clone();
                tokio::spawn(async move { barrier.wait().await })
            })
            .collect();
        for reader in readers {
            let result = reader.await.expect("reader");
            assert!(matches!(result, Err(ClusterError::NotLeader(Some(2)))));
        }
    }

    #[tokio::test]
    async fn a_lone_read_gets_its_own_round() {
        let rounds = Arc::new(Rounds::default());
        let tasks = NodeTasks::new();
        let barrier = barrier(&tasks, rounds.clone(), false);
        assert_eq!(barrier.wait().await.expect("first"), 1);
        assert_eq!(barrier.wait().await.expect("second"), 2);
        assert_eq!(rounds.finished.load(Ordering::SeqCst), 2);
    }
}
