//! The wire shapes of `/v1/keys`: request bodies and queries as the handlers in `keys` read
//! them, and the key as every answer writes it. Apart from the handlers so both files stay
//! readable; the schemas of the OpenAPI document are derived from these same types.

use serde::{Deserialize, Serialize};
use tally_domain::key::ApiKey;
use tally_domain::tenancy::Email;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::wire::{double_option, iso};

/// `POST /v1/keys` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = v1::CreateKeyRequest)]
pub struct CreateKeyRequest {
    /// Binds the key to this user (who must exist and not be erased); the key takes their
    /// organisation.
    pub(super) user_id: Option<Uuid>,
    /// The key's organisation; default the user's, else `org_default`. Must exist.
    #[schema(schema_with = super::schema::org_id)]
    pub(super) org_id: Option<String>,
    /// Display name.
    #[schema(schema_with = super::schema::nullable_display_name)]
    pub(super) name: Option<String>,
    /// Owner; default the user's username, else `name`, else `api`.
    #[schema(schema_with = super::schema::nullable_display_name)]
    pub(super) owner: Option<String>,
    /// Contact address.
    #[schema(schema_with = super::schema::optional_email)]
    pub(super) email: Option<String>,
    /// Units per UTC day.
    #[schema(schema_with = super::schema::limit)]
    pub(super) daily_limit: Option<i64>,
    /// Units over the key's life.
    #[schema(schema_with = super::schema::limit)]
    pub(super) lifetime_limit: Option<i64>,
    /// When the key stops working; default never.
    #[schema(schema_with = super::schema::optional_instant)]
    pub(super) expires_at: Option<String>,
    /// A custom secret: 8-256 printable ASCII characters without white space, not shaped like
    /// a JWT (`eyJ….….…`). Default `tk_` and 32 random base62 characters.
    #[schema(pattern = "^[!-~]{8,256}$")]
    pub(super) key: Option<String>,
}

/// `PATCH /v1/keys/{id}` body: present fields change, `null` clears.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = v1::UpdateKeyRequest)]
pub struct UpdateKeyRequest {
    /// New owner; `null` leaves it unchanged.
    #[schema(schema_with = super::schema::nullable_display_name)]
    pub(super) owner: Option<String>,
    /// New display name, or `null` to clear it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(schema_with = super::schema::nullable_display_name)]
    pub(super) name: Option<Option<String>>,
    /// New address, or `null` to clear it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(schema_with = super::schema::optional_email)]
    pub(super) email: Option<Option<String>>,
    /// New daily limit, or `null` for unlimited.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(schema_with = super::schema::limit)]
    pub(super) daily_limit: Option<Option<i64>>,
    /// New lifetime limit, or `null` for unlimited.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(schema_with = super::schema::limit)]
    pub(super) lifetime_limit: Option<Option<i64>>,
    /// New expiry, or `null` for never.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(schema_with = super::schema::optional_instant)]
    pub(super) expires_at: Option<Option<String>>,
}

/// Query of `GET /v1/keys` (admins only; ignored for other callers).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListKeysQuery {
    /// Only the keys bound to this user.
    pub(super) user_id: Option<Uuid>,
    /// Only the keys of this organisation.
    #[param(schema_with = super::schema::org_id_param)]
    pub(super) org_id: Option<String>,
}

/// Query of `DELETE /v1/keys/{id}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteQuery {
    /// `true` deletes the key with its history; otherwise (default) it is revoked.
    pub(super) permanent: Option<bool>,
}

/// An API key on the wire, without its secret.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = v1::Key)]
pub struct KeyResponse {
    /// Its id.
    pub id: i64,
    /// A redacted form of the secret: its first 6 and last 4 characters.
    pub alias: String,
    /// Display name.
    #[schema(required = true)]
    pub name: Option<String>,
    /// Owner (`[erased]` once erased).
    pub owner: String,
    /// Contact address.
    #[schema(required = true)]
    pub email: Option<String>,
    /// The user it is bound to.
    #[schema(required = true)]
    pub user_id: Option<Uuid>,
    /// Its organisation.
    #[schema(example = "org_default")]
    pub org_id: String,
    /// False once revoked or erased.
    pub active: bool,
    /// When it was created.
    #[schema(schema_with = super::schema::time)]
    pub created_at: String,
    /// When it stops working.
    #[schema(required = true, schema_with = super::schema::optional_time)]
    pub expires_at: Option<String>,
    /// When it was revoked.
    #[schema(required = true, schema_with = super::schema::optional_time)]
    pub revoked_at: Option<String>,
    /// When its data was erased.
    #[schema(required = true, schema_with = super::schema::optional_time)]
    pub erased_at: Option<String>,
    /// Units per UTC day; `null` is unlimited.
    #[schema(required = true)]
    pub daily_limit: Option<u64>,
    /// Units over its life; `null` is unlimited.
    #[schema(required = true)]
    pub lifetime_limit: Option<u64>,
    /// Units used over its life (never reset).
    pub lifetime_used: u64,
}

impl From<&ApiKey> for KeyResponse {
    fn from(k: &ApiKey) -> Self {
        Self {
            id: k.id.0,
            alias: k.alias.clone(),
            name: k.name.clone(),
            owner: k.owner.clone(),
            email: k.email.as_ref().map(|e| Email::as_str(e).to_owned()),
            user_id: k.user_id.map(|u| u.0),
            org_id: k.org_id.to_string(),
            active: k.active,
            created_at: iso(k.created_at),
            expires_at: k.expires_at.map(iso),
            revoked_at: k.revoked_at.map(iso),
            erased_at: k.erased_at.map(iso),
            daily_limit: k.limits.daily,
            lifetime_limit: k.limits.lifetime,
            lifetime_used: k.lifetime_used,
        }
    }
}

/// `POST /v1/keys` answer: the key and, this once, its secret.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = v1::CreatedKey)]
pub struct CreateKeyResponse {
    /// The key.
    #[serde(flatten)]
    pub key: KeyResponse,
    /// The secret: shown only here (only its SHA-256 is stored).
    #[serde(rename = "key")]
    #[schema(example = "tk_3kQ9rT2mXwLp8vYz1aB4cD5eF6gH7iJ0")]
    pub secret: String,
}

/// `GET /v1/keys` answer.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = v1::KeyList)]
pub struct KeyListResponse {
    /// The keys the caller may see, by id.
    pub keys: Vec<KeyResponse>,
}

/// `DELETE /v1/keys/{id}` answer: a revocation, or (`?permanent=true`) a deletion.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
#[schema(as = v1::KeyRemoval)]
pub enum DeleteKeyResponse {
    /// Without `permanent`.
    Revoked {
        /// The key's id.
        id: i64,
        /// `true` (`false` only when the key was deleted meanwhile).
        revoked: bool,
    },
    /// With `permanent=true`.
    Deleted {
        /// The key's id.
        id: i64,
        /// Always `true`.
        deleted: bool,
    },
}
