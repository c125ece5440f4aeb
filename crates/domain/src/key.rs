//! API keys: secrets, their hashes and aliases, and whether a key may be used.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::ids::IdGenerator;
use crate::limits::Limits;
use crate::tenancy::{Email, EmailHash, InvalidValue, OrgId, UserId};

/// The numeric id of a key (stable, never reused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyId(pub i64);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Prefix of every generated secret.
pub const SECRET_PREFIX: &str = "tk_";
/// Random characters after the prefix of a generated secret.
pub const SECRET_RANDOM_LEN: usize = 32;

/// A raw key secret as presented by a client. Only its [`SecretHash`] is ever stored.
#[derive(Clone, PartialEq, Eq)]
pub struct KeySecret(String);

impl fmt::Debug for KeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeySecret({})", alias_of(&self.0))
    }
}

impl KeySecret {
    /// A new secret: `tk_` and 32 random base62 characters.
    #[must_use]
    pub fn generate(ids: &dyn IdGenerator) -> Self {
        Self(format!("{SECRET_PREFIX}{}", ids.base62(SECRET_RANDOM_LEN)))
    }

    /// Validates a custom secret supplied by an admin.
    ///
    /// # Errors
    /// Shorter than 8 or longer than 256 characters, containing whitespace or a control or
    /// non-ASCII character, or shaped like a JWT.
    pub fn custom(s: &str) -> Result<Self, InvalidValue> {
        let ok = (8..=256).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic());
        // A Bearer value shaped like a JWT is read as a token, so such a key could never be used.
        let jwt_shaped = s.starts_with("eyJ") && s.matches('.').count() == 2;
        if jwt_shaped {
            Err(InvalidValue::new("key must not look like a JWT (eyJ….….…)"))
        } else if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidValue::new(
                "key must be 8-256 printable ASCII characters without whitespace",
            ))
        }
    }

    /// Wraps a secret presented for lookup. No validation: an unknown or malformed secret
    /// simply matches no key.
    #[must_use]
    pub fn presented(s: &str) -> Self {
        Self(s.to_owned())
    }

    /// The raw secret (shown to the client once, on creation).
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// SHA-256 of the secret: what stores keep and look up by.
    #[must_use]
    pub fn hash(&self) -> SecretHash {
        SecretHash(Sha256::digest(self.0.as_bytes()).into())
    }

    /// The redacted display form.
    #[must_use]
    pub fn alias(&self) -> String {
        alias_of(&self.0)
    }
}

/// Redacted display form of a secret: the first 6 and last 4 characters (`tk_AbC…wxYz`). Secrets
/// shorter than 16 characters show only 2 and 2, so an alias never reveals most of a short key.
#[must_use]
pub fn alias_of(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    let (head, tail) = if chars.len() >= 16 { (6, 4) } else { (2, 2) };
    let head: String = chars.iter().take(head).collect();
    let tail: String = chars[chars.len().saturating_sub(tail)..].iter().collect();
    format!("{head}…{tail}")
}

/// SHA-256 of a key secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SecretHash(pub [u8; 32]);

impl SecretHash {
    /// Lower-case hex (the stored form).
    #[must_use]
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses the stored form.
    ///
    /// # Errors
    /// When the input is not 64 hex digits.
    pub fn from_hex(s: &str) -> Result<Self, InvalidValue> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| InvalidValue::new("bad secret hash"))?;
        Ok(Self(out))
    }
}

/// Why a key cannot be used. The order of the checks is erased → revoked → expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyRejection {
    /// No key has this secret.
    UnknownKey,
    /// Revoked by an admin.
    Revoked,
    /// Erased on its subject's request.
    Erased,
    /// Past its expiry instant.
    Expired,
}

impl KeyRejection {
    /// The lcyt reason string (`API key <reason>`). An erased key reads as revoked, as lcyt
    /// clients know no other word for it.
    #[must_use]
    pub fn lcyt_reason(self) -> &'static str {
        match self {
            Self::UnknownKey => "unknown_key",
            Self::Revoked | Self::Erased => "revoked",
            Self::Expired => "expired",
        }
    }
}

