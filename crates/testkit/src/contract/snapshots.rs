//! Reads as snapshots: a request log over a history long enough to span a store's internal
//! pages answers exactly the reference evaluation, and reads running beside meters see each
//! meter whole or not at all (a store may answer analytics outside its write lock, but
//! never from a half-applied meter).

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use tally_domain::ports::{Ingested, MeterError};
use tally_domain::services::Stores;
use tally_domain::tenancy::OrgId;
use tally_domain::usage::{
    EventPatch, Granularity, LogCount, LogQuery, Totals, UsageEvent, UsageFilters, UsageQuery,
};
use time::Duration;

use crate::{create_key, create_user, event, limits, meter, uuid, T0};

/// Events of the long history.
const HISTORY: u32 = 3_000;

/// 3,000 events of one user and key at scrambled times over three days (every fourth an API
/// call, a tenth of those `500`s; a twentieth of all without user or key), then every
/// seventh deleted, every eleventh refunded and every thirteenth corrected. Returns the
/// user, the key and the events as stored.
fn long_history(s: &Stores) -> (tally_domain::tenancy::UserId, i64, Vec<UsageEvent>) {
    let user = create_user(s, 7, "long-history", &OrgId::default_org());
    let mut nk = crate::new_key("snapshots-long-01", limits(None, None));
    nk.user_id = Some(user.id);
    let key = s.keys.create_key(nk).unwrap();
    let mut stored = Vec::new();
    for chunk in 0..HISTORY / 500 {
        let batch = (chunk * 500..(chunk + 1) * 500)
            .map(|i| {
                let secs = (i64::from(i) * 7_919) % (3 * 86_400);
                let mut e = event(&OrgId::default_org(), T0 + Duration::seconds(secs));
                if i % 20 != 0 {
                    e.user_id = Some(user.id);
                    e.key_id = Some(key.id);
                }
                if i % 4 == 0 {
                    e.method = Some("POST".into());
                    e.status_code = Some(if i % 40 == 0 { 500 } else { 200 });
                }
                (uuid(u128::from(i) + 10_000), e)
            })
            .collect();
        stored.extend(
            s.usage
                .ingest(batch, T0)
                .unwrap()
                .into_iter()
                .map(|r| match r {
                    Ingested::Created(e) | Ingested::Duplicate(e) => e,
                }),
        );
    }
    let mut kept = Vec::new();
    for (i, e) in stored.into_iter().enumerate() {
        if i % 7 == 3 {
            assert!(s.usage.delete_event(e.id).unwrap());
            continue;
        }
        let patch = match (i % 11 == 5, i % 13 == 6) {
            (false, false) => {
                kept.push(e);
                continue;
            }
            (refund, _) => EventPatch {
                active: refund.then_some(false),
                tokens: Some(1_000 + i as u64),
                ..EventPatch::default()
            },
        };
        kept.push(s.usage.update_event(e.id, &patch).unwrap().unwrap());
    }
    (user.id, key.id.0, kept)
}

/// Pages and totals over the long history, in every scope, window, count mode and filter
/// tried, equal the reference evaluation over the events as stored.
pub fn snapshots_long_logs_match_the_reference(s: &Stores) {
    let (user, key, events) = long_history(s);
    let mut cases = 0;
    for scope in 0..3 {
        for window in 0..3 {
            for (offset, limit, count) in [
                (0, 50, LogCount::Exact),
                (480, 200, LogCount::AtMost(100)),
                (2_400, 100, LogCount::Skip),
            ] {
                for (include_inactive, status) in [(true, None), (false, Some(500))] {
                    let mut q = LogQuery::new(limit).unwrap();
                    match scope {
                        0 => q.user_id = Some(user),
                        1 => q.key_id = Some(tally_domain::key::KeyId(key)),
                        _ => q.org_id = Some(OrgId::default_org()),
                    }
                    (q.start, q.end) = match window {
                        0 => (None, None),
                        1 => (Some(T0 + Duration::days(1)), Some(T0 + Duration::hours(50))),
                        _ => (Some(T0 + Duration::minutes(2_000)), None),
                    };
                    q.offset = offset;
                    q.count = count;
                    q.include_inactive = include_inactive;
                    q.status_code = status;
                    let page = s.usage.list_events(&q).unwrap();
                    let want = q.evaluate(events.iter().map(|e| (0, e)));
                    let ids = |p: &[UsageEvent]| p.iter().map(|e| e.id).collect::<Vec<_>>();
                    assert_eq!(ids(&page.events), ids(&want.events), "{q:?}");
                    assert_eq!(page.events, want.events, "{q:?}");
                    assert_eq!(
                        (page.total, page.total_exact),
                        (want.total, want.total_exact)
                    );
                    cases += 1;
                }
            }
        }
    }
    assert_eq!(cases, 54);
}

/// Reads beside meters: 4 threads meter 2 units at a time on `lifetime_limit = 600` while
/// 2 threads aggregate the key's rollups and count its log. Every read sees whole meters
/// (units = 2 × count), never fewer than the same thread's previous read, never more than
/// the limit; at the end exactly 300 meters of 2 units.
pub fn snapshots_reads_beside_meters_see_whole_meters(s: &Stores) {
    let k = create_key(s, "snapshots-hot-01", limits(None, Some(600)));
    let query = UsageQuery::new(
        T0 - Duration::days(1),
        T0 + Duration::days(1),
        Granularity::Day,
        vec![],
        UsageFilters {
            key_id: Some(k.id),
            ..UsageFilters::default()
        },
        vec![],
    )
    .unwrap();
    let mut logs = LogQuery::new(10).unwrap();
    logs.key_id = Some(k.id);
    let totals = || -> Totals {
        let mut t = Totals::default();
        for row in s.usage.aggregate(&query).unwrap() {
            t += row.totals;
        }
        t
    };
    let done = AtomicBool::new(false);
    thread::scope(|scope| {
        let writers: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    for _ in 0..100 {
                        match s.usage.meter(meter(&k, 2, T0)) {
                            Ok(_) | Err(MeterError::Limit { .. }) => {}
                            Err(e) => panic!("unexpected {e:?}"),
                        }
                    }
                })
            })
            .collect();
        for _ in 0..2 {
            scope.spawn(|| {
                let (mut count, mut logged, mut reads) = (0, 0, 0);
                while !done.load(Ordering::SeqCst) || reads < 3 {
                    let t = totals();
                    assert_eq!(t.units, 2 * t.count, "a meter seen in part");
                    assert!(
                        t.count >= count && t.count <= 300,
                        "{} after {count}",
                        t.count
                    );
                    let page = s.usage.list_events(&logs).unwrap();
                    assert!(page.total >= logged && page.total <= 300);
                    (count, logged, reads) = (t.count, page.total, reads + 1);
                }
            });
        }
        // The readers stop only once `done` is set, so it is set whatever the writers did.
        let writers_ok = writers.into_iter().all(|w| w.join().is_ok());
        done.store(true, Ordering::SeqCst);
        assert!(writers_ok, "a metering thread failed");
    });
    let t = totals();
    assert_eq!((t.count, t.units), (300, 600));
    assert_eq!(s.usage.list_events(&logs).unwrap().total, 300);
}
