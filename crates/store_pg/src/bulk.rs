//! Bulk seeding for benchmarks: synthetic usage history written with set-based SQL
//! (`INSERT … SELECT … FROM generate_series`), millions of rows per statement instead of one
//! meter per event.
//!
//! This is a benchmarking and seeding tool, not a port: it writes events and their hourly
//! rollups (and the lcyt domain rollup for caption events) exactly as the meter would
//! aggregate them, so analytics read a realistic history, but it does not touch the keys'
//! counters (`lifetime_used`, daily usage) — seeded history is analytics-only. Never call it
//! on a production database.
//!
//! A large history is seeded with the event indexes set aside and built again afterwards
//! ([`EventIndexes::Rebuilt`], see the `indexes` module): the same rows and the same schema, several
//! times faster than maintaining ten indexes row by row.

mod indexes;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Text, Timestamptz, Uuid as SqlUuid};
use tally_domain::StoreError;
use time::OffsetDateTime;

use crate::PgStore;
use indexes::quote_ident;

/// Events written per statement while the indexes are maintained: bounds the memory of the
/// `RETURNING` set the rollups are computed from.
const CHUNK: u64 = 250_000;
/// Events written per statement while the indexes are set aside: each statement also upserts
/// every rollup row of the span (~43 k for 30 days of the synthetic mix), so larger chunks
/// upsert them fewer times (measured: 1 M events in 10 s as one chunk, 15.6 s as four).
const BARE_CHUNK: u64 = 1_000_000;

/// How a seed treats the indexes of `usage_events`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventIndexes {
    /// Kept up to date row by row, as the meter keeps them: the indexes grow as a live
    /// table's do (the disk figures of the `storage` scenario).
    Maintained,
    /// Dropped for the seed and built again from the whole table after it, in the same
    /// transaction, from the catalog's own definitions: a failed seed leaves them as they
    /// were. Freshly built indexes are denser than grown ones; for query latency, not disk.
    Rebuilt,
}

/// Which history to write.
#[derive(Debug, Clone)]
pub struct SeedSpec {
    /// The organisation every event belongs to.
    pub org_id: String,
    /// Owners of the events, used round-robin in step with `key_ids` (event `i` belongs to
    /// `user_ids[i % n]` and `key_ids[i % n]`). Must have the same length as `key_ids`.
    pub user_ids: Vec<uuid::Uuid>,
    /// Keys of the events (see `user_ids`).
    pub key_ids: Vec<i64>,
    /// Index of the first event: seeding `0..1M` then `1M..10M` continues one series.
    pub first: u64,
    /// How many events to write.
    pub count: u64,
    /// The newest instant; events are spread over `days` days before it.
    pub end: OffsetDateTime,
    /// Span of the history in days (at least 1).
    pub days: u32,
}

/// Writes `spec.count` synthetic events (1 in 10 a caption of `https://lcyt.fi`, the rest API
/// requests over three API names, four models, two languages, 1 in 20 failed with a 500),
/// with their hourly rollups and domain rollups, in chunks of 250,000 per statement, keeping
/// the indexes up to date ([`EventIndexes::Maintained`]). Returns the number of events
/// written.
///
/// # Errors
/// [`StoreError::Unavailable`] when the database is unreachable; [`StoreError::Internal`]
/// when `user_ids` and `key_ids` are empty or of different lengths, or a statement fails.
pub fn seed_events(store: &PgStore, spec: &SeedSpec) -> Result<u64, StoreError> {
    seed_events_with(store, spec, EventIndexes::Maintained)
}

