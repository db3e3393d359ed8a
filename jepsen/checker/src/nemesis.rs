//! Fault windows: the spans between a nemesis `start` and the `stop` of the
//! same `name`. Windows of different names may overlap; a second `start` of
//! a name that is already active nests inside the first (the window closes
//! with the last matching `stop`). A window still open when the history ends
//! lasts until its end.

use crate::history::{Event, EventBody, NemesisPhase};
use crate::malformed::Malformed;
use crate::ops::Stamp;
use std::collections::BTreeMap;

/// One fault, from its start to its stop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NemesisWindow {
    pub name: String,
    /// The `detail` of the start event.
    pub detail: String,
    pub start: Stamp,
    /// `None`: never stopped.
    pub stop: Option<Stamp>,
}

impl NemesisWindow {
    /// Whether an event at position `seq` falls inside the window.
    pub fn covers(&self, seq: usize) -> bool {
        self.start.seq < seq && self.stop.is_none_or(|s| seq < s.seq)
    }
}

/// The windows in order of their start, and the unmatched stops.
pub fn windows(events: &[Event]) -> (Vec<NemesisWindow>, Malformed) {
    let mut done = Vec::new();
    let mut malformed = Malformed::default();
    // name -> (open window, nesting depth)
    let mut open: BTreeMap<&str, (NemesisWindow, usize)> = BTreeMap::new();
    for (seq, event) in events.iter().enumerate() {
        let EventBody::Nemesis {
            phase,
            name,
            detail,
        } = &event.body
        else {
            continue;
        };
        let stamp = Stamp {
            seq,
            index: event.index,
            time_ns: event.time_ns,
        };
        match phase {
            NemesisPhase::Start => {
                open.entry(name)
                    .and_modify(|(_, depth)| *depth += 1)
                    .or_insert_with(|| {
                        let w = NemesisWindow {
                            name: name.clone(),
                            detail: detail.clone(),
                            start: stamp,
                            stop: None,
                        };
                        (w, 1)
                    });
            }
            NemesisPhase::Stop => match open.get_mut(name.as_str()) {
                Some((_, depth)) if *depth > 1 => *depth -= 1,
                Some(_) => {
                    if let Some((mut w, _)) = open.remove(name.as_str()) {
                        w.stop = Some(stamp);
                        done.push(w);
                    }
                }
                None => malformed.note(format!(
                    "event {}: nemesis {name:?} stopped but it was not started",
                    event.index
                )),
            },
        }
    }
    done.extend(open.into_values().map(|(w, _)| w));
    done.sort_by_key(|w| w.start.seq);
    (done, malformed)
}

/// The names of the windows active at position `seq`, without repeats, in
/// order of first start.
pub fn active_at(windows: &[NemesisWindow], seq: usize) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for w in windows.iter().filter(|w| w.covers(seq)) {
        if !names.contains(&w.name.as_str()) {
            names.push(&w.name);
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Request;
    use crate::testing::{invoke, nemesis, EventsBuilder};
    use NemesisPhase::{Start, Stop};

    #[test]
    fn overlapping_windows_of_different_names_are_both_active() {
        let mut h = EventsBuilder::default();
        h.push(nemesis(Start, "partition"));
        h.push(invoke(1, "k", Request::Get)); // 1: partition
        h.push(nemesis(Start, "skew"));
        h.push(invoke(2, "k", Request::Get)); // 3: both
        h.push(nemesis(Stop, "partition"));
        h.push(invoke(3, "k", Request::Get)); // 5: skew (never stopped)
        let (ws, m) = windows(&h.events);
        assert!(m.is_empty());
        assert_eq!(ws.len(), 2);
        assert_eq!(active_at(&ws, 1), vec!["partition"]);
        assert_eq!(active_at(&ws, 3), vec!["partition", "skew"]);
        assert_eq!(active_at(&ws, 5), vec!["skew"]);
        assert!(ws[1].stop.is_none());
    }

    #[test]
    fn a_nested_start_closes_with_the_last_stop_and_a_stray_stop_is_malformed() {
        let mut h = EventsBuilder::default();
        h.push(nemesis(Start, "kill"));
        h.push(nemesis(Start, "kill"));
        h.push(nemesis(Stop, "kill"));
        h.push(invoke(1, "k", Request::Get)); // 3: still active
        h.push(nemesis(Stop, "kill"));
        h.push(nemesis(Stop, "kill"));
        let (ws, m) = windows(&h.events);
        assert_eq!(m.len(), 1);
        assert_eq!(ws.len(), 1);
        assert_eq!(ws[0].stop.map(|s| s.seq), Some(4));
        assert_eq!(active_at(&ws, 3), vec!["kill"]);
    }
}
