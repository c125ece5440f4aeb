//! `flood`: every connection posts caption batches to *one* session whose `generic` target (a
//! webhook receiver in this process) takes each batch in about a millisecond — captions arrive
//! far faster than they can be delivered. What must hold: the session's delivery queue stays
//! bounded (the excess is refused with 429 `delivery_backlog_full` before anything is
//! metered), the server's memory stays flat, and every accepted batch is delivered once the
//! load stops. Reports accepted and refused requests, the backlog when the load stopped, what
//! was delivered after draining, and the server's peak RSS.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{admin, bearer, send_all};
use crate::error::{setup, Result};
use crate::http::{call, Request};
use crate::load::{Load, Until};
use crate::report::{row, Section, HEADER};
use crate::server::unexpected;
use crate::stats::Summary;
use crate::Opts;

/// How long the receiver takes per batch.
const DELIVERY_TIME: Duration = Duration::from_millis(1);
/// Longest wait for the backlog to drain after the load.
const DRAIN: Duration = Duration::from_secs(30);

/// A webhook receiver on a thread of its own: counts the batches it was sent.
fn receiver() -> Result<(String, Arc<AtomicU64>)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let got = Arc::new(AtomicU64::new(0));
    let count = got.clone();
    std::thread::Builder::new()
        .name("flood-receiver".into())
        .spawn(move || {
            for stream in listener.incoming().flatten() {
                let count = count.clone();
                std::thread::spawn(move || serve(stream, &count));
            }
        })?;
    Ok((url, got))
}

/// Answers `200` to each request of a keep-alive connection after [`DELIVERY_TIME`].
fn serve(stream: TcpStream, got: &AtomicU64) {
    let Ok(mut out) = stream.try_clone() else {
        return;
    };
    let mut input = BufReader::new(stream);
    loop {
        let mut length = 0_usize;
        let mut line = String::new();
        loop {
            line.clear();
            match input.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        if input.read_exact(&mut body).is_err() {
            return;
        }
        std::thread::sleep(DELIVERY_TIME);
        got.fetch_add(1, Ordering::Relaxed);
        if out
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            .is_err()
        {
            return;
        }
    }
}

/// Runs the scenario and returns its section.
///
/// # Errors
/// Setup failures (server, key, session, receiver).
pub async fn run(opts: &Opts) -> Result<Section> {
    let server = opts.server("flood")?;
    let (url, delivered) = receiver()?;
    let secret = "bench-flood-000001";
    let create = admin(
        opts,
        "POST",
        "/keys",
        Some(&json!({ "owner": "bench", "key": secret })),
    );
    send_all(server.addr, vec![create], 201, "creating the flood key").await?;
    let live = Request::new(
        "POST",
        "/live",
        &[],
        Some(&json!({
            "apiKey": secret,
            "domain": "https://bench.example",
            "targets": [{ "type": "generic", "url": url }],
        })),
    );
    let answer = call(server.addr, &live, 200).await?;
    let token = answer["token"]
        .as_str()
        .ok_or_else(|| unexpected("POST /live", &answer))?;
    let batch: Vec<Value> = (0..opts.captions_per_batch)
        .map(|i| json!({ "text": format!("flood caption number {i}") }))
        .collect();
    let request = bearer(
        "POST",
        "/captions",
        token,
        Some(&json!({ "captions": batch })),
    );
    let load = Load {
        addr: server.addr,
        connections: opts.connections,
        requests: Arc::new(vec![request]),
    };
    let mut run = load.run(Until::Elapsed(Opts::secs(opts.duration))).await;
    let at_stop = delivered.load(Ordering::Relaxed);
    let accepted = run.statuses.get(&202).copied().unwrap_or(0);
    let refused = run.statuses.get(&429).copied().unwrap_or(0);
    let started = Instant::now();
    while delivered.load(Ordering::Relaxed) < accepted && started.elapsed() < DRAIN {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let drained = delivered.load(Ordering::Relaxed);
    let drain_ms = started.elapsed().as_millis();
    run.elapsed = Opts::secs(opts.duration);
    if accepted == 0 {
        return Err(setup("flood: no batch was accepted"));
    }
    let summary = Summary::of(run);
    let text = [
        format!(
            "### flood — every connection on one session, `POST /captions` ({} per batch) to a \
             webhook taking {} ms per batch, {} store\n",
            opts.captions_per_batch,
            DELIVERY_TIME.as_millis(),
            opts.store_name()
        ),
        HEADER.to_owned(),
        row(
            "flood, 1 session",
            opts.store_name(),
            opts.connections,
            std::slice::from_ref(&summary),
            server.peak_rss_kib(),
        ),
        format!(
            "\nAccepted {accepted} batches (202), refused {refused} (429 `delivery_backlog_full`); \
             backlog when the load stopped: {} batches (bound: 64); delivered after draining: \
             {drained} of {accepted} ({} lost) in {drain_ms} ms.",
            accepted.saturating_sub(at_stop),
            accepted.saturating_sub(drained)
        ),
    ]
    .join("\n");
    Ok(Section {
        text,
        figures: vec![
            ("flood.accepted".to_owned(), accepted as f64),
            (
                "flood.lost".to_owned(),
                accepted.saturating_sub(drained) as f64,
            ),
        ],
    })
}
