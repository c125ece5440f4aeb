//! The writes of a meter batch that change rows in place: the sessions' sequences and
//! delivered counts, and the keys' lifetime and daily counters, one statement each; and the
//! days keys' counters turned away from, as history.

use std::collections::{BTreeMap, HashMap};

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Date as SqlDate, Nullable, Text, Timestamptz};
use tally_domain::ports::MeterRequest;
use time::OffsetDateTime;

use super::outcome::{Outcome, SessionMeter};
use super::reads::{KeyState, PastDays};
use crate::convert::{from_db, micros, to_db};
use crate::error::Fail;
use crate::fixed::Fixed;

/// Advances the sequence of every open session the batch's admitted caption meters name —
/// one per meter, in arrival order — touches it, and remembers the last sequence on the key.
pub(super) fn advance_sessions(
    c: &mut PgConnection,
    batch: &[MeterRequest],
    session_meters: &[SessionMeter],
    outcomes: &mut [Outcome],
    resolved: &[Option<i64>],
    keys: &mut BTreeMap<i64, KeyState>,
) -> Result<(), Fail> {
    if session_meters.is_empty() {
        return Ok(());
    }
    // Per session: meters, captions recorded as delivered with them, latest instant.
    let mut per_session: BTreeMap<(&str, &str), (i64, i64, OffsetDateTime)> = BTreeMap::new();
    for (i, org, id, delivered) in session_meters {
        let req = &batch[*i];
        let at = micros(req.now);
        let entry = per_session
            .entry((org.as_str(), id.as_str()))
            .or_insert((0, 0, at));
        entry.0 += 1;
        if *delivered {
            entry.1 += to_db(req.units.get(), "units")?;
        }
        entry.2 = entry.2.max(at);
    }
    let mut orgs = Vec::with_capacity(per_session.len());
    let mut ids = Vec::with_capacity(per_session.len());
    let mut counts = Vec::with_capacity(per_session.len());
    let mut sent = Vec::with_capacity(per_session.len());
    let mut ats = Vec::with_capacity(per_session.len());
    for ((org, id), (n, delivered, at)) in &per_session {
        orgs.push(*org);
        ids.push(*id);
        counts.push(*n);
        sent.push(*delivered);
        ats.push(*at);
    }
    #[derive(QueryableByName)]
    struct Advanced {
        #[diesel(sql_type = Text)]
        org_id: String,
        #[diesel(sql_type = Text)]
        id: String,
        #[diesel(sql_type = BigInt)]
        sequence: i64,
    }
    let advanced: Vec<Advanced> = Fixed::new(
        "UPDATE sessions AS s \
         SET sequence = s.sequence + v.n, captions_sent = s.captions_sent + v.sent, \
             last_activity_at = greatest(s.last_activity_at, v.at) \
         FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::timestamptz[], $5::text[]) \
              AS v(id, n, sent, at, org) \
         WHERE s.org_id = v.org AND s.id = v.id AND s.id = ANY($1) \
         RETURNING s.org_id, s.id, s.sequence",
    )
    .bind::<Array<Text>, _>(&ids)
    .bind::<Array<BigInt>, _>(&counts)
    .bind::<Array<BigInt>, _>(&sent)
    .bind::<Array<Timestamptz>, _>(&ats)
    .bind::<Array<Text>, _>(&orgs)
    .load(c)?;
    // The first sequence each session hands out in this batch.
    let mut next: HashMap<(String, String), u64> = HashMap::with_capacity(advanced.len());
    for a in advanced {
        let n = per_session
            .get(&(a.org_id.as_str(), a.id.as_str()))
            .map_or(0, |(n, _, _)| *n);
        next.insert((a.org_id, a.id), from_db(a.sequence - n + 1, "sequence")?);
    }
    for (i, org, id, _) in session_meters {
        let Some(seq) = next.get_mut(&(org.clone(), id.clone())) else {
            continue;
        };
        if let Ok(m) = &mut outcomes[*i] {
            m.sequence = Some(*seq);
        }
        if let Some(state) = resolved[*i].and_then(|k| keys.get_mut(&k)) {
            state.caption = Some((*seq, micros(batch[*i].now)));
        }
        *seq += 1;
    }
    Ok(())
}

/// The counters' writes, as one statement: each key's lifetime counter, daily counter and
/// caption sequence, on the key's row (keys the batch did not change are left out).
pub(super) fn counters_update(keys: &BTreeMap<i64, KeyState>) -> Result<Fixed<'_>, Fail> {
    let mut key_ids = Vec::new();
    let mut key_orgs = Vec::new();
    let mut added = Vec::new();
    let mut sequences = Vec::new();
    let mut caption_ats = Vec::new();
    let mut days = Vec::new();
    let mut day_units = Vec::new();
    for (id, state) in keys {
        if state.added == 0 && state.caption.is_none() && !state.daily_charged {
            continue;
        }
        key_ids.push(*id);
        key_orgs.push(state.key.org_id.as_str());
        added.push(to_db(state.added, "units")?);
        sequences.push(
            state
                .caption
                .map(|(s, _)| to_db(s, "sequence"))
                .transpose()?,
        );
        caption_ats.push(state.caption.map(|(_, at)| at));
        // Written back as the lock read it when this batch did not charge it.
        days.push(state.daily.map(|d| d.day));
        day_units.push(to_db(state.daily.map_or(0, |d| d.used), "daily_used")?);
    }
    Ok(Fixed::new(
        "UPDATE api_keys AS a \
         SET lifetime_used = a.lifetime_used + v.n, \
             sequence = COALESCE(v.seq, a.sequence), \
             last_caption_at = COALESCE(v.at, a.last_caption_at), \
             daily_day = v.day, daily_used = v.used \
         FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::timestamptz[], \
                     $5::text[], $6::date[], $7::bigint[]) AS v(id, n, seq, at, org, day, used) \
         WHERE a.org_id = v.org AND a.id = v.id AND a.id = ANY($1)",
    )
    .bind::<Array<BigInt>, _>(key_ids)
    .bind::<Array<BigInt>, _>(added)
    .bind::<Array<Nullable<BigInt>>, _>(sequences)
    .bind::<Array<Nullable<Timestamptz>>, _>(caption_ats)
    .bind::<Array<Text>, _>(key_orgs)
    .bind::<Array<Nullable<SqlDate>>, _>(days)
    .bind::<Array<BigInt>, _>(day_units))
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
