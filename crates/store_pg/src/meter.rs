//! The atomic meter: one transaction, serialised per key by the key's row lock.
//!
//! Correctness argument: every meter of a key first takes `SELECT … FOR UPDATE` on the key
//! row, so meters of one key run one after another, whichever process or pool they come
//! from. Under that lock the counters read are the committed ones, the decision is the pure
//! domain rule ([`admit`]), and the writes (counters, event, idempotency key, rollup,
//! session sequence) commit together or not at all.

use diesel::prelude::*;
use diesel::sql_types::Uuid as SqlUuid;
use diesel::sql_types::{BigInt, Bool, Date as SqlDate, Nullable, SmallInt, Text, Timestamptz};
use tally_domain::key::{ApiKey, KeyRejection};
use tally_domain::limits::{admit, utc_day, KeyUsage};
use tally_domain::ports::{MeterError, MeterRequest, Metered};
use tally_domain::tenancy::OrgId;
use tally_domain::usage::{IdempotencyKey, RollupKey, Totals, UsageEvent};
use time::{Date, OffsetDateTime};

use crate::convert::{from_db, micros, to_db};
use crate::error::Fail;
use crate::keys::lock_key;
use crate::rollups::greatest_instant;
use crate::rows::events::{EventRow, IdempotencyRow, RollupDelta};
use crate::schema::{idempotency_keys as ik, key_daily_usage as kd, sessions, usage_events};

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
    let mut data = req.event.clone();
    data.org_id = key.org_id.clone();
    data.user_id = key.user_id;
    data.key_id = Some(key.id);
    data.session_id = req.session.clone().or(data.session_id);
    let event = insert_event(c, req.event_id, &data, now)?;
    remember_idempotent(c, &[&event])?;
    let rollup = RollupDelta::of(&RollupKey::of(&event), &Totals::of(&event))?;
    let caption = match sequence {
        Some(s) => (to_db(s, "sequence")?, Some(now)),
        None => (to_db(key.sequence, "sequence")?, key.last_caption_at),
    };
    count(c, &key, units, caption, day, &rollup)?;

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

/// The meter's writes besides the event, in one statement (one round trip): the key's
/// lifetime counter and caption sequence, the day's counter and the event's hourly rollup.
fn count(
    c: &mut PgConnection,
    key: &ApiKey,
    units: i64,
    (sequence, last_caption_at): (i64, Option<OffsetDateTime>),
    day: Date,
    r: &RollupDelta,
) -> Result<(), Fail> {
    diesel::sql_query(
        "WITH k AS ( \
             UPDATE api_keys \
             SET lifetime_used = lifetime_used + $2, sequence = $3, last_caption_at = $4 \
             WHERE id = $1 RETURNING 1), \
         d AS ( \
             INSERT INTO key_daily_usage (key_id, day, org_id, used) VALUES ($1, $5, $6, $2) \
             ON CONFLICT (key_id, day) DO UPDATE SET used = key_daily_usage.used + EXCLUDED.used \
             RETURNING 1) \
         INSERT INTO usage_rollups AS r \
             (hour, org_id, user_id, key_id, model, api_name, language, domain, success, \
              api_call, status_class, count, units, cost_nanos, tokens, quota, duration_ms) \
         VALUES ($7, $6, $8, $1, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21) \
         ON CONFLICT (hour, org_id, user_id, key_id, model, api_name, language, domain, \
                      success, api_call, status_class) \
         DO UPDATE SET count = r.count + EXCLUDED.count, units = r.units + EXCLUDED.units, \
             cost_nanos = r.cost_nanos + EXCLUDED.cost_nanos, \
             tokens = r.tokens + EXCLUDED.tokens, quota = r.quota + EXCLUDED.quota, \
             duration_ms = r.duration_ms + EXCLUDED.duration_ms",
    )
    .bind::<BigInt, _>(key.id.0)
    .bind::<BigInt, _>(units)
    .bind::<BigInt, _>(sequence)
    .bind::<Nullable<Timestamptz>, _>(last_caption_at)
    .bind::<SqlDate, _>(day)
    .bind::<Text, _>(key.org_id.as_str())
    .bind::<Timestamptz, _>(r.hour)
    .bind::<Nullable<SqlUuid>, _>(r.user_id)
    .bind::<Nullable<Text>, _>(r.model.as_deref())
    .bind::<Nullable<Text>, _>(r.api_name.as_deref())
    .bind::<Nullable<Text>, _>(r.language.as_deref())
    .bind::<Nullable<Text>, _>(r.domain.as_deref())
    .bind::<Bool, _>(r.success)
    .bind::<Bool, _>(r.api_call)
    .bind::<Nullable<SmallInt>, _>(r.status_class)
    .bind::<BigInt, _>(r.count)
    .bind::<BigInt, _>(r.units)
    .bind::<BigInt, _>(r.cost_nanos)
    .bind::<BigInt, _>(r.tokens)
    .bind::<BigInt, _>(r.quota)
    .bind::<BigInt, _>(r.duration_ms)
    .execute(c)?;
    Ok(())
}
