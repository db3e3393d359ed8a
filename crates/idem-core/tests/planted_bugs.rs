//! Each classic bug, planted behind the `planted-bugs` switch, is caught by
//! the property it breaks. If one of these tests fails, the properties have
//! lost the power to see that bug.

mod common;

use common::checks::{check, Property};
use common::workload::{run, workload};
use idem_core::PlantedBug;
use proptest::test_runner::{Config, TestError, TestRunner};

/// Runs generated workloads with `bug` planted until `property` fails.
/// Returns the minimal failing trace's message, or panics if none fails.
fn caught(bug: PlantedBug, property: Property) -> String {
    caught_within(bug, property, 2000)
}

/// [`caught`] with room for `cases` workloads, for a bug that only a rarer
/// sequence shows.
fn caught_within(bug: PlantedBug, property: Property, cases: u32) -> String {
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&workload(), |steps| {
        let (_, trace) = run(&steps, Some(bug));
        check(&trace, property).map_err(proptest::test_runner::TestCaseError::fail)
    });
    match result {
        Err(TestError::Fail(reason, _steps)) => reason.to_string(),
        Err(other) => panic!("runner stopped without a verdict: {other}"),
        Ok(()) => panic!("{bug:?} went unnoticed by {property:?} in {cases} workloads"),
    }
}

#[test]
fn expiry_from_cluster_time_alone_is_caught() {
    let why = caught(PlantedBug::ClusterTimeExpiry, Property::NoEarlyTakeover);
    assert!(why.contains("NoEarlyTakeover"), "{why}");
}

#[test]
fn skipping_the_fingerprint_check_is_caught() {
    let why = caught(
        PlantedBug::SkipFingerprintCheck,
        Property::FingerprintBinding,
    );
    assert!(why.contains("FingerprintBinding"), "{why}");
}

#[test]
fn accepting_a_stale_token_is_caught() {
    let why = caught(PlantedBug::AcceptStaleToken, Property::SingleOwner);
    assert!(why.contains("SingleOwner"), "{why}");
}

#[test]
fn resuming_across_attempts_is_caught() {
    let why = caught(PlantedBug::ResumeAcrossAttempts, Property::AttemptBinding);
    assert!(why.contains("AttemptBinding"), "{why}");
}

#[test]
fn resuming_despite_another_fingerprint_is_caught() {
    let why = caught(
        PlantedBug::ResumeIgnoringFingerprint,
        Property::FingerprintBinding,
    );
    assert!(why.contains("FingerprintBinding"), "{why}");
}

#[test]
fn forgetting_committing_tokens_at_a_second_takeover_is_caught() {
    // It needs a committing owner taken over twice before the second
    // owner's record could be forgotten: in one CI run 2,000 workloads
    // held none such, so this one gets 20,000 (a fraction of a second).
    let why = caught_within(
        PlantedBug::CommittingForgottenAtSecondTakeover,
        Property::CommittingKept,
        20_000,
    );
    assert!(why.contains("CommittingKept"), "{why}");
}

/// The correct rules pass the same workloads: the catches above are the
/// bugs', not the checker's.
#[test]
fn the_correct_rules_pass_every_property() {
    let config = Config {
        cases: 500,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let all = [
        Property::TokensIncrease,
        Property::SingleOwner,
        Property::NoEarlyTakeover,
        Property::CompletedStable,
        Property::FingerprintBinding,
        Property::Progress,
        Property::NoLateTakeover,
        Property::NoLateForget,
        Property::AttemptBinding,
        Property::CommittingKept,
    ];
    runner
        .run(&workload(), |steps| {
            let (_, trace) = run(&steps, None);
            for p in all {
                check(&trace, p).map_err(proptest::test_runner::TestCaseError::fail)?;
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
}
