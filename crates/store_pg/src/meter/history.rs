//! The reads of a locking batch after its keys are locked, each for a rare kind of meter:
//! the history rows of days before a key's counter, and the events an idempotency key
//! replays. Nearly every batch skips both.

use std::collections::{BTreeMap, HashMap};

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Date as SqlDate, Text};
use tally_domain::limits::{utc_day, DayCounter};
use tally_domain::ports::MeterRequest;
use tally_domain::usage::UsageEvent;
use time::Date;

use super::reads::KeyState;
use crate::convert::{from_db, micros};
use crate::error::Fail;
use crate::fixed::Fixed;
use crate::rows::events::{event_columns, EventRow};

/// Units of days before their keys' counters, by `(key, day)`, with whether this batch
/// changed them (then they are written back).
pub(super) type PastDays = BTreeMap<(i64, Date), (u64, bool)>;

/// The day of `req` when it is before its key's counter (a meter stamped just before
/// midnight arriving after its key's day turned): that day's units are a history row.
pub(super) fn day_before_counter(state: &KeyState, req: &MeterRequest) -> Option<Date> {
    let day = utc_day(micros(req.now));
    DayCounter::used_on(state.daily, day)
        .is_none()
        .then_some(day)
}

/// The history rows of the days before their keys' counters that the batch's meters are
/// stamped with (a meter stamped just before midnight arriving after its key's day turned).
/// Read only for such meters — around midnight, if ever — so nearly every batch skips it.
pub(super) fn past_days(
    c: &mut PgConnection,
    batch: &[MeterRequest],
    resolved: &[Option<i64>],
    keys: &BTreeMap<i64, KeyState>,
) -> Result<PastDays, Fail> {
    let mut wanted: Vec<(&str, i64, Date)> = batch
        .iter()
        .zip(resolved)
        .filter_map(|(r, k)| {
            let state = keys.get(&(*k)?)?;
            let day = day_before_counter(state, r)?;
            Some((state.key.org_id.as_str(), state.key.id.0, day))
        })
        .collect();
    if wanted.is_empty() {
        return Ok(BTreeMap::new());
    }
    wanted.sort_unstable();
    wanted.dedup();
    let (mut orgs, mut kids, mut days) = (Vec::new(), Vec::new(), Vec::new());
    for (org, key, day) in wanted {
        orgs.push(org);
        kids.push(key);
        days.push(day);
    }
    #[derive(QueryableByName)]
    struct Used {
        #[diesel(sql_type = BigInt)]
        key_id: i64,
        #[diesel(sql_type = SqlDate)]
        day: Date,
        #[diesel(sql_type = BigInt)]
        used: i64,
    }
    let found: Vec<Used> = Fixed::new(
        "SELECT v.key_id, v.day, d.used \
         FROM unnest($1::text[], $2::bigint[], $3::date[]) AS v(org, key_id, day) \
         CROSS JOIN LATERAL (SELECT used FROM key_daily_usage \
             WHERE org_id = v.org AND key_id = v.key_id AND day = v.day) AS d",
    )
    .bind::<Array<Text>, _>(&orgs)
    .bind::<Array<BigInt>, _>(&kids)
    .bind::<Array<SqlDate>, _>(&days)
    .load(c)?;
    found
        .into_iter()
        .map(|u| Ok(((u.key_id, u.day), (from_db(u.used, "daily_used")?, false))))
        .collect()
}

/// Events already recorded under the idempotency keys the batch carries, by `(org, key)`.
pub(super) fn stored_replays(
    c: &mut PgConnection,
    batch: &[MeterRequest],
    resolved: &[Option<i64>],
    keys: &BTreeMap<i64, KeyState>,
) -> Result<HashMap<(String, String), UsageEvent>, Fail> {
    let mut wanted: Vec<(&str, &str)> = batch
        .iter()
        .zip(resolved)
        .filter_map(|(r, k)| {
            let state = keys.get(&(*k)?)?;
            let idem = r.event.idempotency_key.as_ref()?;
            Some((state.key.org_id.as_str(), idem.as_str()))
        })
        .collect();
    if wanted.is_empty() {
        return Ok(HashMap::new());
    }
    wanted.sort_unstable();
    wanted.dedup();
    let (orgs, idems): (Vec<&str>, Vec<&str>) = wanted.into_iter().unzip();
    #[derive(QueryableByName)]
    struct Replay {
        #[diesel(sql_type = Text)]
        replay_org: String,
        #[diesel(sql_type = Text)]
        replay_key: String,
        #[diesel(embed)]
        event: EventRow,
    }
    let found: Vec<Replay> = Fixed::new(concat!(
        "SELECT v.org AS replay_org, v.idem AS replay_key, e.* \
         FROM unnest($1::text[], $2::text[]) AS v(org, idem) \
         CROSS JOIN LATERAL (SELECT event_id, event_occurred_at FROM idempotency_keys \
             WHERE org_id = v.org AND idempotency_key = v.idem) AS i \
         CROSS JOIN LATERAL (SELECT ",
        event_columns!(),
        " FROM usage_events \
             WHERE org_id = v.org AND id = i.event_id AND occurred_at = i.event_occurred_at) AS e",
    ))
    .bind::<Array<Text>, _>(&orgs)
    .bind::<Array<Text>, _>(&idems)
    .load(c)?;
    found
        .into_iter()
        .map(|r| Ok(((r.replay_org, r.replay_key), r.event.into_domain()?)))
        .collect()
}
