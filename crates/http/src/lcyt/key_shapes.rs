//! The bodies, queries and answers of `/keys` (lcyt's field names in requests, camelCase in
//! answers), with their OpenAPI schemas.

use serde::{Deserialize, Serialize};
use tally_domain::key::ApiKey;
use utoipa::openapi::schema::AnyOfBuilder;
use utoipa::openapi::{Ref, RefOr, Schema};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use crate::wire::{double_option, iso};

/// `POST /keys` body (lcyt's field names); unknown fields are refused.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    /// The key's owner: 1-200 characters once trimmed.
    #[schema(required = true, nullable = false, min_length = 1, max_length = 200)]
    pub(super) owner: Option<String>,
    /// The owner's address; stored trimmed and lower-cased.
    #[schema(format = "email", max_length = 254)]
    pub(super) email: Option<String>,
    /// A custom secret (8-256 printable ASCII characters without whitespace, not shaped like
    /// a JWT); absent: `tk_` + 32 random base62 characters.
    #[schema(min_length = 8, max_length = 256, pattern = "^[!-~]+$")]
    pub(super) key: Option<String>,
    /// A display name, 1-200 characters once trimmed.
    #[schema(min_length = 1, max_length = 200)]
    pub(super) name: Option<String>,
    /// Expiry: an RFC 3339 date-time, or `YYYY-MM-DD` (midnight UTC: unusable from the start
    /// of that day); absent or `null`: never.
    #[schema(example = "2099-01-01")]
    pub(super) expires: Option<String>,
    /// Captions (units) per UTC day; `null` or absent: unlimited, `0` blocks everything.
    #[schema(minimum = 0)]
    pub(super) daily_limit: Option<i64>,
    /// Captions (units) over the key's life; `null` or absent: unlimited.
    #[schema(minimum = 0)]
    pub(super) lifetime_limit: Option<i64>,
}

/// `POST /keys?freetier` body; other fields are ignored.
#[derive(Debug, Deserialize, ToSchema)]
pub struct FreeTierRequest {
    /// The owner's name, 1-200 characters once trimmed (`name is required`).
    #[schema(required = true, nullable = false, min_length = 1, max_length = 200)]
    pub(super) name: Option<String>,
    /// The owner's address (`a valid email is required`); one free-tier key per address ever.
    #[schema(required = true, nullable = false, format = "email", max_length = 254)]
    pub(super) email: Option<String>,
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
    pub(super) owner: Option<String>,
    /// New display name (1-200 characters), or `null` to clear it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 200)]
    pub(super) name: Option<Option<String>>,
    /// New address, or `null` to clear it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, format = "email", max_length = 254)]
    pub(super) email: Option<Option<String>>,
    /// New expiry (as in `POST /keys`), or `null`: never expires.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub(super) expires: Option<Option<String>>,
    /// New daily limit, or `null`: unlimited.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>, minimum = 0)]
    pub(super) daily_limit: Option<Option<i64>>,
    /// New lifetime limit, or `null`: unlimited.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>, minimum = 0)]
    pub(super) lifetime_limit: Option<Option<i64>>,
}

/// Query of `DELETE /keys/{key}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteQuery {
    /// Exactly `true`: delete the key and everything keyed to it; any other value, or none:
    /// revoke it.
    #[param(example = "true")]
    pub(super) permanent: Option<String>,
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
