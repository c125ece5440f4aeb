//! `ImportStore`: keys with their counters and ids, history rows by content and copies,
//! domain rows by hour — each idempotent, and visible through the other ports at once.

use tally_domain::audit::{AuthEvent, AuthEventKind};
use tally_domain::import::{Copies, ImportCount, ImportedKey, KeyImport};
use tally_domain::key::{ApiKey, KeyId, KeySecret};
use tally_domain::limits::{utc_day, KeyUsage, LimitExceeded};
use tally_domain::ports::{ImportStore, MeterError, StoreError};
use tally_domain::services::Stores;
use tally_domain::session::{CaptionError, EndReason, SessionId, SessionRecord};
use tally_domain::tenancy::{Email, OrgId};
use tally_domain::usage::{DomainCounters, DomainRollupKey, DomainUsageQuery};
use time::Duration;

use crate::{create_key, domain, limits, meter, T0};

/// A key as lcyt would hand it over: `secret`, wanting id `id`, with counters.
fn imported(secret: &str, id: i64, lifetime_used: u64, today: u64) -> ImportedKey {
    let s = KeySecret::presented(secret);
    let email = Email::parse("Owner@Example.com").unwrap();
    ImportedKey {
        key: ApiKey {
            id: KeyId(id),
            secret_hash: s.hash(),
            alias: s.alias(),
            name: None,
            owner: format!("owner of {secret}"),
            email_hash: Some(email.hash()),
            email: Some(email),
            user_id: None,
            org_id: OrgId::default_org(),
            created_at: T0 - Duration::days(30),
            expires_at: Some(T0 + Duration::days(30)),
            active: true,
            revoked_at: None,
            erased_at: None,
            limits: limits(Some(10), Some(100)),
            lifetime_used,
            sequence: 12,
            last_caption_at: Some(T0 - Duration::hours(1)),
        },
        daily: vec![(utc_day(T0), today), (utc_day(T0) - Duration::days(1), 9)],
    }
}

fn once<T>(row: T) -> Copies<T> {
    Copies { row, count: 1 }
}

fn twice<T>(row: T) -> Copies<T> {
    Copies { row, count: 2 }
}

fn count(imported: u64, skipped: u64) -> ImportCount {
    ImportCount { imported, skipped }
}

/// Imported keys are stored whole — counters, sequence, dates, alias and e-mail hash — under
/// the id they ask for when it is free, found by their secret, and metered from where they
/// were left; later keys get larger ids.
pub fn import_keys_keep_counters_and_ids(s: &Stores, i: &dyn ImportStore) {
    let taken = create_key(s, "native-key-0001", limits(None, None));
    let mut revoked = imported("lcyt-revoked-key", 40, 3, 0);
    revoked.key.active = false;
    revoked.key.revoked_at = Some(T0 - Duration::days(2));
    let keys = [
        imported("lcyt-limited-key", 30, 40, 7),
        imported("lcyt-clashing-key", taken.id.0, 0, 0),
        revoked,
    ];
    let done = i.import_keys(&keys).unwrap();
    assert_eq!(done[0], KeyImport::Created(KeyId(30)));
    let KeyImport::Created(clash) = done[1] else {
        panic!("{done:?}")
    };
    assert!(
        clash != taken.id && clash.0 >= 1,
        "a taken id is not reused"
    );
    assert_eq!(done[2], KeyImport::Created(KeyId(40)));

    let stored = s.keys.get_key(KeyId(30)).unwrap().unwrap();
    assert_eq!(stored, keys[0].key, "stored whole");
    assert_eq!(
        s.keys.find_key(&keys[0].key.secret_hash).unwrap(),
        Some(stored.clone())
    );
    assert_eq!(
        s.keys.key_usage(KeyId(30), utc_day(T0)).unwrap(),
        Some(KeyUsage {
            lifetime_used: 40,
            daily_used: 7
        })
    );
    // Daily limit 10 with 7 used: three more units, then the day is full.
    s.usage.meter(meter(&stored, 3, T0)).unwrap();
    match s.usage.meter(meter(&stored, 1, T0)) {
        Err(MeterError::Limit { exceeded, .. }) => assert_eq!(exceeded, LimitExceeded::Daily),
        other => panic!("{other:?}"),
    }
    let revoked = s.keys.get_key(KeyId(40)).unwrap().unwrap();
    assert!(revoked.check_usable(T0).is_err());
    let later = create_key(s, "native-key-0002", limits(None, None));
    assert!(later.id.0 > 40, "{later:?}");
}

