//! Whose usage a caller reads on the seed surfaces (DESIGN §4): admins everything, a user
//! their own, a key its user's (or only its own when it is bound to no user).

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use tally_domain::key::{ApiKey, KeyId};
use tally_domain::ports::KeyStore;
use tally_domain::tenancy::UserId;
use tally_domain::usage::{LogQuery, UsageEvent, UsageFilters};

use crate::error::ApiError;
use crate::principal::Principal;

/// The events a caller's "own" usage covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Everything (admins).
    All,
    /// One user's events.
    User(UserId),
    /// One key's events (a key bound to no user).
    Key(KeyId),
}

impl Scope {
    /// The caller's own usage: everything for admins.
    #[must_use]
    pub fn own(p: &Principal) -> Self {
        if p.is_admin() {
            return Self::All;
        }
        Self::personal(p).unwrap_or(Self::All)
    }

    /// The caller's personal usage ("me"), admins included: the user, else the key. `None`
    /// for the admin key, which is nobody.
    #[must_use]
    pub fn personal(p: &Principal) -> Option<Self> {
        p.user_id()
            .map(Self::User)
            .or_else(|| p.key().map(|k| Self::Key(k.id)))
    }

    /// [`Self::personal`], or 403 for the admin key.
    ///
    /// # Errors
    /// 403 when the caller is the admin key.
    pub fn me(p: &Principal) -> Result<Self, ApiError> {
        Self::personal(p).ok_or_else(|| {
            ApiError::Forbidden("This endpoint needs a user token or an API key".to_owned())
        })
    }

    /// Narrows rollup filters to this scope.
    #[must_use]
    pub fn filters(self, mut f: UsageFilters) -> UsageFilters {
        match self {
            Self::All => {}
            Self::User(u) => f.user_id = Some(u),
            Self::Key(k) => f.key_id = Some(k),
        }
        f
    }

    /// Narrows a log query to this scope.
    #[must_use]
    pub fn logs(self, mut q: LogQuery) -> LogQuery {
        match self {
            Self::All => {}
            Self::User(u) => q.user_id = Some(u),
            Self::Key(k) => q.key_id = Some(k),
        }
        q
    }
}

/// Whether `p` may see one event: admins, its user (or a key bound to its user), its key.
#[must_use]
pub fn may_see_event(p: &Principal, e: &UsageEvent) -> bool {
    p.is_admin()
        || e.data.user_id.is_some_and(|u| p.user_id() == Some(u))
        || p.key().is_some_and(|k| e.data.key_id == Some(k.id))
}

/// The keys `events` were charged to (for showing their alias or name; deleted keys are
/// absent).
///
/// # Errors
/// 503/500 from the store.
pub fn keys_of(
    keys: &dyn KeyStore,
    events: &[UsageEvent],
) -> Result<HashMap<KeyId, ApiKey>, ApiError> {
    let mut out = HashMap::new();
    for id in events.iter().filter_map(|e| e.data.key_id) {
        if let Entry::Vacant(slot) = out.entry(id) {
            if let Some(k) = keys.get_key(id)? {
                slot.insert(k);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tally_domain::tenancy::{OrgId, Role, User, Username};
    use tally_domain::usage::{EventKind, NewUsageEvent};
    use time::OffsetDateTime;
    use uuid::Uuid;

    fn user(n: u128, role: Role) -> Principal {
        Principal::User(User {
            id: UserId(Uuid::from_u128(n)),
            number: 0,
            org_id: OrgId::default_org(),
            username: Username::parse(&format!("u{n}")).unwrap(),
            email: None,
            role,
            created_at: OffsetDateTime::UNIX_EPOCH,
            erased_at: None,
        })
    }

    #[test]
    fn scopes_and_visibility() {
        let alice = user(1, Role::User);
        assert_eq!(Scope::own(&alice), Scope::User(UserId(Uuid::from_u128(1))));
        assert_eq!(Scope::own(&user(2, Role::Admin)), Scope::All);
        assert_eq!(Scope::own(&Principal::Admin), Scope::All);
        assert!(Scope::me(&Principal::Admin).is_err());
        let mut data = NewUsageEvent::new(
            OrgId::default_org(),
            EventKind::Usage,
            OffsetDateTime::UNIX_EPOCH,
        );
        data.user_id = Some(UserId(Uuid::from_u128(1)));
        let e = UsageEvent {
            id: Uuid::nil(),
            created_at: OffsetDateTime::UNIX_EPOCH,
            active: true,
            data,
        };
        assert!(may_see_event(&alice, &e));
        assert!(!may_see_event(&user(3, Role::User), &e));
        assert!(may_see_event(&Principal::Admin, &e));
        let f = Scope::User(UserId(Uuid::from_u128(1))).filters(UsageFilters::default());
        assert_eq!(f.user_id, Some(UserId(Uuid::from_u128(1))));
    }
}
