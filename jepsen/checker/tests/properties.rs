//! Properties over many random histories: simulated runs of a correct idem
//! are valid (also when cut off at any point), and no input, however
//! malformed, makes the checker or the report panic.

mod sim;

use idem_jepsen_check::history::{
    Event, EventBody, NemesisPhase, Outcome, Request, StoredResponse,
};
use idem_jepsen_check::report::{summary_text, timeline_svg};
use idem_jepsen_check::{check, CheckLimits};
use proptest::prelude::*;
use sim::{simulate, Config};

/// `cases` cases, without a regressions file (this is not the crate root).
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn small_config() -> impl Strategy<Value = Config> {
    (
        any::<u64>(),
        1usize..8,
        1usize..4,
        10usize..300,
        0.0f64..0.3,
        1usize..4,
    )
        .prop_map(
            |(seed, clients, keys, ops, info_rate, fingerprints)| Config {
                seed,
                clients,
                keys,
                ops,
                info_rate,
                fingerprints,
                ..Config::churn(seed)
            },
        )
}

proptest! {
    #![proptest_config(config(200))]

    #[test]
    fn a_simulated_run_of_a_correct_idem_is_valid(cfg in small_config()) {
        let events = simulate(&cfg);
        let report = check(&events, &CheckLimits::default());
        prop_assert!(report.is_valid(), "{}", summary_text(&events, &report));
    }

    #[test]
    fn a_valid_run_cut_off_anywhere_is_still_valid(cfg in small_config(), cut in 0.0f64..1.0) {
        let mut events = simulate(&cfg);
        events.truncate((events.len() as f64 * cut) as usize);
        let report = check(&events, &CheckLimits::default());
        prop_assert!(report.is_valid(), "{}", summary_text(&events, &report));
    }
}

fn response() -> impl Strategy<Value = StoredResponse> {
    (prop_oneof![Just(200u16), Just(201)], "[ab<&]{0,3}")
        .prop_map(|(status, body)| StoredResponse { status, body })
}

/// Small tokens, so that they collide, and the largest one.
fn token() -> impl Strategy<Value = u64> {
    prop_oneof![4 => 0u64..6, 1 => Just(u64::MAX)]
}

fn millis() -> impl Strategy<Value = u64> {
    prop_oneof![4 => 0u64..5_000, 1 => any::<u64>()]
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        (
            "[ab]",
            millis(),
            millis(),
            prop::option::of("[xy]"),
            millis()
        )
            .prop_map(|(fingerprint, lease_ms, retain_ms, attempt, wait_ms)| {
                Request::Reserve {
                    fingerprint,
                    lease_ms,
                    retain_ms,
                    attempt,
                    wait_ms,
                }
            }),
        (token(), millis(), any::<bool>()).prop_map(|(token, lease_ms, committing)| {
            Request::Heartbeat {
                token,
                lease_ms,
                committing,
            }
        }),
        (token(), response()).prop_map(|(token, response)| Request::Complete { token, response }),
        (token(), any::<bool>()).prop_map(|(token, not_committed)| Request::Release {
            token,
            not_committed
        }),
        Just(Request::Get),
    ]
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        (
            token(),
            any::<bool>(),
            any::<bool>(),
            prop::collection::vec(token(), 0..3)
        )
            .prop_map(|(token, takeover, resumed, previous_committing)| {
                Outcome::Reserved {
                    token,
                    takeover,
                    resumed,
                    previous_committing,
                }
            }),
        (token(), response()).prop_map(|(token, response)| Outcome::Replayed { token, response }),
        Just(Outcome::InProgress),
        Just(Outcome::FingerprintMismatch),
        (token()).prop_map(|token| Outcome::Extended { token }),
        (token(), any::<bool>())
            .prop_map(|(token, replayed)| Outcome::Completed { token, replayed }),
        (token()).prop_map(|token| Outcome::ConflictingCompletion { token }),
        "[a-z<]{0,4}".prop_map(|reason| Outcome::KeyLost { reason }),
        (token()).prop_map(|token| Outcome::Released { token }),
        (token()).prop_map(|token| Outcome::ReleaseRefused { token }),
        (token(), "[ab]")
            .prop_map(|(token, fingerprint)| Outcome::RecordReleased { token, fingerprint }),
        Just(Outcome::NotFound),
        (token(), "[ab]")
            .prop_map(|(token, fingerprint)| Outcome::RecordInProgress { token, fingerprint }),
        (token(), "[ab]", response()).prop_map(|(token, fingerprint, response)| {
            Outcome::RecordCompleted {
                token,
                fingerprint,
                response,
            }
        }),
    ]
}

fn body() -> impl Strategy<Value = EventBody> {
    let process = 0u64..4;
    prop_oneof![
        3 => (process.clone(), 0u32..4, "[kj&<]", request())
            .prop_map(|(process, node, key, request)| EventBody::Invoke { process, node, key, request }),
        3 => (process.clone(), outcome()).prop_map(|(process, outcome)| EventBody::Ok { process, outcome }),
        1 => process.clone().prop_map(|process| EventBody::Fail { process, error: "e".into() }),
        1 => process.prop_map(|process| EventBody::Info { process, error: "<&>".into() }),
        1 => (any::<bool>(), "[pq<&\"]{1,3}", ".{0,3}").prop_map(|(start, name, detail)| EventBody::Nemesis {
            phase: if start { NemesisPhase::Start } else { NemesisPhase::Stop },
            name,
            detail,
        }),
    ]
}

fn any_history() -> impl Strategy<Value = Vec<Event>> {
    proptest::collection::vec(
        (body(), any::<u64>(), any::<bool>(), 0u64..3_000_000_000),
        0..60,
    )
    .prop_map(|items| {
        let mut time = 0u64;
        items
            .into_iter()
            .enumerate()
            .map(|(i, (body, wild, scramble, step))| {
                time = time.saturating_add(step);
                Event {
                    index: if scramble { wild } else { i as u64 },
                    time_ns: if scramble { wild } else { time },
                    body,
                }
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(config(500))]

    #[test]
    fn no_history_makes_the_checker_or_the_report_panic(events in any_history()) {
        let report = check(&events, &CheckLimits { max_states_per_key: 10_000 });
        let text = summary_text(&events, &report);
        prop_assert!(text.contains("VALID"));
        let svg = timeline_svg(&events, &report);
        prop_assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        prop_assert!(serde_json::to_string(&report).is_ok());
    }
}
