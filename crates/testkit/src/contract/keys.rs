//! `KeyStore`: keys, counters, auth events, hard delete.

use tally_domain::audit::{AuthEvent, AuthEventKind};
use tally_domain::key::{KeyFilter, KeyId, KeyPatch, KeySecret};
use tally_domain::limits::{utc_day, KeyUsage};
use tally_domain::ports::CreateKeyError;
use tally_domain::services::Stores;
use tally_domain::tenancy::{Email, OrgId};
use tally_domain::usage::{Granularity, LogQuery, UsageFilters, UsageQuery};
use time::Duration;

use crate::{
    create_key, create_key_with_email, create_org, create_user, domain, limits, meter, new_key,
    open_spec, T0,
};

/// A created key can be read by id and by secret hash, and is listed in id order.
pub fn keys_create_get_find_list(s: &Stores) {
    let a = create_key(s, "secret-a-0001", limits(Some(10), Some(100)));
    let b = create_key(s, "secret-b-0002", limits(None, None));
    assert!(b.id > a.id, "ids increase");
    assert!(a.active && a.revoked_at.is_none() && a.erased_at.is_none());
    assert_eq!(
        (a.lifetime_used, a.sequence, a.last_caption_at),
        (0, 0, None)
    );
    assert_eq!(a.secret_hash, KeySecret::presented("secret-a-0001").hash());
    assert_eq!(a.alias, KeySecret::presented("secret-a-0001").alias());
    assert_eq!(a.created_at, T0);
    assert_eq!(s.keys.get_key(a.id).unwrap(), Some(a.clone()));
    assert_eq!(s.keys.find_key(&a.secret_hash).unwrap(), Some(a.clone()));
    assert_eq!(
        s.keys
            .find_key(&KeySecret::presented("nope-nope").hash())
            .unwrap(),
        None
    );
    assert_eq!(s.keys.get_key(KeyId(999_999)).unwrap(), None);
    assert_eq!(
        s.keys.list_keys(&KeyFilter::default()).unwrap(),
        vec![a.clone(), b]
    );

    let acme = create_org(s, "org_acme");
    let user = create_user(s, 1, "alice", &acme.id);
    let mut nk = new_key("secret-c-0003", limits(None, None));
    nk.org_id = acme.id.clone();
    nk.user_id = Some(user.id);
    nk.email = Some(Email::parse("Alice@Example.com").unwrap());
    let c = s.keys.create_key(nk).unwrap();
    assert_eq!(
        c.email_hash,
        Some(Email::parse("alice@example.com").unwrap().hash())
    );
    let by_org = KeyFilter {
        org_id: Some(acme.id.clone()),
        user_id: None,
    };
    assert_eq!(s.keys.list_keys(&by_org).unwrap(), vec![c.clone()]);
    let by_user = KeyFilter {
        org_id: None,
        user_id: Some(user.id),
    };
    assert_eq!(s.keys.list_keys(&by_user).unwrap(), vec![c]);
}

/// A second key with the same secret is refused, whatever became of the first.
pub fn keys_duplicate_secret_is_a_conflict(s: &Stores) {
    let a = create_key(s, "same-secret", limits(None, None));
    assert_eq!(
        s.keys
            .create_key(new_key("same-secret", limits(None, None))),
        Err(CreateKeyError::DuplicateSecret)
    );
    s.keys.revoke_key(a.id, T0).unwrap();
    s.usage.erase_keys(&[a.id], T0).unwrap();
    assert_eq!(
        s.keys
            .create_key(new_key("same-secret", limits(None, None))),
        Err(CreateKeyError::DuplicateSecret)
    );
    assert_eq!(s.keys.list_keys(&KeyFilter::default()).unwrap().len(), 1);
}

/// A key needs an existing organisation.
pub fn keys_unknown_org_is_rejected(s: &Stores) {
    let mut nk = new_key("orphan-key", limits(None, None));
    nk.org_id = OrgId::parse("org_missing").unwrap();
    assert_eq!(s.keys.create_key(nk), Err(CreateKeyError::UnknownOrg));
}

/// Patching changes only what it names and never resets counters.
pub fn keys_patch_keeps_counters(s: &Stores) {
    let k = create_key(s, "patch-me-01", limits(Some(5), Some(50)));
    s.usage.meter(meter(&k, 3, T0)).unwrap();
    let patch = KeyPatch {
        owner: Some("Bob".into()),
        daily_limit: Some(None),
        lifetime_limit: Some(Some(4)),
        expires_at: Some(Some(T0 + Duration::days(30))),
        ..KeyPatch::default()
    };
    let updated = s.keys.update_key(k.id, &patch).unwrap().unwrap();
    let mut expected = s.keys.get_key(k.id).unwrap().unwrap();
    assert_eq!(updated, expected);
    assert_eq!(updated.owner, "Bob");
    assert_eq!(updated.limits, limits(None, Some(4)));
    assert_eq!(updated.lifetime_used, 3);
    assert_eq!(updated.expires_at, Some(T0 + Duration::days(30)));
    assert_eq!(
        s.keys.key_usage(k.id, utc_day(T0)).unwrap(),
        Some(KeyUsage {
            lifetime_used: 3,
            daily_used: 3
        })
    );
    let unchanged = s
        .keys
        .update_key(k.id, &KeyPatch::default())
        .unwrap()
        .unwrap();
    expected.owner = "Bob".into();
    assert_eq!(unchanged, expected);
    assert_eq!(s.keys.update_key(KeyId(999_999), &patch).unwrap(), None);
}

