//! Mounting Tally: the route table, the fallbacks and a ready-made `App`.

use actix_web::body::BoxBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpResponse};

use crate::error::ApiError;
use crate::request_id::request_id_middleware;
use crate::state::AppState;
use crate::{cors, extract, health, lcyt, ledger, lyrcs, meetbot, newapi, v1};

/// Registers every Tally route, the extractor configuration, the state and the JSON 404
/// fallback on `cfg`. Embedders mount Tally in their own app with
/// `App::new().wrap(from_fn(tally_http::cors::cors)).wrap(from_fn(tally_http::request_id_middleware)).configure(|c| tally_http::configure(c, state))`.
pub fn configure(cfg: &mut web::ServiceConfig, state: AppState) {
    extract::register(cfg);
    cfg.app_data(web::Data::new(state))
        .service(resource("/health").route(web::get().to(health::health)))
        .configure(lcyt::configure)
        .configure(ledger::configure)
        .configure(meetbot::configure)
        .configure(lyrcs::configure)
        .configure(newapi::configure)
        .configure(v1::configure)
        .default_service(web::to(not_found));
}

/// Tally as a complete actix `App`: [`configure`] wrapped in the request-id middleware.
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
        .wrap(from_fn(cors::cors))
        .wrap(from_fn(request_id_middleware))
        .configure(|cfg| configure(cfg, state))
}

/// A resource whose unsupported methods answer a JSON 405. Surfaces build their routes with it.
#[must_use]
pub fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

/// The fallback for unknown routes: 404 `{"error": "Not found"}`.
///
/// # Errors
/// Always [`ApiError::NotFound`].
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound("Not found".to_owned()))
}

async fn method_not_allowed() -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed)
}
