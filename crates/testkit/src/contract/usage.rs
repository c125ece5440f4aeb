//! `UsageStore`: the meter, ingestion, corrections, logs and aggregation.

use tally_domain::key::{KeyId, KeyPatch, KeyRejection};
use tally_domain::limits::{utc_day, KeyUsage, LimitExceeded, Units};
use tally_domain::ports::{Ingested, MeterError};
use tally_domain::services::Stores;
use tally_domain::session::SessionRef;
use tally_domain::tenancy::OrgId;
use tally_domain::usage::{
    CostNanos, DimValue, Dimension, EventPatch, Granularity, IdempotencyKey, LogQuery, Totals,
    UsageFilters, UsageQuery,
};
use time::macros::datetime;
use time::Duration;

use crate::{
    caption_meter, create_key, create_org, create_user, event, limits, meter, open_spec, uuid, T0,
};

fn total(s: &Stores, filters: UsageFilters) -> Totals {
    let q = UsageQuery::new(
        T0 - Duration::days(30),
        T0 + Duration::days(30),
        Granularity::Month,
        vec![],
        filters,
        vec![],
    )
    .unwrap();
    let mut t = Totals::default();
    for row in s.usage.aggregate(&q).unwrap() {
        t += row.totals;
    }
    t
}

/// An admitted request counts its units, records the event with the key's org, user and id,
/// and feeds the rollup.
pub fn usage_meter_counts_and_records(s: &Stores) {
    let acme = create_org(s, "org_acme");
    let user = create_user(s, 1, "alice", &acme.id);
    let mut nk = crate::new_key("meter-key-01", limits(Some(10), Some(100)));
    nk.org_id = acme.id.clone();
    nk.user_id = Some(user.id);
    let k = s.keys.create_key(nk).unwrap();
    let mut req = meter(&k, 4, T0);
    req.event.org_id = OrgId::default_org();
    req.event.model = Some("gpt-x".into());
    req.event.cost = CostNanos(1_500);
    req.event.tokens = 20;
    let m = s.usage.meter(req.clone()).unwrap();
    assert!(!m.replayed);
    // Event ids are unique: reusing one is a fault and counts nothing.
    assert!(matches!(s.usage.meter(req), Err(MeterError::Store(_))));
    assert_eq!(
        m.usage,
        KeyUsage {
            lifetime_used: 4,
            daily_used: 4
        }
    );
    assert_eq!(m.limits, k.limits);
    assert_eq!(m.sequence, None);
    let e = &m.event;
    assert_eq!(
        (e.data.org_id.clone(), e.data.user_id, e.data.key_id),
        (acme.id.clone(), Some(user.id), Some(k.id))
    );
    assert!(e.active);
    assert_eq!(s.usage.get_event(e.id).unwrap(), Some(e.clone()));
    assert_eq!(
        s.keys.key_usage(k.id, utc_day(T0)).unwrap(),
        Some(KeyUsage {
            lifetime_used: 4,
            daily_used: 4
        })
    );
    assert_eq!(s.keys.get_key(k.id).unwrap().unwrap().lifetime_used, 4);
    let t = total(
        s,
        UsageFilters {
            key_id: Some(k.id),
            ..UsageFilters::default()
        },
    );
    assert_eq!(
        t,
        Totals {
            count: 1,
            units: 4,
            cost_nanos: 1_500,
            tokens: 20,
            ..Totals::default()
        }
    );
    assert_eq!(s.keys.key_usage(KeyId(999_999), utc_day(T0)).unwrap(), None);
}

