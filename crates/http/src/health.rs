//! `GET /health`: liveness plus a store ping.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde::Serialize;

use crate::blocking::run_blocking;
use crate::error::UNAVAILABLE_RETRY_AFTER_SECS;
use crate::state::AppState;

/// The body of `GET /health`.
#[derive(Debug, Serialize)]
pub struct HealthResponse<'a> {
    /// `"ok"` or `"unavailable"`.
    pub status: &'a str,
    /// `"memory"` or `"postgres"`.
    pub store: &'a str,
    /// The server's version.
    pub version: &'a str,
}

/// 200 `{"status":"ok",…}` when the store answers a ping, else 503 `{"status":"unavailable",…}`
/// with `Retry-After`.
pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    let usage = state.ports.stores.usage.clone();
    let ping = run_blocking(move || usage.ping()).await;
    let settings = &state.settings;
    let body = |status| HealthResponse {
        status,
        store: settings.store.as_str(),
        version: &settings.version,
    };
    match ping {
        Ok(()) => HttpResponse::Ok().json(body("ok")),
        Err(e) => {
            tracing::warn!(error = %e, "health check: store unavailable");
            HttpResponse::ServiceUnavailable()
                .insert_header((header::RETRY_AFTER, UNAVAILABLE_RETRY_AFTER_SECS))
                .json(body("unavailable"))
        }
    }
}
