//! What a check concludes: the violations found, each key's
//! linearizability verdict, and the notes on a malformed history. These
//! types are serialised as the harness's `check.json`.

use serde::{Serialize, Serializer};

/// How hard the checker may work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckLimits {
    /// The linearizability search of one key gives up (verdict `Unknown`)
    /// after storing this many distinct configurations.
    pub max_states_per_key: usize,
}

impl Default for CheckLimits {
    fn default() -> Self {
        CheckLimits {
            max_states_per_key: 2_000_000,
        }
    }
}

/// The rule a violation breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckName {
    /// A lease ended before its holder's time was up.
    NoEarlyExpiry,
    /// A completed response was not replayed byte for byte during its
    /// retention.
    Replay,
    /// Fencing tokens were reused, went backwards, or a stale one succeeded.
    Fencing,
    /// A key's operations admit no legal order.
    Linearizability,
}

impl CheckName {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckName::NoEarlyExpiry => "no-early-expiry",
            CheckName::Replay => "replay",
            CheckName::Fencing => "fencing",
            CheckName::Linearizability => "linearizability",
        }
    }
}

/// One broken rule, with the events that show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub check: CheckName,
    pub key: String,
    pub message: String,
    /// `index` of every event that shows it, ascending.
    pub events: Vec<u64>,
}

impl Violation {
    pub fn new(check: CheckName, key: &str, message: String, mut events: Vec<u64>) -> Self {
        events.sort_unstable();
        events.dedup();
        Violation {
            check,
            key: key.to_string(),
            message,
            events,
        }
    }
}

/// A key's linearizability verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Linearizability {
    Linearizable,
    /// No order of the key's operations obeys the model.
    NotLinearizable {
        /// `index` of the invocation of each acknowledged operation that
        /// could not be placed at the search's furthest point.
        ops: Vec<u64>,
        /// How many acknowledged operations were placed there, out of all.
        placed: usize,
        total: usize,
        /// The record's state there, in words.
        state: String,
    },
    /// The search ran out of budget.
    Unknown {
        reason: String,
    },
}

/// One key's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyVerdict {
    pub key: String,
    /// Operations that may have happened (`ok` and indeterminate).
    pub ops: usize,
    /// Of those, indeterminate (`info`, or never answered).
    pub indeterminate: usize,
    /// Configurations the linearizability search stored.
    pub states: usize,
    pub result: Linearizability,
}

/// Everything a check found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    pub violations: Vec<Violation>,
    /// Ordered by key.
    pub keys: Vec<KeyVerdict>,
    /// What is wrong with the history's shape.
    pub malformed: Vec<String>,
    /// Client operations in the history (all of them, `fail` included).
    pub ops: usize,
}

impl CheckReport {
    /// No violation, no malformed event, and every key linearizable.
    pub fn is_valid(&self) -> bool {
        self.violations.is_empty()
            && self.malformed.is_empty()
            && self
                .keys
                .iter()
                .all(|k| k.result == Linearizability::Linearizable)
    }

    /// The violations of one check.
    pub fn violations_of(&self, check: CheckName) -> impl Iterator<Item = &Violation> {
        self.violations.iter().filter(move |v| v.check == check)
    }
}

/// Serialised with a leading `"valid"` member, so that `check.json` says
/// the verdict first.
impl Serialize for CheckReport {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct View<'a> {
            valid: bool,
            ops: usize,
            violations: &'a [Violation],
            keys: &'a [KeyVerdict],
            malformed: &'a [String],
        }
        View {
            valid: self.is_valid(),
            ops: self.ops,
            violations: &self.violations,
            keys: &self.keys,
            malformed: &self.malformed,
        }
        .serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(result: Linearizability) -> KeyVerdict {
        KeyVerdict {
            key: "k".into(),
            ops: 1,
            indeterminate: 0,
            states: 1,
            result,
        }
    }

    #[test]
    fn valid_needs_no_violation_no_malformed_and_every_key_linearizable() {
        let mut r = CheckReport {
            keys: vec![verdict(Linearizability::Linearizable)],
            ..CheckReport::default()
        };
        assert!(r.is_valid());
        r.keys.push(verdict(Linearizability::Unknown {
            reason: "budget".into(),
        }));
        assert!(!r.is_valid());
        r.keys.pop();
        r.malformed.push("stray".into());
        assert!(!r.is_valid());
        r.malformed.clear();
        r.violations.push(Violation::new(
            CheckName::Replay,
            "k",
            "m".into(),
            vec![3, 1, 3],
        ));
        assert!(!r.is_valid());
        assert_eq!(r.violations[0].events, vec![1, 3]);
    }

    #[test]
    fn serialises_with_the_verdict_first() {
        let r = CheckReport {
            keys: vec![verdict(Linearizability::Linearizable)],
            ..CheckReport::default()
        };
        let json = serde_json::to_string(&r).unwrap_or_default();
        assert!(json.starts_with(r#"{"valid":true,"#), "{json}");
        assert!(json.contains(r#""result":"linearizable""#), "{json}");
    }
}
