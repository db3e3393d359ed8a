//! A run: pre-populate (replay only), then every connection sends operations
//! through the warm-up and the measured window, then the report.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::BenchError;
use crate::keys::{shared_key, KeySource};
use crate::node_cpu::{CpuSample, NodeCpuReport};
use crate::plan::{KeyMode, LoadMode, Plan};
use crate::progress::report_progress;
use crate::report::BenchReport;
use crate::schedule::{Phases, RateSchedule};
use crate::stats::{OpResult, Outcome, Reply, RunStats};
use crate::targets::{Reservation, TargetClient};
use crate::workload::perform;

/// Tries per key while pre-populating (a cluster may answer 503 just after start).
const POPULATE_TRIES: u32 = 5;
/// Pause of a closed-loop connection after a transport error, so a dead
/// server is not hammered in a tight loop.
const TRANSPORT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// Runs the plan on the current tokio runtime.
pub async fn execute(plan: Plan) -> Result<BenchReport, BenchError> {
    let plan = Arc::new(plan);
    let mut clients: Vec<TargetClient> = (0..plan.connections)
        .map(|connection| TargetClient::for_connection(&plan, connection))
        .collect();
    if let KeyMode::Populated(count) = plan.keys {
        clients = populate(&plan, clients, count).await?;
    }

    let start = Instant::now();
    let phases = Phases {
        start,
        measure_start: start + plan.warmup,
        end: start + plan.warmup + plan.duration,
    };
    let stats = Arc::new(Mutex::new(RunStats::default()));
    let progress = (!plan.quiet).then(|| tokio::spawn(report_progress(stats.clone(), phases)));
    let node_cpu = (!plan.node_pids.is_empty())
        .then(|| tokio::spawn(node_cpu_in_window(plan.node_pids.clone(), phases)));

    let tasks: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(connection, client)| {
            tokio::spawn(drive_connection(
                plan.clone(),
                connection,
                client,
                phases,
                stats.clone(),
            ))
        })
        .collect();
    for task in tasks {
        // A connection task that panicked has lost only its in-flight operation.
        let _ = task.await;
    }
    if let Some(progress) = progress {
        progress.abort();
    }
    let stats = stats
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone();
    let mut report = BenchReport::new(&plan, &stats);
    if let Some(task) = node_cpu {
        let used = task
            .await
            .map_err(|error| BenchError::Task(error.to_string()))??;
        report.node_cpu = Some(NodeCpuReport::new(
            &plan.node_pids,
            used,
            stats.counts.answered(),
        ));
    }
    Ok(report)
}

/// The nodes' CPU time from the start to the end of the measured window.
async fn node_cpu_in_window(pids: Vec<u32>, phases: Phases) -> Result<Duration, BenchError> {
    tokio::time::sleep_until(phases.measure_start.into()).await;
    let before = CpuSample::take(&pids)?;
    tokio::time::sleep_until(phases.end.into()).await;
    Ok(CpuSample::take(&pids)?.since(before))
}

async fn drive_connection(
    plan: Arc<Plan>,
    connection: usize,
    mut client: TargetClient,
    phases: Phases,
    stats: Arc<Mutex<RunStats>>,
) {
    let mut keys = KeySource::new(&plan.run_id, plan.keys, connection);
    let mut schedule = match plan.load {
        LoadMode::Open {
            requests_per_second,
        } => Some(RateSchedule::new(
            phases.start,
            requests_per_second,
            plan.connections,
            connection,
        )),
        LoadMode::Closed => None,
    };
    loop {
        // When the operation was due (it decides warm-up or measured) and
        // the time its latency is measured from.
        let (due, measure_from) = match schedule.as_mut() {
            Some(schedule) => {
                let due = schedule.next_due();
                let now = Instant::now();
                if now >= phases.end || due >= phases.end {
                    let unsent = count_unsent(schedule, due, phases);
                    stats
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .unsent += unsent;
                    break;
                }
                if now < due {
                    // Idle until due: the send time is the timer's (up to a
                    // millisecond late), not the server's doing.
                    tokio::time::sleep_until(due.into()).await;
                    (due, Instant::now())
                } else {
                    // Late because the previous answer came late: measure
                    // from when this one was due (no coordinated omission).
                    (due, due)
                }
            }
            None => {
                let now = Instant::now();
                if now >= phases.end {
                    break;
                }
                (now, now)
            }
        };
        let key = keys.next_key();
        let result = perform(&mut client, plan.workload, &key).await;
        let latency = Instant::now().saturating_duration_since(measure_from);
        let transport_failed = result.reply == Reply::Transport;
        stats
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .record(result, latency, due >= phases.measure_start);
        if transport_failed && schedule.is_none() {
            tokio::time::sleep(TRANSPORT_ERROR_PAUSE).await;
        }
    }
}

/// Measured operations of the schedule that were due before the end but
/// never sent, because the target answered too slowly for the rate.
fn count_unsent(schedule: &mut RateSchedule, first_due: Instant, phases: Phases) -> u64 {
    let mut unsent = 0;
    let mut due = first_due;
    while due < phases.end {
        if due >= phases.measure_start {
            unsent += 1;
        }
        due = schedule.next_due();
    }
    unsent
}

/// Completes keys 0..count, each connection taking every C-th key, and
/// hands the (now connected) clients back.
async fn populate(
    plan: &Arc<Plan>,
    clients: Vec<TargetClient>,
    count: u64,
) -> Result<Vec<TargetClient>, BenchError> {
    if !plan.quiet {
        eprintln!("idem-bench: populating {count} completed keys for the replay workload");
    }
    let connections = clients.len() as u64;
    let tasks: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(connection, mut client)| {
            let run_id = plan.run_id.clone();
            tokio::spawn(async move {
                let mut index = connection as u64;
                while index < count {
                    populate_key(&mut client, &shared_key(&run_id, index)).await?;
                    index += connections;
                }
                Ok::<TargetClient, BenchError>(client)
            })
        })
        .collect();
    let mut populated = Vec::with_capacity(tasks.len());
    for task in tasks {
        let client = task
            .await
            .map_err(|error| BenchError::Task(error.to_string()))??;
        populated.push(client);
    }
    Ok(populated)
}

/// Reserve (retried until granted), then complete (retried until stored;
/// a repeated completion with the same token is idempotent on every target).
async fn populate_key(client: &mut TargetClient, key: &str) -> Result<(), BenchError> {
    let failed = |result: OpResult| {
        format!(
            "{}: {}",
            result.reply,
            result
                .detail
                .unwrap_or_else(|| "key already taken".to_string())
        )
    };
    let mut last = String::new();
    let mut token = None;
    for attempt in 0..POPULATE_TRIES {
        match client.reserve(key).await {
            Reservation::Granted { token: granted, .. } => {
                token = Some(granted);
                break;
            }
            Reservation::Refused(result) => last = failed(result),
        }
        tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
    }
    let Some(token) = token else {
        return Err(BenchError::Populate {
            key: key.to_string(),
            reason: last,
        });
    };
    for attempt in 0..POPULATE_TRIES {
        let result = client.complete(key, token).await;
        if result.outcome == Outcome::Ok {
            return Ok(());
        }
        last = failed(result);
        tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
    }
    Err(BenchError::Populate {
        key: key.to_string(),
        reason: last,
    })
}
