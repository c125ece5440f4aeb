//! `instances`: 1, 2 and 3 Tally instances on one shared Postgres database, the load's
//! connections spread over them round-robin (connection `c` talks to instance `c mod N`), as
//! a load balancer in front of stateless instances does. For each instance count:
//!
//! - throughput and latency of `POST /v1/verify` over many keys;
//! - the exactness check: one fresh key with lifetime limit `L` gets `2L` one-unit verifies
//!   from every connection of every instance at once. Exactly `L` must be admitted, counted
//!   from the answers (200 admitted, 429 refused) and from the store (the key's lifetime
//!   counter and its raw usage events, read from the database).
//!
//! Every instance count starts its own servers, so the figures of one count are not helped by
//! an idle instance warmed by the previous one; the database and its keys are shared.

use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::json;
use tally_domain::key::KeyId;
use tally_domain::ports::{KeyStore, UsageStore};
use tally_domain::usage::LogQuery;
use tally_store_pg::testing::TestDb;
use tally_store_pg::{PgOptions, PgStore};

use super::{admin, send_all};
use crate::error::{setup, BenchError, Result};
use crate::http::{call, Request};
use crate::load::{Load, Until};
use crate::report::Section;
use crate::server::Server;
use crate::stats::{ms, RunResult, Summary};
use crate::Opts;

/// The load of one run: one [`Load`] per instance, its share of the connections each.
struct Spread(Vec<Load>);

impl Spread {
    /// `connections` spread over `addrs` round-robin; instance `i` cycles through
    /// `requests` from its own offset, so instances do not hit the same keys in lockstep.
    fn new(addrs: &[SocketAddr], connections: usize, requests: &[Request]) -> Self {
        let n = addrs.len().max(1);
        let loads = addrs
            .iter()
            .enumerate()
            .map(|(i, addr)| {
                let mut mine = requests.to_vec();
                mine.rotate_left(i * requests.len() / n);
                Load {
                    addr: *addr,
                    connections: connections / n + usize::from(i < connections % n),
                    requests: Arc::new(mine),
                }
            })
            .collect();
        Self(loads)
    }

    /// Runs every instance's load at once. For a count, `count` requests in all, split
    /// evenly. Also returns each instance's completed requests.
    async fn run(&self, until: Until) -> (RunResult, Vec<u64>) {
        let n = self.0.len() as u64;
        let tasks: Vec<_> = self
            .0
            .iter()
            .enumerate()
            .map(|(i, load)| {
                let until = match until {
                    Until::Count(count) => {
                        Until::Count(count / n + u64::from((i as u64) < count % n))
                    }
                    other => other,
                };
                let load = load.clone();
                tokio::spawn(async move { load.run(until).await })
            })
            .collect();
        let mut total = RunResult::default();
        let mut each = Vec::with_capacity(tasks.len());
        for t in tasks {
            let r = t.await.unwrap_or_else(|_| RunResult {
                io_errors: 1,
                ..RunResult::default()
            });
            each.push(r.latencies_us.len() as u64);
            total.elapsed = total.elapsed.max(r.elapsed);
            total.merge(r);
        }
        (total, each)
    }

    /// A thrown-away warm-up, then `opts.runs` measured runs; the last run's per-instance
    /// request counts.
    async fn measure(&self, opts: &Opts) -> (Vec<Summary>, Vec<u64>) {
        if opts.warmup > 0.0 {
            let _ = self.run(Until::Elapsed(Opts::secs(opts.warmup))).await;
        }
        let mut runs = Vec::with_capacity(opts.runs);
        let mut each = Vec::new();
        for _ in 0..opts.runs {
            let (r, e) = self.run(Until::Elapsed(Opts::secs(opts.duration))).await;
            runs.push(Summary::of(r));
            each = e;
        }
        (runs, each)
    }
}

/// The outcome of one exactness check.
struct Exactness {
    limit: u64,
    sent: u64,
    admitted: u64,
    refused: u64,
    other: String,
    lifetime_used: u64,
    events: u64,
}

impl Exactness {
    fn exact(&self) -> bool {
        self.admitted == self.limit
            && self.lifetime_used == self.limit
            && self.events == self.limit
            && self.admitted + self.refused == self.sent
    }
}

