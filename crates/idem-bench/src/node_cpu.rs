//! CPU time the server processes used during the measured window, read from
//! `/proc/<pid>/stat` (user + system time of all their threads), so a run
//! reports node CPU per operation beside its throughput.

use std::time::Duration;

use serde::Serialize;

use crate::error::BenchError;

/// CPU used by a set of processes so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuSample(Duration);

impl CpuSample {
    /// The processes' user + system time now. A process that is gone is an
    /// error: the run would report too little.
    pub fn take(pids: &[u32]) -> Result<CpuSample, BenchError> {
        let ticks_per_s = ticks_per_second();
        let mut total = Duration::ZERO;
        for &pid in pids {
            let path = format!("/proc/{pid}/stat");
            let stat = std::fs::read_to_string(&path)
                .map_err(|e| BenchError::NodeCpu(format!("{path}: {e}")))?;
            let ticks = cpu_ticks(&stat)
                .ok_or_else(|| BenchError::NodeCpu(format!("{path}: unexpected contents")))?;
            total += Duration::from_secs_f64(ticks as f64 / ticks_per_s);
        }
        Ok(CpuSample(total))
    }

    pub fn since(self, earlier: CpuSample) -> Duration {
        self.0.saturating_sub(earlier.0)
    }
}

/// Node CPU over the measured window.
#[derive(Debug, Clone, Serialize)]
pub struct NodeCpuReport {
    pub pids: Vec<u32>,
    /// CPU seconds of all the processes in the measured window.
    pub cpu_s: f64,
    /// Microseconds of node CPU per answered operation.
    pub us_per_op: f64,
}

impl NodeCpuReport {
    pub fn new(pids: &[u32], used: Duration, answered: u64) -> NodeCpuReport {
        NodeCpuReport {
            pids: pids.to_vec(),
            cpu_s: used.as_secs_f64(),
            us_per_op: used.as_secs_f64() * 1e6 / answered.max(1) as f64,
        }
    }
}

/// utime + stime (fields 14 and 15) of a `/proc/<pid>/stat` line. The
/// command name (field 2) is in parentheses and may hold spaces, so fields
/// are counted from the last `)`.
fn cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace();
    // Fields after the name start at 3 (state); utime is 14, stime 15.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

fn ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as f64
    } else {
        100.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_user_and_system_ticks_past_a_name_with_spaces() {
        let stat = "4242 (idem (node 1)) S 1 4242 4242 0 -1 4194560 100 0 0 0 \
                    700 55 0 0 20 0 9 0 123 456 789";
        assert_eq!(cpu_ticks(stat), Some(755));
        assert_eq!(cpu_ticks("garbage"), None);
        assert_eq!(cpu_ticks("1 (x) S 1 2"), None);
    }

    #[test]
    fn own_process_uses_cpu_and_a_missing_one_is_an_error() {
        let me = std::process::id();
        let before = CpuSample::take(&[me]).expect("own stat");
        let mut x = 0u64;
        let started = std::time::Instant::now();
        while started.elapsed() < Duration::from_millis(60) {
            x = x.wrapping_mul(31).wrapping_add(7);
        }
        std::hint::black_box(x);
        let after = CpuSample::take(&[me]).expect("own stat");
        assert!(after.since(before) > Duration::ZERO);
        assert!(CpuSample::take(&[u32::MAX]).is_err());
        let report = NodeCpuReport::new(&[me], Duration::from_millis(3), 1000);
        assert!((report.us_per_op - 3.0).abs() < 1e-9);
    }
}
