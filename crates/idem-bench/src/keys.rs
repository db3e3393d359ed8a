//! Key names. Every key starts with the run id, so runs never see each
//! other's keys; a connection draws its keys from its own [`KeySource`].

use crate::plan::KeyMode;

/// The keys one connection uses, in order.
#[derive(Debug)]
pub struct KeySource {
    run_id: String,
    mode: KeyMode,
    connection: usize,
    sequence: u64,
    random: SplitMix64,
}

impl KeySource {
    pub fn new(run_id: &str, mode: KeyMode, connection: usize) -> KeySource {
        KeySource {
            run_id: run_id.to_string(),
            mode,
            connection,
            sequence: 0,
            random: SplitMix64(
                0x9e37_79b9_7f4a_7c15 ^ (connection as u64).wrapping_mul(0xbf58_476d_1ce4_e5b9),
            ),
        }
    }

    pub fn next_key(&mut self) -> String {
        match self.mode {
            KeyMode::Unique => {
                self.sequence += 1;
                format!("{}-c{}-{}", self.run_id, self.connection, self.sequence)
            }
            KeyMode::Contended(space) | KeyMode::Populated(space) => {
                shared_key(&self.run_id, self.random.next_u64() % space)
            }
        }
    }
}

/// Key number `index` of a contended or pre-populated key space.
pub fn shared_key(run_id: &str, index: u64) -> String {
    format!("{run_id}-k{index}")
}

/// A small, fast, deterministic generator (Steele, Lea and Flood's SplitMix64);
/// key choice needs no more.
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn unique_keys_never_repeat_across_connections() {
        let mut seen = HashSet::new();
        for connection in 0..4 {
            let mut source = KeySource::new("run", KeyMode::Unique, connection);
            for _ in 0..1000 {
                assert!(seen.insert(source.next_key()));
            }
        }
    }

    #[test]
    fn contended_keys_stay_in_the_key_space_and_cover_it() {
        let mut source = KeySource::new("run", KeyMode::Contended(8), 3);
        let keys: HashSet<String> = (0..1000).map(|_| source.next_key()).collect();
        let expected: HashSet<String> = (0..8).map(|i| shared_key("run", i)).collect();
        assert_eq!(keys, expected);
    }

    #[test]
    fn populated_keys_are_the_shared_keys() {
        let mut source = KeySource::new("r1", KeyMode::Populated(1), 0);
        assert_eq!(source.next_key(), "r1-k0");
    }
}
