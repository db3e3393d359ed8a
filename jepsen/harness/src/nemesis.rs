//! The faults, each drawn on a schedule from the run's seed: network
//! (partitions, an isolated leader, a bridge, packet loss), process (kill -9
//! and restart, SIGSTOP/SIGCONT) and clock (wall-clock bumps and strobing
//! through libfaketime, monotonic time untouched). One scheduler runs per
//! family, so with several families faults overlap.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use idem_jepsen_check::history::{EventBody, NemesisPhase};

use crate::error::HarnessError;
use crate::netns::TestNet;
use crate::nodes::{current_leader, Nodes};
use crate::recorder::Recorder;
use crate::rng::Rng;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NemesisKind {
    /// The nodes split into two random halves.
    Halves,
    /// The leader cut off from both followers.
    IsolateLeader,
    /// A bridge: two nodes cannot see each other, the third sees both; every
    /// node sees a majority and no two see the same set (the 3-node ring).
    Ring,
    /// Random loss of packets between nodes.
    Loss,
    /// kill -9 of a node (often the leader), restarted later.
    Kill,
    /// SIGSTOP of a node for longer than any lease, then SIGCONT.
    Pause,
    /// One, two or all three wall clocks jump (seconds to minutes, either
    /// way), then jump back.
    ClockBump,
    /// Wall clocks flip back and forth between true time and an offset.
    ClockStrobe,
    /// One, two or all three wall clocks jump (either way) and stay there
    /// for longer than cluster time waits before catching up to a
    /// majority's wall time (30 s), then are corrected.
    ClockLasting,
    /// Every wall clock jumps ahead by the same half-minute to five minutes
    /// (an NTP server gone wrong), is held there past the catch-up (so
    /// cluster time jumps ahead with it), then corrected. Not in `clock` or
    /// `all`: asked for by name (it is the fault that shows a lease judged
    /// by cluster time alone).
    ClockAhead,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Network,
    Process,
    Clock,
}

impl NemesisKind {
    pub const ALL: [NemesisKind; 9] = [
        NemesisKind::Halves,
        NemesisKind::IsolateLeader,
        NemesisKind::Ring,
        NemesisKind::Loss,
        NemesisKind::Kill,
        NemesisKind::Pause,
        NemesisKind::ClockBump,
        NemesisKind::ClockStrobe,
        NemesisKind::ClockLasting,
    ];

    /// The kinds asked for by name only (in no group, not in `all`).
    const BY_NAME_ONLY: [NemesisKind; 1] = [NemesisKind::ClockAhead];

    /// Every kind, those asked for by name only included.
    fn every() -> impl Iterator<Item = NemesisKind> {
        NemesisKind::ALL
            .into_iter()
            .chain(NemesisKind::BY_NAME_ONLY)
    }

    pub fn name(self) -> &'static str {
        match self {
            NemesisKind::Halves => "partition-halves",
            NemesisKind::IsolateLeader => "isolate-leader",
            NemesisKind::Ring => "partition-ring",
            NemesisKind::Loss => "packet-loss",
            NemesisKind::Kill => "kill",
            NemesisKind::Pause => "pause",
            NemesisKind::ClockBump => "clock-bump",
            NemesisKind::ClockStrobe => "clock-strobe",
            NemesisKind::ClockLasting => "clock-lasting",
            NemesisKind::ClockAhead => "clock-ahead",
        }
    }

    fn family(self) -> Family {
        match self {
            NemesisKind::Halves
            | NemesisKind::IsolateLeader
            | NemesisKind::Ring
            | NemesisKind::Loss => Family::Network,
            NemesisKind::Kill | NemesisKind::Pause => Family::Process,
            NemesisKind::ClockBump
            | NemesisKind::ClockStrobe
            | NemesisKind::ClockLasting
            | NemesisKind::ClockAhead => Family::Clock,
        }
    }

    /// Reads a comma-separated list of names and groups: `partition`
    /// (halves, isolate-leader, ring), `loss`, `kill`, `pause`, `clock`
    /// (bump, strobe, lasting), `all`, or any single kind's name.
    pub fn parse_list(list: &str) -> Result<Vec<NemesisKind>, String> {
        use NemesisKind::*;
        let mut out = Vec::new();
        for word in list.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            let kinds: Vec<NemesisKind> = match word {
                "none" => vec![],
                "all" => NemesisKind::ALL.to_vec(),
                "partition" => vec![Halves, IsolateLeader, Ring],
                "loss" => vec![Loss],
                "kill" => vec![Kill],
                "pause" => vec![Pause],
                "clock" | "skew" => vec![ClockBump, ClockStrobe, ClockLasting],
                other => match NemesisKind::every().find(|k| k.name() == other) {
                    Some(k) => vec![k],
                    None => {
                        return Err(format!(
                            "unknown nemesis {other:?}: use partition, loss, kill, pause, clock, \
                             all, none, or one of {}",
                            NemesisKind::every()
                                .map(|k| k.name())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                    }
                },
            };
            for k in kinds {
                if !out.contains(&k) {
                    out.push(k);
                }
            }
        }
        Ok(out)
    }
}