/// Unknown, erased, revoked and expired keys are refused before anything else.
pub fn usage_meter_rejects_unusable_keys(s: &Stores) {
    let k = create_key(s, "reject-key-1", limits(None, None));
    let mut missing = meter(&k, 1, T0);
    missing.key = KeyId(999_999).into();
    assert_eq!(
        s.usage.meter(missing),
        Err(MeterError::Key(KeyRejection::UnknownKey))
    );

    let exp = T0 + Duration::hours(1);
    s.keys
        .update_key(
            k.id,
            &KeyPatch {
                expires_at: Some(Some(exp)),
                ..KeyPatch::default()
            },
        )
        .unwrap();
    assert!(s
        .usage
        .meter(meter(&k, 1, exp - Duration::seconds(1)))
        .is_ok());
    assert_eq!(
        s.usage.meter(meter(&k, 1, exp)),
        Err(MeterError::Key(KeyRejection::Expired))
    );
    s.keys.revoke_key(k.id, T0).unwrap();
    assert_eq!(
        s.usage.meter(meter(&k, 1, T0)),
        Err(MeterError::Key(KeyRejection::Revoked))
    );
    s.usage.erase_keys(&[k.id], T0).unwrap();
    assert_eq!(
        s.usage.meter(meter(&k, 1, T0)),
        Err(MeterError::Key(KeyRejection::Erased))
    );
    assert_eq!(s.keys.get_key(k.id).unwrap().unwrap().lifetime_used, 1);
}

/// A request that would cross a limit is refused whole; nothing is counted or recorded.
pub fn usage_meter_rejects_whole_and_counts_nothing(s: &Stores) {
    let k = create_key(s, "limit-key-01", limits(Some(5), Some(8)));
    s.usage.meter(meter(&k, 4, T0)).unwrap();
    let err = s.usage.meter(meter(&k, 2, T0)).unwrap_err();
    assert_eq!(
        err,
        MeterError::Limit {
            exceeded: LimitExceeded::Daily,
            usage: KeyUsage {
                lifetime_used: 4,
                daily_used: 4
            },
            limits: limits(Some(5), Some(8)),
        }
    );
    s.usage.meter(meter(&k, 1, T0)).unwrap();
    let tomorrow = T0 + Duration::days(1);
    s.usage.meter(meter(&k, 3, tomorrow)).unwrap();
    let err = s.usage.meter(meter(&k, 1, tomorrow)).unwrap_err();
    assert!(matches!(
        err,
        MeterError::Limit {
            exceeded: LimitExceeded::Lifetime,
            ..
        }
    ));
    assert!(matches!(
        s.usage.meter(meter(&k, 0, tomorrow)),
        Err(MeterError::Limit { .. })
    ));
    let page = s.usage.list_events(&LogQuery::new(100).unwrap()).unwrap();
    assert_eq!(page.total, 3);
    assert_eq!(total(s, UsageFilters::default()).units, 8);

    let zero = create_key(s, "zero-key-001", limits(Some(0), None));
    assert!(matches!(
        s.usage.meter(meter(&zero, 1, T0)),
        Err(MeterError::Limit {
            exceeded: LimitExceeded::Daily,
            ..
        })
    ));
}

/// The daily counter belongs to the UTC calendar day.
pub fn usage_meter_day_turns_at_utc_midnight(s: &Stores) {
    let k = create_key(s, "midnight-key", limits(Some(2), None));
    let last_second = datetime!(2026-03-10 23:59:59 UTC);
    let midnight = datetime!(2026-03-11 0:00 UTC);
    s.usage.meter(meter(&k, 2, last_second)).unwrap();
    assert!(matches!(
        s.usage.meter(meter(&k, 1, last_second)),
        Err(MeterError::Limit { .. })
    ));
    let m = s.usage.meter(meter(&k, 2, midnight)).unwrap();
    assert_eq!(
        m.usage,
        KeyUsage {
            lifetime_used: 4,
            daily_used: 2
        }
    );
    assert_eq!(
        s.keys
            .key_usage(k.id, utc_day(last_second))
            .unwrap()
            .unwrap()
            .daily_used,
        2
    );
    assert_eq!(
        s.keys
            .key_usage(k.id, utc_day(midnight))
            .unwrap()
            .unwrap()
            .daily_used,
        2
    );
    assert_eq!(
        s.keys
            .key_usage(k.id, utc_day(midnight + Duration::days(1)))
            .unwrap()
            .unwrap()
            .daily_used,
        0
    );
}

