//! Request-log totals: exact from the rollups when every filter is a rollup dimension
//! (`UsageService::logs`), bounded counts otherwise (`UsageStore::list_events` with
//! `LogCount::AtMost`), and event numbers.

use std::collections::HashSet;
use std::sync::Arc;

use tally_domain::ports::Ingested;
use tally_domain::services::{Ports, Stores, UsageService};
use tally_domain::tenancy::OrgId;
use tally_domain::usage::{EventPatch, LogCount, LogPage, LogQuery, UsageEvent, LOG_COUNT_LIMIT};
use time::{Duration, OffsetDateTime};

use crate::{create_key, create_user, event, limits, uuid, FixedClock, SeqIds, T0};

/// A history for one user and key: 40 API calls, one every 7 minutes from `T0` (five of
/// them `500`s, one refunded), and 10 events without a method in between. Returns the
/// recorded events.
fn history(s: &Stores) -> (LogQuery, Vec<UsageEvent>) {
    let user = create_user(s, 1, "alice", &OrgId::default_org());
    let mut nk = crate::new_key("logs-total-01", limits(None, None));
    nk.user_id = Some(user.id);
    let key = s.keys.create_key(nk).unwrap();
    let other = create_key(s, "logs-total-02", limits(None, None));
    let mut batch = Vec::new();
    for i in 0..50u32 {
        let at = T0 + Duration::minutes(i64::from(i) * 7);
        let mut e = event(&OrgId::default_org(), at);
        e.user_id = Some(user.id);
        e.key_id = Some(key.id);
        if i % 5 != 4 {
            e.method = Some(if i % 2 == 0 { "GET" } else { "POST" }.into());
            e.path = Some(format!("/v1/things/{i}"));
            e.status_code = Some(if i % 8 == 3 { 500 } else { 200 });
        }
        batch.push((uuid(u128::from(i) + 100), e));
    }
    // Someone else's call in the same hours: in no total of the user's.
    let mut theirs = event(&OrgId::default_org(), T0 + Duration::minutes(30));
    theirs.key_id = Some(other.id);
    theirs.method = Some("GET".into());
    batch.push((uuid(99), theirs));
    let recorded: Vec<UsageEvent> = s
        .usage
        .ingest(batch, T0)
        .unwrap()
        .into_iter()
        .map(|r| match r {
            Ingested::Created(e) | Ingested::Duplicate(e) => e,
        })
        .collect();
    let refunded = s
        .usage
        .update_event(
            uuid(101),
            &EventPatch {
                active: Some(false),
                ..EventPatch::default()
            },
        )
        .unwrap()
        .unwrap();
    let mut events: Vec<UsageEvent> = recorded
        .into_iter()
        .filter(|e| e.id != refunded.id && e.data.user_id == Some(user.id))
        .collect();
    events.sort_by_key(|e| std::cmp::Reverse((e.data.occurred_at, e.id)));
    let mut q = LogQuery::new(10).unwrap();
    q.user_id = Some(user.id);
    q.api_call = Some(true);
    q.include_inactive = false;
    (q, events)
}

fn service(s: &Stores) -> UsageService {
    UsageService::new(Ports {
        stores: s.clone(),
        clock: Arc::new(FixedClock::at(T0)),
        ids: Arc::new(SeqIds::default()),
    })
}

fn matching<'a>(q: &LogQuery, events: &'a [UsageEvent]) -> Vec<&'a UsageEvent> {
    events.iter().filter(|e| q.matches(e)).collect()
}

fn ids(page: &LogPage) -> Vec<uuid::Uuid> {
    page.events.iter().map(|e| e.id).collect()
}

