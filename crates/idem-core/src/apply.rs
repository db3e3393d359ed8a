//! The lifecycle state machine: `(records, entry) -> outcome`.
//!
//! Applying is deterministic: the result depends only on the store's contents
//! and the entry (its position, its stamp, its command), never on a clock,
//! randomness or the replica it runs on. Replaying the same log from the same
//! state gives the same state and the same outcomes on every replica.

use crate::command::{
    Command, Complete, Derive, Entry, Heartbeat, Mint, Purge, Release, Reserve, SetPolicy,
};
use crate::derive::derive_key;
use crate::fingerprint::Fingerprint;
use crate::key_commands::{apply_api_key, key_in_force};
use crate::names::{KeyId, Namespace};
use crate::namespace::{NamespacePolicy, NamespaceRecord, NamespaceSecret};
use crate::outcome::{
    CompleteOutcome, DeriveOutcome, HeartbeatOutcome, LostKey, MintOutcome, Outcome, PurgeOutcome,
    Refusal, ReleaseOutcome, ReserveOutcome,
};
use crate::quota::{NamespaceQuota, OverQuota, QuotaLimit};
use crate::record::{Completion, MintedKey, Record, ReleasedKey, Reservation};
use crate::rules::Rules;
use crate::store::RecordStore;
use crate::time::Stamp;
use crate::token::FencingToken;

/// Applies one log entry to the store and returns its outcome.
///
/// An entry whose stamp cannot be trusted to measure time (see
/// [`Refusal`]) changes nothing and returns [`Outcome::Refused`]. Errors are
/// the store's own (I/O); on error the caller must not acknowledge the entry.
pub fn apply<S: RecordStore>(store: &mut S, entry: &Entry) -> Result<Outcome, S::Error> {
    Lifecycle {
        rules: Rules::default(),
    }
    .apply(store, entry)
}

/// [`apply`] with one classic bug switched on, for tests that show the
/// checks catch it.
#[cfg(feature = "planted-bugs")]
pub fn apply_with_planted_bug<S: RecordStore>(
    store: &mut S,
    entry: &Entry,
    bug: Option<crate::rules::PlantedBug>,
) -> Result<Outcome, S::Error> {
    Lifecycle {
        rules: Rules { bug },
    }
    .apply(store, entry)
}

/// The outcome a reserve would have at `now` if it leaves the record
/// unchanged (in progress under a live lease, a replay of a completion, a
/// fingerprint mismatch, a key not minted); `None` if it would grant the key,
/// which only the log may do.
///
/// This lets the leader answer such reserves with a linearizable read instead
/// of a log write: the answer is the one `apply` gives for the same state and
/// time, and none of these answers changes the state.
pub fn reserve_without_write<S: RecordStore>(
    store: &S,
    cmd: &Reserve,
    now: &Stamp,
) -> Result<Option<ReserveOutcome>, S::Error> {
    Ok(
        match (Lifecycle {
            rules: Rules::default(),
        })
        .judge_reserve(store, cmd, now)?
        {
            ReserveJudgement::Answer(outcome) => Some(outcome),
            ReserveJudgement::Grant { .. } | ReserveJudgement::Resume(_) => None,
        },
    )
}

/// The record for `id` as a reader at time `now` sees it: `None` if it does
/// not exist or has been forgotten (its retention has ended).
pub fn read_record<S: RecordStore>(
    store: &S,
    id: &KeyId,
    now: &Stamp,
) -> Result<Option<Record>, S::Error> {
    Ok(store.record(id)?.filter(|r| !r.is_forgotten(now)))
}

/// The quota of `ns`: unlimited for a namespace never given one.
pub fn namespace_quota<S: RecordStore>(
    store: &S,
    ns: &Namespace,
) -> Result<NamespaceQuota, S::Error> {
    Ok(store.quota(ns)?.unwrap_or_default())
}

/// Whether one more record in `ns` goes past its `max_records`.
fn over_records_quota<S: RecordStore>(
    store: &S,
    ns: &Namespace,
) -> Result<Option<OverQuota>, S::Error> {
    let Some(max) = namespace_quota(store, ns)?.max_records else {
        return Ok(None);
    };
    let used = store.usage(ns)?.records;
    Ok((used >= max).then_some(OverQuota {
        limit: QuotaLimit::Records,
        max,
        used,
    }))
}

