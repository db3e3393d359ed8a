//! Property tests: generated command sequences (with leader changes and wall
//! clock jumps) against the reference model in `common/checks.rs`, plus
//! deterministic replay. At least 2,000 sequences per property; set
//! `IDEM_PROPTEST_CASES` to run more.

mod common;

use common::checks::{check, Property};
use common::workload::{run, workload, Observed};
use idem_core::*;
use proptest::prelude::*;

fn config() -> ProptestConfig {
    common::proptest_config()
}

fn holds(steps: &[common::workload::Step], property: Property) -> Result<(), TestCaseError> {
    let (_, trace) = run(steps, None);
    check(&trace, property).map_err(TestCaseError::fail)
}

fn bytes(store: &MemoryStore) -> Vec<u8> {
    bincode::serialize(store).expect("a memory store serialises")
}

fn replay(store: &mut MemoryStore, entries: &[Entry]) -> Vec<Outcome> {
    entries
        .iter()
        .map(|e| match apply(store, e) {
            Ok(o) => o,
            Err(never) => match never {},
        })
        .collect()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn tokens_strictly_increase_per_key(steps in workload()) {
        holds(&steps, Property::TokensIncrease)?;
    }

    #[test]
    fn never_two_live_owners(steps in workload()) {
        holds(&steps, Property::SingleOwner)?;
    }

    #[test]
    fn no_takeover_before_both_time_bounds(steps in workload()) {
        holds(&steps, Property::NoEarlyTakeover)?;
    }

    /// Wall clocks that step by minutes on one, two or all nodes, strobe
    /// (a step, then a correction) and drift hold no lease past the
    /// written bound.
    #[test]
    fn no_takeover_refused_after_the_lateness_bound(steps in workload()) {
        holds(&steps, Property::NoLateTakeover)?;
    }

    #[test]
    fn no_completion_outlives_the_lateness_bound(steps in workload()) {
        holds(&steps, Property::NoLateForget)?;
    }

    #[test]
    fn completed_response_never_changes_within_retention(steps in workload()) {
        holds(&steps, Property::CompletedStable)?;
    }

    #[test]
    fn a_key_answers_only_its_own_fingerprint(steps in workload()) {
        holds(&steps, Property::FingerprintBinding)?;
    }

    #[test]
    fn only_the_owners_own_attempt_resumes_its_grant(steps in workload()) {
        holds(&steps, Property::AttemptBinding)?;
    }

    #[test]
    fn committing_tokens_survive_takeovers_until_completion(steps in workload()) {
        holds(&steps, Property::CommittingKept)?;
    }

    #[test]
    fn what_must_succeed_succeeds(steps in workload()) {
        holds(&steps, Property::Progress)?;
    }

    #[test]
    fn replaying_the_same_log_gives_byte_identical_state(steps in workload(), cut in any::<prop::sample::Index>()) {
        let (sim, trace) = run(&steps, None);
        let logged: Vec<Outcome> = trace
            .iter()
            .filter_map(|e| match &e.observed { Observed::Outcome(o) => Some(o.clone()), Observed::Read(_) => None })
            .collect();

        // One replica replays the whole log.
        let mut whole = MemoryStore::default();
        let outcomes = replay(&mut whole, &sim.log);
        prop_assert_eq!(&outcomes, &logged);
        prop_assert_eq!(bytes(&whole), bytes(&sim.store));

        // Another installs a snapshot taken part-way, then replays the rest.
        let split = if sim.log.is_empty() { 0 } else { cut.index(sim.log.len() + 1) };
        let mut first = MemoryStore::default();
        replay(&mut first, &sim.log[..split]);
        let mut restored: MemoryStore = bincode::deserialize(&bytes(&first)).expect("snapshot decodes");
        let rest = replay(&mut restored, &sim.log[split..]);
        prop_assert_eq!(&rest[..], &logged[split..]);
        prop_assert_eq!(bytes(&restored), bytes(&sim.store));
    }

    #[test]
    fn a_reserve_answered_without_a_write_matches_apply(steps in workload()) {
        let (sim, _) = run(&steps, None);
        let mut store = MemoryStore::default();
        for entry in &sim.log {
            let hint = match (&entry.command, store.clock.advance(&entry.stamp)) {
                (Command::Reserve(cmd), Ok(clock)) if entry.stamp.term == entry.position.term => {
                    Some(reserve_without_write(&store, cmd, &clock.now()).unwrap_or_else(|e| match e {}))
                }
                _ => None,
            };
            let records_before = store.records.clone();
            let outcome = apply(&mut store, entry).unwrap_or_else(|e| match e {});
            match hint {
                Some(Some(answer)) => {
                    prop_assert_eq!(&outcome, &Outcome::Reserve(answer));
                    prop_assert_eq!(&store.records, &records_before);
                }
                Some(None) => {
                    let granted = matches!(outcome, Outcome::Reserve(ReserveOutcome::Reserved { .. }));
                    prop_assert!(granted, "{:?}", outcome);
                }
                None => {}
            }
        }
    }
}
