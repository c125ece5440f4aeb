//! `/keys`: admin key management and self-service free-tier keys.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use tally_domain::key::ApiKey;
use tally_domain::limits::Limits;
use tally_domain::services::{CreateKey, KeyService};
use tally_domain::tenancy::{Email, OrgId};
use utoipa::openapi::schema::AnyOfBuilder;
use utoipa::openapi::{Ref, RefOr, Schema};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use crate::error::ApiError;
use crate::extract::parse_json;
use crate::key_patch::KeyPatchInput;
use crate::principal::{require_admin, Admin};
use crate::run_blocking;
use crate::state::AppState;
use crate::wire::{double_option, iso, limit, parse_instant};

/// `POST /keys` body (lcyt's field names); unknown fields are refused.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    /// The key's owner: 1-200 characters once trimmed.
    #[schema(required = true, nullable = false, min_length = 1, max_length = 200)]
    owner: Option<String>,
    /// The owner's address; stored trimmed and lower-cased.
    #[schema(format = "email", max_length = 254)]
    email: Option<String>,
    /// A custom secret (8-256 printable ASCII characters without whitespace, not shaped like
    /// a JWT); absent: `tk_` + 32 random base62 characters.
    #[schema(min_length = 8, max_length = 256, pattern = "^[!-~]+$")]
    key: Option<String>,
    /// A display name, 1-200 characters once trimmed.
    #[schema(min_length = 1, max_length = 200)]
    name: Option<String>,
    /// Expiry: an RFC 3339 date-time, or `YYYY-MM-DD` (midnight UTC: unusable from the start
    /// of that day); absent or `null`: never.
    #[schema(example = "2099-01-01")]
    expires: Option<String>,
    /// Captions (units) per UTC day; `null` or absent: unlimited, `0` blocks everything.
    #[schema(minimum = 0)]
    daily_limit: Option<i64>,
    /// Captions (units) over the key's life; `null` or absent: unlimited.
    #[schema(minimum = 0)]
    lifetime_limit: Option<i64>,
}

/// `POST /keys?freetier` body; other fields are ignored.
#[derive(Debug, Deserialize, ToSchema)]
pub struct FreeTierRequest {
    /// The owner's name, 1-200 characters once trimmed (`name is required`).
    #[schema(required = true, nullable = false, min_length = 1, max_length = 200)]
    name: Option<String>,
    /// The owner's address (`a valid email is required`); one free-tier key per address ever.
    #[schema(required = true, nullable = false, format = "email", max_length = 254)]
    email: Option<String>,
}

/// The body of `POST /keys`: [`CreateKeyRequest`] from an admin, [`FreeTierRequest`] with
/// `?freetier`. The query, not the body, picks which, so the document says "any of" (a body
/// can satisfy both); this type only describes the contract.
pub struct CreateKeyBody;

impl PartialSchema for CreateKeyBody {
    fn schema() -> RefOr<Schema> {
        AnyOfBuilder::new()
            .item(Ref::from_schema_name(CreateKeyRequest::name()))
            .item(Ref::from_schema_name(FreeTierRequest::name()))
            .description(Some(
                "`CreateKeyRequest` (admin), or `FreeTierRequest` with `?freetier`.",
            ))
            .into()
    }
}

impl ToSchema for CreateKeyBody {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((CreateKeyRequest::name().into(), CreateKeyRequest::schema()));
        schemas.push((FreeTierRequest::name().into(), FreeTierRequest::schema()));
    }
}

/// Query of `POST /keys`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CreateKeyQuery {
    /// Present (with any value, even empty): the self-service free-tier path, open to anyone
    /// when `FREE_APIKEY_ACTIVE` is on, else 404.
    pub freetier: Option<String>,
}

/// `PATCH /keys/{key}` body: only present fields change; `null` clears.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateKeyRequest {
    /// New owner, 1-200 characters once trimmed; `null` leaves it unchanged.
    #[schema(min_length = 1, max_length = 200)]
    owner: Option<String>,
    /// New display name (1-200 characters), or `null` to clear it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 200)]
    name: Option<Option<String>>,
    /// New address, or `null` to clear it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, format = "email", max_length = 254)]
    email: Option<Option<String>>,
    /// New expiry (as in `POST /keys`), or `null`: never expires.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    expires: Option<Option<String>>,
    /// New daily limit, or `null`: unlimited.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>, minimum = 0)]
    daily_limit: Option<Option<i64>>,
    /// New lifetime limit, or `null`: unlimited.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>, minimum = 0)]
    lifetime_limit: Option<Option<i64>>,
}

/// Query of `DELETE /keys/{key}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteQuery {
    /// Exactly `true`: delete the key and everything keyed to it; any other value, or none:
    /// revoke it.
    #[param(example = "true")]
    permanent: Option<String>,
}

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

/// The answer of `GET /keys`.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyListResponse {
    /// Every key, in creation order.
    pub keys: Vec<KeyResponse>,
}

/// The answer of `DELETE /keys/{key}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum DeleteKeyResponse {
    /// The key was revoked.
    Revoked {
        /// The secret as sent.
        key: String,
        /// Always `true`.
        revoked: bool,
    },
    /// The key was deleted (`?permanent=true`).
    Deleted {
        /// The secret as sent.
        key: String,
        /// Always `true`.
        deleted: bool,
    },
}

/// The lcyt key shape (camelCase); `key` (the raw secret) only when just created.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyResponse {
    /// The raw secret: only in the answer that created the key.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    key: Option<String>,
    /// The key's id.
    #[schema(minimum = 1)]
    id: i64,
    /// The redacted display form: the first 6 and last 4 characters (2 and 2 under 16).
    alias: String,
    /// The owner (`[erased]` after erasure).
    owner: String,
    /// The owner's address; `null` when none (or erased).
    #[schema(required = true, format = "email")]
    email: Option<String>,
    /// Neither revoked nor erased.
    active: bool,
    /// When it was created (UTC, milliseconds).
    #[schema(format = DateTime)]
    created_at: String,
    /// When it expires; `null`: never.
    #[schema(required = true, format = DateTime)]
    expires: Option<String>,
    /// Units per UTC day; `null`: unlimited.
    #[schema(required = true)]
    daily_limit: Option<u64>,
    /// Units over the key's life; `null`: unlimited.
    #[schema(required = true)]
    lifetime_limit: Option<u64>,
    /// Units used over the key's life (never reset).
    lifetime_used: u64,
    /// When it was revoked; `null` when not.
    #[schema(required = true, format = DateTime)]
    revoked_at: Option<String>,
    /// When its personal data was erased; `null` when not.
    #[schema(required = true, format = DateTime)]
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
