//! `embed` (`--target` = a running `examples/product`): the product's own route behind the
//! metering middleware (with and without its status/latency patch) against the same handler
//! unmetered, the same handler metered the
//! non-embedded way (one `POST /v1/verify` over HTTP per request, to the Tally mounted in the
//! product), and that `POST /v1/verify` alone.

use serde_json::json;

use super::{admin, bearer, measure, send_all};
use crate::error::{setup, Result};
use crate::http::Request;
use crate::report::{row, Section, HEADER};
use crate::stats::Summary;
use crate::Opts;

/// One measured case: its row name, its figure name and its request for key `i`.
type Case<'a> = (
    &'static str,
    &'static str,
    Box<dyn Fn(usize) -> Request + 'a>,
);

/// Runs the scenario and returns its section.
///
/// # Errors
/// No `--target`, or setup failures (key creation).
pub async fn run(opts: &Opts) -> Result<Section> {
    if opts.target.is_none() {
        return Err(setup(
            "embed loads a running example product: give --target http://host:port",
        ));
    }
    let server = opts.server("embed")?;
    let keys = opts.keys.min(1_000);
    let secret = |i: usize| format!("bench-embed-{i:06}");
    let creates = (0..keys)
        .map(|i| {
            let body = json!({ "key": secret(i), "name": "bench", "lifetime_limit": 1_000_000_000_000_i64 });
            admin(opts, "POST", "/tally/v1/keys", Some(&body))
        })
        .collect();
    send_all(server.addr, creates, 201, "creating keys").await?;
    let mut out = vec![
        format!("### embed — the example product's `GET …/items/{{id}}`, {keys} keys\n"),
        HEADER.to_owned(),
    ];
    let mut figures = Vec::new();
    let cases: [Case<'_>; 5] = [
        (
            "plain: the handler alone",
            "embed.plain.rps",
            Box::new(|i| Request::new("GET", &format!("/plain/items/{i}"), &[], None)),
        ),
        (
            "metered: `Metering` middleware",
            "embed.metered.rps",
            Box::new(|i| bearer("GET", &format!("/api/items/{i}"), &secret(i), None)),
        ),
        (
            "metered, `record_outcomes(false)`",
            "embed.lean.rps",
            Box::new(|i| bearer("GET", &format!("/lean/items/{i}"), &secret(i), None)),
        ),
        (
            "gateway: handler + `POST /v1/verify` over HTTP",
            "embed.gateway.rps",
            Box::new(|i| bearer("GET", &format!("/gateway/items/{i}"), &secret(i), None)),
        ),
        (
            "`POST /tally/v1/verify` alone",
            "embed.verify.rps",
            Box::new(|i| {
                admin(
                    opts,
                    "POST",
                    "/tally/v1/verify",
                    Some(&json!({ "key": secret(i), "units": 1 })),
                )
            }),
        ),
    ];
    for (name, figure, request) in &cases {
        let runs = measure(opts, server.addr, (0..keys).map(request).collect()).await;
        figures.push(((*figure).to_owned(), Summary::median(&runs).rps));
        out.push(row(
            name,
            opts.store_name(),
            opts.connections,
            &runs,
            server.peak_rss_kib(),
        ));
    }
    Ok(Section {
        text: out.join("\n"),
        figures,
    })
}
