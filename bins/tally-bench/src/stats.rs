//! Latency percentiles (exact, by sorting every sample), run summaries and the median of
//! several runs.

use std::collections::BTreeMap;
use std::time::Duration;

/// What one timed run observed.
#[derive(Debug, Default, Clone)]
pub struct RunResult {
    /// Every request's latency in microseconds, in no particular order.
    pub latencies_us: Vec<u64>,
    /// Responses by status.
    pub statuses: BTreeMap<u16, u64>,
    /// Requests that got no response (connection errors).
    pub io_errors: u64,
    /// Wall time of the run.
    pub elapsed: Duration,
}

impl RunResult {
    /// Adds another connection's observations (the elapsed time is the caller's).
    pub fn merge(&mut self, other: RunResult) {
        self.latencies_us.extend(other.latencies_us);
        for (s, n) in other.statuses {
            *self.statuses.entry(s).or_default() += n;
        }
        self.io_errors += other.io_errors;
    }
}

/// The figures a run is reported with.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Summary {
    /// Completed requests (any status) per second.
    pub rps: f64,
    /// Median latency, µs.
    pub p50: u64,
    /// 90th percentile, µs.
    pub p90: u64,
    /// 99th percentile, µs.
    pub p99: u64,
    /// Slowest request, µs.
    pub max: u64,
    /// Non-2xx responses by status, and `io` for requests without a response.
    pub errors: BTreeMap<String, u64>,
    /// Requests completed.
    pub requests: u64,
}

/// The `q`-quantile (0..=1) of sorted samples, nearest-rank: the smallest sample with at least
/// `q` of all samples at or below it. 0 for no samples.
#[must_use]
pub fn percentile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

impl Summary {
    /// Summarises a run (sorts its samples).
    #[must_use]
    pub fn of(mut run: RunResult) -> Self {
        run.latencies_us.sort_unstable();
        let l = &run.latencies_us;
        let mut errors: BTreeMap<String, u64> = run
            .statuses
            .iter()
            .filter(|(s, _)| !(200..300).contains(*s))
            .map(|(s, n)| (s.to_string(), *n))
            .collect();
        if run.io_errors > 0 {
            errors.insert("io".to_owned(), run.io_errors);
        }
        let secs = run.elapsed.as_secs_f64().max(1e-9);
        Self {
            rps: l.len() as f64 / secs,
            p50: percentile(l, 0.50),
            p90: percentile(l, 0.90),
            p99: percentile(l, 0.99),
            max: l.last().copied().unwrap_or(0),
            errors,
            requests: l.len() as u64,
        }
    }

    /// The median of each figure over several runs (errors are summed).
    #[must_use]
    pub fn median(runs: &[Summary]) -> Self {
        let med_u = |f: fn(&Summary) -> u64| {
            let mut v: Vec<u64> = runs.iter().map(f).collect();
            v.sort_unstable();
            v.get(v.len() / 2).copied().unwrap_or(0)
        };
        let mut rps: Vec<f64> = runs.iter().map(|r| r.rps).collect();
        rps.sort_by(f64::total_cmp);
        let mut errors = BTreeMap::new();
        for r in runs {
            for (k, n) in &r.errors {
                *errors.entry(k.clone()).or_default() += n;
            }
        }
        Self {
            rps: rps.get(rps.len() / 2).copied().unwrap_or(0.0),
            p50: med_u(|r| r.p50),
            p90: med_u(|r| r.p90),
            p99: med_u(|r| r.p99),
            max: med_u(|r| r.max),
            errors,
            requests: runs.iter().map(|r| r.requests).sum(),
        }
    }

    /// Errors as `429×3, io×1`, or `0`.
    #[must_use]
    pub fn errors_text(&self) -> String {
        if self.errors.is_empty() {
            return "0".to_owned();
        }
        self.errors
            .iter()
            .map(|(k, n)| format!("{k}×{n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Microseconds as milliseconds with two decimals.
#[must_use]
pub fn ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 0.50), 50);
        assert_eq!(percentile(&v, 0.90), 90);
        assert_eq!(percentile(&v, 0.99), 99);
        assert_eq!(percentile(&v, 1.0), 100);
        assert_eq!(percentile(&v, 0.0), 1);
        assert_eq!(percentile(&[7], 0.99), 7);
        assert_eq!(percentile(&[], 0.5), 0);
        assert_eq!(percentile(&[1, 2, 3], 0.5), 2);
    }

    #[test]
    fn summary_counts_non_2xx_and_io_as_errors() {
        let run = RunResult {
            latencies_us: vec![30, 10, 20, 40],
            statuses: BTreeMap::from([(200, 2), (201, 1), (429, 1)]),
            io_errors: 2,
            elapsed: Duration::from_secs(2),
        };
        let s = Summary::of(run);
        assert_eq!((s.p50, s.max, s.requests), (20, 40, 4));
        assert!((s.rps - 2.0).abs() < 1e-9);
        assert_eq!(s.errors_text(), "429×1, io×2");
    }

    #[test]
    fn median_of_runs_takes_each_figure_separately() {
        let run = |rps, p99| Summary {
            rps,
            p99,
            ..Summary::default()
        };
        let m = Summary::median(&[run(3.0, 9), run(1.0, 5), run(2.0, 7)]);
        assert_eq!((m.rps, m.p99), (2.0, 7));
    }
}