/// Without method, status or path filters the total is exact whatever the bound — from the
/// rollups for whole UTC days, counted for partial ones — and the page is the newest events.
pub fn logs_total_is_exact_from_the_rollups(s: &Stores) {
    let (mut q, events) = history(s);
    let usage = service(s);
    q.count = LogCount::AtMost(3);
    let want = matching(&q, &events);
    assert_eq!(want.len(), 39, "40 calls, one refunded");
    let page = usage.logs(&q).unwrap();
    assert_eq!((page.total, page.total_exact), (39, true));
    let newest: Vec<_> = want.iter().take(10).map(|e| e.id).collect();
    assert_eq!(ids(&page), newest);

    let ranges: [(OffsetDateTime, OffsetDateTime); 4] = [
        // Ranges inside one day (counted one by one) and one reaching past it.
        (T0 + Duration::minutes(20), T0 + Duration::minutes(200)),
        // Whole hours only.
        (T0, T0 + Duration::hours(3)),
        // Inside one hour.
        (T0 + Duration::minutes(5), T0 + Duration::minutes(50)),
        // Open-ended from a partial hour.
        (T0 + Duration::minutes(61), T0 + Duration::days(365)),
    ];
    q.count = LogCount::AtMost(LOG_COUNT_LIMIT);
    for (start, end) in ranges {
        q.start = Some(start);
        q.end = Some(end);
        q.offset = 2;
        let want = matching(&q, &events);
        let page = usage.logs(&q).unwrap();
        assert_eq!(
            (page.total, page.total_exact),
            (want.len() as u64, true),
            "{start}..{end}"
        );
        let cut: Vec<_> = want.iter().skip(2).take(10).map(|e| e.id).collect();
        assert_eq!(ids(&page), cut, "{start}..{end}");
    }
    q.start = None;
    q.end = Some(T0 + Duration::minutes(90));
    let page = usage.logs(&q).unwrap();
    assert_eq!(
        (page.total, page.total_exact),
        (matching(&q, &events).len() as u64, true)
    );
    // Only the partial days are counted one by one, within the bound: a bound below a
    // partial day's events makes the total a lower bound.
    q.start = Some(T0 + Duration::minutes(20));
    q.end = Some(T0 + Duration::minutes(200));
    q.offset = 0;
    q.count = LogCount::AtMost(2);
    let page = usage.logs(&q).unwrap();
    assert!(!page.total_exact);
    assert!(page.total < matching(&q, &events).len() as u64);
    assert!(page.total >= 10);
}

/// With a status (or method, or path) filter the store counts at most the bound beyond the
/// page, and says when the total is only a lower bound.
pub fn logs_total_is_bounded_otherwise(s: &Stores) {
    let (mut q, events) = history(s);
    let usage = service(s);
    q.status_code = Some(200);
    let want = matching(&q, &events).len() as u64;
    assert!(want > 20, "{want}");

    q.count = LogCount::AtMost(20);
    let page = usage.logs(&q).unwrap();
    assert_eq!((page.total, page.total_exact), (20, false));
    assert_eq!(page.events.len(), 10);
    // A page beyond the bound is still served, and the total covers it.
    q.offset = 25;
    let page = usage.logs(&q).unwrap();
    assert_eq!(page.events.len() as u64, (want - 25).min(10));
    assert!(page.total >= 25 + page.events.len() as u64);
    q.offset = 0;

    q.count = LogCount::AtMost(want);
    assert_eq!(
        (
            usage.logs(&q).unwrap().total,
            usage.logs(&q).unwrap().total_exact
        ),
        (want, true)
    );
    q.count = LogCount::Exact;
    let page = s.usage.list_events(&q).unwrap();
    assert_eq!((page.total, page.total_exact), (want, true));
    q.count = LogCount::Skip;
    let page = s.usage.list_events(&q).unwrap();
    assert_eq!((page.total, page.total_exact), (10, false));

    q.status_code = Some(500);
    q.count = LogCount::AtMost(100);
    let failed = matching(&q, &events);
    let page = usage.logs(&q).unwrap();
    assert_eq!((page.total, page.total_exact), (failed.len() as u64, true));
    q.status_code = None;
    q.method = Some("POST".into());
    q.path_contains = Some("/things/1".into());
    let page = usage.logs(&q).unwrap();
    assert_eq!(
        (page.total, page.total_exact),
        (matching(&q, &events).len() as u64, true)
    );
}

