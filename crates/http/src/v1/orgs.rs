//! `/v1/orgs`: organisations (admin).

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};
use tally_domain::tenancy::{parse_name, Org, OrgId};

use crate::error::ApiError;
use crate::extract::parse_json;
use crate::principal::Principal;
use crate::run_blocking;
use crate::state::AppState;
use crate::wire::iso;

/// `POST /v1/orgs` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateOrgRequest {
    id: Option<String>,
    name: Option<String>,
}

/// The wire shape of an organisation.
#[must_use]
pub fn org_json(o: &Org) -> Value {
    json!({ "id": o.id, "name": o.name, "created_at": iso(o.created_at) })
}

/// `POST /v1/orgs` (admin): `{id?, name}` → 201; the id is generated (`org_…`) when absent.
///
/// # Errors
/// 400, 403, 409.
pub async fn create(
    p: Principal,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    p.require_admin()?;
    let r: CreateOrgRequest = parse_json(&body)?;
    let name = parse_name("name", r.name.as_deref().unwrap_or_default())
        .map_err(|e| ApiError::BadRequest(e.0))?;
    let id = match r.id {
        Some(id) => OrgId::parse(&id).map_err(|e| ApiError::BadRequest(e.0))?,
        None => OrgId::parse(&format!("org_{}", state.ports.ids.base62(12)))
            .map_err(|e| ApiError::Internal(e.0))?,
    };
    let org = Org {
        id,
        name,
        created_at: state.ports.clock.now(),
    };
    let tenants = state.ports.stores.tenants.clone();
    let org = run_blocking(move || tenants.create_org(org)).await?;
    Ok(HttpResponse::Created().json(org_json(&org)))
}

/// `GET /v1/orgs` (admin).
///
/// # Errors
/// 403.
pub async fn list(p: Principal, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    p.require_admin()?;
    let tenants = state.ports.stores.tenants.clone();
    let orgs = run_blocking(move || tenants.list_orgs()).await?;
    Ok(HttpResponse::Ok().json(json!({ "orgs": orgs.iter().map(org_json).collect::<Vec<_>>() })))
}

/// `GET /v1/orgs/{id}`: admins, and members of the organisation.
///
/// # Errors
/// 404 (also for another organisation, so ids cannot be probed).
pub async fn get(
    p: Principal,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let not_found = || ApiError::NotFound("organisation not found".to_owned());
    let id = OrgId::parse(&path).map_err(|_| not_found())?;
    if !p.is_admin() && p.org_id().as_ref() != Some(&id) {
        return Err(not_found());
    }
    let tenants = state.ports.stores.tenants.clone();
    let org = run_blocking(move || tenants.get_org(&id))
        .await?
        .ok_or_else(not_found)?;
    Ok(HttpResponse::Ok().json(org_json(&org)))
}