/// [`seed_events`], treating the event indexes as `indexes` says. With
/// [`EventIndexes::Rebuilt`] the whole seed is one transaction that holds `usage_events`
/// locked (nothing else reads or writes it meanwhile) and writes 1,000,000 events per statement.
///
/// # Errors
/// As [`seed_events`].
pub fn seed_events_with(
    store: &PgStore,
    spec: &SeedSpec,
    indexes: EventIndexes,
) -> Result<u64, StoreError> {
    if spec.key_ids.is_empty() || spec.key_ids.len() != spec.user_ids.len() {
        return Err(StoreError::Internal(
            "seed_events: user_ids and key_ids must be non-empty and of equal length".into(),
        ));
    }
    let span = i64::from(spec.days.max(1)) * 86_400;
    // Every seeded month gets its partition first, so the history does not pile up in the
    // default partition.
    store.tx(|c| {
        crate::partitions::cover_range(c, spec.end - time::Duration::seconds(span), spec.end)
    })?;
    match indexes {
        EventIndexes::Maintained => {
            let mut written = 0;
            while written < spec.count {
                let n = CHUNK.min(spec.count - written);
                store.read(|c| {
                    c.batch_execute("SET synchronous_commit = off")?;
                    seed_chunk(c, spec, written, n, span)?;
                    Ok(c.batch_execute("SET synchronous_commit = on")?)
                })?;
                written += n;
            }
        }
        EventIndexes::Rebuilt => store.tx(|c| {
            // Room to sort each index in memory; this transaction only.
            c.batch_execute(
                "SET LOCAL synchronous_commit = off; SET LOCAL maintenance_work_mem = '1GB'",
            )?;
            let kept = indexes::event_indexes(c)?;
            indexes::drop_all(c, &kept)?;
            let mut written = 0;
            while written < spec.count {
                let n = BARE_CHUNK.min(spec.count - written);
                seed_chunk(c, spec, written, n, span)?;
                written += n;
            }
            indexes::create_all(c, &kept)
        })?,
    }
    Ok(spec.count)
}

/// Writes events `spec.first + done ..` (`n` of them) and their rollups in one statement.
fn seed_chunk(
    c: &mut PgConnection,
    spec: &SeedSpec,
    done: u64,
    n: u64,
    span: i64,
) -> Result<(), crate::error::Fail> {
    let from = to_i64(spec.first + done)?;
    let to = to_i64(spec.first + done + n - 1)?;
    diesel::sql_query(SEED_SQL)
        .bind::<BigInt, _>(from)
        .bind::<BigInt, _>(to)
        .bind::<Text, _>(&spec.org_id)
        .bind::<Array<SqlUuid>, _>(&spec.user_ids)
        .bind::<Array<BigInt>, _>(&spec.key_ids)
        .bind::<Timestamptz, _>(spec.end)
        .bind::<BigInt, _>(span)
        .execute(c)?;
    Ok(())
}

/// Creates `count` unlimited keys in `org_id` whose secrets are `<prefix><i>` for `i` in
/// `0..count` (hashed as the server hashes presented keys), for load tests that skip the
/// HTTP key creation (the pgbench baseline). Returns their ids, in order of `i`.
///
/// # Errors
/// [`StoreError`] when the database is unreachable or a secret already exists.
pub fn seed_keys(
    store: &PgStore,
    org_id: &str,
    prefix: &str,
    count: u64,
) -> Result<Vec<i64>, StoreError> {
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = BigInt)]
        id: i64,
    }
    let count = to_i64(count)?;
    store.read(|c| {
        let ids = diesel::sql_query(
            "WITH k AS ( \
                 INSERT INTO api_keys (org_id, secret_hash, alias, owner, created_at) \
                 SELECT $1, encode(sha256(convert_to($2 || i, 'UTF8')), 'hex'), 'bench', \
                     'bench', now() \
                 FROM generate_series(0, $3 - 1) AS i ORDER BY i \
                 RETURNING id, org_id, secret_hash), \
             s AS (INSERT INTO key_secrets (secret_hash, org_id, key_id) \
                 SELECT secret_hash, org_id, id FROM k) \
             SELECT id FROM k ORDER BY id",
        )
        .bind::<Text, _>(org_id)
        .bind::<Text, _>(prefix)
        .bind::<BigInt, _>(count)
        .load::<Id>(c)?;
        Ok(ids.into_iter().map(|r| r.id).collect())
    })
}

