//! Request metrics, and their Prometheus text for `GET /metrics`: request
//! counts by route, method and status; a latency histogram by route; and the
//! node's view of the cluster (term, leader, applied index, clock offsets).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use crate::backend::ClusterStatus;

/// Upper bounds of the latency buckets, in seconds.
const LATENCY_BUCKETS_SECONDS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// The route label of a request no route matched (one label for all of them,
/// so unknown paths cannot grow the table).
const UNMATCHED_ROUTE: &str = "unmatched";

/// Counters shared by every request of one router.
#[derive(Debug, Default)]
pub struct HttpMetrics {
    table: Mutex<MetricsTable>,
}

#[derive(Debug, Default)]
struct MetricsTable {
    /// (route, method, status) → requests answered.
    requests: BTreeMap<(String, &'static str, u16), u64>,
    /// route → latency histogram.
    latency: BTreeMap<String, Histogram>,
}

#[derive(Debug, Default)]
struct Histogram {
    /// Cumulative: `buckets[i]` counts requests at most `LATENCY_BUCKETS_SECONDS[i]`.
    buckets: [u64; LATENCY_BUCKETS_SECONDS.len()],
    count: u64,
    sum_seconds: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (bucket, bound) in self.buckets.iter_mut().zip(LATENCY_BUCKETS_SECONDS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
        self.count += 1;
        self.sum_seconds += seconds;
    }
}

/// Methods get their own label; any other is `OTHER` (methods are arbitrary
/// tokens, and a label must not be).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

impl HttpMetrics {
    pub fn record(&self, route: &str, method: &Method, status: StatusCode, elapsed: Duration) {
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        *table
            .requests
            .entry((route.to_owned(), method_label(method), status.as_u16()))
            .or_default() += 1;
        table
            .latency
            .entry(route.to_owned())
            .or_default()
            .observe(elapsed.as_secs_f64());
    }

