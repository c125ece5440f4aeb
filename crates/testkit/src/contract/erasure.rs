//! `UsageStore::erase_keys`: the erasure plan, in one transaction.

use tally_domain::audit::{AuthEvent, AuthEventKind};
use tally_domain::erasure::ERASED_OWNER;
use tally_domain::limits::utc_day;
use tally_domain::ports::DeliveryReport;
use tally_domain::services::Stores;
use tally_domain::session::{DeliveryOutcome, EndReason};
use tally_domain::tenancy::{Email, OrgId};
use tally_domain::usage::{DomainUsageQuery, Granularity, LogQuery, UsageFilters, UsageQuery};
use time::macros::date;
use time::Duration;

use crate::{create_key, create_key_with_email, domain, limits, meter, open_spec, T0};

fn org_units(s: &Stores, filters: UsageFilters) -> i64 {
    let q = UsageQuery::new(
        T0 - Duration::days(1),
        T0 + Duration::days(1),
        Granularity::Day,
        vec![],
        filters,
        vec![],
    )
    .unwrap();
    s.usage
        .aggregate(&q)
        .unwrap()
        .iter()
        .map(|r| r.totals.units)
        .sum()
}

/// Erasure anonymises the key, closes its sessions without records, deletes its history,
/// keeps totals in the anonymous bucket and writes a receipt.
pub fn erasure_follows_the_plan(s: &Stores) {
    let k = create_key_with_email(s, "erase-key-01", "alice@example.com");
    let bystander = create_key(s, "bystander-01", limits(None, None));
    let old = s
        .sessions
        .open_session(open_spec(&k, "erase-key-01", "old.example", T0))
        .unwrap()
        .session;
    s.sessions
        .end_session(&old.reference(), EndReason::Client, T0)
        .unwrap();
    let live = s
        .sessions
        .open_session(open_spec(&k, "erase-key-01", "a.example", T0))
        .unwrap()
        .session;
    let by = s
        .sessions
        .open_session(open_spec(&bystander, "bystander-01", "a.example", T0))
        .unwrap()
        .session;
    s.usage.meter(meter(&k, 5, T0)).unwrap();
    s.usage.meter(meter(&bystander, 2, T0)).unwrap();
    s.sessions
        .record_delivery(DeliveryReport {
            session_id: live.id.clone(),
            key_id: k.id,
            org_id: k.org_id.clone(),
            domain: live.domain.clone(),
            outcome: DeliveryOutcome::Failed {
                batch_size: 1,
                error: "HTTP 500".into(),
                status_code: Some(500),
            },
            at: T0,
        })
        .unwrap();
    s.keys
        .record_auth_event(AuthEvent {
            key_id: Some(k.id),
            org_id: k.org_id.clone(),
            kind: AuthEventKind::SessionStart,
            domain: None,
            occurred_at: T0,
        })
        .unwrap();
    let site_before = s
        .sessions
        .domain_usage(
            &DomainUsageQuery::new(
                date!(2026 - 03 - 10),
                date!(2026 - 03 - 10),
                false,
                None,
                None,
            )
            .unwrap(),
        )
        .unwrap();

    let erased_at = T0 + Duration::minutes(10);
    let out = s.usage.erase_keys(&[k.id], erased_at).unwrap();
    assert_eq!(out.closed_sessions, vec![live.id.clone()]);
    assert_eq!(out.receipts.len(), 1);
    let receipt = &out.receipts[0];
    // One session record, one caption error, one auth event, one usage event.
    assert_eq!(
        (receipt.key_id, receipt.erased_at, receipt.rows_deleted),
        (k.id, erased_at, 4)
    );
    assert_eq!(s.usage.list_erasures().unwrap(), out.receipts);

    let key = s.keys.get_key(k.id).unwrap().unwrap();
    assert_eq!(
        (key.owner.as_str(), key.email.clone(), key.active),
        (ERASED_OWNER, None, false)
    );
    assert_eq!(key.erased_at, Some(erased_at));
    assert_eq!(
        key.email_hash,
        Some(Email::parse("alice@example.com").unwrap().hash())
    );
    assert_eq!(key.lifetime_used, 5, "limits survive erasure");
    assert_eq!(s.sessions.get_session(&live.reference()).unwrap(), None);
    assert!(s.sessions.get_session(&by.reference()).unwrap().is_some());
    assert!(s
        .sessions
        .list_session_records(k.id, 100)
        .unwrap()
        .is_empty());
    assert!(s
        .sessions
        .list_caption_errors(k.id, 100)
        .unwrap()
        .is_empty());
    assert!(s.keys.list_auth_events(k.id, 100).unwrap().is_empty());
    let mut q = LogQuery::new(100).unwrap();
    q.key_id = Some(k.id);
    assert_eq!(s.usage.list_events(&q).unwrap().total, 0);
    assert_eq!(
        s.usage
            .list_events(&LogQuery::new(100).unwrap())
            .unwrap()
            .total,
        1
    );

    assert_eq!(
        org_units(
            s,
            UsageFilters {
                org_id: Some(OrgId::default_org()),
                ..UsageFilters::default()
            }
        ),
        7
    );
    assert_eq!(
        org_units(
            s,
            UsageFilters {
                key_id: Some(k.id),
                ..UsageFilters::default()
            }
        ),
        0
    );
    assert_eq!(
        org_units(
            s,
            UsageFilters {
                key_id: Some(bystander.id),
                ..UsageFilters::default()
            }
        ),
        2
    );
    let site_after = s
        .sessions
        .domain_usage(
            &DomainUsageQuery::new(
                date!(2026 - 03 - 10),
                date!(2026 - 03 - 10),
                false,
                None,
                None,
            )
            .unwrap(),
        )
        .unwrap();
    // The open session the erasure closed counts as ended, with its duration, so the site's
    // totals add up; nothing else in them changes.
    let mut expected = site_before.clone();
    let site = expected
        .iter_mut()
        .find(|r| r.domain == domain("a.example"))
        .expect("a.example has a row");
    site.counters.sessions_ended += 1;
    site.counters.total_duration_ms += 600_000;
    assert_eq!(
        site_after, expected,
        "erasure ends its key's open session in the site rollup"
    );
    assert_eq!(
        s.keys
            .key_usage(k.id, utc_day(T0))
            .unwrap()
            .unwrap()
            .lifetime_used,
        5
    );
}