/// A meter stamped just before midnight that arrives after the key's day has turned (another
/// instance's clock a little behind) counts in its own day, exactly, and the new day's
/// counter is untouched.
pub fn usage_meter_stamped_before_the_keys_day_counts_in_its_day(s: &Stores) {
    let k = create_key(s, "late-clock-key", limits(Some(3), None));
    let last_second = datetime!(2026-03-10 23:59:59 UTC);
    let midnight = datetime!(2026-03-11 0:00 UTC);
    s.usage.meter(meter(&k, 1, midnight)).unwrap();
    let late = s.usage.meter(meter(&k, 2, last_second)).unwrap();
    assert_eq!(
        late.usage,
        KeyUsage {
            lifetime_used: 3,
            daily_used: 2
        }
    );
    assert_eq!(late.event.data.occurred_at, last_second);
    assert!(matches!(
        s.usage.meter(meter(&k, 2, last_second)),
        Err(MeterError::Limit {
            exceeded: LimitExceeded::Daily,
            ..
        })
    ));
    s.usage.meter(meter(&k, 1, last_second)).unwrap();
    let m = s.usage.meter(meter(&k, 2, midnight)).unwrap();
    assert_eq!(m.usage.daily_used, 3);
    let usage = |t| {
        s.keys
            .key_usage(k.id, utc_day(t))
            .unwrap()
            .unwrap()
            .daily_used
    };
    assert_eq!((usage(last_second), usage(midnight)), (3, 3));
}

/// A request with a seen idempotency key returns the original and counts nothing.
pub fn usage_meter_replays_idempotent_requests(s: &Stores) {
    let k = create_key(s, "idem-key-001", limits(None, Some(10)));
    let mut req = meter(&k, 3, T0);
    req.event.idempotency_key = Some(IdempotencyKey::parse("req-1").unwrap());
    let first = s.usage.meter(req.clone()).unwrap();
    let again = s
        .usage
        .meter(
            Units::new(5)
                .map(|u| {
                    let mut r = req.clone();
                    r.units = u;
                    r
                })
                .unwrap(),
        )
        .unwrap();
    assert!(again.replayed);
    assert_eq!(again.event, first.event);
    assert_eq!(
        again.usage,
        KeyUsage {
            lifetime_used: 3,
            daily_used: 3
        }
    );
    assert_eq!(
        s.usage
            .list_events(&LogQuery::new(10).unwrap())
            .unwrap()
            .total,
        1
    );
}

/// Metering a caption batch advances the open session's sequence and remembers it on the key.
pub fn usage_meter_advances_the_session_sequence(s: &Stores) {
    let k = create_key(s, "seq-key-0001", limits(None, None));
    let mut spec = open_spec(&k, "seq-key-0001", "a.example", T0);
    spec.sequence = 10;
    let id = s.sessions.open_session(spec).unwrap().session.id;
    let later = T0 + Duration::minutes(3);
    let mut req = caption_meter(&k, &id, 2, later);
    assert_eq!(s.usage.meter(req.clone()).unwrap().sequence, Some(11));
    req.event_id = crate::next_event_id();
    assert_eq!(s.usage.meter(req).unwrap().sequence, Some(12));
    let sess = s
        .sessions
        .get_session(&SessionRef::new(k.org_id.clone(), id.clone()))
        .unwrap()
        .unwrap();
    assert_eq!((sess.sequence, sess.last_activity_at), (12, later));
    let key = s.keys.get_key(k.id).unwrap().unwrap();
    assert_eq!((key.sequence, key.last_caption_at), (12, Some(later)));
}

