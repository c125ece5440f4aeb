//! `verify`: `POST /v1/verify` (admin credential, as a gateway calls it) over many keys, then
//! over one hot key (every request serialised on one key's counters).

use std::sync::Arc;

use serde_json::json;

use super::{admin, send_all};
use crate::error::Result;
use crate::load::Load;
use crate::report::Section;
use crate::report::{row, HEADER};
use crate::stats::Summary;
use crate::Opts;

/// Runs the scenario and returns its section.
///
/// # Errors
/// Setup failures (server, key creation).
pub async fn run(opts: &Opts) -> Result<Section> {
    let server = opts.server("verify")?;
    let secret = |i: usize| format!("bench-verify-{i:06}");
    let creates = (0..opts.keys)
        .map(|i| {
            let body = json!({ "key": secret(i), "name": "bench", "lifetimeLimit": 1_000_000_000_000_i64 });
            admin(opts, "POST", "/v1/keys", Some(&body))
        })
        .collect();
    send_all(server.addr, creates, 201, "creating keys").await?;
    let verify = |i: usize| {
        admin(
            opts,
            "POST",
            "/v1/verify",
            Some(&json!({ "key": secret(i), "units": 1 })),
        )
    };
    let (warmup, secs) = (Opts::secs(opts.warmup), Opts::secs(opts.duration));
    let mut out = vec![
        format!(
            "### verify — `POST /v1/verify`, {} store\n",
            opts.store_name()
        ),
        HEADER.to_owned(),
    ];
    let spread = Load {
        addr: server.addr,
        connections: opts.connections,
        requests: Arc::new((0..opts.keys).map(verify).collect()),
    };
    let runs = spread.measure(warmup, secs, opts.runs).await;
    let many = Summary::median(&runs).rps;
    out.push(row(
        &format!("verify, {} keys", opts.keys),
        opts.store_name(),
        opts.connections,
        &runs,
        server.peak_rss_kib(),
    ));
    let hot = Load {
        requests: Arc::new(vec![verify(0)]),
        ..spread
    };
    let runs = hot.measure(warmup, secs, opts.runs).await;
    let hot_rps = Summary::median(&runs).rps;
    out.push(row(
        "verify, 1 hot key",
        opts.store_name(),
        opts.connections,
        &runs,
        server.peak_rss_kib(),
    ));
    Ok(Section {
        text: out.join("\n"),
        figures: vec![
            ("verify.many.rps".to_owned(), many),
            ("verify.hot.rps".to_owned(), hot_rps),
        ],
    })
}
