//! `GET /usage`, the one path two surfaces share: the ledger's list (seed 001) with a Bearer
//! credential, lcyt's per-site usage (seed 000) without one. Top floor (it knows both surfaces),
//! beside `routes` and `openapi`.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::lcyt::usage::SiteUsageResponse;
use crate::lcyt::usage::{domain_usage, DomainUsageParams};
use crate::ledger;
use crate::ledger::records::PageParams;
use crate::ledger::wire::UsageRecord;
use crate::principal::{bearer, resolve};
use crate::state::AppState;

/// What `GET /usage` answers: the ledger's records with a Bearer credential, lcyt's per-site
/// rollup without one. The two handlers serialise these types; this names their union.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum UsageAnswer {
    /// With a Bearer credential.
    Records(Vec<UsageRecord>),
    /// Without one.
    Sites(SiteUsageResponse),
}

/// `GET /usage`: the ledger list (seed 001) with a Bearer credential, lcyt's per-site analytics
/// (seed 000) without one, so both products' clients work unchanged.
///
/// # Errors
/// Those of the handler chosen.
#[utoipa::path(
    get,
    path = "/usage",
    tag = "ledger",
    operation_id = "usage_list_or_site_usage",
    summary = "Usage records (with a Bearer credential) or per-site usage (without one)",
    description = "The credential picks the meaning. With `Authorization: Bearer` this is the \
        ledger's list of usage records (seed 001: `skip`, `limit` ≤ 1000; admin sees all, others \
        their own) answered as a JSON array. Without one it is lcyt's per-site usage (seed 000: \
        `from`, `to`, `domain`, `granularity`), public only when `USAGE_PUBLIC` is set.",
    params(PageParams, DomainUsageParams),
    security((), ("admin_key" = []), ("user_token" = []), ("api_key" = []), ("session_token" = [])),
    responses(
        (status = 200, description = "Usage records (Bearer; with `X-Total-Count`) or the \
            per-site usage rollup (no credential).", body = UsageAnswer),
        (status = 401, description = "No usable credential (site usage not public).", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The credential may not read this.", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
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