/// Brings the seeded tables to the steady state of a long-lived database after a large
/// seed, as its autovacuum would have long since: vacuums the rollups (each chunk's upserts
/// leave a dead version of every rollup row it touched) and the events (which sets their
/// visibility map, so index-only scans need not visit the heap), and refreshes the planner
/// statistics.
///
/// # Errors
/// [`StoreError`] when the database is unreachable.
pub fn analyze(store: &PgStore) -> Result<(), StoreError> {
    store.read(|c| {
        c.batch_execute("VACUUM (ANALYZE) usage_rollups")?;
        c.batch_execute("VACUUM (ANALYZE) domain_rollups")?;
        Ok(c.batch_execute("VACUUM (ANALYZE) usage_events")?)
    })
}

/// The rows of one table and the disk they take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSize {
    /// The table.
    pub table: String,
    /// Its rows (an exact count).
    pub rows: u64,
    /// `pg_total_relation_size` (heap, TOAST and every index) summed over the table and its
    /// partitions (`pg_partition_tree` lists none for a plain table, hence the union), bytes.
    pub bytes: u64,
}

/// Rows and disk of each table of `tables` (for the storage figures of docs/SCALING.md).
/// A partitioned table counts its partitions.
///
/// # Errors
/// [`StoreError`] when the database is unreachable or a table does not exist.
pub fn table_sizes(store: &PgStore, tables: &[&str]) -> Result<Vec<TableSize>, StoreError> {
    #[derive(QueryableByName)]
    struct Size {
        #[diesel(sql_type = BigInt)]
        rows: i64,
        #[diesel(sql_type = BigInt)]
        bytes: i64,
    }
    store.read(|c| {
        let mut out = Vec::with_capacity(tables.len());
        for table in tables {
            // A table name cannot be a bind parameter of `FROM`: it is quoted as an identifier.
            let size = diesel::sql_query(format!(
                "SELECT (SELECT count(*) FROM {ident})::bigint AS rows, \
                     (SELECT COALESCE(sum(pg_total_relation_size(r)), 0) FROM ( \
                          SELECT relid AS r FROM pg_partition_tree($1::regclass) \
                          UNION SELECT $1::regclass) AS t)::bigint AS bytes",
                ident = quote_ident(table),
            ))
            .bind::<Text, _>(*table)
            .get_result::<Size>(c)?;
            out.push(TableSize {
                table: (*table).to_owned(),
                rows: u64::try_from(size.rows).unwrap_or(0),
                bytes: u64::try_from(size.bytes).unwrap_or(0),
            });
        }
        Ok(out)
    })
}

/// Creates `bench_insert (id bigserial PRIMARY KEY, v int)`, the table of the bare durable
/// `INSERT` baseline (`scripts/bench/insert.sql`), when it is missing.
///
/// # Errors
/// [`StoreError`] when the database is unreachable.
pub fn create_insert_baseline(store: &PgStore) -> Result<(), StoreError> {
    store.read(|c| {
        Ok(c.batch_execute(
            "CREATE TABLE IF NOT EXISTS bench_insert (id bigserial PRIMARY KEY, v int NOT NULL)",
        )?)
    })
}

/// An open session (no targets, on `https://bench.example`) for each key of `keys`, with the
/// id `lpad(to_hex(key id), 16, '0')`, for the caption baseline (`scripts/bench/captions.sql`).
///
/// # Errors
/// [`StoreError`] when the database is unreachable.
pub fn seed_caption_sessions(store: &PgStore, keys: &[i64]) -> Result<(), StoreError> {
    store.read(|c| {
        diesel::sql_query(
            "INSERT INTO sessions (id, key_id, org_id, domain, sequence, started_at, \
             last_activity_at) \
             SELECT lpad(to_hex(k), 16, '0'), k, 'org_default', 'https://bench.example', 0, \
             now(), now() FROM unnest($1::bigint[]) AS k ON CONFLICT DO NOTHING",
        )
        .bind::<diesel::sql_types::Array<diesel::sql_types::BigInt>, _>(keys)
        .execute(c)?;
        Ok(())
    })
}

