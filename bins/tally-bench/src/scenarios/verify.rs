//! `verify`: `POST /v1/verify` (admin credential, as a gateway calls it) over many keys, then
//! over one hot key (every request serialised on one key's counters).

use serde_json::json;

use super::{admin, measure_paired, send_all};
use crate::error::Result;
use crate::report::Section;
use crate::report::{row, HEADER};
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
            let body = json!({ "key": secret(i), "name": "bench", "lifetime_limit": 1_000_000_000_000_i64 });
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
    let mut out = vec![
        format!(
            "### verify — `POST /v1/verify`, {} store\n",
            opts.store_name()
        ),
        HEADER.to_owned(),
    ];
    let many = measure_paired(
        opts,
        server.addr,
        (0..opts.keys).map(verify).collect(),
        "verify.many",
    )
    .await?;
    out.push(row(
        &format!("verify, {} keys", opts.keys),
        opts.store_name(),
        opts.connections,
        &many.runs,
        server.peak_rss_kib(),
    ));
    out.extend(many.insert_row("verify"));
    let hot = measure_paired(opts, server.addr, vec![verify(0)], "verify.hot").await?;
    out.push(row(
        "verify, 1 hot key",
        opts.store_name(),
        opts.connections,
        &hot.runs,
        server.peak_rss_kib(),
    ));
    out.extend(hot.insert_row("hot-key"));
    Ok(Section {
        text: out.join("\n"),
        figures: many.figures.into_iter().chain(hot.figures).collect(),
    })
}
