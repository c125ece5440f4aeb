//! `ingest`: `POST /v1/events` batches (admin credential), each event a typical API request
//! with a model, tokens and a cost.

use serde_json::{json, Value};

use super::{admin, measure};
use crate::error::Result;
use crate::report::Section;
use crate::report::{row, HEADER};
use crate::stats::Summary;
use crate::Opts;

/// Distinct batches cycled through (events carry no idempotency key: every post is new).
const BATCHES: usize = 8;

/// Runs the scenario and returns its section.
///
/// # Errors
/// Setup failures (server).
pub async fn run(opts: &Opts) -> Result<Section> {
    let server = opts.server("ingest")?;
    let requests = (0..BATCHES)
        .map(|b| {
            let events: Vec<Value> = (0..opts.batch)
                .map(|i| {
                    let n = b * opts.batch + i;
                    json!({
                        "api_name": (["bots", "transcribe", "chat"][n % 3]),
                        "model": (["gpt-4o", "gpt-4o-mini", "claude-3", "llama-3"][n % 4]),
                        "method": "POST",
                        "path": "/v1/chat",
                        "status_code": if n % 20 == 1 { 500 } else { 200 },
                        "tokens": n % 1000,
                        "cost_usd": 0.0012,
                        "language": "en",
                    })
                })
                .collect();
            admin(
                opts,
                "POST",
                "/v1/events",
                Some(&json!({ "events": events })),
            )
        })
        .collect();
    let runs = measure(opts, server.addr, requests).await;
    let median = Summary::median(&runs);
    let text = [
        format!(
            "### ingest — `POST /v1/events`, {} store, {} events per batch\n",
            opts.store_name(),
            opts.batch
        ),
        HEADER.to_owned(),
        row(
            "ingest",
            opts.store_name(),
            opts.connections,
            &runs,
            server.peak_rss_kib(),
        ),
        format!(
            "\nEvents ingested per second (median): {:.0}.",
            median.rps * opts.batch as f64
        ),
    ]
    .join("\n");
    Ok(Section {
        text,
        figures: Vec::new(),
    })
}
