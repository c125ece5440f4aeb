//! `/v1/keys`: API keys with numeric ids, bound to users and organisations.

use actix_web::{web, HttpResponse};
use tally_domain::key::{ApiKey, KeyFilter, KeyId};
use tally_domain::limits::Limits;
use tally_domain::services::{CreateKey, ErasureService, KeyService};
use tally_domain::tenancy::{Email, OrgId, UserId};

pub use super::key_wire::{
    CreateKeyRequest, CreateKeyResponse, DeleteKeyResponse, DeleteQuery, KeyListResponse,
    KeyResponse, ListKeysQuery, UpdateKeyRequest,
};
use super::users::ErasureResponse;
use crate::error::{ApiError, Problem};
use crate::extract::parse_json;
use crate::key_patch::KeyPatchInput;
use crate::principal::Principal;
use crate::run_blocking;
use crate::state::AppState;
use crate::wire::{limit, parse_instant};

fn bad(e: tally_domain::tenancy::InvalidValue) -> ApiError {
    ApiError::BadRequest(e.0)
}

/// `POST /v1/keys` (admin): a key for a user (taking the user's organisation) or an org.
///
/// # Errors
/// 400 (unknown user, org mismatch, bad fields), 403, 409.
#[utoipa::path(
    post,
    path = "/v1/keys",
    tag = "v1",
    operation_id = "v1_keys_create",
    summary = "Create an API key",
    description = "Admin only. A key for a user (taking the user's organisation) or an \
        organisation. 400 also for an unknown or erased `user_id`, an `org_id` other than the \
        user's, and an unknown organisation.",
    request_body = CreateKeyRequest,
    security(("admin_key" = []), ("user_token" = [])),
    responses(
        (status = 201, description = "The new key with its secret (shown only here).", body = CreateKeyResponse),
        (status = 409, description = "`A key with this value already exists` (a custom `key`).", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    p: Principal,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    p.require_admin()?;
    let r: CreateKeyRequest = parse_json(&body)?;
    let org = r
        .org_id
        .as_deref()
        .map(OrgId::parse)
        .transpose()
        .map_err(bad)?;
    let user = match r.user_id {
        None => None,
        Some(id) => {
            let tenants = state.ports.stores.tenants.clone();
            let user = run_blocking(move || tenants.get_user(UserId(id)))
                .await?
                .filter(|u| u.erased_at.is_none())
                .ok_or_else(|| {
                    ApiError::BadRequest("user_id: unknown or erased user".to_owned())
                })?;
            if org.as_ref().is_some_and(|o| *o != user.org_id) {
                return Err(ApiError::BadRequest(
                    "org_id must be the user's organisation".to_owned(),
                ));
            }
            Some(user)
        }
    };
    let owner = r
        .owner
        .or_else(|| user.as_ref().map(|u| u.username.as_str().to_owned()))
        .or_else(|| r.name.clone())
        .unwrap_or_else(|| "api".to_owned());
    let spec = CreateKey {
        secret: r.key,
        owner,
        name: r.name,
        email: r
            .email
            .as_deref()
            .map(Email::parse)
            .transpose()
            .map_err(bad)?,
        user_id: user.as_ref().map(|u| u.id),
        org_id: user
            .map(|u| u.org_id)
            .or(org)
            .unwrap_or_else(OrgId::default_org),
        expires_at: r
            .expires_at
            .as_deref()
            .map(|e| parse_instant("expires_at", e))
            .transpose()?,
        limits: Limits {
            daily: limit("daily_limit", r.daily_limit)?,
            lifetime: limit("lifetime_limit", r.lifetime_limit)?,
        },
        email_must_be_new: false,
    };
    let service = KeyService::new(state.ports.clone());
    let issued = run_blocking(move || service.issue(spec)).await?;
    Ok(HttpResponse::Created().json(CreateKeyResponse {
        key: KeyResponse::from(&issued.key),
        secret: issued.secret.expose().to_owned(),
    }))
}

/// `GET /v1/keys`: admins see all (optionally by `user_id`/`org_id`); users their own keys; a
/// key itself.
///
/// # Errors
/// 400, 401.
#[utoipa::path(
    get,
    path = "/v1/keys",
    tag = "v1",
    operation_id = "v1_keys_list",
    summary = "List API keys",
    description = "Admins see every key and may filter; a user the keys bound to them; a key \
        bound to a user that user's keys, an unbound key itself. Any other query parameter is \
        400.",
    params(ListKeysQuery),
    security(("admin_key" = []), ("user_token" = []), ("api_key" = []), ("session_token" = [])),
    responses((status = 200, description = "The keys, by id, without secrets.", body = KeyListResponse))
)]
pub async fn list(
    p: Principal,
    state: web::Data<AppState>,
    q: web::Query<ListKeysQuery>,
) -> Result<HttpResponse, ApiError> {
    let filter = if p.is_admin() {
        KeyFilter {
            org_id: q
                .org_id
                .as_deref()
                .map(OrgId::parse)
                .transpose()
                .map_err(bad)?,
            user_id: q.user_id.map(UserId),
        }
    } else if let Some(user) = p.user_id() {
        KeyFilter {
            org_id: None,
            user_id: Some(user),
        }
    } else {
        let keys = p.key().map(KeyResponse::from).into_iter().collect();
        return Ok(HttpResponse::Ok().json(KeyListResponse { keys }));
    };
    let keys = state.ports.stores.keys.clone();
    let all = run_blocking(move || keys.list_keys(&filter)).await?;
    Ok(HttpResponse::Ok().json(KeyListResponse {
        keys: all.iter().map(KeyResponse::from).collect(),
    }))
}

