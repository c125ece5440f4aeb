//! Mounting Tally: the route table, the fallbacks and a ready-made `App`. The top floor: the
//! only module that knows every surface, and so the home of the one path two surfaces share.

use actix_web::body::BoxBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpRequest, HttpResponse};

use crate::error::ApiError;
use crate::lcyt::usage::{domain_usage, DomainUsageParams};
use crate::principal::{bearer, resolve};
use crate::request_id::request_id_middleware;
use crate::resource::resource;
use crate::state::AppState;
use crate::{cors, extract, health, lcyt, ledger, lyrcs, meetbot, newapi, ui, v1};

/// Registers every Tally route, the extractor configuration, the state and the JSON 404
/// fallback on `cfg`. Embedders mount Tally in their own app with
/// `App::new().wrap(from_fn(tally_http::extract::require_json)).wrap(from_fn(tally_http::cors::cors)).wrap(from_fn(tally_http::request_id_middleware)).configure(|c| tally_http::configure(c, state))`.
pub fn configure(cfg: &mut web::ServiceConfig, state: AppState) {
    extract::register(cfg);
    cfg.app_data(web::Data::new(state))
        .service(resource("/health").route(web::get().to(health::health)))
        .configure(lcyt::configure)
        .service(
            resource("/usage")
                .route(web::get().to(get_usage))
                .route(web::post().to(ledger::records::create)),
        )
        .configure(ledger::configure)
        .configure(meetbot::configure)
        .configure(lyrcs::configure)
        .configure(newapi::configure)
        .configure(v1::configure)
        .configure(ui::configure)
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

/// `GET /usage`: the ledger list (seed 001) with a Bearer credential, lcyt's per-site analytics
/// (seed 000) without one, so both products' clients work unchanged.
///
/// # Errors
/// Those of the handler chosen.
pub async fn get_usage(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let query = |e: actix_web::error::QueryPayloadError| {
        ApiError::BadRequest(format!("invalid query string: {e}"))
    };
    if bearer(&req).is_some() {
        let principal = resolve(&req).await?;
        let page = web::Query::<ledger::records::PageParams>::from_query(req.query_string())
            .map_err(query)?
            .into_inner();
        ledger::records::list(principal, state, page).await
    } else {
        let params =
            web::Query::<DomainUsageParams>::from_query(req.query_string()).map_err(query)?;
        domain_usage(req, state, params).await
    }
}

/// The fallback for unknown routes: 404 `{"error": "Not found"}`.
///
/// # Errors
/// Always [`ApiError::NotFound`].
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound("Not found".to_owned()))
}
