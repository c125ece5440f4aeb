//! The schema is ready to be distributed by organisation (docs/SCALING.md): read from the
//! catalog of a migrated database, every table's primary key and unique constraints include
//! the distribution column `org_id`, unless the table is on the documented list of reference
//! and node-local tables. A key without `org_id` could not be enforced by Citus on a table
//! distributed by `org_id`, so the migration that adds one fails this test, naming it.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{Array, Bool, Text};
use tally_store_pg::testing::TestDb;

/// Tables that are not distributed by `org_id`, as docs/SCALING.md lists them: reference
/// tables (a copy on every node) and tables local to each node.
const NOT_DISTRIBUTED: &[&str] = &[
    // Reference tables.
    "orgs",
    "users",
    "key_secrets",
    // Node-local tables: the bus's own bookkeeping and diesel's migration list.
    "bus_listeners",
    "bus_payloads",
    "__diesel_schema_migrations",
];

#[derive(QueryableByName)]
struct TableRow {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Bool)]
    has_org_id: bool,
}

#[derive(QueryableByName)]
struct KeyRow {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    index_name: String,
    #[diesel(sql_type = Bool)]
    primary: bool,
    #[diesel(sql_type = Array<Text>)]
    columns: Vec<String>,
}

/// Every rule break of the schema at `url`, one line each, naming the table; tables of
/// `exempt` are not checked. Partitions are skipped: their keys are their parent's.
fn violations(url: &str, exempt: &[&str]) -> Vec<String> {
    let mut conn = PgConnection::establish(url).unwrap();
    let tables: Vec<TableRow> = diesel::sql_query(
        "SELECT c.relname::text AS table_name, EXISTS ( \
             SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid \
             AND a.attname = 'org_id' AND NOT a.attisdropped) AS has_org_id \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition \
         ORDER BY 1",
    )
    .load(&mut conn)
    .unwrap();
    // Unique indexes cover primary keys, unique constraints and bare unique indexes.
    let keys: Vec<KeyRow> = diesel::sql_query(
        "SELECT t.relname::text AS table_name, i.relname::text AS index_name, \
             x.indisprimary AS primary, \
             ARRAY(SELECT a.attname::text FROM unnest(x.indkey) WITH ORDINALITY AS k(n, o) \
                   JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.n \
                   ORDER BY k.o) AS columns \
         FROM pg_index x \
         JOIN pg_class t ON t.oid = x.indrelid \
         JOIN pg_class i ON i.oid = x.indexrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace \
         WHERE n.nspname = 'public' AND x.indisunique AND NOT t.relispartition \
         ORDER BY 1, 2",
    )
    .load(&mut conn)
    .unwrap();
    let checked = |t: &str| !exempt.contains(&t);
    let mut out: Vec<String> = tables
        .iter()
        .filter(|t| checked(&t.table_name) && !t.has_org_id)
        .map(|t| format!("{}: no org_id column", t.table_name))
        .collect();
    out.extend(
        keys.iter()
            .filter(|k| checked(&k.table_name) && !k.columns.iter().any(|c| c == "org_id"))
            .map(|k| {
                format!(
                    "{}: {} {} ({}) does not include org_id",
                    k.table_name,
                    if k.primary {
                        "primary key"
                    } else {
                        "unique index"
                    },
                    k.index_name,
                    k.columns.join(", ")
                )
            }),
    );
    out
}

#[test]
fn every_key_of_a_distributed_table_includes_org_id() {
    let Some(db) = TestDb::create() else { return };
    let found = violations(db.url(), NOT_DISTRIBUTED);
    assert!(
        found.is_empty(),
        "keys a schema distributed by org_id could not enforce (fix the table, or document it \
         as a reference table in docs/SCALING.md and NOT_DISTRIBUTED):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_names_a_table_that_breaks_the_rule() {
    let Some(db) = TestDb::create() else { return };
    let mut conn = PgConnection::establish(db.url()).unwrap();
    conn.batch_execute(
        "CREATE TABLE catalog_probe (id BIGINT PRIMARY KEY, org_id TEXT NOT NULL, \
             code TEXT NOT NULL, CONSTRAINT catalog_probe_code_key UNIQUE (org_id, code)); \
         CREATE TABLE catalog_probe_no_org (id BIGINT);",
    )
    .unwrap();
    let found = violations(db.url(), NOT_DISTRIBUTED);
    assert_eq!(
        found,
        [
            "catalog_probe_no_org: no org_id column",
            "catalog_probe: primary key catalog_probe_pkey (id) does not include org_id",
        ]
    );
}

#[test]
fn the_tables_that_are_not_distributed_are_documented_and_exist() {
    let Some(db) = TestDb::create() else { return };
    let scaling = include_str!("../../../../docs/SCALING.md");
    let mut conn = PgConnection::establish(db.url()).unwrap();
    for table in NOT_DISTRIBUTED {
        assert!(
            scaling.contains(&format!("`{table}`")),
            "{table} is not on docs/SCALING.md's list"
        );
        let exists: Vec<TableRow> = diesel::sql_query(
            "SELECT relname::text AS table_name, true AS has_org_id FROM pg_class \
             WHERE relname = $1 AND relkind IN ('r', 'p')",
        )
        .bind::<Text, _>(*table)
        .load(&mut conn)
        .unwrap();
        assert_eq!(exists.len(), 1, "{table} is listed but does not exist");
    }
}
