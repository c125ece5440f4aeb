//! `SessionStore`: open/join, activity, patch, mic, delivery, end, records, domain usage.

use tally_domain::key::KeyId;
use tally_domain::mic::{ClientId, MicAction};
use tally_domain::ports::DeliveryReport;
use tally_domain::services::Stores;
use tally_domain::session::{
    DeliveryOutcome, EndReason, SessionId, SessionPatch, SessionRef, StreamKey, Target, ViewerKey,
};
use tally_domain::usage::{DomainCounters, DomainUsageQuery};
use time::macros::date;
use time::Duration;

use crate::{create_key, domain, limits, open_spec, T0};

fn viewer(k: &str) -> Target {
    Target::Viewer {
        viewer_key: ViewerKey::parse(k).unwrap(),
    }
}

fn day_usage(s: &Stores, hourly: bool) -> Vec<tally_domain::usage::DomainUsageRow> {
    let q = DomainUsageQuery::new(
        date!(2026 - 03 - 01),
        date!(2026 - 03 - 31),
        hourly,
        None,
        None,
    )
    .unwrap();
    s.sessions.domain_usage(&q).unwrap()
}

/// The first open creates the session (counted once); later opens join it, touching it and
/// replacing targets only when given.
pub fn sessions_open_creates_then_joins(s: &Stores) {
    let k = create_key(s, "session-key-1", limits(None, None));
    let mut spec = open_spec(&k, "session-key-1", "a.example", T0);
    spec.sequence = 7;
    spec.targets = Some(vec![viewer("room-1")]);
    let first = s.sessions.open_session(spec.clone()).unwrap();
    assert!(first.created);
    let sess = &first.session;
    assert_eq!(
        (sess.sequence, sess.captions_sent, sess.captions_failed),
        (7, 0, 0)
    );
    assert_eq!(
        (
            sess.started_at,
            sess.last_activity_at,
            sess.mic_holder.clone()
        ),
        (T0, T0, None)
    );
    assert_eq!(sess.targets, vec![viewer("room-1")]);
    assert_eq!(
        s.sessions.get_session(&sess.reference()).unwrap(),
        Some(sess.clone())
    );

    let later = T0 + Duration::minutes(5);
    let joined = s
        .sessions
        .open_session(tally_domain::session::OpenSession {
            now: later,
            targets: None,
            sequence: 0,
            ..spec.clone()
        })
        .unwrap();
    assert!(!joined.created);
    assert_eq!(joined.session.sequence, 7, "joining keeps the sequence");
    assert_eq!(joined.session.targets, vec![viewer("room-1")]);
    assert_eq!(
        (joined.session.started_at, joined.session.last_activity_at),
        (T0, later)
    );
    let replaced = s
        .sessions
        .open_session(tally_domain::session::OpenSession {
            now: later,
            targets: Some(vec![]),
            ..spec
        })
        .unwrap();
    assert!(replaced.session.targets.is_empty());

    let rows = day_usage(s, false);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].domain, domain("https://a.example"));
    assert_eq!(
        (
            rows[0].counters.sessions_started,
            rows[0].counters.peak_sessions
        ),
        (1, 1)
    );
    assert_eq!(s.sessions.list_open_sessions(Some(k.id)).unwrap().len(), 1);
    assert!(s
        .sessions
        .list_open_sessions(Some(KeyId(999_999)))
        .unwrap()
        .is_empty());
}

/// `peak_sessions` is the most sessions of the same domain open at once.
pub fn sessions_peak_counts_open_sessions_of_the_domain(s: &Stores) {
    let a = create_key(s, "peak-key-a-1", limits(None, None));
    let b = create_key(s, "peak-key-b-1", limits(None, None));
    let c = create_key(s, "peak-key-c-1", limits(None, None));
    let s1 = s
        .sessions
        .open_session(open_spec(&a, "peak-key-a-1", "a.example", T0))
        .unwrap();
    s.sessions
        .open_session(open_spec(&b, "peak-key-b-1", "a.example", T0))
        .unwrap();
    s.sessions
        .open_session(open_spec(&c, "peak-key-c-1", "b.example", T0))
        .unwrap();
    s.sessions
        .end_session(&s1.session.reference(), EndReason::Client, T0)
        .unwrap();
    s.sessions
        .open_session(open_spec(&c, "peak-key-c-1", "a.example", T0))
        .unwrap();
    let rows = day_usage(s, true);
    let a_row = rows
        .iter()
        .find(|r| r.domain == domain("a.example"))
        .unwrap();
    let b_row = rows
        .iter()
        .find(|r| r.domain == domain("b.example"))
        .unwrap();
    assert_eq!(
        (
            a_row.counters.sessions_started,
            a_row.counters.peak_sessions
        ),
        (3, 2)
    );
    assert_eq!(
        (
            b_row.counters.sessions_started,
            b_row.counters.peak_sessions
        ),
        (1, 1)
    );
    assert_eq!(a_row.hour, Some(12));
}

