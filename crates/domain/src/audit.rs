//! Auth events: what happened at the door (session starts, refusals, limit hits).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::key::{KeyId, KeyRejection};
use crate::limits::LimitExceeded;
use crate::origin::Domain;
use crate::tenancy::{InvalidValue, OrgId};

/// The kind of an auth event (the lcyt `event_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthEventKind {
    /// A session was opened or joined.
    SessionStart,
    /// No key has the presented secret.
    UnknownKey,
    /// The key is revoked (or erased).
    Revoked,
    /// The key has expired.
    Expired,
    /// The domain is not on the allowlist.
    DomainNotAllowed,
    /// A request was refused by the daily limit.
    DailyLimitExceeded,
    /// A request was refused by the lifetime limit.
    LifetimeLimitExceeded,
}

impl AuthEventKind {
    /// Stored and wire form.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SessionStart => "session_start",
            Self::UnknownKey => "unknown_key",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
            Self::DomainNotAllowed => "domain_not_allowed",
            Self::DailyLimitExceeded => "daily_limit_exceeded",
            Self::LifetimeLimitExceeded => "lifetime_limit_exceeded",
        }
    }

    /// Parses the stored form.
    ///
    /// # Errors
    /// An unknown value.
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        [
            Self::SessionStart,
            Self::UnknownKey,
            Self::Revoked,
            Self::Expired,
            Self::DomainNotAllowed,
            Self::DailyLimitExceeded,
            Self::LifetimeLimitExceeded,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
        .ok_or_else(|| InvalidValue::new("unknown auth event kind"))
    }
}

impl From<KeyRejection> for AuthEventKind {
    fn from(r: KeyRejection) -> Self {
        match r {
            KeyRejection::UnknownKey => Self::UnknownKey,
            KeyRejection::Revoked | KeyRejection::Erased => Self::Revoked,
            KeyRejection::Expired => Self::Expired,
        }
    }
}

impl From<LimitExceeded> for AuthEventKind {
    fn from(l: LimitExceeded) -> Self {
        match l {
            LimitExceeded::Daily => Self::DailyLimitExceeded,
            LimitExceeded::Lifetime => Self::LifetimeLimitExceeded,
        }
    }
}

/// One auth event. A refusal for an unknown key has no key id; the presented secret is never
/// stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthEvent {
    /// The key, when known.
    pub key_id: Option<KeyId>,
    /// The key's organisation (the default one when the key is unknown).
    pub org_id: OrgId,
    /// What happened.
    pub kind: AuthEventKind,
    /// The site involved, if any.
    pub domain: Option<Domain>,
    /// When.
    pub occurred_at: OffsetDateTime,
}
