//! Jittered exponential backoff ("full jitter"): each sleep is drawn
//! uniformly below a bound that doubles up to a cap, so that clients
//! retrying after the same failure spread out.

use std::time::Duration;

use rand::Rng;

pub(crate) struct Backoff {
    bound: Duration,
    max: Duration,
}

impl Backoff {
    pub(crate) fn new(initial: Duration, max: Duration) -> Self {
        Backoff {
            bound: initial,
            max,
        }
    }

    /// The next sleep.
    pub(crate) fn next_sleep(&mut self) -> Duration {
        let bound_ms = self.bound.as_millis().max(1) as u64;
        let sleep = Duration::from_millis(rand::thread_rng().gen_range(0..=bound_ms));
        self.bound = (self.bound * 2).min(self.max);
        sleep
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleeps_stay_below_a_doubling_capped_bound() {
        let mut b = Backoff::new(Duration::from_millis(50), Duration::from_millis(400));
        let bounds = [50, 100, 200, 400, 400, 400];
        for bound in bounds {
            assert!(b.next_sleep() <= Duration::from_millis(bound));
        }
    }
}