/// The request log's own shapes — a user's or a key's API calls, refunds left out, of one
/// status or of all — page, number and count exactly as the reference evaluation does over
/// every stored event, in every window, offset and count mode tried (a store may read them
/// off an index of their own; this is what it must still answer).
pub fn logs_api_calls_match_the_reference(s: &Stores) {
    let (base, _) = history(s);
    let mut all = LogQuery::new(1000).unwrap();
    all.count = LogCount::Skip;
    let stored = s.usage.list_events(&all).unwrap();
    assert_eq!(
        stored.events.len(),
        51,
        "50 of the user's, one of someone else's"
    );
    let numbered = || stored.numbers.iter().copied().zip(stored.events.iter());
    let key = stored
        .events
        .iter()
        .find(|e| e.data.user_id == base.user_id)
        .and_then(|e| e.data.key_id)
        .unwrap();
    let windows = [
        (None, None),
        (
            Some(T0 + Duration::minutes(30)),
            Some(T0 + Duration::minutes(200)),
        ),
        (Some(T0 + Duration::minutes(61)), None),
    ];
    let pages = [
        (0, LogCount::Exact),
        (0, LogCount::AtMost(5)),
        (12, LogCount::AtMost(5)),
        (30, LogCount::AtMost(100)),
        (3, LogCount::Skip),
    ];
    let mut cases = 0;
    for by_key in [false, true] {
        for status in [None, Some(500), Some(200)] {
            for (start, end) in windows {
                for (offset, count) in pages {
                    let mut q = base.clone();
                    if by_key {
                        q.user_id = None;
                        q.key_id = Some(key);
                    }
                    q.status_code = status;
                    (q.start, q.end) = (start, end);
                    (q.offset, q.count) = (offset, count);
                    let want = q.evaluate(numbered());
                    assert_eq!(s.usage.list_events(&q).unwrap(), want, "{q:?}");
                    cases += 1;
                }
            }
        }
    }
    assert_eq!(cases, 90);
}

/// Events carry unique numbers, later recordings higher ones, unchanged by corrections.
pub fn logs_events_have_stable_numbers(s: &Stores) {
    let (mut q, _) = history(s);
    q.limit = 100;
    q.api_call = None;
    q.include_inactive = true;
    let page = s.usage.list_events(&q).unwrap();
    assert_eq!(page.numbers.len(), page.events.len());
    assert_eq!(page.events.len(), 50);
    let unique: HashSet<u64> = page.numbers.iter().copied().collect();
    assert_eq!(unique.len(), 50);
    assert!(page.numbers.iter().all(|n| *n >= 1));
    let later = s
        .usage
        .ingest(vec![(uuid(500), event(&OrgId::default_org(), T0))], T0)
        .unwrap();
    let Ingested::Created(later) = &later[0] else {
        panic!("created")
    };
    let mut all = LogQuery::new(1000).unwrap();
    all.start = Some(T0);
    let everything = s.usage.list_events(&all).unwrap();
    let number_of = |page: &LogPage, id| {
        page.events
            .iter()
            .position(|e| e.id == id)
            .map(|i| page.numbers[i])
            .unwrap()
    };
    let newest = number_of(&everything, later.id);
    assert!(page.numbers.iter().all(|n| *n < newest));
    s.usage
        .update_event(
            uuid(100),
            &EventPatch {
                units: Some(9),
                ..EventPatch::default()
            },
        )
        .unwrap();
    let again = s.usage.list_events(&q).unwrap();
    assert_eq!(number_of(&again, uuid(100)), number_of(&page, uuid(100)));
}

/// A window that ends before it starts lists nothing (an `end_date` older than the retention
/// cutoff the query starts at, say) — never a fault, in every count mode.
pub fn logs_window_ending_before_it_starts_is_empty(s: &Stores) {
    let (mut q, _) = history(s);
    q.start = Some(T0 + Duration::hours(3));
    q.end = Some(T0 + Duration::hours(1));
    for count in [LogCount::Exact, LogCount::AtMost(20)] {
        q.count = count;
        let page = s.usage.list_events(&q).unwrap();
        assert!(page.events.is_empty(), "{count:?}");
        assert_eq!(page.total, 0, "{count:?}");
    }
}
