//! The timeline's two axes: linear seconds across, log-scale milliseconds
//! up, with their tick values.

/// Seconds since the start, left to right.
#[derive(Debug, Clone, Copy)]
pub struct TimeAxis {
    pub max_s: f64,
    pub left: f64,
    pub width: f64,
}

impl TimeAxis {
    pub fn x(&self, s: f64) -> f64 {
        self.left + self.width * (s / self.max_s).clamp(0.0, 1.0)
    }

    /// Tick values, every 1, 2 or 5 × 10^k seconds, about ten of them.
    pub fn ticks(&self) -> Vec<f64> {
        let step = nice_step(self.max_s / 10.0);
        (0..)
            .map(|i| i as f64 * step)
            .take_while(|t| *t <= self.max_s * (1.0 + 1e-9))
            .take(50)
            .collect()
    }
}

/// Latency in ms, log scale, bottom to top, over whole decades.
#[derive(Debug, Clone, Copy)]
pub struct LatencyAxis {
    /// log10 of the lowest and highest values shown.
    pub lo: i32,
    pub hi: i32,
    pub top: f64,
    pub height: f64,
}

impl LatencyAxis {
    /// The decades that hold every latency in `ms` (defaults for none).
    pub fn fitting(ms: impl Iterator<Item = f64>, top: f64, height: f64) -> Self {
        let (mut min, mut max) = (f64::INFINITY, 0.0f64);
        for v in ms.filter(|v| v.is_finite() && *v > 0.0) {
            min = min.min(v);
            max = max.max(v);
        }
        let (lo, hi) = if min.is_finite() {
            let lo = min.max(1e-3).log10().floor() as i32;
            let hi = max.max(1e-3).log10().ceil() as i32;
            (lo, hi.max(lo + 1))
        } else {
            (0, 3)
        };
        LatencyAxis {
            lo,
            hi,
            top,
            height,
        }
    }

    pub fn y(&self, ms: f64) -> f64 {
        let l = ms.max(1e-3).log10().clamp(self.lo as f64, self.hi as f64);
        let frac = (l - self.lo as f64) / (self.hi - self.lo) as f64;
        self.top + self.height * (1.0 - frac)
    }

    /// One tick per decade: (value in ms, label).
    pub fn ticks(&self) -> Vec<(f64, String)> {
        (self.lo..=self.hi)
            .map(|d| (10f64.powi(d), latency_label(d)))
            .collect()
    }
}

fn latency_label(decade: i32) -> String {
    match decade {
        d if d < 0 => format!("{} ms", 10f64.powi(d)),
        d if d < 3 => format!("{} ms", 10u64.pow(d as u32)),
        d => format!("{} s", 10u64.pow((d - 3) as u32)),
    }
}

/// 1, 2 or 5 × 10^k, the smallest at least `raw`.
pub fn nice_step(raw: f64) -> f64 {
    if !raw.is_finite() || raw <= 0.0 {
        return 1.0;
    }
    let base = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * base)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_one_two_or_five_times_a_power_of_ten() {
        assert_eq!(nice_step(0.7), 1.0);
        assert_eq!(nice_step(1.3), 2.0);
        assert_eq!(nice_step(3.0), 5.0);
        assert_eq!(nice_step(12.0), 20.0);
        assert_eq!(nice_step(0.0), 1.0);
        let axis = TimeAxis {
            max_s: 63.0,
            left: 0.0,
            width: 630.0,
        };
        assert_eq!(axis.ticks().len(), 7);
        assert_eq!(axis.x(31.5), 315.0);
    }

    #[test]
    fn the_latency_axis_spans_whole_decades_upwards() {
        let axis = LatencyAxis::fitting([0.5, 30.0, 2_000.0].into_iter(), 10.0, 400.0);
        assert_eq!((axis.lo, axis.hi), (-1, 4));
        assert_eq!(axis.y(10f64.powi(4)), 10.0);
        assert_eq!(axis.y(0.1), 410.0);
        let labels: Vec<String> = axis.ticks().into_iter().map(|(_, l)| l).collect();
        assert_eq!(labels, ["0.1 ms", "1 ms", "10 ms", "100 ms", "1 s", "10 s"]);
        let empty = LatencyAxis::fitting(std::iter::empty(), 0.0, 1.0);
        assert_eq!((empty.lo, empty.hi), (0, 3));
    }
}