/// The policy keys of `ns` follow: the namespace's own, or the cluster
/// defaults for a namespace never configured.
pub fn namespace_policy<S: RecordStore>(
    store: &S,
    ns: &Namespace,
) -> Result<NamespacePolicy, S::Error> {
    Ok(store.namespace(ns)?.map(|n| n.policy).unwrap_or_default())
}

struct Lifecycle {
    rules: Rules,
}

enum ReserveJudgement {
    /// The reserve is answered without changing the record.
    Answer(ReserveOutcome),
    /// The key is granted (a write).
    Grant {
        takeover: bool,
        minted: bool,
        policy: NamespacePolicy,
        /// The tokens of earlier owners that may have acted.
        committing: Vec<FencingToken>,
    },
    /// The owner's own attempt resumes its reservation (a write: the lease
    /// is extended).
    Resume(Reservation),
}

impl Lifecycle {
    fn apply<S: RecordStore>(&self, store: &mut S, entry: &Entry) -> Result<Outcome, S::Error> {
        if entry.stamp.term != entry.position.term {
            return Ok(Outcome::Refused(Refusal::StampFromAnotherTerm {
                stamp_term: entry.stamp.term,
                entry_term: entry.position.term,
            }));
        }
        let clock = match store.applied_clock()?.advance(&entry.stamp) {
            Ok(clock) => clock,
            Err(stale) => {
                return Ok(Outcome::Refused(Refusal::StaleStamp {
                    stamp_term: stale.stamp_term,
                    applied_term: stale.applied_term,
                }))
            }
        };
        store.set_applied_clock(clock)?;
        let now = clock.now();
        let token = FencingToken::granted_at(entry.position);
        self.apply_command(store, &entry.command, &now, token)
    }

    /// Applies one command at `now`; `token` is what a grant hands out.
    fn apply_command<S: RecordStore>(
        &self,
        store: &mut S,
        command: &Command,
        now: &Stamp,
        token: FencingToken,
    ) -> Result<Outcome, S::Error> {
        let now = *now;
        // A command whose key is not in force changes nothing, not even a
        // forgotten record's deletion: judged before anything else.
        if let (Some(id), false) = (command.key(), matches!(command, Command::ByKey(_))) {
            self.make_forgetting_stick(store, id, &now)?;
        }
        Ok(match command {
            Command::Reserve(c) => Outcome::Reserve(self.reserve(store, c, &now, token)?),
            Command::Heartbeat(c) => Outcome::Heartbeat(self.heartbeat(store, c, &now)?),
            Command::Complete(c) => Outcome::Complete(self.complete(store, c, &now)?),
            Command::Release(c) => Outcome::Release(self.release(store, c, &now)?),
            Command::Purge(c) => Outcome::Purge(self.purge(store, c, &now)?),
            Command::Mint(c) => Outcome::Mint(self.mint(store, c, &now)?),
            Command::Derive(c) => Outcome::Derive(self.derive(store, c)?),
            Command::SetPolicy(c) => Outcome::SetPolicy(self.set_policy(store, c)?),
            Command::ApiKey(c) => Outcome::ApiKey(apply_api_key(store, c, &now)?),
            Command::SetQuota(c) => {
                store.put_quota(&c.namespace, c.quota)?;
                Outcome::SetQuota(c.quota)
            }
            Command::ByKey(c) => match key_in_force(store, &c.key, &now)? {
                Ok(()) => self.apply_command(store, &c.command, &now, token)?,
                Err(why) => Outcome::KeyNotInForce(why),
            },
        })
    }

    /// Deletes the record of `id` if it is forgotten at `now`, before a
    /// command on the key is judged. Whether a deadline has passed can
    /// differ between terms (the monotonic bound is counted again from each
    /// term's start), so a forgetting judged only in passing could be undone
    /// by a later leader: a key once answered as absent would come back.
    /// Deleting it, in log order, makes the judgement final.
    fn make_forgetting_stick<S: RecordStore>(
        &self,
        store: &mut S,
        id: &KeyId,
        now: &Stamp,
    ) -> Result<(), S::Error> {
        if store.record(id)?.is_some() && self.live_record(store, id, now)?.is_none() {
            store.delete_record(id)?;
        }
        Ok(())
    }

