//! Property tests of cluster time (`idem_core::cluster_time`): one node's
//! readings while real time passes and its wall clock steps (by seconds to
//! an hour, either way), strobes between true time and an offset, and
//! drifts. 2,000 generated runs per property (`IDEM_PROPTEST_CASES` for
//! more).

mod common;

use idem_core::cluster_time::{ClusterTime, SteerRate};
use proptest::prelude::*;

const T0: u64 = 1_800_000_000_000;

fn config() -> ProptestConfig {
    common::proptest_config()
}

/// What the wall clock does during one step of real time.
#[derive(Debug, Clone, Copy)]
enum Wall {
    /// Reads true time.
    True,
    /// Reads true time plus this offset (a step, held).
    Off(i64),
    /// Gains (or loses) this many parts per million of real time.
    Drift(i64),
}

/// One step: real time passes by `dt_ms`, with the wall clock doing
/// `wall`, and then the node reads cluster time.
#[derive(Debug, Clone, Copy)]
struct Step {
    dt_ms: u64,
    wall: Wall,
}

fn offset() -> impl Strategy<Value = i64> {
    prop_oneof![
        (-5_000i64..5_000),
        prop::sample::select(vec![
            -3_600_000, -600_000, -300_000, -60_000, 60_000, 300_000, 600_000, 3_600_000
        ]),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    let wall = prop_oneof![
        3 => Just(Wall::True),
        3 => offset().prop_map(Wall::Off),
        1 => (-200_000i64..200_000).prop_map(Wall::Drift),
    ];
    (0u64..3_000, wall).prop_map(|(dt_ms, wall)| Step { dt_ms, wall })
}

/// A run: a steer rate, and the steps (a strobe is Off and True in turn).
fn run() -> impl Strategy<Value = (u32, Vec<Step>)> {
    (
        prop::sample::select(vec![10_000u32, 100_000, 500_000]),
        prop::collection::vec(step(), 1..120),
    )
}

/// One reading: real (monotonic) ms since start, the wall clock, cluster time.
#[derive(Debug, Clone, Copy)]
struct Reading {
    mono_ms: u64,
    wall_ms: u64,
    cluster_ms: u64,
}

/// Plays `steps` on a node that starts at true time, and returns every
/// reading, and how long (in real ms) the wall clock had been wrong before
/// each reading.
fn play(steer: SteerRate, steps: &[Step]) -> Vec<(Reading, u64)> {
    let mut t = ClusterTime::start(0, T0, 0, steer);
    let (mut mono, mut drift_off, mut wrong_ms) = (0u64, 0i64, 0u64);
    let mut out = Vec::new();
    for s in steps {
        mono += s.dt_ms;
        let off = match s.wall {
            Wall::True => {
                drift_off = 0;
                0
            }
            Wall::Off(o) => o,
            Wall::Drift(ppm) => {
                drift_off += s.dt_ms as i64 * ppm / 1_000_000;
                drift_off
            }
        };
        if off != 0 {
            wrong_ms += s.dt_ms;
        }
        let true_ms = T0 + mono;
        let wall_ms = (true_ms as i64 + off) as u64;
        let cluster_ms = t.read(mono, wall_ms);
        out.push((
            Reading {
                mono_ms: mono,
                wall_ms,
                cluster_ms,
            },
            wrong_ms,
        ));
    }
    out
}

proptest! {
    #![proptest_config(config())]

    /// Between any two readings, cluster time advances by at least
    /// (1 − steer) and at most (1 + steer) of the real time between them,
    /// whatever the wall clock did: it never goes back, never stalls, and a
    /// deadline counted by it ends at most d × steer / (1 − steer) late.
    #[test]
    fn it_follows_real_time_within_the_steer_rate((ppm, steps) in run()) {
        let steer = SteerRate::from_ppm(ppm).expect("a valid rate");
        let readings = play(steer, &steps);
        for (i, (a, _)) in readings.iter().enumerate() {
            for (b, _) in &readings[i + 1..] {
                let real = b.mono_ms - a.mono_ms;
                let moved = b.cluster_ms.checked_sub(a.cluster_ms);
                prop_assert!(moved.is_some(), "went back: {a:?} then {b:?}");
                let moved = moved.unwrap_or(0);
                let slowest = real - real * u64::from(ppm) / 1_000_000;
                let fastest = real + real * u64::from(ppm) / 1_000_000;
                // Each reading rounds its allowance down: at most 1 ms per
                // reading in between, on either side.
                let slack = readings.len() as u64;
                prop_assert!(moved + slack >= slowest, "{moved} ms in {real} ms: slower than allowed ({a:?} .. {b:?})");
                prop_assert!(moved <= fastest + slack, "{moved} ms in {real} ms: faster than allowed ({a:?} .. {b:?})");
            }
        }
    }

    /// A node that starts at true time is never further from true time than
    /// the steer's share of the time its wall clock has been wrong: a step
    /// of any size, held for w ms, moves cluster time (and so every deadline
    /// counted by it) by at most w × steer.
    #[test]
    fn wall_clock_steps_move_it_by_the_steer_share_of_their_duration_only((ppm, steps) in run()) {
        let steer = SteerRate::from_ppm(ppm).expect("a valid rate");
        for (r, wrong_ms) in play(steer, &steps) {
            let true_ms = T0 + r.mono_ms;
            let gap = r.cluster_ms.abs_diff(true_ms);
            let bound = wrong_ms * u64::from(ppm) / 1_000_000;
            prop_assert!(gap <= bound + 1, "{gap} ms from true time after {wrong_ms} ms of a wrong wall clock: {r:?}");
        }
    }

    /// Once the wall clock is right again, cluster time meets it within
    /// gap / steer of real time, and then stays on it.
    #[test]
    fn it_meets_a_corrected_wall_clock((ppm, steps) in run()) {
        let steer = SteerRate::from_ppm(ppm).expect("a valid rate");
        let readings = play(steer, &steps);
        let Some((last, _)) = readings.last() else { return Ok(()) };
        let gap = last.cluster_ms.abs_diff(T0 + last.mono_ms);
        let mut t = ClusterTime::start(0, T0, 0, steer);
        for (r, _) in &readings {
            t.read(r.mono_ms, r.wall_ms);
        }
        let needed = gap * 1_000_000 / u64::from(ppm.max(1)) + 1_000;
        let mono = last.mono_ms + needed;
        prop_assert_eq!(t.read(mono, T0 + mono), T0 + mono);
        prop_assert_eq!(t.read(mono + 5_000, T0 + mono + 5_000), T0 + mono + 5_000);
    }

    /// An observed stamp and an agreed wall time are never ahead of cluster
    /// time afterwards, and moving forward for them never turns it back.
    #[test]
    fn observed_stamps_are_never_ahead_of_it_afterwards(
        (ppm, steps) in run(),
        stamps in prop::collection::vec((0usize..120, -600_000i64..600_000), 0..20),
    ) {
        let steer = SteerRate::from_ppm(ppm).expect("a valid rate");
        let readings = play(steer, &steps);
        let mut t = ClusterTime::start(0, T0, 0, steer);
        let mut floor = 0;
        let mut last = 0;
        for (i, (r, _)) in readings.iter().enumerate() {
            for (_, ahead) in stamps.iter().filter(|(at, _)| *at == i) {
                let stamp = (r.wall_ms as i64 + ahead) as u64;
                t.observe(r.mono_ms, stamp, r.wall_ms);
                floor = floor.max(stamp);
            }
            let now = t.read(r.mono_ms, r.wall_ms);
            prop_assert!(now >= floor, "{now} behind an observed stamp {floor}");
            prop_assert!(now >= last, "went back from {last} to {now}");
            last = now;
        }
    }
}
