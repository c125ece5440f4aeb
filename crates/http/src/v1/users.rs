//! `/v1/users`: users (admin), user tokens, erasure of a user's data, erasure receipts.

use std::time::Duration;

use actix_web::{web, HttpResponse};
use tally_auth::UserClaims;
use tally_domain::services::ErasureService;
use tally_domain::tenancy::{Email, OrgId, Role, User, UserId, Username};
use uuid::Uuid;

pub use super::user_wire::{
    CreateUserRequest, ErasureListResponse, ErasureResponse, IssueTokenRequest, IssueTokenResponse,
    ListUsersQuery, ReceiptResponse, RoleName, UserListResponse, UserResponse,
};
use crate::error::{ApiError, Problem};
use crate::extract::parse_json;
use crate::principal::Principal;
use crate::run_blocking;
use crate::state::AppState;
use crate::wire::iso;

/// Default lifetime of a user token: one day.
pub const DEFAULT_TOKEN_TTL_SECS: u64 = 86_400;
/// Longest lifetime of a user token: 90 days.
pub const MAX_TOKEN_TTL_SECS: u64 = 90 * 86_400;

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
#[utoipa::path(
    post,
    path = "/v1/users",
    tag = "v1",
    operation_id = "v1_users_create",
    summary = "Create a user",
    description = "Admin only. 400 names the bad field (`org_id: unknown organisation` for an \
        organisation that does not exist).",
    request_body = CreateUserRequest,
    security(("admin_key" = []), ("user_token" = [])),
    responses(
        (status = 201, description = "The new user.", body = UserResponse),
        (status = 409, description = "`username already taken`.", body = Problem, content_type = "application/problem+json"),
    )
)]
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
    Ok(HttpResponse::Created().json(UserResponse::from(&user)))
}

/// `GET /v1/users?org_id=` (admin).
///
/// # Errors
/// 400, 403.
#[utoipa::path(
    get,
    path = "/v1/users",
    tag = "v1",
    operation_id = "v1_users_list",
    summary = "List users",
    description = "Admin only. Erased users are listed too, anonymised. Any other query \
        parameter is 400.",
    params(ListUsersQuery),
    security(("admin_key" = []), ("user_token" = [])),
    responses((status = 200, description = "The users, in creation order.", body = UserListResponse))
)]
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
    Ok(HttpResponse::Ok().json(UserListResponse {
        users: users.iter().map(UserResponse::from).collect(),
    }))
}

/// `GET /v1/users/{id}`: admins and the user.
///
/// # Errors
/// 404 (also for someone else, so ids cannot be probed).
#[utoipa::path(
    get,
    path = "/v1/users/{id}",
    tag = "v1",
    operation_id = "v1_users_get",
    summary = "Read a user",
    description = "Admins read anyone; a user themselves; a key the user it is bound to.",
    params(("id" = Uuid, Path, description = "The user's id; anything else is 404.")),
    security(("admin_key" = []), ("user_token" = []), ("api_key" = []), ("session_token" = [])),
    responses(
        (status = 200, description = "The user.", body = UserResponse),
        (status = 404, description = "`user not found`: unknown, not a UUID, or someone the caller may not see.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get(
    p: Principal,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = user_id(&path)?;
    if !p.may_see_user(id) {
        return Err(ApiError::NotFound("user not found".to_owned()));
    }
    Ok(HttpResponse::Ok().json(UserResponse::from(&load_user(&state, id).await?)))
}

/// `POST /v1/users/{id}/tokens` (admin): `{ttl_secs?}` → 201 `{token, user_id, role, expires_at}`.
///
/// # Errors
/// 400, 403, 404, 409 for an erased user.
#[utoipa::path(
    post,
    path = "/v1/users/{id}/tokens",
    tag = "v1",
    operation_id = "v1_users_tokens_create",
    summary = "Issue a user token",
    description = "Admin only. The token cannot be revoked on its own: it dies at \
        `expires_at`, when `JWT_SECRET` changes, or when the user is erased. The body is \
        optional.",
    params(("id" = Uuid, Path, description = "The user's id; anything else is 404.")),
    request_body(content = Option<IssueTokenRequest>, description = "Optional: no body (or `null`) takes the defaults."),
    security(("admin_key" = []), ("user_token" = [])),
    responses(
        (status = 201, description = "The token.", body = IssueTokenResponse),
        (status = 404, description = "`user not found`.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`user is erased`.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn issue_token(
    p: Principal,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    p.require_admin()?;
    // What the document says the body is: absent, `null`, or the object.
    let r = if body.is_empty() {
        IssueTokenRequest::default()
    } else {
        parse_json::<Option<IssueTokenRequest>>(&body)?.unwrap_or_default()
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
    Ok(HttpResponse::Created().json(IssueTokenResponse {
        token,
        user_id: user.id.0,
        role: user.role.into(),
        expires_at: iso(expires),
    }))
}

/// `DELETE /v1/users/{id}/data` (admin): erases the user and every key of theirs in one
/// transaction; the user's tokens are refused from then on.
///
/// # Errors
/// 403, 404.
#[utoipa::path(
    delete,
    path = "/v1/users/{id}/data",
    tag = "v1",
    operation_id = "v1_users_data_erase",
    summary = "Erase a user and every key of theirs (GDPR)",
    description = "Admin only. One transaction: each of the user's keys is erased as \
        `DELETE /stats` erases one (one receipt per key), the user's other usage is deleted, \
        the user anonymised; their tokens and keys are refused from then on. Idempotent: a \
        repeat answers 200 with no new receipts.",
    params(("id" = Uuid, Path, description = "The user's id; anything else is 404.")),
    security(("admin_key" = []), ("user_token" = [])),
    responses(
        (status = 200, description = "Erased.", body = ErasureResponse),
        (status = 404, description = "`user not found`.", body = Problem, content_type = "application/problem+json"),
    )
)]
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
    Ok(HttpResponse::Ok().json(ErasureResponse::new(&outcome.receipts)))
}

/// `GET /v1/erasures` (admin): every erasure receipt, oldest first.
///
/// # Errors
/// 403.
#[utoipa::path(
    get,
    path = "/v1/erasures",
    tag = "v1",
    operation_id = "v1_erasures_list",
    summary = "List erasure receipts",
    description = "Admin only. One receipt per erased key, from `DELETE /v1/users/{id}/data`, \
        `DELETE /v1/keys/{id}/data` and `DELETE /stats`.",
    security(("admin_key" = []), ("user_token" = [])),
    responses((status = 200, description = "Every receipt, oldest first.", body = ErasureListResponse))
)]
pub async fn erasures(p: Principal, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    p.require_admin()?;
    let usage = state.ports.stores.usage.clone();
    let all = run_blocking(move || usage.list_erasures()).await?;
    Ok(HttpResponse::Ok().json(ErasureListResponse {
        erasures: all.iter().map(ReceiptResponse::from).collect(),
    }))
}
