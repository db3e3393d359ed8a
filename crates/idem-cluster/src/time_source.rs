//! Where a node reads the time: its wall clock and its monotonic clock,
//! behind one small interface, so that tests can step, strobe and drift a
//! node's wall clock, and run monotonic time under tokio's test clock,
//! without libfaketime and without sleeping.
//!
//! Everything in this crate that reads the time reads it here: the HLC's
//! physical part (wall), the start of a leadership term, the leader lease
//! and the refusal of suspect peers (monotonic), the clock probes (wall).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// A node's two clocks.
pub trait TimeSource: Send + Sync + 'static {
    /// The wall clock, in milliseconds since the Unix epoch. It may jump
    /// either way (an NTP step, a resumed VM).
    fn wall_ms(&self) -> u64;
    /// The monotonic clock: never goes back, unaffected by wall-clock steps.
    /// It is tokio's, so a test with a paused runtime controls it too.
    fn monotonic(&self) -> Instant {
        Instant::now()
    }
}

/// The machine's clocks.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClocks;

/// The machine's wall clock in milliseconds since the Unix epoch (0 if it
/// reads before the epoch).
pub fn system_wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

impl TimeSource for SystemClocks {
    fn wall_ms(&self) -> u64 {
        system_wall_ms()
    }
}

/// A wall clock a test moves: it starts at the machine's wall clock and
/// follows monotonic time from there (so under tokio's paused test clock it
/// moves only when the test advances time), plus an offset the test steps,
/// plus a drift that accrues with monotonic time. The monotonic clock is
/// tokio's, untouched by steps (as with a real NTP step).
#[derive(Debug)]
pub struct ControlledClocks {
    /// The machine's wall clock when these clocks were made, and the
    /// monotonic instant of that reading.
    origin_wall_ms: u64,
    origin: Instant,
    /// Added to the machine's wall clock, in ms.
    offset_ms: AtomicI64,
    /// Drift in parts per million of monotonic time since `drift_from`
    /// (positive: the wall clock runs fast).
    drift: Mutex<Drift>,
}

#[derive(Debug, Clone, Copy)]
struct Drift {
    ppm: i64,
    from: Instant,
}

impl Default for ControlledClocks {
    fn default() -> Self {
        ControlledClocks {
            origin_wall_ms: system_wall_ms(),
            origin: Instant::now(),
            offset_ms: AtomicI64::new(0),
            drift: Mutex::new(Drift {
                ppm: 0,
                from: Instant::now(),
            }),
        }
    }
}

impl ControlledClocks {
    pub fn new() -> Self {
        Self::default()
    }

    /// Steps the wall clock by `delta_ms` (negative: back).
    pub fn step(&self, delta_ms: i64) {
        self.offset_ms.fetch_add(delta_ms, Ordering::SeqCst);
    }

    /// Sets the wall clock's offset from true time to `offset_ms` (0:
    /// correct again, but for accrued drift).
    pub fn set_offset(&self, offset_ms: i64) {
        self.offset_ms.store(offset_ms, Ordering::SeqCst);
    }

    /// The wall clock's current offset from true time, drift included.
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::SeqCst) + self.drift_ms()
    }

    /// From now on the wall clock gains `ppm` parts per million of
    /// monotonic time (what it gained so far is kept as an offset).
    pub fn drift(&self, ppm: i64) {
        let accrued = self.drift_ms();
        self.offset_ms.fetch_add(accrued, Ordering::SeqCst);
        let mut d = self.drift.lock().unwrap_or_else(|p| p.into_inner());
        *d = Drift {
            ppm,
            from: Instant::now(),
        };
    }

    fn drift_ms(&self) -> i64 {
        let d = *self.drift.lock().unwrap_or_else(|p| p.into_inner());
        let elapsed = i64::try_from(d.from.elapsed().as_millis()).unwrap_or(i64::MAX);
        elapsed.saturating_mul(d.ppm) / 1_000_000
    }
}

impl TimeSource for ControlledClocks {
    fn wall_ms(&self) -> u64 {
        let elapsed = u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX);
        let true_ms =
            i64::try_from(self.origin_wall_ms.saturating_add(elapsed)).unwrap_or(i64::MAX);
        u64::try_from(true_ms.saturating_add(self.offset_ms())).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_moves_the_wall_clock_and_not_the_monotonic_one() {
        let clocks = ControlledClocks::new();
        let (wall, mono) = (clocks.wall_ms(), clocks.monotonic());
        clocks.step(600_000);
        assert!(clocks.wall_ms() >= wall + 600_000);
        assert!(clocks.monotonic().duration_since(mono).as_secs() < 5);
        clocks.step(-1_200_000);
        assert!(clocks.wall_ms() < wall);
        clocks.set_offset(0);
        assert!(clocks.wall_ms().abs_diff(system_wall_ms()) < 1_000);
    }

    #[tokio::test(start_paused = true)]
    async fn under_a_paused_runtime_the_wall_clock_follows_virtual_time() {
        let clocks = ControlledClocks::new();
        let wall = clocks.wall_ms();
        tokio::time::advance(std::time::Duration::from_secs(3600)).await;
        assert!(clocks.wall_ms() >= wall + 3_600_000);
        assert!(clocks.wall_ms() < wall + 3_601_000);
    }

    #[tokio::test(start_paused = true)]
    async fn drift_accrues_with_monotonic_time() {
        let clocks = ControlledClocks::new();
        clocks.drift(100_000); // a tenth fast
        tokio::time::advance(std::time::Duration::from_secs(10)).await;
        assert_eq!(clocks.offset_ms(), 1_000);
        clocks.drift(0);
        tokio::time::advance(std::time::Duration::from_secs(10)).await;
        assert_eq!(clocks.offset_ms(), 1_000, "what was gained is kept");
    }
}
