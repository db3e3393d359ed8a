//! The result of a run: a human summary on stdout and, with `--json`, one
//! JSON object that scripts/bench.sh collects.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::Serialize;

use crate::error::BenchError;
use crate::floor::Floor;
use crate::node_cpu::NodeCpuReport;
use crate::plan::{KeyMode, LoadMode, Plan};
use crate::stats::RunStats;

/// What a run measured.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub target: &'static str,
    pub workload: &'static str,
    pub connections: usize,
    pub urls: Vec<String>,
    /// `closed` or `open`.
    pub mode: &'static str,
    /// Requested total rate of the open loop.
    pub rate_per_s: Option<f64>,
    pub duration_s: f64,
    pub warmup_s: f64,
    /// `unique`, `contended` or `populated`.
    pub keys: &'static str,
    /// The key space for contended and populated keys.
    pub key_space: Option<u64>,
    pub counts: CountsReport,
    /// Answered operations (ok + conflict) per second of the measured window.
    pub throughput_ops_per_s: f64,
    /// Latency of answered operations.
    pub latency_us: LatencyReport,
    pub first_error: Option<String>,
    /// The hardware's floor for a replicated write, measured before the
    /// load (`--floor-dir`).
    pub floor: Option<Floor>,
    /// Latency p50 divided by the floor.
    pub p50_over_floor: Option<f64>,
    /// The nodes' CPU over the measured window (`--node-pid`).
    pub node_cpu: Option<NodeCpuReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CountsReport {
    pub ok: u64,
    pub conflict: u64,
    pub error: u64,
    /// Open loop: operations due in the measured window but never sent
    /// because the target could not keep up with `--rate` (not in the
    /// latency histogram, not in the throughput).
    pub unsent: u64,
    /// Operations by the reply that decided them (`201`, `409`, `OK`, `nil`,
    /// `timeout`, `transport`, ...).
    pub by_status: BTreeMap<String, u64>,
}

/// Percentiles in microseconds (0 when nothing was answered).
#[derive(Debug, Clone, Serialize)]
pub struct LatencyReport {
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
    pub mean: f64,
}

impl BenchReport {
    pub fn new(plan: &Plan, stats: &RunStats) -> BenchReport {
        let histogram = &stats.latency_us;
        let quantile = |q: f64| {
            if histogram.is_empty() {
                0
            } else {
                histogram.value_at_quantile(q)
            }
        };
        let (keys, key_space) = match plan.keys {
            KeyMode::Unique => ("unique", None),
            KeyMode::Contended(n) => ("contended", Some(n)),
            KeyMode::Populated(n) => ("populated", Some(n)),
        };
        let (mode, rate_per_s) = match plan.load {
            LoadMode::Closed => ("closed", None),
            LoadMode::Open {
                requests_per_second,
            } => ("open", Some(requests_per_second)),
        };
        let duration_s = plan.duration.as_secs_f64();
        BenchReport {
            target: plan.target.name(),
            workload: plan.workload.name(),
            connections: plan.connections,
            urls: plan.endpoints.iter().map(|e| e.url.clone()).collect(),
            mode,
            rate_per_s,
            duration_s,
            warmup_s: plan.warmup.as_secs_f64(),
            keys,
            key_space,
            counts: CountsReport {
                ok: stats.counts.ok,
                conflict: stats.counts.conflict,
                error: stats.counts.error,
                unsent: stats.unsent,
                by_status: stats
                    .counts
                    .by_reply
                    .iter()
                    .map(|(reply, n)| (reply.to_string(), *n))
                    .collect(),
            },
            throughput_ops_per_s: stats.counts.answered() as f64 / duration_s,
            latency_us: LatencyReport {
                p50: quantile(0.50),
                p90: quantile(0.90),
                p99: quantile(0.99),
                p999: quantile(0.999),
                max: if histogram.is_empty() {
                    0
                } else {
                    histogram.max()
                },
                mean: if histogram.is_empty() {
                    0.0
                } else {
                    histogram.mean()
                },
            },
            first_error: stats.first_error.clone(),
            floor: None,
            p50_over_floor: None,
            node_cpu: None,
        }
    }

    /// Adds the floor measured before the run, and p50 as a ratio to it.
    pub fn set_floor(&mut self, floor: Floor) {
        self.p50_over_floor =
            (floor.floor_us > 0).then(|| self.latency_us.p50 as f64 / floor.floor_us as f64);
        self.floor = Some(floor);
    }

    pub fn answered(&self) -> u64 {
        self.counts.ok + self.counts.conflict
    }

    pub fn write_json(&self, path: &Path) -> Result<(), BenchError> {
        let write_error = |source| BenchError::WriteReport {
            path: path.display().to_string(),
            source,
        };
        let mut text = serde_json::to_string_pretty(self)
            .map_err(|e| write_error(std::io::Error::other(e)))?;
        text.push('\n');
        std::fs::write(path, text).map_err(write_error)
    }
}

