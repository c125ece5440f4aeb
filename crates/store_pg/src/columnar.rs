//! Many rows in one statement of fixed text: each column travels as one array parameter and
//! `unnest` turns the arrays back into rows.
//!
//! A multi-row `VALUES` list is new SQL for every row count — Postgres parses, analyses and
//! plans ~28 parameters per event row each time (a fifth of its CPU on the verify benchmark).
//! The `unnest` form is the same short text whatever the batch holds, so it is prepared once
//! per connection ([`crate::fixed`]) and only bound and executed afterwards.

use diesel::prelude::*;
use diesel::sql_types::{
    Array, BigInt, Date as SqlDate, Nullable, SmallInt, Text, Timestamptz, Uuid as SqlUuid,
};

use crate::error::Fail;
use crate::fixed::Fixed;
use crate::records::sql;
use crate::rows::events::{EventRow, IdempotencyRow, RollupDelta};
use crate::rows::keys::NewAuthEvent;
use crate::rows::sessions::DomainRollupRow;

/// One column of `rows`, as the array parameter that carries it.
fn column<'a, R, T>(rows: &'a [R], f: impl Fn(&'a R) -> T) -> Vec<T> {
    rows.iter().map(f).collect()
}

/// Inserts `rows` into `usage_events` (each partition's own `number` default applies): the
/// meter runs it as part of its [`crate::fixed::Chain`].
pub(crate) fn events_insert<'a>(rows: &'a [EventRow]) -> Fixed<'a> {
    Fixed::new(
        "INSERT INTO usage_events (occurred_at, id, org_id, user_id, key_id, session_id, kind, \
             api_name, endpoint, method, path, status_code, response_time_ms, model, language, \
             domain, units, cost_nanos, tokens, quota, duration_ms, success, error, ip, \
             user_agent, active, idempotency_key, created_at) \
         SELECT (r).* FROM unnest($1::usage_event_row[]) AS r",
    )
    .bind::<Array<sql::UsageEventRow>, _>(rows)
}

/// Adds each delta of `rows` to the `usage_rollups` row of its dimensions (creating it).
/// Two deltas of one row in `rows` would be a conflict the statement cannot resolve: the
/// callers sum per dimension first.
pub(crate) fn add_rollups(c: &mut PgConnection, rows: &[RollupDelta]) -> Result<(), Fail> {
    if rows.is_empty() {
        return Ok(());
    }
    rollups_upsert(rows).execute(c)?;
    Ok(())
}

/// The statement of [`add_rollups`], to run alone or as part of a [`crate::fixed::Chain`].
pub(crate) fn rollups_upsert<'a>(rows: &'a [RollupDelta]) -> Fixed<'a> {
    Fixed::new(
        "INSERT INTO usage_rollups AS r (hour, org_id, user_id, key_id, model, api_name, \
             language, domain, success, api_call, status_class, count, units, cost_nanos, \
             tokens, quota, duration_ms) \
         SELECT (v).* FROM unnest($1::usage_rollup_row[]) AS v \
         ON CONFLICT (hour, org_id, user_id, key_id, model, api_name, language, domain, \
             success, api_call, status_class) \
         DO UPDATE SET count = r.count + EXCLUDED.count, units = r.units + EXCLUDED.units, \
             cost_nanos = r.cost_nanos + EXCLUDED.cost_nanos, \
             tokens = r.tokens + EXCLUDED.tokens, quota = r.quota + EXCLUDED.quota, \
             duration_ms = r.duration_ms + EXCLUDED.duration_ms",
    )
    .bind::<Array<sql::UsageRollupRow>, _>(rows)
}

/// Adds each delta of `rows` to its site rollup row (`peak_sessions` is raised, not added).
/// One delta per row, as for [`add_rollups`]. The row is the site hour's slot of this
/// transaction's backend (migration 000047): concurrent writers of one busy site rarely wait
/// on each other's row lock, and readers sum the slots.
pub(crate) fn add_sites(c: &mut PgConnection, rows: &[DomainRollupRow]) -> Result<(), Fail> {
    if rows.is_empty() {
        return Ok(());
    }
    sites_upsert(rows).execute(c)?;
    Ok(())
}

/// The statement of [`add_sites`], to run alone or as part of a [`crate::fixed::Chain`].
pub(crate) fn sites_upsert<'a>(rows: &'a [DomainRollupRow]) -> Fixed<'a> {
    Fixed::new(
        "INSERT INTO domain_rollups AS d (org_id, date, hour, domain, sessions_started, \
             sessions_ended, captions_sent, captions_failed, batches_sent, total_duration_ms, \
             peak_sessions, slot) \
         SELECT (v).*, (pg_backend_pid() % 16)::smallint \
         FROM unnest($1::domain_rollup_row[]) AS v \
         ON CONFLICT (org_id, date, hour, domain, slot) DO UPDATE SET \
             sessions_started = d.sessions_started + EXCLUDED.sessions_started, \
             sessions_ended = d.sessions_ended + EXCLUDED.sessions_ended, \
             captions_sent = d.captions_sent + EXCLUDED.captions_sent, \
             captions_failed = d.captions_failed + EXCLUDED.captions_failed, \
             batches_sent = d.batches_sent + EXCLUDED.batches_sent, \
             total_duration_ms = d.total_duration_ms + EXCLUDED.total_duration_ms, \
             peak_sessions = greatest(d.peak_sessions, EXCLUDED.peak_sessions)",
    )
    .bind::<Array<sql::DomainRollupRow>, _>(rows)
}