/// Runs the scenario and returns its section.
///
/// # Errors
/// Setup failures (database, servers, key creation), and a lost exactness check.
pub async fn run(opts: &Opts) -> Result<Section> {
    if opts.target.is_some() {
        return Err(setup(
            "instances starts its own servers: --target is not supported",
        ));
    }
    let db = TestDb::create().ok_or_else(|| setup("no Postgres at TALLY_TEST_DATABASE_URL"))?;
    let store = PgStore::connect(db.url(), PgOptions::default()).map_err(setup)?;
    let secret = |i: usize| format!("bench-instances-{i:06}");
    let verify = |key: &str| {
        admin(
            opts,
            "POST",
            "/v1/verify",
            Some(&json!({ "key": key, "units": 1 })),
        )
    };
    let requests: Vec<Request> = (0..opts.keys).map(|i| verify(&secret(i))).collect();
    let mut out = vec![
        format!(
            "### instances — `POST /v1/verify` over {} keys, N Postgres instances on one \
             database, {} connections spread round-robin\n",
            opts.keys, opts.connections
        ),
        "| instances | req/s (median) | vs 1 | p50 ms | p99 ms | errors | runs (req/s) | \
         share per instance | limit L | sent | admitted (answers) | refused (429) | \
         lifetime_used (store) | events (store) | exact |\n\
         |---:|---:|---:|---:|---:|---|---|---|---:|---:|---:|---:|---:|---:|---|"
            .to_owned(),
    ];
    let mut figures = Vec::new();
    let mut single = None;
    let mut lost = Vec::new();
    for &n in &opts.instances {
        let servers = start(opts, &db, n)?;
        let addrs: Vec<SocketAddr> = servers.iter().map(|s| s.addr).collect();
        if single.is_none() {
            let creates = (0..opts.keys)
                .map(|i| {
                    let body = json!({ "key": secret(i), "name": "bench",
                                       "lifetime_limit": 1_000_000_000_000_i64 });
                    admin(opts, "POST", "/v1/keys", Some(&body))
                })
                .collect();
            send_all(addrs[0], creates, 201, "creating keys").await?;
        }
        let spread = Spread::new(&addrs, opts.connections, &requests);
        let (runs, each) = spread.measure(opts).await;
        let m = Summary::median(&runs);
        let base = *single.get_or_insert(m.rps);
        let exact = exactness(opts, &addrs, &store, n).await?;
        if !exact.exact() {
            lost.push(n);
        }
        let total: u64 = each.iter().sum::<u64>().max(1);
        let share = each
            .iter()
            .map(|e| format!("{:.0} %", 100.0 * *e as f64 / total as f64))
            .collect::<Vec<_>>()
            .join(" / ");
        let rates = runs
            .iter()
            .map(|r| format!("{:.0}", r.rps))
            .collect::<Vec<_>>()
            .join(" / ");
        let verdict = if exact.exact() { "yes" } else { "**NO**" };
        let other = if exact.other.is_empty() {
            String::new()
        } else {
            format!(" (other: {})", exact.other)
        };
        out.push(format!(
            "| {n} | {:.0} | {:.2}× | {} | {} | {} | {rates} | {share} | {} | {} | {}{other} | {} \
             | {} | {} | {verdict} |",
            m.rps,
            m.rps / base.max(1e-9),
            ms(m.p50),
            ms(m.p99),
            m.errors_text(),
            exact.limit,
            exact.sent,
            exact.admitted,
            exact.refused,
            exact.lifetime_used,
            exact.events,
        ));
        figures.push((format!("instances.{n}.rps"), m.rps));
        figures.push((format!("instances.{n}.p99_us"), m.p99 as f64));
        drop(servers);
    }
    let text = out.join("\n");
    if !lost.is_empty() {
        println!("{text}\n");
        return Err(BenchError::Protocol(format!(
            "the lifetime limit was not exact with {lost:?} instances (table above)"
        )));
    }
    Ok(Section { text, figures })
}

/// `n` servers on `db`, each logging to its own file.
fn start(opts: &Opts, db: &TestDb, n: usize) -> Result<Vec<Server>> {
    (0..n)
        .map(|i| {
            let (bin, log) = opts.server_files(&format!("instances-{n}-{i}"))?;
            Server::start_on(&bin, db.url(), &opts.admin_key, &log)
        })
        .collect()
}

/// Creates a key with lifetime limit `opts.exact_limit`, sends `2L` one-unit verifies of it
/// spread over every instance at once, and counts what was admitted.
async fn exactness(
    opts: &Opts,
    addrs: &[SocketAddr],
    store: &PgStore,
    n: usize,
) -> Result<Exactness> {
    let limit = opts.exact_limit;
    let secret = format!("bench-exact-{n}-instances");
    let body = json!({ "key": secret, "name": "exactness", "lifetime_limit": limit });
    let created = call(addrs[0], &admin(opts, "POST", "/v1/keys", Some(&body)), 201).await?;
    let id = created
        .get("id")
        .and_then(serde_json::Value::as_i64)
        .ok_or_else(|| BenchError::Protocol(format!("POST /v1/keys: no id in {created}")))?;
    let request = admin(
        opts,
        "POST",
        "/v1/verify",
        Some(&json!({ "key": secret, "units": 1 })),
    );
    let sent = limit * 2;
    let (run, _) = Spread::new(addrs, opts.connections, &[request])
        .run(Until::Count(sent))
        .await;
    let status = |s: u16| run.statuses.get(&s).copied().unwrap_or(0);
    let other = run
        .statuses
        .iter()
        .filter(|(s, _)| **s != 200 && **s != 429)
        .map(|(s, c)| format!("{s}×{c}"))
        .chain((run.io_errors > 0).then(|| format!("io×{}", run.io_errors)))
        .collect::<Vec<_>>()
        .join(", ");
    let key = KeyId(id);
    let today = time::OffsetDateTime::now_utc().date();
    let usage = store
        .key_usage(key, today)
        .map_err(setup)?
        .ok_or_else(|| setup(format!("key {id} is not in the database")))?;
    let mut events = LogQuery::new(1).map_err(setup)?;
    events.key_id = Some(key);
    let events = store.list_events(&events).map_err(setup)?;
    Ok(Exactness {
        limit,
        sent,
        admitted: status(200),
        refused: status(429),
        other,
        lifetime_used: usage.lifetime_used,
        events: events.total,
    })
}
