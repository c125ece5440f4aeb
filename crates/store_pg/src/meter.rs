//! The atomic meter: one transaction, serialised per key by the key's row lock.
//!
//! Correctness argument: every meter of a key first takes `SELECT … FOR UPDATE` on the key
//! row, so meters of one key run one after another, whichever process or pool they come
//! from. Under that lock the counters read are the committed ones, the decision is the pure
//! domain rule ([`admit`]), and the writes (counters, event, idempotency key, rollup,
//! session sequence) commit together or not at all.

use std::collections::BTreeMap;

use diesel::prelude::*;
use diesel::upsert::excluded;
use tally_domain::key::KeyRejection;
use tally_domain::limits::{admit, utc_day, KeyUsage};
use tally_domain::ports::{MeterError, MeterRequest, Metered};
use tally_domain::tenancy::OrgId;
use tally_domain::usage::{IdempotencyKey, RollupKey, Totals, UsageEvent};
use time::OffsetDateTime;

use crate::convert::{from_db, micros, to_db};
use crate::error::Fail;
use crate::keys::lock_key;
use crate::rollups::{add_usage, greatest_instant};
use crate::rows::events::{EventRow, IdempotencyRow};
use crate::schema::{
    api_keys, idempotency_keys as ik, key_daily_usage as kd, sessions, usage_events,
};

/// The event first recorded under `key` in `org`, if any.
pub(crate) fn find_idempotent(
    c: &mut PgConnection,
    org: &OrgId,
    key: &IdempotencyKey,
) -> Result<Option<UsageEvent>, Fail> {
    ik::table
        .inner_join(
            usage_events::table.on(usage_events::id
                .eq(ik::event_id)
                .and(usage_events::occurred_at.eq(ik::event_occurred_at))),
        )
        .filter(ik::org_id.eq(org.as_str()))
        .filter(ik::idempotency_key.eq(key.as_str()))
        .select(EventRow::as_select())
        .first(c)
        .optional()?
        .map(EventRow::into_domain)
        .transpose()
}

/// Remembers the idempotency keys of freshly recorded events. `Retry` when a concurrent
/// transaction took one of the keys first: the retry then replays that transaction's event.
pub(crate) fn remember_idempotent(
    c: &mut PgConnection,
    events: &[&UsageEvent],
) -> Result<(), Fail> {
    let rows: Vec<IdempotencyRow> = events
        .iter()
        .filter_map(|e| IdempotencyRow::of(e))
        .collect();
    for chunk in rows.chunks(1_000) {
        let inserted = diesel::insert_into(ik::table)
            .values(chunk)
            .on_conflict_do_nothing()
            .execute(c)?;
        if inserted < chunk.len() {
            return Err(Fail::Retry);
        }
    }
    Ok(())
}

/// Runs one meter inside the caller's transaction. The inner `Err` is a refusal (nothing was
/// written); the outer one a failure of the database.
pub(crate) fn meter_tx(
    c: &mut PgConnection,
    req: &MeterRequest,
) -> Result<Result<Metered, MeterError>, Fail> {
    let now = micros(req.now);
    let day = utc_day(now);
    // The daily counter is read by a statement of its own, after the lock is held: a
    // statement that waits for a row lock keeps its older snapshot for everything but the
    // locked row, so reading both in one statement would see a stale daily counter.
    let Some(key) = lock_key(c, req.key_id)? else {
        return Ok(Err(MeterError::Key(KeyRejection::UnknownKey)));
    };
    if let Err(rejection) = key.check_usable(now) {
        return Ok(Err(MeterError::Key(rejection)));
    }
    let daily_used = kd::table
        .find((key.id.0, day))
        .select(kd::used)
        .first::<i64>(c)
        .optional()?
        .unwrap_or(0);
    let usage = KeyUsage {
        lifetime_used: key.lifetime_used,
        daily_used: from_db(daily_used, "daily_used")?,
    };
    if let Some(idem) = &req.event.idempotency_key {
        if let Some(event) = find_idempotent(c, &key.org_id, idem)? {
            return Ok(Ok(Metered {
                event,
                usage,
                limits: key.limits,
                sequence: None,
                replayed: true,
            }));
        }
    }
    if let Err(exceeded) = admit(key.limits, usage, req.units) {
        return Ok(Err(MeterError::Limit {
            exceeded,
            usage,
            limits: key.limits,
        }));
    }

    let units = to_db(req.units.get(), "units")?;
    let sequence = match &req.session {
        Some(id) => advance_session(c, id.as_str(), now)?,
        None => None,
    };
    let counters = (
        api_keys::lifetime_used.eq(api_keys::lifetime_used + units),
        api_keys::sequence.eq(match sequence {
            Some(s) => to_db(s, "sequence")?,
            None => to_db(key.sequence, "sequence")?,
        }),
        api_keys::last_caption_at.eq(if sequence.is_some() {
            Some(now)
        } else {
            key.last_caption_at
        }),
    );
    diesel::update(api_keys::table.find(key.id.0))
        .set(counters)
        .execute(c)?;
    diesel::insert_into(kd::table)
        .values((
            kd::key_id.eq(key.id.0),
            kd::day.eq(day),
            kd::org_id.eq(key.org_id.as_str()),
            kd::used.eq(units),
        ))
        .on_conflict((kd::key_id, kd::day))
        .do_update()
        .set(kd::used.eq(kd::used + excluded(kd::used)))
        .execute(c)?;

    let mut data = req.event.clone();
    data.org_id = key.org_id.clone();
    data.user_id = key.user_id;
    data.key_id = Some(key.id);
    data.session_id = req.session.clone().or(data.session_id);
    let event = insert_event(c, req.event_id, &data, now)?;
    remember_idempotent(c, &[&event])?;
    add_usage(
        c,
        &BTreeMap::from([(RollupKey::of(&event), Totals::of(&event))]),
    )?;

    Ok(Ok(Metered {
        event,
        usage: KeyUsage {
            lifetime_used: usage.lifetime_used + req.units.get(),
            daily_used: usage.daily_used + req.units.get(),
        },
        limits: key.limits,
        sequence,
        replayed: false,
    }))
}

/// Inserts a new event and reads it back as stored.
pub(crate) fn insert_event(
    c: &mut PgConnection,
    id: uuid::Uuid,
    data: &tally_domain::usage::NewUsageEvent,
    now: OffsetDateTime,
) -> Result<UsageEvent, Fail> {
    diesel::insert_into(usage_events::table)
        .values(EventRow::of(id, data, now)?)
        .returning(EventRow::as_returning())
        .get_result(c)?
        .into_domain()
}

/// Advances an open session's sequence and touches it; `None` when it is not open.
fn advance_session(
    c: &mut PgConnection,
    id: &str,
    now: OffsetDateTime,
) -> Result<Option<u64>, Fail> {
    diesel::update(sessions::table.find(id))
        .set((
            sessions::sequence.eq(sessions::sequence + 1),
            sessions::last_activity_at.eq(greatest_instant(sessions::last_activity_at, now)),
        ))
        .returning(sessions::sequence)
        .get_result::<i64>(c)
        .optional()?
        .map(|s| from_db(s, "sequence"))
        .transpose()
}