/// Erasing again changes nothing and writes no second receipt; unknown ids are ignored.
pub fn erasure_is_idempotent(s: &Stores) {
    let k = create_key(s, "erase-twice1", limits(None, None));
    let first = s.usage.erase_keys(&[k.id], T0).unwrap();
    assert_eq!(first.receipts.len(), 1);
    let again = s
        .usage
        .erase_keys(
            &[k.id, tally_domain::key::KeyId(999_999)],
            T0 + Duration::days(1),
        )
        .unwrap();
    assert!(again.receipts.is_empty() && again.closed_sessions.is_empty());
    assert_eq!(s.keys.get_key(k.id).unwrap().unwrap().erased_at, Some(T0));
    assert_eq!(s.usage.list_erasures().unwrap().len(), 1);
}

/// Erasing a user erases every key bound to them and anonymises the user, in one step.
pub fn erasure_of_a_user_takes_their_keys_and_name(s: &Stores) {
    let acme = crate::create_org(s, "org_acme");
    let user = crate::create_user(s, 1, "alice", &acme.id);
    let mut mine = crate::new_key("users-key-01", limits(None, None));
    mine.org_id = acme.id.clone();
    mine.user_id = Some(user.id);
    let a = s.keys.create_key(mine.clone()).unwrap();
    mine.secret = tally_domain::key::KeySecret::custom("users-key-02").unwrap();
    let b = s.keys.create_key(mine).unwrap();
    let other = create_key(s, "not-users-01", limits(None, None));
    s.usage.meter(meter(&a, 2, T0)).unwrap();
    let mut keyless = crate::event(&acme.id, T0);
    keyless.user_id = Some(user.id);
    keyless.units = 5;
    keyless.idempotency_key = Some(tally_domain::usage::IdempotencyKey::parse("alice-1").unwrap());
    s.usage
        .ingest(vec![(crate::uuid(70), keyless)], T0)
        .unwrap();

    let out = s.usage.erase_user(user.id, T0).unwrap().unwrap();
    let mut erased: Vec<_> = out.receipts.iter().map(|r| r.key_id).collect();
    erased.sort();
    assert_eq!(erased, vec![a.id, b.id]);
    let u = s.tenants.get_user(user.id).unwrap().unwrap();
    assert_eq!(
        (u.erased_at, u.email.clone(), u.org_id.clone()),
        (Some(T0), None, acme.id.clone())
    );
    assert_ne!(u.username, user.username);
    assert!(s.tenants.find_user(&user.username).unwrap().is_none());
    assert!(s
        .keys
        .get_key(other.id)
        .unwrap()
        .unwrap()
        .erased_at
        .is_none());
    // Usage recorded for the user without a key of theirs goes too; totals stay.
    assert_eq!(s.usage.get_event(crate::uuid(70)).unwrap(), None);
    let mut theirs = LogQuery::new(100).unwrap();
    theirs.user_id = Some(user.id);
    assert_eq!(s.usage.list_events(&theirs).unwrap().total, 0);
    let by_user = UsageFilters {
        user_id: Some(user.id),
        ..UsageFilters::default()
    };
    assert_eq!(org_units(s, by_user), 0);
    let by_org = UsageFilters {
        org_id: Some(acme.id.clone()),
        ..UsageFilters::default()
    };
    assert_eq!(org_units(s, by_org), 7);
    let again = s
        .usage
        .erase_user(user.id, T0 + Duration::days(1))
        .unwrap()
        .unwrap();
    assert!(again.receipts.is_empty());
    assert_eq!(
        s.tenants.get_user(user.id).unwrap().unwrap().erased_at,
        Some(T0)
    );
    assert_eq!(
        s.usage
            .erase_user(tally_domain::tenancy::UserId(crate::uuid(99)), T0)
            .unwrap(),
        None
    );
}