/// A stored API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// Numeric id.
    pub id: KeyId,
    /// SHA-256 of the secret.
    pub secret_hash: SecretHash,
    /// Redacted display form of the secret.
    pub alias: String,
    /// Optional display name.
    pub name: Option<String>,
    /// Who the key belongs to (free text; `[erased]` after erasure).
    pub owner: String,
    /// Contact address (removed by erasure).
    pub email: Option<Email>,
    /// Hash of the normalised e-mail, kept after erasure for fraud prevention.
    pub email_hash: Option<EmailHash>,
    /// The user the key is bound to, if any.
    pub user_id: Option<UserId>,
    /// The organisation the key belongs to.
    pub org_id: OrgId,
    /// Creation instant.
    pub created_at: OffsetDateTime,
    /// First instant at which the key is no longer valid.
    pub expires_at: Option<OffsetDateTime>,
    /// False once revoked or erased.
    pub active: bool,
    /// When it was revoked.
    pub revoked_at: Option<OffsetDateTime>,
    /// When it was erased.
    pub erased_at: Option<OffsetDateTime>,
    /// Daily and lifetime limits.
    pub limits: Limits,
    /// Units counted over the key's whole life. Never reset.
    pub lifetime_used: u64,
    /// Caption sequence of the key's last accepted caption request.
    pub sequence: u64,
    /// When the key's last caption request was accepted.
    pub last_caption_at: Option<OffsetDateTime>,
}

impl ApiKey {
    /// Whether the key may be used at `now`. Order: erased → revoked → expired.
    ///
    /// # Errors
    /// The first reason that applies.
    pub fn check_usable(&self, now: OffsetDateTime) -> Result<(), KeyRejection> {
        if self.erased_at.is_some() {
            Err(KeyRejection::Erased)
        } else if !self.active || self.revoked_at.is_some() {
            Err(KeyRejection::Revoked)
        } else if self.expires_at.is_some_and(|at| now >= at) {
            Err(KeyRejection::Expired)
        } else {
            Ok(())
        }
    }
}

/// Everything needed to create a key. The store assigns the id and counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    /// The secret (generated or custom); only its hash and alias are stored.
    pub secret: KeySecret,
    /// Optional display name.
    pub name: Option<String>,
    /// Who it belongs to.
    pub owner: String,
    /// Contact address.
    pub email: Option<Email>,
    /// Bound user.
    pub user_id: Option<UserId>,
    /// Owning organisation.
    pub org_id: OrgId,
    /// Creation instant.
    pub created_at: OffsetDateTime,
    /// Expiry instant.
    pub expires_at: Option<OffsetDateTime>,
    /// Limits.
    pub limits: Limits,
    /// Refuse the key when any key (erased ones included) has or had this e-mail — checked
    /// atomically with the insert (self-service free-tier keys).
    pub email_must_be_new: bool,
}

/// A partial update of a key. `None` leaves a field alone; `Some(None)` clears it.
/// Changing limits never resets counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPatch {
    /// New owner.
    pub owner: Option<String>,
    /// New or cleared name.
    pub name: Option<Option<String>>,
    /// New or cleared e-mail (its hash follows).
    pub email: Option<Option<Email>>,
    /// New or cleared expiry.
    pub expires_at: Option<Option<OffsetDateTime>>,
    /// New or cleared daily limit.
    pub daily_limit: Option<Option<u64>>,
    /// New or cleared lifetime limit.
    pub lifetime_limit: Option<Option<u64>>,
}

impl KeyPatch {
    /// Applies the patch to a key (what every store does inside its update).
    pub fn apply_to(&self, key: &mut ApiKey) {
        if let Some(owner) = &self.owner {
            key.owner.clone_from(owner);
        }
        if let Some(name) = &self.name {
            key.name.clone_from(name);
        }
        if let Some(email) = &self.email {
            key.email_hash = email.as_ref().map(Email::hash).or(key.email_hash);
            key.email.clone_from(email);
        }
        if let Some(expires_at) = self.expires_at {
            key.expires_at = expires_at;
        }
        if let Some(daily) = self.daily_limit {
            key.limits.daily = daily;
        }
        if let Some(lifetime) = self.lifetime_limit {
            key.limits.lifetime = lifetime;
        }
    }
}