fn ms(us: u64) -> String {
    format!("{:.2} ms", us as f64 / 1000.0)
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let load = match self.rate_per_s {
            Some(rate) => format!("open loop at {rate} req/s"),
            None => "closed loop".to_string(),
        };
        let keys = match self.key_space {
            Some(n) => format!("{} keys ({n})", self.keys),
            None => format!("{} keys", self.keys),
        };
        writeln!(
            f,
            "{} {}: {} connections, {load}, {keys}, {:.1} s measured after {:.1} s warm-up",
            self.target, self.workload, self.connections, self.duration_s, self.warmup_s
        )?;
        let by_status: Vec<String> = self
            .counts
            .by_status
            .iter()
            .map(|(s, n)| format!("{s}={n}"))
            .collect();
        writeln!(
            f,
            "  operations  ok {}  conflict {}  error {}   by status: {}",
            self.counts.ok,
            self.counts.conflict,
            self.counts.error,
            by_status.join(" ")
        )?;
        writeln!(f, "  throughput  {:.1} ops/s", self.throughput_ops_per_s)?;
        if self.counts.unsent > 0 {
            writeln!(
                f,
                "  unsent      {} operations were due but not sent: the target could not keep up",
                self.counts.unsent
            )?;
        }
        let l = &self.latency_us;
        writeln!(
            f,
            "  latency     p50 {}  p90 {}  p99 {}  p99.9 {}  max {}  mean {}",
            ms(l.p50),
            ms(l.p90),
            ms(l.p99),
            ms(l.p999),
            ms(l.max),
            ms(l.mean.round() as u64)
        )?;
        if let Some(floor) = &self.floor {
            writeln!(
                f,
                "  floor       {}: {} concurrent fdatasyncs (p50 {}, one alone {}) + loopback round trip {} us; p50 is {:.2}x it",
                ms(floor.floor_us),
                floor.dirs.len(),
                ms(floor.sync_round_p50_us),
                ms(floor.single_sync_p50_us),
                floor.loopback_rtt_p50_us,
                self.p50_over_floor.unwrap_or(0.0)
            )?;
        }
        if let Some(cpu) = &self.node_cpu {
            writeln!(
                f,
                "  node CPU    {:.0} us per operation ({:.2} CPU-s over {} processes)",
                cpu.us_per_op,
                cpu.cpu_s,
                cpu.pids.len()
            )?;
        }
        if self.keys == "unique" && self.counts.conflict > 0 {
            writeln!(f, "  note        fresh keys conflicted: were they used before (the same --run-id twice)?")?;
        }
        if let Some(error) = &self.first_error {
            writeln!(f, "  first error {error}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::BenchArgs;
    use crate::stats::{OpResult, Outcome, Reply};
    use clap::Parser;
    use std::time::Duration;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        bench: BenchArgs,
    }

    fn sample_report() -> BenchReport {
        let cli = Cli::try_parse_from([
            "idem-bench",
            "--target",
            "etcd",
            "-c",
            "4",
            "--duration",
            "2s",
            "--keys",
            "10",
        ])
        .expect("parses");
        let plan = Plan::from_args(&cli.bench).expect("valid");
        let mut stats = RunStats::default();
        for us in 1..=1000 {
            stats.record(
                OpResult::new(Outcome::Ok, Reply::Http(200)),
                Duration::from_micros(us),
                true,
            );
        }
        stats.record(
            OpResult::new(Outcome::Conflict, Reply::Http(200)),
            Duration::from_micros(10),
            true,
        );
        stats.record(
            OpResult::unexpected(Reply::Http(503), "leader changed"),
            Duration::ZERO,
            true,
        );
        BenchReport::new(&plan, &stats)
    }

    #[test]
    fn json_has_the_documented_shape() {
        let json = serde_json::to_value(sample_report()).expect("serializes");
        let object = json.as_object().expect("one object");
        let mut fields: Vec<&str> = object.keys().map(String::as_str).collect();
        fields.sort_unstable();
        assert_eq!(
            fields,
            [
                "connections",
                "counts",
                "duration_s",
                "first_error",
                "floor",
                "key_space",
                "keys",
                "latency_us",
                "mode",
                "node_cpu",
                "p50_over_floor",
                "rate_per_s",
                "target",
                "throughput_ops_per_s",
                "urls",
                "warmup_s",
                "workload"
            ]
        );
        assert_eq!(json["target"], "etcd");
        assert_eq!(json["workload"], "reserve");
        assert_eq!(json["connections"], 4);
        assert_eq!(json["mode"], "closed");
        assert_eq!(json["keys"], "contended");
        assert_eq!(json["key_space"], 10);
        assert_eq!(json["counts"]["ok"], 1000);
        assert_eq!(json["counts"]["conflict"], 1);
        assert_eq!(json["counts"]["error"], 1);
        assert_eq!(json["counts"]["by_status"]["200"], 1001);
        assert_eq!(json["counts"]["by_status"]["503"], 1);
        assert_eq!(json["throughput_ops_per_s"], 500.5);
        for field in ["p50", "p90", "p99", "p999", "max", "mean"] {
            assert!(json["latency_us"][field].is_number(), "{field}");
        }
        let p50 = json["latency_us"]["p50"].as_u64().expect("u64");
        assert!((495..=505).contains(&p50), "p50 {p50}");
        assert_eq!(json["first_error"], "503: leader changed");
    }

    #[test]
    fn json_file_round_trips() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("r.json");
        sample_report().write_json(&path).expect("written");
        let read: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
        assert_eq!(read["target"], "etcd");
    }

    #[test]
    fn summary_names_the_numbers() {
        let text = sample_report().to_string();
        for part in [
            "etcd reserve",
            "throughput  500.5 ops/s",
            "p99.9",
            "by status: 200=1001 503=1",
            "first error",
        ] {
            assert!(text.contains(part), "{part} missing in\n{text}");
        }
    }
}
