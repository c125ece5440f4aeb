//! The writes of a meter batch that change rows in place: the sessions' sequences and
//! delivered counts, and the keys' lifetime and daily counters, one statement each (parts of
//! the batch's one write statement); and the days keys' counters turned away from, as
//! history.

use std::collections::BTreeMap;

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Date as SqlDate, Text};
use tally_domain::key::ApiKey;
use tally_domain::ports::MeterRequest;
use tally_domain::session::Session;
use time::OffsetDateTime;

use super::history::PastDays;
use super::outcome::SessionMeter;
use super::reads::KeyState;
use crate::convert::{micros, to_db};
use crate::error::Fail;
use crate::fixed::Fixed;
use crate::records::{sql, KeyCounter, SessionRowChange};

/// The sessions' writes, as one statement: each session the batch's admitted caption meters
/// name gets the last sequence the batch handed out of it (the batch holds the session's
/// lock, see [`super::reads::lock_sessions`]), the captions recorded as delivered with them
/// and its latest activity. Unlike the keys' update it carries no `id = ANY($1)` hint: the
/// table holds only open sessions, so the planner's choice between a hash join over it and
/// probing its key stays cheap either way, whereas the hint, a filter on every row a generic
/// plan scanned, compared each row's id with every id of the batch (2 % of Postgres' CPU on
/// the captions benchmark, 256 open sessions).
pub(super) fn sessions_update<'a>(
    batch: &[MeterRequest],
    session_meters: &[SessionMeter<'a>],
) -> Result<Fixed<'a>, Fail> {
    let changes = session_changes(batch, session_meters);
    let mut rows = Vec::with_capacity(changes.len());
    for ((org_id, id), change) in changes {
        rows.push(SessionRowChange {
            org_id,
            id,
            sequence: to_db(change.sequence, "sequence")?,
            sent: to_db(change.delivered, "units")?,
            at: change.at,
        });
    }
    Ok(Fixed::new(
        "UPDATE sessions AS s \
         SET sequence = v.sequence, captions_sent = s.captions_sent + v.sent, \
             last_activity_at = greatest(s.last_activity_at, v.at) \
         FROM unnest($1::session_change_row[]) AS v \
         WHERE s.org_id = v.org_id AND s.id = v.id",
    )
    .bind::<Array<sql::SessionChangeRow>, _>(rows))
}

/// What the batch changes in one session's row: the statement of [`sessions_update`] writes
/// it, and [`SessionChange::applied`] is the row it leaves.
pub(super) struct SessionChange<'a> {
    /// The session as the batch read it.
    pub session: &'a Session,
    /// The last sequence the batch handed out of it (meters are in arrival order).
    pub sequence: u64,
    /// Captions recorded as delivered.
    pub delivered: u64,
    /// The latest instant of its meters.
    pub at: OffsetDateTime,
}

impl SessionChange<'_> {
    /// The session as the batch leaves it.
    pub fn applied(&self) -> Session {
        let mut s = self.session.clone();
        s.sequence = self.sequence;
        s.captions_sent += self.delivered;
        s.last_activity_at = s.last_activity_at.max(self.at);
        s
    }
}

/// The changes of the admitted session meters, by `(organisation, session id)`.
pub(super) fn session_changes<'a>(
    batch: &[MeterRequest],
    session_meters: &[SessionMeter<'a>],
) -> BTreeMap<(&'a str, &'a str), SessionChange<'a>> {
    let mut changes: BTreeMap<(&str, &str), SessionChange<'a>> = BTreeMap::new();
    for m in session_meters {
        let req = &batch[m.index];
        let at = micros(req.now);
        let change = changes
            .entry((m.session.org_id.as_str(), m.session.id.as_str()))
            .or_insert(SessionChange {
                session: m.session,
                sequence: m.sequence,
                delivered: 0,
                at,
            });
        change.sequence = m.sequence;
        if m.delivered {
            change.delivered += req.units.get();
        }
        change.at = change.at.max(at);
    }
    changes
}

impl KeyState {
    /// The key as the counters' statement ([`counters_update`]) leaves its row.
    pub fn applied(self) -> ApiKey {
        let mut key = self.key;
        key.lifetime_used += self.added;
        if let Some((sequence, at)) = self.caption {
            key.sequence = sequence;
            key.last_caption_at = Some(at);
        }
        key
    }
}

/// The counters' writes, as one statement: each key's lifetime counter, daily counter and
/// caption sequence, on the key's row (keys the batch did not change are left out).
pub(super) fn counters_update(keys: &BTreeMap<i64, KeyState>) -> Result<Fixed<'_>, Fail> {
    let mut ids = Vec::new();
    let mut rows = Vec::new();
    for (id, state) in keys {
        if !state.changed() {
            continue;
        }
        ids.push(*id);
        rows.push(KeyCounter {
            org_id: state.key.org_id.as_str(),
            id: *id,
            added: to_db(state.added, "units")?,
            sequence: state
                .caption
                .map(|(s, _)| to_db(s, "sequence"))
                .transpose()?,
            caption_at: state.caption.map(|(_, at)| at),
            // Written back as the lock read it when this batch did not charge it.
            daily_day: state.daily.map(|d| d.day),
            daily_used: to_db(state.daily.map_or(0, |d| d.used), "daily_used")?,
        });
    }
    Ok(Fixed::new(
        "UPDATE api_keys AS a \
         SET lifetime_used = a.lifetime_used + v.added, \
             sequence = COALESCE(v.sequence, a.sequence), \
             last_caption_at = COALESCE(v.caption_at, a.last_caption_at), \
             daily_day = v.daily_day, daily_used = v.daily_used \
         FROM unnest($1::key_counter_row[]) AS v \
         WHERE a.org_id = v.org_id AND a.id = v.id AND a.id = ANY($2)",
    )
    .bind::<Array<sql::KeyCounterRow>, _>(rows)
    .bind::<Array<BigInt>, _>(ids))
}

/// Writes the days before their keys' counters the batch changed — the days it turned
/// counters away from, and the earlier days late meters counted in — to `key_daily_usage`
/// (as absolute values: the batch holds the keys' locks). Almost every batch has none.
pub(super) fn archive_days(
    c: &mut PgConnection,
    keys: &BTreeMap<i64, KeyState>,
    past: &PastDays,
) -> Result<(), Fail> {
    let mut ids = Vec::new();
    let mut days = Vec::new();
    let mut orgs = Vec::new();
    let mut used = Vec::new();
    for ((id, day), (n, changed)) in past {
        let Some(state) = keys.get(id).filter(|_| *changed) else {
            continue;
        };
        ids.push(*id);
        days.push(*day);
        orgs.push(state.key.org_id.as_str());
        used.push(to_db(*n, "daily_used")?);
    }
    if ids.is_empty() {
        return Ok(());
    }
    Fixed::new(
        "INSERT INTO key_daily_usage (key_id, day, org_id, used) \
         SELECT * FROM unnest($1::bigint[], $2::date[], $3::text[], $4::bigint[]) \
         ON CONFLICT (org_id, key_id, day) DO UPDATE SET used = EXCLUDED.used",
    )
    .bind::<Array<BigInt>, _>(&ids)
    .bind::<Array<SqlDate>, _>(&days)
    .bind::<Array<Text>, _>(&orgs)
    .bind::<Array<BigInt>, _>(&used)
    .execute(c)?;
    Ok(())
}
