//! `captions`: many sessions (one key and one `POST /live` each) posting caption batches to
//! `POST /captions` with their session tokens. Sessions have no targets, so each accepted
//! batch is metered and published to the session's (absent) SSE clients.

use serde_json::{json, Value};

use super::{admin, bearer, measure_paired, send_all};
use crate::error::Result;
use crate::http::{call, Request};
use crate::report::Section;
use crate::report::{row, HEADER};
use crate::server::unexpected;
use crate::Opts;

/// Runs the scenario and returns its section.
///
/// # Errors
/// Setup failures (server, keys, sessions).
pub async fn run(opts: &Opts) -> Result<Section> {
    let server = opts.server("captions")?;
    let secret = |i: usize| format!("bench-captions-{i:06}");
    let creates = (0..opts.sessions)
        .map(|i| {
            admin(
                opts,
                "POST",
                "/keys",
                Some(&json!({ "owner": "bench", "key": secret(i) })),
            )
        })
        .collect();
    send_all(server.addr, creates, 201, "creating lcyt keys").await?;
    let batch: Vec<Value> = (0..opts.captions_per_batch)
        .map(|i| json!({ "text": format!("benchmark caption number {i}, a typical line of speech") }))
        .collect();
    let body = json!({ "captions": batch });
    let mut requests = Vec::with_capacity(opts.sessions);
    for i in 0..opts.sessions {
        let live = Request::new(
            "POST",
            "/live",
            &[],
            Some(&json!({ "apiKey": secret(i), "domain": "https://bench.example" })),
        );
        let answer = call(server.addr, &live, 200).await?;
        let token = answer["token"]
            .as_str()
            .ok_or_else(|| unexpected("POST /live", &answer))?;
        requests.push(bearer("POST", "/captions", token, Some(&body)));
    }
    let measured = measure_paired(opts, server.addr, requests, "captions").await?;
    let runs = &measured.runs;
    let median = crate::stats::Summary::median(runs);
    let mut text = vec![
        format!(
            "### captions — `POST /captions`, {} store, {} sessions, {} captions per batch\n",
            opts.store_name(),
            opts.sessions,
            opts.captions_per_batch
        ),
        HEADER.to_owned(),
        row(
            "captions",
            opts.store_name(),
            opts.connections,
            runs,
            server.peak_rss_kib(),
        ),
    ];
    text.extend(measured.insert_row("captions"));
    text.push(format!(
        "\nCaptions metered per second (median): {:.0}.",
        median.rps * opts.captions_per_batch as f64
    ));
    Ok(Section {
        text: text.join("\n"),
        figures: measured.figures,
    })
}
