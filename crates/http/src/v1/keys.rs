//! `/v1/keys`: API keys with numeric ids, bound to users and organisations.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};
use tally_domain::key::{ApiKey, KeyFilter, KeyId};
use tally_domain::limits::Limits;
use tally_domain::services::{CreateKey, ErasureService, KeyService};
use tally_domain::tenancy::{Email, OrgId, UserId};
use uuid::Uuid;

use super::users::receipt_json;
use crate::error::ApiError;
use crate::extract::parse_json;
use crate::key_patch::KeyPatchInput;
use crate::principal::Principal;
use crate::run_blocking;
use crate::state::AppState;
use crate::wire::{double_option, iso, limit, parse_instant};

/// `POST /v1/keys` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    user_id: Option<Uuid>,
    org_id: Option<String>,
    name: Option<String>,
    owner: Option<String>,
    email: Option<String>,
    daily_limit: Option<i64>,
    lifetime_limit: Option<i64>,
    expires_at: Option<String>,
    key: Option<String>,
}

/// `PATCH /v1/keys/{id}` body: present fields change, `null` clears.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateKeyRequest {
    owner: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    name: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    email: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    daily_limit: Option<Option<i64>>,
    #[serde(default, deserialize_with = "double_option")]
    lifetime_limit: Option<Option<i64>>,
    #[serde(default, deserialize_with = "double_option")]
    expires_at: Option<Option<String>>,
}

/// Query of `GET /v1/keys`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListKeysQuery {
    user_id: Option<Uuid>,
    org_id: Option<String>,
}

/// Query of `DELETE /v1/keys/{id}`.
#[derive(Debug, Deserialize)]
pub struct DeleteQuery {
    permanent: Option<bool>,
}

/// The wire shape of a key; `key` (the secret) only when just created.
#[must_use]
pub fn key_json(k: &ApiKey, secret: Option<&str>) -> Value {
    let mut v = json!({
        "id": k.id,
        "alias": k.alias,
        "name": k.name,
        "owner": k.owner,
        "email": k.email.as_ref().map(Email::as_str),
        "user_id": k.user_id,
        "org_id": k.org_id,
        "active": k.active,
        "created_at": iso(k.created_at),
        "expires_at": k.expires_at.map(iso),
        "revoked_at": k.revoked_at.map(iso),
        "erased_at": k.erased_at.map(iso),
        "daily_limit": k.limits.daily,
        "lifetime_limit": k.limits.lifetime,
        "lifetime_used": k.lifetime_used,
    });
    if let (Some(s), Some(o)) = (secret, v.as_object_mut()) {
        o.insert("key".to_owned(), json!(s));
    }
    v
}

fn bad(e: tally_domain::tenancy::InvalidValue) -> ApiError {
    ApiError::BadRequest(e.0)
}

/// `POST /v1/keys` (admin): a key for a user (taking the user's organisation) or an org.
///
/// # Errors
/// 400 (unknown user, org mismatch, bad fields), 403, 409.
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
    Ok(HttpResponse::Created().json(key_json(&issued.key, Some(issued.secret.expose()))))
}

/// `GET /v1/keys`: admins see all (optionally by `user_id`/`org_id`); users their own keys; a
/// key itself.
///
/// # Errors
/// 400, 401.
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
        let own = p
            .key()
            .map(|k| key_json(k, None))
            .into_iter()
            .collect::<Vec<_>>();
        return Ok(HttpResponse::Ok().json(json!({ "keys": own })));
    };
    let keys = state.ports.stores.keys.clone();
    let all = run_blocking(move || keys.list_keys(&filter)).await?;
    Ok(HttpResponse::Ok()
        .json(json!({ "keys": all.iter().map(|k| key_json(k, None)).collect::<Vec<_>>() })))
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
pub async fn get(
    p: Principal,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(key_json(&visible_key(&p, &state, &path).await?, None)))
}

/// `PATCH /v1/keys/{id}` (admin): validated whole, then applied; counters stay.
///
/// # Errors
/// 400, 403, 404.
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
    Ok(HttpResponse::Ok().json(key_json(&updated, None)))
}

/// `DELETE /v1/keys/{id}` (admin): revoke, or `?permanent=true` to delete with its history.
///
/// # Errors
/// 403, 404.
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
        Ok(HttpResponse::Ok().json(json!({ "id": key.id, "deleted": true })))
    } else {
        let revoked = run_blocking(move || service.revoke(key.id)).await?;
        Ok(HttpResponse::Ok().json(json!({ "id": key.id, "revoked": revoked.is_some() })))
    }
}

/// `DELETE /v1/keys/{id}/data` (admin): erase one key (GDPR), as `DELETE /stats` does for a
/// session's own key: `200 {ok, message, receipts}` (none when it was already erased).
///
/// # Errors
/// 403, 404.
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
    let receipts: Vec<Value> = outcome.receipts.iter().map(receipt_json).collect();
    Ok(HttpResponse::Ok().json(json!({
        "ok": true,
        "message": "Your data has been anonymised and deleted.",
        "receipts": receipts,
    })))
}
