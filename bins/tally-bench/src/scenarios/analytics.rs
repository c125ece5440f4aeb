//! `analytics`: query latency of the analytics endpoints over a seeded history, at each
//! history size in turn (seeded cumulatively), so growth with history size shows directly.
//! One connection: the figure is a query's latency on an otherwise idle server.

use std::sync::Arc;
use std::time::Instant;

use time::OffsetDateTime;

use super::seed::{self, DAYS, USERS};
use super::{admin, bearer};
use crate::error::Result;
use crate::http::{Conn, Request};
use crate::load::Load;
use crate::report::Section;
use crate::report::{row, HEADER};
use crate::Opts;

/// `(label, request)` for every endpoint measured.
fn queries(opts: &Opts, key: &str, end: OffsetDateTime) -> Vec<(String, Request)> {
    let (from, to) = seed::window(end);
    let usage = format!("/usage?from={from}&to={to}");
    let analytics = format!("/v1/analytics?from={from}&to={to}&granularity=day&group_by=model");
    let meetbot = "/v1/users/me/analytics?period=30d";
    let logs = "/v1/users/me/api-logs?page=1&page_size=50";
    let logs_500 = "/v1/users/me/api-logs?page=1&page_size=50&status_code=500";
    vec![
        (format!("GET {usage}"), admin(opts, "GET", &usage, None)),
        (
            format!("GET {analytics}"),
            admin(opts, "GET", &analytics, None),
        ),
        (
            "GET /api/data/self".to_owned(),
            bearer("GET", "/api/data/self", key, None),
        ),
        (format!("GET {meetbot}"), bearer("GET", meetbot, key, None)),
        (format!("GET {logs}"), bearer("GET", logs, key, None)),
        (
            format!("GET {logs_500}"),
            bearer("GET", logs_500, key, None),
        ),
    ]
}

/// A history size as the reports print it (`1M`, `250k`).
#[must_use]
pub fn size(n: u64) -> String {
    if n.is_multiple_of(1_000_000) {
        format!("{}M", n / 1_000_000)
    } else {
        format!("{}k", n / 1_000)
    }
}

/// Runs the scenario and returns its section.
///
/// # Errors
/// Setup and seeding failures.
pub async fn run(opts: &Opts) -> Result<Section> {
    let server = opts.server("analytics")?;
    let (owners, key) = seed::owners(opts, server.addr, USERS).await?;
    let end = OffsetDateTime::now_utc();
    let how = if server.db_url.is_some() {
        "set-based SQL (`tally_store_pg::bulk`)"
    } else {
        "`POST /v1/events` batches of 1,000"
    };
    let mut out = vec![
        format!(
            "### analytics — {} store, history over {DAYS} days, {USERS} users (per-user endpoints see 1/{USERS}), 1 connection\n",
            opts.store_name()
        ),
        format!("Seeded through {how}.\n"),
    ];
    let mut rows = vec![HEADER.to_owned()];
    let mut seeded = 0;
    for &target in &opts.history {
        if target > seeded {
            let t = Instant::now();
            seed::seed(opts, &server, &owners, end, seeded, target - seeded).await?;
            let secs = t.elapsed().as_secs_f64();
            out.push(format!(
                "- seeded {} → {} events in {secs:.0} s ({:.0} events/s)",
                size(seeded),
                size(target),
                (target - seeded) as f64 / secs.max(1e-9)
            ));
            seeded = target;
        }
        for (label, req) in queries(opts, &key, end) {
            let probe = Conn::connect(server.addr).await?.send(&req).await?;
            if probe.status != 200 {
                rows.push(format!(
                    "| {label} @ {} | not available: status {} | | | | | | | | | |",
                    size(seeded),
                    probe.status
                ));
                continue;
            }
            let load = Load {
                addr: server.addr,
                connections: 1,
                requests: Arc::new(vec![req]),
            };
            let runs = load
                .measure(
                    std::time::Duration::ZERO,
                    Opts::secs(opts.duration / 2.0),
                    opts.runs,
                    || {},
                )
                .await;
            rows.push(row(
                &format!("{label} @ {}", size(seeded)),
                opts.store_name(),
                1,
                &runs,
                server.peak_rss_kib(),
            ));
        }
    }
    out.push(String::new());
    out.extend(rows);
    Ok(Section {
        text: out.join("\n"),
        figures: Vec::new(),
    })
}