/// Touching moves activity forward only; idle sessions are found by cutoff.
pub fn sessions_touch_and_idle(s: &Stores) {
    let k = create_key(s, "idle-key-001", limits(None, None));
    let id = s
        .sessions
        .open_session(open_spec(&k, "idle-key-001", "a.example", T0))
        .unwrap()
        .session
        .reference();
    let touched = s
        .sessions
        .touch_session(&id, T0 + Duration::minutes(30))
        .unwrap();
    assert_eq!(
        touched.map(|x| x.last_activity_at),
        Some(T0 + Duration::minutes(30))
    );
    let earlier = s
        .sessions
        .touch_session(&id, T0 + Duration::minutes(10))
        .unwrap();
    assert_eq!(
        earlier.map(|x| x.last_activity_at),
        Some(T0 + Duration::minutes(30))
    );
    let sess = s.sessions.get_session(&id).unwrap().unwrap();
    assert_eq!(sess.last_activity_at, T0 + Duration::minutes(30));
    assert!(s
        .sessions
        .idle_sessions(T0 + Duration::minutes(29))
        .unwrap()
        .is_empty());
    assert_eq!(
        s.sessions
            .idle_sessions(T0 + Duration::minutes(30))
            .unwrap(),
        vec![id.clone()]
    );
    let missing = SessionRef::new(
        k.org_id.clone(),
        SessionId::parse("ffffffffffffffff").unwrap(),
    );
    assert_eq!(s.sessions.touch_session(&missing, T0).unwrap(), None);
}

/// A patch applies the sequence, targets and sync offset together and touches the session;
/// every kind of target (generic headers, YouTube stream keys) survives the store.
pub fn sessions_patch_applies_whole(s: &Stores) {
    let k = create_key(s, "patch-key-01", limits(None, None));
    let id = s
        .sessions
        .open_session(open_spec(&k, "patch-key-01", "a.example", T0))
        .unwrap()
        .session
        .reference();
    let later = T0 + Duration::minutes(1);
    let hook = Target::generic(
        "https://hook.example/in",
        [("X-Token".to_owned(), "t 1".to_owned())].into(),
    )
    .unwrap();
    let youtube = Target::Youtube {
        stream_key: StreamKey::parse("ab-cd-ef").unwrap(),
    };
    let targets = vec![viewer("room-2"), hook, youtube];
    let patch = SessionPatch {
        sequence: Some(42),
        targets: Some(targets.clone()),
        sync_offset_ms: Some(-1250),
    };
    let sess = s
        .sessions
        .update_session(&id, &patch, later)
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            sess.sequence,
            sess.targets.clone(),
            sess.last_activity_at,
            sess.sync_offset_ms
        ),
        (42, targets, later, -1250)
    );
    assert_eq!(s.sessions.get_session(&id).unwrap(), Some(sess));
    let missing = SessionRef::new(
        k.org_id.clone(),
        SessionId::parse("ffffffffffffffff").unwrap(),
    );
    assert_eq!(
        s.sessions.update_session(&missing, &patch, later).unwrap(),
        None
    );
}