    /// The record as the lifecycle sees it at `now`: forgotten ones are gone.
    fn live_record<S: RecordStore>(
        &self,
        store: &S,
        id: &KeyId,
        now: &Stamp,
    ) -> Result<Option<Record>, S::Error> {
        Ok(store
            .record(id)?
            .filter(|r| !self.rules.has_passed(&r.forget_deadline(), now)))
    }

    /// What a reserve of `cmd` at `now` comes to, without writing: an answer
    /// that leaves the record as it is, or a grant to be written.
    fn judge_reserve<S: RecordStore>(
        &self,
        store: &S,
        cmd: &Reserve,
        now: &Stamp,
    ) -> Result<ReserveJudgement, S::Error> {
        let policy = namespace_policy(store, &cmd.id.namespace)?;
        let answer = |o| Ok(ReserveJudgement::Answer(o));
        let mismatch = |recorded: Option<&Fingerprint>| {
            !self
                .rules
                .fingerprints_match(cmd.fingerprint.as_ref(), recorded)
        };
        let grant = |takeover, minted, committing| {
            Ok(ReserveJudgement::Grant {
                takeover,
                minted,
                policy: policy.clone(),
                committing,
            })
        };
        match self.live_record(store, &cmd.id, now)? {
            None if policy.require_minted_keys => answer(ReserveOutcome::KeyNotMinted),
            None => grant(false, false, Vec::new()),
            Some(Record::Minted(_)) => grant(false, true, Vec::new()),
            Some(Record::InProgress(r)) => {
                if self
                    .rules
                    .resumes(cmd.attempt.as_ref(), cmd.fingerprint.as_ref(), &r)
                {
                    return Ok(ReserveJudgement::Resume(r));
                }
                if mismatch(r.fingerprint.as_ref()) {
                    return answer(ReserveOutcome::FingerprintMismatch);
                }
                if !self.rules.has_passed(&r.lease(), now) {
                    return answer(ReserveOutcome::InProgress {
                        retry_after_ms: r.lease().remaining_ms(now).max(1),
                    });
                }
                grant(true, r.minted, self.rules.inherited_committing(&r))
            }
            Some(Record::Released(k)) => {
                if mismatch(k.fingerprint.as_ref()) {
                    return answer(ReserveOutcome::FingerprintMismatch);
                }
                grant(true, k.minted, k.committing)
            }
            Some(Record::Completed(c)) => {
                if mismatch(c.fingerprint.as_ref()) {
                    return answer(ReserveOutcome::FingerprintMismatch);
                }
                answer(ReserveOutcome::Completed {
                    token: c.token,
                    response: c.response,
                })
            }
        }
    }

    fn reserve<S: RecordStore>(
        &self,
        store: &mut S,
        cmd: &Reserve,
        now: &Stamp,
        token: FencingToken,
    ) -> Result<ReserveOutcome, S::Error> {
        let (takeover, minted, policy, committing) = match self.judge_reserve(store, cmd, now)? {
            ReserveJudgement::Answer(outcome) => return Ok(outcome),
            ReserveJudgement::Resume(mut r) => {
                r.lease_renewed_at = *now;
                if let Some(lease) = cmd.lease {
                    r.lease_duration = lease;
                }
                let outcome = ReserveOutcome::Reserved {
                    token: r.token,
                    lease_expires_at_ms: r.lease().wall_ms(),
                    lease_remaining_ms: r.lease().remaining_ms(now),
                    takeover: r.takeover,
                    resumed: true,
                    previous_committing: r.previous_committing(),
                };
                store.put_record(&cmd.id, Record::InProgress(r))?;
                return Ok(outcome);
            }
            ReserveJudgement::Grant {
                takeover,
                minted,
                policy,
                committing,
            } => (takeover, minted, policy, committing),
        };
        // A grant on a key with no record adds one; a takeover or a minted
        // key's grant replaces the record it finds (see `judge_reserve`).
        if !takeover && !minted {
            if let Some(over) = over_records_quota(store, &cmd.id.namespace)? {
                return Ok(ReserveOutcome::OverQuota(over));
            }
        }
        let reservation = Reservation {
            token,
            fingerprint: cmd.fingerprint.clone(),
            lease_renewed_at: *now,
            lease_duration: cmd.lease.unwrap_or(policy.default_lease),
            retain: cmd.retain.unwrap_or(policy.default_retain),
            minted,
            attempt: cmd.attempt,
            takeover,
            committing,
        };
        let outcome = ReserveOutcome::Reserved {
            token,
            lease_expires_at_ms: reservation.lease().wall_ms(),
            lease_remaining_ms: reservation.lease().remaining_ms(now),
            takeover,
            resumed: false,
            previous_committing: reservation.previous_committing(),
        };
        store.put_record(&cmd.id, Record::InProgress(reservation))?;
        Ok(outcome)
    }

