//! The named scenarios. Each starts its own server (so peak RSS is the scenario's), sets up
//! through the HTTP API and returns its Markdown section.

pub mod analytics;
pub mod analytics_load;
pub mod captions;
pub mod dashboard;
pub mod embed;
pub mod fanout;
pub mod flood;
pub mod ingest;
pub mod instances;
pub mod seed;
pub mod storage;
pub mod verify;

use std::sync::Arc;

use serde_json::Value;

use crate::error::{BenchError, Result};
use crate::http::Request;
use crate::load::{Load, Until};
use crate::stats::Summary;
use crate::Opts;

/// An admin request with a JSON body.
#[must_use]
pub fn admin(opts: &Opts, method: &str, path: &str, body: Option<&Value>) -> Request {
    Request::new(method, path, &[("X-Admin-Key", &opts.admin_key)], body)
}

/// A request with a Bearer credential.
#[must_use]
pub fn bearer(method: &str, path: &str, token: &str, body: Option<&Value>) -> Request {
    let auth = format!("Bearer {token}");
    Request::new(method, path, &[("Authorization", &auth)], body)
}

/// Measures `requests` cycled over `opts.connections` keep-alive connections: a warm-up, then
/// `opts.runs` runs of `opts.duration` seconds, one summary per run.
pub async fn measure(
    opts: &Opts,
    addr: std::net::SocketAddr,
    requests: Vec<Request>,
) -> Vec<Summary> {
    measure_each(opts, addr, requests, || {}).await
}

/// As [`measure`], calling `before` ahead of each measured run.
async fn measure_each(
    opts: &Opts,
    addr: std::net::SocketAddr,
    requests: Vec<Request>,
    before: impl FnMut(),
) -> Vec<Summary> {
    let load = Load {
        addr,
        connections: opts.connections,
        requests: Arc::new(requests),
    };
    load.measure(
        Opts::secs(opts.warmup),
        Opts::secs(opts.duration),
        opts.runs,
        before,
    )
    .await
}

/// As [`measure`], and with `--paired-insert` each run follows one run of the bare durable
/// INSERT baseline (the server idle meanwhile), so the two rates compared are measured
/// seconds apart rather than minutes: the figures `<name>.rps`, `<name>.insert.tps` (median
/// of the INSERT runs) and `<name>.paired` (median of the run-by-run ratios), and rows for
/// both.
///
/// # Errors
/// [`BenchError::Setup`] when the baseline cannot be run.
pub async fn measure_paired(
    opts: &Opts,
    addr: std::net::SocketAddr,
    requests: Vec<Request>,
    name: &str,
) -> Result<Measured> {
    let Some(insert) = crate::pgbench::PairedInsert::new(opts)? else {
        let runs = measure(opts, addr, requests).await;
        let rps = Summary::median(&runs).rps;
        return Ok(Measured {
            figures: vec![(format!("{name}.rps"), rps)],
            runs,
            insert: Vec::new(),
        });
    };
    let mut inserts = Vec::new();
    let mut failure = None;
    let runs = measure_each(opts, addr, requests, || {
        match tokio::task::block_in_place(|| insert.once(opts)) {
            Ok(s) => inserts.push(s),
            Err(e) => failure = Some(e),
        }
    })
    .await;
    if let Some(e) = failure {
        return Err(e);
    }
    let mut ratios: Vec<f64> = runs
        .iter()
        .zip(&inserts)
        .map(|(s, i)| s.rps / i.rps.max(1e-9))
        .collect();
    ratios.sort_by(f64::total_cmp);
    let paired = ratios.get(ratios.len() / 2).copied().unwrap_or(0.0);
    Ok(Measured {
        figures: vec![
            (format!("{name}.rps"), Summary::median(&runs).rps),
            (format!("{name}.insert.tps"), Summary::median(&inserts).rps),
            (format!("{name}.paired"), paired),
        ],
        runs,
        insert: inserts,
    })
}

/// A scenario's runs, the paired baseline's runs (empty without `--paired-insert`) and the
/// figures of both.
#[derive(Debug)]
pub struct Measured {
    /// The scenario's runs.
    pub runs: Vec<Summary>,
    /// The bare INSERT run before each of them.
    pub insert: Vec<Summary>,
    /// `<name>.rps`, and with the baseline `<name>.insert.tps` and `<name>.paired`.
    pub figures: Vec<(String, f64)>,
}

impl Measured {
    /// The baseline's row (for the scenario's table), when it ran.
    #[must_use]
    pub fn insert_row(&self, what: &str) -> Option<String> {
        (!self.insert.is_empty()).then(|| {
            crate::report::row(
                &format!("pgbench bare INSERT right before each {what} run"),
                "postgres",
                10,
                &self.insert,
                None,
            )
        })
    }
}

/// Sends every request once over a few connections and checks they all answered `expect`
/// (setup steps whose answers are not needed, e.g. creating 10,000 keys with known secrets).
///
/// # Errors
/// [`BenchError::Setup`] naming the statuses when any request failed.
pub async fn send_all(
    addr: std::net::SocketAddr,
    requests: Vec<Request>,
    expect: u16,
    what: &str,
) -> Result<()> {
    let count = requests.len() as u64;
    let load = Load {
        addr,
        connections: 16.min(requests.len().max(1)),
        requests: Arc::new(requests),
    };
    let run = load.run(Until::Count(count)).await;
    let ok = run.statuses.get(&expect).copied().unwrap_or(0);
    if ok != count {
        return Err(BenchError::Setup(format!(
            "{what}: {ok} of {count} answered {expect} (statuses {:?}, {} connection errors)",
            run.statuses, run.io_errors
        )));
    }
    Ok(())
}
