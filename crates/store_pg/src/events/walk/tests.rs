//! Walk plans checked against a seeded history: every statement, custom and generic.

use std::collections::HashMap;

use diesel::sql_types::Text;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;

use super::*;
use crate::bulk::{self, SeedSpec};
use crate::testing::TestDb;

#[derive(QueryableByName)]
struct Line {
    #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
    plan: String,
}

#[derive(QueryableByName)]
struct Parent {
    #[diesel(sql_type = Text)]
    child: String,
    #[diesel(sql_type = Text)]
    parent: String,
}

/// Node types a bounded walk may consist of.
const ALLOWED: [&str; 6] = [
    "Aggregate",
    "Limit",
    "Merge Append",
    "Append",
    "Index Scan",
    "Index Only Scan",
];

/// Checks one plan: only [`ALLOWED`] nodes, every scan on a partition of `index`, and a
/// `Limit` when `limited`. Returns the scans.
fn check(
    plan: &Value,
    index: &str,
    limited: bool,
    parents: &HashMap<String, String>,
    what: &str,
) -> usize {
    let mut stack = vec![plan];
    let (mut scans, mut limits) = (0, 0);
    while let Some(node) = stack.pop() {
        let kind = node["Node Type"].as_str().unwrap();
        assert!(ALLOWED.contains(&kind), "{what}: a {kind} node in {plan:#}");
        if kind == "Limit" {
            limits += 1;
        }
        if let Some(name) = node["Index Name"].as_str() {
            assert_eq!(
                parents.get(name).map(String::as_str),
                Some(index),
                "{what}: scans {name} in {plan:#}"
            );
            scans += 1;
        }
        if let Some(children) = node["Plans"].as_array() {
            stack.extend(children);
        }
    }
    assert_eq!(limits, usize::from(limited), "{what}: Limits in {plan:#}");
    scans
}

/// Every statement of every walk, as a custom and as a generic plan, on a seeded
/// history: a `Limit` over scans of the walk's own index and nothing else (no sequential,
/// bitmap or sort node that would read every match first).
#[test]
fn every_walk_plans_as_a_limited_scan_of_its_index() {
    let Some(db) = TestDb::create() else { return };
    let store = db.store();
    let users: Vec<Uuid> = (1..=10).map(Uuid::from_u128).collect();
    let end = OffsetDateTime::now_utc();
    let spec = SeedSpec {
        org_id: "org_default".to_owned(),
        user_ids: users.clone(),
        key_ids: (1..=10).collect(),
        first: 0,
        count: 40_000,
        end,
        days: 30,
    };
    bulk::seed_events(&store, &spec).unwrap();
    bulk::analyze(&store).unwrap();

    let mut c = PgConnection::establish(db.url()).unwrap();
    let parents: HashMap<String, String> = diesel::sql_query(
        "SELECT c.relname::text AS child, p.relname::text AS parent FROM pg_inherits i \
         JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent \
         WHERE p.relkind = 'I'",
    )
    .load::<Parent>(&mut c)
    .unwrap()
    .into_iter()
    .map(|p| (p.child, p.parent))
    .collect();
    let user = format!("'{}'", users[1]);
    let walks = [
        (
            Walk::UserStatus(users[1], 500),
            vec![user.clone(), "500".into()],
        ),
        (Walk::UserCalls(users[1]), vec![user.clone()]),
        (Walk::KeyCalls(2), vec!["2".into()]),
        (Walk::UserEvents(users[1]), vec![user]),
        (Walk::KeyEvents(2), vec!["2".into()]),
    ];
    let windows = [
        ("'-infinity'".to_owned(), "'infinity'".to_owned()),
        (
            format!(
                "'{}'",
                (end - time::Duration::days(20)).format(&Rfc3339).unwrap()
            ),
            format!(
                "'{}'",
                (end - time::Duration::days(2)).format(&Rfc3339).unwrap()
            ),
        ),
    ];
    for (walk, keys) in walks {
        let sql = walk.statements();
        for (start, stop) in &windows {
            let window = [keys.clone(), vec![start.clone(), stop.clone()]].concat();
            let statements = [
                (
                    "page",
                    sql.page,
                    true,
                    [window.clone(), vec!["100".into(), "50".into()]].concat(),
                ),
                (
                    "capped",
                    sql.capped,
                    true,
                    [window.clone(), vec!["10001".into()]].concat(),
                ),
                ("exact", sql.exact, false, window.clone()),
            ];
            for (name, text, limited, args) in &statements {
                for mode in ["force_custom_plan", "force_generic_plan"] {
                    let what = format!("{walk:?} {name} {mode} {start}..{stop}");
                    let plan = explain(&mut c, text, args, mode);
                    let scans = check(&plan, walk.index(), *limited, &parents, &what);
                    assert!(scans >= 1, "{what}: no index scan in {plan:#}");
                }
            }
        }
    }
}

/// The plan of `sql` with `args` (SQL literals) in `mode`, under the walk's settings.
fn explain(c: &mut PgConnection, sql: &str, args: &[String], mode: &str) -> Value {
    c.batch_execute(&format!(
        "BEGIN; {PINNED}; SET LOCAL plan_cache_mode = {mode}; PREPARE walk AS {sql}"
    ))
    .unwrap();
    let lines: Vec<Line> = diesel::sql_query(format!(
        "EXPLAIN (FORMAT JSON) EXECUTE walk({})",
        args.join(", ")
    ))
    .load(c)
    .unwrap();
    c.batch_execute("DEALLOCATE walk; COMMIT").unwrap();
    let doc: Value = serde_json::from_str(&lines[0].plan).unwrap();
    doc[0]["Plan"].clone()
}

#[test]
fn open_bounds_are_infinities_and_instants_keep_microseconds() {
    assert_eq!(instant(None, i64::MIN).unwrap(), PgTimestamp(i64::MIN));
    let t = datetime!(2000-01-01 0:00:01.000_002_9 UTC);
    assert_eq!(instant(Some(t), i64::MAX).unwrap(), PgTimestamp(1_000_002));
}