/// Claims overwrite; releases by non-holders change nothing; the holder is stored.
pub fn sessions_mic_claim_and_release(s: &Stores) {
    let k = create_key(s, "mic-key-0001", limits(None, None));
    let id = s
        .sessions
        .open_session(open_spec(&k, "mic-key-0001", "a.example", T0))
        .unwrap()
        .session
        .reference();
    let a = ClientId::parse("client-a").unwrap();
    let b = ClientId::parse("client-b").unwrap();
    assert_eq!(
        s.sessions.apply_mic(&id, MicAction::Claim, &a, T0).unwrap(),
        Some(Some(a.clone()))
    );
    assert_eq!(
        s.sessions
            .apply_mic(&id, MicAction::Release, &b, T0)
            .unwrap(),
        Some(Some(a.clone()))
    );
    assert_eq!(
        s.sessions.apply_mic(&id, MicAction::Claim, &b, T0).unwrap(),
        Some(Some(b.clone()))
    );
    assert_eq!(
        s.sessions.get_session(&id).unwrap().unwrap().mic_holder,
        Some(b.clone())
    );
    let later = T0 + Duration::minutes(2);
    assert_eq!(
        s.sessions
            .apply_mic(&id, MicAction::Release, &b, later)
            .unwrap(),
        Some(None)
    );
    let sess = s.sessions.get_session(&id).unwrap().unwrap();
    assert_eq!((sess.mic_holder, sess.last_activity_at), (None, later));
    let missing = SessionRef::new(
        k.org_id.clone(),
        SessionId::parse("ffffffffffffffff").unwrap(),
    );
    assert_eq!(
        s.sessions
            .apply_mic(&missing, MicAction::Claim, &a, T0)
            .unwrap(),
        None
    );
}

/// Ending closes once, writes the record and the domain rollup of the end hour.
pub fn sessions_end_once_with_record_and_rollup(s: &Stores) {
    let k = create_key(s, "end-key-0001", limits(None, None));
    let sess = s
        .sessions
        .open_session(open_spec(&k, "end-key-0001", "a.example", T0))
        .unwrap()
        .session;
    let end = T0 + Duration::hours(1) + Duration::milliseconds(250);
    let record = s
        .sessions
        .end_session(&sess.reference(), EndReason::Ttl, end)
        .unwrap()
        .unwrap();
    assert_eq!(record, sess.record(end, EndReason::Ttl));
    assert_eq!(record.duration_ms, 3_600_250);
    assert_eq!(
        s.sessions
            .end_session(&sess.reference(), EndReason::Client, end)
            .unwrap(),
        None
    );
    assert_eq!(s.sessions.get_session(&sess.reference()).unwrap(), None);
    assert_eq!(
        s.sessions.list_session_records(k.id, 100).unwrap(),
        vec![record]
    );
    let rows = day_usage(s, true);
    let end_row = rows.iter().find(|r| r.hour == Some(13)).unwrap();
    assert_eq!(
        (
            end_row.counters.sessions_ended,
            end_row.counters.total_duration_ms
        ),
        (1, 3_600_250)
    );
    assert!(s.sessions.list_open_sessions(None).unwrap().is_empty());
}

/// Ending for erasure leaves neither a record nor `sessions_ended`.
pub fn sessions_erasure_end_leaves_no_record(s: &Stores) {
    let k = create_key(s, "erase-end-01", limits(None, None));
    let sess = s
        .sessions
        .open_session(open_spec(&k, "erase-end-01", "a.example", T0))
        .unwrap()
        .session;
    let r = s
        .sessions
        .end_session(
            &sess.reference(),
            EndReason::Erased,
            T0 + Duration::minutes(1),
        )
        .unwrap();
    assert_eq!(r.map(|r| r.ended_by), Some(EndReason::Erased));
    assert!(s
        .sessions
        .list_session_records(k.id, 100)
        .unwrap()
        .is_empty());
    let rows = day_usage(s, false);
    assert_eq!(
        (
            rows[0].counters.sessions_started,
            rows[0].counters.sessions_ended
        ),
        (1, 0)
    );
}

