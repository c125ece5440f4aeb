//! The wire shapes of `/v1/users` and of erasure: request bodies and queries as the handlers
//! in `users` read them, and users, tokens and receipts as the answers write them. The schemas
//! of the OpenAPI document are derived from these same types.

use serde::{Deserialize, Serialize};
use tally_domain::erasure::ErasureReceipt;
use tally_domain::tenancy::{Role, User};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::wire::iso;

/// `POST /v1/users` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = v1::CreateUserRequest)]
pub struct CreateUserRequest {
    /// Unique login name: 1-64 letters or digits of any script, `.`, `_`, `-` or `@`. The
    /// pattern refuses every ASCII character outside that set; the handler also refuses other
    /// non-alphanumeric characters.
    #[schema(
        value_type = String,
        required = true,
        pattern = r"^[^\x00-,/:-?\[-\^`{-\x9F\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]{1,64}$"
    )]
    pub(super) username: Option<String>,
    /// Optional address.
    #[schema(schema_with = super::schema::optional_email)]
    pub(super) email: Option<String>,
    /// Default `user`.
    #[schema(value_type = Option<RoleName>)]
    pub(super) role: Option<String>,
    /// An existing organisation; default `org_default`.
    #[schema(schema_with = super::schema::org_id)]
    pub(super) org_id: Option<String>,
}

/// `POST /v1/users/{id}/tokens` body (optional: an empty body takes the defaults).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = v1::IssueTokenRequest)]
pub struct IssueTokenRequest {
    /// The token's lifetime in seconds; default 86,400 (one day), at most 90 days.
    #[schema(minimum = 1, maximum = 7_776_000)]
    pub(super) ttl_secs: Option<u64>,
}

/// Query of `GET /v1/users`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListUsersQuery {
    /// Only the users of this organisation (default: every organisation).
    #[param(schema_with = super::schema::org_id_param)]
    pub(super) org_id: Option<String>,
}

/// What a user may do: admins see and change everything, users their own data.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = v1::Role)]
pub enum RoleName {
    /// Acts as the admin key.
    Admin,
    /// Sees their own data.
    User,
}

impl From<Role> for RoleName {
    fn from(r: Role) -> Self {
        match r {
            Role::Admin => Self::Admin,
            Role::User => Self::User,
        }
    }
}

/// A user on the wire.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = v1::User)]
pub struct UserResponse {
    /// The user's id, how the v1 API names them.
    pub id: Uuid,
    /// The numeric identity the seed surfaces show (new-api's `user_id`).
    pub number: u64,
    /// Their organisation.
    #[schema(example = "org_default")]
    pub org_id: String,
    /// Login name (`erased-<32 hex digits>` once erased).
    pub username: String,
    /// Address, normalised; `null` when none (or erased).
    #[schema(required = true)]
    pub email: Option<String>,
    /// Role.
    pub role: RoleName,
    /// When the user was created.
    #[schema(schema_with = super::schema::time)]
    pub created_at: String,
    /// When the user's data was erased; `null` while not.
    #[schema(required = true, schema_with = super::schema::optional_time)]
    pub erased_at: Option<String>,
}

impl From<&User> for UserResponse {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.0,
            number: u.number,
            org_id: u.org_id.to_string(),
            username: u.username.as_str().to_owned(),
            email: u.email.as_ref().map(|e| e.as_str().to_owned()),
            role: u.role.into(),
            created_at: iso(u.created_at),
            erased_at: u.erased_at.map(iso),
        }
    }
}

/// `GET /v1/users` answer.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = v1::UserList)]
pub struct UserListResponse {
    /// The users, in creation order.
    pub users: Vec<UserResponse>,
}

/// `POST /v1/users/{id}/tokens` answer.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = v1::UserToken)]
pub struct IssueTokenResponse {
    /// The user token: a Bearer credential for every surface.
    pub token: String,
    /// Whose it is.
    pub user_id: Uuid,
    /// The user's role when it was issued (the stored role counts at each request).
    pub role: RoleName,
    /// When it stops being accepted.
    #[schema(schema_with = super::schema::time)]
    pub expires_at: String,
}

/// An erasure receipt: what was erased and when, with no personal data.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = v1::ErasureReceipt)]
pub struct ReceiptResponse {
    /// The erased key.
    pub key_id: i64,
    /// Its organisation.
    pub org_id: String,
    /// When it was erased.
    #[schema(schema_with = super::schema::time)]
    pub erased_at: String,
    /// Session records, caption errors, auth events and usage events removed.
    pub rows_deleted: u64,
}

impl From<&ErasureReceipt> for ReceiptResponse {
    fn from(r: &ErasureReceipt) -> Self {
        Self {
            key_id: r.key_id.0,
            org_id: r.org_id.to_string(),
            erased_at: iso(r.erased_at),
            rows_deleted: r.rows_deleted,
        }
    }
}

/// The answer of an erasure (`DELETE /v1/users/{id}/data`, `DELETE /v1/keys/{id}/data`).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = v1::Erasure)]
pub struct ErasureResponse {
    /// Always `true`.
    pub ok: bool,
    /// `Your data has been anonymised and deleted.`
    pub message: &'static str,
    /// One per key erased by this call: none when everything was already erased.
    pub receipts: Vec<ReceiptResponse>,
}

impl ErasureResponse {
    /// The answer listing `receipts`.
    pub(crate) fn new(receipts: &[ErasureReceipt]) -> Self {
        Self {
            ok: true,
            message: "Your data has been anonymised and deleted.",
            receipts: receipts.iter().map(ReceiptResponse::from).collect(),
        }
    }
}

/// `GET /v1/erasures` answer.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = v1::ErasureList)]
pub struct ErasureListResponse {
    /// Every receipt, oldest first.
    pub erasures: Vec<ReceiptResponse>,
}
