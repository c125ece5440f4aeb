//! `GET /health`: liveness plus a store ping, with the fields lcyt-web's login page checks
//! (`ok` and the `features` this server really serves).

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde::Serialize;

use crate::blocking::run_blocking;
use crate::error::UNAVAILABLE_RETRY_AFTER_SECS;
use crate::state::AppState;

/// The body of `GET /health`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthResponse<'a> {
    /// `"ok"` or `"unavailable"`.
    #[schema(value_type = String, pattern = "^(ok|unavailable)$")]
    pub status: &'a str,
    /// `"memory"` or `"postgres"`.
    #[schema(value_type = String, pattern = "^(memory|postgres)$")]
    pub store: &'a str,
    /// The server's version.
    pub version: &'a str,
    /// lcyt's flag: whether the store answered.
    pub ok: bool,
    /// Whole seconds since this instance started.
    pub uptime: u64,
    /// lcyt's user-login mode: Tally has none, so lcyt-web runs in API-key mode.
    pub login_enabled: bool,
    /// The lcyt features served here.
    pub features: Vec<&'static str>,
}

/// The lcyt feature names this server serves: `captions` (`POST /captions`, YouTube and
/// fan-out delivery), `sync` (`POST /sync`), `viewer` (`GET /viewer/{key}`), and `admin`
/// (`/keys`) when an admin key is configured. Never `login` (no user logins, so lcyt-web uses
/// the session token everywhere), nor features Tally does not implement (`files`, `rtmp`,
/// `graphics`, `stt`, `music`, `production`, `ai`, `cues`, `agent`).
#[must_use]
pub fn features(state: &AppState) -> Vec<&'static str> {
    let mut f = vec!["captions", "sync", "viewer"];
    if state.settings.admin_key.is_some() {
        f.push("admin");
    }
    f
}

/// 200 `{"status":"ok","ok":true,…}` when the store answers a ping, else 503
/// `{"status":"unavailable","ok":false,…}` with `Retry-After`.
#[utoipa::path(
    get,
    path = "/health",
    tag = "meta",
    operation_id = "health",
    summary = "Liveness and a store ping, with the lcyt features this server serves",
    responses(
        (status = 200, description = "The store answered.", body = HealthResponse),
        (status = 503, description = "The store did not answer (with `Retry-After`).", body = HealthResponse),
    )
)]
pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    let usage = state.ports.stores.usage.clone();
    let ping = run_blocking(move || usage.ping()).await;
    let settings = &state.settings;
    let body = |status, ok| HealthResponse {
        status,
        store: settings.store.as_str(),
        version: &settings.version,
        ok,
        uptime: state.started.elapsed().as_secs(),
        login_enabled: false,
        features: features(&state),
    };
    match ping {
        Ok(()) => HttpResponse::Ok().json(body("ok", true)),
        Err(e) => {
            tracing::warn!(error = %e, "health check: store unavailable");
            HttpResponse::ServiceUnavailable()
                .insert_header((header::RETRY_AFTER, UNAVAILABLE_RETRY_AFTER_SECS))
                .json(body("unavailable", false))
        }
    }
}
