//! The migrations run up, down and up again, and every `down.sql` really undoes its `up.sql`.

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use tally_domain::tenancy::OrgId;
use tally_domain::TenantStore;
use tally_store_pg::testing::{revert_all_migrations, revert_migrations_through, TestDb};

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn public_tables(url: &str) -> i64 {
    let mut conn = PgConnection::establish(url).unwrap();
    diesel::sql_query(
        "SELECT count(*) AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition \
           AND c.relname <> '__diesel_schema_migrations'",
    )
    .get_result::<Count>(&mut conn)
    .unwrap()
    .n
}

#[test]
fn migrations_run_up_down_up() {
    let Some(db) = TestDb::create() else { return };
    let store = db.store();
    assert_eq!(public_tables(db.url()), 17);
    revert_all_migrations(&store).unwrap();
    assert_eq!(public_tables(db.url()), 0, "down.sql leaves nothing behind");
    store.migrate().unwrap();
    assert_eq!(public_tables(db.url()), 17);
    assert!(store.get_org(&OrgId::default_org()).unwrap().is_some());
    store.migrate().unwrap();
}

#[derive(QueryableByName)]
struct Placed {
    #[diesel(sql_type = diesel::sql_types::Text)]
    partition: String,
    #[diesel(sql_type = BigInt)]
    number: i64,
}

/// Migration 000030 turns an events table holding rows into the partitioned one without
/// losing any: each row lands in its month's partition with its number, the next event gets
/// a higher number, and the store reads them all (by id, in the log, in the rollups).
#[test]
fn partitioning_keeps_the_events_recorded_before_it() {
    use tally_domain::usage::{LogCount, LogQuery};
    use tally_domain::UsageStore;
    let Some(db) = TestDb::create() else { return };
    let store = db.store();
    revert_migrations_through(&store, "20260101000030").unwrap();
    let mut conn = PgConnection::establish(db.url()).unwrap();
    let insert = |conn: &mut PgConnection, id: u128, at: &str| {
        diesel::sql_query(format!(
            "INSERT INTO usage_events (occurred_at, id, org_id, kind, units, cost_nanos, tokens, \
                 quota, duration_ms, success, created_at) \
             VALUES ('{at}', '{}', 'org_default', 'request', 2, 0, 0, 0, 0, true, now())",
            uuid::Uuid::from_u128(id)
        ))
        .execute(conn)
        .unwrap();
    };
    insert(&mut conn, 1, "2021-02-03 04:05:06+00");
    insert(&mut conn, 2, "2026-03-10 12:00:00+00");
    insert(&mut conn, 3, "2026-03-31 23:59:59.999999+00");
    store.migrate().unwrap();

    let placed: Vec<Placed> = diesel::sql_query(
        "SELECT tableoid::regclass::text AS partition, number FROM usage_events ORDER BY number",
    )
    .load(&mut conn)
    .unwrap();
    let placed: Vec<_> = placed
        .iter()
        .map(|p| (p.partition.as_str(), p.number))
        .collect();
    assert_eq!(
        placed,
        vec![
            ("usage_events_p202102", 1),
            ("usage_events_p202603", 2),
            ("usage_events_p202603", 3)
        ]
    );
    for id in 1..=3 {
        let e = store.get_event(uuid::Uuid::from_u128(id)).unwrap().unwrap();
        assert_eq!(e.data.units, 2);
    }
    let mut q = LogQuery::new(10).unwrap();
    q.count = LogCount::Exact;
    let page = store.list_events(&q).unwrap();
    assert_eq!((page.total, page.numbers.clone()), (3, vec![3, 2, 1]));
    let event = tally_domain::usage::NewUsageEvent::new(
        OrgId::default_org(),
        tally_domain::usage::EventKind::Request,
        time::macros::datetime!(2026-04-02 0:00 UTC),
    );
    store
        .ingest(
            vec![(uuid::Uuid::from_u128(4), event)],
            time::OffsetDateTime::now_utc(),
        )
        .unwrap();
    let page = store.list_events(&q).unwrap();
    assert_eq!(page.numbers.first(), Some(&4), "numbering continues");
}