/// Ingestion records each event once per organisation and idempotency key, also within
/// one batch.
pub fn usage_ingest_is_idempotent_per_org(s: &Stores) {
    let acme = create_org(s, "org_acme");
    let mut a = event(&OrgId::default_org(), T0);
    a.idempotency_key = Some(IdempotencyKey::parse("evt-1").unwrap());
    a.units = 7;
    let mut b = a.clone();
    b.units = 9;
    let mut c = a.clone();
    c.org_id = acme.id.clone();
    let plain = event(&OrgId::default_org(), T0);
    let out = s
        .usage
        .ingest(
            vec![
                (uuid(1), a.clone()),
                (uuid(2), b),
                (uuid(3), c),
                (uuid(4), plain.clone()),
                (uuid(5), plain),
            ],
            T0,
        )
        .unwrap();
    let kinds: Vec<(bool, uuid::Uuid)> = out
        .iter()
        .map(|r| match r {
            Ingested::Created(e) => (true, e.id),
            Ingested::Duplicate(e) => (false, e.id),
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            (true, uuid(1)),
            (false, uuid(1)),
            (true, uuid(3)),
            (true, uuid(4)),
            (true, uuid(5))
        ]
    );
    let Ingested::Created(first) = &out[0] else {
        panic!("created")
    };
    assert_eq!(
        (first.data.units, first.created_at, first.active),
        (7, T0, true)
    );
    let again = s
        .usage
        .ingest(vec![(uuid(6), a)], T0 + Duration::hours(1))
        .unwrap();
    assert_eq!(again, vec![Ingested::Duplicate(first.clone())]);
    assert_eq!(
        s.usage
            .list_events(&LogQuery::new(100).unwrap())
            .unwrap()
            .total,
        4
    );
    assert_eq!(total(s, UsageFilters::default()).units, 7 + 7 + 1 + 1);
}

/// Corrections, refunds and deletions move the rollups with the event.
pub fn usage_corrections_move_rollups(s: &Stores) {
    let mut e = event(&OrgId::default_org(), T0);
    e.units = 346;
    e.cost = CostNanos::parse_usd("0.0043").unwrap();
    let mut f = e.clone();
    f.units = 10;
    s.usage
        .ingest(vec![(uuid(1), e), (uuid(2), f)], T0)
        .unwrap();
    assert_eq!(total(s, UsageFilters::default()).units, 356);

    let patch = EventPatch {
        units: Some(100),
        ..EventPatch::default()
    };
    let updated = s.usage.update_event(uuid(1), &patch).unwrap().unwrap();
    assert_eq!(updated.data.units, 100);
    assert_eq!(s.usage.get_event(uuid(1)).unwrap(), Some(updated));
    assert_eq!(total(s, UsageFilters::default()).units, 110);

    let refund = EventPatch {
        units: Some(0),
        cost: Some(CostNanos(0)),
        ..EventPatch::default()
    };
    let refunded = s.usage.update_event(uuid(1), &refund).unwrap().unwrap();
    assert!(!refunded.active);
    let t = total(s, UsageFilters::default());
    assert_eq!((t.count, t.units, t.cost_nanos), (1, 10, 4_300_000));

    assert!(s.usage.delete_event(uuid(2)).unwrap());
    assert!(!s.usage.delete_event(uuid(2)).unwrap());
    assert!(total(s, UsageFilters::default()).is_zero());
    let q = UsageQuery::new(
        T0,
        T0 + Duration::hours(1),
        Granularity::Hour,
        vec![],
        UsageFilters::default(),
        vec![],
    )
    .unwrap();
    assert!(
        s.usage.aggregate(&q).unwrap().is_empty(),
        "empty groups are dropped"
    );
    assert_eq!(s.usage.update_event(uuid(9), &patch).unwrap(), None);
}

