//! `/keys`: admin key management and self-service free-tier keys.

use actix_web::{web, HttpRequest, HttpResponse};
use tally_domain::key::ApiKey;
use tally_domain::limits::Limits;
use tally_domain::services::{CreateKey, KeyService};
use tally_domain::tenancy::{Email, OrgId};

use crate::error::ApiError;
use crate::extract::parse_json;
use crate::key_patch::KeyPatchInput;
use crate::principal::{require_admin, Admin};
use crate::run_blocking;
use crate::state::AppState;
use crate::wire::{limit, parse_instant};

pub use super::key_shapes::{
    CreateKeyBody, CreateKeyQuery, CreateKeyRequest, DeleteKeyResponse, DeleteQuery,
    FreeTierRequest, KeyListResponse, KeyResponse, UpdateKeyRequest,
};

/// The `{key}` of `/keys/{key}`: the raw secret, looked up by its hash.
const KEY_PARAM: &str = "The raw key secret (percent-encoded where needed).";

fn email(field: &str, s: &str) -> Result<Email, ApiError> {
    Email::parse(s).map_err(|_| ApiError::BadRequest(format!("{field} must be a valid email")))
}

/// `POST /keys` (admin) and `POST /keys?freetier` (self-service, when enabled).
///
/// # Errors
/// See docs/API.md.
#[utoipa::path(
    post,
    path = "/keys",
    tag = "lcyt",
    operation_id = "lcyt_keys_create",
    summary = "Create a key (admin), or a free-tier key (`?freetier`, open)",
    description = "With the admin credential: a key with the given owner, limits and expiry \
        (`CreateKeyRequest`). With `?freetier` (any value) and `FREE_APIKEY_ACTIVE` on: a \
        self-service key for `name` and `email` (`FreeTierRequest`) with 200 captions a day, \
        1,000 in all, expiring in one calendar month; no credential, CORS open. The answer is \
        the only one that ever shows the raw secret (`key`).",
    params(CreateKeyQuery),
    request_body = CreateKeyBody,
    security((), ("admin_key" = []), ("user_token" = [])),
    responses(
        (status = 201, description = "The key, with its raw secret `key` (shown only here).", body = KeyResponse),
        (status = 404, description = "`?freetier` while the free tier is off (`Not found`).", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The custom `key` is taken (`A key with this value already exists`), or a free-tier key was ever issued for this address (`A key already exists for this email`).", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "No admin key is configured (`Admin API not configured`, admin path), or the store is unavailable (`Retry-After`).", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let service = KeyService::new(state.ports.clone());
    let freetier =
        web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
            .is_ok_and(|q| q.contains_key("freetier"));
    if freetier {
        if !state.settings.free_apikey_active {
            return Err(ApiError::NotFound("Not found".to_owned()));
        }
        let r: FreeTierRequest = parse_json(&body)?;
        let name = r.name.unwrap_or_default();
        let mail = r.email.unwrap_or_default();
        let issued = run_blocking(move || service.issue_free_tier(&name, &mail)).await?;
        return Ok(HttpResponse::Created()
            .json(KeyResponse::of(&issued.key, Some(issued.secret.expose()))));
    }
    require_admin(&req).await?;
    let r: CreateKeyRequest = parse_json(&body)?;
    let owner = r
        .owner
        .filter(|o| !o.trim().is_empty())
        .ok_or_else(|| ApiError::BadRequest("owner is required".to_owned()))?;
    let spec = CreateKey {
        secret: r.key,
        owner,
        name: r.name,
        email: r.email.as_deref().map(|e| email("email", e)).transpose()?,
        user_id: None,
        org_id: OrgId::default_org(),
        expires_at: r
            .expires
            .as_deref()
            .map(|e| parse_instant("expires", e))
            .transpose()?,
        limits: Limits {
            daily: limit("daily_limit", r.daily_limit)?,
            lifetime: limit("lifetime_limit", r.lifetime_limit)?,
        },
        email_must_be_new: false,
    };
    let issued = run_blocking(move || service.issue(spec)).await?;
    Ok(HttpResponse::Created().json(KeyResponse::of(&issued.key, Some(issued.secret.expose()))))
}

/// `GET /keys` (admin): every key, in creation order, revoked and erased ones included.
///
/// # Errors
/// Admin checks; store.
#[utoipa::path(
    get,
    path = "/keys",
    tag = "lcyt",
    operation_id = "lcyt_keys_list",
    summary = "List every key (admin)",
    description = "Every key in creation order, revoked and erased ones included; secrets are \
        never shown (only their alias).",
    security(("admin_key" = []), ("user_token" = [])),
    responses(
        (status = 200, description = "Every key in creation order, without secrets.", body = KeyListResponse),
    )
)]
pub async fn list(_: Admin, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let keys = state.ports.stores.keys.clone();
    let all =
        run_blocking(move || keys.list_keys(&tally_domain::key::KeyFilter::default())).await?;
    let shaped: Vec<KeyResponse> = all.iter().map(|k| KeyResponse::of(k, None)).collect();
    Ok(HttpResponse::Ok().json(KeyListResponse { keys: shaped }))
}

