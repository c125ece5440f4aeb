//! Validation of a key update as the lcyt and v1 surfaces receive it: every field checked, with
//! the surface's own field names in the messages, before anything changes.

use tally_domain::key::KeyPatch;
use tally_domain::tenancy::Email;

use crate::error::ApiError;
use crate::wire::{limit, parse_instant};

/// The fields of a key update as a surface received them (`None` absent, `Some(None)` null),
/// with the names that surface gives them for error messages.
#[derive(Debug, Default)]
pub struct KeyPatchInput {
    /// New owner.
    pub owner: Option<String>,
    /// New or cleared name.
    pub name: Option<Option<String>>,
    /// New or cleared e-mail.
    pub email: Option<Option<String>>,
    /// New or cleared expiry (RFC 3339 or a date).
    pub expires: Option<Option<String>>,
    /// New or cleared daily limit.
    pub daily_limit: Option<Option<i64>>,
    /// New or cleared lifetime limit.
    pub lifetime_limit: Option<Option<i64>>,
    /// How the surface names `expires`, `daily_limit` and `lifetime_limit`.
    pub names: [&'static str; 3],
}

impl KeyPatchInput {
    /// Validates every field (all of them before anything changes) into a domain patch.
    ///
    /// # Errors
    /// 400 naming the first bad field.
    pub fn into_patch(self) -> Result<KeyPatch, ApiError> {
        let [expires, daily, lifetime] = self.names;
        let email = |e: &str| {
            Email::parse(e)
                .map_err(|_| ApiError::BadRequest("email must be a valid email".to_owned()))
        };
        Ok(KeyPatch {
            owner: self.owner,
            name: self.name,
            email: self
                .email
                .map(|e| e.as_deref().map(email).transpose())
                .transpose()?,
            expires_at: self
                .expires
                .map(|e| e.as_deref().map(|e| parse_instant(expires, e)).transpose())
                .transpose()?,
            daily_limit: self.daily_limit.map(|l| limit(daily, l)).transpose()?,
            lifetime_limit: self
                .lifetime_limit
                .map(|l| limit(lifetime, l))
                .transpose()?,
        })
    }
}
