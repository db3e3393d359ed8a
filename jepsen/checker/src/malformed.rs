//! Notes on what is wrong with a history's shape (not with idem's answers):
//! a stray completion, a double invocation, an impossible outcome kind. A
//! broken harness can produce one per event, so the list is capped.

/// At most this many notes are kept; the rest are only counted.
pub const MAX_NOTES: usize = 200;

/// A capped list of notes.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Malformed {
    notes: Vec<String>,
    dropped: usize,
}

impl Malformed {
    pub fn note(&mut self, message: String) {
        if self.notes.len() < MAX_NOTES {
            self.notes.push(message);
        } else {
            self.dropped += 1;
        }
    }

    pub fn extend(&mut self, other: Malformed) {
        self.dropped += other.dropped;
        for n in other.notes {
            self.note(n);
        }
    }

    /// How many notes were taken, kept or not.
    pub fn len(&self) -> usize {
        self.notes.len() + self.dropped
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The kept notes, followed by a line saying how many were dropped.
    pub fn into_lines(self) -> Vec<String> {
        let mut lines = self.notes;
        if self.dropped > 0 {
            lines.push(format!("... and {} more malformed events", self.dropped));
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_first_notes_and_counts_the_rest() {
        let mut m = Malformed::default();
        for i in 0..MAX_NOTES + 5 {
            m.note(format!("n{i}"));
        }
        assert_eq!(m.len(), MAX_NOTES + 5);
        let lines = m.into_lines();
        assert_eq!(lines.len(), MAX_NOTES + 1);
        assert_eq!(lines[MAX_NOTES], "... and 5 more malformed events");
    }
}
