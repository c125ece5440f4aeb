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
    let load = Load {
        addr,
        connections: opts.connections,
        requests: Arc::new(requests),
    };
    load.measure(
        Opts::secs(opts.warmup),
        Opts::secs(opts.duration),
        opts.runs,
    )
    .await
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
