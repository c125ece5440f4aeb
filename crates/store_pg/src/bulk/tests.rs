//! The rebuilt-index seed against the maintained one: same rows, same schema.

use diesel::sql_types::Text;

use super::*;
use crate::testing::TestDb;

#[derive(QueryableByName)]
struct Line {
    #[diesel(sql_type = Text)]
    line: String,
}

/// Every index of `usage_events` and its partitions, with its constraint, one line each.
const SCHEMA: &str = "\
    SELECT concat_ws(' | ', t.relid::regclass::text, i.relname, pg_get_indexdef(i.oid), \
        x.indisvalid, pg_get_constraintdef(con.oid)) AS line \
    FROM pg_partition_tree('usage_events') t JOIN pg_index x ON x.indrelid = t.relid \
    JOIN pg_class i ON i.oid = x.indexrelid \
    LEFT JOIN pg_constraint con ON con.conindid = i.oid AND con.conrelid = x.indrelid \
    ORDER BY 1";
/// What was seeded: every event but its random id, every rollup row, in a stable order.
const SEEDED: [&str; 3] = [
    "SELECT concat_ws(' | ', number, occurred_at, org_id, user_id, key_id, kind, api_name, \
         method, path, status_code, response_time_ms, model, language, domain, units, \
         cost_nanos, tokens, quota, duration_ms, success, active, created_at) AS line \
     FROM usage_events ORDER BY number",
    "SELECT concat_ws(' | ', hour, org_id, user_id, key_id, model, api_name, language, \
         domain, success, api_call, status_class, count, units, cost_nanos, tokens, quota, \
         duration_ms) AS line FROM usage_rollups ORDER BY 1",
    "SELECT concat_ws(' | ', org_id, date, hour, domain, captions_sent, batches_sent) \
         AS line FROM domain_rollups ORDER BY 1",
];

fn lines(store: &PgStore, sql: &str) -> Vec<String> {
    store
        .read(|c| Ok(diesel::sql_query(sql).load::<Line>(c)?))
        .unwrap()
        .into_iter()
        .map(|l| l.line)
        .collect()
}

/// Seeding with the indexes set aside writes what seeding with them maintained writes,
/// and leaves the same indexes — definitions, names, partitions' copies, validity.
#[test]
fn rebuilt_indexes_seed_the_same_rows_and_schema() {
    let (Some(maintained), Some(rebuilt)) = (TestDb::create(), TestDb::create()) else {
        return;
    };
    let end = OffsetDateTime::now_utc();
    let mut spec = SeedSpec {
        org_id: "org_default".to_owned(),
        user_ids: (1..=4).map(uuid::Uuid::from_u128).collect(),
        key_ids: (1..=4).collect(),
        first: 0,
        count: 3_000,
        end,
        days: 45,
    };
    let (a, b) = (maintained.store(), rebuilt.store());
    // The history's months partitioned on both sides first, as seeding starts by doing.
    for store in [&a, &b] {
        store
            .tx(|c| crate::partitions::cover_range(c, end - time::Duration::days(45), end))
            .unwrap();
    }
    let schema = lines(&b, SCHEMA);
    assert!(schema.len() >= 40, "{schema:#?}");
    for step in [3_000, 2_500] {
        spec.count = step;
        assert_eq!(seed_events(&a, &spec).unwrap(), step);
        assert_eq!(
            seed_events_with(&b, &spec, EventIndexes::Rebuilt).unwrap(),
            step
        );
        spec.first += step;
        assert_eq!(lines(&b, SCHEMA), schema, "after {} events", spec.first);
    }
    analyze(&b).unwrap();
    assert_eq!(lines(&a, SCHEMA), schema);
    for sql in SEEDED {
        let (want, got) = (lines(&a, sql), lines(&b, sql));
        assert!(!want.is_empty(), "{sql}");
        assert_eq!(got, want, "{sql}");
    }
}
