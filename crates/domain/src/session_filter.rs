//! Which open sessions a listing returns ([`crate::SessionStore::list_sessions`]): the
//! dashboard's live view and `GET /v1/sessions`. The filter is validated here, so a store never
//! sees an unbounded request.

use crate::key::KeyId;
use crate::origin::Domain;
use crate::session::Session;
use crate::tenancy::{InvalidValue, OrgId, UserId};

/// The most sessions one listing returns.
pub const MAX_SESSION_LIST: u32 = 1000;
/// The number a listing returns when none is asked for.
pub const DEFAULT_SESSION_LIST: u32 = 100;

/// How many sessions a listing may return: 1 to [`MAX_SESSION_LIST`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimit(u32);

impl SessionLimit {
    /// Checks the bound (never clamped: an out-of-range value is the caller's mistake).
    ///
    /// # Errors
    /// When `n` is 0 or above [`MAX_SESSION_LIST`].
    pub fn new(n: i64) -> Result<Self, InvalidValue> {
        u32::try_from(n)
            .ok()
            .filter(|n| (1..=MAX_SESSION_LIST).contains(n))
            .map(Self)
            .ok_or_else(|| InvalidValue::new("limit must be between 1 and 1000"))
    }

    /// The bound.
    #[must_use]
    pub fn get(self) -> u32 {
        self.0
    }
}

impl Default for SessionLimit {
    fn default() -> Self {
        Self(DEFAULT_SESSION_LIST)
    }
}

/// Open sessions to list: every given condition must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionFilter {
    /// Only sessions of this organisation.
    pub org_id: Option<OrgId>,
    /// Only sessions of keys bound to this user (how a user sees their own).
    pub user_id: Option<UserId>,
    /// Only sessions of this key.
    pub key_id: Option<KeyId>,
    /// Only sessions opened from this site (normalised form).
    pub domain: Option<Domain>,
}

impl SessionFilter {
    /// Whether `session`, whose key is bound to `key_user`, passes the filter.
    #[must_use]
    pub fn matches(&self, session: &Session, key_user: Option<UserId>) -> bool {
        self.org_id.as_ref().is_none_or(|o| *o == session.org_id)
            && self.user_id.is_none_or(|u| key_user == Some(u))
            && self.key_id.is_none_or(|k| k == session.key_id)
            && self.domain.as_ref().is_none_or(|d| *d == session.domain)
    }
}

/// The listing order: most recently started first, then by id (so equal starts have one
/// order on every store).
#[must_use]
pub fn listing_order(a: &Session, b: &Session) -> std::cmp::Ordering {
    b.started_at
        .cmp(&a.started_at)
        .then_with(|| a.id.cmp(&b.id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_checked_not_clamped() {
        assert_eq!(SessionLimit::default().get(), 100);
        assert_eq!(SessionLimit::new(1).unwrap().get(), 1);
        assert_eq!(SessionLimit::new(1000).unwrap().get(), 1000);
        assert!(SessionLimit::new(0).is_err());
        assert!(SessionLimit::new(1001).is_err());
        assert!(SessionLimit::new(-1).is_err());
    }
}