    /// The reservation `token` owns, or why it owns nothing.
    fn owned_reservation<S: RecordStore>(
        &self,
        store: &S,
        id: &KeyId,
        token: FencingToken,
        now: &Stamp,
    ) -> Result<Result<Reservation, LostKey>, S::Error> {
        Ok(match self.live_record(store, id, now)? {
            // A released key is free: its releaser owns nothing, as if the
            // record were gone.
            None | Some(Record::Released(_)) => Err(LostKey::Absent),
            Some(Record::Minted(_)) => Err(LostKey::NotReserved),
            Some(Record::Completed(c)) => Err(LostKey::Completed { by: c.token }),
            Some(Record::InProgress(r)) if self.rules.owns(token, r.token) => Ok(r),
            Some(Record::InProgress(r)) => Err(LostKey::Superseded { current: r.token }),
        })
    }

    fn heartbeat<S: RecordStore>(
        &self,
        store: &mut S,
        cmd: &Heartbeat,
        now: &Stamp,
    ) -> Result<HeartbeatOutcome, S::Error> {
        let mut r = match self.owned_reservation(store, &cmd.id, cmd.token, now)? {
            Ok(r) => r,
            Err(lost) => return Ok(HeartbeatOutcome::Lost(lost)),
        };
        // An owner whose lease ran out but whom nobody took over still owns
        // the key, so it may extend it.
        r.lease_renewed_at = *now;
        if let Some(lease) = cmd.lease {
            r.lease_duration = lease;
        }
        if cmd.committing && !r.owner_committing() {
            r.committing.push(r.token);
        }
        let outcome = HeartbeatOutcome::Extended {
            token: r.token,
            lease_expires_at_ms: r.lease().wall_ms(),
            lease_remaining_ms: r.lease().remaining_ms(now),
            committing: r.owner_committing(),
        };
        store.put_record(&cmd.id, Record::InProgress(r))?;
        Ok(outcome)
    }

    fn complete<S: RecordStore>(
        &self,
        store: &mut S,
        cmd: &Complete,
        now: &Stamp,
    ) -> Result<CompleteOutcome, S::Error> {
        if let Some(Record::Completed(c)) = self.live_record(store, &cmd.id, now)? {
            if c.token == cmd.token {
                let retain_until_ms = c.retention().wall_ms();
                return Ok(if c.response == cmd.response {
                    CompleteOutcome::AlreadyCompleted {
                        token: c.token,
                        retain_until_ms,
                        retain_remaining_ms: c.retention().remaining_ms(now),
                    }
                } else {
                    CompleteOutcome::ConflictingResponse { token: c.token }
                });
            }
        }
        let r = match self.owned_reservation(store, &cmd.id, cmd.token, now)? {
            Ok(r) => r,
            Err(lost) => return Ok(CompleteOutcome::Lost(lost)),
        };
        if let Some(max) = namespace_quota(store, &cmd.id.namespace)?.max_stored_bytes {
            let used = store.usage(&cmd.id.namespace)?.stored_bytes;
            let adding = cmd.response.approximate_size() as u64;
            if used.saturating_add(adding) > max {
                return Ok(CompleteOutcome::OverQuota(OverQuota {
                    limit: QuotaLimit::StoredBytes,
                    max,
                    used,
                }));
            }
        }
        let completion = Completion {
            token: r.token,
            fingerprint: r.fingerprint,
            response: cmd.response.clone(),
            completed_at: *now,
            retain: r.retain,
        };
        let outcome = CompleteOutcome::Completed {
            token: r.token,
            retain_until_ms: completion.retention().wall_ms(),
            retain_remaining_ms: completion.retention().remaining_ms(now),
        };
        store.put_record(&cmd.id, Record::Completed(completion))?;
        Ok(outcome)
    }