/// Inserts the site rows of `rows` whose hour has no row yet, in any slot (an imported
/// history never adds to an hour already stored); answers how many were inserted.
pub(crate) fn import_sites(c: &mut PgConnection, rows: &[DomainRollupRow]) -> Result<u64, Fail> {
    if rows.is_empty() {
        return Ok(0);
    }
    let inserted = site_binds(
        rows,
        "INSERT INTO domain_rollups (org_id, date, hour, domain, sessions_started, \
             sessions_ended, captions_sent, captions_failed, batches_sent, total_duration_ms, \
             peak_sessions) \
         SELECT v.* FROM unnest($1::text[], $2::date[], $3::smallint[], $4::text[], \
             $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], \
             $10::bigint[], $11::bigint[]) \
             AS v(org_id, date, hour, domain, a, b, c, d, e, f, g) \
         WHERE NOT EXISTS (SELECT 1 FROM domain_rollups AS s WHERE s.org_id = v.org_id \
             AND s.date = v.date AND s.hour = v.hour AND s.domain = v.domain) \
         ON CONFLICT DO NOTHING",
    )
    .execute(c)?;
    Ok(inserted as u64)
}

/// `sql` (a statement over the eleven site columns, `$1…$11`) with `rows` bound to it.
fn site_binds<'a>(rows: &'a [DomainRollupRow], sql: &'static str) -> Fixed<'a> {
    Fixed::new(sql)
        .bind::<Array<Text>, _>(column(rows, |r| r.org_id.as_str()))
        .bind::<Array<SqlDate>, _>(column(rows, |r| r.date))
        .bind::<Array<SmallInt>, _>(column(rows, |r| r.hour))
        .bind::<Array<Text>, _>(column(rows, |r| r.domain.as_str()))
        .bind::<Array<BigInt>, _>(column(rows, |r| r.sessions_started))
        .bind::<Array<BigInt>, _>(column(rows, |r| r.sessions_ended))
        .bind::<Array<BigInt>, _>(column(rows, |r| r.captions_sent))
        .bind::<Array<BigInt>, _>(column(rows, |r| r.captions_failed))
        .bind::<Array<BigInt>, _>(column(rows, |r| r.batches_sent))
        .bind::<Array<BigInt>, _>(column(rows, |r| r.total_duration_ms))
        .bind::<Array<BigInt>, _>(column(rows, |r| r.peak_sessions))
}

/// Records `rows` in `idempotency_keys`, skipping keys already taken; answers how many were
/// new.
pub(crate) fn insert_idempotency(
    c: &mut PgConnection,
    rows: &[IdempotencyRow],
) -> Result<usize, Fail> {
    if rows.is_empty() {
        return Ok(0);
    }
    let orgs = column(rows, |r| r.org_id.as_str());
    let idems = column(rows, |r| r.idempotency_key.as_str());
    let events = column(rows, |r| r.event_id);
    let ats = column(rows, |r| r.event_occurred_at);
    let keys = column(rows, |r| r.key_id);
    Ok(Fixed::new(
        "INSERT INTO idempotency_keys (org_id, idempotency_key, event_id, event_occurred_at, \
             key_id) \
         SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[], $4::timestamptz[], \
             $5::bigint[]) \
         ON CONFLICT DO NOTHING",
    )
    .bind::<Array<Text>, _>(&orgs)
    .bind::<Array<Text>, _>(&idems)
    .bind::<Array<SqlUuid>, _>(&events)
    .bind::<Array<Timestamptz>, _>(&ats)
    .bind::<Array<Nullable<BigInt>>, _>(&keys)
    .execute(c)?)
}

/// Inserts `rows` into `auth_events`: the refusals of an optimistic meter batch, as part of
/// its one statement ([`crate::fixed::Chain`]).
pub(crate) fn auth_events_insert<'a>(rows: &'a [NewAuthEvent]) -> Fixed<'a> {
    Fixed::new(
        "INSERT INTO auth_events (key_id, org_id, kind, domain, occurred_at) \
         SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], \
             $5::timestamptz[])",
    )
    .bind::<Array<Nullable<BigInt>>, _>(column(rows, |r| r.key_id))
    .bind::<Array<Text>, _>(column(rows, |r| r.org_id.as_str()))
    .bind::<Array<Text>, _>(column(rows, |r| r.kind.as_str()))
    .bind::<Array<Nullable<Text>>, _>(column(rows, |r| r.domain.as_deref()))
    .bind::<Array<Timestamptz>, _>(column(rows, |r| r.occurred_at))
}
