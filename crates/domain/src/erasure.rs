//! Erasure (GDPR): what is replaced, what is deleted, what is kept, and the receipt.
//!
//! Erasing a key, in one store transaction:
//! - replaces its owner with [`ERASED_OWNER`] and its e-mail with nothing, keeping the e-mail
//!   hash (fraud prevention: it blocks a new free-tier key for that address);
//! - deactivates it and sets `erased_at` (every token of the key is refused from then on);
//! - ends its open sessions with [`EndReason::Erased`](crate::session::EndReason), leaving no
//!   session record;
//! - deletes its session records, caption errors, auth events and raw usage events;
//! - moves its rollup contributions to the anonymous bucket
//!   ([`RollupKey::anonymised`](crate::usage::RollupKey::anonymised)), so organisation and site
//!   totals stay right while nothing links back to the subject;
//! - keeps `lifetime_used` (limits must survive erasure) and writes an [`ErasureReceipt`].
//!
//! Erasing an already-erased key deletes nothing more and writes no second receipt.
//!
//! Erasing a user erases every key bound to them as above, deletes the raw usage events
//! recorded for the user without one of their keys, moves every rollup row of the user to the
//! anonymous bucket and anonymises the user ([`anonymise_user`]), all in one transaction.
//! Receipts are per key: a user without keys leaves none.

use time::OffsetDateTime;

use crate::key::{ApiKey, KeyId};
use crate::session::SessionId;
use crate::tenancy::{OrgId, User, Username};

/// The owner an erased key shows.
pub const ERASED_OWNER: &str = "[erased]";

/// The key as it must look after erasure at `now`.
#[must_use]
pub fn anonymise(key: &ApiKey, now: OffsetDateTime) -> ApiKey {
    let mut k = key.clone();
    k.owner = ERASED_OWNER.to_owned();
    k.email_hash = key
        .email
        .as_ref()
        .map(crate::tenancy::Email::hash)
        .or(key.email_hash);
    k.email = None;
    k.name = None;
    k.active = false;
    k.erased_at = Some(key.erased_at.unwrap_or(now));
    k
}

/// The user as they must look after erasure at `now`: no e-mail, a username that says
/// nothing about them, `erased_at` set (their tokens are refused from then on). Role and
/// organisation stay so that anonymous totals remain attributable to an organisation.
#[must_use]
pub fn anonymise_user(user: &User, now: OffsetDateTime) -> User {
    if user.erased_at.is_some() {
        return user.clone();
    }
    let mut u = user.clone();
    u.username = Username::parse(&format!("erased-{}", user.id.0.simple()))
        .unwrap_or_else(|_| user.username.clone());
    u.email = None;
    u.erased_at = Some(now);
    u
}

/// Proof that a key was erased, with no personal data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErasureReceipt {
    /// The erased key.
    pub key_id: KeyId,
    /// Its organisation.
    pub org_id: OrgId,
    /// When.
    pub erased_at: OffsetDateTime,
    /// Rows deleted (session records, caption errors, auth events, usage events).
    pub rows_deleted: u64,
}

/// What an erasure did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErasureOutcome {
    /// One receipt per key erased by this call (none for keys already erased).
    pub receipts: Vec<ErasureReceipt>,
    /// Sessions it closed (their subscribers must be told).
    pub closed_sessions: Vec<SessionId>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::KeySecret;
    use crate::limits::Limits;
    use crate::tenancy::Email;
    use time::macros::datetime;

    fn key() -> ApiKey {
        let s = KeySecret::presented("tk_abcdefghijklmnopqrstuvwxyz012345");
        let email = Email::parse("alice@example.com").unwrap();
        ApiKey {
            id: KeyId(9),
            secret_hash: s.hash(),
            alias: s.alias(),
            name: Some("laptop".into()),
            owner: "Alice".into(),
            email_hash: Some(email.hash()),
            email: Some(email),
            user_id: None,
            org_id: OrgId::default_org(),
            created_at: datetime!(2026-01-01 0:00 UTC),
            expires_at: None,
            active: true,
            revoked_at: None,
            erased_at: None,
            limits: Limits {
                daily: Some(10),
                lifetime: Some(100),
            },
            lifetime_used: 42,
            sequence: 3,
            last_caption_at: None,
        }
    }

    #[test]
    fn the_plan_replaces_personal_data_and_keeps_counters() {
        let now = datetime!(2026-02-01 12:00 UTC);
        let k = key();
        let e = anonymise(&k, now);
        assert_eq!(e.owner, ERASED_OWNER);
        assert_eq!(e.email, None);
        assert_eq!(e.name, None);
        assert_eq!(
            e.email_hash,
            Some(Email::parse("alice@example.com").unwrap().hash())
        );
        assert!(!e.active);
        assert_eq!(e.erased_at, Some(now));
        assert_eq!(e.lifetime_used, 42);
        assert_eq!(e.limits, k.limits);
        assert_eq!(e.check_usable(now), Err(crate::key::KeyRejection::Erased));
    }

    #[test]
    fn erased_users_keep_no_name_or_address() {
        let user = User {
            id: crate::tenancy::UserId(uuid::Uuid::from_u128(7)),
            number: 0,
            org_id: OrgId::default_org(),
            username: Username::parse("alice").unwrap(),
            email: Some(Email::parse("alice@example.com").unwrap()),
            role: crate::tenancy::Role::User,
            created_at: datetime!(2026-01-01 0:00 UTC),
            erased_at: None,
        };
        let now = datetime!(2026-02-01 0:00 UTC);
        let e = anonymise_user(&user, now);
        assert_eq!(
            e.username.as_str(),
            "erased-00000000000000000000000000000007"
        );
        assert_eq!(
            (e.email.clone(), e.erased_at, e.role),
            (None, Some(now), user.role)
        );
        assert_eq!(anonymise_user(&e, datetime!(2026-03-01 0:00 UTC)), e);
    }

    #[test]
    fn erasing_twice_keeps_the_first_instant() {
        let first = anonymise(&key(), datetime!(2026-02-01 12:00 UTC));
        let second = anonymise(&first, datetime!(2026-03-01 12:00 UTC));
        assert_eq!(second, first);
    }
}