/// Deliveries update the session, the domain rollup and (on failure) the caption errors.
pub fn sessions_delivery_outcomes_are_counted(s: &Stores) {
    let k = create_key(s, "deliver-key1", limits(None, None));
    let sess = s
        .sessions
        .open_session(open_spec(&k, "deliver-key1", "a.example", T0))
        .unwrap()
        .session;
    let report = |outcome, minutes: i64| DeliveryReport {
        session_id: sess.id.clone(),
        key_id: k.id,
        org_id: k.org_id.clone(),
        domain: sess.domain.clone(),
        outcome,
        at: T0 + Duration::minutes(minutes),
    };
    s.sessions
        .record_delivery(report(DeliveryOutcome::Delivered { batch_size: 3 }, 1))
        .unwrap();
    s.sessions
        .record_delivery(report(DeliveryOutcome::Delivered { batch_size: 1 }, 2))
        .unwrap();
    let failed = DeliveryOutcome::Failed {
        batch_size: 2,
        error: "HTTP 403".into(),
        status_code: Some(403),
    };
    s.sessions.record_delivery(report(failed, 3)).unwrap();
    let net = DeliveryOutcome::Failed {
        batch_size: 1,
        error: "connection refused".into(),
        status_code: None,
    };
    s.sessions.record_delivery(report(net, 4)).unwrap();
    let now = s.sessions.get_session(&sess.reference()).unwrap().unwrap();
    assert_eq!((now.captions_sent, now.captions_failed), (4, 3));
    let c = day_usage(s, false)[0].counters;
    assert_eq!(
        (
            c.captions_sent,
            c.batches_sent,
            c.captions_failed,
            c.sessions_started
        ),
        (4, 1, 3, 1)
    );
    let errors = s.sessions.list_caption_errors(k.id, 100).unwrap();
    assert_eq!(errors.len(), 2);
    assert_eq!(
        (
            errors[0].error.as_str(),
            errors[0].status_code,
            errors[0].batch_size
        ),
        ("connection refused", None, 1)
    );
    assert_eq!(
        (
            errors[1].error.as_str(),
            errors[1].status_code,
            errors[1].batch_size
        ),
        ("HTTP 403", Some(403), 2)
    );
    assert_eq!(errors[1].occurred_at, T0 + Duration::minutes(3));
    assert_eq!(s.sessions.list_caption_errors(k.id, 1).unwrap().len(), 1);

    // A delivery that finishes after the session ended still counts for the site.
    s.sessions
        .end_session(
            &sess.reference(),
            EndReason::Client,
            T0 + Duration::minutes(5),
        )
        .unwrap();
    s.sessions
        .record_delivery(report(DeliveryOutcome::Delivered { batch_size: 2 }, 6))
        .unwrap();
    assert_eq!(day_usage(s, false)[0].counters.captions_sent, 6);
}

/// Records come newest first, at most `limit`, per key.
pub fn sessions_records_newest_first_and_limited(s: &Stores) {
    let k = create_key(s, "records-key1", limits(None, None));
    let other = create_key(s, "records-key2", limits(None, None));
    for (i, site) in ["a.example", "b.example", "c.example"].iter().enumerate() {
        let at = T0 + Duration::hours(i64::try_from(i).unwrap());
        let id = s
            .sessions
            .open_session(open_spec(&k, "records-key1", site, at))
            .unwrap()
            .session
            .reference();
        s.sessions
            .end_session(&id, EndReason::Client, at + Duration::minutes(1))
            .unwrap();
    }
    let o = s
        .sessions
        .open_session(open_spec(&other, "records-key2", "a.example", T0))
        .unwrap()
        .session
        .reference();
    s.sessions.end_session(&o, EndReason::Client, T0).unwrap();
    let sites: Vec<String> = s
        .sessions
        .list_session_records(k.id, 2)
        .unwrap()
        .into_iter()
        .map(|r| r.domain.to_string())
        .collect();
    assert_eq!(
        sites,
        vec![
            "https://c.example".to_owned(),
            "https://b.example".to_owned()
        ]
    );
}

