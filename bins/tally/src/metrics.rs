//! The metrics listener: Prometheus text at `GET /metrics` on its own address
//! (`TALLY_METRICS__ADDRESS`), apart from the API so that it never needs a credential and
//! never faces the internet (docs/OPERATIONS.md lists what to alert on).
//!
//! Counters and histograms are recorded where things happen ([`tally_http::observe`]); the
//! gauges of a moment — pool connections, waiting callers, queued meters, caption batches
//! waiting for delivery — are read just before each scrape renders.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::thread;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{web, App, HttpResponse, HttpServer};
use metrics::gauge;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tally_http::AppState;
use tally_store_pg::PgStore;

use crate::wiring::StartupError;

/// Latency buckets, in seconds: from a fast in-memory meter to a statement timeout.
const BUCKETS: [f64; 15] = [
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    10.0,
];

/// The process's Prometheus recorder, installed on first use (a process has one recorder).
fn recorder() -> Result<&'static PrometheusHandle, StartupError> {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    if let Some(handle) = HANDLE.get() {
        return Ok(handle);
    }
    let handle = PrometheusBuilder::new()
        .set_buckets(&BUCKETS)
        .and_then(PrometheusBuilder::install_recorder)
        .map_err(|e| StartupError::Store(format!("cannot install the metrics recorder: {e}")))?;
    let handle = HANDLE.get_or_init(|| handle);
    tally_http::observe::enable();
    // Histograms are folded in by upkeep; a scrape renders whatever is folded.
    let upkeep = handle.clone();
    thread::Builder::new()
        .name("tally-metrics-upkeep".into())
        .spawn(move || loop {
            thread::sleep(Duration::from_secs(5));
            upkeep.run_upkeep();
        })
        .map_err(|e| StartupError::Store(format!("cannot start metrics upkeep: {e}")))?;
    Ok(handle)
}

/// What a scrape reads besides the recorder.
#[derive(Clone)]
struct Scrape {
    handle: &'static PrometheusHandle,
    state: AppState,
    pg: Option<PgStore>,
}

async fn render(scrape: web::Data<Scrape>) -> HttpResponse {
    if let Some(pg) = &scrape.pg {
        let stats = pg.stats();
        let in_use = stats.connections.saturating_sub(stats.idle);
        gauge!("tally_db_connections", "state" => "in_use").set(f64::from(in_use));
        gauge!("tally_db_connections", "state" => "idle").set(f64::from(stats.idle));
        gauge!("tally_db_connection_waiters").set(stats.waiting as f64);
        gauge!("tally_meter_queue").set(stats.meters_queued as f64);
    }
    gauge!("tally_caption_delivery_backlog").set(scrape.state.delivery.total_backlog() as f64);
    scrape.handle.run_upkeep();
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(scrape.handle.render())
}

/// Installs the recorder and binds the metrics listener on `addr` (call inside an actix
/// system). Its one worker serves `GET /metrics`; anything else is 404.
///
/// # Errors
/// [`StartupError::Bind`] when the address cannot be bound; [`StartupError::Store`] when the
/// recorder cannot be installed.
pub fn serve(
    addr: SocketAddr,
    state: AppState,
    pg: Option<PgStore>,
) -> Result<(SocketAddr, Server), StartupError> {
    let scrape = Scrape {
        handle: recorder()?,
        state,
        pg,
    };
    let bind_error = |source| StartupError::Bind {
        addr: addr.to_string(),
        source,
    };
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(scrape.clone()))
            .route("/metrics", web::get().to(render))
    })
    .workers(1)
    // It stops with the process, when the API's stop ([`crate::Running::run`]) is done.
    .disable_signals()
    .bind(addr)
    .map_err(bind_error)?;
    let bound = server
        .addrs()
        .first()
        .copied()
        .ok_or_else(|| bind_error(std::io::Error::other("no address bound")))?;
    Ok((bound, server.run()))
}