async fn find(state: &AppState, secret: String) -> Result<ApiKey, ApiError> {
    let service = KeyService::new(state.ports.clone());
    run_blocking(move || service.find(&secret))
        .await?
        .ok_or_else(|| ApiError::NotFound("API key not found".to_owned()))
}

/// `GET /keys/{key}` (admin).
///
/// # Errors
/// Admin checks; 404.
#[utoipa::path(
    get,
    path = "/keys/{key}",
    tag = "lcyt",
    operation_id = "lcyt_keys_get",
    summary = "One key (admin)",
    description = "`{key}` is the raw secret (percent-encoded where needed); it is looked up by \
        its SHA-256.",
    params(("key" = String, Path, description = KEY_PARAM)),
    security(("admin_key" = []), ("user_token" = [])),
    responses(
        (status = 200, description = "The key, without its secret.", body = KeyResponse),
        (status = 404, description = "No key has this secret (`API key not found`).", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get(
    _: Admin,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key = find(&state, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(KeyResponse::of(&key, None)))
}

/// `PATCH /keys/{key}` (admin): validates the whole body, then applies it; counters stay.
///
/// # Errors
/// Admin checks; 400; 404; 409 for an erased key.
#[utoipa::path(
    patch,
    path = "/keys/{key}",
    tag = "lcyt",
    operation_id = "lcyt_keys_update",
    summary = "Change a key's owner, name, email, expiry or limits (admin)",
    description = "Only present fields change; `null` clears a clearable field; `{}` changes \
        nothing. The whole body is validated before anything changes, and counters never reset.",
    params(("key" = String, Path, description = KEY_PARAM)),
    request_body = UpdateKeyRequest,
    security(("admin_key" = []), ("user_token" = [])),
    responses(
        (status = 200, description = "The updated key, without its secret.", body = KeyResponse),
        (status = 404, description = "No key has this secret (`API key not found`).", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The key is erased and cannot be changed (`API key is erased`).", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update(
    _: Admin,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let r: UpdateKeyRequest = parse_json(&body)?;
    let patch = KeyPatchInput {
        owner: r.owner,
        name: r.name,
        email: r.email,
        expires: r.expires,
        daily_limit: r.daily_limit,
        lifetime_limit: r.lifetime_limit,
        names: ["expires", "daily_limit", "lifetime_limit"],
    }
    .into_patch()?;
    let key = find(&state, path.into_inner()).await?;
    let service = KeyService::new(state.ports.clone());
    let updated = run_blocking(move || service.update(key.id, patch))
        .await?
        .ok_or_else(|| ApiError::NotFound("API key not found".to_owned()))?;
    Ok(HttpResponse::Ok().json(KeyResponse::of(&updated, None)))
}

/// `DELETE /keys/{key}` (admin): revoke (ending its sessions), or `?permanent=true` to delete
/// it with everything keyed to it.
///
/// # Errors
/// Admin checks; 404.
#[utoipa::path(
    delete,
    path = "/keys/{key}",
    tag = "lcyt",
    operation_id = "lcyt_keys_delete",
    summary = "Revoke a key, or delete it with `?permanent=true` (admin)",
    description = "Revoking ends the key's open sessions (their streams get `session_closed`) \
        and refuses its tokens; repeating it answers 200 again. `?permanent=true` deletes the \
        key and everything keyed to it (its rollups move to the anonymous bucket).",
    params(("key" = String, Path, description = KEY_PARAM), DeleteQuery),
    security(("admin_key" = []), ("user_token" = [])),
    responses(
        (status = 200, description = "`{key, revoked: true}` or, with `?permanent=true`, `{key, deleted: true}`; `key` is the secret as sent.", body = DeleteKeyResponse),
        (status = 404, description = "No key has this secret (`API key not found`).", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete(
    _: Admin,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<DeleteQuery>,
) -> Result<HttpResponse, ApiError> {
    let raw = path.into_inner();
    let key = find(&state, raw.clone()).await?;
    let service = KeyService::new(state.ports.clone());
    if query.permanent.as_deref() == Some("true") {
        run_blocking(move || service.delete(key.id)).await?;
        Ok(HttpResponse::Ok().json(DeleteKeyResponse::Deleted {
            key: raw,
            deleted: true,
        }))
    } else {
        run_blocking(move || service.revoke(key.id)).await?;
        Ok(HttpResponse::Ok().json(DeleteKeyResponse::Revoked {
            key: raw,
            revoked: true,
        }))
    }
}