    /// The Prometheus text exposition of the request metrics and `cluster`.
    pub fn render(&self, cluster: &ClusterStatus) -> String {
        let mut out = String::new();
        {
            let table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
            render_requests(&mut out, &table);
        }
        render_cluster(&mut out, cluster);
        out
    }
}

fn render_requests(out: &mut String, table: &MetricsTable) {
    out.push_str("# HELP idem_http_requests_total HTTP requests answered, by route template, method and status.\n");
    out.push_str("# TYPE idem_http_requests_total counter\n");
    for ((route, method, status), count) in &table.requests {
        let _ = writeln!(
            out,
            "idem_http_requests_total{{route=\"{}\",method=\"{method}\",status=\"{status}\"}} {count}",
            escape_label(route)
        );
    }
    out.push_str("# HELP idem_http_request_duration_seconds Time to answer an HTTP request, by route template.\n");
    out.push_str("# TYPE idem_http_request_duration_seconds histogram\n");
    for (route, histogram) in &table.latency {
        let route = escape_label(route);
        for (bound, count) in LATENCY_BUCKETS_SECONDS.iter().zip(histogram.buckets) {
            let _ =
                writeln!(out, "idem_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {count}");
        }
        let _ = writeln!(
            out,
            "idem_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
            histogram.count
        );
        let _ = writeln!(
            out,
            "idem_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
            histogram.sum_seconds
        );
        let _ = writeln!(
            out,
            "idem_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
            histogram.count
        );
    }
}

fn render_cluster(out: &mut String, cluster: &ClusterStatus) {
    let gauge = |out: &mut String, name: &str, help: &str, value: u64| {
        let _ = write!(
            out,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n"
        );
    };
    gauge(
        out,
        "idem_cluster_term",
        "The Raft term this node is in.",
        cluster.term,
    );
    gauge(
        out,
        "idem_cluster_leader_known",
        "1 if this node knows a leader.",
        u64::from(cluster.leader.is_some()),
    );
    gauge(
        out,
        "idem_cluster_time_synced",
        "1 once this node has agreed on the time with a majority (it stamps nothing before).",
        u64::from(cluster.cluster_time_synced),
    );
    gauge(
        out,
        "idem_cluster_is_leader",
        "1 if this node is the leader.",
        u64::from(cluster.leader == Some(cluster.node_id)),
    );
    if let Some(index) = cluster.last_log_index {
        gauge(
            out,
            "idem_cluster_last_log_index",
            "Index of the last entry in this node's log.",
            index,
        );
    }
    if let Some(index) = cluster.last_applied_index {
        gauge(
            out,
            "idem_cluster_last_applied_index",
            "Index of the last entry this node applied.",
            index,
        );
    }
    let counter = |out: &mut String, name: &str, help: &str, value: u64| {
        let _ = write!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}\n"
        );
    };
    counter(
        out,
        "idem_log_appends_total",
        "Raft log appends acknowledged as durable since start.",
        cluster.log_appends,
    );
    counter(
        out,
        "idem_log_syncs_total",
        "WAL syncs that made log appends durable (one can cover several appends).",
        cluster.log_syncs,
    );
    out.push_str("# HELP idem_cluster_member_clock_offset_ms Measured wall-clock offset of a member relative to this node (positive: ahead).\n");
    out.push_str("# TYPE idem_cluster_member_clock_offset_ms gauge\n");
    for member in &cluster.members {
        if let Some(offset) = member.clock_offset_ms {
            let _ = writeln!(
                out,
                "idem_cluster_member_clock_offset_ms{{member=\"{}\"}} {offset}",
                member.id
            );
        }
    }
    out.push_str("# HELP idem_cluster_member_wall_offset_ms A member's wall clock minus cluster time, as this node measured it (positive: ahead).\n");
    out.push_str("# TYPE idem_cluster_member_wall_offset_ms gauge\n");
    for member in &cluster.members {
        if let Some(offset) = member.wall_offset_ms {
            let _ = writeln!(
                out,
                "idem_cluster_member_wall_offset_ms{{member=\"{}\"}} {offset}",
                member.id
            );
        }
    }
    out.push_str("# HELP idem_cluster_member_matched_index Last entry known replicated to a member (leader only).\n");
    out.push_str("# TYPE idem_cluster_member_matched_index gauge\n");
    for member in &cluster.members {
        if let Some(index) = member.matched_index {
            let _ = writeln!(
                out,
                "idem_cluster_member_matched_index{{member=\"{}\"}} {index}",
                member.id
            );
        }
    }
}

/// Escapes a label value as the text format requires.
fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Middleware: times every request and counts its answer under the route
/// template it matched.
pub async fn track(
    State(metrics): State<Arc<HttpMetrics>>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned())
        .unwrap_or_else(|| UNMATCHED_ROUTE.to_owned());
    let method = request.method().clone();
    let started = Instant::now();
    let response = next.run(request).await;
    metrics.record(&route, &method, response.status(), started.elapsed());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts_and_cumulative_buckets() {
        let metrics = HttpMetrics::default();
        let route = "/v1/ns/{ns}/keys/{key}/reserve";
        metrics.record(
            route,
            &Method::POST,
            StatusCode::CREATED,
            Duration::from_millis(3),
        );
        metrics.record(
            route,
            &Method::POST,
            StatusCode::CREATED,
            Duration::from_millis(30),
        );
        metrics.record(
            route,
            &Method::from_bytes(b"BREW").unwrap(),
            StatusCode::METHOD_NOT_ALLOWED,
            Duration::ZERO,
        );
        let text = metrics.render(&ClusterStatus::default());
        assert!(text.contains(&format!(
            "idem_http_requests_total{{route=\"{route}\",method=\"POST\",status=\"201\"}} 2"
        )));
        assert!(text.contains(&format!(
            "idem_http_requests_total{{route=\"{route}\",method=\"OTHER\",status=\"405\"}} 1"
        )));
        assert!(text.contains(&format!(
            "idem_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"0.005\"}} 2"
        )));
        assert!(text.contains(&format!(
            "idem_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"0.05\"}} 3"
        )));
        assert!(text.contains(&format!(
            "idem_http_request_duration_seconds_count{{route=\"{route}\"}} 3"
        )));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
