//! `/v1/users`: users (admin), user tokens, erasure of a user's data, erasure receipts.

use std::time::Duration;

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};
use tally_auth::UserClaims;
use tally_domain::erasure::ErasureReceipt;
use tally_domain::services::ErasureService;
use tally_domain::tenancy::{Email, OrgId, Role, User, UserId, Username};
use uuid::Uuid;

use crate::error::ApiError;
use crate::extract::parse_json;
use crate::principal::Principal;
use crate::run_blocking;
use crate::state::AppState;
use crate::wire::iso;

/// Default lifetime of a user token: one day.
pub const DEFAULT_TOKEN_TTL_SECS: u64 = 86_400;
/// Longest lifetime of a user token: 90 days.
pub const MAX_TOKEN_TTL_SECS: u64 = 90 * 86_400;

/// `POST /v1/users` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    username: Option<String>,
    email: Option<String>,
    role: Option<String>,
    org_id: Option<String>,
}

/// `POST /v1/users/{id}/tokens` body.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueTokenRequest {
    ttl_secs: Option<u64>,
}

/// Query of `GET /v1/users`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListUsersQuery {
    org_id: Option<String>,
}

/// The wire shape of a user.
#[must_use]
pub fn user_json(u: &User) -> Value {
    json!({
        "id": u.id,
        "number": u.number,
        "org_id": u.org_id,
        "username": u.username.as_str(),
        "email": u.email.as_ref().map(Email::as_str),
        "role": u.role.as_str(),
        "created_at": iso(u.created_at),
        "erased_at": u.erased_at.map(iso),
    })
}

/// An erasure receipt on the wire (`DELETE /v1/users/{id}/data`, `DELETE /v1/keys/{id}/data`,
/// `GET /v1/erasures`).
pub(crate) fn receipt_json(r: &ErasureReceipt) -> Value {
    json!({ "key_id": r.key_id, "org_id": r.org_id, "erased_at": iso(r.erased_at), "rows_deleted": r.rows_deleted })
}

fn user_id(raw: &str) -> Result<UserId, ApiError> {
    Uuid::parse_str(raw)
        .map(UserId)
        .map_err(|_| ApiError::NotFound("user not found".to_owned()))
}

async fn load_user(state: &AppState, id: UserId) -> Result<User, ApiError> {
    let tenants = state.ports.stores.tenants.clone();
    run_blocking(move || tenants.get_user(id))
        .await?
        .ok_or_else(|| ApiError::NotFound("user not found".to_owned()))
}

/// `POST /v1/users` (admin): `{username, email?, role?, org_id?}` → 201.
///
/// # Errors
/// 400, 403, 409.
pub async fn create(
    p: Principal,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    p.require_admin()?;
    let r: CreateUserRequest = parse_json(&body)?;
    let bad = |e: tally_domain::tenancy::InvalidValue| ApiError::BadRequest(e.0);
    let user = User {
        id: UserId(state.ports.ids.uuid()),
        // Assigned by the store.
        number: 0,
        org_id: r
            .org_id
            .as_deref()
            .map(OrgId::parse)
            .transpose()
            .map_err(bad)?
            .unwrap_or_else(OrgId::default_org),
        username: Username::parse(r.username.as_deref().unwrap_or_default()).map_err(bad)?,
        email: r
            .email
            .as_deref()
            .map(Email::parse)
            .transpose()
            .map_err(bad)?,
        role: r
            .role
            .as_deref()
            .map(Role::parse)
            .transpose()
            .map_err(bad)?
            .unwrap_or(Role::User),
        created_at: state.ports.clock.now(),
        erased_at: None,
    };
    let tenants = state.ports.stores.tenants.clone();
    let user = run_blocking(move || tenants.create_user(user)).await?;
    Ok(HttpResponse::Created().json(user_json(&user)))
}