/// Revoking deactivates and stamps the key; repeating it refreshes the stamp.
pub fn keys_revoke_deactivates(s: &Stores) {
    let k = create_key(s, "revoke-me-1", limits(None, None));
    let r = s.keys.revoke_key(k.id, T0).unwrap().unwrap();
    assert!(!r.active);
    assert_eq!(r.revoked_at, Some(T0));
    let later = T0 + Duration::hours(1);
    assert_eq!(
        s.keys.revoke_key(k.id, later).unwrap().unwrap().revoked_at,
        Some(later)
    );
    assert_eq!(
        s.keys.get_key(k.id).unwrap().unwrap().revoked_at,
        Some(later)
    );
    assert_eq!(s.keys.revoke_key(KeyId(999_999), T0).unwrap(), None);
}

/// E-mail hashes are known while the key exists, and after it is erased.
pub fn keys_email_hashes_are_remembered(s: &Stores) {
    let hash = Email::parse("alice@example.com").unwrap().hash();
    assert!(!s.keys.email_hash_known(&hash).unwrap());
    let k = create_key_with_email(s, "email-key-1", "ALICE@example.com ");
    assert!(s.keys.email_hash_known(&hash).unwrap());
    s.usage.erase_keys(&[k.id], T0).unwrap();
    let erased = s.keys.get_key(k.id).unwrap().unwrap();
    assert_eq!(erased.email, None);
    assert!(s.keys.email_hash_known(&hash).unwrap());
    assert!(!s
        .keys
        .email_hash_known(&Email::parse("bob@example.com").unwrap().hash())
        .unwrap());
}

/// Auth events are listed per key, newest first, limited.
pub fn keys_auth_events_newest_first(s: &Stores) {
    let k = create_key(s, "auth-events-1", limits(None, None));
    let other = create_key(s, "auth-events-2", limits(None, None));
    let ev = |key: Option<KeyId>, kind, minutes: i64| AuthEvent {
        key_id: key,
        org_id: OrgId::default_org(),
        kind,
        domain: Some(domain("a.example")),
        occurred_at: T0 + Duration::minutes(minutes),
    };
    s.keys
        .record_auth_event(ev(Some(k.id), AuthEventKind::SessionStart, 1))
        .unwrap();
    s.keys
        .record_auth_event(ev(Some(k.id), AuthEventKind::DailyLimitExceeded, 3))
        .unwrap();
    s.keys
        .record_auth_event(ev(Some(k.id), AuthEventKind::Expired, 2))
        .unwrap();
    s.keys
        .record_auth_event(ev(Some(other.id), AuthEventKind::Revoked, 5))
        .unwrap();
    s.keys
        .record_auth_event(ev(None, AuthEventKind::UnknownKey, 6))
        .unwrap();
    let kinds: Vec<_> = s
        .keys
        .list_auth_events(k.id, 100)
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        vec![
            AuthEventKind::DailyLimitExceeded,
            AuthEventKind::Expired,
            AuthEventKind::SessionStart
        ]
    );
    let listed = s.keys.list_auth_events(k.id, 1).unwrap();
    assert_eq!(
        listed,
        vec![ev(Some(k.id), AuthEventKind::DailyLimitExceeded, 3)]
    );
}

/// A hard delete removes the key and everything keyed to it, keeps organisation totals
/// (anonymised), and reports the sessions it closed.
pub fn keys_hard_delete_removes_everything(s: &Stores) {
    let k = create_key(s, "delete-me-01", limits(None, None));
    let keep = create_key(s, "keep-me-0001", limits(None, None));
    let opened = s
        .sessions
        .open_session(open_spec(&k, "delete-me-01", "a.example", T0))
        .unwrap();
    s.usage.meter(meter(&k, 2, T0)).unwrap();
    s.usage.meter(meter(&keep, 1, T0)).unwrap();
    s.keys
        .record_auth_event(AuthEvent {
            key_id: Some(k.id),
            org_id: k.org_id.clone(),
            kind: AuthEventKind::SessionStart,
            domain: None,
            occurred_at: T0,
        })
        .unwrap();

    let closed = s.keys.delete_key(k.id).unwrap().unwrap();
    assert_eq!(closed, vec![opened.session.id.clone()]);
    assert_eq!(s.keys.get_key(k.id).unwrap(), None);
    assert_eq!(s.keys.find_key(&k.secret_hash).unwrap(), None);
    assert_eq!(
        s.sessions.get_session(&opened.session.reference()).unwrap(),
        None
    );
    assert!(s.keys.list_auth_events(k.id, 10).unwrap().is_empty());
    let mut q = LogQuery::new(100).unwrap();
    q.key_id = Some(k.id);
    assert_eq!(s.usage.list_events(&q).unwrap().total, 0);
    let all = LogQuery::new(100).unwrap();
    assert_eq!(s.usage.list_events(&all).unwrap().total, 1);

    let totals = UsageQuery::new(
        T0,
        T0 + Duration::hours(1),
        Granularity::Day,
        vec![],
        UsageFilters::default(),
        vec![],
    )
    .unwrap();
    let rows = s.usage.aggregate(&totals).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].totals.count, rows[0].totals.units), (2, 3));
    let by_key = UsageQuery::new(
        T0,
        T0 + Duration::hours(1),
        Granularity::Day,
        vec![],
        UsageFilters {
            key_id: Some(k.id),
            ..UsageFilters::default()
        },
        vec![],
    )
    .unwrap();
    assert!(s.usage.aggregate(&by_key).unwrap().is_empty());
    assert_eq!(s.keys.delete_key(k.id).unwrap(), None);
    // The secret may be issued again after a hard delete.
    assert!(s
        .keys
        .create_key(new_key("delete-me-01", limits(None, None)))
        .is_ok());
}
