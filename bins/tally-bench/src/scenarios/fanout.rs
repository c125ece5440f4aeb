//! `fanout`: N SSE subscribers (`GET /events`) on one session; the time from sending
//! `POST /mic` to the last (and the median) subscriber reading its `mic_state`, and the
//! server's resident memory per open stream. Subscriber counts are reached cumulatively.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{admin, bearer, send_all};
use crate::error::{BenchError, Result};
use crate::http::{call, find, Conn, Request};
use crate::report::Section;
use crate::server::unexpected;
use crate::stats::{ms, percentile};
use crate::Opts;

/// Subscribers connecting at once.
const CONNECT_WAVE: usize = 250;
/// `POST /mic` rounds per subscriber count.
const ROUNDS: usize = 3;

/// Counts occurrences of `pattern` across reads (a match may straddle two reads).
struct Scanner {
    tail: Vec<u8>,
}

impl Scanner {
    fn count(&mut self, data: &[u8], pattern: &[u8]) -> usize {
        self.tail.extend_from_slice(data);
        let mut n = 0;
        let mut from = 0;
        while let Some(i) = find(&self.tail[from..], pattern) {
            n += 1;
            from += i + pattern.len();
        }
        let keep = (pattern.len() - 1).min(self.tail.len() - from);
        self.tail.drain(..self.tail.len() - keep);
        n
    }
}

/// One subscriber: says when connected, then reports the instant of each `mic_state`.
async fn subscriber(
    addr: SocketAddr,
    req: Request,
    ready: mpsc::UnboundedSender<bool>,
    seen: mpsc::UnboundedSender<Instant>,
) -> Result<()> {
    let mut conn = Conn::connect(addr).await?;
    conn.write(&req.0).await?;
    let mut buf = vec![0_u8; 4096];
    let (mut connected, mut mic) = (Scanner { tail: Vec::new() }, Scanner { tail: Vec::new() });
    let mut is_ready = false;
    loop {
        let n = conn.read_some(&mut buf).await?;
        if n == 0 {
            let _ = ready.send(false);
            return Err(BenchError::Protocol("SSE stream closed".into()));
        }
        let at = Instant::now();
        if !is_ready && connected.count(&buf[..n], b"event: connected") > 0 {
            is_ready = true;
            let _ = ready.send(true);
        }
        for _ in 0..mic.count(&buf[..n], b"event: mic_state") {
            let _ = seen.send(at);
        }
    }
}

/// Runs the scenario and returns its section.
///
/// # Errors
/// Setup failures and subscribers that cannot connect.
pub async fn run(opts: &Opts) -> Result<Section> {
    let server = opts.server("fanout")?;
    let key = "bench-fanout-key";
    send_all(
        server.addr,
        vec![admin(
            opts,
            "POST",
            "/keys",
            Some(&json!({ "owner": "bench", "key": key })),
        )],
        201,
        "creating the key",
    )
    .await?;
    let live = Request::new(
        "POST",
        "/live",
        &[],
        Some(&json!({ "apiKey": key, "domain": "https://bench.example" })),
    );
    let answer = call(server.addr, &live, 200).await?;
    let token = answer["token"]
        .as_str()
        .ok_or_else(|| unexpected("POST /live", &answer))?
        .to_owned();
    let stream = bearer("GET", "/events", &token, None);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let base = server.rss_kib();
    let (seen_tx, mut seen_rx) = mpsc::unbounded_channel();
    let mut tasks: Vec<JoinHandle<Result<()>>> = Vec::new();
    let mut out = vec![
        format!("### fanout — SSE subscribers of one session, {} store\n", opts.store_name()),
        "| subscribers | connect s | server RSS delta MiB | KiB per stream | POST /mic → last mic_state ms (median of 3) | → median subscriber ms | server peak RSS MiB |".to_owned(),
        "|---:|---:|---:|---:|---:|---:|---:|".to_owned(),
    ];
    let mut round = 0;
    for &target in &opts.subscribers {
        let t = Instant::now();
        while tasks.len() < target {
            let wave = CONNECT_WAVE.min(target - tasks.len());
            let (ready_tx, mut ready_rx) = mpsc::unbounded_channel();
            for _ in 0..wave {
                let (r, s) = (ready_tx.clone(), seen_tx.clone());
                tasks.push(tokio::spawn(subscriber(server.addr, stream.clone(), r, s)));
            }
            drop(ready_tx);
            for _ in 0..wave {
                match tokio::time::timeout(Duration::from_secs(30), ready_rx.recv()).await {
                    Ok(Some(true)) => {}
                    _ => {
                        return Err(BenchError::Setup(format!(
                            "only part of {target} subscribers connected (fd limit? `ulimit -n`)"
                        )))
                    }
                }
            }
        }
        let connect = t.elapsed();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let delta = server
            .rss_kib()
            .zip(base)
            .map(|(now, b)| now.saturating_sub(b));
        let (mut last, mut median) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            round += 1;
            let mic = bearer(
                "POST",
                "/mic",
                &token,
                Some(&json!({ "action": "claim", "clientId": format!("bench-{round}") })),
            );
            let t0 = Instant::now();
            call(server.addr, &mic, 200).await?;
            let mut lat = Vec::with_capacity(target);
            while lat.len() < target {
                match tokio::time::timeout(Duration::from_secs(60), seen_rx.recv()).await {
                    Ok(Some(at)) => lat
                        .push(u64::try_from(at.duration_since(t0).as_micros()).unwrap_or(u64::MAX)),
                    _ => {
                        return Err(BenchError::Protocol(format!(
                            "{} of {target} subscribers saw mic_state",
                            lat.len()
                        )))
                    }
                }
            }
            lat.sort_unstable();
            last.push(lat.last().copied().unwrap_or(0));
            median.push(percentile(&lat, 0.5));
        }
        last.sort_unstable();
        median.sort_unstable();
        out.push(format!(
            "| {target} | {:.1} | {} | {} | {} | {} | {} |",
            connect.as_secs_f64(),
            crate::report::mib(delta),
            delta.map_or_else(
                || "n/a".to_owned(),
                |d| format!("{:.1}", d as f64 / target as f64)
            ),
            ms(last[ROUNDS / 2]),
            ms(median[ROUNDS / 2]),
            crate::report::mib(server.peak_rss_kib()),
        ));
    }
    for t in tasks {
        t.abort();
    }
    Ok(Section {
        text: out.join("\n"),
        figures: Vec::new(),
    })
}
