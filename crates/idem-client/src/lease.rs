//! A granted key, held under a lease that heartbeats itself.
//!
//! Whether the lease is still confirmed is computed from this process's
//! monotonic clock alone: a reply saying `lease_remaining_ms = r` to a
//! request *sent* at local instant `t` confirms the lease until `t + r`
//! (the cluster started counting after it received the request, so the
//! lease lasts at least that long). Wall-clock times (`*_at_ms`) are never
//! used. The background task heartbeats at a third of the lease's length;
//! when no heartbeat can be confirmed before the lease would end, the lease
//! counts as lost.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use idem_core::{FencingToken, StoredResponse};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::error::{ClientError, LeaseLost};
use crate::key_ops::{Heartbeat, KeyOps};
use crate::records::Completed;
use crate::transport::Transport;

#[derive(Debug, Clone)]
struct LeaseState {
    /// The lease is confirmed until this local instant.
    confirmed_until: Instant,
    lost: Option<LeaseLost>,
    committing: bool,
}

struct Shared {
    transport: Arc<Transport>,
    namespace: String,
    key: String,
    token: FencingToken,
    length: Duration,
    state: watch::Sender<LeaseState>,
    /// Background releases of dropped leases, joined by `Client::close`.
    releases: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

/// A key this process owns. Use [`Lease::token`] downstream (so that a
/// later owner's writes fence this one's out); call [`Lease::commit`]
/// right before the side effect, then [`Lease::complete`] with its
/// response, or [`Lease::release`] if it did not run. Dropped without
/// either, it releases the key, unless it was committing (then the next
/// owner is told to reconcile).
#[must_use = "a lease must be completed or released; dropped, it releases the key"]
pub struct Lease {
    shared: Arc<Shared>,
    heartbeats: Option<JoinHandle<()>>,
    resumed: bool,
}

pub(crate) struct Grant {
    pub token: FencingToken,
    pub sent_at: Instant,
    pub remaining: Duration,
    pub length: Duration,
    pub resumed: bool,
}

impl Lease {
    pub(crate) fn start(
        transport: Arc<Transport>,
        releases: Arc<Mutex<Vec<JoinHandle<()>>>>,
        namespace: &str,
        key: &str,
        grant: Grant,
    ) -> Lease {
        let (state, _) = watch::channel(LeaseState {
            confirmed_until: grant.sent_at + grant.remaining,
            lost: None,
            committing: false,
        });
        let shared = Arc::new(Shared {
            transport,
            namespace: namespace.to_owned(),
            key: key.to_owned(),
            token: grant.token,
            length: grant.length,
            state,
            releases,
        });
        let heartbeats = tokio::spawn(heartbeat_loop(shared.clone(), grant.sent_at));
        Lease {
            shared,
            heartbeats: Some(heartbeats),
            resumed: grant.resumed,
        }
    }

    /// The fencing token: pass it to the system the side effect writes to.
    pub fn token(&self) -> FencingToken {
        self.shared.token
    }

    /// The key this lease holds.
    pub fn key(&self) -> &str {
        &self.shared.key
    }

    /// Whether this grant was a resume of an earlier try of the same attempt.
    pub fn resumed(&self) -> bool {
        self.resumed
    }

    /// Whether the lease is confirmed right now: not lost, and a confirmed
    /// heartbeat (or the grant) covers this instant.
    pub fn is_confirmed(&self) -> bool {
        let s = self.shared.state.borrow();
        s.lost.is_none() && Instant::now() < s.confirmed_until
    }

    /// How long the lease is confirmed for from now (zero if not).
    pub fn remaining(&self) -> Duration {
        let s = self.shared.state.borrow();
        if s.lost.is_some() {
            return Duration::ZERO;
        }
        s.confirmed_until.saturating_duration_since(Instant::now())
    }

    /// Whether [`Lease::commit`] marked the key committing.
    pub fn is_committing(&self) -> bool {
        self.shared.state.borrow().committing
    }

    /// Resolves when the lease is lost, or can no longer be confirmed in
    /// time (no heartbeat came back before it would have ended).
    pub async fn lost(&self) -> LeaseLost {
        let mut rx = self.shared.state.subscribe();
        loop {
            let (lost, until) = {
                let s = rx.borrow_and_update();
                (s.lost.clone(), s.confirmed_until)
            };
            if let Some(lost) = lost {
                return lost;
            }
            tokio::select! {
                changed = rx.changed() => {
                    if changed.is_err() {
                        return LeaseLost::Unconfirmed;
                    }
                }
                () = tokio::time::sleep_until(until) => {
                    let s = rx.borrow();
                    if s.lost.is_none() && Instant::now() >= s.confirmed_until {
                        return LeaseLost::Unconfirmed;
                    }
                }
            }
        }
    }

