//! Long simulated histories: valid ones must come out valid, with the
//! linearizability search well within budget and time; one corrupted answer
//! must be caught, and pinned on the right operation.
//!
//! Run with `--nocapture` to see the sizes and timings.

mod sim;

use idem_jepsen_check::history::{Event, EventBody, Outcome};
use idem_jepsen_check::report::{summary_text, timeline_svg};
use idem_jepsen_check::{check, CheckLimits, CheckName, CheckReport, Linearizability};
use sim::{simulate, Config};
use std::time::{Duration, Instant};

/// A generous bound for slow CI machines; these take milliseconds.
const TIME_LIMIT: Duration = Duration::from_secs(20);

fn timed_check(name: &str, events: &[Event]) -> (CheckReport, Duration) {
    let start = Instant::now();
    let report = check(events, &CheckLimits::default());
    let took = start.elapsed();
    let info = events
        .iter()
        .filter(|e| matches!(e.body, EventBody::Info { .. }))
        .count();
    let max_states = report.keys.iter().map(|k| k.states).max().unwrap_or(0);
    let max_ops = report.keys.iter().map(|k| k.ops).max().unwrap_or(0);
    eprintln!(
        "{name}: {} events, {} ops ({info} info) on {} keys (up to {max_ops} per key): \
         checked in {took:?}, at most {max_states} states per key",
        events.len(),
        report.ops,
        report.keys.len(),
    );
    (report, took)
}

fn assert_valid_quickly(name: &str, cfg: &Config) {
    let events = simulate(cfg);
    let (report, took) = timed_check(name, &events);
    assert!(report.is_valid(), "{}", summary_text(&events, &report));
    let budget = CheckLimits::default().max_states_per_key;
    for k in &report.keys {
        assert!(k.states < budget / 20, "{}: {} states", k.key, k.states);
    }
    assert!(took < TIME_LIMIT, "took {took:?}");
}

#[test]
fn eight_keys_with_two_thousand_operations_each_are_valid() {
    assert_valid_quickly("spread", &Config::spread(1));
}

#[test]
fn two_hot_keys_are_valid() {
    assert_valid_quickly("hot", &Config::hot(2));
}

#[test]
fn write_heavy_keys_are_valid_for_several_seeds() {
    for seed in 10..15 {
        assert_valid_quickly(&format!("churn {seed}"), &Config::churn(seed));
    }
}

#[test]
fn twenty_clients_on_one_key_with_many_indeterminate_answers_are_valid() {
    let cfg = Config {
        clients: 20,
        keys: 1,
        ops: 3_000,
        info_rate: 0.15,
        ..Config::churn(5)
    };
    assert_valid_quickly("one key", &cfg);
}

/// Gives the first `Replayed` answer at or after `from` (a share of the
/// history) another body; returns its invocation's and its own index.
fn corrupt_a_replay(events: &mut [Event], from: f64) -> (u64, u64) {
    let start = (events.len() as f64 * from) as usize;
    let (seq, process) = events
        .iter()
        .enumerate()
        .skip(start)
        .find_map(|(i, e)| match &e.body {
            EventBody::Ok {
                process,
                outcome: Outcome::Replayed { .. },
            } => Some((i, *process)),
            _ => None,
        })
        .expect("the simulation made a replay");
    let invoke = events[..seq]
        .iter()
        .rev()
        .find(|e| matches!(e.body, EventBody::Invoke { process: p, .. } if p == process))
        .map(|e| e.index)
        .expect("its invocation");
    if let EventBody::Ok {
        outcome: Outcome::Replayed { response, .. },
        ..
    } = &mut events[seq].body
    {
        response.body.push_str(" (corrupted)");
    }
    (invoke, events[seq].index)
}

fn assert_corruption_caught(name: &str, cfg: &Config, from: f64) {
    let mut events = simulate(cfg);
    let (invoke, answer) = corrupt_a_replay(&mut events, from);
    let (report, took) = timed_check(name, &events);
    assert!(!report.is_valid());
    let pinned = report.keys.iter().any(|k| {
        matches!(&k.result, Linearizability::NotLinearizable { ops, .. } if ops.contains(&invoke))
    });
    assert!(pinned, "{}", summary_text(&events, &report));
    let v = report
        .violations_of(CheckName::Linearizability)
        .next()
        .expect("a linearizability violation");
    assert!(v.events.contains(&answer), "{v:?}");
    assert!(took < TIME_LIMIT, "took {took:?}");
}

#[test]
fn a_corrupted_replay_near_the_end_of_a_long_history_is_caught() {
    assert_corruption_caught("corrupted at 90%", &Config::churn(3), 0.9);
    assert_corruption_caught("corrupted at 95%", &Config::spread(3), 0.95);
}

#[test]
fn a_corrupted_replay_midway_is_caught() {
    assert_corruption_caught("corrupted at 50%", &Config::churn(4), 0.5);
}

#[test]
fn a_corrupted_replay_among_many_slow_requests_is_caught() {
    // One request in ten takes 0.5 to 3 s each way: each is concurrent with
    // hundreds of others, the hard case for proving that no order exists.
    let cfg = Config {
        slow_rate: 0.1,
        slow_ms: (500, 3_000),
        ..Config::churn(0)
    };
    assert_corruption_caught("slow, corrupted at 90%", &cfg, 0.9);
}

#[test]
fn the_report_of_a_long_history_renders() {
    let events = simulate(&Config {
        ops: 2_000,
        ..Config::spread(4)
    });
    let report = check(&events, &CheckLimits::default());
    let text = summary_text(&events, &report);
    assert!(text.contains("  partition ("), "{text}");
    assert!(text.trim_end().ends_with("VALID"), "{text}");
    let svg = timeline_svg(&events, &report);
    assert!(svg.starts_with("<svg"));
    assert!(svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains(">clock-skew</text>"));
}
