//! The live progress line on stderr, once per second.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::schedule::Phases;
use crate::stats::RunStats;

/// Prints a line per second until the task is aborted.
pub async fn report_progress(stats: Arc<Mutex<RunStats>>, phases: Phases) {
    let mut ticker = tokio::time::interval_at(
        tokio::time::Instant::now() + Duration::from_secs(1),
        Duration::from_secs(1),
    );
    let mut last_operations = 0;
    let mut last_tick = Instant::now();
    loop {
        ticker.tick().await;
        let now = Instant::now();
        let (operations, p99_us, errors) = {
            let stats = stats
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let p99 =
                (!stats.latency_us.is_empty()).then(|| stats.latency_us.value_at_quantile(0.99));
            (stats.all_operations, p99, stats.counts.error)
        };
        let elapsed = now
            .saturating_duration_since(last_tick)
            .as_secs_f64()
            .max(1e-3);
        let rate = (operations - last_operations) as f64 / elapsed;
        // The second that just ended is named by the phase it began in.
        let phase = if last_tick < phases.measure_start {
            "warmup"
        } else {
            "measure"
        };
        let p99 = p99_us.map_or_else(
            || "-".to_string(),
            |us| format!("{:.2} ms", us as f64 / 1000.0),
        );
        eprintln!(
            "idem-bench: {:>4.0}s {phase:<7} {rate:>9.0} ops/s  p99 {p99}  errors {errors}",
            now.saturating_duration_since(phases.start).as_secs_f64()
        );
        last_operations = operations;
        last_tick = now;
    }
}
