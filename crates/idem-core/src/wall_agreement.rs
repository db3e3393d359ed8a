//! What a majority of nodes' wall clocks agree on, from one node's readings
//! of them (its own and its peers', measured by clock probes).

/// The latest wall time that at least a majority of `members` nodes read at
/// or beyond, from the readings available (one per node, at most
/// `members`); `None` with fewer readings than a majority. One node's wrong
/// clock, ahead or behind, cannot move it past the others'.
pub fn agreed_wall_ms(readings: &[u64], members: usize) -> Option<u64> {
    let majority = members / 2 + 1;
    if members == 0 || readings.len() < majority || readings.len() > members {
        return None;
    }
    let mut sorted = readings.to_vec();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    sorted.get(majority - 1).copied()
}

/// The latest wall time a majority *might* agree on, counting the nodes
/// without a reading as arbitrarily far ahead: what another node may have
/// caught up to. `None` when the missing nodes alone could be a majority
/// (anything is possible).
pub fn highest_agreeable_wall_ms(readings: &[u64], members: usize) -> Option<u64> {
    let majority = members / 2 + 1;
    let missing = members.checked_sub(readings.len())?;
    if members == 0 || missing >= majority {
        return None;
    }
    let mut sorted = readings.to_vec();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    sorted.get(majority - 1 - missing).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_wrong_clock_of_three_does_not_move_it() {
        assert_eq!(agreed_wall_ms(&[100, 101, 10_000], 3), Some(101));
        assert_eq!(agreed_wall_ms(&[100, 101, 1], 3), Some(100));
        assert_eq!(agreed_wall_ms(&[10_000, 10_001, 100], 3), Some(10_000));
        assert_eq!(agreed_wall_ms(&[100, 10_000], 3), Some(100));
        assert_eq!(agreed_wall_ms(&[100], 3), None);
        assert_eq!(agreed_wall_ms(&[100], 1), Some(100));
        assert_eq!(agreed_wall_ms(&[1, 2, 3, 4, 5], 5), Some(3));
        assert_eq!(agreed_wall_ms(&[], 0), None);
        assert_eq!(agreed_wall_ms(&[1, 2], 1), None);
    }

    #[test]
    fn the_highest_agreeable_counts_missing_nodes_as_ahead() {
        assert_eq!(highest_agreeable_wall_ms(&[100, 101, 10_000], 3), Some(101));
        assert_eq!(highest_agreeable_wall_ms(&[100, 10_000], 3), Some(10_000));
        assert_eq!(highest_agreeable_wall_ms(&[100], 3), None);
        assert_eq!(highest_agreeable_wall_ms(&[100], 1), Some(100));
        assert_eq!(highest_agreeable_wall_ms(&[1, 2, 3], 5), Some(3));
        assert_eq!(highest_agreeable_wall_ms(&[1, 2, 3, 4], 3), None);
    }
}
