//! Usage events outside the meter: batch ingestion, corrections, deletion and request logs
//! (read as index walks where one index answers the query exactly, see [`walk`]).

mod page;
mod walk;

use std::collections::{BTreeMap, HashMap};

use diesel::pg::Pg;
use diesel::prelude::*;
use tally_domain::ports::Ingested;
use tally_domain::usage::{
    EventPatch, LogCount, LogPage, LogQuery, NewUsageEvent, RollupKey, Totals, UsageEvent,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::convert::{from_db, micros, to_db};
use crate::error::Fail;
use crate::meter::remember_idempotent;
use crate::rollups::{add_one, add_usage};
use crate::rows::events::EventRow;
use crate::schema::{idempotency_keys as ik, usage_events as ue};
use page::{bounded_total, count_cap, page_of, Numbered};
use walk::Walk;

/// Events per multi-row insert (28 columns each: well under the 65,535 bind limit).
const CHUNK: usize = 1_000;

/// Where one ingested event's result comes from.
enum Slot {
    /// Recorded by this batch.
    Created(Uuid),
    /// A replay of an event recorded earlier.
    Existing(Box<UsageEvent>),
    /// A replay of an event recorded earlier in this batch.
    SameBatch(Uuid),
}

/// Records a batch in the caller's transaction (see [`tally_domain::UsageStore::ingest`]).
pub(crate) fn ingest_tx(
    c: &mut PgConnection,
    events: &[(Uuid, NewUsageEvent)],
    now: OffsetDateTime,
) -> Result<Vec<Ingested>, Fail> {
    let wanted: Vec<&str> = events
        .iter()
        .filter_map(|(_, e)| e.idempotency_key.as_ref().map(|k| k.as_str()))
        .collect();
    let mut seen: HashMap<(String, String), Slot> = HashMap::new();
    if !wanted.is_empty() {
        let found: Vec<(String, String, EventRow)> = ik::table
            .inner_join(
                ue::table.on(ue::id
                    .eq(ik::event_id)
                    .and(ue::occurred_at.eq(ik::event_occurred_at))),
            )
            .filter(ik::idempotency_key.eq_any(&wanted))
            .select((ik::org_id, ik::idempotency_key, EventRow::as_select()))
            .load(c)?;
        for (org, key, row) in found {
            seen.insert((org, key), Slot::Existing(Box::new(row.into_domain()?)));
        }
    }

    let mut slots = Vec::with_capacity(events.len());
    let mut rows = Vec::new();
    for (id, e) in events {
        if let Some(k) = &e.idempotency_key {
            let scope = (e.org_id.as_str().to_owned(), k.as_str().to_owned());
            match seen.get(&scope) {
                Some(Slot::Existing(original)) => {
                    slots.push(Slot::Existing(original.clone()));
                    continue;
                }
                Some(Slot::Created(first) | Slot::SameBatch(first)) => {
                    slots.push(Slot::SameBatch(*first));
                    continue;
                }
                None => {
                    seen.insert(scope, Slot::Created(*id));
                }
            }
        }
        rows.push(EventRow::of(*id, e, now)?);
        slots.push(Slot::Created(*id));
    }

    let mut created: HashMap<Uuid, UsageEvent> = HashMap::with_capacity(rows.len());
    let mut deltas: BTreeMap<RollupKey, Totals> = BTreeMap::new();
    for chunk in rows.chunks(CHUNK) {
        let stored: Vec<EventRow> = diesel::insert_into(ue::table)
            .values(chunk)
            .returning(EventRow::as_returning())
            .get_results(c)?;
        let stored = stored
            .into_iter()
            .map(EventRow::into_domain)
            .collect::<Result<Vec<_>, _>>()?;
        remember_idempotent(c, &stored.iter().collect::<Vec<_>>())?;
        for event in stored {
            *deltas.entry(RollupKey::of(&event)).or_default() += Totals::of(&event);
            created.insert(event.id, event);
        }
    }
    add_usage(c, &deltas)?;

    slots
        .into_iter()
        .map(|slot| match slot {
            Slot::Existing(e) => Ok(Ingested::Duplicate(*e)),
            Slot::Created(id) => lookup(&created, id).map(Ingested::Created),
            Slot::SameBatch(id) => lookup(&created, id).map(Ingested::Duplicate),
        })
        .collect()
}

fn lookup(created: &HashMap<Uuid, UsageEvent>, id: Uuid) -> Result<UsageEvent, Fail> {
    created
        .get(&id)
        .cloned()
        .ok_or_else(|| crate::error::corrupt("ingested batch", format!("event {id} not returned")))
}

/// The event with this id, locked when `lock`.
pub(crate) fn find_event(
    c: &mut PgConnection,
    id: Uuid,
    lock: bool,
) -> Result<Option<UsageEvent>, Fail> {
    let q = ue::table
        .filter(ue::id.eq(id))
        .select(EventRow::as_select());
    let row = if lock {
        q.for_update().first(c).optional()?
    } else {
        q.first(c).optional()?
    };
    row.map(EventRow::into_domain).transpose()
}

/// Applies a correction and moves the rollup contribution with it.
pub(crate) fn update_tx(
    c: &mut PgConnection,
    id: Uuid,
    patch: &EventPatch,
) -> Result<Option<UsageEvent>, Fail> {
    let Some(old) = find_event(c, id, true)? else {
        return Ok(None);
    };
    let mut new = old.clone();
    patch.apply_to(&mut new);
    let d = &new.data;
    let stored = diesel::update(ue::table.find((d.org_id.as_str(), micros(d.occurred_at), id)))
        .set((
            ue::units.eq(to_db(d.units, "units")?),
            ue::cost_nanos.eq(d.cost.0),
            ue::tokens.eq(to_db(d.tokens, "tokens")?),
            ue::quota.eq(to_db(d.quota, "quota")?),
            ue::active.eq(new.active),
            ue::status_code.eq(d.status_code.map(i32::from)),
            ue::response_time_ms.eq(d
                .response_time_ms
                .map(|ms| to_db(ms, "response_time_ms"))
                .transpose()?),
        ))
        .returning(EventRow::as_returning())
        .get_result(c)?
        .into_domain()?;
    let (before, after) = (RollupKey::of(&old), RollupKey::of(&stored));
    if before == after {
        let mut delta = Totals::of(&stored);
        delta -= Totals::of(&old);
        if !delta.is_zero() {
            add_one(c, after, delta, 1)?;
        }
    } else {
        // A status that changes the event's status class moves its whole contribution.
        add_one(c, before, Totals::of(&old), -1)?;
        add_one(c, after, Totals::of(&stored), 1)?;
    }
    Ok(Some(stored))
}

/// Deletes an event, its idempotency record (the key may be used again) and its rollup
/// contribution.
pub(crate) fn delete_tx(c: &mut PgConnection, id: Uuid) -> Result<bool, Fail> {
    let Some(row) = diesel::delete(ue::table.filter(ue::id.eq(id)))
        .returning(EventRow::as_returning())
        .get_result(c)
        .optional()?
    else {
        return Ok(false);
    };
    let old = row.into_domain()?;
    diesel::delete(ik::table.filter(ik::event_id.eq(id))).execute(c)?;
    add_one(c, RollupKey::of(&old), Totals::of(&old), -1)?;
    Ok(true)
}

/// The log filters as a boxed query (used for the page and its count).
fn filtered<'a>(q: &'a LogQuery) -> ue::BoxedQuery<'a, Pg> {
    let mut b = ue::table.into_boxed();
    if !q.include_inactive {
        // The column itself, not `= $1`: the partial log indexes (`… WHERE method IS NOT NULL
        // AND active`) then match every plan of the statement, generic ones included.
        b = b.filter(ue::active);
    }
    if let Some(org) = &q.org_id {
        b = b.filter(ue::org_id.eq(org.as_str()));
    }
    if let Some(user) = q.user_id {
        b = b.filter(ue::user_id.eq(user.0));
    }
    if let Some(key) = q.key_id {
        b = b.filter(ue::key_id.eq(key.0));
    }
    if let Some(method) = &q.method {
        b = b.filter(ue::method.eq(method.as_str()));
    }
    if let Some(status) = q.status_code {
        b = b.filter(ue::status_code.eq(i32::from(status)));
    }
    if let Some(text) = &q.path_contains {
        b = b.filter(ue::path.like(format!("%{}%", escape_like(text))));
    }
    match q.api_call {
        Some(true) => b = b.filter(ue::method.is_not_null()),
        Some(false) => b = b.filter(ue::method.is_null()),
        None => {}
    }
    if let Some(start) = q.start {
        b = b.filter(ue::occurred_at.ge(micros(start)));
    }
    if let Some(end) = q.end {
        b = b.filter(ue::occurred_at.lt(micros(end)));
    }
    b
}

