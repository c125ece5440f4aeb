//! The usage ledger (seed 001, Billix): `POST /usage`, `GET /usage` with a Bearer credential,
//! `GET /usage/user/{user_id}` and `GET/PUT/DELETE /usage/{usage_id}`.
//!
//! `/usage` is shared with lcyt: `GET /usage` **with** an `Authorization: Bearer` credential is
//! the ledger list; without one it is lcyt's per-site analytics ([`crate::lcyt::usage`]). The
//! credential picks the meaning, so both products' clients work unchanged.

pub mod records;
pub mod wire;

use actix_web::{web, HttpRequest, HttpResponse};

use crate::error::ApiError;
use crate::lcyt::usage::{domain_usage, DomainUsageParams};
use crate::principal::{bearer, resolve};
use crate::routes::resource;
use crate::state::AppState;

/// Registers the ledger routes (and the one `/usage` resource both products share).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/usage")
            .route(web::get().to(get_usage))
            .route(web::post().to(records::create)),
    )
    .service(resource("/usage/user/{user_id}").route(web::get().to(records::by_user)))
    .service(
        resource("/usage/{usage_id}")
            .route(web::get().to(records::get))
            .route(web::put().to(records::update))
            .route(web::delete().to(records::delete)),
    );
}

/// `GET /usage`: the ledger list with a Bearer credential, lcyt's domain analytics without.
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
        let page = web::Query::<records::PageParams>::from_query(req.query_string())
            .map_err(query)?
            .into_inner();
        records::list(principal, state, page).await
    } else {
        let params =
            web::Query::<DomainUsageParams>::from_query(req.query_string()).map_err(query)?;
        domain_usage(req, state, params).await
    }
}