/// Logs: scope, every filter, newest-first order, offset pages and totals.
pub fn usage_logs_filter_order_and_page(s: &Stores) {
    let k = create_key(s, "logs-key-001", limits(None, None));
    let org = OrgId::default_org();
    let mut batch = Vec::new();
    for i in 0..10u8 {
        let mut e = event(&org, T0 + Duration::minutes(i.into()));
        e.method = Some(if i % 2 == 0 { "GET" } else { "POST" }.into());
        e.status_code = Some(if i < 7 { 200 } else { 500 });
        e.path = Some(format!("/api/v1/bots/{i}"));
        e.key_id = (i < 4).then_some(k.id);
        batch.push((uuid(u128::from(i)), e));
    }
    s.usage.ingest(batch, T0).unwrap();
    let ids = |q: &LogQuery| -> Vec<uuid::Uuid> {
        s.usage
            .list_events(q)
            .unwrap()
            .events
            .into_iter()
            .map(|e| e.id)
            .collect()
    };

    let mut q = LogQuery::new(3).unwrap();
    assert_eq!(ids(&q), vec![uuid(9), uuid(8), uuid(7)]);
    assert_eq!(s.usage.list_events(&q).unwrap().total, 10);
    q.offset = 9;
    assert_eq!(ids(&q), vec![uuid(0)]);
    let mut q = LogQuery::new(100).unwrap();
    q.method = Some("POST".into());
    q.status_code = Some(200);
    assert_eq!(ids(&q), vec![uuid(5), uuid(3), uuid(1)]);
    let mut q = LogQuery::new(100).unwrap();
    q.path_contains = Some("bots/1".into());
    assert_eq!(ids(&q), vec![uuid(1)]);
    let mut q = LogQuery::new(100).unwrap();
    q.path_contains = Some("%".into());
    assert!(ids(&q).is_empty(), "LIKE wildcards are literal");
    let mut q = LogQuery::new(100).unwrap();
    q.key_id = Some(k.id);
    q.start = Some(T0 + Duration::minutes(1));
    q.end = Some(T0 + Duration::minutes(3));
    assert_eq!(ids(&q), vec![uuid(2), uuid(1)]);
    let mut plain = event(&org, T0 + Duration::minutes(30));
    plain.method = None;
    s.usage.ingest(vec![(uuid(50), plain)], T0).unwrap();
    let mut q = LogQuery::new(100).unwrap();
    q.api_call = Some(false);
    assert_eq!(ids(&q), vec![uuid(50)]);
    q.api_call = Some(true);
    assert_eq!(s.usage.list_events(&q).unwrap().total, 10);
    let mut q = LogQuery::new(100).unwrap();
    q.org_id = Some(OrgId::parse("org_other").unwrap());
    assert_eq!(s.usage.list_events(&q).unwrap().total, 0);
    s.usage
        .update_event(
            uuid(9),
            &EventPatch {
                active: Some(false),
                ..EventPatch::default()
            },
        )
        .unwrap();
    let mut q = LogQuery::new(100).unwrap();
    q.include_inactive = false;
    assert_eq!(s.usage.list_events(&q).unwrap().total, 10);
}

