//! Builders for the values tests need, with sensible defaults.

use std::sync::atomic::{AtomicU64, Ordering};

use tally_domain::key::{ApiKey, KeySecret, NewApiKey};
use tally_domain::limits::{Limits, Units};
use tally_domain::origin::Domain;
use tally_domain::ports::{KeyRef, MeterRequest};
use tally_domain::services::Stores;
use tally_domain::session::{OpenSession, SessionId};
use tally_domain::tenancy::{Email, Org, OrgId, Role, User, UserId, Username};
use tally_domain::usage::{EventKind, NewUsageEvent};
use time::macros::datetime;
use time::OffsetDateTime;
use uuid::Uuid;

/// The instant most tests start at: a Tuesday, midday UTC.
pub const T0: OffsetDateTime = datetime!(2026-03-10 12:00 UTC);

/// A deterministic uuid.
#[must_use]
pub fn uuid(n: u128) -> Uuid {
    Uuid::from_u128(0x1000_0000_0000_4000_8000_0000_0000_0000 | n)
}

/// A normalised domain.
#[must_use]
pub fn domain(s: &str) -> Domain {
    Domain::parse(s).unwrap()
}

/// A new key in the default organisation with the given secret and limits.
#[must_use]
pub fn new_key(secret: &str, limits: Limits) -> NewApiKey {
    NewApiKey {
        secret: KeySecret::custom(secret).unwrap(),
        name: None,
        owner: format!("owner of {secret}"),
        email: None,
        user_id: None,
        org_id: OrgId::default_org(),
        created_at: T0,
        expires_at: None,
        limits,
        email_must_be_new: false,
    }
}

/// Stores a key with these limits.
#[must_use]
pub fn create_key(stores: &Stores, secret: &str, limits: Limits) -> ApiKey {
    stores.keys.create_key(new_key(secret, limits)).unwrap()
}

/// Stores a key with an e-mail.
#[must_use]
pub fn create_key_with_email(stores: &Stores, secret: &str, email: &str) -> ApiKey {
    let mut k = new_key(secret, Limits::default());
    k.email = Some(Email::parse(email).unwrap());
    stores.keys.create_key(k).unwrap()
}

/// Stores an organisation.
#[must_use]
pub fn create_org(stores: &Stores, id: &str) -> Org {
    let org = Org {
        id: OrgId::parse(id).unwrap(),
        name: format!("{id} name"),
        created_at: T0,
    };
    stores.tenants.create_org(org).unwrap()
}

/// Stores a user.
#[must_use]
pub fn create_user(stores: &Stores, n: u128, username: &str, org: &OrgId) -> User {
    let user = User {
        id: UserId(uuid(n)),
        number: 0,
        org_id: org.clone(),
        username: Username::parse(username).unwrap(),
        email: None,
        role: Role::User,
        created_at: T0,
        erased_at: None,
    };
    stores.tenants.create_user(user).unwrap()
}

/// Limits with these values.
#[must_use]
pub fn limits(daily: Option<u64>, lifetime: Option<u64>) -> Limits {
    Limits { daily, lifetime }
}

/// The spec for opening a session of `key` (whose secret is `secret`) on `site`.
#[must_use]
pub fn open_spec(key: &ApiKey, secret: &str, site: &str, now: OffsetDateTime) -> OpenSession {
    let domain = domain(site);
    OpenSession {
        id: SessionId::derive(&KeySecret::presented(secret), None, &domain),
        key_id: key.id,
        org_id: key.org_id.clone(),
        domain,
        stream_key: None,
        sequence: 0,
        targets: None,
        now,
    }
}

/// A minimal request event in `org` at `at`.
#[must_use]
pub fn event(org: &OrgId, at: OffsetDateTime) -> NewUsageEvent {
    NewUsageEvent::new(org.clone(), EventKind::Request, at)
}

/// A fresh event id from a process-wide counter (distinct from [`uuid()`]'s range).
#[must_use]
pub fn next_event_id() -> Uuid {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    Uuid::from_u128(0x2000_0000_0000_4000_8000_0000_0000_0000 | u128::from(n))
}

/// A caption meter of `session` as a session token names it: the key by organisation and id.
#[must_use]
pub fn caption_meter(
    key: &ApiKey,
    session: &SessionId,
    units: u64,
    now: OffsetDateTime,
) -> MeterRequest {
    let mut req = meter(key, units, now);
    req.key = KeyRef::InOrg(key.org_id.clone(), key.id);
    req.session = Some(session.clone());
    req
}

/// A meter request of `units` for `key` (named by id) at `now`.
#[must_use]
pub fn meter(key: &ApiKey, units: u64, now: OffsetDateTime) -> MeterRequest {
    let mut e = event(&key.org_id, now);
    e.units = units;
    MeterRequest {
        event_id: next_event_id(),
        key: key.id.into(),
        units: Units::new(i64::try_from(units).unwrap()).unwrap(),
        event: e,
        session: None,
        session_lifetime: None,
        now,
    }
}
