//! `tally` — the Tally server: configuration, wiring and the HTTP listener. The binary
//! (`main.rs`) is a thin CLI over this library, so tests start the real server in-process on
//! port 0.
//!
//! This crate is the only one that knows every adapter; nothing depends on it.

pub mod cli;
pub mod config;
pub mod import;
pub mod maintenance;
pub mod metrics;
pub mod wiring;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use actix_web::dev::Server;
use actix_web::HttpServer;
use tally_http::AppState;

use crate::config::{Config, HttpConfig};
use crate::wiring::StartupError;

/// A bound, not yet running server. Await (or spawn) `server` to serve.
pub struct Running {
    /// The address actually bound (the free port when the configured port is 0).
    pub addr: SocketAddr,
    /// The server future; also gives a handle to stop it.
    pub server: Server,
    /// The admin key made up for this run (see [`wiring::run_admin_key`]), to show once.
    pub generated_admin_key: Option<String>,
    /// The metrics listener, when configured: its bound address and its server future.
    pub metrics: Option<(SocketAddr, Server)>,
    /// The served state (its stop signal and delivery queues, for [`Running::run`]).
    pub state: AppState,
}

/// Longest wait for in-flight requests once a stop began.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);
/// Longest wait for accepted caption batches to be delivered once the listener stopped.
pub const DELIVERY_DRAIN: Duration = Duration::from_secs(2);

impl Running {
    /// Serves until SIGTERM or SIGINT (Ctrl-C), then stops gracefully within a few seconds:
    /// stops accepting, ends every SSE stream at once with a final `shutdown` frame, lets
    /// in-flight requests finish (at most [`SHUTDOWN_GRACE`]), and waits for accepted caption
    /// batches to be delivered (at most [`DELIVERY_DRAIN`]; those still queued then are
    /// logged — their captions were metered and are counted, not delivered).
    ///
    /// # Errors
    /// [`StartupError::Serve`] when the server fails.
    pub async fn run(self) -> Result<(), StartupError> {
        let handle = self.server.handle();
        let shutdown = self.state.shutdown.clone();
        actix_web::rt::spawn(async move {
            stop_signal().await;
            tracing::info!("stopping: closing live streams, finishing requests");
            shutdown.begin();
            handle.stop(true).await;
        });
        self.server.await.map_err(StartupError::Serve)?;
        let deadline = Instant::now() + DELIVERY_DRAIN;
        while self.state.delivery.total_backlog() > 0 && Instant::now() < deadline {
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
        let left = self.state.delivery.total_backlog();
        if left > 0 {
            tracing::warn!(
                batches = left,
                "stopped with caption batches not yet delivered"
            );
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// SIGTERM or SIGINT, whichever comes first.
async fn stop_signal() {
    use actix_web::rt::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot listen for stop signals; stop the process with SIGKILL");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// Wires the configured store, starts the retention run (at once, then periodically) and
/// binds the listener. Call inside an actix system.
///
/// # Errors
/// [`StartupError`] when the store cannot be opened or the address cannot be bound.
pub fn spawn(config: &Config) -> Result<Running, StartupError> {
    let (stores, kind, pg) = wiring::open(config)?;
    let (config, generated) = wiring::run_admin_key(config, kind);
    let state = wiring::state(&config, stores, kind);
    let metrics = config
        .metrics_address
        .map(|addr| metrics::serve(addr, state.clone(), pg))
        .transpose()?;
    actix_web::rt::spawn(maintenance::run(
        state.ports.clone(),
        config.retention.interval,
    ));
    let mut running = serve(state, &config.http)?;
    running.generated_admin_key = generated;
    running.metrics = metrics;
    Ok(running)
}

/// Binds the listener for an already wired state (tests use it to inject stores) and starts
/// the idle-session sweep. Call inside an actix system.
///
/// # Errors
/// [`StartupError::Bind`] when the address cannot be bound.
pub fn serve(state: AppState, http: &HttpConfig) -> Result<Running, StartupError> {
    let addr = format!("{}:{}", http.host, http.port);
    let bind_error = |source| StartupError::Bind {
        addr: addr.clone(),
        source,
    };
    actix_web::rt::spawn(tally_http::lcyt::sweep::run(
        state.clone(),
        state.settings.sweep_interval,
    ));
    let served = state.clone();
    let mut server = HttpServer::new(move || tally_http::app(served.clone()))
        // Stop signals are [`Running::run`]'s: it ends the SSE streams first, which a plain
        // graceful stop would wait for until its timeout.
        .disable_signals()
        .shutdown_timeout(SHUTDOWN_GRACE.as_secs());
    if http.workers > 0 {
        server = server.workers(http.workers);
    }
    let server = server
        .bind((http.host.as_str(), http.port))
        .map_err(bind_error)?;
    let addr = server
        .addrs()
        .first()
        .copied()
        .ok_or_else(|| bind_error(std::io::Error::other("no address bound")))?;
    Ok(Running {
        addr,
        server: server.run(),
        generated_admin_key: None,
        metrics: None,
        state,
    })
}
