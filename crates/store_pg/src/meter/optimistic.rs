//! The optimistic meter batch: decide from row versions known without locks, then write and
//! commit with one statement that checks them. One round trip for a batch whose keys and
//! sessions the writers remember ([`super::seen`]), two for one that has to read them,
//! against four (`BEGIN`, lock, write, `COMMIT`) for [`super::meter_batch_tx`].
//!
//! Correctness argument. The batch takes its keys and sessions, each with the version of its
//! row (`xmin`, the transaction that wrote it), from the writers' memory or from a read
//! without locks, and decides every meter from them with the same rule as the locking batch
//! ([`super::decide`]). Its one write statement runs outside any transaction block, so it
//! commits by itself, and the call returns only after that commit. The statement's first
//! part locks every key and session the batch decided from (keys in id order, then
//! sessions in `(organisation, id)` order, as every locking batch does, so the two kinds
//! cannot deadlock), and under the lock each row is its latest committed version. Its main
//! query, which runs before any of its writes, counts the rows whose version is still the
//! one decided from; unless all are, `tally_meter_unchanged` (migration 000048) fails the
//! statement as a serialisation failure and nothing of it is written. So when it commits,
//! no row the batch decided from changed between the versions it read and its own writes:
//! the batch is the same as a locking batch that read them under the lock, and the limits
//! stay exact under any concurrency, any number of instances. A refused meter is refused
//! from versions checked the same way; a meter refused for a key or session not found at
//! all was refused from a read of the committed state.
//!
//! After a lost race the batch runs again on the locking path, and its keys stay on that
//! path for a moment ([`Seen::contend`]). Batches with idempotency keys, meters stamped on a
//! day before their key's counter, counters that turn to a new day, and meters that name
//! keys by id alone take the locking path from the start: each is rare or has its own
//! reads.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt};
use tally_domain::ports::MeterRequest;
use tally_domain::session::Session;

use super::decide::{decide, resolve, Decided};
use super::history::{day_before_counter, PastDays};
use super::one_lock::read_keys_and_sessions;
use super::outcome::Outcome;
use super::reads::{by_id, by_secret, KeyState, Lock};
use super::seen::{Lookup, Seen};
use super::writes::{counters_update, session_changes, sessions_update};
use crate::columnar::{auth_events_insert, events_insert, rollups_upsert, sites_upsert};
use crate::error::Fail;
use crate::fixed::{Chain, Fixed};
use crate::records::{sql, KeyVersion, SessionVersion};
use crate::rollups::{domain_rows, usage_rows};

