//! The open loop's send schedule. The total rate R is shared by C
//! connections: request n of connection c is due at (n·C + c) / R seconds
//! after the start, so the connections interleave evenly. A connection that
//! falls behind (its previous answer came after the next request was due)
//! sends at once, and that request's latency is measured from the time it
//! was due (no coordinated omission). A connection that was idle sleeps
//! until the due time and measures from when it woke, so the timer's
//! millisecond granularity is not counted against the server. Sending stops
//! at the end of the run; requests due but not sent are counted as unsent.

use std::time::{Duration, Instant};

/// When each request of one connection is due.
#[derive(Debug, Clone)]
pub struct RateSchedule {
    start: Instant,
    requests_per_second: f64,
    connections: u64,
    connection: u64,
    next_index: u64,
}

impl RateSchedule {
    pub fn new(
        start: Instant,
        requests_per_second: f64,
        connections: usize,
        connection: usize,
    ) -> RateSchedule {
        RateSchedule {
            start,
            requests_per_second,
            connections: connections as u64,
            connection: connection as u64,
            next_index: 0,
        }
    }

    /// How long after the start request `index` of this connection is due.
    pub fn offset_of(&self, index: u64) -> Duration {
        let slot = index
            .saturating_mul(self.connections)
            .saturating_add(self.connection);
        Duration::from_secs_f64(slot as f64 / self.requests_per_second)
    }

    /// The due time of the next request; advances the schedule.
    pub fn next_due(&mut self) -> Instant {
        let due = self.start + self.offset_of(self.next_index);
        self.next_index += 1;
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_connection_sends_every_one_over_rate() {
        let start = Instant::now();
        let mut schedule = RateSchedule::new(start, 100.0, 1, 0);
        let due: Vec<Duration> = (0..4).map(|_| schedule.next_due() - start).collect();
        assert_eq!(due, [0, 10, 20, 30].map(Duration::from_millis));
    }

    #[test]
    fn connections_interleave_and_share_the_total_rate() {
        let start = Instant::now();
        let rate = 1000.0;
        let connections = 4;
        let mut all: Vec<Duration> = Vec::new();
        for connection in 0..connections {
            let mut schedule = RateSchedule::new(start, rate, connections, connection);
            all.extend((0..250).map(|_| schedule.next_due() - start));
        }
        all.sort();
        // 1000 requests over one second, one every millisecond, none twice.
        for (i, due) in all.iter().enumerate() {
            let expected = Duration::from_millis(i as u64);
            let gap = due.abs_diff(expected);
            assert!(gap < Duration::from_micros(1), "request {i} due at {due:?}");
        }
    }

    #[test]
    fn fractional_rates_are_exact_over_time() {
        let schedule = RateSchedule::new(Instant::now(), 3.0, 2, 1);
        // Slot 2·10 + 1 = 21 at 3 per second: 7 s.
        assert_eq!(schedule.offset_of(10), Duration::from_secs(7));
    }
}

/// When the run starts, when measuring starts, when sending stops.
#[derive(Debug, Clone, Copy)]
pub struct Phases {
    pub start: Instant,
    pub measure_start: Instant,
    pub end: Instant,
}