/// Aggregation groups by dimensions, buckets by hour/day/month and filters.
pub fn usage_aggregate_groups_and_buckets(s: &Stores) {
    let org = OrgId::default_org();
    let mk = |n: u128, model: &str, lang: Option<&str>, hours: i64, ok: bool| {
        let mut e = event(&org, T0 + Duration::hours(hours));
        e.model = Some(model.into());
        e.language = lang.map(Into::into);
        e.success = ok;
        e.tokens = 10;
        (uuid(n), e)
    };
    s.usage
        .ingest(
            vec![
                mk(1, "a", Some("Hindi"), 0, true),
                mk(2, "a", Some("Hindi"), 0, false),
                mk(3, "b", None, 1, true),
                mk(4, "a", Some("Tamil"), 24, true),
                mk(5, "b", None, 24 * 30, true),
            ],
            T0,
        )
        .unwrap();
    let q = |g, dims: Vec<Dimension>, f: UsageFilters| {
        let q = UsageQuery::new(T0, T0 + Duration::days(31), g, dims, f, vec![]).unwrap();
        s.usage.aggregate(&q).unwrap()
    };
    let rows = q(
        Granularity::Day,
        vec![Dimension::Model],
        UsageFilters::default(),
    );
    let got: Vec<_> = rows
        .iter()
        .map(|r| (r.bucket, r.dims.clone(), r.totals.count, r.totals.tokens))
        .collect();
    let d0 = datetime!(2026-03-10 0:00 UTC);
    let text = |s: &str| DimValue::Text(s.into());
    assert_eq!(
        got,
        vec![
            (d0, vec![text("a")], 2, 20),
            (d0, vec![text("b")], 1, 10),
            (d0 + Duration::days(1), vec![text("a")], 1, 10),
            (datetime!(2026-04-09 0:00 UTC), vec![text("b")], 1, 10),
        ]
    );
    let rows = q(
        Granularity::Month,
        vec![Dimension::Language, Dimension::Success],
        UsageFilters::default(),
    );
    let got: Vec<_> = rows
        .iter()
        .map(|r| (r.bucket, r.dims.clone(), r.totals.count))
        .collect();
    let m3 = datetime!(2026-03-01 0:00 UTC);
    assert_eq!(
        got,
        vec![
            (m3, vec![DimValue::Null, DimValue::Bool(true)], 1),
            (m3, vec![text("Hindi"), DimValue::Bool(false)], 1),
            (m3, vec![text("Hindi"), DimValue::Bool(true)], 1),
            (m3, vec![text("Tamil"), DimValue::Bool(true)], 1),
            (
                datetime!(2026-04-01 0:00 UTC),
                vec![DimValue::Null, DimValue::Bool(true)],
                1
            ),
        ]
    );
    let rows = q(
        Granularity::Hour,
        vec![],
        UsageFilters {
            model: Some("a".into()),
            success: Some(true),
            ..UsageFilters::default()
        },
    );
    let got: Vec<_> = rows.iter().map(|r| (r.bucket, r.totals.count)).collect();
    assert_eq!(got, vec![(T0, 1), (T0 + Duration::hours(24), 1)]);
    let rows = q(
        Granularity::Day,
        vec![Dimension::Org, Dimension::Key, Dimension::User],
        UsageFilters::default(),
    );
    assert_eq!(
        rows[0].dims,
        vec![text("org_default"), DimValue::Null, DimValue::Null]
    );
}

/// The store answers a ping.
pub fn usage_ping_answers(s: &Stores) {
    s.usage.ping().unwrap();
}

/// API calls (events with a method) and status classes are dimensions and filters.
pub fn usage_aggregate_by_api_call_and_status_class(s: &Stores) {
    let org = OrgId::default_org();
    let mk = |n: u128, method: Option<&str>, status: Option<u16>| {
        let mut e = event(&org, T0);
        e.method = method.map(Into::into);
        e.status_code = status;
        (uuid(n), e)
    };
    s.usage
        .ingest(
            vec![
                mk(1, Some("GET"), Some(200)),
                mk(2, Some("POST"), Some(201)),
                mk(3, Some("POST"), Some(404)),
                mk(4, None, None),
                mk(5, None, Some(503)),
            ],
            T0,
        )
        .unwrap();
    let q = UsageQuery::new(
        T0,
        T0 + Duration::hours(1),
        Granularity::Day,
        vec![Dimension::ApiCall, Dimension::StatusClass],
        UsageFilters::default(),
        vec![],
    )
    .unwrap();
    let got: Vec<_> = s
        .usage
        .aggregate(&q)
        .unwrap()
        .into_iter()
        .map(|r| (r.dims, r.totals.count))
        .collect();
    let text = |s: &str| DimValue::Text(s.into());
    assert_eq!(
        got,
        vec![
            (vec![DimValue::Bool(false), DimValue::Null], 1),
            (vec![DimValue::Bool(false), text("5xx")], 1),
            (vec![DimValue::Bool(true), text("2xx")], 2),
            (vec![DimValue::Bool(true), text("4xx")], 1),
        ]
    );
    let calls = UsageFilters {
        api_call: Some(true),
        status_class: Some(2),
        ..UsageFilters::default()
    };
    assert_eq!(total(s, calls).count, 2);
}