/// Runs `batch` optimistically on `c` (outside a transaction block): its outcomes once
/// committed, or `None` when it must run on the locking path instead (nothing written:
/// the batch is not of a shape this path takes, or it lost a race).
pub(crate) fn meter_batch_optimistic(
    c: &mut PgConnection,
    batch: &[MeterRequest],
    seen: &Seen,
) -> Result<Option<Vec<Outcome>>, Fail> {
    if batch.iter().any(|r| r.event.idempotency_key.is_some()) {
        return Ok(None);
    }
    let now = Instant::now();
    let Some(found) = seen.lookup(batch, now) else {
        return Ok(None);
    };
    let Lookup {
        mut keys,
        mut sessions,
        mut session_versions,
        missing_secrets,
        missing_keys,
        missing_ids,
        missing_sessions,
    } = found;
    if !missing_secrets.is_empty() {
        keys.extend(by_secret(c, &missing_secrets, Lock::None)?);
    }
    if !missing_ids.is_empty() {
        keys.extend(by_id(c, &missing_ids, Lock::None)?);
    }
    if !missing_keys.is_empty() || !missing_sessions.is_empty() {
        let read = read_keys_and_sessions(c, missing_keys, missing_sessions, Lock::None)?;
        keys.extend(read.keys);
        sessions.extend(read.sessions);
        session_versions.extend(read.session_versions);
    }
    let resolved = resolve(batch, &keys);
    let history = batch.iter().zip(&resolved).any(|(r, k)| {
        k.and_then(|id| keys.get(&id))
            .is_some_and(|s| day_before_counter(s, r).is_some())
    });
    if history {
        return Ok(None);
    }
    let mut past = PastDays::new();
    let decided = decide(
        batch,
        &resolved,
        &mut keys,
        &sessions,
        &mut past,
        &mut HashMap::new(),
    )?;
    // A counter that turned to a new day writes the day it left as history.
    if past.values().any(|(_, changed)| *changed) {
        return Ok(None);
    }
    if keys.is_empty() {
        // No key found: every meter is refused, and nothing is written.
        return Ok(Some(decided.outcomes));
    }
    let version = match write_checked(c, batch, &keys, &sessions, &session_versions, &decided) {
        Ok(version) => version,
        Err(e) if e.is_retryable() => {
            seen.contend(keys.keys().copied(), now);
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let written: HashMap<&str, Session> = session_changes(batch, &decided.session_meters)
        .into_values()
        .map(|change| (change.session.id.as_str(), change.applied()))
        .collect();
    let sessions_seen: Vec<(Session, i64)> = sessions
        .values()
        .map(|s| match written.get(s.id.as_str()) {
            Some(after) => (after.clone(), version),
            None => (
                s.clone(),
                session_versions.get(s.id.as_str()).copied().unwrap_or(-1),
            ),
        })
        .collect();
    seen.remember(
        keys.into_values().map(|s| {
            let v = if s.changed() { version } else { s.version };
            let daily = s.daily;
            (s.applied(), daily, v)
        }),
        sessions_seen,
    );
    let outcomes = decided.outcomes;
    Ok(Some(outcomes))
}

/// Every key and session the batch decided from, locked in the lock order, each with
/// whether its row still has the version decided from.
const CHECKED: &str = "SELECT k.same FROM unnest($1::key_version_row[]) AS v \
         CROSS JOIN LATERAL (SELECT xmin::text::bigint = v.version \
         AS same FROM api_keys WHERE org_id = v.org_id AND id = v.id FOR UPDATE) AS k \
     UNION ALL \
     SELECT s.same FROM unnest($2::session_version_row[]) AS v \
         CROSS JOIN LATERAL (SELECT xmin::text::bigint = v.version AS same FROM sessions \
         WHERE org_id = v.org_id AND id = v.id FOR UPDATE) AS s";

/// The batch's one statement: the check, then every write; answers the version the rows it
/// writes now have. A lost race is a serialisation failure ([`Fail::is_retryable`]).
fn write_checked(
    c: &mut PgConnection,
    batch: &[MeterRequest],
    keys: &BTreeMap<i64, KeyState>,
    sessions: &HashMap<String, Session>,
    session_versions: &HashMap<String, i64>,
    d: &Decided<'_>,
) -> Result<i64, Fail> {
    let key_versions: Vec<KeyVersion<'_>> = keys
        .iter()
        .map(|(id, state)| KeyVersion {
            org_id: state.key.org_id.as_str(),
            id: *id,
            version: state.version,
        })
        .collect();
    let mut session_versions: Vec<SessionVersion<'_>> = sessions
        .values()
        .map(|s| SessionVersion {
            org_id: s.org_id.as_str(),
            id: s.id.as_str(),
            version: session_versions.get(s.id.as_str()).copied().unwrap_or(-1),
        })
        .collect();
    session_versions.sort_unstable();
    let expected = i64::try_from(key_versions.len() + session_versions.len()).unwrap_or(i64::MAX);
    let usage = usage_rows(&d.deltas)?;
    let sites = domain_rows(&d.sites)?;
    let mut parts = vec![
        (
            "checked",
            Fixed::new(CHECKED)
                .bind::<Array<sql::KeyVersionRow>, _>(key_versions)
                .bind::<Array<sql::SessionVersionRow>, _>(session_versions),
        ),
        ("events", events_insert(&d.rows)),
        ("counters", counters_update(keys)?),
    ];
    if !d.session_meters.is_empty() {
        parts.push(("sessions", sessions_update(batch, &d.session_meters)?));
    }
    parts.push(("sites", sites_upsert(&sites)));
    parts.push(("usage", rollups_upsert(&usage)));
    if !d.refusals.is_empty() {
        parts.push(("refusals", auth_events_insert(&d.refusals)));
    }
    // The main query runs first, the parts' writes after it: the check happens under the
    // locks and before anything is written.
    let main = Fixed::new(
        "SELECT tally_meter_unchanged((SELECT count(*) FROM checked WHERE same), $1) \
             AS version",
    )
    .bind::<BigInt, _>(expected);
    let rows: Vec<Version> = Chain::new(parts, main).load(c)?;
    rows.first()
        .map(|r| r.version)
        .ok_or_else(|| Fail::Db(diesel::result::Error::NotFound))
}

#[derive(QueryableByName)]
struct Version {
    #[diesel(sql_type = BigInt)]
    version: i64,
}
