//! Tenancy: organisations and users.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

/// An organisation id, `org_` followed by letters, digits, `_` or `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OrgId(String);

/// The id of the organisation that exists from the start and owns everything not placed
/// elsewhere.
pub const DEFAULT_ORG_ID: &str = "org_default";

/// A value that failed validation; the message names the field and the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub String);

impl InvalidValue {
    pub(crate) fn new(msg: impl Into<String>) -> Self {
        Self(msg.into())
    }
}

impl OrgId {
    /// Validates an organisation id.
    ///
    /// # Errors
    /// When the value does not start with `org_`, is longer than 64 characters, or contains
    /// anything other than ASCII letters, digits, `_` and `-`.
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let ok = s.starts_with("org_")
            && s.len() > 4
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidValue::new(
                "org id must be org_ followed by 1-60 letters, digits, _ or -",
            ))
        }
    }

    /// The default organisation.
    #[must_use]
    pub fn default_org() -> Self {
        Self(DEFAULT_ORG_ID.to_owned())
    }

    /// The id as a string slice.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for OrgId {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<OrgId> for String {
    fn from(id: OrgId) -> Self {
        id.0
    }
}

impl fmt::Display for OrgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    /// Its id.
    pub id: OrgId,
    /// Display name, 1-200 characters.
    pub name: String,
    /// When it was created.
    pub created_at: OffsetDateTime,
}

/// A user id (a UUID).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserId(pub Uuid);

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What a user may do: admins see and change everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Sees everything, may change everything.
    Admin,
    /// Sees their own data.
    User,
}

impl Role {
    /// The stored and wire form.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::User => "user",
        }
    }

    /// Parses the stored and wire form.
    ///
    /// # Errors
    /// Anything other than `admin` or `user`.
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        match s {
            "admin" => Ok(Self::Admin),
            "user" => Ok(Self::User),
            _ => Err(InvalidValue::new("role must be admin or user")),
        }
    }
}

/// A unique login name: 1-64 characters of letters, digits, `.`, `_`, `-` or `@`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    /// Validates a username.
    ///
    /// # Errors
    /// Empty, longer than 64 characters, or with a character outside the allowed set.
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let ok = !s.is_empty()
            && s.chars().count() <= 64
            && s.chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidValue::new(
                "username must be 1-64 letters, digits, '.', '_', '-' or '@'",
            ))
        }
    }

    /// The name as a string slice.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An e-mail address in normalised form (trimmed, lower-case) that looks like `x@y.z`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// Normalises and validates an address.
    ///
    /// # Errors
    /// When the trimmed value is not of the form `local@domain.tld` without whitespace, or is
    /// longer than 254 characters.
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let s = s.trim().to_lowercase();
        let valid = s.len() <= 254
            && !s.chars().any(char::is_whitespace)
            && s.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain
                        .split_once('.')
                        .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty() && !b.ends_with('.'))
            });
        if valid {
            Ok(Self(s))
        } else {
            Err(InvalidValue::new("a valid email is required"))
        }
    }

    /// The normalised address.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// SHA-256 of the normalised address: kept after erasure to block a second free-tier key.
    #[must_use]
    pub fn hash(&self) -> EmailHash {
        EmailHash(Sha256::digest(self.0.as_bytes()).into())
    }
}

/// SHA-256 of a normalised e-mail address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EmailHash(pub [u8; 32]);

impl EmailHash {
    /// Lower-case hex form (how stores keep it).
    #[must_use]
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses the hex form.
    ///
    /// # Errors
    /// When the input is not 64 hex digits.
    pub fn from_hex(s: &str) -> Result<Self, InvalidValue> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| InvalidValue::new("bad email hash"))?;
        Ok(Self(out))
    }
}

/// A user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Its id.
    pub id: UserId,
    /// Its stable numeric identity, for the seed surfaces that show users as numbers
    /// (new-api's `user_id`): assigned by the store at creation from an increasing sequence,
    /// unique and never reused. The value passed to `TenantStore::create_user` is ignored.
    pub number: u64,
    /// The organisation it belongs to.
    pub org_id: OrgId,
    /// Unique login name.
    pub username: Username,
    /// Optional address.
    pub email: Option<Email>,
    /// Admin or user.
    pub role: Role,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// When the user's data was erased: their tokens are refused from then on.
    pub erased_at: Option<OffsetDateTime>,
}

/// Validates an organisation or key display name: 1-200 characters after trimming.
///
/// # Errors
/// When the trimmed value is empty or longer than 200 characters; the message names `field`.
pub fn parse_name(field: &str, s: &str) -> Result<String, InvalidValue> {
    let t = s.trim();
    if t.is_empty() || t.chars().count() > 200 {
        Err(InvalidValue(format!("{field} must be 1-200 characters")))
    } else {
        Ok(t.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn org_ids_are_validated() {
        assert!(OrgId::parse("org_abc-1").is_ok());
        assert!(OrgId::parse("org_").is_err());
        assert!(OrgId::parse("abc").is_err());
        assert!(OrgId::parse("org_a b").is_err());
    }

    #[test]
    fn emails_are_normalised_before_hashing() {
        let a = Email::parse("  Alice@Example.COM ").unwrap();
        let b = Email::parse("alice@example.com").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.hash(), b.hash());
        assert_eq!(EmailHash::from_hex(&a.hash().to_hex()).unwrap(), a.hash());
    }

    #[test]
    fn malformed_emails_are_rejected() {
        for bad in ["", "a", "a@b", "@b.c", "a@.c", "a b@c.d", "a@b.", "a@b@c.d"] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn usernames_and_roles() {
        assert!(Username::parse("alice.b@x").is_ok());
        assert!(Username::parse("").is_err());
        assert!(Username::parse("a b").is_err());
        assert_eq!(Role::parse("admin").unwrap(), Role::Admin);
        assert!(Role::parse("root").is_err());
        assert!(parse_name("name", "  ").is_err());
    }
}
