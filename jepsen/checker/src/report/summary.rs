//! The text summary of a check: operation counts (overall and per active
//! nemesis), the violations with the events that show them, each key's
//! linearizability verdict, and the final VALID / INVALID line.

use super::describe::describe_event;
use super::lateness;
use super::tally::Tally;
use crate::by_key::group;
use crate::history::Event;
use crate::nemesis::{self, active_at};
use crate::ops::pair;
use crate::verdict::{CheckReport, Linearizability};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

/// Violations printed in full; the rest are counted (all are in the JSON).
const MAX_VIOLATIONS: usize = 50;
/// Events printed per violation.
const MAX_EVENTS: usize = 16;
/// Operations counted under this label when no nemesis is active.
const NO_NEMESIS: &str = "none";

/// The summary, as lines of text.
pub fn summary_text(events: &[Event], report: &CheckReport) -> String {
    let mut out = String::new();
    let paired = pair(events);
    let (windows, _) = nemesis::windows(events);
    let keys = report.keys.len();
    line(
        &mut out,
        format!(
            "idem chaos check: {} events, {} operations on {keys} keys",
            events.len(),
            report.ops
        ),
    );

    let mut all = Tally::default();
    let mut by_nemesis: BTreeMap<&str, Tally> = BTreeMap::new();
    for op in &paired.ops {
        all.add(op);
        let active = active_at(&windows, op.invoke.seq);
        if active.is_empty() {
            by_nemesis.entry(NO_NEMESIS).or_default().add(op);
        }
        for name in active {
            by_nemesis.entry(name).or_default().add(op);
        }
    }
    line(&mut out, "\nOperations:".into());
    indented(&mut out, all.lines(), 2);
    line(
        &mut out,
        "\nOperations by the nemesis active at their invocation (under each one when several are):"
            .into(),
    );
    for (name, tally) in &by_nemesis {
        line(
            &mut out,
            format!("  {name} ({} operations):", tally.total()),
        );
        indented(&mut out, tally.lines(), 4);
    }

    let takeovers: Vec<_> = group(&paired.ops)
        .iter()
        .flat_map(|k| lateness::takeovers(k, &windows))
        .collect();
    line(
        &mut out,
        "\nTakeovers, by how long after the lease had certainly ended a reserve was still refused:"
            .into(),
    );
    indented(&mut out, lateness::lines(&takeovers), 2);

    violations(&mut out, events, report);
    verdicts(&mut out, report);
    if !report.malformed.is_empty() {
        line(
            &mut out,
            format!("\nMalformed history ({} notes):", report.malformed.len()),
        );
        indented(&mut out, report.malformed.clone(), 2);
    }
    line(&mut out, format!("\n{}", final_line(report)));
    out
}

fn violations(out: &mut String, events: &[Event], report: &CheckReport) {
    line(out, format!("\nViolations: {}", report.violations.len()));
    let by_index: HashMap<u64, &Event> = events.iter().map(|e| (e.index, e)).collect();
    for v in report.violations.iter().take(MAX_VIOLATIONS) {
        line(
            out,
            format!("  [{}] key {:?}: {}", v.check.as_str(), v.key, v.message),
        );
        for i in v.events.iter().take(MAX_EVENTS) {
            let text = by_index
                .get(i)
                .map_or_else(|| format!("#{i} (no such event)"), |e| describe_event(e));
            line(out, format!("      {text}"));
        }
        if v.events.len() > MAX_EVENTS {
            line(
                out,
                format!("      ... and {} more events", v.events.len() - MAX_EVENTS),
            );
        }
    }
    if report.violations.len() > MAX_VIOLATIONS {
        line(
            out,
            format!(
                "  ... and {} more violations (see check.json)",
                report.violations.len() - MAX_VIOLATIONS
            ),
        );
    }
}