    /// Marks the key committing: call it right before the side effect.
    /// Refused (`LeaseLost`) if the lease is not confirmed now or the
    /// cluster says it is gone: then the side effect must not run.
    pub async fn commit(&self) -> Result<(), ClientError> {
        if let Some(lost) = self.lost_now() {
            return Err(ClientError::LeaseLost(lost));
        }
        let until = self.shared.state.borrow().confirmed_until;
        let sent_at = Instant::now();
        match self.shared.heartbeat(true, Some(until)).await {
            Ok(reply) => {
                self.shared.state.send_modify(|s| {
                    s.confirmed_until = s.confirmed_until.max(sent_at + reply.remaining);
                    s.committing = true;
                });
                Ok(())
            }
            Err(ClientError::LeaseLost(why)) => {
                self.shared.mark_lost(why.clone());
                Err(ClientError::LeaseLost(why))
            }
            Err(e) => Err(e),
        }
    }

    /// Stores the side effect's response (retried while it is safe: an
    /// identical completion is idempotent) and ends the lease.
    pub async fn complete(mut self, response: StoredResponse) -> Result<Completed, ClientError> {
        let result = self.shared.complete(&response).await;
        if let Err(ClientError::LeaseLost(why)) = &result {
            self.shared.mark_lost(why.clone());
        }
        self.stop_heartbeats().await;
        result
    }

    /// Gives the key up after a failure that left the side effect undone.
    /// A committing lease is refused ([`ClientError::Committing`]): use
    /// [`Lease::release_not_committed`] if it certainly did not commit.
    pub async fn release(self) -> Result<(), ClientError> {
        if self.is_committing() {
            return Err(ClientError::Committing);
        }
        self.finish_release(false).await
    }

    /// Gives up a committing lease, asserting that the side effect did not
    /// run (the next owner will then not be told this token may have acted).
    pub async fn release_not_committed(self) -> Result<(), ClientError> {
        self.finish_release(true).await
    }

    async fn finish_release(mut self, not_committed: bool) -> Result<(), ClientError> {
        self.stop_heartbeats().await;
        self.shared.release(not_committed).await
    }

    fn lost_now(&self) -> Option<LeaseLost> {
        let s = self.shared.state.borrow();
        match &s.lost {
            Some(l) => Some(l.clone()),
            None if Instant::now() >= s.confirmed_until => Some(LeaseLost::Unconfirmed),
            None => None,
        }
    }

    /// Stops heartbeating and hands the key over as its token: for a
    /// process that passes the lease on (the command line), not released
    /// when dropped.
    pub async fn detach(mut self) -> FencingToken {
        self.stop_heartbeats().await;
        self.shared.token
    }

    async fn stop_heartbeats(&mut self) {
        if let Some(task) = self.heartbeats.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let Some(task) = self.heartbeats.take() else {
            return; // completed or released
        };
        task.abort();
        let (lost, committing) = {
            let s = self.shared.state.borrow();
            (s.lost.is_some(), s.committing)
        };
        if lost || committing {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let shared = self.shared.clone();
            let release = runtime.spawn(async move {
                if let Err(e) = shared.release(false).await {
                    tracing::warn!(key = %shared.key, error = %e, "could not release a dropped lease");
                }
            });
            let mut releases = self
                .shared
                .releases
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            releases.retain(|t| !t.is_finished());
            releases.push(release);
        }
    }
}

impl Shared {
    fn mark_lost(&self, why: LeaseLost) {
        self.state.send_modify(|s| {
            s.lost.get_or_insert(why);
        });
    }

    fn target(&self) -> KeyOps<'_> {
        KeyOps {
            transport: &self.transport,
            namespace: &self.namespace,
            key: &self.key,
            token: self.token,
        }
    }

    async fn heartbeat(
        &self,
        committing: bool,
        give_up: Option<Instant>,
    ) -> Result<Heartbeat, ClientError> {
        self.target().heartbeat(None, committing, give_up).await
    }

    async fn complete(&self, response: &StoredResponse) -> Result<Completed, ClientError> {
        self.target().complete(response).await
    }

    async fn release(&self, not_committed: bool) -> Result<(), ClientError> {
        self.target().release(not_committed).await
    }
}

/// Heartbeats every third of the lease, counted from when the last
/// confirmed heartbeat (or the grant) was sent, until the lease is lost.
async fn heartbeat_loop(shared: Arc<Shared>, mut last_sent: Instant) {
    let every = shared.length / 3;
    loop {
        tokio::time::sleep_until(last_sent + every).await;
        let until = shared.state.borrow().confirmed_until;
        let sent_at = Instant::now();
        if sent_at >= until {
            shared.mark_lost(LeaseLost::Unconfirmed);
            return;
        }
        match shared.heartbeat(false, Some(until)).await {
            Ok(reply) => {
                let confirmed = sent_at + reply.remaining;
                shared.state.send_modify(|s| {
                    s.confirmed_until = s.confirmed_until.max(confirmed);
                });
                last_sent = sent_at;
            }
            Err(ClientError::LeaseLost(why)) => {
                shared.mark_lost(why);
                return;
            }
            Err(error) => {
                // The transport retried until the lease would end.
                if Instant::now() >= shared.state.borrow().confirmed_until {
                    tracing::warn!(key = %shared.key, %error, "lease could not be confirmed in time");
                    shared.mark_lost(LeaseLost::Unconfirmed);
                    return;
                }
                last_sent = Instant::now() - every + Duration::from_millis(50);
            }
        }
    }
}
