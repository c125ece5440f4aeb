//! Retention (`UsageStore::apply_retention`): raw events removed a whole month at a time,
//! hourly rollups compacted into daily ones without changing any total, erasure reaching
//! every grain, request logs reaching back no further than the policy says. Each case gets a
//! store configured with the policy it names ([`crate::retention_contract_tests!`]).

use std::sync::Arc;

use tally_domain::ports::Ingested;
use tally_domain::services::{Ports, Stores, UsageService};
use tally_domain::tenancy::OrgId;
use tally_domain::usage::{
    Dimension, EventPatch, Granularity, IdempotencyKey, LogCount, LogQuery, RetentionPolicy,
    Totals, UsageFilters, UsageQuery, UsageRow,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::{create_key, event, limits, uuid, FixedClock, SeqIds};

/// "Now" of the retention cases. Earlier than any month partition a migrated Postgres
/// template creates ahead of its build date, so those never count as expired here.
pub const NOW: OffsetDateTime = datetime!(2026-06-15 12:30 UTC);

/// The policy of [`retention_drops_whole_expired_months`]: 60 days of raw events, which at
/// [`NOW`] keeps April 2026 on (60 days back is 16 April).
pub fn raw_policy() -> RetentionPolicy {
    RetentionPolicy::new(Some(60), None).unwrap()
}

/// The policy of the compaction cases: raw events kept, hourly rows for 30 days (at [`NOW`],
/// hours before 16 May 2026 are compacted).
pub fn compaction_policy() -> RetentionPolicy {
    RetentionPolicy::new(None, Some(30)).unwrap()
}

fn ingest(s: &Stores, events: Vec<(Uuid, tally_domain::usage::NewUsageEvent)>) -> Vec<Ingested> {
    s.usage.ingest(events, NOW).unwrap()
}

fn service(s: &Stores) -> UsageService {
    UsageService::new(Ports {
        stores: s.clone(),
        clock: Arc::new(FixedClock::at(NOW)),
        ids: Arc::new(SeqIds::default()),
    })
}

fn query(granularity: Granularity, group_by: Vec<Dimension>, f: UsageFilters) -> UsageQuery {
    UsageQuery::new(
        datetime!(2026-04-01 0:00 UTC),
        datetime!(2026-07-01 0:00 UTC),
        granularity,
        group_by,
        f,
        vec![],
    )
    .unwrap()
}

fn sum(rows: &[UsageRow]) -> Totals {
    let mut t = Totals::default();
    for r in rows {
        t += r.totals;
    }
    t
}

fn all_events(s: &Stores) -> Vec<Uuid> {
    let mut q = LogQuery::new(1_000).unwrap();
    q.count = LogCount::Exact;
    s.usage
        .list_events(&q)
        .unwrap()
        .events
        .iter()
        .map(|e| e.id)
        .collect()
}

/// Events dated before the raw cutoff (the start of the month holding `NOW - 60 days`) are
/// removed whole months at a time, with their idempotency records; later ones stay, and the
/// rollups (analytics) keep counting the removed ones. A second run changes nothing.
pub fn retention_drops_whole_expired_months(s: &Stores) {
    let org = OrgId::default_org();
    let idem = IdempotencyKey::parse("order-17").unwrap();
    let at = |t: OffsetDateTime| event(&org, t);
    let mut old = at(datetime!(2026-02-10 8:00 UTC));
    old.idempotency_key = Some(idem.clone());
    let history = vec![
        (uuid(1), at(datetime!(2019-07-04 10:00 UTC))),
        (uuid(2), old),
        (uuid(3), at(datetime!(2026-03-31 23:59:59 UTC))),
        (uuid(4), at(datetime!(2026-04-01 0:00 UTC))),
        (uuid(5), at(datetime!(2026-06-15 9:00 UTC))),
    ];
    ingest(s, history);
    let months = |s: &Stores| {
        let q = UsageQuery::new(
            datetime!(2019-01-01 0:00 UTC),
            datetime!(2027-01-01 0:00 UTC),
            Granularity::Month,
            vec![],
            UsageFilters::default(),
            vec![],
        )
        .unwrap();
        s.usage.aggregate(&q).unwrap()
    };
    let before = months(s);

    // The logs already stop at the cutoff, before anything is removed.
    let usage = service(s);
    assert_eq!(
        usage.logs_reach_back_to(),
        Some(datetime!(2026-04-01 0:00 UTC))
    );
    let mut q = LogQuery::new(100).unwrap();
    q.include_inactive = false;
    q.count = LogCount::AtMost(100);
    let page = usage.logs(&q).unwrap();
    assert_eq!(
        page.events.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![uuid(5), uuid(4)]
    );
    assert_eq!((page.total, page.total_exact), (2, true));

    let report = s.usage.apply_retention(NOW).unwrap();
    assert_eq!(
        report.months_removed, 3,
        "July 2019, February and March 2026"
    );
    assert_eq!(all_events(s), vec![uuid(5), uuid(4)]);
    for gone in [uuid(1), uuid(2), uuid(3)] {
        assert_eq!(s.usage.get_event(gone).unwrap(), None);
    }
    assert_eq!(months(s), before, "rollups outlive raw events");

    // The removed event's idempotency key may be used again.
    let mut again = at(datetime!(2026-06-15 10:00 UTC));
    again.idempotency_key = Some(idem);
    assert!(matches!(
        ingest(s, vec![(uuid(6), again)]).as_slice(),
        [Ingested::Created(_)]
    ));

    let report = s.usage.apply_retention(NOW).unwrap();
    assert_eq!(report.months_removed, 0);
    assert_eq!(all_events(s), vec![uuid(6), uuid(5), uuid(4)]);
}

/// Three keys' usage over May and June 2026, hourly, two models: the compaction history.
fn usage_history(s: &Stores) -> Vec<tally_domain::key::ApiKey> {
    let org = OrgId::default_org();
    let keys: Vec<_> = (0..3)
        .map(|i| create_key(s, &format!("retention-key-{i:02}"), limits(None, None)))
        .collect();
    let mut batch = Vec::new();
    let start = datetime!(2026-05-10 0:00 UTC);
    for i in 0..200u32 {
        let mut e = event(&org, start + Duration::minutes(i64::from(i) * 97));
        let key = &keys[(i % 3) as usize];
        e.key_id = Some(key.id);
        e.model = Some(if i % 2 == 0 { "small" } else { "large" }.into());
        e.units = u64::from(i % 7) + 1;
        e.tokens = u64::from(i) * 3;
        e.success = i % 11 != 0;
        batch.push((uuid(u128::from(i) + 1), e));
    }
    ingest(s, batch);
    keys
}

/// Day and month answers are identical before and after compaction; hour answers keep their
/// totals, with a compacted day's sums at its midnight. Corrections of compacted events
/// still move their sums, and a later run folds them in too.
pub fn retention_compaction_keeps_totals(s: &Stores) {
    usage_history(s);
    let grouped = || vec![Dimension::Model, Dimension::Key, Dimension::Success];
    let shapes = [
        query(Granularity::Day, grouped(), UsageFilters::default()),
        query(Granularity::Month, grouped(), UsageFilters::default()),
        query(Granularity::Day, vec![], UsageFilters::default()),
    ];
    let hourly = query(Granularity::Hour, grouped(), UsageFilters::default());
    let before: Vec<_> = shapes
        .iter()
        .map(|q| s.usage.aggregate(q).unwrap())
        .collect();
    let hourly_before = s.usage.aggregate(&hourly).unwrap();

    let report = s.usage.apply_retention(NOW).unwrap();
    assert!(report.rollups_compacted > 0, "{report:?}");
    for (q, want) in shapes.iter().zip(&before) {
        assert_eq!(&s.usage.aggregate(q).unwrap(), want, "{q:?}");
    }
    let hourly_after = s.usage.aggregate(&hourly).unwrap();
    assert_eq!(sum(&hourly_after), sum(&hourly_before));
    let cutoff = datetime!(2026-05-16 0:00 UTC);
    assert!(hourly_after
        .iter()
        .filter(|r| r.bucket < cutoff)
        .all(|r| Granularity::Day.bucket_start(r.bucket) == r.bucket));
    let recent = |rows: &[UsageRow]| -> Vec<UsageRow> {
        rows.iter()
            .filter(|r| r.bucket >= cutoff)
            .cloned()
            .collect()
    };
    assert_eq!(recent(&hourly_after), recent(&hourly_before));
    assert_eq!(s.usage.apply_retention(NOW).unwrap().rollups_compacted, 0);

    // A refund of an event in a compacted day (uuid(2) is at 2026-05-10 01:37).
    let original = s.usage.get_event(uuid(2)).unwrap().unwrap();
    let refund = EventPatch {
        active: Some(false),
        ..EventPatch::default()
    };
    s.usage.update_event(uuid(2), &refund).unwrap().unwrap();
    let mut want = sum(&before[2]);
    want -= Totals::of(&original);
    assert_eq!(sum(&s.usage.aggregate(&shapes[2]).unwrap()), want);
    s.usage.apply_retention(NOW).unwrap();
    assert_eq!(sum(&s.usage.aggregate(&shapes[2]).unwrap()), want);
}

/// Erasing a key after compaction moves its daily rows to the anonymous bucket too: nothing
/// is left under the key, and the organisation's totals are unchanged.
pub fn retention_erasure_reaches_every_grain(s: &Stores) {
    let keys = usage_history(s);
    s.usage.apply_retention(NOW).unwrap();
    let whole = query(Granularity::Month, vec![], UsageFilters::default());
    let by_key = query(
        Granularity::Day,
        vec![Dimension::Key],
        UsageFilters::default(),
    );
    let org_before = s.usage.aggregate(&whole).unwrap();
    let erased = keys[1].id;
    let of_key = || {
        query(
            Granularity::Day,
            vec![],
            UsageFilters {
                key_id: Some(erased),
                ..UsageFilters::default()
            },
        )
    };
    let theirs = s.usage.aggregate(&of_key()).unwrap();
    assert!(
        theirs
            .iter()
            .any(|r| r.bucket < datetime!(2026-05-16 0:00 UTC)),
        "the key has compacted days"
    );
    assert!(theirs
        .iter()
        .any(|r| r.bucket >= datetime!(2026-05-16 0:00 UTC)));

    s.usage.erase_keys(&[erased], NOW).unwrap();
    assert_eq!(s.usage.aggregate(&of_key()).unwrap(), vec![]);
    assert_eq!(s.usage.aggregate(&whole).unwrap(), org_before);
    assert!(s
        .usage
        .aggregate(&by_key)
        .unwrap()
        .iter()
        .all(|r| r.dims != vec![tally_domain::usage::DimValue::Int(erased.0)]));
}
