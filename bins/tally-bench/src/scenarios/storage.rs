//! `storage`: what an event and a rollup row cost on disk. Seeds the analytics history
//! (`tally_store_pg::bulk`, the same synthetic events as the `analytics` scenario: 30 days,
//! 10 users and keys, four models, three API names, two languages, 1 in 10 a caption) at each
//! `--history` size in turn, vacuums, and divides `pg_total_relation_size` (heap, TOAST and
//! indexes) by the rows, then projects to 1 billion events (docs/SCALING.md).

use tally_store_pg::bulk::{self, SeedSpec, TableSize};
use tally_store_pg::testing::TestDb;
use tally_store_pg::{PgOptions, PgStore};
use time::OffsetDateTime;

use super::seed::DAYS;
use crate::error::{setup, Result};
use crate::report::Section;
use crate::Opts;

/// Owners (users with one key each) the history is spread over, as in `analytics`.
const OWNERS: u64 = 10;
/// The tables an event writes to.
const TABLES: [&str; 4] = [
    "usage_events",
    "idempotency_keys",
    "usage_rollups",
    "domain_rollups",
];
/// The projection's event count.
const BILLION: f64 = 1e9;

/// Runs the scenario and returns its section.
///
/// # Errors
/// Setup failures (database, seeding).
pub async fn run(opts: &Opts) -> Result<Section> {
    let db = TestDb::create().ok_or_else(|| setup("no Postgres at TALLY_TEST_DATABASE_URL"))?;
    let options = PgOptions {
        statement_timeout: std::time::Duration::ZERO,
        ..PgOptions::default()
    };
    let store = PgStore::connect(db.url(), options).map_err(setup)?;
    let mut history = opts.history.clone();
    history.sort_unstable();
    let sizes = tokio::task::spawn_blocking(move || measure(&store, &history))
        .await
        .map_err(setup)??;
    let mut out = vec![
        format!(
            "### storage — bytes on disk per row (`pg_total_relation_size` incl. indexes, after \
             VACUUM ANALYZE), history over {DAYS} days, {OWNERS} users\n"
        ),
        "| events | table | rows | MiB | bytes/row | bytes per event | projected at 1 B events |\n\
         |---:|---|---:|---:|---:|---:|---:|"
            .to_owned(),
    ];
    let mut figures = Vec::new();
    for (events, tables) in &sizes {
        let hours = f64::from(DAYS) * 24.0;
        for t in tables {
            let per_row = t.bytes as f64 / (t.rows.max(1)) as f64;
            let per_event = t.bytes as f64 / (*events).max(1) as f64;
            // Raw events and idempotency keys grow with events; rollups grow with hours times
            // the dimension combinations seen per hour, so their projection holds the
            // per-hour mix and stretches the history to one year.
            let projected = if t.table.ends_with("rollups") {
                t.bytes as f64 / hours * 24.0 * 365.0
            } else {
                per_event * BILLION
            };
            out.push(format!(
                "| {events} | `{}` | {} | {:.1} | {:.0} | {:.1} | {} |",
                t.table,
                t.rows,
                t.bytes as f64 / 1_048_576.0,
                per_row,
                per_event,
                gib(projected, t.table.ends_with("rollups")),
            ));
            figures.push((
                format!("storage.{}.{events}.bytes_per_row", t.table),
                per_row,
            ));
        }
    }
    Ok(Section {
        text: out.join("\n"),
        figures,
    })
}

fn gib(bytes: f64, per_year: bool) -> String {
    let g = bytes / 1_073_741_824.0;
    if per_year {
        format!("{g:.2} GiB per year of this mix")
    } else {
        format!("{g:.0} GiB")
    }
}

/// Seeds up to each size of `history` in turn and measures the tables after each.
fn measure(store: &PgStore, history: &[u64]) -> Result<Vec<(u64, Vec<TableSize>)>> {
    let keys = bulk::seed_keys(store, "org_default", "bench-storage-", OWNERS).map_err(setup)?;
    let users = (1..=OWNERS)
        .map(|i| uuid::Uuid::from_u128(u128::from(i)))
        .collect();
    let end = OffsetDateTime::now_utc();
    let mut spec = SeedSpec {
        org_id: "org_default".to_owned(),
        user_ids: users,
        key_ids: keys,
        first: 0,
        count: 0,
        end,
        days: DAYS,
    };
    let mut out = Vec::new();
    for &size in history {
        spec.count = size.saturating_sub(spec.first);
        bulk::seed_events(store, &spec).map_err(setup)?;
        bulk::analyze(store).map_err(setup)?;
        spec.first = size;
        out.push((size, bulk::table_sizes(store, &TABLES).map_err(setup)?));
    }
    Ok(out)
}
