//! The search's memory of configurations already explored: (which
//! operations are placed, model state). It also prunes by subsumption: with
//! the same acknowledged operations placed and the same state, a
//! configuration that placed fewer of the indeterminate operations can do
//! everything one that placed more can (those may simply never take
//! effect), so once it has been explored the larger one need not be.
//!
//! Indeterminate operations are counted per class of interchangeable
//! calls: the search places a class's members in invocation order, so the
//! count says which are placed; and with fewer placed, the ones left were
//! invoked no later, so they can stand in for any the other configuration
//! places afterwards.

use crate::model::state::State;
use std::collections::HashMap;

/// The acknowledged operations placed and the model state. The placed set is
/// written compactly: all operations before `first_open` (in invocation
/// order) are placed, plus `placed_after`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Placed {
    pub state: State,
    pub first_open: u32,
    pub placed_after: Box<[u32]>,
}

/// How many indeterminate operations of each class are placed:
/// `(class, count)` for the classes with a count, sorted by class.
pub type InfoCounts = Box<[(u32, u32)]>;

#[derive(Debug, Default)]
pub struct Visited {
    /// For each [`Placed`], the counts of indeterminate operations placed
    /// with it.
    seen: HashMap<Placed, Vec<InfoCounts>>,
    stored: usize,
}

impl Visited {
    /// Records the configuration and returns true, unless it (or one that
    /// subsumes it) was seen before.
    pub fn insert(&mut self, placed: Placed, infos: InfoCounts) -> bool {
        let seen = self.seen.entry(placed).or_default();
        if seen.iter().any(|s| at_most(s, &infos)) {
            return false;
        }
        seen.push(infos);
        self.stored += 1;
        true
    }

    /// How many configurations are stored.
    pub fn len(&self) -> usize {
        self.stored
    }
}

/// Whether every count in `small` is at most that of its class in `big`.
fn at_most(small: &[(u32, u32)], big: &[(u32, u32)]) -> bool {
    let mut big = big.iter();
    small
        .iter()
        .all(|(class, n)| big.any(|(c, m)| c == class && m >= n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placed(first_open: u32) -> Placed {
        Placed {
            state: State::INITIAL,
            first_open,
            placed_after: Box::new([]),
        }
    }

    #[test]
    fn a_configuration_with_more_indeterminate_operations_placed_is_subsumed() {
        let mut v = Visited::default();
        assert!(v.insert(placed(1), Box::new([(2, 1)])));
        assert!(!v.insert(placed(1), Box::new([(2, 1)])));
        assert!(!v.insert(placed(1), Box::new([(1, 1), (2, 3), (5, 1)])));
        assert!(v.insert(placed(1), Box::new([(1, 1)])));
        assert!(v.insert(placed(2), Box::new([(2, 1)])));
        assert_eq!(v.len(), 3);
    }

    #[test]
    fn counts_compare_class_by_class() {
        assert!(at_most(&[], &[(1, 1)]));
        assert!(at_most(&[(1, 1), (3, 2)], &[(1, 2), (2, 1), (3, 2)]));
        assert!(!at_most(&[(1, 1), (4, 1)], &[(1, 1), (3, 1)]));
        assert!(!at_most(&[(1, 2)], &[(1, 1)]));
        assert!(!at_most(&[(2, 1)], &[]));
    }
}
