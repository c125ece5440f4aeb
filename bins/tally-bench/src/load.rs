//! The load engine: N keep-alive connections, each sending the next prebuilt request as soon
//! as the previous response is read (closed loop, like `wrk`), for a duration or a count.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::http::{Conn, Request};
use crate::stats::{RunResult, Summary};

/// When a run stops.
#[derive(Debug, Clone, Copy)]
pub enum Until {
    /// After this long.
    Elapsed(Duration),
    /// After this many requests in total.
    Count(u64),
}

/// A load: where, how many connections and which requests. For a duration, connection `c`
/// sends requests `c, c + N, c + 2N, …` of the list (wrapping), so requests spread evenly and
/// connections never share a request while the list is at least `N` long; for a count, each
/// request of the list is sent once, in order, by whichever connection is free.
#[derive(Debug, Clone)]
pub struct Load {
    /// The server.
    pub addr: SocketAddr,
    /// Concurrent connections.
    pub connections: usize,
    /// The requests to cycle through.
    pub requests: Arc<Vec<Request>>,
}

impl Load {
    /// Runs the load once.
    pub async fn run(&self, until: Until) -> RunResult {
        let started = Instant::now();
        let tickets = Arc::new(AtomicU64::new(0));
        let tasks: Vec<_> = (0..self.connections)
            .map(|c| {
                let load = self.clone();
                let tickets = Arc::clone(&tickets);
                tokio::spawn(async move { load.connection(c, until, started, &tickets).await })
            })
            .collect();
        let mut total = RunResult::default();
        for t in tasks {
            if let Ok(r) = t.await {
                total.merge(r);
            }
        }
        total.elapsed = started.elapsed();
        total
    }

    /// A warm-up run that is thrown away, then `runs` measured runs of `secs` each, calling
    /// `before` ahead of each measured run (with the load idle).
    pub async fn measure(
        &self,
        warmup: Duration,
        secs: Duration,
        runs: usize,
        mut before: impl FnMut(),
    ) -> Vec<Summary> {
        if !warmup.is_zero() {
            let _ = self.run(Until::Elapsed(warmup)).await;
        }
        let mut out = Vec::with_capacity(runs);
        for _ in 0..runs {
            before();
            out.push(Summary::of(self.run(Until::Elapsed(secs)).await));
        }
        out
    }

    async fn connection(
        &self,
        c: usize,
        until: Until,
        started: Instant,
        tickets: &AtomicU64,
    ) -> RunResult {
        let mut out = RunResult::default();
        let n = self.requests.len().max(1);
        let mut next = c % n;
        let mut conn = None;
        loop {
            let index = match until {
                Until::Elapsed(d) if started.elapsed() >= d => break,
                Until::Elapsed(_) => {
                    let i = next;
                    next = (next + self.connections) % n;
                    i
                }
                Until::Count(max) => match tickets.fetch_add(1, Ordering::Relaxed) {
                    t if t >= max => break,
                    t => usize::try_from(t).map_or(0, |t| t % n),
                },
            };
            let Some(req) = self.requests.get(index) else {
                break;
            };
            if conn.is_none() {
                match Conn::connect(self.addr).await {
                    Ok(c) => conn = Some(c),
                    Err(_) => {
                        out.io_errors += 1;
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                }
            }
            let Some(open) = conn.as_mut() else {
                continue;
            };
            let t = Instant::now();
            match open.send(req).await {
                Ok(res) => {
                    out.latencies_us.push(micros(t.elapsed()));
                    *out.statuses.entry(res.status).or_default() += 1;
                }
                Err(_) => {
                    out.io_errors += 1;
                    conn = None;
                }
            }
        }
        out
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}