fn to_i64(n: u64) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| StoreError::Internal(format!("seed index {n} out of range")))
}

/// One chunk: the events of `$1..=$2`, their rollups and domain rollups, in one statement.
/// Event `i` happens `(i * 7919) mod span` seconds before `$6` (7919 is prime, so the events
/// cover the span evenly); its dimensions cycle with `i`.
const SEED_SQL: &str = "\
WITH ins AS (
    INSERT INTO usage_events (occurred_at, id, org_id, user_id, key_id, kind, api_name, method,
        path, status_code, response_time_ms, model, language, domain, units, cost_nanos, tokens,
        quota, duration_ms, success, created_at)
    SELECT t, gen_random_uuid(), $3, ($4)[1 + i % cardinality($4)], ($5)[1 + i % cardinality($5)],
        CASE WHEN i % 10 = 0 THEN 'caption' ELSE 'request' END,
        (ARRAY['bots', 'transcribe', 'chat'])[1 + i % 3],
        CASE WHEN i % 10 = 0 THEN NULL WHEN i % 7 = 0 THEN 'GET' ELSE 'POST' END,
        CASE WHEN i % 10 = 0 THEN NULL ELSE (ARRAY['/v1/bots', '/v1/transcribe', '/v1/chat'])[1 + i % 3] END,
        CASE WHEN i % 10 = 0 THEN NULL WHEN i % 20 = 1 THEN 500 ELSE 200 END,
        i % 900,
        (ARRAY['gpt-4o', 'gpt-4o-mini', 'claude-3', 'llama-3'])[1 + i % 4],
        (ARRAY['en', 'fi'])[1 + i % 2],
        CASE WHEN i % 10 = 0 THEN 'https://lcyt.fi' END,
        1, 1000 + i % 500, i % 1000, i % 100, i % 60000, i % 20 <> 1, t
    FROM (SELECT i, $6 - make_interval(secs => ((i * 7919) % $7)::double precision) AS t
          FROM generate_series($1::bigint, $2::bigint) AS i) AS g
    RETURNING occurred_at, org_id, user_id, key_id, kind, model, api_name, language, domain,
        success, method, status_code, units, cost_nanos, tokens, quota, duration_ms
), r AS (
    INSERT INTO usage_rollups AS r (hour, org_id, user_id, key_id, model, api_name, language,
        domain, success, api_call, status_class, count, units, cost_nanos, tokens, quota,
        duration_ms)
    SELECT date_trunc('hour', occurred_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', org_id,
        user_id, key_id, model, api_name, language, domain, success, method IS NOT NULL,
        (status_code / 100)::smallint, count(*), sum(units), sum(cost_nanos), sum(tokens),
        sum(quota), sum(duration_ms)
    FROM ins GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11
    ON CONFLICT ON CONSTRAINT usage_rollups_dims_key DO UPDATE SET
        count = r.count + EXCLUDED.count, units = r.units + EXCLUDED.units,
        cost_nanos = r.cost_nanos + EXCLUDED.cost_nanos, tokens = r.tokens + EXCLUDED.tokens,
        quota = r.quota + EXCLUDED.quota, duration_ms = r.duration_ms + EXCLUDED.duration_ms
    RETURNING 1
)
INSERT INTO domain_rollups AS d (org_id, date, hour, domain, captions_sent, batches_sent)
SELECT org_id, (occurred_at AT TIME ZONE 'UTC')::date,
    extract(hour FROM occurred_at AT TIME ZONE 'UTC')::smallint, domain, sum(units), 0
FROM ins WHERE kind = 'caption' AND domain IS NOT NULL GROUP BY 1, 2, 3, 4
ON CONFLICT (org_id, date, hour, domain, slot) DO UPDATE SET captions_sent = d.captions_sent + EXCLUDED.captions_sent";

#[cfg(test)]
mod tests;
