//! The optimistic meter batch decides from what its writers remember of keys and sessions:
//! whatever changes those rows behind their back (an administrator, another instance, a
//! session's end) must be seen by the next meter, never decided from the stale memory.

use tally_domain::key::{KeyPatch, KeyRejection};
use tally_domain::ports::{KeyRef, MeterError};
use tally_domain::session::{EndReason, SessionRef};
use tally_domain::{KeyStore, SessionStore, UsageStore};
use tally_store_pg::testing::TestDb;
use tally_testkit::{caption_meter, limits, meter, new_key, open_spec, T0};
use time::Duration;

#[test]
fn a_limit_lowered_between_meters_holds_for_the_next() {
    let Some(db) = TestDb::create() else { return };
    let store = db.store();
    let key = store
        .create_key(new_key("opt-lowered", limits(None, Some(10))))
        .unwrap();
    // Remembered by the writers after this one, with 5 used.
    store.meter(meter(&key, 5, T0)).unwrap();
    let patch = KeyPatch {
        lifetime_limit: Some(Some(6)),
        ..KeyPatch::default()
    };
    store.update_key(key.id, &patch).unwrap().unwrap();
    assert!(matches!(
        store.meter(meter(&key, 5, T0)),
        Err(MeterError::Limit { .. })
    ));
    let admitted = store.meter(meter(&key, 1, T0)).unwrap();
    assert_eq!(admitted.usage.lifetime_used, 6);
    assert_eq!(store.get_key(key.id).unwrap().unwrap().lifetime_used, 6);
}

#[test]
fn a_key_revoked_between_meters_refuses_the_next() {
    let Some(db) = TestDb::create() else { return };
    let store = db.store();
    let key = store
        .create_key(new_key("opt-revoked", limits(None, None)))
        .unwrap();
    let mut by_secret = meter(&key, 1, T0);
    by_secret.key = KeyRef::Secret(key.secret_hash);
    store.meter(by_secret.clone()).unwrap();
    store.revoke_key(key.id, T0).unwrap().unwrap();
    let mut again = by_secret;
    again.event_id = tally_testkit::next_event_id();
    assert!(matches!(
        store.meter(again),
        Err(MeterError::Key(KeyRejection::Revoked))
    ));
    assert_eq!(store.get_key(key.id).unwrap().unwrap().lifetime_used, 1);
}

#[test]
fn another_instance_s_meters_count_against_the_limit() {
    let Some(db) = TestDb::create() else { return };
    let (a, b) = (db.store(), db.store());
    let key = a
        .create_key(new_key("opt-instances", limits(Some(10), None)))
        .unwrap();
    // Each instance remembers the key as it left it; then the other one meters.
    assert_eq!(a.meter(meter(&key, 6, T0)).unwrap().usage.daily_used, 6);
    assert_eq!(b.meter(meter(&key, 4, T0)).unwrap().usage.daily_used, 10);
    assert!(matches!(
        a.meter(meter(&key, 1, T0)),
        Err(MeterError::Limit { .. })
    ));
    assert!(matches!(
        b.meter(meter(&key, 1, T0)),
        Err(MeterError::Limit { .. })
    ));
    // The next day, either instance admits again from the counter the other left.
    let tomorrow = T0 + Duration::days(1);
    assert_eq!(
        a.meter(meter(&key, 3, tomorrow)).unwrap().usage.daily_used,
        3
    );
    assert_eq!(
        b.meter(meter(&key, 3, tomorrow)).unwrap().usage.daily_used,
        6
    );
    assert_eq!(a.get_key(key.id).unwrap().unwrap().lifetime_used, 16);
}

#[test]
fn a_session_ended_between_caption_meters_refuses_the_next() {
    let Some(db) = TestDb::create() else { return };
    let store = db.store();
    let key = store
        .create_key(new_key("opt-session", limits(None, None)))
        .unwrap();
    let opened = store
        .open_session(open_spec(&key, "opt-session", "opt.example", T0))
        .unwrap();
    let id = opened.session.id;
    let first = store.meter(caption_meter(&key, &id, 2, T0)).unwrap();
    assert_eq!(first.sequence, Some(1));
    let second = store.meter(caption_meter(&key, &id, 2, T0)).unwrap();
    assert_eq!(second.sequence, Some(2));
    let session = SessionRef::new(key.org_id.clone(), id.clone());
    store
        .end_session(&session, EndReason::Client, T0)
        .unwrap()
        .unwrap();
    assert!(matches!(
        store.meter(caption_meter(&key, &id, 2, T0)),
        Err(MeterError::SessionEnded)
    ));
    // Opened again under the same id: sequences carry on from the key's, and the new
    // session's row is read afresh.
    let reopened = store
        .open_session(open_spec(&key, "opt-session", "opt.example", T0))
        .unwrap();
    let third = store
        .meter(caption_meter(&key, &reopened.session.id, 1, T0))
        .unwrap();
    assert_eq!(third.sequence, Some(reopened.session.sequence + 1));
    assert_eq!(store.get_key(key.id).unwrap().unwrap().lifetime_used, 5);
}