/// `GET /v1/users?org_id=` (admin).
///
/// # Errors
/// 400, 403.
pub async fn list(
    p: Principal,
    state: web::Data<AppState>,
    q: web::Query<ListUsersQuery>,
) -> Result<HttpResponse, ApiError> {
    p.require_admin()?;
    let org = q
        .org_id
        .as_deref()
        .map(OrgId::parse)
        .transpose()
        .map_err(|e| ApiError::BadRequest(e.0))?;
    let tenants = state.ports.stores.tenants.clone();
    let users = run_blocking(move || tenants.list_users(org.as_ref())).await?;
    Ok(
        HttpResponse::Ok()
            .json(json!({ "users": users.iter().map(user_json).collect::<Vec<_>>() })),
    )
}

/// `GET /v1/users/{id}`: admins and the user.
///
/// # Errors
/// 404 (also for someone else, so ids cannot be probed).
pub async fn get(
    p: Principal,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = user_id(&path)?;
    if !p.may_see_user(id) {
        return Err(ApiError::NotFound("user not found".to_owned()));
    }
    Ok(HttpResponse::Ok().json(user_json(&load_user(&state, id).await?)))
}

/// `POST /v1/users/{id}/tokens` (admin): `{ttl_secs?}` → 201 `{token, user_id, role, expires_at}`.
///
/// # Errors
/// 400, 403, 404, 409 for an erased user.
pub async fn issue_token(
    p: Principal,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    p.require_admin()?;
    let r: IssueTokenRequest = if body.is_empty() {
        IssueTokenRequest::default()
    } else {
        parse_json(&body)?
    };
    let ttl = r.ttl_secs.unwrap_or(DEFAULT_TOKEN_TTL_SECS);
    if ttl == 0 || ttl > MAX_TOKEN_TTL_SECS {
        return Err(ApiError::BadRequest(format!(
            "ttl_secs must be between 1 and {MAX_TOKEN_TTL_SECS}"
        )));
    }
    let user = load_user(&state, user_id(&path)?).await?;
    if user.erased_at.is_some() {
        return Err(ApiError::Conflict("user is erased".to_owned()));
    }
    let now = state.ports.clock.now();
    let claims = UserClaims::new(
        user.id,
        user.role,
        user.org_id.clone(),
        state.ports.ids.uuid(),
        now,
        Duration::from_secs(ttl),
    );
    let expires = time::OffsetDateTime::from_unix_timestamp(claims.exp)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let token = state
        .jwt
        .issue(claims)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(HttpResponse::Created().json(json!({
        "token": token,
        "user_id": user.id,
        "role": user.role.as_str(),
        "expires_at": iso(expires),
    })))
}

/// `DELETE /v1/users/{id}/data` (admin): erases the user and every key of theirs in one
/// transaction; the user's tokens are refused from then on.
///
/// # Errors
/// 403, 404.
pub async fn erase(
    p: Principal,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    p.require_admin()?;
    let user = load_user(&state, user_id(&path)?).await?;
    let service = ErasureService::new(state.ports.clone());
    let outcome = run_blocking(move || service.erase_user(user.id))
        .await?
        .ok_or_else(|| ApiError::NotFound("user not found".to_owned()))?;
    crate::observe::erasure("user");
    Ok(HttpResponse::Ok().json(json!({
        "ok": true,
        "message": "Your data has been anonymised and deleted.",
        "receipts": outcome.receipts.iter().map(receipt_json).collect::<Vec<_>>(),
    })))
}

/// `GET /v1/erasures` (admin): every erasure receipt, oldest first.
///
/// # Errors
/// 403.
pub async fn erasures(p: Principal, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    p.require_admin()?;
    let usage = state.ports.stores.usage.clone();
    let all = run_blocking(move || usage.list_erasures()).await?;
    Ok(HttpResponse::Ok()
        .json(json!({ "erasures": all.iter().map(receipt_json).collect::<Vec<_>>() })))
}