/// `text` as a literal inside a `LIKE` pattern (backslash is the default escape).
fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        if matches!(ch, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// A page of events and their numbers, counted as [`LogQuery::count`] says, exactly as
/// [`LogQuery::evaluate`] would cut and count it. A query one index answers exactly is read
/// as a [`Walk`] of that index, bounded by its limits whatever the history; any other is left
/// to the planner.
pub(crate) fn list(c: &mut PgConnection, q: &LogQuery) -> Result<LogPage, Fail> {
    if let Some(walk) = Walk::of(q) {
        return walk.list(c, q);
    }
    let offset = i64::try_from(q.offset).unwrap_or(i64::MAX);
    let rows: Vec<Numbered> = if q.limit > 0 {
        filtered(q)
            .order((ue::occurred_at.desc(), ue::id.desc()))
            .offset(offset)
            .limit(i64::from(q.limit))
            .select((ue::number, EventRow::as_select()))
            .load::<(i64, EventRow)>(c)?
            .into_iter()
            .map(|(number, row)| Numbered { number, row })
            .collect()
    } else {
        Vec::new()
    };
    let (events, numbers) = page_of(rows)?;
    let (total, total_exact) = match q.count {
        LogCount::Exact => {
            let n: i64 = filtered(q).count().get_result(c)?;
            (from_db(n, "event count")?, true)
        }
        LogCount::AtMost(n) => {
            let (most, cap) = count_cap(q, n);
            let seen = filtered(q)
                .select(diesel::dsl::sql::<diesel::sql_types::Integer>("1"))
                .limit(cap)
                .load::<i32>(c)?
                .len() as u64;
            bounded_total(seen, most)
        }
        LogCount::Skip => (q.offset.saturating_add(events.len() as u64), false),
    };
    Ok(LogPage {
        events,
        numbers,
        total,
        total_exact,
    })
}

#[cfg(test)]
mod tests {
    use super::escape_like;

    #[test]
    fn like_patterns_match_text_literally() {
        assert_eq!(escape_like("bots/1"), "bots/1");
        assert_eq!(escape_like("50%_off\\"), "50\\%\\_off\\\\");
    }
}
