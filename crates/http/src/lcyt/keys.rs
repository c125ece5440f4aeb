//! `/keys`: admin key management and self-service free-tier keys.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::json;
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
use crate::wire::{double_option, iso, limit, parse_instant};

/// `POST /keys` body (lcyt's field names).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    owner: Option<String>,
    email: Option<String>,
    key: Option<String>,
    name: Option<String>,
    expires: Option<String>,
    daily_limit: Option<i64>,
    lifetime_limit: Option<i64>,
}

/// `POST /keys?freetier` body.
#[derive(Debug, Deserialize)]
pub struct FreeTierRequest {
    name: Option<String>,
    email: Option<String>,
}

/// `PATCH /keys/{key}` body: only present fields change; `null` clears.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateKeyRequest {
    owner: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    name: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    email: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    expires: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    daily_limit: Option<Option<i64>>,
    #[serde(default, deserialize_with = "double_option")]
    lifetime_limit: Option<Option<i64>>,
}

/// Query of `DELETE /keys/{key}`.
#[derive(Debug, Deserialize)]
pub struct DeleteQuery {
    permanent: Option<String>,
}

fn email(field: &str, s: &str) -> Result<Email, ApiError> {
    Email::parse(s).map_err(|_| ApiError::BadRequest(format!("{field} must be a valid email")))
}

/// `POST /keys` (admin) and `POST /keys?freetier` (self-service, when enabled).
///
/// # Errors
/// See docs/API.md.
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

/// `GET /keys` (admin): every key, in creation order.
///
/// # Errors
/// Admin checks; store.
pub async fn list(_: Admin, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let keys = state.ports.stores.keys.clone();
    let all =
        run_blocking(move || keys.list_keys(&tally_domain::key::KeyFilter::default())).await?;
    let shaped: Vec<KeyResponse> = all.iter().map(|k| KeyResponse::of(k, None)).collect();
    Ok(HttpResponse::Ok().json(json!({ "keys": shaped })))
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
/// Admin checks; 400; 404.
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
        Ok(HttpResponse::Ok().json(json!({ "key": raw, "deleted": true })))
    } else {
        run_blocking(move || service.revoke(key.id)).await?;
        Ok(HttpResponse::Ok().json(json!({ "key": raw, "revoked": true })))
    }
}

/// The lcyt key shape (camelCase); `key` (the raw secret) only when just created.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    id: i64,
    alias: String,
    owner: String,
    email: Option<String>,
    active: bool,
    created_at: String,
    expires: Option<String>,
    daily_limit: Option<u64>,
    lifetime_limit: Option<u64>,
    lifetime_used: u64,
    revoked_at: Option<String>,
    erased_at: Option<String>,
}

impl KeyResponse {
    /// The shape of a stored key; pass the secret only in the response that created it.
    #[must_use]
    pub fn of(k: &ApiKey, secret: Option<&str>) -> Self {
        Self {
            key: secret.map(ToOwned::to_owned),
            id: k.id.0,
            alias: k.alias.clone(),
            owner: k.owner.clone(),
            email: k.email.as_ref().map(|e| e.as_str().to_owned()),
            active: k.active,
            created_at: iso(k.created_at),
            expires: k.expires_at.map(iso),
            daily_limit: k.limits.daily,
            lifetime_limit: k.limits.lifetime,
            lifetime_used: k.lifetime_used,
            revoked_at: k.revoked_at.map(iso),
            erased_at: k.erased_at.map(iso),
        }
    }
}
