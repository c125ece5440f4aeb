//! `/v1/orgs`: organisations (admin).

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use tally_domain::tenancy::{parse_name, Org, OrgId};
use utoipa::ToSchema;

use crate::error::{ApiError, Problem};
use crate::extract::parse_json;
use crate::principal::Principal;
use crate::run_blocking;
use crate::state::AppState;
use crate::wire::iso;

/// `POST /v1/orgs` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = v1::CreateOrgRequest)]
pub struct CreateOrgRequest {
    /// The new organisation's id; default `org_` and 12 random base62 characters.
    #[schema(schema_with = super::schema::org_id)]
    id: Option<String>,
    /// Display name.
    #[schema(schema_with = super::schema::display_name, required = true)]
    name: Option<String>,
}

/// An organisation on the wire.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = v1::Org)]
pub struct OrgResponse {
    /// `org_` and 1-60 letters, digits, `_` or `-`.
    #[schema(example = "org_acme")]
    pub id: String,
    /// Display name.
    pub name: String,
    /// When it was created.
    #[schema(schema_with = super::schema::time)]
    pub created_at: String,
}

impl From<&Org> for OrgResponse {
    fn from(o: &Org) -> Self {
        Self {
            id: o.id.to_string(),
            name: o.name.clone(),
            created_at: iso(o.created_at),
        }
    }
}

/// `GET /v1/orgs` answer.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = v1::OrgList)]
pub struct OrgListResponse {
    /// Every organisation, by id.
    pub orgs: Vec<OrgResponse>,
}

/// `POST /v1/orgs` (admin): `{id?, name}` → 201; the id is generated (`org_…`) when absent.
///
/// # Errors
/// 400, 403, 409.
#[utoipa::path(
    post,
    path = "/v1/orgs",
    tag = "v1",
    operation_id = "v1_orgs_create",
    summary = "Create an organisation",
    description = "Admin only. The id is generated (`org_` and 12 random base62 characters) \
        when absent.",
    request_body = CreateOrgRequest,
    security(("admin_key" = []), ("user_token" = [])),
    responses(
        (status = 201, description = "The new organisation.", body = OrgResponse),
        (status = 409, description = "`an organisation with this id already exists`.", body = Problem, content_type = "application/problem+json"),
    )
)]
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
    Ok(HttpResponse::Created().json(OrgResponse::from(&org)))
}

/// `GET /v1/orgs` (admin).
///
/// # Errors
/// 403.
#[utoipa::path(
    get,
    path = "/v1/orgs",
    tag = "v1",
    operation_id = "v1_orgs_list",
    summary = "List every organisation",
    description = "Admin only.",
    security(("admin_key" = []), ("user_token" = [])),
    responses((status = 200, description = "Every organisation, by id.", body = OrgListResponse))
)]
pub async fn list(p: Principal, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    p.require_admin()?;
    let tenants = state.ports.stores.tenants.clone();
    let orgs = run_blocking(move || tenants.list_orgs()).await?;
    Ok(HttpResponse::Ok().json(OrgListResponse {
        orgs: orgs.iter().map(OrgResponse::from).collect(),
    }))
}

/// `GET /v1/orgs/{id}`: admins, and members of the organisation.
///
/// # Errors
/// 404 (also for another organisation, so ids cannot be probed).
#[utoipa::path(
    get,
    path = "/v1/orgs/{id}",
    tag = "v1",
    operation_id = "v1_orgs_get",
    summary = "Read an organisation",
    description = "Admins read any organisation; users and keys only their own.",
    params(("id" = String, Path, description = "The organisation id (`org_…`); a malformed one is 404.")),
    security(("admin_key" = []), ("user_token" = []), ("api_key" = []), ("session_token" = [])),
    responses(
        (status = 200, description = "The organisation.", body = OrgResponse),
        (status = 404, description = "`organisation not found`: unknown, malformed, or another organisation than the caller's.", body = Problem, content_type = "application/problem+json"),
    )
)]
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
    Ok(HttpResponse::Ok().json(OrgResponse::from(&org)))
}
