//! `tally_http` — Tally's HTTP driving adapter (actix-web): routes, request/response DTOs, the
//! error → status table, and the one crossing into the synchronous ports ([`run_blocking`]).
//!
//! Handlers only translate between HTTP and the domain services; rules live in
//! `tally_domain`. This crate must not depend on a store adapter (`tally_store_mem`,
//! `tally_store_pg`) or on diesel: it sees storage only through the ports in [`AppState`].
//!
//! Floors (docs/ARCHITECTURE.md): the shared layer at the crate root (`error`, `extract`,
//! `wire`, `principal`, `state`, `delivery`, `sse`, …), the six surfaces above it (`lcyt/`,
//! `ledger/`, `meetbot/`, `lyrcs/`, `newapi/`, `v1/`) and the dashboard's files (`ui`), and `routes` on top. A surface never
//! imports another surface and the shared layer imports none; `scripts/deps-check.sh` checks it.
//!
//! # Example
//!
//! Embedding in a product's own actix `App`: its routes metered by [`Metering`], Tally's API
//! mounted under `/tally` for its admins (docs/EMBEDDING.md; `examples/product` runs it).
//!
//! ```
//! use actix_web::middleware::from_fn;
//! use actix_web::{web, HttpResponse};
//! use tally_http::{AppState, Metering};
//!
//! fn product(cfg: &mut web::ServiceConfig, state: &AppState) {
//!     cfg.service(
//!         web::scope("/api")
//!             .wrap(Metering::new(state.clone()).units(2))
//!             .route("/search", web::get().to(HttpResponse::Ok)),
//!     )
//!     .service(
//!         web::scope("/tally")
//!             .wrap(from_fn(tally_http::request_id_middleware))
//!             .configure(|c| tally_http::configure(c, state.clone())),
//!     );
//! }
//! # let _ = product;
//! ```

pub mod api_doc;
pub mod blocking;
pub mod cors;
pub mod delivery;
pub mod error;
pub mod event_input;
pub mod extract;
pub mod health;
pub mod key_patch;
pub mod lcyt;
pub mod ledger;
pub mod lyrcs;
pub mod meetbot;
pub mod metering;
pub mod newapi;
pub mod observe;
pub mod openapi;
pub mod openapi_links;
pub mod principal;
pub mod ratelimit;
pub mod request_id;
pub mod resource;
pub mod rollups;
pub mod routes;
pub mod scope;
pub mod sse;
pub mod state;
pub mod static_files;
pub mod ui;
pub mod usage_path;
pub mod v1;
pub mod webhook;
pub mod wire;
pub mod youtube;

pub use blocking::{run_blocking, run_short, run_then};
pub use error::ApiError;
pub use metering::Metering;
pub use request_id::{request_id_middleware, RequestId};
pub use routes::{app, configure};
pub use state::{AppState, Settings, StoreKind};