/// A key whose secret is stored already is left alone (counters included) and reported
/// existing — erased when it has been erased since. A batch naming an unknown organisation
/// writes nothing.
pub fn import_keys_twice_change_nothing(s: &Stores, i: &dyn ImportStore) {
    let key = imported("lcyt-limited-key", 3, 40, 7);
    let KeyImport::Created(id) = i.import_keys(std::slice::from_ref(&key)).unwrap()[0] else {
        panic!("first import creates")
    };
    let stored = s.keys.get_key(id).unwrap().unwrap();
    s.usage.meter(meter(&stored, 2, T0)).unwrap();
    let mut changed = key.clone();
    changed.key.lifetime_used = 0;
    changed.daily = vec![(utc_day(T0), 0)];
    assert_eq!(
        i.import_keys(&[changed]).unwrap(),
        vec![KeyImport::Existing { id, erased: false }]
    );
    assert_eq!(
        s.keys.key_usage(id, utc_day(T0)).unwrap(),
        Some(KeyUsage {
            lifetime_used: 42,
            daily_used: 9
        })
    );
    let mut stray = imported("lcyt-stray-key", 50, 0, 0);
    stray.key.org_id = OrgId::parse("org_nowhere").unwrap();
    let fresh = imported("lcyt-fresh-key", 51, 0, 0);
    assert!(matches!(
        i.import_keys(&[fresh.clone(), stray]),
        Err(StoreError::Internal(_))
    ));
    assert_eq!(
        s.keys.find_key(&fresh.key.secret_hash).unwrap(),
        None,
        "an unknown organisation fails the whole batch"
    );
    s.usage.erase_keys(&[id], T0).unwrap();
    assert_eq!(
        i.import_keys(&[key]).unwrap(),
        vec![KeyImport::Existing { id, erased: true }]
    );
}

/// History rows are written as many times as the batch holds them, less the equal rows
/// already stored, and are listed as the server's own are.
pub fn import_history_counts_copies(s: &Stores, i: &dyn ImportStore) {
    let key = create_key(s, "history-key-01", limits(None, None));
    let sid = SessionId::parse("0123456789abcdef").unwrap();
    let record = SessionRecord {
        session_id: sid.clone(),
        key_id: key.id,
        org_id: key.org_id.clone(),
        domain: domain("lcyt.fi"),
        started_at: T0 - Duration::hours(2),
        ended_at: T0 - Duration::hours(1),
        duration_ms: 3_600_000,
        captions_sent: 9,
        captions_failed: 1,
        final_sequence: 12,
        ended_by: EndReason::Ttl,
    };
    let error = CaptionError {
        session_id: sid,
        key_id: key.id,
        org_id: key.org_id.clone(),
        error: "HTTP 403".to_owned(),
        status_code: Some(403),
        occurred_at: T0 - Duration::minutes(90),
        batch_size: 2,
    };
    let event = |key_id| AuthEvent {
        key_id,
        org_id: key.org_id.clone(),
        kind: AuthEventKind::DailyLimitExceeded,
        domain: Some(domain("lcyt.fi")),
        occurred_at: T0 - Duration::minutes(80),
    };
    let mut other = record.clone();
    other.ended_by = EndReason::Client;
    let records = [twice(record.clone()), once(other)];
    assert_eq!(i.import_session_records(&records).unwrap(), count(3, 0));
    assert_eq!(i.import_session_records(&records).unwrap(), count(0, 3));
    let more = [Copies {
        row: record,
        count: 3,
    }];
    assert_eq!(i.import_session_records(&more).unwrap(), count(1, 2));
    assert_eq!(
        s.sessions.list_session_records(key.id, 10).unwrap().len(),
        4
    );

    assert_eq!(
        i.import_caption_errors(&[twice(error.clone())]).unwrap(),
        count(2, 0)
    );
    assert_eq!(
        i.import_caption_errors(&[once(error.clone())]).unwrap(),
        count(0, 1)
    );
    assert_eq!(
        s.sessions.list_caption_errors(key.id, 10).unwrap(),
        vec![error.clone(), error]
    );

    let events = [once(event(Some(key.id))), once(event(None))];
    assert_eq!(i.import_auth_events(&events).unwrap(), count(2, 0));
    assert_eq!(i.import_auth_events(&events).unwrap(), count(0, 2));
    assert_eq!(
        s.keys.list_auth_events(key.id, 10).unwrap(),
        vec![event(Some(key.id))]
    );
}

/// A domain row whose hour is stored already is skipped whole; new hours are added.
pub fn import_domain_rollups_skip_stored_hours(s: &Stores, i: &dyn ImportStore) {
    let k = |hour| DomainRollupKey {
        date: utc_day(T0),
        hour,
        domain: domain("lcyt.fi"),
    };
    let counters = |sent| DomainCounters {
        sessions_started: 2,
        captions_sent: sent,
        peak_sessions: 2,
        ..DomainCounters::default()
    };
    assert_eq!(
        i.import_domain_rollups(&[(k(10), counters(13))]).unwrap(),
        count(1, 0)
    );
    assert_eq!(
        i.import_domain_rollups(&[(k(10), counters(99)), (k(11), counters(1))])
            .unwrap(),
        count(1, 1)
    );
    let q = DomainUsageQuery::new(utc_day(T0), utc_day(T0), true, None, None).unwrap();
    let rows = s.sessions.domain_usage(&q).unwrap();
    let sent: Vec<(Option<u8>, u64)> = rows
        .iter()
        .map(|r| (r.hour, r.counters.captions_sent))
        .collect();
    assert_eq!(sent, vec![(Some(10), 13), (Some(11), 1)]);
}