/// What the nemeses act on.
pub struct Stage {
    pub net: TestNet,
    pub nodes: Arc<Nodes>,
    pub recorder: Arc<Recorder>,
}

impl Stage {
    fn mark(&self, phase: NemesisPhase, kind: NemesisKind, detail: String) {
        let when = self.recorder.elapsed_secs();
        let verb = match phase {
            NemesisPhase::Start => "start",
            NemesisPhase::Stop => "stop ",
        };
        eprintln!("[{when:7.1}s] nemesis {verb} {}: {detail}", kind.name());
        self.recorder.record(EventBody::Nemesis {
            phase,
            name: kind.name().to_string(),
            detail,
        });
    }

    /// Undoes every fault: heals the network, resumes and restarts nodes,
    /// puts clocks back.
    pub fn heal_everything(&self) -> Result<(), HarnessError> {
        self.net.heal()?;
        for node in self.nodes.ids() {
            self.nodes.pause(node, false);
            if !self.nodes.is_running(node) {
                self.nodes.start(node)?;
            }
            self.nodes.set_clock_offset(node, 0)?;
        }
        Ok(())
    }
}

/// Runs one scheduler per family of `kinds` until `stop`.
pub async fn run_schedules(
    stage: Arc<Stage>,
    kinds: Vec<NemesisKind>,
    mut rng: Rng,
    stop: Arc<AtomicBool>,
) -> Result<(), HarnessError> {
    let mut tasks = Vec::new();
    for (i, family) in [Family::Network, Family::Process, Family::Clock]
        .into_iter()
        .enumerate()
    {
        let mine: Vec<NemesisKind> = kinds
            .iter()
            .copied()
            .filter(|k| k.family() == family)
            .collect();
        if mine.is_empty() {
            continue;
        }
        let stage = stage.clone();
        let stop = stop.clone();
        let rng = rng.fork(100 + i as u64);
        tasks.push(tokio::spawn(schedule(stage, mine, rng, stop)));
    }
    for t in tasks {
        match t.await {
            Ok(result) => result?,
            Err(e) => {
                return Err(HarnessError::Command {
                    command: "nemesis".into(),
                    detail: e.to_string(),
                })
            }
        }
    }
    Ok(())
}

async fn schedule(
    stage: Arc<Stage>,
    kinds: Vec<NemesisKind>,
    mut rng: Rng,
    stop: Arc<AtomicBool>,
) -> Result<(), HarnessError> {
    loop {
        if sleep_unless(&stop, Duration::from_millis(rng.between(2_000, 5_000))).await {
            return Ok(());
        }
        let kind = *rng.pick(&kinds);
        perform(&stage, kind, &mut rng, &stop).await?;
    }
}

/// Sleeps; true if `stop` turned true meanwhile.
async fn sleep_unless(stop: &AtomicBool, total: Duration) -> bool {
    let step = Duration::from_millis(100);
    let deadline = tokio::time::Instant::now() + total;
    while tokio::time::Instant::now() < deadline {
        if stop.load(Ordering::SeqCst) {
            return true;
        }
        tokio::time::sleep(step).await;
    }
    stop.load(Ordering::SeqCst)
}

