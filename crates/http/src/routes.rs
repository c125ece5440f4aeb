//! Mounting Tally: the route table, the fallbacks and a ready-made `App`. The top floor, with
//! `openapi` (the document of these routes) and `usage_path` (the one path two surfaces share).

use actix_web::body::BoxBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpResponse};

use crate::error::ApiError;
use crate::request_id::request_id_middleware;
use crate::resource::Routes;
use crate::state::AppState;
use crate::usage_path::get_usage;
use crate::{cors, extract, health, lcyt, ledger, lyrcs, meetbot, newapi, openapi, ui, v1};

/// Every API route of every surface, in mounting order (meetbot before v1: they share the
/// `/v1` prefix). The OpenAPI document describes exactly these (`openapi::tests`).
#[must_use]
pub fn table() -> Routes {
    let mut r = Routes::new();
    r.get("/health", health::health)
        .get("/openapi.json", openapi::document);
    lcyt::routes(&mut r);
    r.get("/usage", get_usage)
        .post("/usage", ledger::records::create);
    ledger::routes(&mut r);
    meetbot::routes(&mut r);
    lyrcs::routes(&mut r);
    newapi::routes(&mut r);
    v1::routes(&mut r);
    r
}

/// Registers every Tally route, the extractor configuration, the state and the JSON 404
/// fallback on `cfg`. Embedders mount Tally in their own app with
/// `App::new().wrap(from_fn(tally_http::extract::require_json)).wrap(from_fn(tally_http::cors::cors)).wrap(from_fn(tally_http::request_id_middleware)).configure(|c| tally_http::configure(c, state))`.
pub fn configure(cfg: &mut web::ServiceConfig, state: AppState) {
    extract::register(cfg);
    cfg.app_data(web::Data::new(state));
    table().mount(cfg);
    cfg.configure(ui::configure)
        .configure(openapi::configure_docs)
        .default_service(web::to(not_found));
}

/// Tally as a complete actix `App`: [`configure`] wrapped in the JSON media-type check, CORS
/// and the request-id middleware.
pub fn app(
    state: AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<BoxBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .wrap(from_fn(extract::require_json))
        .wrap(from_fn(cors::cors))
        .wrap(from_fn(request_id_middleware))
        .configure(|cfg| configure(cfg, state))
}

/// The fallback for unknown routes: 404 `{"error": "Not found"}`.
///
/// # Errors
/// Always [`ApiError::NotFound`].
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound("Not found".to_owned()))
}

#[cfg(test)]
#[path = "routes_tests.rs"]
mod tests;