/// Loads a key the caller may see (404 otherwise, so ids cannot be probed).
///
/// # Errors
/// 404.
pub async fn visible_key(p: &Principal, state: &AppState, raw: &str) -> Result<ApiKey, ApiError> {
    let not_found = || ApiError::NotFound("API key not found".to_owned());
    let id = raw.parse::<i64>().map(KeyId).map_err(|_| not_found())?;
    let keys = state.ports.stores.keys.clone();
    let key = run_blocking(move || keys.get_key(id))
        .await?
        .ok_or_else(not_found)?;
    if p.may_see_key(&key) {
        Ok(key)
    } else {
        Err(not_found())
    }
}

/// `GET /v1/keys/{id}`.
///
/// # Errors
/// 404.
#[utoipa::path(
    get,
    path = "/v1/keys/{id}",
    tag = "v1",
    operation_id = "v1_keys_get",
    summary = "Read an API key",
    description = "Admins read any key; a user the keys bound to them; a key itself or its \
        user's keys.",
    params(("id" = i64, Path, description = "The key's id; anything else is 404.")),
    security(("admin_key" = []), ("user_token" = []), ("api_key" = []), ("session_token" = [])),
    responses(
        (status = 200, description = "The key, without its secret.", body = KeyResponse),
        (status = 404, description = "`API key not found` (also a key the caller may not see).", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get(
    p: Principal,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(KeyResponse::from(&visible_key(&p, &state, &path).await?)))
}

/// `PATCH /v1/keys/{id}` (admin): validated whole, then applied; counters stay.
///
/// # Errors
/// 400, 403, 404.
#[utoipa::path(
    patch,
    path = "/v1/keys/{id}",
    tag = "v1",
    operation_id = "v1_keys_update",
    summary = "Change an API key",
    description = "Admin only. Only present fields change; `null` clears a clearable field; \
        counters never reset. The whole body is validated before anything changes.",
    params(("id" = i64, Path, description = "The key's id; anything else is 404.")),
    request_body = UpdateKeyRequest,
    security(("admin_key" = []), ("user_token" = [])),
    responses(
        (status = 200, description = "The updated key.", body = KeyResponse),
        (status = 404, description = "`API key not found` (also a key the caller may not see).", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`API key is erased`: an erased key keeps nothing that could change.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update(
    p: Principal,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    p.require_admin()?;
    let r: UpdateKeyRequest = parse_json(&body)?;
    let patch = KeyPatchInput {
        owner: r.owner,
        name: r.name,
        email: r.email,
        expires: r.expires_at,
        daily_limit: r.daily_limit,
        lifetime_limit: r.lifetime_limit,
        names: ["expires_at", "daily_limit", "lifetime_limit"],
    }
    .into_patch()?;
    let key = visible_key(&p, &state, &path).await?;
    let service = KeyService::new(state.ports.clone());
    let updated = run_blocking(move || service.update(key.id, patch))
        .await?
        .ok_or_else(|| ApiError::NotFound("API key not found".to_owned()))?;
    Ok(HttpResponse::Ok().json(KeyResponse::from(&updated)))
}

/// `DELETE /v1/keys/{id}` (admin): revoke, or `?permanent=true` to delete with its history.
///
/// # Errors
/// 403, 404.
#[utoipa::path(
    delete,
    path = "/v1/keys/{id}",
    tag = "v1",
    operation_id = "v1_keys_delete",
    summary = "Revoke or delete an API key",
    description = "Admin only. Revoking ends the key's open sessions and kills its tokens; \
        `permanent=true` deletes the key with its history instead.",
    params(
        ("id" = i64, Path, description = "The key's id; anything else is 404."),
        DeleteQuery,
    ),
    security(("admin_key" = []), ("user_token" = [])),
    responses(
        (status = 200, description = "`{id, revoked}`, or `{id, deleted}` with `permanent=true`.", body = DeleteKeyResponse),
        (status = 404, description = "`API key not found` (also a key the caller may not see).", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete(
    p: Principal,
    state: web::Data<AppState>,
    path: web::Path<String>,
    q: web::Query<DeleteQuery>,
) -> Result<HttpResponse, ApiError> {
    p.require_admin()?;
    let key = visible_key(&p, &state, &path).await?;
    let service = KeyService::new(state.ports.clone());
    if q.permanent == Some(true) {
        run_blocking(move || service.delete(key.id)).await?;
        Ok(HttpResponse::Ok().json(DeleteKeyResponse::Deleted {
            id: key.id.0,
            deleted: true,
        }))
    } else {
        let revoked = run_blocking(move || service.revoke(key.id)).await?;
        Ok(HttpResponse::Ok().json(DeleteKeyResponse::Revoked {
            id: key.id.0,
            revoked: revoked.is_some(),
        }))
    }
}

/// `DELETE /v1/keys/{id}/data` (admin): erase one key (GDPR), as `DELETE /stats` does for a
/// session's own key: `200 {ok, message, receipts}` (none when it was already erased).
///
/// # Errors
/// 403, 404.
#[utoipa::path(
    delete,
    path = "/v1/keys/{id}/data",
    tag = "v1",
    operation_id = "v1_keys_data_erase",
    summary = "Erase an API key's data (GDPR)",
    description = "Admin only. What `DELETE /stats` does for a session's own key: one \
        transaction anonymises and deletes the key's personal data, ends its open sessions and \
        kills its tokens. Idempotent: no receipt when the key was already erased.",
    params(("id" = i64, Path, description = "The key's id; anything else is 404.")),
    security(("admin_key" = []), ("user_token" = [])),
    responses(
        (status = 200, description = "Erased.", body = ErasureResponse),
        (status = 404, description = "`API key not found` (also a key the caller may not see).", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn erase(
    p: Principal,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    p.require_admin()?;
    let key = visible_key(&p, &state, &path).await?;
    let service = ErasureService::new(state.ports.clone());
    let outcome = run_blocking(move || service.erase_key(key.id)).await?;
    crate::observe::erasure("key");
    Ok(HttpResponse::Ok().json(ErasureResponse::new(&outcome.receipts)))
}