    fn release<S: RecordStore>(
        &self,
        store: &mut S,
        cmd: &Release,
        now: &Stamp,
    ) -> Result<ReleaseOutcome, S::Error> {
        let r = match self.owned_reservation(store, &cmd.id, cmd.token, now)? {
            Ok(r) => r,
            Err(lost) => return Ok(ReleaseOutcome::Lost(lost)),
        };
        if r.owner_committing() && !cmd.not_committed {
            return Ok(ReleaseOutcome::Committing { token: r.token });
        }
        let committing = r.previous_committing();
        if !committing.is_empty() {
            // Earlier owners may have acted: the next grant must hear of it.
            store.put_record(
                &cmd.id,
                Record::Released(ReleasedKey {
                    token: r.token,
                    fingerprint: r.fingerprint,
                    released_at: *now,
                    retain: r.retain,
                    minted: r.minted,
                    committing,
                }),
            )?;
        } else if r.minted {
            // A minted key stays reservable after a release.
            store.put_record(
                &cmd.id,
                Record::Minted(MintedKey {
                    minted_at: *now,
                    retain: r.retain,
                }),
            )?;
        } else {
            store.delete_record(&cmd.id)?;
        }
        Ok(ReleaseOutcome::Released { token: r.token })
    }

    fn purge<S: RecordStore>(
        &self,
        store: &mut S,
        cmd: &Purge,
        now: &Stamp,
    ) -> Result<PurgeOutcome, S::Error> {
        let mut outcome = PurgeOutcome {
            purged: Vec::new(),
            skipped: 0,
            next_due_in_ms: None,
        };
        for id in &cmd.ids {
            match store.record(id)? {
                Some(r) if self.rules.has_passed(&r.forget_deadline(), now) => {
                    store.delete_record(id)?;
                    outcome.purged.push(id.clone());
                }
                Some(r) => {
                    outcome.skipped += 1;
                    let due_in = r.forget_deadline().remaining_ms(now).max(1);
                    outcome.next_due_in_ms =
                        Some(outcome.next_due_in_ms.map_or(due_in, |d| d.min(due_in)));
                }
                None => outcome.skipped += 1,
            }
        }
        Ok(outcome)
    }

    fn mint<S: RecordStore>(
        &self,
        store: &mut S,
        cmd: &Mint,
        now: &Stamp,
    ) -> Result<MintOutcome, S::Error> {
        if let Some(over) = over_records_quota(store, &cmd.id.namespace)? {
            return Ok(MintOutcome::OverQuota(over));
        }
        let ns = self.namespace_or_create(store, &cmd.id.namespace, &cmd.secret_if_new)?;
        if self.live_record(store, &cmd.id, now)?.is_some() {
            return Ok(MintOutcome::KeyExists);
        }
        let minted = MintedKey {
            minted_at: *now,
            retain: ns.policy.default_retain,
        };
        let expires_at_ms = minted.retention().wall_ms();
        let retain_remaining_ms = minted.retention().remaining_ms(now);
        store.put_record(&cmd.id, Record::Minted(minted))?;
        Ok(MintOutcome::Minted {
            id: cmd.id.clone(),
            expires_at_ms,
            retain_remaining_ms,
        })
    }

    fn derive<S: RecordStore>(
        &self,
        store: &mut S,
        cmd: &Derive,
    ) -> Result<DeriveOutcome, S::Error> {
        let ns = self.namespace_or_create(store, &cmd.namespace, &cmd.secret_if_new)?;
        Ok(DeriveOutcome {
            key: derive_key(&ns.secret, &cmd.payload),
        })
    }

    fn set_policy<S: RecordStore>(
        &self,
        store: &mut S,
        cmd: &SetPolicy,
    ) -> Result<NamespacePolicy, S::Error> {
        let mut ns = self.namespace_or_create(store, &cmd.namespace, &cmd.secret_if_new)?;
        ns.policy = cmd.change.applied_to(&ns.policy);
        store.put_namespace(&cmd.namespace, ns.clone())?;
        Ok(ns.policy)
    }

    /// The namespace's record, created with the cluster defaults and the
    /// proposer's secret on first use.
    fn namespace_or_create<S: RecordStore>(
        &self,
        store: &mut S,
        ns: &Namespace,
        secret_if_new: &NamespaceSecret,
    ) -> Result<NamespaceRecord, S::Error> {
        if let Some(existing) = store.namespace(ns)? {
            return Ok(existing);
        }
        let created = NamespaceRecord {
            policy: NamespacePolicy::default(),
            secret: secret_if_new.clone(),
        };
        store.put_namespace(ns, created.clone())?;
        Ok(created)
    }
}
