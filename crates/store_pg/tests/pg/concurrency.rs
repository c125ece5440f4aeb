//! Two "instances" (two pools on one database) hammer one key: the limit stays exact.

use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;

use tally_domain::limits::utc_day;
use tally_domain::ports::MeterError;
use tally_domain::usage::{Granularity, LogQuery, UsageFilters, UsageQuery};
use tally_domain::{KeyStore, UsageStore};
use tally_store_pg::testing::TestDb;
use tally_store_pg::{PgOptions, PgStore};
use tally_testkit::{limits, meter, new_key, T0};
use time::Duration;

#[test]
fn two_pools_admit_exactly_the_lifetime_limit() {
    let Some(db) = TestDb::create() else { return };
    let options = PgOptions {
        max_connections: 4,
        ..PgOptions::default()
    };
    let instances: [PgStore; 2] = [db.store_with(options.clone()), db.store_with(options)];
    let key = instances[0]
        .create_key(new_key("two-pools-key", limits(None, Some(1_000))))
        .unwrap();
    let admitted = AtomicU64::new(0);
    let refused = AtomicU64::new(0);
    thread::scope(|scope| {
        for t in 0..8 {
            let store = &instances[t % 2];
            let (key, admitted, refused) = (&key, &admitted, &refused);
            scope.spawn(move || {
                for _ in 0..500 {
                    match store.meter(meter(key, 1, T0)) {
                        Ok(_) => admitted.fetch_add(1, Ordering::Relaxed),
                        Err(MeterError::Limit { .. }) => refused.fetch_add(1, Ordering::Relaxed),
                        Err(e) => panic!("unexpected {e:?}"),
                    };
                }
            });
        }
    });
    assert_eq!(admitted.load(Ordering::Relaxed), 1_000);
    assert_eq!(refused.load(Ordering::Relaxed), 3_000);

    let usage = instances[1]
        .key_usage(key.id, utc_day(T0))
        .unwrap()
        .unwrap();
    assert_eq!((usage.lifetime_used, usage.daily_used), (1_000, 1_000));
    let mut logs = LogQuery::new(1).unwrap();
    logs.key_id = Some(key.id);
    assert_eq!(instances[1].list_events(&logs).unwrap().total, 1_000);
    let q = UsageQuery::new(
        T0,
        T0 + Duration::hours(1),
        Granularity::Day,
        vec![],
        UsageFilters {
            key_id: Some(key.id),
            ..UsageFilters::default()
        },
        vec![],
    )
    .unwrap();
    let rows = instances[0].aggregate(&q).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].totals.count, rows[0].totals.units), (1_000, 1_000));
}