/// Domain usage: hour rows, day rows (sums, max peak), date range and domain filters.
pub fn sessions_domain_usage_by_hour_and_day(s: &Stores) {
    let k = create_key(s, "domain-use-1", limits(None, None));
    let site = domain("a.example");
    let report = |batch: u64, at| DeliveryReport {
        session_id: SessionId::parse("0123456789abcdef").unwrap(),
        key_id: k.id,
        org_id: k.org_id.clone(),
        domain: site.clone(),
        outcome: DeliveryOutcome::Delivered { batch_size: batch },
        at,
    };
    s.sessions.record_delivery(report(2, T0)).unwrap();
    s.sessions
        .record_delivery(report(3, T0 + Duration::hours(1)))
        .unwrap();
    s.sessions
        .record_delivery(report(5, T0 + Duration::days(1)))
        .unwrap();
    let other = DeliveryReport {
        domain: domain("b.example"),
        ..report(1, T0)
    };
    s.sessions.record_delivery(other).unwrap();

    let hours = DomainUsageQuery::new(
        date!(2026 - 03 - 10),
        date!(2026 - 03 - 10),
        true,
        Some(site.clone()),
        None,
    )
    .unwrap();
    let rows = s.sessions.domain_usage(&hours).unwrap();
    let got: Vec<_> = rows
        .iter()
        .map(|r| (r.date, r.hour, r.counters.captions_sent))
        .collect();
    assert_eq!(
        got,
        vec![
            (date!(2026 - 03 - 10), Some(12), 2),
            (date!(2026 - 03 - 10), Some(13), 3)
        ]
    );

    let days = DomainUsageQuery::new(
        date!(2026 - 03 - 10),
        date!(2026 - 03 - 11),
        false,
        None,
        None,
    )
    .unwrap();
    let rows = s.sessions.domain_usage(&days).unwrap();
    let got: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r.date,
                r.hour,
                r.domain.to_string(),
                r.counters.captions_sent,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                date!(2026 - 03 - 10),
                None,
                "https://a.example".to_owned(),
                5
            ),
            (
                date!(2026 - 03 - 10),
                None,
                "https://b.example".to_owned(),
                1
            ),
            (
                date!(2026 - 03 - 11),
                None,
                "https://a.example".to_owned(),
                5
            ),
        ]
    );
    let only = DomainUsageQuery::new(
        date!(2026 - 03 - 10),
        date!(2026 - 03 - 11),
        false,
        None,
        Some(vec![domain("b.example")]),
    )
    .unwrap();
    assert_eq!(s.sessions.domain_usage(&only).unwrap().len(), 1);
    let expected = DomainCounters {
        captions_sent: 5,
        batches_sent: 2,
        ..DomainCounters::default()
    };
    assert_eq!(
        s.sessions.domain_usage(&days).unwrap()[0].counters,
        expected
    );
}

/// A viewer open counts for the key whose open session delivers to the viewer key (the most
/// recently active one), per UTC day; unowned viewer keys count nothing; erasure forgets.
pub fn sessions_viewer_opens_count_for_the_delivering_key(s: &Stores) {
    let a = create_key(s, "viewer-key-a", limits(None, None));
    let b = create_key(s, "viewer-key-b", limits(None, None));
    let hall = ViewerKey::parse("hall-9").unwrap();
    let room = ViewerKey::parse("room-9").unwrap();
    let mut spec = open_spec(&a, "viewer-key-a", "a.example", T0);
    spec.targets = Some(vec![viewer("hall-9"), viewer("room-9")]);
    s.sessions.open_session(spec).unwrap();
    let day = date!(2026 - 03 - 10);
    let next = date!(2026 - 03 - 11);
    s.sessions.record_viewer_open(&hall, day).unwrap();
    s.sessions.record_viewer_open(&hall, day).unwrap();
    s.sessions.record_viewer_open(&room, next).unwrap();
    s.sessions
        .record_viewer_open(&ViewerKey::parse("nobody").unwrap(), day)
        .unwrap();
    let rows = s.sessions.list_viewer_stats(a.id, 10).unwrap();
    let got: Vec<_> = rows
        .iter()
        .map(|r| (r.date, r.viewer_key.as_str(), r.views))
        .collect();
    assert_eq!(got, vec![(next, "room-9", 1), (day, "hall-9", 2)]);
    assert_eq!(s.sessions.list_viewer_stats(a.id, 1).unwrap().len(), 1);

    // A later session of another key delivering to the hall takes its views.
    let mut spec = open_spec(&b, "viewer-key-b", "b.example", T0 + Duration::minutes(5));
    spec.targets = Some(vec![viewer("hall-9")]);
    s.sessions.open_session(spec).unwrap();
    s.sessions.record_viewer_open(&hall, day).unwrap();
    assert_eq!(s.sessions.list_viewer_stats(b.id, 10).unwrap()[0].views, 1);
    assert_eq!(s.sessions.list_viewer_stats(a.id, 10).unwrap()[1].views, 2);

    s.usage.erase_keys(&[a.id], T0).unwrap();
    assert!(s.sessions.list_viewer_stats(a.id, 10).unwrap().is_empty());
    assert_eq!(s.sessions.list_viewer_stats(b.id, 10).unwrap().len(), 1);
}
