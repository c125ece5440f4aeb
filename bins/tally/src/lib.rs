//! `tally` — the Tally server: configuration, wiring and the HTTP listener. The binary
//! (`main.rs`) is a thin CLI over this library, so tests start the real server in-process on
//! port 0.
//!
//! This crate is the only one that knows every adapter; nothing depends on it.

pub mod config;
pub mod import;
pub mod wiring;

use std::net::SocketAddr;

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
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// Wires the configured store and binds the listener. Call inside an actix system.
///
/// # Errors
/// [`StartupError`] when the store cannot be opened or the address cannot be bound.
pub fn spawn(config: &Config) -> Result<Running, StartupError> {
    let (stores, kind) = wiring::stores(config)?;
    let (config, generated) = wiring::run_admin_key(config, kind);
    let mut running = serve(wiring::state(&config, stores, kind), &config.http)?;
    running.generated_admin_key = generated;
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
    let mut server = HttpServer::new(move || tally_http::app(state.clone()));
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
    })
}