fn verdicts(out: &mut String, report: &CheckReport) {
    line(out, "\nLinearizability by key:".into());
    let width = report
        .keys
        .iter()
        .map(|k| format!("{:?}", k.key).len())
        .max()
        .unwrap_or(0);
    for k in &report.keys {
        let result = match &k.result {
            Linearizability::Linearizable => "linearizable".to_string(),
            Linearizability::NotLinearizable { ops, .. } => {
                format!("NOT linearizable (could not place the ops invoked at {ops:?})")
            }
            Linearizability::Unknown { reason } => format!("UNKNOWN: {reason}"),
        };
        line(
            out,
            format!(
                "  {:<width$}  {:>6} ops ({:>4} indeterminate)  {:>9} states  {result}",
                format!("{:?}", k.key),
                k.ops,
                k.indeterminate,
                k.states
            ),
        );
    }
}

fn final_line(report: &CheckReport) -> String {
    if report.is_valid() {
        return "VALID".into();
    }
    let count =
        |pred: fn(&Linearizability) -> bool| report.keys.iter().filter(|k| pred(&k.result)).count();
    let mut why = Vec::new();
    if !report.violations.is_empty() {
        why.push(format!("{} violations", report.violations.len()));
    }
    let not_lin = count(|r| matches!(r, Linearizability::NotLinearizable { .. }));
    if not_lin > 0 {
        why.push(format!("{not_lin} keys not linearizable"));
    }
    let unknown = count(|r| matches!(r, Linearizability::Unknown { .. }));
    if unknown > 0 {
        why.push(format!("{unknown} keys unknown (search budget exhausted)"));
    }
    if !report.malformed.is_empty() {
        why.push(format!(
            "{} malformed-history notes",
            report.malformed.len()
        ));
    }
    format!("INVALID: {}", why.join(", "))
}

fn line(out: &mut String, text: String) {
    let _ = writeln!(out, "{text}");
}

fn indented(out: &mut String, lines: Vec<String>, by: usize) {
    for l in lines {
        line(out, format!("{:by$}{l}", ""));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check;
    use crate::history::{NemesisPhase, Outcome, Request};
    use crate::testing::*;
    use crate::verdict::CheckLimits;

    #[test]
    fn a_valid_run_is_counted_per_nemesis_and_ends_valid() {
        let mut h = EventsBuilder::default();
        h.call(1, "k", Request::Get, Outcome::NotFound);
        h.push(nemesis(NemesisPhase::Start, "partition"));
        h.call(1, "k", reserve("a"), granted(3));
        h.push(nemesis(NemesisPhase::Start, "skew"));
        h.push(invoke(2, "k", reserve("a")));
        h.push(info(2));
        h.push(nemesis(NemesisPhase::Stop, "partition"));
        let r = check(&h.events, &CheckLimits::default());
        let text = summary_text(&h.events, &r);
        assert!(text.contains("3 operations on 1 keys"), "{text}");
        assert!(text.contains("  none (1 operations):"), "{text}");
        assert!(text.contains("  partition (2 operations):"), "{text}");
        assert!(text.contains("  skew (1 operations):"), "{text}");
        assert!(text.contains("reserved 1"), "{text}");
        assert!(text.contains("Violations: 0"), "{text}");
        assert!(text.contains("linearizable"), "{text}");
        assert!(text.trim_end().ends_with("\nVALID"), "{text}");
    }

    #[test]
    fn an_invalid_run_prints_its_violations_with_their_events() {
        let mut h = EventsBuilder::default();
        h.call(1, "k", reserve("a"), granted(10));
        h.call(2, "k", reserve("a"), took_over(12));
        let r = check(&h.events, &CheckLimits::default());
        let text = summary_text(&h.events, &r);
        assert!(text.contains("[no-early-expiry] key \"k\""), "{text}");
        assert!(
            text.contains("      #3 0.003s p2 ok reserved token=12 takeover"),
            "{text}"
        );
        assert!(text.trim_end().ends_with("INVALID: 1 violations"), "{text}");
    }
}
