//! Counts of operations by `f` and by how they ended (each `ok` outcome
//! kind, `fail`, `info`), rendered as a small text table.

use crate::history::{Outcome, Request};
use crate::ops::{End, Op};
use std::collections::BTreeMap;

/// One `f`'s counts.
#[derive(Debug, Default, Clone)]
struct Row {
    ok: BTreeMap<&'static str, usize>,
    fail: usize,
    info: usize,
    /// Of `info`: never answered at all.
    unanswered: usize,
}

impl Row {
    fn ok_total(&self) -> usize {
        self.ok.values().sum()
    }

    fn total(&self) -> usize {
        self.ok_total() + self.fail + self.info
    }

    fn absorb(&mut self, other: &Row) {
        for (k, n) in &other.ok {
            *self.ok.entry(k).or_default() += n;
        }
        self.fail += other.fail;
        self.info += other.info;
        self.unanswered += other.unanswered;
    }
}

/// Counts per `f`.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    rows: BTreeMap<&'static str, Row>,
}

impl Tally {
    pub fn add(&mut self, op: &Op) {
        let row = self.rows.entry(op.request.f()).or_default();
        match &op.end {
            End::Ok { outcome, .. } => *row.ok.entry(ending(outcome)).or_default() += 1,
            End::Fail { .. } => row.fail += 1,
            End::Info { .. } => row.info += 1,
            End::Open => {
                row.info += 1;
                row.unanswered += 1;
            }
        }
    }

    pub fn total(&self) -> usize {
        self.rows.values().map(Row::total).sum()
    }

    /// The table, one line per `f` that occurred, then the total.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = vec![format!(
            "{:<10} {:>7} {:>7} {:>6} {:>6}  ok outcomes",
            "f", "total", "ok", "fail", "info"
        )];
        let mut all = Row::default();
        for f in Request::FS {
            if let Some(row) = self.rows.get(f) {
                lines.push(row_line(f, row));
                all.absorb(row);
            }
        }
        lines.push(row_line("all", &all));
        lines
    }
}

fn row_line(f: &str, row: &Row) -> String {
    let outcomes: Vec<String> = row.ok.iter().map(|(k, n)| format!("{k} {n}")).collect();
    let unanswered = if row.unanswered > 0 {
        format!(" ({} never answered)", row.unanswered)
    } else {
        String::new()
    };
    format!(
        "{f:<10} {:>7} {:>7} {:>6} {:>6}  {}{unanswered}",
        row.total(),
        row.ok_total(),
        row.fail,
        row.info,
        outcomes.join(", ")
    )
}

/// The outcome's kind, telling takeovers and replayed completions apart.
fn ending(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Reserved { takeover: true, .. } => "reserved (takeover)",
        Outcome::Completed { replayed: true, .. } => "completed (replayed)",
        other => other.kind(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Request;
    use crate::ops::pair;
    use crate::testing::*;

    #[test]
    fn counts_each_ending_per_f() {
        let mut h = EventsBuilder::default();
        h.call(1, "k", reserve("a"), granted(1));
        h.call(1, "k", reserve("a"), took_over(2));
        h.push(invoke(2, "k", Request::Get));
        h.push(fail(2));
        h.push(invoke(3, "k", Request::Get));
        h.push(info(3));
        h.push(invoke(4, "k", Request::Get));
        let mut t = Tally::default();
        for op in &pair(&h.events).ops {
            t.add(op);
        }
        assert_eq!(t.total(), 5);
        let lines = t.lines();
        assert_eq!(lines.len(), 4, "{lines:#?}");
        assert!(
            lines[1].starts_with(
                "reserve          2       2      0      0  reserved 1, reserved (takeover) 1"
            ),
            "{}",
            lines[1]
        );
        assert!(lines[2].contains("(1 never answered)"), "{}", lines[2]);
        assert!(
            lines[3].starts_with("all              5       2      1      2"),
            "{}",
            lines[3]
        );
    }
}
