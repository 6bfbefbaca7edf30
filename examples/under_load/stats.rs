//! The figures of one run, computed from every request it recorded.

use std::time::Duration;

use crate::workload::{Op, Outcome};

/// The figures of one run.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Requests that arrived during the whole run.
    pub requests: usize,
    /// Failed requests, whole run: given up waiting for a connection, cancelled by the timeout,
    /// other errors.
    pub gave_up: usize,
    pub timed_out: usize,
    pub errors: usize,
    /// The measured window (migration, or long read if it ends later), since the workload start.
    pub window: (Duration, Duration),
    /// Answered requests per second during the window.
    pub throughput: f64,
    /// The worst second of the window (answered requests in a one-second bucket).
    pub worst_second: f64,
    /// Latency of the requests arriving in the window (failures at the time they failed).
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
    /// Requests of the window slower than one second.
    pub over_1s: usize,
    /// The longest interval in which no request was answered, and when it started.
    pub longest_stall: Duration,
    pub stall_at: Duration,
}

impl Summary {
    pub fn failed(&self) -> usize {
        self.gave_up + self.timed_out + self.errors
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    // Nearest rank: the smallest value with at least p% of the values at or below it.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Summarises `ops` over `window`.
pub fn summarize(ops: &[Op], window: (Duration, Duration)) -> Summary {
    let (from, to) = window;
    let mut latencies: Vec<Duration> = ops
        .iter()
        .filter(|o| o.arrival >= from && o.arrival < to)
        .map(|o| o.latency)
        .collect();
    latencies.sort_unstable();

    let span = (to - from).as_secs_f64().max(1e-3);
    let answered_in_window = ops
        .iter()
        .filter(|o| o.outcome == Outcome::Ok && o.done() >= from && o.done() < to)
        .count();

    // One-second buckets that lie inside the window.
    let buckets = (to - from).as_secs() as usize;
    let mut per_second = vec![0usize; buckets];
    for o in ops.iter().filter(|o| o.outcome == Outcome::Ok) {
        if let Some(rel) = o.done().checked_sub(from) {
            let i = rel.as_secs() as usize;
            if i < buckets {
                per_second[i] += 1;
            }
        }
    }

    let mut done: Vec<Duration> = ops
        .iter()
        .filter(|o| o.outcome == Outcome::Ok)
        .map(Op::done)
        .collect();
    done.sort_unstable();
    let (mut longest_stall, mut stall_at) = (Duration::ZERO, Duration::ZERO);
    for w in done.windows(2) {
        if w[1] - w[0] > longest_stall {
            longest_stall = w[1] - w[0];
            stall_at = w[0];
        }
    }

    let count = |outcome: Outcome| ops.iter().filter(|o| o.outcome == outcome).count();
    Summary {
        requests: ops.len(),
        gave_up: count(Outcome::GaveUp),
        timed_out: count(Outcome::TimedOut),
        errors: count(Outcome::Error),
        window,
        throughput: answered_in_window as f64 / span,
        worst_second: per_second
            .iter()
            .copied()
            .min()
            .map_or(answered_in_window as f64 / span, |n| n as f64),
        p50: percentile(&latencies, 50.0),
        p99: percentile(&latencies, 99.0),
        max: latencies.last().copied().unwrap_or_default(),
        over_1s: latencies
            .iter()
            .filter(|l| **l > Duration::from_secs(1))
            .count(),
        longest_stall,
        stall_at,
    }
}

/// Latency of the requests arriving in one interval (a backfill step's, say).
#[derive(Debug, Clone, Copy, Default)]
pub struct Latency {
    pub requests: usize,
    pub p99: Duration,
    pub max: Duration,
}

/// The latency of the requests of `ops` arriving in `[from, to)`.
pub fn latency_between(ops: &[Op], (from, to): (Duration, Duration)) -> Latency {
    let mut latencies: Vec<Duration> = ops
        .iter()
        .filter(|o| o.arrival >= from && o.arrival < to)
        .map(|o| o.latency)
        .collect();
    latencies.sort_unstable();
    Latency {
        requests: latencies.len(),
        p99: percentile(&latencies, 99.0),
        max: latencies.last().copied().unwrap_or_default(),
    }
}

/// Per-bucket series for the picture.
#[derive(Debug, Clone, Default)]
pub struct Series {
    pub bucket: Duration,
    /// Per bucket of arrival time: the slowest and the median request (None when no request arrived).
    pub max_latency: Vec<Option<Duration>>,
    pub median_latency: Vec<Option<Duration>>,
    /// Per bucket of answer time: answered requests per second.
    pub throughput: Vec<f64>,
    /// Per bucket of failure time: failed requests.
    pub failures: Vec<usize>,
}

/// Buckets `ops` over `[0, until)`.
pub fn series(ops: &[Op], until: Duration, bucket: Duration) -> Series {
    let n = (until.as_secs_f64() / bucket.as_secs_f64()).ceil() as usize;
    let index = |t: Duration| (t.as_secs_f64() / bucket.as_secs_f64()) as usize;
    let mut latencies: Vec<Vec<Duration>> = vec![Vec::new(); n];
    let mut answered = vec![0usize; n];
    let mut failures = vec![0usize; n];
    for o in ops {
        if let Some(v) = latencies.get_mut(index(o.arrival)) {
            v.push(o.latency);
        }
        let i = index(o.done());
        if i < n {
            if o.outcome == Outcome::Ok {
                answered[i] += 1;
            } else {
                failures[i] += 1;
            }
        }
    }
    let mut max_latency = Vec::with_capacity(n);
    let mut median_latency = Vec::with_capacity(n);
    for mut v in latencies {
        v.sort_unstable();
        max_latency.push(v.last().copied());
        median_latency.push((!v.is_empty()).then(|| percentile(&v, 50.0)));
    }
    Series {
        bucket,
        max_latency,
        median_latency,
        throughput: answered
            .iter()
            .map(|&a| a as f64 / bucket.as_secs_f64())
            .collect(),
        failures,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(arrival_ms: u64, latency_ms: u64, outcome: Outcome) -> Op {
        Op {
            arrival: Duration::from_millis(arrival_ms),
            latency: Duration::from_millis(latency_ms),
            outcome,
        }
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&v, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&v, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&v, 100.0), Duration::from_millis(100));
        assert_eq!(percentile(&[], 50.0), Duration::ZERO);
    }

    #[test]
    fn stall_is_the_longest_gap_between_answers() {
        let ops = [
            op(0, 1, Outcome::Ok),
            op(10, 1, Outcome::Ok),
            op(20, 2000, Outcome::Ok),
            op(30, 5, Outcome::GaveUp),
        ];
        let s = summarize(&ops, (Duration::ZERO, Duration::from_secs(3)));
        assert_eq!(s.longest_stall, Duration::from_millis(2009));
        assert_eq!(s.stall_at, Duration::from_millis(11));
        assert_eq!(s.max, Duration::from_millis(2000));
        assert_eq!((s.gave_up, s.failed()), (1, 1));
        assert_eq!(s.over_1s, 1);
    }
}