/// Starts one fault, holds it, and ends it.
async fn perform(
    stage: &Stage,
    kind: NemesisKind,
    rng: &mut Rng,
    stop: &AtomicBool,
) -> Result<(), HarnessError> {
    let ids = stage.nodes.ids();
    let hold = Duration::from_millis(rng.between(4_000, 10_000));
    match kind {
        NemesisKind::Halves => {
            let order = rng.shuffled(ids.len());
            let split = rng.between(1, ids.len() as u64 - 1) as usize;
            let (a, b): (Vec<u32>, Vec<u32>) = (
                order[..split].iter().map(|&i| ids[i]).collect(),
                order[split..].iter().map(|&i| ids[i]).collect(),
            );
            for &x in &a {
                for &y in &b {
                    stage.net.cut(x, y)?;
                }
            }
            stage.mark(NemesisPhase::Start, kind, format!("{a:?} | {b:?}"));
            sleep_unless(stop, hold).await;
            stage.net.heal()?;
            stage.mark(NemesisPhase::Stop, kind, "healed".into());
        }
        NemesisKind::IsolateLeader => {
            let leader = current_leader(&ids)
                .await
                .unwrap_or_else(|| *rng.pick(&ids));
            for &y in ids.iter().filter(|&&y| y != leader) {
                stage.net.cut(leader, y)?;
            }
            stage.mark(NemesisPhase::Start, kind, format!("node {leader} isolated"));
            sleep_unless(stop, hold).await;
            stage.net.heal()?;
            stage.mark(NemesisPhase::Stop, kind, "healed".into());
        }
        NemesisKind::Ring => {
            let order = rng.shuffled(ids.len());
            let (left, bridge, right) = (ids[order[0]], ids[order[1]], ids[order[2]]);
            stage.net.cut(left, right)?;
            stage.mark(
                NemesisPhase::Start,
                kind,
                format!("{left} and {right} cut apart; {bridge} sees both"),
            );
            sleep_unless(stop, hold).await;
            stage.net.heal()?;
            stage.mark(NemesisPhase::Stop, kind, "healed".into());
        }
        NemesisKind::Loss => {
            let p = rng.between(10, 40) as f64 / 100.0;
            stage.net.lose(p)?;
            stage.mark(
                NemesisPhase::Start,
                kind,
                format!("{:.0}% of packets between nodes dropped", p * 100.0),
            );
            sleep_unless(stop, hold).await;
            stage.net.heal()?;
            stage.mark(NemesisPhase::Stop, kind, "healed".into());
        }
        NemesisKind::Kill => {
            let target = if rng.chance(0.6) {
                current_leader(&ids)
                    .await
                    .unwrap_or_else(|| *rng.pick(&ids))
            } else {
                *rng.pick(&ids)
            };
            stage.nodes.kill(target);
            stage.mark(NemesisPhase::Start, kind, format!("node {target} killed"));
            sleep_unless(stop, Duration::from_millis(rng.between(2_000, 6_000))).await;
            stage.nodes.start(target)?;
            stage.mark(NemesisPhase::Stop, kind, format!("node {target} restarted"));
        }
        NemesisKind::Pause => {
            let target = if rng.chance(0.6) {
                current_leader(&ids)
                    .await
                    .unwrap_or_else(|| *rng.pick(&ids))
            } else {
                *rng.pick(&ids)
            };
            stage.nodes.pause(target, true);
            stage.mark(NemesisPhase::Start, kind, format!("node {target} paused"));
            // Longer than the longest lease the workload takes (2 s).
            sleep_unless(stop, Duration::from_millis(rng.between(2_500, 5_000))).await;
            stage.nodes.pause(target, false);
            stage.mark(NemesisPhase::Stop, kind, format!("node {target} resumed"));
        }
        NemesisKind::ClockBump | NemesisKind::ClockLasting => {
            let targets = pick_some(rng, &ids);
            let mut detail = Vec::new();
            for &n in &targets {
                let offset = skew(rng);
                stage.nodes.set_clock_offset(n, offset)?;
                detail.push(format!("node {n} {offset:+}s"));
            }
            stage.mark(NemesisPhase::Start, kind, detail.join(", "));
            let held = if kind == NemesisKind::ClockLasting {
                lasting(rng)
            } else {
                hold
            };
            sleep_unless(stop, held).await;
            for &n in &targets {
                stage.nodes.set_clock_offset(n, 0)?;
            }
            stage.mark(NemesisPhase::Stop, kind, "clocks back to true time".into());
        }
        NemesisKind::ClockAhead => {
            let offset = *rng.pick(&[30i64, 120, 300]);
            for &n in &ids {
                stage.nodes.set_clock_offset(n, offset)?;
            }
            stage.mark(NemesisPhase::Start, kind, format!("every node {offset:+}s"));
            sleep_unless(stop, lasting(rng)).await;
            for &n in &ids {
                stage.nodes.set_clock_offset(n, 0)?;
            }
            stage.mark(NemesisPhase::Stop, kind, "clocks back to true time".into());
        }
        NemesisKind::ClockStrobe => {
            let targets = pick_some(rng, &ids);
            let offsets: Vec<i64> = targets.iter().map(|_| skew(rng)).collect();
            let period = Duration::from_millis(rng.between(1_100, 2_500));
            stage.mark(
                NemesisPhase::Start,
                kind,
                format!("nodes {targets:?} flip between 0 and {offsets:?} s every {period:?}"),
            );
            let deadline = tokio::time::Instant::now() + hold;
            let mut on = true;
            while tokio::time::Instant::now() < deadline && !stop.load(Ordering::SeqCst) {
                for (&n, &o) in targets.iter().zip(&offsets) {
                    stage.nodes.set_clock_offset(n, if on { o } else { 0 })?;
                }
                on = !on;
                tokio::time::sleep(period).await;
            }
            for &n in &targets {
                stage.nodes.set_clock_offset(n, 0)?;
            }
            stage.mark(NemesisPhase::Stop, kind, "clocks back to true time".into());
        }
    }
    Ok(())
}

/// How long a lasting step is held: past the 30 s after which cluster time
/// catches up to a wall time a majority agrees on.
fn lasting(rng: &mut Rng) -> Duration {
    Duration::from_millis(rng.between(35_000, 50_000))
}

/// One, two or all of the nodes.
fn pick_some(rng: &mut Rng, ids: &[u32]) -> Vec<u32> {
    let count = rng.between(1, ids.len() as u64) as usize;
    let mut chosen: Vec<u32> = rng.shuffled(ids.len())[..count]
        .iter()
        .map(|&i| ids[i])
        .collect();
    chosen.sort_unstable();
    chosen
}

/// A clock jump: seconds to minutes, forwards or backwards.
fn skew(rng: &mut Rng) -> i64 {
    let magnitude = *rng.pick(&[2i64, 5, 30, 120, 300]);
    if rng.chance(0.5) {
        magnitude
    } else {
        -magnitude
    }
}