/// Which keys to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyFilter {
    /// Only keys of this organisation.
    pub org_id: Option<OrgId>,
    /// Only keys bound to this user.
    pub user_id: Option<UserId>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    pub(crate) fn key() -> ApiKey {
        let secret = KeySecret::presented("tk_abcdefghijklmnopqrstuvwxyz012345");
        ApiKey {
            id: KeyId(1),
            secret_hash: secret.hash(),
            alias: secret.alias(),
            name: None,
            owner: "Alice".into(),
            email: None,
            email_hash: None,
            user_id: None,
            org_id: OrgId::default_org(),
            created_at: datetime!(2026-01-01 0:00 UTC),
            expires_at: None,
            active: true,
            revoked_at: None,
            erased_at: None,
            limits: Limits::default(),
            lifetime_used: 0,
            sequence: 0,
            last_caption_at: None,
        }
    }

    #[test]
    fn alias_shows_six_and_four() {
        assert_eq!(
            alias_of("tk_abcdefghijklmnopqrstuvwxyz012345"),
            "tk_abc…2345"
        );
        assert_eq!(alias_of("shortkey"), "sh…ey");
    }

    #[test]
    fn custom_secrets_are_validated() {
        assert!(KeySecret::custom("abcd1234").is_ok());
        assert!(KeySecret::custom("abc123").is_err());
        assert!(KeySecret::custom("abcd 1234").is_err());
        assert!(KeySecret::custom("abcd\t1234").is_err());
        assert!(KeySecret::custom("abcdé1234").is_err());
        assert!(KeySecret::custom(&"x".repeat(257)).is_err());
        assert!(KeySecret::custom("eyJhbGciOi.eyJzdWIi.c2ln").is_err());
        assert!(KeySecret::custom("eyJ-not-a-token").is_ok());
    }

    #[test]
    fn hashing_is_stable_and_hex_round_trips() {
        let s = KeySecret::presented("abcd1234");
        assert_eq!(s.hash(), KeySecret::presented("abcd1234").hash());
        assert_ne!(s.hash(), KeySecret::presented("abcd1235").hash());
        assert_eq!(SecretHash::from_hex(&s.hash().to_hex()).unwrap(), s.hash());
        assert!(!format!("{s:?}").contains("abcd1234"));
    }

    #[test]
    fn expiry_starts_at_the_exact_instant() {
        let mut k = key();
        k.expires_at = Some(datetime!(2026-06-01 0:00 UTC));
        assert_eq!(
            k.check_usable(datetime!(2026-05-31 23:59:59.999999 UTC)),
            Ok(())
        );
        assert_eq!(
            k.check_usable(datetime!(2026-06-01 0:00 UTC)),
            Err(KeyRejection::Expired)
        );
    }

    #[test]
    fn rejection_order_is_erased_revoked_expired() {
        let now = datetime!(2026-06-02 0:00 UTC);
        let mut k = key();
        k.expires_at = Some(datetime!(2026-06-01 0:00 UTC));
        k.active = false;
        k.revoked_at = Some(now);
        k.erased_at = Some(now);
        assert_eq!(k.check_usable(now), Err(KeyRejection::Erased));
        k.erased_at = None;
        assert_eq!(k.check_usable(now), Err(KeyRejection::Revoked));
        k.active = true;
        k.revoked_at = None;
        assert_eq!(k.check_usable(now), Err(KeyRejection::Expired));
    }

    #[test]
    fn patch_never_resets_counters() {
        let mut k = key();
        k.lifetime_used = 7;
        let patch = KeyPatch {
            daily_limit: Some(Some(3)),
            lifetime_limit: Some(None),
            owner: Some("Bob".into()),
            ..KeyPatch::default()
        };
        patch.apply_to(&mut k);
        assert_eq!(k.lifetime_used, 7);
        assert_eq!(k.limits.daily, Some(3));
        assert_eq!(k.limits.lifetime, None);
        assert_eq!(k.owner, "Bob");
    }
}
