//! Run a side effect at most once for a key: the discipline of
//! `docs/CLIENTS.md` in one call.

use std::future::Future;
use std::time::Duration;

use idem_core::{FencingToken, StoredResponse};
use tokio::time::Instant;

use crate::client::Client;
use crate::error::ClientError;
use crate::lease::Lease;
use crate::reservation::{new_attempt_id, Reservation, ReserveOptions};

/// How a side effect failed.
#[derive(Debug)]
pub enum RunError<E> {
    /// It certainly did not happen (nothing was charged): the key is
    /// released, and a later try may run it.
    NotRun(E),
    /// It may have happened: the key stays committing, so the next owner
    /// reconciles instead of running it again.
    Unknown(E),
}

/// Why [`Client::run_once`] gave no response.
#[derive(Debug, thiserror::Error)]
pub enum RunOnceError<E: std::fmt::Debug> {
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The side effect failed without running; the key was released.
    #[error("the side effect did not run: {0:?}")]
    NotRun(E),
    /// The side effect may have run; the key is left committing.
    #[error("the side effect may have run: {0:?}")]
    Unknown(E),
    /// Reconciling a committing takeover failed; the key is left
    /// committing for the next try.
    #[error("reconciling failed: {0:?}")]
    Reconcile(E),
    /// Another attempt still held the key when the time was up.
    #[error("another attempt still holds the key")]
    StillInProgress,
}

impl Client {
    /// Runs `run` at most once for `key`, or returns the stored response.
    ///
    /// Reserves (waiting for another attempt's result while there is time),
    /// and when it owns the key: marks it committing, runs `run` with the
    /// lease (pass `lease.token()` downstream), and completes with its
    /// response. When it takes over from owners that had marked the key
    /// committing, it calls `reconcile(new token, their tokens)` instead:
    /// `Some(response)` (the effect is found downstream) completes with it;
    /// `None` (the downstream proves it never happened, and fences those
    /// tokens out) lets `run` go ahead. `run` must not be called after the
    /// lease is lost: it is not, but a lease can still be lost *while* `run`
    /// runs; that is what the fencing token downstream is for.
    pub async fn run_once<E, Run, RunFut, Rec, RecFut>(
        &self,
        namespace: &str,
        key: &str,
        options: ReserveOptions,
        run: Run,
        reconcile: Rec,
    ) -> Result<StoredResponse, RunOnceError<E>>
    where
        E: std::fmt::Debug,
        Run: FnOnce(FencingToken) -> RunFut,
        RunFut: Future<Output = Result<StoredResponse, RunError<E>>>,
        Rec: FnOnce(FencingToken, Vec<FencingToken>) -> RecFut,
        RecFut: Future<Output = Result<Option<StoredResponse>, E>>,
    {
        // One attempt id for every reserve this call makes.
        let options = match options.attempt {
            Some(_) => options,
            None => options.attempt(new_attempt_id()),
        };
        let wait = options.wait.unwrap_or(Duration::from_secs(30));
        let options = options.wait(wait.min(Duration::from_secs(60)));
        let give_up = Instant::now() + wait;
        let lease = loop {
            match self.reserve(namespace, key, &options).await? {
                Reservation::Completed { response, .. } => return Ok(response),
                Reservation::Owned(lease) => break lease,
                Reservation::TakenOver {
                    lease,
                    previous_committing,
                } if !previous_committing.is_empty() => {
                    match reconcile(lease.token(), previous_committing).await {
                        Ok(Some(found)) => return finish(lease, found).await,
                        Ok(None) => return run_owned(lease, run).await,
                        Err(e) => {
                            // Leave it for the next try, which reconciles again.
                            let _ = lease.release().await;
                            return Err(RunOnceError::Reconcile(e));
                        }
                    }
                }
                Reservation::TakenOver { lease, .. } => break lease,
                Reservation::InProgress { retry_after } => {
                    let now = Instant::now();
                    if now >= give_up {
                        return Err(RunOnceError::StillInProgress);
                    }
                    tokio::time::sleep(retry_after.min(give_up - now)).await;
                }
            }
        };
        run_owned(lease, run).await
    }
}

async fn run_owned<E, Run, RunFut>(
    lease: Lease,
    run: Run,
) -> Result<StoredResponse, RunOnceError<E>>
where
    E: std::fmt::Debug,
    Run: FnOnce(FencingToken) -> RunFut,
    RunFut: Future<Output = Result<StoredResponse, RunError<E>>>,
{
    lease.commit().await?;
    match run(lease.token()).await {
        Ok(response) => finish(lease, response).await,
        Err(RunError::NotRun(e)) => {
            lease.release_not_committed().await?;
            Err(RunOnceError::NotRun(e))
        }
        Err(RunError::Unknown(e)) => {
            // Dropped while committing: not released; the next owner is told.
            drop(lease);
            Err(RunOnceError::Unknown(e))
        }
    }
}

async fn finish<E: std::fmt::Debug>(
    lease: Lease,
    response: StoredResponse,
) -> Result<StoredResponse, RunOnceError<E>> {
    lease.complete(response.clone()).await?;
    Ok(response)
}
