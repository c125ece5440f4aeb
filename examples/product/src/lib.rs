//! `product` — an example API product that embeds Tally (docs/EMBEDDING.md).
//!
//! Its own routes are metered by [`tally_http::Metering`] (`/api/items/{id}`: one unit per
//! request, key in `Authorization: Bearer`; `/api/render`: as many units as the `pages`
//! query parameter, key in `X-Api-Key`), its admins get
//! Tally's whole API under `/tally`, and it stores everything in Postgres when
//! `DATABASE_URL` is set, else in memory. Two comparison mounts of the same handler exist for
//! the benchmark: `/plain/items/{id}` (not metered), `/lean/items/{id}` (metered without the
//! status/latency patch) and `/gateway/items/{id}` (metered the non-embedded way: one
//! `POST /v1/verify` over HTTP per request).
//!
//! [`quota`] is the other way to embed Tally: the domain services alone, no HTTP.
//!
//! ```
//! let (stores, kind) = product::stores(None).expect("memory needs nothing");
//! let state = product::state(stores, kind, Some("an-admin-key".to_owned()));
//! let app = actix_web::App::new().configure(|cfg| product::configure(cfg, &state, None));
//! # drop(app);
//! ```

pub mod gateway;
pub mod quota;

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::http::header::HeaderName;
use actix_web::middleware::from_fn;
use actix_web::{web, HttpResponse, HttpServer};
use serde_json::json;
use tally_auth::{JwtKeys, OsIds};
use tally_domain::services::{Ports, Stores};
use tally_domain::{LocalBus, SystemClock};
use tally_http::{AppState, Metering, Settings, StoreKind};
use tally_store_mem::MemStore;
use tally_store_pg::{PgEventBus, PgOptions, PgStore};

/// Postgres when `database_url` is given (migrations run here, as the Tally server runs
/// them), else the in-memory store.
///
/// # Errors
/// The database cannot be reached, migrated or listened to.
pub fn stores(database_url: Option<&str>) -> Result<(Stores, StoreKind), String> {
    match database_url {
        None => Ok((
            Stores::from_one(Arc::new(MemStore::new()), Arc::new(LocalBus::new())),
            StoreKind::Memory,
        )),
        Some(url) => {
            let store = PgStore::connect(url, PgOptions::default()).map_err(|e| e.to_string())?;
            store.migrate().map_err(|e| e.to_string())?;
            let bus = PgEventBus::start(&store).map_err(|e| e.to_string())?;
            Ok((
                Stores::from_one(Arc::new(store), Arc::new(bus)),
                StoreKind::Postgres,
            ))
        }
    }
}

/// Tally's state for these stores: the system clock, OS randomness, a random JWT secret (the
/// product issues no Tally session tokens) and `admin_key` for the `/tally` routes.
#[must_use]
pub fn state(stores: Stores, kind: StoreKind, admin_key: Option<String>) -> AppState {
    let ports = Ports {
        stores,
        clock: Arc::new(SystemClock),
        ids: Arc::new(OsIds),
    };
    let mut settings = Settings::new(kind);
    settings.admin_key = admin_key;
    AppState::new(ports, JwtKeys::random(), settings)
}

/// Mounts the product: its metered routes, the comparison mounts and Tally under `/tally`.
/// `verify_url` is where `/gateway/…` sends its `POST /v1/verify` (e.g.
/// `http://127.0.0.1:8081/tally`); without it those routes answer 503.
pub fn configure(cfg: &mut web::ServiceConfig, state: &AppState, verify_url: Option<&str>) {
    cfg.service(
        web::scope("/api/items")
            .wrap(Metering::new(state.clone()).api_name("items"))
            .route("/{id}", web::get().to(item)),
    )
    .service(
        web::scope("/api/render")
            .wrap(
                Metering::new(state.clone())
                    .api_name("render")
                    .key_header(HeaderName::from_static("x-api-key"))
                    .units_by(pages),
            )
            .route("", web::post().to(render)),
    )
    .service(web::scope("/plain/items").route("/{id}", web::get().to(item)))
    .service(
        web::scope("/lean/items")
            .wrap(
                Metering::new(state.clone())
                    .api_name("items")
                    .record_outcomes(false),
            )
            .route("/{id}", web::get().to(item)),
    )
    .service(
        web::scope("/gateway/items")
            .app_data(web::Data::new(gateway::Gateway::new(
                verify_url,
                state.settings.admin_key.as_deref(),
            )))
            .route("/{id}", web::get().to(gateway::item)),
    )
    .service(
        web::scope("/tally")
            .wrap(from_fn(tally_http::cors::cors))
            .wrap(from_fn(tally_http::request_id_middleware))
            .configure(|c| tally_http::configure(c, state.clone())),
    );
}

/// The product's own handler: what it sells (`missing` is an item it does not have, so the
/// examples show a metered request the product itself answers 404).
pub async fn item(id: web::Path<String>) -> HttpResponse {
    let id = id.into_inner();
    if id == "missing" {
        return tally_http::error::problem_response(
            actix_web::http::StatusCode::NOT_FOUND,
            "no such item",
            "no such item",
        );
    }
    HttpResponse::Ok().json(json!({ "id": id, "name": "an item" }))
}

/// A handler whose price depends on the request (`?pages=n`).
pub async fn render() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "rendered": true }))
}

/// The units of `POST /api/render`: the `pages` query parameter, 1 to 100.
///
/// # Errors
/// A message naming the parameter when it is missing or out of range.
pub fn pages(req: &actix_web::dev::ServiceRequest) -> Result<u64, String> {
    let pages = req
        .query_string()
        .split('&')
        .find_map(|pair| pair.strip_prefix("pages="))
        .ok_or_else(|| "pages is required".to_owned())?;
    match pages.parse::<u64>() {
        Ok(n) if (1..=100).contains(&n) => Ok(n),
        _ => Err("pages must be an integer between 1 and 100".to_owned()),
    }
}

/// A running product and its address.
pub struct Running {
    /// The server (await it, or spawn it).
    pub server: Server,
    /// The bound address (port 0 picks a free one).
    pub addr: SocketAddr,
}

/// Binds `addr` and serves the product with `workers` workers; `/gateway/…` verifies through
/// this very server's `/tally` mount.
///
/// # Errors
/// The address cannot be bound.
pub fn serve(state: AppState, addr: &str, workers: usize) -> std::io::Result<Running> {
    let listener = TcpListener::bind(addr)?;
    let bound = listener.local_addr()?;
    let verify_url = format!("http://{bound}/tally");
    let server = HttpServer::new(move || {
        actix_web::App::new().configure(|cfg| configure(cfg, &state, Some(&verify_url)))
    })
    .workers(workers.max(1))
    .listen(listener)?
    .run();
    Ok(Running {
        server,
        addr: bound,
    })
}
