//! `analytics-under-load`: do analytics and metering slow each other down? Over a seeded
//! history (the first `--history` size, as `analytics` seeds it), each analytics query is
//! timed on one connection with the server otherwise idle, then again while `--connections`
//! connections run `POST /v1/verify` over `--keys` keys (as `verify` does); verify's rate is
//! measured alone and while each query runs. A store whose analytics hold the lock meters
//! need shows both: slower queries under load, and fewer meters while a query runs.

use std::sync::Arc;

use serde_json::json;
use time::OffsetDateTime;

use super::analytics::size;
use super::seed::{self, DAYS, USERS};
use super::{admin, bearer, measure, send_all};
use crate::error::Result;
use crate::http::{Conn, Request};
use crate::load::Load;
use crate::report::{row, Section, HEADER};
use crate::stats::{ms, Summary};
use crate::Opts;

/// `(label, request)` of each analytics query timed: the generic aggregation over the whole
/// seeded window (every rollup row of it), and a user's request log, plain and with a filter
/// that is not a rollup dimension (its total is counted from raw events).
fn queries(opts: &Opts, key: &str, end: OffsetDateTime) -> Vec<(String, Request)> {
    let (from, to) = seed::window(end);
    let analytics = format!("/v1/analytics?from={from}&to={to}&granularity=day&group_by=model");
    let logs = "/v1/users/me/api-logs?page=1&page_size=50";
    let logs_500 = "/v1/users/me/api-logs?page=1&page_size=50&status_code=500";
    vec![
        (
            format!("GET {analytics}"),
            admin(opts, "GET", &analytics, None),
        ),
        (format!("GET {logs}"), bearer("GET", logs, key, None)),
        (
            format!("GET {logs_500}"),
            bearer("GET", logs_500, key, None),
        ),
    ]
}

/// One connection sending `req` back to back: `opts.runs` runs of `opts.duration` seconds
/// after `opts.warmup` (so it overlaps a verify load measured with the same timing).
async fn one_connection(opts: &Opts, addr: std::net::SocketAddr, req: Request) -> Vec<Summary> {
    let load = Load {
        addr,
        connections: 1,
        requests: Arc::new(vec![req]),
    };
    load.measure(
        Opts::secs(opts.warmup),
        Opts::secs(opts.duration),
        opts.runs,
        || {},
    )
    .await
}

/// Runs the scenario and returns its section.
///
/// # Errors
/// Setup and seeding failures, or a query that does not answer 200.
pub async fn run(opts: &Opts) -> Result<Section> {
    let server = opts.server("analytics-under-load")?;
    let addr = server.addr;
    let history = opts.history.first().copied().unwrap_or(1_000_000);
    let (owners, key) = seed::owners(opts, addr, USERS).await?;
    let end = OffsetDateTime::now_utc();
    seed::seed(opts, &server, &owners, end, 0, history).await?;

    let secret = |i: usize| format!("bench-load-{i:06}");
    let creates = (0..opts.keys)
        .map(|i| {
            let body = json!({ "key": secret(i), "name": "bench", "lifetime_limit": 1_000_000_000_000_i64 });
            admin(opts, "POST", "/v1/keys", Some(&body))
        })
        .collect();
    send_all(addr, creates, 201, "creating keys").await?;
    let verifies: Vec<Request> = (0..opts.keys)
        .map(|i| {
            let body = json!({ "key": secret(i), "units": 1 });
            admin(opts, "POST", "/v1/verify", Some(&body))
        })
        .collect();

    let mut rows = vec![HEADER.to_owned()];
    let mut summary = vec![
        "| query | idle p50 ms | idle p99 ms | under load p50 ms | under load p99 ms | \
         verify req/s alone | verify req/s with the query | verify p99 ms alone → with |"
            .to_owned(),
        "|---|---:|---:|---:|---:|---:|---:|---|".to_owned(),
    ];
    let verify_label = format!("verify, {} keys", opts.keys);
    let alone = measure(opts, addr, verifies.clone()).await;
    rows.push(row(
        &format!("{verify_label}, alone"),
        opts.store_name(),
        opts.connections,
        &alone,
        server.peak_rss_kib(),
    ));
    let verify_alone = Summary::median(&alone);
    for (label, req) in queries(opts, &key, end) {
        let probe = Conn::connect(addr).await?.send(&req).await?;
        if probe.status != 200 {
            return Err(crate::error::BenchError::Setup(format!(
                "{label} answered {}: {}",
                probe.status,
                String::from_utf8_lossy(&probe.body)
            )));
        }
        let idle = one_connection(opts, addr, req.clone()).await;
        let (with, busy) = tokio::join!(
            measure(opts, addr, verifies.clone()),
            one_connection(opts, addr, req)
        );
        let at = size(history);
        for (what, runs, conns) in [
            (format!("{label} @ {at}, idle"), &idle, 1),
            (format!("{label} @ {at}, under verify load"), &busy, 1),
            (
                format!("{verify_label}, with {label} running"),
                &with,
                opts.connections,
            ),
        ] {
            rows.push(row(
                &what,
                opts.store_name(),
                conns,
                runs,
                server.peak_rss_kib(),
            ));
        }
        let (idle, busy, with) = (
            Summary::median(&idle),
            Summary::median(&busy),
            Summary::median(&with),
        );
        summary.push(format!(
            "| {label} | {} | {} | {} | {} | {:.0} | {:.0} | {} → {} |",
            ms(idle.p50),
            ms(idle.p99),
            ms(busy.p50),
            ms(busy.p99),
            verify_alone.rps,
            with.rps,
            ms(verify_alone.p99),
            ms(with.p99),
        ));
    }
    let text = [
        format!(
            "### analytics-under-load — {} store, {} events over {DAYS} days, {USERS} users; \
             analytics on 1 connection, verify on {} connections over {} keys\n",
            opts.store_name(),
            size(history),
            opts.connections,
            opts.keys
        ),
        summary.join("\n"),
        String::new(),
        rows.join("\n"),
    ];
    Ok(Section {
        text: text.join("\n"),
        figures: Vec::new(),
    })
}