/// A session meter needs its session open, the key's and in the token's lifetime: otherwise
/// it is refused with `SessionEnded` and counts nothing. An admitted one takes the session's domain for its
/// event and answers with the session as it found it.
pub fn usage_meter_requires_the_keys_open_session(s: &Stores) {
    let k = create_key(s, "sess-meter-01", limits(None, None));
    let other = create_key(s, "sess-meter-02", limits(None, None));
    let id = s
        .sessions
        .open_session(open_spec(&k, "sess-meter-01", "site.example", T0))
        .unwrap()
        .session
        .id;
    let mut foreign = meter(&other, 3, T0);
    foreign.session = Some(id.clone());
    assert_eq!(s.usage.meter(foreign), Err(MeterError::SessionEnded));
    // Named as a session token names its key, too.
    let foreign = caption_meter(&other, &id, 3, T0);
    assert_eq!(s.usage.meter(foreign), Err(MeterError::SessionEnded));
    let mut req = caption_meter(&k, &id, 2, T0);
    req.event.domain = None;
    let m = s.usage.meter(req.clone()).unwrap();
    assert_eq!(m.event.data.domain, Some(crate::domain("site.example")));
    let found = m.session.expect("the metered session");
    assert_eq!((found.id.clone(), found.key_id), (id.clone(), k.id));
    s.sessions
        .end_session(
            &SessionRef::new(k.org_id.clone(), id.clone()),
            tally_domain::session::EndReason::Client,
            T0,
        )
        .unwrap();
    req.event_id = crate::next_event_id();
    assert_eq!(s.usage.meter(req.clone()), Err(MeterError::SessionEnded));
    // Opened again (the same derived id): a token of the first lifetime stays refused.
    let later = T0 + Duration::minutes(5);
    let reopened = s
        .sessions
        .open_session(open_spec(&k, "sess-meter-01", "site.example", later))
        .unwrap()
        .session;
    assert_eq!(reopened.id, id);
    req.event_id = crate::next_event_id();
    req.session_lifetime = Some(T0);
    assert_eq!(s.usage.meter(req.clone()), Err(MeterError::SessionEnded));
    req.event_id = crate::next_event_id();
    req.session_lifetime = Some(reopened.started_at);
    assert!(s.usage.meter(req).is_ok(), "the new lifetime's token");
    let usage = |key: &tally_domain::key::ApiKey| {
        s.keys
            .key_usage(key.id, tally_domain::limits::utc_day(T0))
            .unwrap()
            .unwrap()
            .lifetime_used
    };
    assert_eq!((usage(&k), usage(&other)), (4, 0));
}

/// Patching an event's status and response time (what the metering middleware does after
/// the product answered) stores both and moves its rollup contribution to the new status
/// class, so analytics by status class follow.
pub fn usage_corrections_set_status_and_latency(s: &Stores) {
    let org = OrgId::default_org();
    let mut e = event(&org, T0);
    e.method = Some("GET".into());
    e.units = 3;
    s.usage.ingest(vec![(uuid(71), e)], T0).unwrap();
    let by_class = || {
        let q = UsageQuery::new(
            T0,
            T0 + Duration::hours(1),
            Granularity::Day,
            vec![Dimension::StatusClass],
            UsageFilters::default(),
            vec![],
        )
        .unwrap();
        s.usage
            .aggregate(&q)
            .unwrap()
            .into_iter()
            .map(|r| (r.dims, r.totals.count, r.totals.units))
            .collect::<Vec<_>>()
    };
    assert_eq!(by_class(), vec![(vec![DimValue::Null], 1, 3)]);
    let patch = EventPatch {
        status_code: Some(503),
        response_time_ms: Some(42),
        ..EventPatch::default()
    };
    let patched = s.usage.update_event(uuid(71), &patch).unwrap().unwrap();
    assert_eq!(
        (patched.data.status_code, patched.data.response_time_ms),
        (Some(503), Some(42))
    );
    let stored = s.usage.get_event(uuid(71)).unwrap().unwrap();
    assert_eq!(
        (stored.data.status_code, stored.data.response_time_ms),
        (Some(503), Some(42))
    );
    assert_eq!(
        by_class(),
        vec![(vec![DimValue::Text("5xx".into())], 1, 3)],
        "the contribution moved to 5xx"
    );
}
